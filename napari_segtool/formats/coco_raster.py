"""COCO polygons to pixels, exactly as ``pycocotools`` rasterises them (``annToMask``).

``pycocotools`` (``rleFrPoly``) scales a polygon by 5 and rounds its vertices
to that finer grid (C's ``(int)(5 * v + 0.5)``, truncating towards zero), walks
every edge point by point on that grid, and where the walk crosses the centre
line of a pixel column (fine ``x`` = 5 k + 2) it toggles the mask at the row
``ceil((y_fine - 2) / 5)`` (clamped to the image). Every rounding happens in
image coordinates: moving a polygon into its bounding box in floating point
first moves some vertices across those rounding boundaries.

This module follows the same arithmetic but computes only the crossings
instead of walking every point of every edge, so the cost grows with the
columns an outline crosses, not with its length: a vertex far outside the
image costs nothing extra, and no full-size mask is ever built. ``pycocotools``
is not needed (it stays the reference in the tests).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: the finer grid pycocotools walks polygon edges on
SCALE = 5
#: ``pycocotools`` keeps fine coordinates in C ints: beyond this they overflow there, and
#: rings reaching further are first cut to this box (far outside any image)
FINE_LIMIT = 4.0e8


def polygon_toggles(polygon: Sequence[float], shape: tuple[int, int]) -> np.ndarray:
    """Column-major positions (``x * height + y``) where the polygon's mask toggles.

    The mask is inside between the first and second toggle, the third and
    fourth, and so on (an odd last one runs to the end of the image): that is
    ``pycocotools``' RLE of the polygon, before its runs are counted.
    """
    height, width = shape
    ring = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if np.abs(ring).max(initial=0.0) > FINE_LIMIT:
        ring = _clip_ring(ring, FINE_LIMIT)
        if len(ring) < 2:
            return np.zeros(0, np.int64)
    fine = np.trunc(SCALE * ring + 0.5)  # C's (int) cast: towards zero
    start_x, start_y = fine[:, 0], fine[:, 1]
    end_x, end_y = np.roll(start_x, -1), np.roll(start_y, -1)
    dx, dy = np.abs(end_x - start_x), np.abs(end_y - start_y)
    along_x = dx >= dy
    # pycocotools walks each edge from its lower end (along its longer axis); the points
    # it visits do not depend on the direction, only their order does, and only the
    # crossings between neighbours matter
    flip = np.where(along_x, start_x > end_x, start_y > end_y)
    low_x = np.where(flip, end_x, start_x)
    low_y = np.where(flip, end_y, start_y)
    high_x = np.where(flip, start_x, end_x)
    high_y = np.where(flip, start_y, end_y)
    moving = (dx > 0) | (dy > 0)
    columns_x, rows_x = _crossings_along_x(
        low_x[along_x & moving], low_y[along_x & moving], high_y[along_x & moving],
        dx[along_x & moving], width,
    )  # fmt: skip
    steep = ~along_x & moving
    columns_y, rows_y = _crossings_along_y(
        low_x[steep], high_x[steep], low_y[steep], dy[steep], width
    )
    columns = np.concatenate([columns_x, columns_y])
    fine_rows = np.concatenate([rows_x, rows_y])
    rows = np.ceil(np.clip((fine_rows + 0.5) / SCALE - 0.5, 0, height))
    return np.sort(columns.astype(np.int64) * height + rows.astype(np.int64))


def _crossings_along_x(low_x, low_y, high_y, dx, width):
    """Column crossings of edges walked along x: ``(column, fine y)`` per crossing.

    The walk visits ``x = low_x + t`` for ``t = 0..dx`` with ``y`` rounded from
    the straight line; between ``t - 1`` and ``t`` it crosses column ``n`` when
    ``low_x + t - 1 == 5 n + 2``.
    """
    first = np.maximum(np.ceil((low_x - 2) / SCALE), 0)
    last = np.minimum(np.floor((low_x + dx - 3) / SCALE), width - 1)
    edge, column = _expand(first, last)
    if edge.size == 0:
        return column, column
    step = (high_y[edge] - low_y[edge]) / dx[edge]
    t = SCALE * column + 3 - low_x[edge]
    before = np.trunc(low_y[edge] + step * (t - 1) + 0.5)
    after = np.trunc(low_y[edge] + step * t + 0.5)
    return column, np.minimum(before, after)


def _crossings_along_y(low_x, high_x, low_y, dy, width):
    """Column crossings of edges walked along y (steeper than 45 degrees).

    The walk visits ``y = low_y + t`` with ``x`` rounded from the line; ``x``
    moves by at most one per step, monotonically, so each column centre it
    passes is crossed once: the step is found from the line and confirmed with
    the very same rounding.
    """
    step = (high_x - low_x) / dy

    def walk_x(index, t):
        return np.trunc(low_x[index] + step[index] * t + 0.5)

    everywhere = np.arange(len(dy))
    x_first, x_last = walk_x(everywhere, 0), walk_x(everywhere, dy)
    rising = x_last >= x_first
    # crossing column n means moving between fine x 5n+2 and 5n+3
    lowest, highest = np.minimum(x_first, x_last), np.maximum(x_first, x_last)
    first = np.maximum(np.ceil((lowest - 2) / SCALE), 0)
    last = np.minimum(np.floor((highest - 3) / SCALE), width - 1)
    edge, column = _expand(first, last)
    if edge.size == 0:
        return column, column
    edge_step, edge_rising = step[edge], rising[edge]
    # the first t past the crossing: x >= 5n+3 (rising) or x <= 5n+2 (falling)
    target = SCALE * column + 2.5 - low_x[edge]
    estimate = np.where(edge_rising, np.ceil(target / edge_step), np.floor(target / edge_step) + 1)
    # the estimate is off by far less than a step (t < 1e9, float64): one either side
    not_yet = np.zeros(edge.shape, np.int64)
    for delta in (-1, 0, 1):
        x = walk_x(edge, estimate + delta)
        passed = np.where(edge_rising, x >= SCALE * column + 3, x <= SCALE * column + 2)
        not_yet += ~passed
    t = np.clip(estimate - 1 + not_yet, 1, dy[edge])
    return column, low_y[edge] + t - 1


def _expand(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(edge, n)`` with ``first[edge] <= n <= last[edge]``."""
    counts = np.maximum(last - first + 1, 0).astype(np.int64)
    total = int(counts.sum())
    edge = np.repeat(np.arange(len(counts)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return edge, first[edge] + offsets


def toggle_pixels(toggles: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Column-major indices of the pixels inside sorted toggle positions (even-odd)."""
    height, width = shape
    if len(toggles) % 2:
        toggles = np.append(toggles, height * width)
    starts, ends = toggles[0::2], toggles[1::2]
    return interval_pixels(starts, ends)


def interval_pixels(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Every index in the half-open intervals ``[starts[i], ends[i])`` (empty ones allowed)."""
    lengths = np.maximum(ends - starts, 0)
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    total = int(lengths.sum())
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def coco_polygons_pixels(
    polygons: Sequence[Sequence[float]], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of an annotation's polygons: their union, as ``annToMask`` gives."""
    height, _ = shape
    parts = [toggle_pixels(polygon_toggles(polygon, shape), shape) for polygon in polygons]
    linear = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))
    cols, rows = np.divmod(linear, height)
    return rows, cols


def _clip_ring(ring: np.ndarray, limit: float) -> np.ndarray:
    """``ring`` cut to the square ``[-limit, limit]`` (Sutherland-Hodgman).

    Only for vertices no image reaches (a hostile ``1e308``): the inside of
    the ring within the square is kept, without overflow on the way.
    """
    points = ring
    for axis in (0, 1):
        for bound, keep_below in ((-limit, False), (limit, True)):
            if len(points) == 0:
                return points
            inside = points[:, axis] <= bound if keep_below else points[:, axis] >= bound
            previous = np.roll(points, 1, axis=0)
            previous_inside = np.roll(inside, 1)
            kept: list[np.ndarray] = []
            for point, before, point_in, before_in in zip(
                points, previous, inside, previous_inside, strict=True
            ):
                if point_in != before_in:  # the edge crosses the bound: keep the crossing
                    # in halves and as a convex combination: no overflow even at 1e308
                    t = (bound / 2 - before[axis] / 2) / (point[axis] / 2 - before[axis] / 2)
                    crossing = (1 - t) * before + t * point
                    crossing[axis] = bound
                    kept.append(crossing)
                if point_in:
                    kept.append(point)
            points = np.array(kept, dtype=np.float64).reshape(-1, 2)
    return points
