"""Shape interpolation between slices: signed distance maps blended along an axis."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_segtool.tools.interpolate import interpolate, signed_distance


def disk(shape, centre, radius):
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def full_plane_reference(stack: np.ndarray, label: int, low: int, high: int) -> np.ndarray:
    """The textbook computation: distance maps of whole planes, blended per slice."""
    out = np.zeros(stack.shape, dtype=bool)
    first, last = stack[low] == label, stack[high] == label
    sdf_first = ndimage.distance_transform_edt(~first) - ndimage.distance_transform_edt(first)
    sdf_last = ndimage.distance_transform_edt(~last) - ndimage.distance_transform_edt(last)
    for k in range(low + 1, high):
        t = (k - low) / (high - low)
        out[k] = (1 - t) * sdf_first + t * sdf_last < 0
    return out


def test_two_disks_give_the_full_plane_result_and_a_middle_radius():
    stack = np.zeros((12, 80, 90), dtype=np.uint16)
    stack[1][disk((80, 90), (40, 45), 10)] = 3
    stack[11][disk((80, 90), (40, 45), 20)] = 3
    stack[5][disk((80, 90), (5, 5), 3)] = 9  # another instance: ignored
    edit = interpolate(stack, 3, axis=0, plane_axes=(1, 2))
    assert edit.label == 3 and edit.replaces is None
    filled = edit.full_mask(stack.shape)
    np.testing.assert_array_equal(filled, full_plane_reference(stack, 3, 1, 11))
    assert not filled[1].any() and not filled[11].any() and not filled[0].any()
    middle = filled[6]  # halfway: radius 15
    assert middle.sum() == pytest.approx(np.pi * 15**2, rel=0.05)
    assert middle[40, 45 + 14] and not middle[40, 45 + 16]
    # only the instance's box (and a margin) is touched
    assert edit.region[1].stop - edit.region[1].start <= 43


def test_shifted_shapes_move_and_several_gaps_are_filled():
    stack = np.zeros((9, 60, 60), dtype=np.uint8)
    stack[0, 10:30, 10:30] = 1
    stack[4, 10:30, 20:40] = 1  # moved right, overlapping
    stack[8, 20:40, 20:40] = 1  # moved down
    filled = interpolate(stack, 1, 0, (1, 2)).full_mask(stack.shape)
    expected = full_plane_reference(stack, 1, 0, 4) | full_plane_reference(stack, 1, 4, 8)
    np.testing.assert_array_equal(filled, expected)
    assert filled[2, 20, 22] and filled[6, 28, 30]
    assert filled[2].sum() == pytest.approx(400, rel=0.3)


def test_shapes_far_apart_give_nothing_between_them():
    # distance maps blend, they do not move shapes: two disjoint squares meet nowhere
    stack = np.zeros((5, 60, 60), dtype=np.uint8)
    stack[0, 10:20, 10:20] = 1
    stack[4, 40:50, 40:50] = 1
    assert interpolate(stack, 1, 0, (1, 2)) is None


def test_shapes_at_the_image_border_match_whole_planes():
    stack = np.zeros((6, 30, 30), dtype=np.int32)
    stack[0, 0:12, 0:30] = 4  # touches three borders
    stack[5, 0:4, 20:30] = 4
    filled = interpolate(stack, 4, 0, (1, 2)).full_mask(stack.shape)
    np.testing.assert_array_equal(filled, full_plane_reference(stack, 4, 0, 5))


def test_a_time_axis_in_four_d_is_interpolated_per_z():
    data = np.zeros((7, 3, 40, 40), dtype=np.uint32)  # T, Z, Y, X
    data[0, 1][disk((40, 40), (20, 20), 6)] = 5
    data[6, 1][disk((40, 40), (20, 20), 12)] = 5
    data[0, 2][disk((40, 40), (10, 10), 4)] = 5
    data[6, 2][disk((40, 40), (30, 30), 4)] = 5
    filled = interpolate(data, 5, axis=0, plane_axes=(2, 3)).full_mask(data.shape)
    for z in (1, 2):
        np.testing.assert_array_equal(filled[:, z], full_plane_reference(data[:, z], 5, 0, 6))
    assert not filled[:, 0].any()
    # along Z instead: only two adjacent slices per frame, nothing to fill
    assert interpolate(data, 5, axis=1, plane_axes=(2, 3)) is None


def test_no_gap_no_edit_and_bad_axes_are_refused():
    stack = np.zeros((4, 10, 10), dtype=np.uint8)
    assert interpolate(stack, 1, 0, (1, 2)) is None  # no pixels
    stack[1, 2:5, 2:5] = 1
    stack[2, 2:5, 2:5] = 1
    assert interpolate(stack, 1, 0, (1, 2)) is None  # adjacent slices
    with pytest.raises(ValueError, match="cannot interpolate along axis 1"):
        interpolate(stack, 1, 1, (1, 2))
    with pytest.raises(ValueError, match="one spacing per plane axis"):
        interpolate(stack, 1, 0, (1, 2), sampling=(1.0,))


def test_sampling_measures_distances_in_the_layer_units():
    mask = np.zeros((9, 9), dtype=bool)
    mask[4, 4] = True
    plain = signed_distance(mask)
    stretched = signed_distance(mask, sampling=(1.0, 3.0))
    assert plain[4, 4] == -1 and plain[4, 6] == 2
    assert stretched[4, 6] == 6 and stretched[6, 4] == 2
    with pytest.raises(ValueError, match="empty shape"):
        signed_distance(np.zeros((3, 3), bool))
