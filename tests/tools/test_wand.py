"""The wand's region: exact on known shapes, bounded by the region, any channel count."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segtool.tools.wand import WandSeed, flood_full, outline, wand_edit


def disk(shape, centre, radius) -> np.ndarray:
    grid = np.indices(shape)
    return sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) <= radius**2


def test_the_region_is_exactly_a_uniform_disk():
    image = np.full((60, 80), 10, dtype=np.uint8)
    image[disk(image.shape, (30, 40), 15)] = 200
    edit = wand_edit(image, (30, 40), 20, label=7, dims=(0, 1))
    assert edit.label == 7
    np.testing.assert_array_equal(edit.full_mask(image.shape), disk(image.shape, (30, 40), 15))
    assert edit.region == (slice(15, 46), slice(25, 56))  # cropped to the disk's box


def test_the_window_grows_only_as_far_as_the_region_does():
    shape = (2000, 2000)
    image = np.zeros(shape, dtype=np.uint16)
    cell = disk(shape, (700, 1300), 150)
    image[cell] = 1000
    seed = WandSeed(image, (700, 1300), (0, 1), start_reach=8)
    edit = seed.edit(100, 1)
    np.testing.assert_array_equal(edit.full_mask(shape), cell)
    window = seed.window
    sides = [s.stop - s.start for s in window]
    assert all(301 <= side <= 2 * 301 + 1 for side in sides)  # the cell's size, not the image's
    np.testing.assert_array_equal(flood_full(image, (700, 1300), 100), cell)


def test_a_region_on_the_image_border_stops_there():
    image = np.zeros((50, 50), dtype=np.float32)
    image[:20, :20] = 1.0
    edit = wand_edit(image, (0, 0), 0.1, 1, (0, 1))
    assert edit.region == (slice(0, 20), slice(0, 20)) and edit.mask.all()


def test_a_higher_tolerance_takes_the_ring_too_and_refloods_from_the_same_seed():
    image = np.zeros((80, 80), dtype=np.uint8)
    image[disk(image.shape, (40, 40), 25)] = 170
    image[disk(image.shape, (40, 40), 10)] = 200
    seed = WandSeed(image, (40, 40), (0, 1), start_reach=4)
    inner = seed.edit(20, 1).full_mask(image.shape)
    ring = seed.edit(40, 1).full_mask(image.shape)
    back = seed.edit(20, 1).full_mask(image.shape)
    np.testing.assert_array_equal(inner, disk(image.shape, (40, 40), 10))
    np.testing.assert_array_equal(ring, disk(image.shape, (40, 40), 25))
    np.testing.assert_array_equal(back, inner)


def test_colour_images_compare_colour_vectors():
    image = np.zeros((40, 40, 3), dtype=np.uint8)
    image[..., 2] = 200  # blue
    red = disk((40, 40), (20, 20), 8)
    image[red] = (200, 0, 0)  # as bright as the background in one channel
    edit = wand_edit(image, (20, 20), 50, 1, (0, 1), channels=True)
    np.testing.assert_array_equal(edit.full_mask((40, 40)), red)
    # distance is Euclidean: (200, 0, -200) is 283 away, so even 250 stays inside the disk
    edit = wand_edit(image, (20, 20), 250, 1, (0, 1), channels=True)
    np.testing.assert_array_equal(edit.full_mask((40, 40)), red)


def test_on_a_stack_the_region_stays_in_the_plane_or_fills_the_volume():
    shape = (9, 30, 30)
    image = np.zeros(shape, dtype=np.uint8)
    ball = disk(shape, (4, 15, 15), 4)
    image[ball] = 100
    plane = wand_edit(image, (4, 15, 15), 10, 1, (1, 2))
    assert plane.region[0] == slice(4, 5)
    expected = np.zeros(shape, dtype=bool)
    expected[4] = ball[4]
    np.testing.assert_array_equal(plane.full_mask(shape), expected)
    volume = wand_edit(image, (4, 15, 15), 10, 1, (0, 1, 2))
    np.testing.assert_array_equal(volume.full_mask(shape), ball)


def test_a_seed_outside_the_image_is_refused():
    with pytest.raises(ValueError, match="outside"):
        WandSeed(np.zeros((5, 5)), (5, 0), (0, 1))
    with pytest.raises(ValueError, match="one index per axis"):
        WandSeed(np.zeros((5, 5)), (1,), (0, 1))


def test_the_outline_is_the_inner_boundary_in_each_plane():
    mask = np.zeros((3, 9, 9), dtype=bool)
    mask[:, 2:7, 2:7] = True
    ring = outline(mask, (1, 2))
    expected_plane = np.zeros((9, 9), dtype=bool)
    expected_plane[2:7, 2:7] = True
    expected_plane[3:6, 3:6] = False
    for z in range(3):  # the planes do not erode each other
        np.testing.assert_array_equal(ring[z], expected_plane)
