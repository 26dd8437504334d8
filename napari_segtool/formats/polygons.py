"""Instance masks to polygons (and back), working on bounding-box crops.

Pure: numpy, scipy.ndimage and scikit-image only (no Qt, no napari).

Coordinate convention
---------------------
Vertices are **pixel corners** in image coordinates: ``x`` is the column axis,
``y`` the row axis, the origin is the top-left corner of the top-left pixel,
so pixel ``(row r, col c)`` is the unit square ``[c, c + 1] x [r, r + 1]`` and
its centre is ``(c + 0.5, r + 0.5)``. This is the convention of COCO (its
``bbox`` of a one-pixel mask at the origin is ``[0, 0, 1, 1]`` and
``pycocotools`` rasterises these outlines back to exactly the same pixels) and
of image coordinates in the Labelbox editor, where the image spans
``[0, width] x [0, height]``.

Outlines follow the pixel edges ("crack following"), so with ``tolerance=0``:

* every vertex has integer coordinates, and only corners are kept (no
  collinear vertices);
* the polygon area equals the pixel count exactly;
* rasterising by pixel centres (:func:`polygons_to_mask`, ``pycocotools``)
  gives back exactly the same pixels, for **every** shape: thin lines, single
  pixels, holes, pixels touching only at a corner.

The Labelbox SDK traces differently (``cv2.findContours``): its vertices are
the centres of the boundary pixels, i.e. roughly our outline moved half a
pixel inwards, and its area is smaller than the pixel count. Its own
``Polygon.draw`` (``cv2.fillPoly`` on integer-truncated vertices, boundary
included) fills one extra column on the right and one extra row at the bottom
of our outlines; see :func:`labelbox_polygons`.

Topology
--------
An instance is split into **4-connected** components: pixels that touch only
at a corner are separate polygons (which then share one vertex). A hole is a
4-connected background region that the component encloses; a hole may touch
its exterior ring or another hole at a single vertex. These are exactly the
rules of valid OGC / shapely (multi)polygons, so no ring ever touches itself.

Rings are ``(N, 2)`` float arrays of ``(x, y)``, open (the first vertex is not
repeated). Exterior rings have a positive shoelace area in ``(x, y)`` (they
run clockwise on screen, where ``y`` points down); holes have a negative one.

Simplification (``tolerance > 0``, in pixels) runs Douglas-Peucker
(:func:`skimage.measure.approximate_polygon`) on the line through the
midpoints of the outline's unit edges, not on its corners: a staircase's
corners sit half a pixel off the smooth shape, alternately in and out, so
keeping some of them biases the result, while the midpoints lie on it. Per
vertex kept this is markedly closer to the mask (a 160-pixel ellipse: 27
vertices at IoU 0.993 instead of 31 at 0.989). Coordinates are then multiples
of 0.5. A ring that would collapse to fewer than three vertices or no area
keeps its exact outline (pixels are never dropped silently). Simplified
polygons are approximations and, at large tolerances, may self-intersect.

Speed
-----
The label store (:mod:`napari_segtool.model.label_store`) gives every
instance's bounding box in one pass over the image, whatever the id values;
each instance is then traced inside its own crop. Tracing an
instance never touches the rest of the image.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.draw import polygon as draw_polygon
from skimage.measure import approximate_polygon

from napari_segtool.model.label_store import label_store

#: 4-connectivity ("edge neighbours"), for both objects and holes
CROSS = ndimage.generate_binary_structure(2, 1)

# direction codes of a boundary vertex's outgoing edge
_EAST, _SOUTH, _WEST, _NORTH = 1, 2, 3, 4


@dataclass(frozen=True, eq=False)
class Polygon:
    """One 4-connected component of an instance: an exterior ring and its holes."""

    exterior: np.ndarray
    holes: tuple[np.ndarray, ...] = ()

    @property
    def area(self) -> float:
        """Enclosed area in pixels (exterior minus holes)."""
        return ring_area(self.exterior) + sum(ring_area(hole) for hole in self.holes)

    @property
    def rings(self) -> tuple[np.ndarray, ...]:
        return (self.exterior, *self.holes)

    def bounds(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` of the exterior ring."""
        (x_min, y_min), (x_max, y_max) = self.exterior.min(axis=0), self.exterior.max(axis=0)
        return float(x_min), float(y_min), float(x_max), float(y_max)

    def translated(self, dx: float, dy: float) -> Polygon:
        shift = np.array([dx, dy], dtype=np.float64)
        return Polygon(self.exterior + shift, tuple(hole + shift for hole in self.holes))


