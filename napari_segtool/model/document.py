"""What a segmentation layer holds beyond its pixels.

A :class:`Document` carries the layer's ontology, its instances (label id ->
featureId, class, answers, lock and visibility), the image-level answers and
label-id allocation. Pure Python: psygnal signals let widgets follow it
without polling. ``to_dict`` / ``from_dict`` give the plain, JSON-ready form
kept in ``layer.metadata``.

Answers are nested dicts keyed by question ``featureSchemaId``::

    {"<text question id>": "free text",
     "<radio question id>": {"<chosen option id>": {<answers nested under it>}},
     "<checklist question id>": {"<option id>": {...}, "<option id>": {...}}}

A sub-question's answer lives under the option it hangs from, so dropping an
option drops everything beneath it. :mod:`napari_segtool.model.answers` walks
that tree.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from psygnal import Signal

from napari_segtool.model.answers import (
    Answers,
    clean_answers,
    missing_required,
    summarise_answers,
)
from napari_segtool.model.ids import new_cuid
from napari_segtool.model.ontology import Ontology, OntologyError

DOCUMENT_VERSION = 1
METADATA_KEY = "napari_segtool"


#: ``source`` key: other tools' properties per label value (``str(value)``: ``{name: value}``),
#: kept as read and written back
IMPORTED_PROPERTIES = "imported_properties"


class DocumentError(ValueError):
    """A document (or its serialised form) that cannot be used."""


@dataclass
class Instance:
    label_id: int
    schema_id: str
    feature_id: str = field(default_factory=new_cuid)
    answers: Answers = field(default_factory=dict)
    locked: bool = False
    hidden: bool = False
    #: a crowd region (COCO ``iscrowd``): many objects under one mask
    crowd: bool = False
    #: what another tool stored with the instance that this plugin does not model, as it
    #: was, so that it is written back unchanged (COCO: annotation keys, free attributes)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "label_id": self.label_id,
            "schema_id": self.schema_id,
            "feature_id": self.feature_id,
            "answers": copy.deepcopy(self.answers),
            "locked": self.locked,
            "hidden": self.hidden,
        }
        if self.crowd:
            data["crowd"] = True
        if self.extra:
            data["extra"] = copy.deepcopy(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Instance:
        if not isinstance(data, dict):
            raise DocumentError(f"{path}: expected an object, got {type(data).__name__}")
        label_id = data.get("label_id")
        if not isinstance(label_id, int) or isinstance(label_id, bool) or label_id <= 0:
            raise DocumentError(f"{path}.label_id: must be a positive integer, not {label_id!r}")
        schema_id = data.get("schema_id")
        if not isinstance(schema_id, str) or not schema_id:
            raise DocumentError(f"{path}.schema_id: must be a class id, not {schema_id!r}")
        feature_id = data.get("feature_id") or new_cuid()
        if not isinstance(feature_id, str):
            raise DocumentError(f"{path}.feature_id: must be a string, not {feature_id!r}")
        answers = data.get("answers", {})
        if not isinstance(answers, dict):
            raise DocumentError(f"{path}.answers: must be an object")
        extra = data.get("extra", {})
        if not isinstance(extra, dict):
            raise DocumentError(f"{path}.extra: must be an object")
        return cls(
            label_id=label_id,
            schema_id=schema_id,
            feature_id=feature_id,
            answers=copy.deepcopy(answers),
            locked=bool(data.get("locked", False)),
            hidden=bool(data.get("hidden", False)),
            crowd=bool(data.get("crowd", False)),
            extra=copy.deepcopy(extra),
        )


class Document:
    """The annotation state of one segmentation layer (everything but pixels)."""

    instance_added = Signal(int)
    instance_removed = Signal(int)
    #: class, answers, lock or visibility of one instance changed
    instance_changed = Signal(int)
    image_answers_changed = Signal()
    #: classes, questions, colours, class locks or class visibility changed
    ontology_changed = Signal()

    def __init__(
        self,
        ontology: Ontology | None = None,
        instances: list[Instance] | None = None,
        image_answers: Answers | None = None,
        source: dict[str, Any] | None = None,
        locked_classes: set[str] | None = None,
        hidden_classes: set[str] | None = None,
    ):
        self.ontology = ontology if ontology is not None else Ontology()
        self.instances: dict[int, Instance] = {}
        for instance in instances or []:
            if instance.label_id in self.instances:
                raise DocumentError(f"label id {instance.label_id} is used twice")
            self.instances[instance.label_id] = instance
        self.image_answers: Answers = image_answers or {}
        #: where the annotated image and the Labelbox data row come from
        self.source: dict[str, Any] = source or {}
        self.locked_classes: set[str] = set(locked_classes or ())
        self.hidden_classes: set[str] = set(hidden_classes or ())
        self._next_label_id = max(self.instances, default=0) + 1

    # -- instances ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.instances)

    def __contains__(self, label_id: object) -> bool:
        return label_id in self.instances

    def instance(self, label_id: int) -> Instance:
        try:
            return self.instances[label_id]
        except KeyError:
            raise DocumentError(f"unknown label id {label_id}") from None

    def instances_of_class(self, schema_id: str) -> list[Instance]:
        return [i for i in self.instances.values() if i.schema_id == schema_id]

    def next_label_id(self, floor: int = 0) -> int:
        """A label id not used by any instance, above ``floor`` (the largest painted id)."""
        candidate = max(self._next_label_id, floor + 1)
        while candidate in self.instances:
            candidate += 1
        return candidate

    def add_instance(
        self,
        label_id: int,
        schema_id: str,
        feature_id: str | None = None,
        answers: Answers | None = None,
    ) -> Instance:
        if label_id in self.instances:
            raise DocumentError(f"label id {label_id} already belongs to an instance")
        if label_id <= 0:
            raise DocumentError(f"label id must be positive, not {label_id}")
        self._require_class(schema_id)
        instance = Instance(
            label_id=label_id,
            schema_id=schema_id,
            feature_id=feature_id or new_cuid(),
            answers=answers or {},
        )
        self.instances[label_id] = instance
        self._next_label_id = max(self._next_label_id, label_id + 1)
        self.instance_added.emit(label_id)
        return instance

    def remove_instance(self, label_id: int) -> Instance:
        instance = self.instance(label_id)
        del self.instances[label_id]
        self.instance_removed.emit(label_id)
        return instance

    def set_class(self, label_id: int, schema_id: str) -> None:
        instance = self.instance(label_id)
        self._require_class(schema_id)
        if instance.schema_id != schema_id:
            instance.schema_id = schema_id
            instance.answers = {}  # the old class's questions do not apply
            self.instance_changed.emit(label_id)

    def set_answers(self, label_id: int, answers: Answers) -> None:
        instance = self.instance(label_id)
        cls_ = self.ontology.class_by_id(instance.schema_id)
        questions = cls_.questions if cls_ else []
        instance.answers = clean_answers(questions, answers)
        self.instance_changed.emit(label_id)

    def set_image_answers(self, answers: Answers) -> None:
        self.image_answers = clean_answers(self.ontology.questions, answers)
        self.image_answers_changed.emit()

    def set_locked(self, label_id: int, locked: bool) -> None:
        instance = self.instance(label_id)
        if instance.locked != locked:
            instance.locked = locked
            self.instance_changed.emit(label_id)

    def set_hidden(self, label_id: int, hidden: bool) -> None:
        instance = self.instance(label_id)
        if instance.hidden != hidden:
            instance.hidden = hidden
            self.instance_changed.emit(label_id)

    def set_class_locked(self, schema_id: str, locked: bool) -> None:
        self._require_class(schema_id)
        (self.locked_classes.add if locked else self.locked_classes.discard)(schema_id)
        self.ontology_changed.emit()

    def set_class_hidden(self, schema_id: str, hidden: bool) -> None:
        self._require_class(schema_id)
        (self.hidden_classes.add if hidden else self.hidden_classes.discard)(schema_id)
        self.ontology_changed.emit()

    def is_locked(self, label_id: int) -> bool:
        instance = self.instances.get(label_id)
        return instance is not None and (
            instance.locked or instance.schema_id in self.locked_classes
        )

    def is_hidden(self, label_id: int) -> bool:
        instance = self.instances.get(label_id)
        return instance is not None and (
            instance.hidden or instance.schema_id in self.hidden_classes
        )

    def locked_label_ids(self) -> list[int]:
        return [i for i in self.instances if self.is_locked(i)]

    def hidden_label_ids(self) -> list[int]:
        return [i for i in self.instances if self.is_hidden(i)]

    # -- ontology -------------------------------------------------------------
    def set_ontology(self, ontology: Ontology) -> None:
        """Replace the ontology; every instance's class must still exist."""
        ontology.validate()
        orphans = sorted(
            i.label_id for i in self.instances.values() if ontology.class_by_id(i.schema_id) is None
        )
        if orphans:
            raise DocumentError(
                f"the new ontology lacks the class of instances {orphans[:10]}"
                + (" ..." if len(orphans) > 10 else "")
            )
        self.ontology = ontology
        for instance in self.instances.values():
            questions = ontology.class_by_id(instance.schema_id).questions
            instance.answers = clean_answers(questions, instance.answers)
        self.image_answers = clean_answers(ontology.questions, self.image_answers)
        known = {c.feature_schema_id for c in ontology.classes}
        self.locked_classes &= known
        self.hidden_classes &= known
        self.ontology_changed.emit()

    def class_of(self, label_id: int):
        return self.ontology.class_by_id(self.instance(label_id).schema_id)

    def _require_class(self, schema_id: str) -> None:
        if self.ontology.class_by_id(schema_id) is None:
            raise DocumentError(f"unknown class id {schema_id!r}")

    # -- what another tool said of a label value -------------------------------------
    def imported_properties(self, label_id: int) -> dict[str, Any]:
        """The properties a file of another tool gave the label value ``label_id`` (an
        OME-Zarr label group's ``image-label`` ``properties``); empty when none."""
        kept = self.source.get(IMPORTED_PROPERTIES)
        found = kept.get(str(label_id)) if isinstance(kept, dict) else None
        return dict(found) if isinstance(found, dict) else {}

    # -- required questions ---------------------------------------------------
    def missing_required(self, label_id: int) -> list[str]:
        instance = self.instance(label_id)
        cls_ = self.ontology.class_by_id(instance.schema_id)
        return missing_required(cls_.questions if cls_ else [], instance.answers)

    def unanswered_report(self, label_ids=None) -> list[tuple[int | None, str]]:
        """Every unanswered required question: ``(label_id or None for the image, path)``."""
        report: list[tuple[int | None, str]] = [
            (None, path) for path in missing_required(self.ontology.questions, self.image_answers)
        ]
        for label_id in sorted(self.instances if label_ids is None else label_ids):
            report.extend((label_id, path) for path in self.missing_required(label_id))
        return report

    # -- serialisation --------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": DOCUMENT_VERSION,
            "ontology": self.ontology.to_dict(),
            "instances": [i.to_dict() for i in self.instances.values()],
            "image_answers": copy.deepcopy(self.image_answers),
            "source": copy.deepcopy(self.source),
            "locked_classes": sorted(self.locked_classes),
            "hidden_classes": sorted(self.hidden_classes),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Document:
        if not isinstance(data, dict):
            raise DocumentError(f"a document must be an object, not {type(data).__name__}")
        version = data.get("version", DOCUMENT_VERSION)
        if version != DOCUMENT_VERSION:
            raise DocumentError(f"unsupported document version {version!r}")
        try:
            ontology = Ontology.from_dict(data.get("ontology", {}))
        except OntologyError as err:
            raise DocumentError(f"ontology: {err}") from None
        raw_instances = data.get("instances", [])
        if not isinstance(raw_instances, list):
            raise DocumentError("instances: must be a list")
        instances = [Instance.from_dict(d, f"instances[{n}]") for n, d in enumerate(raw_instances)]
        for n, instance in enumerate(instances):
            if ontology.class_by_id(instance.schema_id) is None:
                raise DocumentError(
                    f"instances[{n}].schema_id: unknown class id {instance.schema_id!r}"
                )
        image_answers = data.get("image_answers", {})
        source = data.get("source", {})
        if not isinstance(image_answers, dict) or not isinstance(source, dict):
            raise DocumentError("image_answers and source must be objects")
        return cls(
            ontology=ontology,
            instances=instances,
            image_answers=copy.deepcopy(image_answers),
            source=copy.deepcopy(source),
            locked_classes=set(data.get("locked_classes", ())),
            hidden_classes=set(data.get("hidden_classes", ())),
        )

    # -- status-bar table ------------------------------------------------------
    def feature_columns(self) -> dict[str, list]:
        """Columns for ``layer.features``: one row per instance plus background."""
        columns: dict[str, list] = {
            "index": [0],
            "class": ["background"],
            "featureId": [""],
            "answers": [""],
        }
        for label_id in sorted(self.instances):
            columns["index"].append(label_id)
            for key, value in self.feature_row(label_id).items():
                columns[key].append(value)
        return columns

    def feature_row(self, label_id: int) -> dict[str, str]:
        """One instance's ``layer.features`` values (class, featureId, answers)."""
        instance = self.instance(label_id)
        cls_ = self.ontology.class_by_id(instance.schema_id)
        summary = summarise_answers(cls_.questions if cls_ else [], instance.answers)
        return {
            "class": cls_.name if cls_ else "",
            "featureId": instance.feature_id,
            "answers": summary or "none",
        }
