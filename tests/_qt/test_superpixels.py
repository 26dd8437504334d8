"""The superpixel tool on a real viewer: the dock's worker thread, clicks and brush strokes.

The committed pixels are compared exactly with the superpixels the click or
the stroke touched (the tool's own SLIC labels, placed at their window).
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.segmentation import find_boundaries

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.canvas_tool import is_helper_layer
from napari_segtool._napari.painter import paint
from napari_segtool._napari.superpixels import BOUNDARIES, superpixels_of
from napari_segtool._napari.wand import wand_of
from napari_segtool.model.document import Document
from napari_segtool.tools.edit import ProposedEdit
from tests.napari_input import click, key_press, stroke

ORANGE_FISH, BLUE_FISH = "cjxtjkpjai8t80846iwqaa1d8", "cjxtjkpjai8t90846yzpbpo7t"
SHAPE = (96, 128)


def blocks_image(shape=SHAPE) -> np.ndarray:
    """Blocks of different brightness with a little noise: superpixels follow their edges."""
    rng = np.random.default_rng(3)
    rows, cols = np.indices(shape)
    image = ((rows // 24 + cols // 32) % 4) * 60.0 + rng.normal(0, 4, shape)
    return image.astype(np.float32)


def table_counts(dock) -> dict[int, int]:
    model = dock.table_model
    rows = range(model.rowCount())
    return {model.data(model.index(r, 0)): model.data(model.index(r, 2)) for r in rows}


def unique_counts(layer) -> dict[int, int]:
    values, counts = np.unique(np.asarray(layer.data), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}


def placed(superpixels, ids, shape) -> np.ndarray:
    """The chosen superpixels as a mask of the whole label array."""
    full = np.zeros(shape, dtype=bool)
    full[superpixels.region] = np.isin(superpixels.labels, list(ids))
    return full


def brush_ids(superpixels, points, radius) -> set[int]:
    """What a stroke through ``points`` takes: the pressed superpixel, then the brush's."""
    labels = superpixels.labels.reshape(SHAPE)
    rows, cols = np.indices(SHAPE)
    found = {labels[points[0]]}
    for r, c in points[1:]:
        found |= set(np.unique(labels[(rows - r) ** 2 + (cols - c) ** 2 <= (radius + 0.5) ** 2]))
    return {int(i) for i in found if i}


