"""Superpixels: a bounded window, whole superpixels per edit, boxes that keep edits small."""

from __future__ import annotations

import numpy as np
from skimage.segmentation import find_boundaries

from napari_segtool.tools.superpixels import (
    MAX_PIXELS,
    Superpixels,
    compute_superpixels,
    superpixel_window,
)


def blocks(shape=(64, 96)) -> np.ndarray:
    rows, cols = np.indices(shape)
    return (((rows // 16) + (cols // 16)) % 2).astype(np.float32)


def test_the_window_is_bounded_centred_and_inside_the_image():
    region = superpixel_window((4096, 4096), (100.0, 3000.0), (0, 1))
    assert region == (slice(0, 1024), slice(2488, 3512))
    assert superpixel_window((300, 200), (10, 10), (0, 1)) == (slice(0, 300), slice(0, 200))
    stack = superpixel_window((40, 4096, 4096), (7, 4095, 0), (1, 2))
    assert stack == (slice(7, 8), slice(3072, 4096), slice(0, 1024))
    volume = superpixel_window((400, 400, 400), (200, 200, 200), (0, 1, 2))
    sides = [s.stop - s.start for s in volume]
    assert np.prod(sides) <= MAX_PIXELS and sides == [101, 101, 101]


def test_superpixels_follow_strong_edges_and_cover_the_window():
    image = blocks()
    region = (slice(0, 64), slice(0, 96))
    superpixels = compute_superpixels(image, region, (0, 1), 8, value_range=(0, 1))
    assert superpixels.labels.shape == (64, 96) and superpixels.labels.min() == 1
    assert 48 <= superpixels.count <= 140  # about 64 * 96 / 8**2 = 96
    mixed = 0  # pixels of a superpixel on the other side of a block edge than most of it
    for label in range(1, superpixels.count + 1):
        values = image[superpixels.labels == label]
        if values.size:
            mixed += min(int((values == 0).sum()), int((values == 1).sum()))
    assert mixed <= 0.01 * image.size
    np.testing.assert_array_equal(
        superpixels.boundaries(), find_boundaries(superpixels.labels, mode="inner")
    )


def test_an_edit_covers_exactly_the_chosen_superpixels_at_their_window():
    labels = np.array([[1, 1, 2, 2], [3, 3, 2, 4], [3, 5, 5, 4]], dtype=np.int32)
    superpixels = Superpixels((slice(10, 13), slice(20, 24)), labels)
    edit = superpixels.edit({2, 4}, 9)
    assert edit.label == 9 and edit.region == (slice(10, 13), slice(22, 24))
    full = edit.full_mask((20, 30))
    expected = np.zeros((20, 30), dtype=bool)
    expected[10:13, 20:24] = np.isin(labels, [2, 4])
    np.testing.assert_array_equal(full, expected)
    assert superpixels.edit({99}, 9) is None and superpixels.edit(set(), 9) is None
    removal = superpixels.edit({5}, 0, replaces={9})
    assert removal.replaces == frozenset({9}) and removal.pixel_count == 2


def test_lookups_outside_the_window_find_nothing():
    labels = np.array([[1, 2], [3, 4]], dtype=np.int32)
    superpixels = Superpixels((slice(5, 7), slice(5, 7)), labels)
    assert superpixels.at([(5, 5), (6, 6), (0, 0), (7, 5)]) == {1, 4}
    brush = np.ones((3, 3), dtype=bool)
    assert superpixels.under_mask((slice(3, 6), slice(3, 6)), brush) == {1}
    assert superpixels.under_mask((slice(0, 3), slice(0, 3)), brush) == set()
    assert superpixels.under_mask((slice(4, 7), slice(4, 7)), brush) == {1, 2, 3, 4}


def test_a_stack_window_is_segmented_as_its_plane():
    image = np.stack([blocks(), 1 - blocks()])
    region = (slice(1, 2), slice(0, 64), slice(0, 96))
    superpixels = compute_superpixels(image, region, (1, 2), 8)
    assert superpixels.labels.shape == (1, 64, 96)
    assert superpixels.at([(1, 3, 3)]) and not superpixels.at([(0, 3, 3)])
