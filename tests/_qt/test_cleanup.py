"""The dock's clean-up buttons: selected rows, one undo step, locks and neighbours hold."""

from __future__ import annotations

import numpy as np
from skimage.draw import disk

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool.model.document import Document

ORANGE_FISH = "cjxtjkpjai8t80846iwqaa1d8"


def table_counts(dock) -> dict[int, int]:
    model = dock.table_model
    rows = range(model.rowCount())
    return {model.data(model.index(r, 0)): model.data(model.index(r, 2)) for r in rows}


def unique_counts(layer) -> dict[int, int]:
    values, counts = np.unique(np.asarray(layer.data), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}


def _layer_with(viewer, fish, data):
    document = Document(fish)
    for label_id in np.unique(data):
        if label_id:
            document.add_instance(int(label_id), ORANGE_FISH)
    layer = viewer.add_labels(data.copy(), **segmentation_layer_kwargs(document, "cells"))
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    return layer, dock


def _disk(shape, centre, radius):
    mask = np.zeros(shape, dtype=bool)
    mask[disk(centre, radius, shape=shape)] = True
    return mask


def test_fill_holes_fills_the_hole_only_and_undo_restores(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    data = np.zeros((80, 80), dtype=np.uint32)
    cell = _disk(data.shape, (40, 40), 20)
    hole = _disk(data.shape, (40, 40), 5)
    data[cell & ~hole] = 1
    data[_disk(data.shape, (40, 40), 2)] = 2  # another instance inside the hole
    layer, dock = _layer_with(viewer, fish, data)
    before = np.asarray(layer.data).copy()
    steps = len(layer._undo_history)
    dock.select_rows([1])
    assert dock.cleanup_panel.buttons["fill_holes"].isEnabled()
    dock.cleanup_panel.buttons["fill_holes"].click()
    after = np.asarray(layer.data)
    np.testing.assert_array_equal(after == 1, cell & ~_disk(data.shape, (40, 40), 2))
    assert (after == 2).sum() == (before == 2).sum()  # the neighbour keeps its pixels
    assert len(layer._undo_history) == steps + 1
    assert table_counts(dock) == unique_counts(layer)
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)
    assert table_counts(dock) == unique_counts(layer)


def test_grow_stops_at_neighbours_unless_overwrite(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    data = np.zeros((60, 60), dtype=np.uint32)
    data[20:40, 10:30] = 1
    data[20:40, 31:50] = 2
    layer, dock = _layer_with(viewer, fish, data)
    panel = dock.cleanup_panel
    panel.distance.setValue(3)
    dock.select_rows([1])
    panel.buttons["grow"].click()
    after = np.asarray(layer.data)
    assert (after == 2).sum() == 20 * 19  # untouched
    assert after[25, 30] == 1 and after[19, 15] == 1 and after[25, 7] == 1
    assert after[25, 6] == 0  # three pixels, not four
    layer.undo()
    panel.overwrite.setChecked(True)
    layer.preserve_labels = True  # draw to back still keeps the neighbour
    panel.buttons["grow"].click()
    assert (np.asarray(layer.data) == 2).sum() == 20 * 19
    layer.undo()
    layer.preserve_labels = False
    panel.buttons["grow"].click()
    after = np.asarray(layer.data)
    assert after[25, 31] == 1 and after[25, 32] == 1 and after[25, 33] == 2
    assert table_counts(dock) == unique_counts(layer)


def test_locked_and_hidden_instances_do_not_change(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    data = np.zeros((60, 60), dtype=np.uint32)
    data[10:30, 10:30] = 1
    data[10:30, 31:50] = 2
    data[40:50, 40:50] = 3
    layer, dock = _layer_with(viewer, fish, data)
    binding = binding_of(layer)
    binding.document.set_locked(2, True)
    binding.document.set_hidden(3, True)
    dock.cleanup_panel.overwrite.setChecked(True)
    dock.cleanup_panel.distance.setValue(4)
    dock.select_rows([1, 2])
    before = np.asarray(layer.data).copy()
    dock.cleanup_panel.buttons["shrink"].click()  # 2 is locked: only 1 shrinks
    after = np.asarray(layer.data)
    np.testing.assert_array_equal(after == 2, before == 2)
    assert (after == 1).sum() == 12 * 12
    layer.undo()
    dock.select_rows([1])
    dock.cleanup_panel.buttons["grow"].click()  # overwrite on: still not into locked 2
    after = np.asarray(layer.data)
    np.testing.assert_array_equal(after == 2, before == 2)
    np.testing.assert_array_equal(after == 3, before == 3)
    assert table_counts(dock) == unique_counts(layer)


def test_split_makes_instances_of_the_same_class_with_the_answers(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    data = np.zeros((60, 60), dtype=np.uint32)
    data[5:25, 5:25] = 1  # 400
    data[40:50, 40:50] = 1  # 100
    data[5:8, 50:53] = 1  # 9
    layer, dock = _layer_with(viewer, fish, data)
    binding = binding_of(layer)
    document = binding.document
    answers = {"question": "value"}
    document.instances[1].answers = dict(answers)
    dock.select_rows([1])
    steps = len(layer._undo_history)
    dock.cleanup_panel.buttons["split"].click()
    after = np.asarray(layer.data)
    ids = sorted(int(i) for i in np.unique(after) if i)
    assert len(ids) == 3 and ids[0] == 1
    assert (after == 1).sum() == 400  # the largest piece keeps the id
    for label_id in ids[1:]:
        assert document.instance(label_id).schema_id == ORANGE_FISH
        assert document.instance(label_id).answers == answers
    assert len(layer._undo_history) == steps + 1
    assert table_counts(dock) == unique_counts(layer)
    layer.undo()
    np.testing.assert_array_equal(layer.data, data)
    assert table_counts(dock) == unique_counts(layer)


def test_a_stack_is_cleaned_in_3d_or_per_slice(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    data = np.zeros((7, 40, 40), dtype=np.uint32)
    data[1:6, 10:30, 10:30] = 1
    data[2:5, 15:25, 15:25] = 0  # a closed cavity: a hole in 3-D and on slices 2-4
    data[1:6, 2:4, 2:4] = 1  # a small column: one 3-D piece of 20 voxels, 4 per slice
    layer, dock = _layer_with(viewer, fish, data)
    panel = dock.cleanup_panel
    dock.select_rows([1])
    panel.buttons["fill_holes"].click()
    assert (np.asarray(layer.data)[2:5, 15:25, 15:25] == 1).all()
    layer.undo()
    panel.min_size.setValue(10)
    panel.buttons["remove_small"].click()  # 3-D: the column has 20 voxels and stays
    np.testing.assert_array_equal(layer.data, data)
    panel.volume.setChecked(False)
    panel.buttons["remove_small"].click()  # per slice: 4 pixels each, removed
    after = np.asarray(layer.data)
    assert not after[:, 2:4, 2:4].any()
    assert (after == 1).sum() == (data == 1).sum() - 20
    panel.buttons["keep_largest"].click()
    assert table_counts(dock) == unique_counts(layer)
    layer.undo()
    layer.undo()
    np.testing.assert_array_equal(layer.data, data)
