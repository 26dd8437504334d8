"""Polygon fill: the pixels whose centre lies inside an outline.

Vertices are ``(row, col)`` in the painted plane with pixel centres at
integer coordinates (napari's data coordinates). Rasterising is
scikit-image's ``draw.polygon`` (even-odd rule), so a polygon covers the same
pixels whichever box it is cut from. Several outlines combine into one edit:
the union of the filled ones minus the holes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from skimage.draw import polygon as draw_polygon

from napari_segtool.tools.edit import ProposedEdit, bounding_box


def polygon_pixels(
    vertices: np.ndarray, plane_shape: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the pixels inside ``vertices`` (clipped to the plane)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if len(vertices) < 3:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    return draw_polygon(vertices[:, 0], vertices[:, 1], shape=tuple(plane_shape))


def polygon_edit(
    shape: Sequence[int],
    outlines: Iterable[np.ndarray],
    *,
    label: int,
    holes: Iterable[np.ndarray] = (),
    dims: Sequence[int] | None = None,
    plane: Sequence[int] | None = None,
    replaces=None,
) -> ProposedEdit | None:
    """Fill ``outlines`` minus ``holes`` with ``label`` (None when no pixel is inside).

    ``shape`` is the label array's shape, ``dims`` its two painted axes
    (default: the last two) and ``plane`` the index along every other axis
    (a full data coordinate; only the other axes are read).
    """
    shape = tuple(int(n) for n in shape)
    dims = list(dims) if dims is not None else [len(shape) - 2, len(shape) - 1]
    if len(dims) != 2:
        raise ValueError(f"polygons fill a plane: two painted axes, not {dims}")
    plane_shape = (shape[dims[0]], shape[dims[1]])
    outlines = [np.asarray(o, dtype=np.float64).reshape(-1, 2) for o in outlines]
    window = _window(outlines, plane_shape)
    if window is None:
        return None
    origin = np.array([s.start for s in window])
    inside = np.zeros([s.stop - s.start for s in window], dtype=bool)
    for outline in outlines:
        inside[_in_window(polygon_pixels(outline, plane_shape), origin, inside.shape)] = True
    for hole in holes:
        inside[_in_window(polygon_pixels(hole, plane_shape), origin, inside.shape)] = False
    box = bounding_box(inside)
    if box is None:
        return None
    mask = inside[box]
    box = tuple(slice(b.start + o, b.stop + o) for b, o in zip(box, origin.tolist(), strict=True))
    plane = [0] * len(shape) if plane is None else [round(float(c)) for c in plane]
    region = [slice(plane[d], plane[d] + 1) for d in range(len(shape))]
    region[dims[0]], region[dims[1]] = box
    if dims[0] > dims[1]:
        mask = mask.T
    others = tuple(d for d in range(len(shape)) if d not in dims)
    if others:
        mask = np.expand_dims(mask, others)
    return ProposedEdit(tuple(region), mask, label, replaces)


def _window(outlines: list[np.ndarray], plane_shape: tuple[int, int]) -> tuple[slice, ...] | None:
    """The part of the plane the outlines' vertices span (every filled pixel is in it)."""
    outlines = [o for o in outlines if len(o) >= 3]
    if not outlines:
        return None
    vertices = np.concatenate(outlines)
    low = np.maximum(np.floor(vertices.min(axis=0)).astype(int), 0)
    high = np.minimum(np.ceil(vertices.max(axis=0)).astype(int) + 1, plane_shape)
    if np.any(low >= high):
        return None
    return tuple(slice(int(lo), int(hi)) for lo, hi in zip(low, high, strict=True))


def _in_window(pixels, origin: np.ndarray, window_shape) -> tuple[np.ndarray, np.ndarray]:
    """Plane indices -> indices into the window (pixels outside it dropped)."""
    rows, cols = pixels[0] - origin[0], pixels[1] - origin[1]
    keep = (rows >= 0) & (rows < window_shape[0]) & (cols >= 0) & (cols < window_shape[1])
    return rows[keep], cols[keep]
