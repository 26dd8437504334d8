"""The ontology: object classes and their classification questions.

Pure Python (no Qt, no napari). Reads and writes Labelbox's ontology JSON
(``{"tools": [...], "classifications": [...]}``) without losing fields: keys
this module does not model are kept in ``extra`` and written back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_segtool.model.ids import new_cuid

QUESTION_TYPES = ("radio", "checklist", "text", "dropdown")
CHOICE_TYPES = ("radio", "checklist", "dropdown")
SEGMENTATION_TOOLS = ("raster-segmentation", "superpixel")
DEFAULT_TOOL = "raster-segmentation"
_COLOUR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")

_OPTION_KEYS = {"label", "value", "options", "featureSchemaId", "schemaNodeId"}
_QUESTION_KEYS = {
    "type",
    "name",
    "instructions",
    "required",
    "options",
    "scope",
    "featureSchemaId",
    "schemaNodeId",
}
_CLASS_KEYS = {
    "tool",
    "name",
    "color",
    "required",
    "classifications",
    "featureSchemaId",
    "schemaNodeId",
}


class OntologyError(ValueError):
    """An ontology that cannot be used; the message names the offending path."""

    def __init__(self, path: str, problem: str, source: str | None = None):
        self.path = path
        self.problem = problem
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{path}: {problem}" if path else f"{where}{problem}")


def slugify(title: str) -> str:
    """Labelbox's ``value`` for a title: lower case, spaces to underscores."""
    return "_".join(title.strip().lower().split())


@dataclass(eq=True)
class Option:
    label: str
    value: str = ""
    questions: list[Question] = field(default_factory=list)
    feature_schema_id: str = ""
    schema_node_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.value:
            self.value = slugify(self.label)
        if not self.feature_schema_id:
            self.feature_schema_id = new_cuid()

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Option:
        _expect_mapping(data, path)
        label = data.get("label", data.get("value"))
        if not isinstance(label, str) or not label.strip():
            raise OntologyError(path + ".label", "an option needs a non-empty label")
        nested = data.get("options", [])
        _expect_list(nested, path + ".options")
        return cls(
            label=label,
            value=_optional_str(data, "value", path) or "",
            questions=[
                Question.from_dict(q, f"{path}.options[{i}]", nested=True)
                for i, q in enumerate(nested)
            ],
            feature_schema_id=_optional_str(data, "featureSchemaId", path) or "",
            schema_node_id=_optional_str(data, "schemaNodeId", path),
            extra={k: v for k, v in data.items() if k not in _OPTION_KEYS},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "value": self.value,
            "featureSchemaId": self.feature_schema_id,
            "options": [q.to_dict() for q in self.questions],
        }
        if self.schema_node_id:
            out["schemaNodeId"] = self.schema_node_id
        out.update(self.extra)
        return out


@dataclass(eq=True)
class Question:
    type: str
    name: str
    instructions: str = ""
    required: bool = False
    options: list[Option] = field(default_factory=list)
    scope: str | None = None
    feature_schema_id: str = ""
    schema_node_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.feature_schema_id:
            self.feature_schema_id = new_cuid()

    @property
    def value(self) -> str:
        return slugify(self.name)

    @property
    def is_choice(self) -> bool:
        return self.type in CHOICE_TYPES

    def option(self, schema_id: str) -> Option | None:
        return next((o for o in self.options if o.feature_schema_id == schema_id), None)

    def option_by_value(self, value: str) -> Option | None:
        return next(
            (o for o in self.options if value in (o.value, o.label)),
            None,
        )

    @classmethod
    def from_dict(cls, data: Any, path: str, nested: bool = False) -> Question:
        _expect_mapping(data, path)
        qtype = data.get("type")
        if qtype not in QUESTION_TYPES:
            raise OntologyError(
                path + ".type",
                f"unknown question type {qtype!r} (expected one of {', '.join(QUESTION_TYPES)})",
            )
        if nested and qtype == "dropdown":
            raise OntologyError(
                path,
                "a dropdown question cannot be nested under an option "
                "(Labelbox allows dropdowns only at the top level)",
            )
        name = data.get("name", data.get("instructions"))
        if not isinstance(name, str) or not name.strip():
            raise OntologyError(path + ".name", "a question needs a non-empty name")
        options = data.get("options", [])
        _expect_list(options, path + ".options")
        required = data.get("required", False)
        if not isinstance(required, bool):
            raise OntologyError(path + ".required", f"must be true or false, not {required!r}")
        return cls(
            type=qtype,
            name=name,
            instructions=_optional_str(data, "instructions", path) or "",
            required=required,
            options=[Option.from_dict(o, f"{path}.options[{i}]") for i, o in enumerate(options)],
            scope=_optional_str(data, "scope", path),
            feature_schema_id=_optional_str(data, "featureSchemaId", path) or "",
            schema_node_id=_optional_str(data, "schemaNodeId", path),
            extra={k: v for k, v in data.items() if k not in _QUESTION_KEYS},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "instructions": self.instructions,
            "required": self.required,
            "featureSchemaId": self.feature_schema_id,
            "options": [o.to_dict() for o in self.options],
        }
        if self.scope is not None:
            out["scope"] = self.scope
        if self.schema_node_id:
            out["schemaNodeId"] = self.schema_node_id
        out.update(self.extra)
        return out


