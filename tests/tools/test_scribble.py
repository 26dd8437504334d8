"""Scribble to region (pure): window, gradient, watershed and random walker, the edit."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from napari_segtool.tools import scribble


def scene():
    cell = np.zeros((80, 80), dtype=bool)
    cell[disk((40, 40), 12)] = True
    image = np.where(cell, 1.0, 0.2)
    foreground = np.zeros_like(cell)
    scribble.stamp_segment(foreground, (38, 36), (42, 44), 2)
    background = np.zeros_like(cell)
    background[20, 20:60] = background[60, 20:60] = True
    background[20:60, 20] = background[20:60, 60] = True
    return image, cell, foreground, background


@pytest.mark.parametrize("method", scribble.METHODS)
def test_the_region_is_the_marked_object(method):
    image, cell, foreground, background = scene()
    np.testing.assert_array_equal(scribble.grow_region(image, foreground, background, method), cell)


def test_colour_images_use_every_channel():
    image, cell, foreground, background = scene()
    rgb = np.stack([np.full_like(image, 0.5), image, np.full_like(image, 0.5)], axis=-1)
    np.testing.assert_array_equal(scribble.grow_region(rgb, foreground, background), cell)


def test_the_window_is_the_scribbles_box_plus_a_margin():
    mask = np.zeros((200, 200), dtype=bool)
    mask[100:110, 50:150] = True
    rows, cols = scribble.scribble_window(mask)
    assert rows == slice(100 - scribble.MARGIN_PIXELS, 110 + scribble.MARGIN_PIXELS)
    assert cols == slice(25, 175)
    assert scribble.scribble_window(np.zeros((5, 5), dtype=bool)) is None


def test_region_edit_places_the_window_on_its_plane():
    region = np.ones((3, 4), dtype=bool)
    edit = scribble.region_edit(region, (slice(10, 13), slice(20, 24)), (5, None, None), 9)
    assert edit.region == (slice(5, 6), slice(10, 13), slice(20, 24)) and edit.label == 9
    assert edit.replaces is None
    assert scribble.region_edit(np.zeros((2, 2), bool), (slice(0, 2),) * 2, (None, None), 1) is None


def test_no_foreground_gives_nothing_and_bad_input_says_why():
    image, _cell, foreground, background = scene()
    assert not scribble.grow_region(image, foreground & False, background).any()
    with pytest.raises(ValueError, match="do not match the image window"):
        scribble.grow_region(image, foreground[:10], background)
    with pytest.raises(ValueError, match="unknown scribble method"):
        scribble.grow_region(image, foreground, background, "magic")
