"""The clean-up operations on a box of the labels (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segtool.tools import cleanup
from napari_segtool.tools.cleanup import CleanupOptions, cleanup_edits, new_shape, split_pieces


def square_with_hole():
    values = np.zeros((20, 20), dtype=np.uint16)
    values[4:16, 4:16] = 3
    values[8:12, 8:12] = 0
    values[9, 9] = 5  # another instance in the hole
    return values


def test_fill_holes_fills_background_and_the_edits_spare_other_instances():
    values = square_with_hole()
    shape = new_shape(values, 3, cleanup.FILL_HOLES, CleanupOptions(), (0, 1))
    assert shape[4:16, 4:16].all()
    region = (slice(0, 20), slice(0, 20))
    (edit,) = cleanup_edits(region, values, 3, shape)
    assert edit.label == 3 and edit.replaces == frozenset({0})
    assert edit.pixel_count == 16 - 0  # the hole, 5's pixel included: the painter spares it


def test_grow_and_shrink_by_distance():
    values = np.zeros((30, 30), dtype=np.uint8)
    values[10:20, 10:20] = 1
    grown = new_shape(values, 1, cleanup.GROW, CleanupOptions(distance=2), (0, 1))
    assert grown[8, 15] and not grown[7, 15] and not grown[8, 8]  # round corners
    shrunk = new_shape(values, 1, cleanup.SHRINK, CleanupOptions(distance=2), (0, 1))
    assert shrunk.sum() == 6 * 6


def test_grow_stops_at_a_neighbour_and_does_not_leak_behind_it():
    values = np.zeros((30, 30), dtype=np.uint8)
    values[10:20, 5:10] = 1
    values[5:25, 10] = 2  # a thin wall
    grown = new_shape(values, 1, cleanup.GROW, CleanupOptions(distance=3), (0, 1))
    assert not grown[:, 10:].any()
    over = new_shape(values, 1, cleanup.GROW, CleanupOptions(distance=3, overwrite=True), (0, 1))
    assert over[15, 12] and over[15, 10]


def test_pieces_small_largest_and_split():
    values = np.zeros((30, 30), dtype=np.int32)
    values[0:10, 0:10] = 4
    values[20:25, 20:25] = 4
    values[28, 28] = 4
    options = CleanupOptions(min_size=20)
    assert new_shape(values, 4, cleanup.REMOVE_SMALL, options, (0, 1)).sum() == 125
    assert new_shape(values, 4, cleanup.KEEP_LARGEST, options, (0, 1)).sum() == 100
    assert [p.sum() for p in split_pieces(values, 4, (0, 1))] == [100, 25, 1]


def test_smooth_removes_a_spur_and_closes_a_notch():
    values = np.zeros((40, 40), dtype=np.uint8)
    values[10:30, 10:30] = 1
    values[19:21, 30:36] = 1  # a spur
    values[10:14, 20] = 0  # a narrow notch
    smooth = new_shape(values, 1, cleanup.SMOOTH, CleanupOptions(radius=2), (0, 1))
    assert not smooth[20, 33] and smooth[13, 20]


def test_3d_versus_per_plane():
    values = np.zeros((5, 12, 12), dtype=np.uint8)
    values[0:5, 2:10, 2:10] = 1
    values[1:4, 4:8, 4:8] = 0  # closed in 3-D and on slices 1-3
    values[0, 4:8, 4:8] = 0  # open at the top: not a hole in 3-D, a hole on slice 0
    in_3d = new_shape(values, 1, cleanup.FILL_HOLES, CleanupOptions(), (0, 1, 2))
    per_plane = new_shape(values, 1, cleanup.FILL_HOLES, CleanupOptions(), (1, 2))
    assert not in_3d[1:4, 4:8, 4:8].any()
    assert per_plane[:, 4:8, 4:8].all()


def test_window_and_bad_input():
    box = (slice(2, 5), slice(0, 10), slice(7, 9))
    assert cleanup.window(box, (10, 10, 10), 3, (1, 2)) == (
        slice(2, 5),
        slice(0, 10),
        slice(4, 10),
    )
    with pytest.raises(ValueError, match="distance must be 0 or more"):
        CleanupOptions(distance=-1)
    with pytest.raises(ValueError, match="unknown clean-up operation"):
        new_shape(np.zeros((3, 3)), 1, "blur", CleanupOptions(), (0, 1))


def test_a_time_lapse_is_cleaned_per_time_point():
    values = np.zeros((2, 3, 8, 8), dtype=np.uint8)  # T x Z x Y x X
    values[0, :, 1:3, 1:3] = 1
    values[1, :, 5:7, 5:7] = 1
    pieces = split_pieces(values, 1, (1, 2, 3))
    assert len(pieces) == 1  # one piece per time point: the same instance over time
    largest = new_shape(values, 1, cleanup.KEEP_LARGEST, CleanupOptions(), (1, 2, 3))
    np.testing.assert_array_equal(largest, values == 1)
