"""Objects of other tools (boxes, polygons, points, lines) as NDJSON import lines.

A label read from a Labelbox export keeps them in its document: export v2's
objects in ``source["v2_other_objects"]`` (``bounding_box``, ``polygon``,
``point``, ``line``), v1's in ``source["other_objects"]`` (``bbox``, ...). Both
are put in one (v1) shape, so the edits of the Shapes / Points layers showing
them apply as for the v1 writer (matched by featureId, see
:func:`~napari_segtool.formats.labelbox_v1.other_tools.edited_other_objects`),
and written in the import's shapes::

    {"uuid", "dataRow", "name", "schemaId", "classifications",
     "bbox": {"top", "left", "height", "width"}}      # or
     "polygon": [{"x", "y"}, ...] | "point": {"x", "y"} | "line": [{"x", "y"}, ...]

The uuid is derived from the object's featureId, as an instance's is.
"""

from __future__ import annotations

from typing import Any

from napari_segtool.formats.labelbox_ndjson.answers_in import v1_entries
from napari_segtool.formats.labelbox_ndjson.answers_out import feature_reference
from napari_segtool.formats.labelbox_v1.other_tools import _geometry
from napari_segtool.model.ontology import Ontology

#: export v2's geometry keys and the v1 (and import) key of each
V2_GEOMETRY_KEYS = {"bounding_box": "bbox", "polygon": "polygon", "line": "line", "point": "point"}
IMPORT_KEYS = ("bbox", "polygon", "line", "point")


def other_objects_of(source: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's objects of other tools, v1-shaped (``featureId``, ``bbox``, ...)."""
    objects = [o for o in source.get("other_objects") or [] if isinstance(o, dict)]
    for obj in source.get("v2_other_objects") or []:
        if isinstance(obj, dict):
            objects.append(_from_v2(obj))
    return objects


def _from_v2(obj: dict[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "featureId": obj.get("feature_id"),
        "schemaId": obj.get("feature_schema_id"),
        "title": obj.get("name"),
        "value": obj.get("value"),
        "classifications": v1_entries(obj.get("classifications")),
    }
    for v2_key, key in V2_GEOMETRY_KEYS.items():
        if v2_key in obj:
            shaped[key] = obj[v2_key]
            break
    return shaped


def object_line(
    obj: dict[str, Any],
    ontology: Ontology,
    data_row: dict[str, str],
    line_uuid: str,
    schema_ids: bool,
) -> dict[str, Any] | None:
    """One object as an import line; ``None`` when its geometry is not usable."""
    key = next((k for k in IMPORT_KEYS if k in obj), None)
    if key is None or _geometry(key, obj[key]) is None:
        return None
    cls_ = ontology.class_by_id(obj.get("schemaId")) if obj.get("schemaId") else None
    name = cls_.name if cls_ is not None else str(obj.get("title") or obj.get("value") or "")
    schema_id = cls_.feature_schema_id if cls_ is not None else str(obj.get("schemaId") or "")
    return {
        "uuid": line_uuid,
        "dataRow": data_row,
        **feature_reference(name, schema_id, schema_ids),
        "classifications": import_classifications(obj.get("classifications"), schema_ids),
        key: _import_geometry(key, obj[key]),
    }


def _import_geometry(key: str, value: Any) -> Any:
    """Exactly the four numbers / ``x``, ``y`` pairs of the documented shapes (no extras)."""
    if key == "bbox":
        return {k: value[k] for k in ("top", "left", "height", "width")}
    if key == "point":
        return {"x": value["x"], "y": value["y"]}
    return [{"x": p["x"], "y": p["y"]} for p in value]


def import_classifications(entries: Any, schema_ids: bool) -> list[dict[str, Any]]:
    """v1-shaped answers (``title``, ``answer`` / ``answers``) in import shape, nested."""
    flat = [
        e
        for entry in (entries if isinstance(entries, list) else [])
        for e in (entry if isinstance(entry, list) else [entry])
        if isinstance(e, dict)
    ]
    out = []
    for entry in flat:
        name = entry.get("title") or entry.get("value")
        if not isinstance(name, str) or not name:
            continue
        imported: dict[str, Any] = feature_reference(name, entry.get("schemaId") or "", schema_ids)
        if isinstance(entry.get("answers"), list):
            chosen = [_import_option(a, schema_ids) for a in entry["answers"]]
            imported["answer"] = [c for c in chosen if c is not None]
        elif isinstance(entry.get("answer"), dict):
            imported["answer"] = _import_option(entry["answer"], schema_ids)
        elif isinstance(entry.get("answer"), str):
            imported["answer"] = entry["answer"]
        if imported.get("answer") not in (None, []):
            out.append(imported)
    return out


def _import_option(answer: Any, schema_ids: bool) -> dict[str, Any] | None:
    if not isinstance(answer, dict):
        return None
    name = answer.get("value") or answer.get("title")
    if not isinstance(name, str) or not name:
        return None
    option: dict[str, Any] = feature_reference(name, answer.get("schemaId") or "", schema_ids)
    nested = import_classifications(answer.get("classifications"), schema_ids)
    if nested:
        option["classifications"] = nested
    return option
