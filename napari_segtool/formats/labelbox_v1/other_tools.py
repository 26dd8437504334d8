"""Objects of other Labelbox tools (bbox, polygon, line, point) as coordinates.

Which objects are masks: Labelbox puts an ``instanceURI`` (a rendering of the
object) on every object of an image export, boxes and points included. Like the
Labelbox SDK's v1 converter, an object is its geometry when it has one, and a
mask only when it has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