def ring_area(ring: np.ndarray) -> float:
    """Signed shoelace area of a ring of ``(x, y)`` vertices (exteriors positive)."""
    x, y = ring[:, 0], ring[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


# -- masks to polygons ------------------------------------------------------------------
def mask_polygons(
    mask: np.ndarray, tolerance: float = 0.0, offset: tuple[float, float] = (0.0, 0.0)
) -> list[Polygon]:
    """Polygons of a 2D boolean mask, one per 4-connected component.

    ``offset`` is ``(x, y)`` added to every vertex: the crop's column and row
    when ``mask`` is a crop of a larger image. Components come in the order of
    their top-left pixel (row-major).
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2D mask, got {mask.ndim} dimensions")
    components, count = ndimage.label(mask, structure=CROSS)
    polygons: list[Polygon] = []
    for index, window in enumerate(ndimage.find_objects(components), start=1):
        if window is None:
            continue
        component = components[window] == index
        dy, dx = window[0].start + offset[1], window[1].start + offset[0]
        polygons.append(_component_polygon(component, tolerance).translated(dx, dy))
    return polygons


def instance_polygons(
    labels: np.ndarray,
    label_ids: Iterable[int] | None = None,
    tolerance: float = 0.0,
) -> dict[int, list[Polygon]]:
    """Polygons of every instance (or of ``label_ids``) of a 2D label image.

    One pass over the image finds all bounding boxes; each instance is traced
    in its crop. Ids with no pixels are left out of the result.
    """
    store = label_store(labels)  # a chunked array is read box by box, never whole
    boxes = bounding_boxes(store, label_ids)
    return {
        label_id: mask_polygons(
            store.mask_of(label_id, box), tolerance, offset=(box[1].start, box[0].start)
        )
        for label_id, box in boxes.items()
    }


def bounding_boxes(
    labels: np.ndarray, label_ids: Iterable[int] | None = None
) -> dict[int, tuple[slice, slice]]:
    """``label id -> (row slice, column slice)`` for the ids present (background 0 left out)."""
    store = label_store(labels)
    if store.ndim != 2:
        raise ValueError(f"expected a 2D label image, got {store.ndim} dimensions")
    # negative ids are background here, like 0
    wanted = None if label_ids is None else [int(i) for i in label_ids if int(i) > 0]
    if wanted == []:
        return {}
    return {i: box for i, box in store.bounding_boxes(wanted).items() if i > 0}


def labelbox_polygons(
    labels: np.ndarray,
    label_id: int,
    bbox: tuple[slice, slice] | None = None,
    tolerance: float = 0.0,
) -> list[list[dict[str, float]]]:
    """One instance as Labelbox polygon-tool points: one ``[{"x", "y"}, ...]`` per component.

    The Labelbox polygon tool has no holes, so a hole is **not represented**:
    each polygon is its component's exterior ring and covers the holes. Export
    the mask too when holes matter. Points are pixel corners (see the module
    docstring; integers at ``tolerance=0``), the ring is open (first point not
    repeated); there is one list per 4-connected component, in row-major order
    of each component's top-left pixel.

    ``bbox`` is the instance's ``(row slice, column slice)`` as given by
    ``scipy.ndimage.find_objects`` (or :func:`bounding_boxes`); without it the
    whole image is scanned once to find it. Returns ``[]`` when the instance has
    no pixels.
    """
    store = label_store(labels)
    if bbox is None:
        bbox = bounding_boxes(store, [label_id]).get(int(label_id))
        if bbox is None:
            return []
    rows, cols = bbox
    crop = store.mask_of(label_id, (rows, cols))
    polygons = mask_polygons(crop, tolerance, offset=(cols.start or 0, rows.start or 0))
    return [
        [{"x": float(x), "y": float(y)} for x, y in polygon.exterior.tolist()]
        for polygon in polygons
    ]


def _component_polygon(component: np.ndarray, tolerance: float) -> Polygon:
    """Exterior and holes of one 4-connected component (a tight boolean crop)."""
    # the background, 4-connected, in a one-pixel frame: the region touching
    # the frame is the outside, every other region is a hole
    background, count = ndimage.label(np.pad(~component, 1, constant_values=True), CROSS)
    if count == 1:
        return Polygon(_simplify(_trace_region(component), tolerance))
    outside = background[0, 0]
    filled = (background != outside)[1:-1, 1:-1]
    exterior = _simplify(_trace_region(filled), tolerance)
    holes: list[np.ndarray] = []
    for index, window in enumerate(ndimage.find_objects(background), start=1):
        if window is None or index == outside:
            continue
        ring = _trace_region(background[window] == index)[::-1]
        # background is framed by one pixel: shift back into the component's crop
        ring = ring + np.array([window[1].start - 1, window[0].start - 1], dtype=np.float64)
        holes.append(_simplify(ring, tolerance))
    return Polygon(exterior, tuple(holes))


def _trace_region(region: np.ndarray) -> np.ndarray:
    """The pixel-edge outline of a 4-connected region without holes, as corners.

    Such a region has no "saddle" vertex (two diagonal pixels in, two out), so
    every boundary vertex has exactly one outgoing edge and the corners form a
    single ring. Vertex ``(x, y)`` is the top-left corner of pixel ``(y, x)``.
    """
    padded = np.pad(region, 1)
    nw, ne = padded[:-1, :-1], padded[:-1, 1:]
    sw, se = padded[1:, :-1], padded[1:, 1:]
    inside = nw.astype(np.uint8) + ne + sw + se
    corners = (inside == 1) | (inside == 3)
    ys, xs = np.nonzero(corners)  # row-major: sorted by y, then x
    if len(ys) < 4:
        raise ValueError("cannot trace an empty region")
    # walk with the region on the right (on screen): the exterior's shoelace
    # area in (x, y) is then positive
    direction = np.select(
        [se & ~ne, sw & ~se, nw & ~sw, ne & ~nw],
        [_EAST, _SOUTH, _WEST, _NORTH],
        0,
    )[ys, xs]
    count = len(ys)
    index = np.arange(count)
    # the next corner along a horizontal edge is the neighbour in row-major
    # order; along a vertical edge, the neighbour in column-major order
    by_column = np.lexsort((ys, xs))
    rank_in_column = np.empty(count, dtype=np.intp)
    rank_in_column[by_column] = index
    successor = np.full(count, -1, dtype=np.intp)
    successor[direction == _EAST] = index[direction == _EAST] + 1
    successor[direction == _WEST] = index[direction == _WEST] - 1
    south, north = direction == _SOUTH, direction == _NORTH
    successor[south] = by_column[rank_in_column[south] + 1]
    successor[north] = by_column[rank_in_column[north] - 1]
    if (successor < 0).any():
        raise ValueError("the region has a saddle vertex: it is not 4-connected and hole-free")
    step = successor.tolist()
    order = [0]
    current = step[0]
    while current != 0:
        order.append(current)
        if len(order) > count:
            raise ValueError("the region's outline does not close")
        current = step[current]
    if len(order) != count:
        raise ValueError("the region's outline has more than one ring")
    return np.column_stack((xs[order], ys[order])).astype(np.float64)


def _simplify(ring: np.ndarray, tolerance: float) -> np.ndarray:
    if tolerance <= 0:
        return ring
    midpoints = _edge_midpoints(ring)
    simplified = approximate_polygon(np.vstack((midpoints, midpoints[:1])), tolerance)[:-1]
    if len(simplified) < 3 or ring_area(simplified) == 0:
        return ring
    return simplified


def _edge_midpoints(ring: np.ndarray) -> np.ndarray:
    """The midpoint of every unit edge of an exact (axis-aligned, integer) ring, in order."""
    edges = np.roll(ring, -1, axis=0) - ring
    lengths = np.abs(edges).sum(axis=1).astype(np.intp)
    directions = edges / lengths[:, None]
    starts = np.repeat(ring, lengths, axis=0)
    steps = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return starts + np.repeat(directions, lengths, axis=0) * (steps[:, None] + 0.5)


# -- polygons to masks ------------------------------------------------------------------
def polygons_to_mask(polygons: Sequence[Polygon], shape: tuple[int, int]) -> np.ndarray:
    """Rasterise by pixel centres: a pixel is set when its centre is inside a polygon.

    Each polygon is its exterior minus its holes; polygons are united. Parts
    outside ``shape`` are clipped.
    """
    mask = np.zeros(shape, dtype=bool)
    for polygon in polygons:
        piece = _ring_pixels(polygon.exterior, shape)
        if piece is None:
            continue
        window, fill = piece
        for hole in polygon.holes:
            hole_piece = _ring_pixels(hole, shape)
            if hole_piece is not None:
                hole_window, hole_fill = hole_piece
                # the hole's pixels, cut to the exterior's window
                rows = slice(
                    max(window[0].start, hole_window[0].start),
                    min(window[0].stop, hole_window[0].stop),
                )
                cols = slice(
                    max(window[1].start, hole_window[1].start),
                    min(window[1].stop, hole_window[1].stop),
                )
                if rows.start < rows.stop and cols.start < cols.stop:
                    fill[
                        rows.start - window[0].start : rows.stop - window[0].start,
                        cols.start - window[1].start : cols.stop - window[1].start,
                    ] &= ~hole_fill[
                        rows.start - hole_window[0].start : rows.stop - hole_window[0].start,
                        cols.start - hole_window[1].start : cols.stop - hole_window[1].start,
                    ]
        mask[window] |= fill
    return mask


def ring_to_mask(ring: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre is inside one ring of ``(x, y)`` vertices (even-odd rule)."""
    mask = np.zeros(shape, dtype=bool)
    piece = _ring_pixels(np.asarray(ring, dtype=np.float64), shape)
    if piece is not None:
        window, fill = piece
        mask[window] = fill
    return mask


def _ring_pixels(
    ring: np.ndarray, shape: tuple[int, int]
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """A ring rasterised in its own window of the image (``None`` when outside)."""
    if len(ring) < 3:
        return None
    height, width = shape
    x_min, y_min = np.floor(ring.min(axis=0)).astype(int)
    x_max, y_max = np.ceil(ring.max(axis=0)).astype(int)
    r0, r1 = max(0, y_min), min(height, y_max + 1)
    c0, c1 = max(0, x_min), min(width, x_max + 1)
    if r0 >= r1 or c0 >= c1:
        return None
    # in skimage's index space a pixel centre is an integer point: shift by half a pixel
    rows = ring[:, 1] - 0.5 - r0
    cols = ring[:, 0] - 0.5 - c0
    fill = np.zeros((r1 - r0, c1 - c0), dtype=bool)
    rr, cc = draw_polygon(rows, cols, shape=fill.shape)
    fill[rr, cc] = True
    return (slice(r0, r1), slice(c0, c1)), fill


# -- COCO polygon lists ---------------------------------------------------------------
def coco_polygon(polygon: Polygon) -> list[float]:
    """A polygon as one flat COCO ``[x0, y0, x1, y1, ...]`` list, holes included.

    COCO polygons have no holes, and ``pycocotools`` unites the lists of one
    annotation, so holes cannot be separate lists. They are joined to the
    exterior instead by zero-width "keyhole" bridges: the exterior, back to its
    first vertex, to a point of a hole, around the hole, back, and so on. Each
    bridge is traversed once in each direction, so under the even-odd rule of
    polygon rasterisers it adds no pixels and the hole stays empty.

    Rasterisers sample pixel centres, and one lying exactly on a bridge could
    be counted as inside; so each bridge ends at a point of the hole chosen for
    a bridge that passes through no pixel centre (for exact outlines one always
    exists, a point inside a hole edge if no vertex fits). With ``tolerance=0``
    the list rasterises back to exactly the instance's pixels, holes included
    (checked with ``pycocotools``).
    """
    if not polygon.holes:
        return polygon.exterior.ravel().tolist()
    anchor = polygon.exterior[:1]
    parts = [polygon.exterior, anchor]
    for hole in polygon.holes:
        hole = _start_for_bridge(hole, anchor[0])
        parts.extend((hole, hole[:1], anchor))
    return np.concatenate(parts).ravel().tolist()


def _start_for_bridge(ring: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """``ring`` rotated (or given an extra point on an edge) to start where a
    straight bridge from ``anchor`` passes through no pixel centre."""
    for index in range(len(ring)):
        if _bridge_is_clear(anchor, ring[index]):
            return np.roll(ring, -index, axis=0)
    # exact rings: a unit step into an axis-aligned edge changes the parity of
    # x + y, which is what a clear bridge between lattice points needs
    edges = np.roll(ring, -1, axis=0) - ring
    for index in np.flatnonzero((edges == 0).sum(axis=1) == 1):
        if np.abs(edges[index]).sum() < 2:
            continue
        point = ring[index] + np.sign(edges[index])
        if _bridge_is_clear(anchor, point):
            rotated = np.roll(ring, -int(index), axis=0)
            return np.vstack((point, rotated[1:], rotated[:1]))
    return ring  # off the half-pixel lattice (never from our tracer): an approximation anyway


def _bridge_is_clear(start: np.ndarray, end: np.ndarray) -> bool:
    """Does the segment miss every pixel centre ``(c + 0.5, r + 0.5)``?

    On the half-pixel lattice (coordinates that are multiples of 0.5) this is
    exact arithmetic: doubled, the centres are the points with both
    coordinates odd, and the lattice points of a segment are evenly spaced.
    """
    doubled = np.array([start, end], dtype=np.float64) * 2
    if not np.array_equal(doubled, np.round(doubled)):
        return True  # not on the lattice: a centre can only be hit by accident
    a, b = doubled.astype(np.int64)
    step = b - a
    count = math.gcd(int(abs(step[0])), int(abs(step[1])))
    if count <= 1:
        return True
    inner = a + np.outer(np.arange(1, count), step // count)
    return not np.any((inner[:, 0] % 2 == 1) & (inner[:, 1] % 2 == 1))
