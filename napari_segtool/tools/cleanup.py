"""Instance clean-up: fill holes, smooth, grow, shrink, drop small pieces, split.

Each operation reads only the instance's bounding box plus a margin (the
pixels the operation can reach) and returns the instance's new shape there;
:func:`cleanup_edits` turns the change into
:class:`~napari_segtool.tools.edit.ProposedEdit` objects for the painter:

- pixels the instance loses are erased with ``replaces={label}`` (only its
  own pixels);
- pixels it gains are painted with ``replaces={0}`` (background only: another
  instance's pixels are never taken), or, when the caller chooses to
  overwrite neighbours, with no ``replaces`` (then the painter's draw to back
  and locks decide, as for a brush stroke).

Dimensions
    ``axes`` names the axes an operation works in together: the two plane
    axes (per plane: every other index is cleaned on its own), or three axes
    of a volume (fill holes in 3-D closes a cavity that is open on no slice;
    pieces are connected in 3-D). Every other axis (T of a T x Z x Y x X
    stack) is always taken index by index.

Connectivity
    Pieces are connected through faces, edges and corners (8-connected in a
    plane, 26 in a volume); a hole is background not connected through faces
    to the outside of the box.

Distances are in pixels. Pixels on the image's edge are not eroded from that
side (the object may go on beyond it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import morphology

from napari_segtool.tools.edit import ERASE, ProposedEdit

FILL_HOLES = "fill_holes"
SMOOTH = "smooth"
GROW = "grow"
SHRINK = "shrink"
REMOVE_SMALL = "remove_small"
KEEP_LARGEST = "keep_largest"
SPLIT = "split"
#: every operation, in the order the panel shows them
OPERATIONS = (FILL_HOLES, SMOOTH, GROW, SHRINK, REMOVE_SMALL, KEEP_LARGEST, SPLIT)


@dataclass(frozen=True)
class CleanupOptions:
    #: smoothing radius (opening, then closing), pixels
    radius: int = 2
    #: grow / shrink distance, pixels
    distance: int = 1
    #: pieces smaller than this many pixels are removed
    min_size: int = 50
    #: grow into other instances' pixels too (the painter's draw to back still applies)
    overwrite: bool = False

    def __post_init__(self) -> None:
        for name in ("radius", "distance", "min_size"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)}")


def margin(operation: str, options: CleanupOptions) -> int:
    """How far beyond the instance's box ``operation`` can change pixels (plus one to see out)."""
    if operation == GROW:
        return int(options.distance) + 1
    if operation == SMOOTH:
        return int(options.radius) + 1
    return 1


def window(
    bbox: Sequence[slice], shape: Sequence[int], grow: int, axes: Sequence[int]
) -> tuple[slice, ...]:
    """``bbox`` widened by ``grow`` pixels along ``axes``, clipped to ``shape``."""
    axes = {int(a) % len(shape) for a in axes}
    return tuple(
        slice(max(0, s.start - grow), min(n, s.stop + grow)) if a in axes else s
        for a, (s, n) in enumerate(zip(bbox, shape, strict=True))
    )


def _per_block(mask: np.ndarray, axes: Sequence[int], function: Callable) -> np.ndarray:
    """``function`` applied to each block of ``mask`` spanning ``axes`` (others: one index)."""
    ndim = mask.ndim
    axes = [int(a) % ndim for a in axes]
    others = [a for a in range(ndim) if a not in axes]
    moved = np.moveaxis(mask, others + axes, range(ndim))
    flat = moved.reshape((-1, *moved.shape[len(others) :]))
    out = np.empty_like(flat)
    for i, block in enumerate(flat):
        out[i] = function(block) if block.any() else block
    out = out.reshape(moved.shape)
    return np.moveaxis(out, range(ndim), others + axes)


def _pieces(block: np.ndarray) -> tuple[np.ndarray, int]:
    return ndimage.label(block, structure=np.ones((3,) * block.ndim, dtype=bool))


def _ball(radius: int, ndim: int) -> np.ndarray:
    return morphology.disk(radius) if ndim == 2 else morphology.ball(radius)


