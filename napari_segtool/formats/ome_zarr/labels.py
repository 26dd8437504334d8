"""A segmentation document as NGFF ``image-label`` metadata, and back.

``properties`` hold, per label value, what a reader of any tool can show:
``class`` (name), ``class_schema_id``, ``featureId``, ``answers`` (nested by
question id, as the document keeps them), ``answers_summary`` (readable),
``locked``, ``hidden`` (and ``crowd`` / ``extra`` when set). ``colors`` give
each instance its colour in the plugin (class colour stepped by id).

The rest of the document (ontology, image-level answers, class locks, source)
goes under :data:`NAMESPACE` in the label image's attributes. Properties of
label values that another tool wrote and this plugin has no instance for are
kept in the document's source (:data:`FOREIGN_SOURCE`) and written back.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from napari_segtool.model.answers import summarise_answers
from napari_segtool.model.colours import instance_colour
from napari_segtool.model.document import IMPORTED_PROPERTIES, Document, DocumentError, Instance
from napari_segtool.model.ids import new_cuid
from napari_segtool.model.ontology import Ontology, OntologyError

NAMESPACE = "napari_segtool"
NAMESPACE_VERSION = 1
#: ``document.source`` key: where the layer was read from (store, label group, NGFF version)
STORE_SOURCE = "ome_zarr"
#: ``document.source`` key: other tools' properties by label value (str), written back
FOREIGN_SOURCE = IMPORTED_PROPERTIES
#: property keys this plugin writes (and reads back) for each instance
INSTANCE_KEYS = (
    "class",
    "class_schema_id",
    "featureId",
    "answers",
    "answers_summary",
    "locked",
    "hidden",
    "crowd",
    "extra",
)
LABEL_VALUE = "label-value"


def rgba_bytes(colour: np.ndarray) -> list[int]:
    return [round(float(c) * 255) for c in colour]


def image_label_metadata(document: Document, image_path: str = "../../") -> dict[str, Any]:
    """``colors``, ``properties`` and ``source`` of the ``image-label`` metadata."""
    colours: list[dict[str, Any]] = []
    properties: dict[int, dict[str, Any]] = {}
    for value, props in _foreign(document).items():
        properties[value] = {**props, LABEL_VALUE: value}
    for label_id in sorted(document.instances):
        instance = document.instances[label_id]
        cls_ = document.ontology.class_by_id(instance.schema_id)
        if cls_ is not None:
            colours.append(
                {LABEL_VALUE: label_id, "rgba": rgba_bytes(instance_colour(cls_.color, label_id))}
            )
        entry = {
            **properties.get(label_id, {}),
            LABEL_VALUE: label_id,
            "class": cls_.name if cls_ else "",
            "class_schema_id": instance.schema_id,
            "featureId": instance.feature_id,
            "answers": copy.deepcopy(instance.answers),
            "answers_summary": summarise_answers(cls_.questions if cls_ else [], instance.answers),
            "locked": instance.locked,
            "hidden": instance.hidden,
        }
        if instance.crowd:
            entry["crowd"] = True
        if instance.extra:
            entry["extra"] = copy.deepcopy(instance.extra)
        properties[label_id] = entry
    return {
        "colors": colours,
        "properties": [properties[value] for value in sorted(properties)],
        "source": {"image": image_path},
    }


def namespaced_attributes(document: Document) -> dict[str, Any]:
    """What goes under :data:`NAMESPACE`: the document without its instances."""
    source = {
        key: value
        for key, value in copy.deepcopy(document.source).items()
        if key not in (STORE_SOURCE, FOREIGN_SOURCE)
    }
    return {
        "version": NAMESPACE_VERSION,
        "ontology": document.ontology.to_dict(),
        "image_answers": copy.deepcopy(document.image_answers),
        "locked_classes": sorted(document.locked_classes),
        "hidden_classes": sorted(document.hidden_classes),
        "source": source,
    }


def document_from_metadata(
    image_label: dict[str, Any], namespaced: Any, where: str, default_ontology: Ontology
) -> tuple[Document, list[str]]:
    """The document of a label image, and notes for the user.

    With our namespaced attributes, every instance comes back from its
    properties; a group of another tool gets ``default_ontology`` and no
    instances (its painted values are unassigned), its properties kept.
    """
    notes: list[str] = []
    properties = _properties_by_value(image_label.get("properties"), where)
    ours = isinstance(namespaced, dict) and isinstance(namespaced.get("ontology"), dict)
    if not ours:
        document = Document(ontology=default_ontology)
        if properties:
            document.source[FOREIGN_SOURCE] = {str(v): p for v, p in properties.items()}
            notes.append(
                f"{where}: written by another tool: {len(properties)} label value(s) with "
                "properties open unassigned (their properties are kept and written back)"
            )
        return document, notes
    if namespaced.get("version", NAMESPACE_VERSION) != NAMESPACE_VERSION:
        raise DocumentError(f"{where}: {NAMESPACE} version {namespaced.get('version')!r}")
    try:
        ontology = Ontology.from_dict(namespaced["ontology"], source=where)
    except OntologyError as err:
        raise DocumentError(f"{where}: {NAMESPACE}.ontology: {err}") from None
    instances: list[Instance] = []
    foreign: dict[str, dict[str, Any]] = {}
    for value, props in properties.items():
        schema_id = props.get("class_schema_id")
        if not isinstance(schema_id, str) or ontology.class_by_id(schema_id) is None:
            foreign[str(value)] = props
            continue
        answers = props.get("answers")
        extra = props.get("extra")
        instances.append(
            Instance(
                label_id=value,
                schema_id=schema_id,
                feature_id=str(props.get("featureId") or "") or new_cuid(),
                answers=copy.deepcopy(answers) if isinstance(answers, dict) else {},
                locked=props.get("locked") is True,
                hidden=props.get("hidden") is True,
                crowd=props.get("crowd") is True,
                extra=copy.deepcopy(extra) if isinstance(extra, dict) else {},
            )
        )
        leftover = {k: v for k, v in props.items() if k not in INSTANCE_KEYS}
        if leftover:
            foreign[str(value)] = leftover
    known = {c.feature_schema_id for c in ontology.classes}
    source = namespaced.get("source")
    image_answers = namespaced.get("image_answers")
    document = Document(
        ontology=ontology,
        instances=instances,
        image_answers=copy.deepcopy(image_answers) if isinstance(image_answers, dict) else {},
        source=copy.deepcopy(source) if isinstance(source, dict) else {},
        locked_classes=_ids(namespaced.get("locked_classes")) & known,
        hidden_classes=_ids(namespaced.get("hidden_classes")) & known,
    )
    if foreign:
        document.source[FOREIGN_SOURCE] = foreign
    return document, notes


def _ids(value: Any) -> set[str]:
    return {i for i in value if isinstance(i, str)} if isinstance(value, list) else set()


def _properties_by_value(raw: Any, where: str) -> dict[int, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise DocumentError(f"{where}: image-label 'properties' must be a list")
    found: dict[int, dict[str, Any]] = {}
    for n, entry in enumerate(raw):
        value = entry.get(LABEL_VALUE) if isinstance(entry, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise DocumentError(f"{where}: image-label properties[{n}] has no integer label-value")
        if value > 0:
            found[value] = {k: v for k, v in entry.items() if k != LABEL_VALUE}
    return found


def _foreign(document: Document) -> dict[int, dict[str, Any]]:
    kept = document.source.get(FOREIGN_SOURCE)
    if not isinstance(kept, dict):
        return {}
    found: dict[int, dict[str, Any]] = {}
    for key, props in kept.items():
        if isinstance(props, dict) and str(key).isdigit() and int(key) > 0:
            found[int(key)] = copy.deepcopy(props)
    return found
