"""Interpolation between slices on real 3-D and 4-D layers: brush strokes, locks, draw to back,
one undo step, the key, the axis of the last slider moved, and exact pixel counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.interpolate import (
    interpolate_instances,
    interpolation_axes,
    selected_instances,
)
from napari_segtool._napari.session import session_for
from napari_segtool.model.document import Document
from napari_segtool.model.ontology import Ontology
from tests.napari_input import key_press, stroke

ORANGE, BLUE = "cjxtjkpjai8t80846iwqaa1d8", "cjxtjkpjai8t90846yzpbpo7t"


def expected_fill(before: np.ndarray, label: int, low: int, high: int) -> np.ndarray:
    """Full-plane signed distance maps of slices ``low`` and ``high`` of axis 0, blended."""
    first, last = before[low] == label, before[high] == label
    sdf_first = ndimage.distance_transform_edt(~first) - ndimage.distance_transform_edt(first)
    sdf_last = ndimage.distance_transform_edt(~last) - ndimage.distance_transform_edt(last)
    fill = np.zeros(before.shape, dtype=bool)
    for k in range(low + 1, high):
        t = (k - low) / (high - low)
        fill[k] = (1 - t) * sdf_first + t * sdf_last < 0
    return fill


def assert_counts_right(layer) -> None:
    values, counts = np.unique(np.asarray(layer.data), return_counts=True)
    expected = {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}
    assert binding_of(layer).pixel_counts == expected


@pytest.fixture
def stack(make_napari_viewer, reference_dir):
    viewer = make_napari_viewer()
    session_for(viewer)
    document = Document(Ontology.load(reference_dir / "ontology.fish.json"))
    layer = viewer.add_labels(
        np.zeros((12, 64, 64), dtype=np.uint16), **segmentation_layer_kwargs(document, "stack")
    )
    layer.viewer = viewer
    return layer


def draw(layer, z: int, points, size: int, schema=ORANGE, label: int | None = None) -> int:
    """A brush stroke on slice ``z`` (the Z slider moves there first); returns the id."""
    viewer = layer.viewer
    binding = binding_of(layer)
    if label is None:
        label = binding.start_instance(schema)
    else:
        binding.select_instance(label)
    layer.mode, layer.brush_size = "paint", size
    viewer.dims.set_current_step(0, z)
    stroke(layer, [(z, *p) for p in points], dims_displayed=(1, 2))
    return label


def test_a_nucleus_drawn_on_two_slices_is_filled_in_between(stack):
    nucleus = draw(stack, 2, [(30, 30), (32, 32)], 10)
    draw(stack, 9, [(26, 26), (36, 38)], 22, label=nucleus)
    before = np.asarray(stack.data).copy()
    assert interpolation_axes(stack) == (0, (1, 2))
    steps = len(stack._undo_history)
    result = interpolate_instances(stack, [nucleus])
    after = np.asarray(stack.data).copy()
    fill = expected_fill(before, nucleus, 2, 9)
    assert not fill[:3].any() and not fill[9:].any() and all(fill[k].any() for k in range(3, 9))
    np.testing.assert_array_equal(after, np.where(fill, nucleus, before))
    assert result.changed == fill.sum()
    assert len(stack._undo_history) == steps + 1
    assert_counts_right(stack)
    stack.undo()
    np.testing.assert_array_equal(stack.data, before)
    assert_counts_right(stack)
    stack.redo()
    np.testing.assert_array_equal(stack.data, after)
    assert_counts_right(stack)


def test_locked_voxels_and_draw_to_back_are_respected(stack):
    nucleus = draw(stack, 1, [(30, 30), (32, 32)], 14)
    draw(stack, 7, [(30, 30), (32, 32)], 14, label=nucleus)
    locked = draw(stack, 3, [(28, 28), (34, 34)], 8, schema=BLUE)
    other = draw(stack, 5, [(26, 34), (30, 36)], 6, schema=BLUE)
    binding = binding_of(stack)
    binding.document.set_locked(locked, True)
    stack.preserve_labels = True  # draw to back: only empty voxels
    before = np.asarray(stack.data).copy()
    result = interpolate_instances(stack, [nucleus])
    after = np.asarray(stack.data)
    fill = expected_fill(before, nucleus, 1, 7)
    assert (fill & (before == locked)).any() and (fill & (before == other)).any()
    np.testing.assert_array_equal(after[before == locked], locked)
    np.testing.assert_array_equal(after[before == other], other)
    np.testing.assert_array_equal(after, np.where(fill & (before == 0), nucleus, before))
    assert result.kept_locked == (fill & (before == locked)).sum()
    assert result.kept_behind == (fill & (before == other)).sum()
    assert_counts_right(stack)
    # without draw to back the unlocked neighbour gives way, the locked one still does not
    stack.undo()
    stack.preserve_labels = False
    interpolate_instances(stack, [nucleus])
    after = np.asarray(stack.data)
    np.testing.assert_array_equal(after[before == locked], locked)
    np.testing.assert_array_equal(after, np.where(fill & (before != locked), nucleus, before))
    assert_counts_right(stack)
    # a locked instance is not interpolated at all
    binding.document.set_locked(nucleus, True)
    stack.undo()
    assert interpolate_instances(stack, [nucleus]).changed == 0
    np.testing.assert_array_equal(stack.data, before)


def test_every_selected_instance_is_one_undo_step_and_the_key_works(stack):
    first = draw(stack, 0, [(15, 15)], 8)
    draw(stack, 6, [(17, 17)], 12, label=first)
    second = draw(stack, 4, [(45, 45)], 8, schema=BLUE)
    draw(stack, 10, [(45, 45)], 8, label=second)
    before = np.asarray(stack.data).copy()
    steps = len(stack._undo_history)
    session_for(stack.viewer)  # the dock registers its table; here: the current label
    binding_of(stack).select_instance(second)
    assert selected_instances(stack) == [second]
    key_press(stack.viewer, "i")
    only_second = np.where(expected_fill(before, second, 4, 10), second, before)
    np.testing.assert_array_equal(stack.data, only_second)
    stack.undo()
    interpolate_instances(stack, [first, second])
    both = np.where(expected_fill(before, first, 0, 6), first, only_second)
    np.testing.assert_array_equal(stack.data, both)
    assert len(stack._undo_history) == steps + 1
    stack.undo()
    np.testing.assert_array_equal(stack.data, before)
    assert_counts_right(stack)


def test_a_time_lapse_interpolates_along_the_slider_moved_last(make_napari_viewer, reference_dir):
    viewer = make_napari_viewer()
    session_for(viewer)
    document = Document(Ontology.load(reference_dir / "ontology.fish.json"))
    layer = viewer.add_labels(
        np.zeros((8, 4, 48, 48), dtype=np.uint32), **segmentation_layer_kwargs(document, "tzyx")
    )
    binding = binding_of(layer)
    cell = binding.start_instance(ORANGE)
    layer.mode, layer.brush_size = "paint", 10
    for t, centre in ((1, (20, 20)), (6, (26, 28))):
        viewer.dims.set_current_step(0, t)
        viewer.dims.set_current_step(1, 2)
        stroke(layer, [(t, 2, *centre)], dims_displayed=(2, 3))
    before = np.asarray(layer.data).copy()
    viewer.dims.set_current_step(1, 3)
    # the Z slider moved last: nothing to fill along Z (one slice per frame)
    assert interpolation_axes(layer, viewer) == (1, (2, 3))
    assert interpolate_instances(layer, [cell], viewer).changed == 0
    viewer.dims.set_current_step(0, 3)  # now T (while T x Z x Y x X keeps Z apart)
    assert interpolation_axes(layer, viewer) == (0, (2, 3))
    interpolate_instances(layer, [cell], viewer)
    fill = np.zeros(before.shape, dtype=bool)
    fill[:, 2] = expected_fill(before[:, 2], cell, 1, 6)
    assert fill.any()
    np.testing.assert_array_equal(layer.data, np.where(fill, cell, before))
    assert_counts_right(layer)
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)
    layer.redo()
    np.testing.assert_array_equal(layer.data, np.where(fill, cell, before))
    assert_counts_right(layer)


def test_a_flat_image_has_nothing_to_interpolate(make_napari_viewer, reference_dir):
    viewer = make_napari_viewer()
    document = Document(Ontology.load(reference_dir / "ontology.fish.json"))
    layer = viewer.add_labels(
        np.zeros((20, 20), dtype=np.uint8), **segmentation_layer_kwargs(document, "flat")
    )
    with pytest.raises(ValueError, match="no slices to interpolate"):
        interpolate_instances(layer, [1], viewer)
