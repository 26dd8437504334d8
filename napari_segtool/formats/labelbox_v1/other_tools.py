"""Objects of other Labelbox tools (bbox, polygon, line, point) as coordinates."""

from __future__ import annotations

from dataclasses import dataclass
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