@dataclass(eq=True)
class ObjectClass:
    name: str
    color: str = "#FF0000"
    tool: str = DEFAULT_TOOL
    required: bool = False
    questions: list[Question] = field(default_factory=list)
    feature_schema_id: str = ""
    schema_node_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.feature_schema_id:
            self.feature_schema_id = new_cuid()

    @property
    def value(self) -> str:
        return slugify(self.name)

    @property
    def is_segmentation(self) -> bool:
        return self.tool in SEGMENTATION_TOOLS

    @classmethod
    def from_dict(cls, data: Any, path: str) -> ObjectClass:
        _expect_mapping(data, path)
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise OntologyError(path + ".name", "a class needs a non-empty name")
        tool = data.get("tool", DEFAULT_TOOL)
        if not isinstance(tool, str) or not tool:
            raise OntologyError(path + ".tool", f"must be a tool name, not {tool!r}")
        questions = data.get("classifications", [])
        _expect_list(questions, path + ".classifications")
        required = data.get("required", False)
        if not isinstance(required, bool):
            raise OntologyError(path + ".required", f"must be true or false, not {required!r}")
        return cls(
            name=name,
            color=_optional_str(data, "color", path) or "#FF0000",
            tool=tool,
            required=required,
            questions=[
                Question.from_dict(q, f"{path}.classifications[{i}]")
                for i, q in enumerate(questions)
            ],
            feature_schema_id=_optional_str(data, "featureSchemaId", path) or "",
            schema_node_id=_optional_str(data, "schemaNodeId", path),
            extra={k: v for k, v in data.items() if k not in _CLASS_KEYS},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tool": self.tool,
            "name": self.name,
            "color": self.color,
            "required": self.required,
            "featureSchemaId": self.feature_schema_id,
            "classifications": [q.to_dict() for q in self.questions],
        }
        if self.schema_node_id:
            out["schemaNodeId"] = self.schema_node_id
        out.update(self.extra)
        return out


@dataclass(eq=True)
class Ontology:
    classes: list[ObjectClass] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    # -- lookup -------------------------------------------------------------
    @property
    def segmentation_classes(self) -> list[ObjectClass]:
        return [c for c in self.classes if c.is_segmentation]

    def class_by_id(self, schema_id: str) -> ObjectClass | None:
        return next((c for c in self.classes if c.feature_schema_id == schema_id), None)

    def class_by_name(self, name: str) -> ObjectClass | None:
        return next((c for c in self.classes if c.name == name), None)

    def iter_questions(self) -> Iterator[Question]:
        """Every question at any depth: class questions, then image-level ones."""
        return walk_questions([q for c in self.classes for q in c.questions] + self.questions)

    def question_by_id(self, schema_id: str) -> Question | None:
        return next((q for q in self.iter_questions() if q.feature_schema_id == schema_id), None)

    # -- (de)serialisation ----------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> Ontology:
        try:
            _expect_mapping(data, "")
            tools = data.get("tools", [])
            questions = data.get("classifications", [])
            _expect_list(tools, "tools")
            _expect_list(questions, "classifications")
            ontology = cls(
                classes=[ObjectClass.from_dict(t, f"tools[{i}]") for i, t in enumerate(tools)],
                questions=[
                    Question.from_dict(q, f"classifications[{i}]") for i, q in enumerate(questions)
                ],
                extra={k: v for k, v in data.items() if k not in ("tools", "classifications")},
            )
            ontology.validate()
        except OntologyError as err:
            if source and not err.source:
                raise OntologyError(err.path, err.problem, source) from None
            raise
        return ontology

    def to_dict(self) -> dict[str, Any]:
        out = {
            "tools": [c.to_dict() for c in self.classes],
            "classifications": [q.to_dict() for q in self.questions],
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, text: str | bytes, source: str | None = None) -> Ontology:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise OntologyError("", f"not valid JSON ({err})", source) from None
        except (ValueError, RecursionError) as err:  # huge integers, absurd nesting
            raise OntologyError(
                "", f"not valid JSON ({type(err).__name__}: {err})", source
            ) from None
        return cls.from_dict(data, source=source)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | Path) -> Ontology:
        path = Path(path)
        try:
            text = path.read_bytes()
        except OSError as err:
            raise OntologyError("", f"cannot read file ({err.strerror})", str(path)) from None
        return cls.from_json(text, source=str(path))

    # -- validation -----------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`OntologyError` naming the first problem found."""
        seen_names: dict[str, int] = {}
        seen_ids: dict[str, str] = {}
        for i, cls_ in enumerate(self.classes):
            path = f"tools[{i}]"
            if not cls_.name.strip():
                raise OntologyError(path + ".name", "a class needs a non-empty name")
            key = cls_.name.strip().casefold()
            if key in seen_names:
                raise OntologyError(
                    path + ".name",
                    f"duplicate class name {cls_.name!r} (also tools[{seen_names[key]}])",
                )
            seen_names[key] = i
            if not isinstance(cls_.color, str) or not _COLOUR_RE.match(cls_.color):
                raise OntologyError(
                    path + ".color", f"bad colour {cls_.color!r} (expected '#RRGGBB')"
                )
            _check_id(cls_.feature_schema_id, path, seen_ids)
            _validate_questions(cls_.questions, path + ".classifications", seen_ids, nested=False)
        _validate_questions(self.questions, "classifications", seen_ids, nested=False)


