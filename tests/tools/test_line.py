"""The straight segment: napari's round brush swept along a line, in any plane of a stack."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segtool.tools.line import CHUNK_LENGTH, brush_radius, segment_edits


def union(edits, shape) -> np.ndarray:
    """The edits' masks in one array; fails if two edits share a pixel."""
    full = np.zeros(shape, dtype=int)
    for edit in edits:
        full[edit.region] += edit.mask
    assert full.max(initial=0) <= 1, "two pieces of the segment overlap"
    return full.astype(bool)


def capsule(shape, a, b, radius, scale=None) -> np.ndarray:
    """Every pixel centre within ``radius`` of segment a-b (scaled space), by brute force."""
    grid = np.indices(shape, dtype=float).reshape(len(shape), -1).T
    scale = np.ones(len(shape)) if scale is None else np.asarray(scale, dtype=float)
    scale = scale / scale.min()
    a, b = np.asarray(a, float) * scale, np.asarray(b, float) * scale
    points = grid * scale
    d = b - a
    t = np.zeros(len(points)) if not d.any() else np.clip((points - a) @ d / (d @ d), 0, 1)
    distance = np.linalg.norm(points - (a + t[:, None] * d), axis=1)
    return (distance <= radius).reshape(shape)


def swept_brush(shape, a, b, radius, samples=4000) -> np.ndarray:
    """Distance of every pixel centre to the nearest of many brush centres along a-b."""
    centres = np.linspace(a, b, samples)
    grid = np.indices(shape, dtype=float).reshape(len(shape), -1).T
    nearest = np.full(len(grid), np.inf)
    for chunk in np.array_split(centres, 40):
        distance = np.linalg.norm(grid[:, None, :] - chunk[None, :, :], axis=2).min(axis=1)
        nearest = np.minimum(nearest, distance)
    return nearest.reshape(shape)


@pytest.mark.parametrize("brush_size", [1, 2, 5, 10])
@pytest.mark.parametrize("end", [(10, 70), (50, 12), (48, 5), (8, 6)])
def test_the_segment_is_every_pixel_within_the_brush_radius(brush_size, end):
    shape = (60, 80)
    edits = segment_edits(shape, (8, 6), end, dims=[0, 1], brush_size=brush_size, label=3)
    assert all(edit.label == 3 for edit in edits)
    radius = brush_radius(brush_size)
    assert np.array_equal(union(edits, shape), capsule(shape, (8, 6), end, radius))


def test_the_segment_covers_the_pixels_of_a_brush_swept_along_the_line():
    shape, a, b, size = (50, 60), (5.0, 3.0), (41.0, 52.0), 7
    covered = union(segment_edits(shape, a, b, dims=[0, 1], brush_size=size, label=1), shape)
    distance = swept_brush(shape, a, b, brush_radius(size))
    spacing = np.linalg.norm(np.subtract(b, a)) / 4000
    assert covered[distance <= brush_radius(size) - spacing].all()
    assert not covered[distance > brush_radius(size) + spacing].any()


def test_endpoints_are_rounded_like_napari_s_brush_centres():
    shape = (30, 30)
    edits = segment_edits(shape, (4.4, 5.6), (20.49, 9.5), dims=[0, 1], brush_size=3, label=1)
    assert np.array_equal(union(edits, shape), capsule(shape, (4, 6), (20, 10), 1.5))


def test_a_long_line_is_cut_into_disjoint_pieces_that_make_the_whole_capsule():
    shape = (300, 400)
    a, b = (3, 2), (290, 395)
    edits = segment_edits(shape, a, b, dims=[0, 1], brush_size=9, label=2)
    assert len(edits) == int(np.ceil(393 / CHUNK_LENGTH))
    biggest = max(int(np.prod(edit.mask.shape)) for edit in edits)
    assert biggest <= (CHUNK_LENGTH + 12) ** 2  # no box grows with the line
    assert np.array_equal(union(edits, shape), capsule(shape, a, b, brush_radius(9)))


def test_the_segment_stays_inside_the_image():
    shape = (20, 20)
    edits = segment_edits(shape, (-5, 3), (10, 30), dims=[0, 1], brush_size=6, label=1)
    assert all(s.start >= 0 and s.stop <= 20 for edit in edits for s in edit.region)
    assert np.array_equal(union(edits, shape), capsule(shape, (-5, 3), (10, 30), 3.5))


def test_anisotropic_pixels_make_the_brush_an_ellipse():
    shape = (30, 40)
    edits = segment_edits(
        shape, (15, 5), (15, 30), dims=[0, 1], brush_size=6, label=1, scale=(2.0, 1.0)
    )
    expected = capsule(shape, (15, 5), (15, 30), 3.5, scale=(2.0, 1.0))
    assert np.array_equal(union(edits, shape), expected)
    rows = np.flatnonzero(expected.any(axis=1))
    assert rows.min() == 14 and rows.max() == 16  # half as many rows as a round brush


def test_in_a_stack_the_segment_lies_in_the_plane_of_its_end():
    shape = (7, 30, 30)
    edits = segment_edits(shape, (1, 5, 5), (3, 20, 25), dims=[1, 2], brush_size=3, label=2)
    assert all(edit.region[0] == slice(3, 4) and edit.mask.shape[0] == 1 for edit in edits)
    painted = union(edits, shape)
    assert not painted[[0, 1, 2, 4, 5, 6]].any()
    assert np.array_equal(painted[3], capsule((30, 30), (5, 5), (20, 25), 1.5))


def test_a_plane_across_the_middle_axis_of_a_stack():
    shape = (12, 5, 16)
    edits = segment_edits(shape, (1, 0, 1), (10, 2, 14), dims=[0, 2], brush_size=2, label=1)
    painted = union(edits, shape)
    assert not painted[:, [0, 1, 3, 4]].any()
    assert np.array_equal(painted[:, 2], capsule((12, 16), (1, 1), (10, 14), 1.5))


def test_3d_editing_sweeps_a_ball():
    shape = (7, 30, 30)
    edits = segment_edits(shape, (1, 5, 25), (5, 25, 5), dims=[0, 1, 2], brush_size=3, label=4)
    assert np.array_equal(union(edits, shape), capsule(shape, (1, 5, 25), (5, 25, 5), 1.5))


def test_an_end_outside_the_stack_paints_nothing():
    edits = segment_edits((3, 10, 10), (1, 2, 2), (5, 4, 4), dims=[1, 2], brush_size=3, label=1)
    assert edits == []
