"""Scribble to region on the canvas: R, a scribble in and round an object, preview, Enter."""

from __future__ import annotations

import numpy as np
from skimage.draw import disk

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.scribble import PREVIEW_NAME, scribbler_of
from napari_segtool.model.document import Document
from tests.napari_input import key_press, stroke

ORANGE_FISH = "cjxtjkpjai8t80846iwqaa1d8"
CENTRE, RADIUS = (50, 50), 15


def cell_image(shape=(100, 100)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    cell = np.zeros(shape, dtype=bool)
    cell[disk(CENTRE, RADIUS, shape=shape)] = True
    image = np.where(cell, 200.0, 40.0) + rng.normal(0, 4, shape)
    return image.astype(np.float32), cell


def table_counts(dock) -> dict[int, int]:
    model = dock.table_model
    rows = range(model.rowCount())
    return {model.data(model.index(r, 0)): model.data(model.index(r, 2)) for r in rows}


def unique_counts(layer) -> dict[int, int]:
    values, counts = np.unique(np.asarray(layer.data), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}


def ring(radius, n=24, centre=CENTRE):
    angles = np.linspace(0, 2 * np.pi, n)
    return [(centre[0] + radius * np.sin(a), centre[1] + radius * np.cos(a)) for a in angles]


def setup(viewer, fish, image, labels):
    viewer.add_image(image, name="cells")
    layer = viewer.add_labels(labels, **segmentation_layer_kwargs(Document(fish), "seg"))
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    viewer.layers.selection.active = layer
    return layer, dock


def test_a_scribble_in_and_round_a_cell_paints_the_cell(make_napari_viewer, fish):
    viewer = make_napari_viewer(show=True)
    image, cell = cell_image()
    layer, dock = setup(viewer, fish, image, np.zeros(image.shape, dtype=np.uint32))
    label_id = binding_of(layer).start_instance(ORANGE_FISH)
    layer.brush_size = 4
    key_press(viewer, "r")
    scribbler = scribbler_of(layer)
    assert scribbler.active and dock.scribble_panel.scribble_button.isChecked()
    assert str(layer.mode) == "pan_zoom" and not layer.mouse_pan
    stroke(layer, [(48, 45), (52, 55)])  # inside
    stroke(layer, ring(RADIUS + 8), modifiers=("Shift",))  # round it: background
    assert PREVIEW_NAME in viewer.layers  # the preview
    assert viewer.layers.selection.active is layer
    assert not np.asarray(layer.data).any()  # nothing painted before Enter
    assert dock.scribble_panel.apply_button.isEnabled()
    steps = len(layer._undo_history)
    key_press(viewer, "Enter")
    painted = np.asarray(layer.data) == label_id
    np.testing.assert_array_equal(painted, cell)
    assert binding_of(layer).document.instance(label_id).schema_id == ORANGE_FISH
    assert len(layer._undo_history) == steps + 1
    assert PREVIEW_NAME not in viewer.layers
    assert table_counts(dock) == unique_counts(layer)
    layer.undo()
    assert not np.asarray(layer.data).any()
    assert table_counts(dock) == unique_counts(layer)
    # Escape drops the scribbles; R again turns the tool off
    stroke(layer, [(48, 45), (52, 55)])
    key_press(viewer, "Escape")
    assert not scribbler.has_scribbles and PREVIEW_NAME not in viewer.layers
    key_press(viewer, "r")
    assert not scribbler.active and layer.mouse_pan


def test_random_walker_and_draw_to_back_and_locks(make_napari_viewer, fish):
    viewer = make_napari_viewer(show=True)
    image, cell = cell_image()
    labels = np.zeros(image.shape, dtype=np.uint32)
    labels[45:55, 60:70] = 7  # another object overlapping the cell's right side
    layer, dock = setup(viewer, fish, image, labels.copy())
    binding = binding_of(layer)
    binding.assign(7, ORANGE_FISH)
    label_id = binding.start_instance(ORANGE_FISH)
    scribbler = scribbler_of(layer)
    scribbler.start()
    dock.scribble_panel.method.setCurrentIndex(1)
    assert scribbler.method == "random_walker"
    layer.brush_size = 4
    scribbler.add_stroke([(48, 45), (52, 55)])
    scribbler.add_stroke(ring(RADIUS + 8), background=True)
    np.testing.assert_array_equal(scribbler.region, cell[scribbler.window])
    layer.preserve_labels = True
    scribbler.commit()
    after = np.asarray(layer.data)
    np.testing.assert_array_equal(after == 7, labels == 7)  # draw to back: 7 stays
    np.testing.assert_array_equal(after == label_id, cell & (labels == 0))
    layer.undo()
    layer.preserve_labels = False
    binding.document.set_locked(7, True)
    scribbler.add_stroke([(48, 45), (52, 55)])
    scribbler.add_stroke(ring(RADIUS + 8), background=True)
    scribbler.commit()
    np.testing.assert_array_equal(np.asarray(layer.data) == 7, labels == 7)  # locked
    assert table_counts(dock) == unique_counts(layer)


def test_a_stack_is_scribbled_on_the_current_plane(make_napari_viewer, fish):
    viewer = make_napari_viewer(show=True)
    plane, cell = cell_image()
    image = np.stack([plane * 0 + 40, plane, plane])
    layer, dock = setup(viewer, fish, image, np.zeros(image.shape, dtype=np.uint32))
    label_id = binding_of(layer).start_instance(ORANGE_FISH)
    viewer.dims.set_current_step(0, 1)
    layer.brush_size = 4
    key_press(viewer, "r")
    stroke(layer, [(1, 48, 45), (1, 52, 55)], dims_displayed=(1, 2))
    stroke(layer, [(1, *p) for p in ring(RADIUS + 8)], dims_displayed=(1, 2), modifiers=("Shift",))
    key_press(viewer, "Enter")
    after = np.asarray(layer.data)
    np.testing.assert_array_equal(after[1] == label_id, cell)
    assert not after[0].any() and not after[2].any()
    assert table_counts(dock) == unique_counts(layer)


def test_removing_the_layer_turns_the_tool_off(make_napari_viewer, fish):
    viewer = make_napari_viewer(show=True)
    image, _cell = cell_image()
    layer, _dock = setup(viewer, fish, image, np.zeros(image.shape, dtype=np.uint32))
    binding_of(layer).start_instance(ORANGE_FISH)
    scribbler = scribbler_of(layer)
    scribbler.start()
    scribbler.add_stroke([(48, 45), (52, 55)])
    assert PREVIEW_NAME in viewer.layers
    viewer.layers.remove(layer)
    assert not scribbler.active and PREVIEW_NAME not in viewer.layers
    assert scribbler._on_drag not in layer.mouse_drag_callbacks


def test_the_preview_follows_the_drag_and_needs_an_image(make_napari_viewer, fish, monkeypatch):
    from napari_segtool._napari import scribble as scribble_glue
    from tests.napari_input import drag_to, press, release

    viewer = make_napari_viewer(show=True)
    image, cell = cell_image()
    layer, _dock = setup(viewer, fish, image, np.zeros(image.shape, dtype=np.uint32))
    binding_of(layer).start_instance(ORANGE_FISH)
    scribbler = scribbler_of(layer)
    scribbler.start()
    stroke(layer, [(50, 50), (51, 51)])
    monkeypatch.setattr(scribble_glue, "PREVIEW_INTERVAL", 0.0)
    points = ring(RADIUS + 8)
    press(layer, points[0], modifiers=("Shift",))
    for point in points[1:]:
        drag_to(layer, point, modifiers=("Shift",))
    # still dragging: the region is already the cell
    np.testing.assert_array_equal(scribbler.region, cell[scribbler.window])
    release(layer, points[-1], modifiers=("Shift",))
    scribbler.cancel()
    viewer.layers.remove("cells")
    stroke(layer, [(50, 50), (51, 51)])
    assert scribbler.region is None  # no image to grow on: nothing proposed
    scribbler.commit()
    assert not np.asarray(layer.data).any()
