"""The dock's *Interpolate* button: every selected row, one undo step, the table stays exact."""

from __future__ import annotations

import numpy as np

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.interpolate import selected_instances
from napari_segtool.model.document import Document
from tests.napari_input import key_press, stroke

ORANGE_FISH, BLUE_FISH = "cjxtjkpjai8t80846iwqaa1d8", "cjxtjkpjai8t90846yzpbpo7t"


def table_counts(dock) -> dict[int, int]:
    model = dock.table_model
    rows = range(model.rowCount())
    return {model.data(model.index(r, 0)): model.data(model.index(r, 2)) for r in rows}


def unique_counts(layer) -> dict[int, int]:
    values, counts = np.unique(np.asarray(layer.data), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}


def test_the_button_interpolates_the_selected_rows(make_napari_viewer, fish, qtbot):
    viewer = make_napari_viewer(show=True)
    layer = viewer.add_labels(
        np.zeros((10, 60, 60), dtype=np.uint32), **segmentation_layer_kwargs(Document(fish), "z")
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    binding = binding_of(layer)
    layer.mode = "paint"
    ids = []
    for schema, centre, slices in ((ORANGE_FISH, (20, 20), (1, 8)), (BLUE_FISH, (42, 40), (2, 6))):
        label_id = binding.start_instance(schema)
        ids.append(label_id)
        for z, size in zip(slices, (8, 14), strict=True):
            layer.brush_size = size
            viewer.dims.set_current_step(0, z)
            stroke(layer, [(z, *centre)], dims_displayed=(1, 2))
    dock.select_rows(ids)
    assert dock.interpolate_button.isEnabled()
    assert "I)" in dock.interpolate_button.toolTip()
    assert selected_instances(layer) == ids  # the key acts on the table's rows too
    before = np.asarray(layer.data).copy()
    steps = len(layer._undo_history)
    dock.interpolate_button.click()
    after = np.asarray(layer.data).copy()
    for label_id, (low, high) in zip(ids, ((1, 8), (2, 6)), strict=True):
        filled = [int((after[z] == label_id).sum()) for z in range(low + 1, high)]
        assert all(filled) and not (after[:low] == label_id).any()
        assert not (after[high + 1 :] == label_id).any()
    assert len(layer._undo_history) == steps + 1
    assert table_counts(dock) == unique_counts(layer)
    layer.undo()
    np.testing.assert_array_equal(layer.data, before)
    assert table_counts(dock) == unique_counts(layer)
    key_press(viewer, "i")  # the key: the same rows
    np.testing.assert_array_equal(layer.data, after)
    assert table_counts(dock) == unique_counts(layer)


def test_the_button_is_off_for_flat_images(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    layer = viewer.add_labels(
        np.zeros((30, 30), dtype=np.uint8), **segmentation_layer_kwargs(Document(fish), "flat")
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    binding = binding_of(layer)
    label_id = binding.start_instance(ORANGE_FISH)
    layer.brush_size = 6
    stroke(layer, [(10, 10), (12, 12)])
    dock.select_rows([label_id])
    assert dock.delete_button.isEnabled() and not dock.interpolate_button.isEnabled()