def new_shape(
    values: np.ndarray,
    label: int,
    operation: str,
    options: CleanupOptions,
    axes: Sequence[int],
) -> np.ndarray:
    """The instance's mask after ``operation``, in the box ``values`` (a crop of the labels).

    Not for :data:`SPLIT` (see :func:`split_pieces`).
    """
    values = np.asarray(values)
    mask = values == label
    if operation == FILL_HOLES:
        return mask | _per_block(mask, axes, ndimage.binary_fill_holes)
    if operation == SMOOTH:
        radius = int(options.radius)
        if radius == 0:
            return mask

        def smooth(block):
            footprint = _ball(radius, block.ndim)
            opened = ndimage.binary_opening(block, footprint)
            # padded so that closing near the box's edge sees background beyond it
            padded = np.pad(opened, radius + 1)
            closed = ndimage.binary_closing(padded, footprint)
            return closed[tuple(slice(radius + 1, -radius - 1) for _ in block.shape)]

        return _per_block(mask, axes, smooth)
    if operation == GROW:
        return _grow(values, label, options, axes)
    if operation == SHRINK:
        distance = int(options.distance)
        if distance == 0:
            return mask
        return _per_block(mask, axes, lambda b: ndimage.distance_transform_edt(b) > distance)
    if operation == REMOVE_SMALL:
        return _per_block(mask, axes, lambda b: _drop_small(b, int(options.min_size)))
    if operation == KEEP_LARGEST:
        return _per_block(mask, axes, _keep_largest)
    raise ValueError(f"unknown clean-up operation {operation!r}; known: {', '.join(OPERATIONS)}")


def _grow(values, label, options, axes) -> np.ndarray:
    """Every pixel within ``distance`` of the instance reachable without crossing a neighbour."""
    mask = values == label
    distance = int(options.distance)
    if distance == 0:
        return mask
    free = np.ones_like(mask) if options.overwrite else (values == 0) | mask

    def grow(block_and_free):
        block, allowed = block_and_free[0], block_and_free[1]
        near = ndimage.distance_transform_edt(~block) <= distance
        # reachable from the instance through allowed pixels (stops at neighbours)
        structure = ndimage.generate_binary_structure(block.ndim, block.ndim)
        grown = ndimage.binary_propagation(block, structure=structure, mask=near & allowed)
        return np.stack([grown, allowed])

    # the instance and the free pixels go through the blocks together
    stacked = np.stack([mask, free])
    grown = _per_block(stacked, [0, *(int(a) % mask.ndim + 1 for a in axes)], grow)
    return grown[0]


def _drop_small(block: np.ndarray, min_size: int) -> np.ndarray:
    labels, _count = _pieces(block)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size
    keep[0] = False
    return keep[labels]


def _keep_largest(block: np.ndarray) -> np.ndarray:
    labels, count = _pieces(block)
    if count <= 1:
        return block
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def split_pieces(values: np.ndarray, label: int, axes: Sequence[int]) -> list[np.ndarray]:
    """The connected pieces of the instance in the box, largest first (masks of the box).

    Pieces are found in ``axes`` together; along other axes every index is on
    its own, so a piece there is the union of one piece number per index
    (ordered by size within each index).
    """
    mask = np.asarray(values) == label
    ndim = mask.ndim
    axes = [int(a) % ndim for a in axes]
    others = [a for a in range(ndim) if a not in axes]
    numbered = np.zeros(mask.shape, dtype=np.int32)
    moved_mask = np.moveaxis(mask, others + axes, range(ndim))
    moved_out = np.moveaxis(numbered, others + axes, range(ndim))  # a view: writes go through
    count = 0
    for index in np.ndindex(moved_mask.shape[: len(others)]):
        block = moved_mask[index]
        if not block.any():
            continue
        labels, n = _pieces(block)
        sizes = np.bincount(labels.ravel())[1:]
        order = np.argsort(-sizes, kind="stable")
        rank = np.zeros(n + 1, dtype=np.int32)
        rank[order + 1] = np.arange(1, n + 1)
        moved_out[index] = rank[labels]
        count = max(count, n)
    return [numbered == n for n in range(1, count + 1)]


def cleanup_edits(
    region: tuple[slice, ...],
    values: np.ndarray,
    label: int,
    shape: np.ndarray,
    overwrite: bool = False,
) -> list[ProposedEdit]:
    """Edits turning instance ``label`` in ``values`` (the box ``region``) into ``shape``."""
    mask = np.asarray(values) == label
    edits = []
    lost = mask & ~shape
    if lost.any():
        edits.append(ProposedEdit(region, lost, ERASE, replaces=frozenset({label})))
    gained = shape & ~mask
    if gained.any():
        replaces = None if overwrite else frozenset({0})
        edits.append(ProposedEdit(region, gained, label, replaces=replaces))
    return edits
