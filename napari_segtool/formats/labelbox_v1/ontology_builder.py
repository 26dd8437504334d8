"""The ontology of an export: from the file beside it, completed from the export itself (classes,
questions, options it uses).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from napari_segtool.formats.labelbox_v1.answers import (
    _choice_answers,
    _flatten_entries,
    _merge_entry,
)
from napari_segtool.formats.labelbox_v1.common import (
    _LABELBOX_TOOL,
    OTHER_TOOLS,
    LabelboxFormatError,
    _warn,
)
from napari_segtool.formats.toolkit.names import find_named
from napari_segtool.formats.toolkit.values import class_colour, kind_of
from napari_segtool.model.answers import Answers, build_answers
from napari_segtool.model.ids import new_cuid
from napari_segtool.model.ontology import (
    CHOICE_TYPES,
    DEFAULT_TOOL,
    ObjectClass,
    Ontology,
    Option,
    Question,
    slugify,
    walk_questions,
)


class _OntologyBuilder:
    """Finds the class / question / option of v1 entries, adding what is missing."""

    def __init__(self, ontology: Ontology | None, json_path: Path):
        self.json_path = json_path
        #: False when there was no ontology to start from (rebuilt from the export)
        self.ontology_given = ontology is not None
        self.ontology = ontology if ontology is not None else Ontology()
        self.added: Counter[str] = Counter()
        self._ids = {c.feature_schema_id for c in self.ontology.classes} | {
            q.feature_schema_id for q in self.ontology.iter_questions()
        }
        for question in self.ontology.iter_questions():
            self._ids.update(o.feature_schema_id for o in question.options)

    def describe_added(self) -> str:
        return ", ".join(f"{n} {kind}(s)" for kind, n in sorted(self.added.items()))

    def _fresh_id(self, wanted: Any) -> str:
        if isinstance(wanted, str) and wanted and wanted not in self._ids:
            identifier = wanted
        else:
            identifier = new_cuid()
        self._ids.add(identifier)
        return identifier

    # -- classes -------------------------------------------------------------------
    def class_for(self, obj: dict[str, Any], where: str) -> ObjectClass:
        schema_id = obj.get("schemaId")
        title = obj.get("title") or obj.get("value")
        found = self.ontology.class_by_id(schema_id) if isinstance(schema_id, str) else None
        if found is None:
            found = find_named(self.ontology.classes, title)
        if found is not None:
            return found
        if not isinstance(title, str) or not title.strip():
            title = f"Class {len(self.ontology.classes) + 1}"
        key = next((k for k in OTHER_TOOLS if k in obj), None)
        colour = class_colour(obj.get("color"), len(self.ontology.classes))
        cls_ = ObjectClass(
            name=title,
            color=colour,
            tool=_LABELBOX_TOOL[key] if key else DEFAULT_TOOL,
            feature_schema_id=self._fresh_id(schema_id),
        )
        self.ontology.classes.append(cls_)
        self.added["class"] += 1
        return cls_

    # -- answers -------------------------------------------------------------------
    def answers(self, questions: list[Question], entries: Any, where: str) -> Answers:
        """Regroup flattened v1 classifications under the options they hang from."""
        flat = _flatten_entries(entries)
        by_question: dict[str, dict[str, Any]] = {}
        for entry in flat:
            question = self._question_for(questions, entry)
            if question is None:
                continue
            if question.feature_schema_id in by_question:
                _merge_entry(by_question[question.feature_schema_id], entry)
            else:
                by_question[question.feature_schema_id] = dict(entry)
        answers = self._collect(questions, by_question, where)
        if by_question:
            lost = sorted(
                str(e.get("title") or e.get("value") or e.get("schemaId"))
                for e in by_question.values()
            )
            _warn(
                f"{self.json_path.name} {where}: answers ignored because the option they "
                f"belong under is not chosen: {', '.join(lost)}"
            )
        return answers

    def _collect(self, questions, by_question, where) -> Answers:
        """Take the entry of each question that applies (the rest are left over)."""

        def choose(question: Question, _parents) -> Any:
            entry = by_question.pop(question.feature_schema_id, None)
            return None if entry is None else self._parse(question, entry, where)

        return build_answers(questions, choose)

    def _parse(self, question: Question, entry: dict[str, Any], where: str):
        if question.type == "text":
            answer = entry.get("answer")
            if answer is None or answer == "":
                return None
            if not isinstance(answer, str):
                raise LabelboxFormatError(
                    f"{self.json_path}: {where}: the text answer to {question.name!r} is "
                    f"{kind_of(answer)}, not a string"
                )
            return answer
        chosen = _choice_answers(entry)
        if chosen is None:
            raise LabelboxFormatError(
                f"{self.json_path}: {where}: the answer to {question.name!r} is not an option "
                "object or a list of them"
            )
        value: Answers = {}
        for answer in chosen:
            option = self._option_for(question, answer)
            if option is not None:
                value.setdefault(option.feature_schema_id, {})
            if question.type != "checklist" and value:
                break
        return value or None

    def _question_for(self, questions: list[Question], entry: dict[str, Any]) -> Question | None:
        schema_id = entry.get("schemaId")
        title = entry.get("title") or entry.get("value")
        every = list(walk_questions(questions))
        found = next((q for q in every if q.feature_schema_id == schema_id), None)
        if found is None:  # a title names a question, or is its value (a slug)
            found = find_named(every, title) or find_named(every, title, name_of=_value_of)
        if found is not None:
            return found
        if not isinstance(title, str) or not title.strip():
            return None
        if "answers" in entry:
            qtype = "checklist"
        elif isinstance(entry.get("answer"), str):
            qtype = "text"
        elif isinstance(entry.get("answer"), list):
            qtype = "dropdown"
        elif isinstance(entry.get("answer"), dict):
            qtype = "radio"
        else:
            return None
        question = Question(
            type=qtype, name=title, instructions=title, feature_schema_id=self._fresh_id(schema_id)
        )
        if qtype in CHOICE_TYPES:  # options come from the answers; an empty one is invalid
            for answer in _choice_answers(entry) or []:
                self._option_for(question, answer, count=False)
            if not question.options:
                return None
        questions.append(question)
        self.added["question"] += 1
        return question

    def _option_for(self, question: Question, answer: Any, count: bool = True) -> Option | None:
        if not isinstance(answer, dict):
            return None
        schema_id, value, title = answer.get("schemaId"), answer.get("value"), answer.get("title")
        found = question.option(schema_id) if isinstance(schema_id, str) else None
        for key in (value, title):
            if found is None and isinstance(key, str):
                found = question.option_by_value(key) or question.option_by_value(slugify(key))
        if found is not None:
            return found
        label = title if isinstance(title, str) and title.strip() else value
        if not isinstance(label, str) or not label.strip():
            return None
        option = Option(
            label=label,
            value=value if isinstance(value, str) and value else "",
            feature_schema_id=self._fresh_id(schema_id),
        )
        question.options.append(option)
        if count:
            self.added["option"] += 1
        return option


def _value_of(question: Question) -> str:
    return question.value
