"""Polygon fill: pixels whose centre is inside, exactly as skimage.draw.polygon says."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import polygon as draw_polygon

from napari_segtool.tools.polygon import polygon_edit


def skimage_fill(vertices, shape) -> np.ndarray:
    vertices = np.asarray(vertices, dtype=float)
    full = np.zeros(shape, dtype=bool)
    full[draw_polygon(vertices[:, 0], vertices[:, 1], shape=shape)] = True
    return full


def filled(edit, shape) -> np.ndarray:
    return np.zeros(shape, dtype=bool) if edit is None else edit.full_mask(shape)


@pytest.mark.parametrize("seed", range(12))
def test_the_fill_equals_skimage_s_polygon_of_the_vertices(seed):
    rng = np.random.default_rng(seed)
    shape = (40, 50)
    # random polygons with fractional vertices, some reaching past the image
    vertices = rng.uniform(-8, 58, size=(int(rng.integers(3, 9)), 2))
    edit = polygon_edit(shape, [vertices], label=7)
    assert np.array_equal(filled(edit, shape), skimage_fill(vertices, shape))
    if edit is not None:
        assert edit.label == 7
        # cropped to its box: the first and last row and column hold pixels
        assert edit.mask.any(axis=1)[[0, -1]].all() and edit.mask.any(axis=0)[[0, -1]].all()


def test_outlines_unite_and_holes_are_removed():
    shape = (30, 30)
    square = [(2, 2), (2, 20), (20, 20), (20, 2)]
    other = [(15, 15), (15, 28), (28, 28), (28, 15)]
    hole = [(6, 6), (6, 12), (12, 12), (12, 6)]
    edit = polygon_edit(shape, [square, other], holes=[hole], label=1, replaces={0})
    expected = (skimage_fill(square, shape) | skimage_fill(other, shape)) & ~skimage_fill(
        hole, shape
    )
    assert np.array_equal(filled(edit, shape), expected)
    assert edit.replaces == {0}


def test_nothing_inside_gives_no_edit():
    assert polygon_edit((10, 10), [[(20, 20), (20, 30), (30, 30)]], label=1) is None
    assert polygon_edit((10, 10), [[(1, 1), (1, 5)]], label=1) is None  # not an area
    square = [(1, 1), (1, 8), (8, 8), (8, 1)]
    assert polygon_edit((10, 10), [square], holes=[square], label=1) is None


def test_a_polygon_in_one_plane_of_a_stack():
    shape = (4, 20, 20)
    triangle = [(2, 2), (2, 17), (16, 9)]
    edit = polygon_edit(shape, [triangle], dims=[1, 2], plane=(2.2, 0, 0), label=3)
    assert edit.region[0] == slice(2, 3)
    painted = filled(edit, shape)
    assert not painted[[0, 1, 3]].any()
    assert np.array_equal(painted[2], skimage_fill(triangle, (20, 20)))


def test_a_polygon_across_the_first_and_last_axes():
    shape = (20, 3, 25)
    triangle = [(2, 2), (2, 20), (16, 9)]
    edit = polygon_edit(shape, [triangle], dims=[0, 2], plane=(0, 1, 0), label=3)
    painted = filled(edit, shape)
    assert not painted[:, [0, 2]].any()
    assert np.array_equal(painted[:, 1], skimage_fill(triangle, (20, 25)))
    with pytest.raises(ValueError, match="two painted axes"):
        polygon_edit(shape, [triangle], dims=[0, 1, 2], label=3)
