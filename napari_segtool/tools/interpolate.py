"""Interpolate an instance between the slices it is drawn on (shape interpolation).

An instance drawn on slices 10 and 20 of an axis (Z of a stack, T of a
time-lapse) is filled in on slices 11 to 19: each annotated slice's shape is
turned into a signed distance map (negative inside, positive outside; the
distance to the nearest pixel on the other side of the outline, from
:func:`scipy.ndimage.distance_transform_edt`), the maps of two consecutive
annotated slices are blended linearly along the axis, and a slice in between
gets the pixels where the blend is negative. Slice 10 and 20 come out as
they are; a disk of radius 10 and one of radius 20 give radius 15 halfway.

Only the instance's bounding box is read and computed: an interpolated
pixel lies inside one of the two shapes, and a one-pixel margin of
background round their box gives the same distances as the whole plane, so
the result equals that of distance maps of whole planes.

Along every other non-displayed axis (Z while interpolating along T in a
T x Z x Y x X stack) each index is interpolated on its own. The result is a
:class:`~napari_segtool.tools.edit.ProposedEdit` with no ``replaces``: the
painter applies locks and draw to back to it as to a brush stroke.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from napari_segtool.tools.edit import ProposedEdit, bounding_box


def interpolate(
    data,
    label: int,
    axis: int,
    plane_axes: Sequence[int],
    *,
    sampling: Sequence[float] | None = None,
    bbox: tuple[slice, ...] | None = None,
) -> ProposedEdit | None:
    """The edit filling ``label`` between its annotated slices along ``axis``.

    ``data``: the label array (read by slicing only). ``plane_axes``: the
    axes of a slice (the displayed ones). ``sampling``: pixel spacing along
    ``plane_axes`` (the layer's scale), for distances in anisotropic planes.
    ``bbox``: the instance's bounding box if known (else found by one pass
    over ``data``). ``None`` when there is no gap to fill.
    """
    shape = tuple(data.shape)
    ndim = len(shape)
    plane_axes = tuple(int(a) % ndim for a in plane_axes)
    axis = int(axis) % ndim
    if axis in plane_axes or len(set(plane_axes)) != len(plane_axes) or not plane_axes:
        raise ValueError(f"cannot interpolate along axis {axis} with plane axes {plane_axes}")
    if sampling is not None and len(sampling) != len(plane_axes):
        raise ValueError(f"sampling {tuple(sampling)} needs one spacing per plane axis")
    if bbox is None:
        bbox = bounding_box(np.asarray(data) == label)
        if bbox is None:
            return None
    others = [a for a in range(ndim) if a != axis and a not in plane_axes]
    if bbox[axis].stop - bbox[axis].start < 3:
        return None
    # a one-pixel margin in the plane (where the image has room for it)
    region = list(bbox)
    for a in plane_axes:
        region[a] = slice(max(0, bbox[a].start - 1), min(shape[a], bbox[a].stop + 1))
    region = tuple(region)
    inside = np.asarray(data[region]) == label
    order = [axis, *others, *plane_axes]
    moved = np.transpose(inside, order)
    fill = np.zeros(moved.shape, dtype=bool)
    for index in np.ndindex(*moved.shape[1 : 1 + len(others)]):
        key = (slice(None), *index)
        _fill_gaps(moved[key], fill[key], sampling)
    fill = np.transpose(fill, np.argsort(order))
    if not fill.any():
        return None
    return ProposedEdit(region, fill, label)


def _fill_gaps(column: np.ndarray, out: np.ndarray, sampling) -> None:
    """Fill ``out[k]`` for the empty slices ``k`` of ``column`` between two drawn ones.

    ``column``: the instance's pixels, slices along the first axis, with the
    one-pixel margin round them wherever the image has room for it.
    """
    drawn = np.flatnonzero(column.reshape(column.shape[0], -1).any(axis=1))
    for low, high in itertools.pairwise(drawn):
        if high - low < 2:
            continue
        box = tuple(
            slice(max(0, s.start - 1), min(n, s.stop + 1))
            for s, n in zip(bounding_box(column[low] | column[high]), column.shape[1:], strict=True)
        )
        first = signed_distance(column[low][box], sampling)
        last = signed_distance(column[high][box], sampling)
        for k in range(low + 1, high):
            t = (k - low) / (high - low)
            out[k][box] = (1.0 - t) * first + t * last < 0


def signed_distance(mask: np.ndarray, sampling: Sequence[float] | None = None) -> np.ndarray:
    """Negative inside ``mask``, positive outside: the distance to the other side."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("the signed distance of an empty shape is undefined")
    outside = ndimage.distance_transform_edt(~mask, sampling=sampling)
    if mask.all():
        return np.full(mask.shape, -np.inf)  # no outline in the box: inside everywhere
    inside = ndimage.distance_transform_edt(mask, sampling=sampling)
    return outside - inside