def walk_questions(questions: list[Question]) -> Iterator[Question]:
    """``questions`` and every question nested under their options, depth first."""
    stack = list(reversed(questions))
    while stack:
        question = stack.pop()
        yield question
        for option in reversed(question.options):
            stack.extend(reversed(option.questions))


def _validate_questions(
    questions: list[Question], path: str, seen_ids: dict[str, str], nested: bool
) -> None:
    names: dict[str, int] = {}
    for i, question in enumerate(questions):
        qpath = f"{path}[{i}]"
        if question.type not in QUESTION_TYPES:
            raise OntologyError(
                qpath + ".type",
                f"unknown question type {question.type!r} "
                f"(expected one of {', '.join(QUESTION_TYPES)})",
            )
        if nested and question.type == "dropdown":
            raise OntologyError(
                qpath,
                "a dropdown question cannot be nested under an option "
                "(Labelbox allows dropdowns only at the top level)",
            )
        if not question.name.strip():
            raise OntologyError(qpath + ".name", "a question needs a non-empty name")
        key = question.name.strip().casefold()
        if key in names:
            raise OntologyError(
                qpath + ".name",
                f"duplicate question name {question.name!r} (also {path}[{names[key]}])",
            )
        names[key] = i
        _check_id(question.feature_schema_id, qpath, seen_ids)
        if question.is_choice and not question.options:
            raise OntologyError(qpath + ".options", f"a {question.type} question needs options")
        if question.type == "text" and question.options:
            raise OntologyError(qpath + ".options", "a text question cannot have options")
        values: dict[str, int] = {}
        for j, option in enumerate(question.options):
            opath = f"{qpath}.options[{j}]"
            if not option.label.strip():
                raise OntologyError(opath + ".label", "an option needs a non-empty label")
            if option.value in values:
                raise OntologyError(
                    opath + ".value",
                    f"duplicate option value {option.value!r} "
                    f"(also {qpath}.options[{values[option.value]}])",
                )
            values[option.value] = j
            _check_id(option.feature_schema_id, opath, seen_ids)
            _validate_questions(option.questions, opath + ".options", seen_ids, nested=True)


def _check_id(schema_id: str, path: str, seen: dict[str, str]) -> None:
    if not isinstance(schema_id, str) or not schema_id:
        raise OntologyError(path + ".featureSchemaId", "must be a non-empty string")
    if schema_id in seen:
        raise OntologyError(
            path + ".featureSchemaId", f"duplicate id {schema_id!r} (also {seen[schema_id]})"
        )
    seen[schema_id] = path


def _expect_mapping(data: Any, path: str) -> None:
    if not isinstance(data, dict):
        raise OntologyError(path, f"expected a JSON object, got {type(data).__name__}")


def _expect_list(data: Any, path: str) -> None:
    if not isinstance(data, list):
        raise OntologyError(path, f"expected a JSON list, got {type(data).__name__}")


def _optional_str(data: dict, key: str, path: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise OntologyError(f"{path}.{key}" if path else key, f"must be a string, not {value!r}")
    return value
