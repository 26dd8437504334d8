"""The straight line: napari's round brush swept along a segment.

The segment covers every pixel whose centre lies within the brush radius of
it, in the painted dimensions (napari's ``dims_to_paint``: the displayed
plane, or all of them in 3-D editing), at the plane of the end point in the
others. Endpoints are rounded like napari's brush centres and the radius is
napari's (``floor(size / 2) + 0.5`` in units of the finest painted axis), so
a zero-length segment is one dab.

A long diagonal would need a huge bounding box, so the segment is cut into
pieces of at most :data:`CHUNK_LENGTH` pixels, each its own
:class:`ProposedEdit`. A pixel belongs to the piece its nearest point on the
segment lies on: the pieces never overlap and together are the whole
capsule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_segtool.tools.edit import ProposedEdit

#: long segments are cut into pieces of this length (pixels)
CHUNK_LENGTH = 64.0


def brush_radius(brush_size: float) -> float:
    """napari's brush radius for a brush size (pixels of the finest painted axis)."""
    return float(np.floor(brush_size / 2) + 0.5)


def segment_edits(
    shape: Sequence[int],
    start: Sequence[float],
    end: Sequence[float],
    *,
    dims: Sequence[int],
    brush_size: float,
    label: int,
    scale: Sequence[float] | None = None,
    chunk_length: float = CHUNK_LENGTH,
) -> list[ProposedEdit]:
    """The pixels of a brush swept from ``start`` to ``end`` as edits writing ``label``.

    ``shape`` is the label array's shape; ``start`` and ``end`` are full data
    coordinates; ``dims`` the painted axes; ``scale`` the layer's scale along
    ``dims`` (anisotropic pixels make the brush an ellipse, as napari's).
    """
    shape = np.asarray(shape, dtype=int)
    dims = list(dims)
    plane = np.round(np.asarray(end, dtype=float)).astype(int)
    others = [d for d in range(len(shape)) if d not in dims]
    if any(not 0 <= plane[d] < shape[d] for d in others):
        return []  # the end lies outside the stack
    a = np.round(np.asarray(start, dtype=float)[dims])
    b = np.round(np.asarray(end, dtype=float)[dims])
    axis_scale = np.ones(len(dims)) if scale is None else np.abs(np.asarray(scale, dtype=float))
    axis_scale = axis_scale / axis_scale.min()
    radius = brush_radius(brush_size)
    reach = np.floor(radius / axis_scale).astype(int)
    bounds = shape[dims]
    pieces = max(1, int(np.ceil(np.max(np.abs(b - a)) / chunk_length)))
    edits = []
    for piece in range(pieces):
        p = a + (b - a) * (piece / pieces)
        q = a + (b - a) * ((piece + 1) / pieces)
        low = np.maximum(np.floor(np.minimum(p, q)).astype(int) - reach, 0)
        high = np.minimum(np.ceil(np.maximum(p, q)).astype(int) + reach + 1, bounds)
        if np.any(low >= high):
            continue
        mask = _capsule_piece(low, high, a, b, axis_scale, radius, piece, pieces)
        if not mask.any():
            continue
        region = [slice(int(c), int(c) + 1) for c in plane]
        for i, dim in enumerate(dims):
            region[dim] = slice(int(low[i]), int(high[i]))
        edits.append(ProposedEdit(tuple(region), _expand(mask, dims, len(shape)), label))
    return edits


def _capsule_piece(low, high, a, b, axis_scale, radius, piece, pieces) -> np.ndarray:
    """Pixels of the box [low, high) within ``radius`` of segment a-b whose nearest
    point on it falls in piece ``piece`` of ``pieces`` (distances in scaled space)."""
    grids = np.ogrid[tuple(slice(int(lo), int(hi)) for lo, hi in zip(low, high, strict=True))]
    direction = (b - a) * axis_scale
    length_sq = float(direction @ direction)
    offsets = [(grid - a[i]) * axis_scale[i] for i, grid in enumerate(grids)]
    if length_sq == 0:
        t = np.zeros(1)
    else:
        t = np.clip(sum(o * direction[i] for i, o in enumerate(offsets)) / length_sq, 0.0, 1.0)
    distance_sq = sum((o - t * direction[i]) ** 2 for i, o in enumerate(offsets))
    inside = np.asarray(distance_sq <= radius**2)
    if pieces > 1:
        inside &= np.minimum((t * pieces).astype(int), pieces - 1) == piece
    return np.broadcast_to(inside, tuple(int(h - lo) for lo, h in zip(low, high, strict=True)))


def _expand(mask: np.ndarray, dims: list[int], ndim: int) -> np.ndarray:
    """A mask over the painted axes with length-1 axes for the others, in axis order."""
    order = sorted(range(len(dims)), key=lambda i: dims[i])
    mask = np.transpose(mask, order)
    others = tuple(d for d in range(ndim) if d not in dims)
    return np.expand_dims(mask, others) if others else mask
