"""Objects of other Labelbox tools (bbox, polygon, line, point) as coordinates.

Which objects are masks: Labelbox puts an ``instanceURI`` (a rendering of the
object) on every object of an image export, boxes and points included. Like the
Labelbox SDK's v1 converter, an object is its geometry when it has one, and a
mask only when it has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_segtool.formats.labelbox_v1.common import _warn
from napari_segtool.formats.result import LabelsItem, ShapesItem


@dataclass
class OtherObject:
    """A non-mask object (bbox, polygon, line, point); coordinates are (row, column)."""

    kind: str  # "rectangle", "polygon", "path" or "point"
    coords: np.ndarray
    title: str
    schema_id: str
    feature_id: str
    color: str
    #: question title -> the answer as text, as the object's classifications hold it
    answers: dict[str, str] = field(default_factory=dict)


#: keys that make an object something other than a mask: the four geometries, a text
#: entity's location (``data``), a tiled-imagery GeoJSON geometry (``geometry``)
_NOT_MASK_KEYS = ("bbox", "polygon", "line", "point", "data", "geometry")


def is_mask_object(obj: dict[str, Any]) -> bool:
    """An object whose pixels are its ``instanceURI``: it has one and no geometry."""
    return "instanceURI" in obj and not any(key in obj for key in _NOT_MASK_KEYS)


def answers_text(classifications: Any) -> dict[str, str]:
    """v1 classifications as ``{question title: answer text}`` (options joined by ", ").

    For showing in a layer's features only: the objects themselves are kept as read.
    """
    shown: dict[str, str] = {}
    entries = classifications if isinstance(classifications, list) else []
    flat = [e for entry in entries for e in (entry if isinstance(entry, list) else [entry])]
    for entry in flat:
        if not isinstance(entry, dict):
            continue
        title = entry.get("title") or entry.get("value") or entry.get("schemaId")
        if not isinstance(title, str) or not title:
            continue
        chosen = entry.get("answers", entry.get("answer"))
        items = chosen if isinstance(chosen, list) else [chosen]
        texts = [_option_text(item) for item in items]
        text = ", ".join(t for t in texts if t)
        shown[title] = f"{shown[title]}, {text}" if title in shown and text else text
    return shown


def _option_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, list):  # an extra list around checklist answers
        return ", ".join(_option_text(i) for i in item)
    if isinstance(item, dict):
        value = item.get("title") or item.get("value") or ""
        return value if isinstance(value, str) else str(value)
    return "" if item is None else str(item)


#: fewest points a geometry needs to be drawn (a bbox and a point are checked by shape)
_MIN_POINTS = {"polygon": 3, "line": 2}


def _geometry(key: str, value: Any) -> np.ndarray | None:
    """v1 geometry as (row, column) coordinates; a bbox as its two corners.

    ``None`` for anything that is not finite numbers of the right shape.
    """
    try:
        if key == "bbox" and isinstance(value, dict):
            top, left = float(value["top"]), float(value["left"])
            coords = [[top, left], [top + float(value["height"]), left + float(value["width"])]]
        elif key == "point" and isinstance(value, dict):
            coords = [[float(value["y"]), float(value["x"])]]
        elif key in _MIN_POINTS and isinstance(value, list):
            coords = [[float(p["y"]), float(p["x"])] for p in value]
        else:
            return None
    except (KeyError, TypeError, ValueError, OverflowError):  # Overflow: an int past 1e308
        return None
    array = np.array(coords, dtype=float)
    if len(array) < _MIN_POINTS.get(key, 1) or not np.isfinite(array).all():
        return None
    return array


#: the v1 geometry key of each shape type
_KEY_OF = {"rectangle": "bbox", "polygon": "polygon", "path": "line", "point": "point"}


def _number(value: float) -> float | int:
    value = round(float(value), 3)
    return int(value) if value.is_integer() else value


def _v1_geometry(shape_type: str, coords: np.ndarray) -> tuple[str, Any] | None:
    """A shape's (row, column) coordinates as its v1 key and value (a box: its extent)."""
    key = _KEY_OF.get(shape_type)
    coords = np.asarray(coords, dtype=float).reshape(-1, 2)
    if key is None or not len(coords) or not np.isfinite(coords).all():
        return None
    if key == "bbox":
        (top, left), (bottom, right) = coords.min(axis=0), coords.max(axis=0)
        size = {"height": _number(bottom - top), "width": _number(right - left)}
        return key, {"top": _number(top), "left": _number(left), **size}
    points = [{"x": _number(col), "y": _number(row)} for row, col in coords]
    return key, points[0] if key == "point" else points