@pytest.fixture
def scene(make_napari_viewer, fish, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(blocks_image(), name="blocks", contrast_limits=(0, 255))
    layer = viewer.add_labels(
        np.zeros(SHAPE, dtype=np.uint16), **segmentation_layer_kwargs(Document(fish), "blocks")
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    binding = binding_of(layer)
    return viewer, layer, dock, binding


def switch_on(dock, layer, qtbot):
    tool = superpixels_of(layer)
    dock.pen_panel.superpixel_size.setValue(12)
    key_press(dock.viewer, "s")
    assert tool.active and layer.mode == "pan_zoom"
    assert dock.pen_panel.superpixels_button.isChecked()
    qtbot.waitUntil(lambda: tool.current is not None, timeout=30000)
    assert not dock.pen_panel.superpixel_progress.isVisible()
    return tool


def test_computed_in_the_background_with_boundaries_shown_while_on(scene, qtbot):
    viewer, layer, dock, binding = scene
    tool = superpixels_of(layer)
    dock.pen_panel.superpixel_size.setValue(12)
    assert tool.size == 12
    dock.pen_panel.superpixels_button.click()
    assert tool.pending is not None  # handed to the worker thread
    assert not dock.pen_panel.superpixel_progress.isHidden()  # the busy bar
    qtbot.waitUntil(lambda: tool.current is not None, timeout=30000)
    assert dock.pen_panel.superpixel_progress.isHidden()
    assert tool.current.region == (slice(0, 96), slice(0, 128))
    assert 40 <= tool.current.count <= 130  # about 96 * 128 / 12**2 = 85
    overlay = tool.overlay(BOUNDARIES)
    assert overlay in viewer.layers and is_helper_layer(overlay)
    assert viewer.layers.selection.active is layer
    np.testing.assert_array_equal(
        np.asarray(overlay.data) > 0, find_boundaries(tool.current.labels, mode="inner")
    )
    computed = tool.current
    dock.pen_panel.superpixels_button.click()  # off: the overlay goes
    assert not tool.active and overlay not in viewer.layers
    dock.pen_panel.superpixels_button.click()  # on again: from the cache, at once
    assert tool.pending is None and tool.current is computed
    wand_of(layer).activate()  # one canvas tool at a time
    assert not tool.active and not dock.pen_panel.superpixels_button.isChecked()


def test_a_click_assigns_exactly_the_superpixel_under_it(scene, qtbot):
    viewer, layer, dock, binding = scene
    label = binding.start_instance(ORANGE_FISH)
    tool = switch_on(dock, layer, qtbot)
    assert tool.active  # a new instance keeps the tool on
    chosen = int(tool.current.labels[30, 40])
    steps = len(layer._undo_history)
    click(layer, (30, 40))
    np.testing.assert_array_equal(
        np.asarray(layer.data) == label, placed(tool.current, {chosen}, SHAPE)
    )
    assert len(layer._undo_history) == steps + 1
    assert binding.document.instances[label].schema_id == ORANGE_FISH
    assert table_counts(dock) == unique_counts(layer)
    layer.undo()
    assert not np.asarray(layer.data).any()
    assert table_counts(dock) == unique_counts(layer)


def test_a_brush_stroke_assigns_every_superpixel_it_touches_in_one_step(scene, qtbot):
    viewer, layer, dock, binding = scene
    label = binding.start_instance(ORANGE_FISH)
    tool = switch_on(dock, layer, qtbot)
    layer.brush_size = 5
    points = [(20, 10), (22, 30), (25, 50), (30, 70)]
    expected = brush_ids(tool.current, points, 2)
    assert len(expected) >= 3
    steps = len(layer._undo_history)
    stroke(layer, points)
    np.testing.assert_array_equal(
        np.asarray(layer.data) == label, placed(tool.current, expected, SHAPE)
    )
    assert len(layer._undo_history) == steps + 1
    assert table_counts(dock) == unique_counts(layer)
    one = int(tool.current.labels[22, 30])
    click(layer, (22, 30), modifiers=("Alt",))  # Alt removes it from the instance
    np.testing.assert_array_equal(
        np.asarray(layer.data) == label, placed(tool.current, expected - {one}, SHAPE)
    )
    layer.undo()
    layer.undo()
    assert not np.asarray(layer.data).any()
    assert table_counts(dock) == unique_counts(layer)


def test_locked_instances_and_draw_to_back_hold(scene, qtbot):
    viewer, layer, dock, binding = scene
    other = binding.start_instance(BLUE_FISH)
    band = np.zeros(SHAPE, dtype=bool)
    band[:, 38:42] = True
    paint(layer, ProposedEdit.from_mask(band, other))
    label = binding.start_instance(ORANGE_FISH)
    tool = switch_on(dock, layer, qtbot)
    chosen = {int(tool.current.labels[30, 40]), int(tool.current.labels[60, 40])}
    superpixel_mask = placed(tool.current, chosen, SHAPE)
    assert (superpixel_mask & band).any() and (superpixel_mask & ~band).any()
    binding.document.set_locked(other, True)
    stroke(layer, [(30, 40), (45, 40), (60, 40)])
    touched = brush_ids(tool.current, [(30, 40), (45, 40), (60, 40)], int(layer.brush_size) // 2)
    expected = placed(tool.current, touched, SHAPE)
    data = np.asarray(layer.data)
    np.testing.assert_array_equal(data == other, band)  # locked: kept whole
    np.testing.assert_array_equal(data == label, expected & ~band)
    binding.document.set_locked(other, False)
    layer.undo()
    layer.preserve_labels = True
    stroke(layer, [(30, 40), (45, 40), (60, 40)])
    data = np.asarray(layer.data)
    np.testing.assert_array_equal(data == other, band)  # draw to back: behind the band
    np.testing.assert_array_equal(data == label, expected & ~band)
    layer.preserve_labels = False
    layer.undo()
    stroke(layer, [(30, 40), (45, 40), (60, 40)])
    np.testing.assert_array_equal(np.asarray(layer.data) == label, expected)
    assert table_counts(dock) == unique_counts(layer)


def test_on_a_stack_superpixels_are_of_the_current_plane(make_napari_viewer, fish, qtbot):
    viewer = make_napari_viewer()
    shape = (5, *SHAPE)
    image = np.stack([np.roll(blocks_image(), 7 * z, axis=1) for z in range(shape[0])])
    viewer.add_image(image, name="stack", contrast_limits=(0, 255))
    layer = viewer.add_labels(
        np.zeros(shape, dtype=np.uint16), **segmentation_layer_kwargs(Document(fish), "stack")
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    binding = binding_of(layer)
    label = binding.start_instance(ORANGE_FISH)
    viewer.dims.set_current_step(0, 2)
    tool = switch_on(dock, layer, qtbot)
    assert tool.current.region == (slice(2, 3), slice(0, 96), slice(0, 128))
    overlay = tool.overlay(BOUNDARIES)
    assert overlay.data.shape == (1, 96, 128) and overlay.translate[0] == 2
    chosen = int(tool.current.labels[0, 30, 40])
    click(layer, (2, 30, 40), dims_displayed=(1, 2))
    np.testing.assert_array_equal(
        np.asarray(layer.data) == label, placed(tool.current, {chosen}, shape)
    )
    first = tool.current
    viewer.dims.set_current_step(0, 4)
    click(layer, (4, 30, 40), dims_displayed=(1, 2))  # outside the window: computes plane 4
    qtbot.waitUntil(lambda: tool.current is not first, timeout=30000)
    assert tool.current.region[0] == slice(4, 5)
    click(layer, (4, 30, 40), dims_displayed=(1, 2))
    chosen4 = int(tool.current.labels[0, 30, 40])
    expected = placed(first, {chosen}, shape) | placed(tool.current, {chosen4}, shape)
    np.testing.assert_array_equal(np.asarray(layer.data) == label, expected)
    assert binding.pixel_counts[label] == int(expected.sum())
    assert table_counts(dock) == unique_counts(layer)
