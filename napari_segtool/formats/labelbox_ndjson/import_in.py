"""Labelbox's NDJSON annotation import (what :mod:`.writer` writes) read back.

An import file has one line per annotation, not per data row::

    {"uuid": ..., "dataRow": {"globalKey": ...} | {"id": ...}, "name": ..., "schemaId": ...,
     "classifications": [...], "mask": {"png": <base64>} | {"instanceURI", "colorRGB"}}

(``instanceURI`` without ``colorRGB``: a binary PNG of the object alone, the
older shape)
(or ``bbox``, ``polygon``, ``point``, ``line`` instead of ``mask``), and one
line per answered image-level question (``answer`` instead of a geometry).
The lines are grouped by data row and put in the shape of an export v2 row,
so one reader (:mod:`.reader`) handles both: one label per data row, the
``uuid`` as featureId (the writer writes such a featureId back as the uuid,
so saving again keeps the uuids), the global key as the image file beside
the NDJSON.
"""

from __future__ import annotations

from typing import Any

from napari_segtool.formats.toolkit.flags import FLAGS_KEY
from napari_segtool.formats.toolkit.values import kind_of, shown_text

#: import geometry key -> export v2 key
_GEOMETRIES = {"bbox": "bounding_box", "polygon": "polygon", "line": "line", "point": "point"}
#: a line's position in the file, kept on the object for messages
LINE_KEY = "_ndjson_line"


class ImportLineError(ValueError):
    """A line that is not an annotation import line (the message names the line)."""


def data_row_key(number: int, line: dict[str, Any]) -> tuple[str, str]:
    """``("id" | "globalKey", value)`` of a line; raises :class:`ImportLineError`."""
    data_row = line.get("dataRow")
    if not isinstance(data_row, dict):
        raise ImportLineError(f"line {number}: no dataRow object; not a Labelbox import line")
    for key in ("globalKey", "id"):
        value = data_row.get(key)
        if isinstance(value, str) and value.strip():
            return key, value
    raise ImportLineError(
        f"line {number}: dataRow must name a globalKey or an id, not {shown_text(data_row)}"
    )


def export_rows(lines: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """Import lines grouped by data row, each group as ``(first line, export v2 row)``."""
    groups: dict[tuple[str, str], tuple[int, list[dict], list[dict], dict[str, str]]] = {}
    #: the plane record of a stack's plane (see ..planes), from the first line that has one
    records: dict[tuple[str, str], Any] = {}
    for number, line in lines:
        key = data_row_key(number, line)
        _, objects, classifications, answer_uuids = groups.setdefault(key, (number, [], [], {}))
        flags = line.get(FLAGS_KEY)
        if isinstance(flags, dict) and "plane" in flags:
            records.setdefault(key, (flags["plane"], flags.get("external_id")))
        if "answer" in line and not any(k in line for k in ("mask", *_GEOMETRIES)):
            classifications.append(_entry(number, line))
            uuid = line.get("uuid")
            if isinstance(uuid, str) and uuid:
                for ref in (line.get("schemaId"), line.get("name")):
                    if isinstance(ref, str) and ref:
                        answer_uuids.setdefault(ref, uuid)
        else:
            objects.append(_object(number, line))
    rows = []
    for (kind, value), (first, objects, classifications, answer_uuids) in groups.items():
        data_row = {"id": value} if kind == "id" else {"global_key": value, "row_data": value}
        if (kind, value) in records:
            record, external_id = records[(kind, value)]
            data_row[FLAGS_KEY] = {"plane": record}
            if kind == "id" and isinstance(external_id, str):  # the plane's name
                data_row["external_id"] = external_id
        label = {
            "annotations": {"objects": objects, "classifications": classifications},
            "answer_uuids": answer_uuids,
        }
        rows.append((first, {"data_row": data_row, "projects": {"import": {"labels": [label]}}}))
    return rows


def _object(number: int, line: dict[str, Any]) -> dict[str, Any]:
    flags = line.get(FLAGS_KEY)
    # a plane of a stack names its instance (its uuid is the plane's own)
    feature_id = flags.get("featureId") if isinstance(flags, dict) else None
    obj: dict[str, Any] = {
        "feature_id": feature_id
        if isinstance(feature_id, str) and feature_id
        else line.get("uuid"),
        "feature_schema_id": line.get("schemaId"),
        "name": line.get("name"),
        "classifications": _entries(number, line.get("classifications")),
        LINE_KEY: number,
    }
    mask = line.get("mask")
    if mask is not None:
        if not isinstance(mask, dict):
            raise ImportLineError(f"line {number}: mask must be an object, not {kind_of(mask)}")
        if "png" in mask:
            obj["mask"] = {"png": mask["png"]}
        elif "instanceURI" in mask and "colorRGB" in mask:  # one colour of a composite PNG
            obj["composite_mask"] = {"url": mask["instanceURI"], "color_rgb": mask["colorRGB"]}
        elif "instanceURI" in mask:  # the older shape: a PNG of this object alone
            obj["mask"] = {"url": mask["instanceURI"]}
        else:
            raise ImportLineError(f"line {number}: mask holds neither png nor instanceURI")
        return obj
    for key, v2_key in _GEOMETRIES.items():
        if key in line:
            obj[v2_key] = line[key]
            return obj
    obj["annotation_kind"] = "no mask or geometry"
    return obj


def _entries(number: int, entries: Any) -> list[dict[str, Any]]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ImportLineError(
            f"line {number}: classifications must be a list, not {kind_of(entries)}"
        )
    return [_entry(number, e) for e in entries]


def _entry(number: int, entry: Any) -> dict[str, Any]:
    """An import answer as an export v2 classification (nested the same way)."""
    if not isinstance(entry, dict):
        raise ImportLineError(f"line {number}: an answer must be an object, not {kind_of(entry)}")
    shaped: dict[str, Any] = {"feature_schema_id": entry.get("schemaId"), "name": entry.get("name")}
    answer = entry.get("answer")
    if isinstance(answer, str):
        shaped["text_answer"] = {"content": answer}
    elif isinstance(answer, list):
        shaped["checklist_answers"] = [_option(number, a) for a in answer]
    elif isinstance(answer, dict):
        shaped["radio_answer"] = _option(number, answer)
    else:
        raise ImportLineError(
            f"line {number}: the answer to {shown_text(entry.get('name'))} must be text, an "
            f"option or a list of options, not {kind_of(answer)}"
        )
    return shaped


def _option(number: int, option: Any) -> dict[str, Any]:
    if not isinstance(option, dict):
        raise ImportLineError(f"line {number}: an option must be an object, not {kind_of(option)}")
    name = option.get("name")  # the writer writes the option's value here
    return {
        "feature_schema_id": option.get("schemaId"),
        "name": name,
        "value": name,
        "classifications": _entries(number, option.get("classifications")),
    }