def _same_geometry(obj: dict[str, Any], key: str, value: Any) -> bool:
    old, new = _geometry(key, obj.get(key)), _geometry(key, value)
    return old is not None and new is not None and old.shape == new.shape and np.allclose(old, new)


def objects_after_layer_edits(
    path: str | Path,
    others: list[list[Any]],
    labels: Sequence[LabelsItem],
    shapes: Sequence[ShapesItem],
) -> list[list[Any]]:
    """:func:`edited_other_objects` for the items a writer of ``path`` was given; what
    it could not write is warned about, naming the file."""
    edited, notes = edited_other_objects(
        others,
        [
            (s.coords, s.shape_types, list(s.features.get("featureId", [])), s.read_ids)
            for s in shapes
        ],
        frozenset(i.feature_id for item in labels for i in item.document.instances.values()),
    )
    for note in notes:
        _warn(f"{Path(path).name}: {note}")
    return edited


def edited_other_objects(
    others: list[list[Any]],
    layers: list[tuple[list[np.ndarray], list[str], list[Any], tuple[str, ...]]],
    instance_ids: frozenset[str] = frozenset(),
) -> tuple[list[list[Any]], list[str]]:
    """Each row's objects of other tools with the edits of the shapes/points layers saved along.

    ``others`` holds each row's objects as read; ``layers`` one ``(coords,
    shape_types, featureIds, featureIds shown when read)`` per layer. An object is
    matched by its featureId: moved or reshaped, its geometry is rewritten (the rest
    of it as read); one a layer showed when read and no layer holds now was deleted.
    Objects of layers not given, and unchanged ones, stay as read. Shapes without a
    known featureId are not written (said in the notes returned); outlines of
    instances (featureIds in ``instance_ids``) are the instances' own.
    """
    where: dict[str, tuple[int, int]] = {}
    for r, objects in enumerate(others):
        for n, obj in enumerate(objects):
            if isinstance(obj, dict) and isinstance(obj.get("featureId"), str):
                where.setdefault(obj["featureId"], (r, n))
    edited = [list(objects) for objects in others]
    present: set[str] = set()
    shown: set[str] = set()
    unknown = 0
    for coords, shape_types, feature_ids, read_ids in layers:
        shown.update(read_ids)
        for shape, shape_type, feature_id in zip(coords, shape_types, feature_ids, strict=False):
            found = where.get(feature_id) if isinstance(feature_id, str) else None
            geometry = _v1_geometry(shape_type, shape)
            if found is None or geometry is None:
                unknown += feature_id not in instance_ids
                continue
            present.add(feature_id)
            (r, n), (key, value) = found, geometry
            obj = edited[r][n]
            if key in obj and not _same_geometry(obj, key, value):
                edited[r][n] = {**obj, key: value}
    gone = (shown - present) & set(where)
    edited = [
        [o for o in objects if not (isinstance(o, dict) and o.get("featureId") in gone)]
        for objects in edited
    ]
    notes = []
    if unknown:
        notes.append(
            f"{unknown} shape(s) or point(s) drawn in napari (no featureId of the export) "
            "were not saved: the export keeps objects of other tools as they were read; draw "
            "instances in the segmentation layer"
        )
    return edited, notes
