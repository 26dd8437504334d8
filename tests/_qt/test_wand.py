"""The magic wand on a real viewer: clicks and drags through the layer's mouse callbacks.

Images are synthetic with known objects (disks of uniform intensity on a
ramp background), so the committed pixels are compared exactly with the disk.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.canvas_tool import is_helper_layer
from napari_segtool._napari.painter import paint
from napari_segtool._napari.wand import PREVIEW, TOLERANCE_PER_PIXEL, wand_of
from napari_segtool.model.document import Document
from napari_segtool.tools.edit import ProposedEdit
from tests.napari_input import click, drag_to, key_press, press, release

ORANGE_FISH, BLUE_FISH = "cjxtjkpjai8t80846iwqaa1d8", "cjxtjkpjai8t90846yzpbpo7t"
SHAPE = (80, 100)


def disk(centre, radius, shape=SHAPE) -> np.ndarray:
    rows, cols = np.indices(shape)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def cells_image() -> np.ndarray:
    """Two bright disks (200 and 120) on a dim, slowly varying background."""
    image = (np.indices(SHAPE)[1] * 0.3).astype(np.float32)  # 0 .. 30
    image[disk((30, 30), 12)] = 200
    image[disk((50, 70), 9)] = 120
    return image


def table_counts(dock) -> dict[int, int]:
    model = dock.table_model
    rows = range(model.rowCount())
    return {model.data(model.index(r, 0)): model.data(model.index(r, 2)) for r in rows}


def unique_counts(layer) -> dict[int, int]:
    values, counts = np.unique(np.asarray(layer.data), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}


@pytest.fixture
def scene(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    viewer.add_image(cells_image(), name="cells", contrast_limits=(0, 255))
    layer = viewer.add_labels(
        np.zeros(SHAPE, dtype=np.uint16), **segmentation_layer_kwargs(Document(fish), "cells")
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    binding = binding_of(layer)
    return viewer, layer, dock, binding


def test_a_click_fills_exactly_the_disk_as_one_undo_step(scene):
    viewer, layer, dock, binding = scene
    label = binding.start_instance(ORANGE_FISH)
    wand = wand_of(layer)
    wand.activate()
    assert wand.active and layer.mode == "pan_zoom" and not layer.mouse_pan
    steps = len(layer._undo_history)
    click(layer, (30, 30))
    np.testing.assert_array_equal(np.asarray(layer.data) == label, disk((30, 30), 12))
    assert len(layer._undo_history) == steps + 1
    assert table_counts(dock) == unique_counts(layer)
    assert binding.document.instances[label].schema_id == ORANGE_FISH
    layer.undo()
    assert not np.asarray(layer.data).any()
    assert table_counts(dock) == unique_counts(layer)


def ringed_image() -> np.ndarray:
    """A disk of 200 inside a ring of 170 on a background of 0."""
    image = np.zeros(SHAPE, dtype=np.uint8)
    image[disk((40, 50), 20)] = 170
    image[disk((40, 50), 10)] = 200
    return image


def test_dragging_changes_the_tolerance_live_with_a_preview_outline(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    viewer.add_image(ringed_image(), name="rings")
    layer = viewer.add_labels(
        np.zeros(SHAPE, dtype=np.uint16), **segmentation_layer_kwargs(Document(fish), "rings")
    )
    label = binding_of(layer).start_instance(ORANGE_FISH)
    wand = wand_of(layer)
    wand.tolerance = 5  # 5 % of 255: the disk only
    wand.activate()
    press(layer, (40, 50), pos=(300, 300))
    preview = wand.overlay(PREVIEW)
    assert preview is not None and preview in viewer.layers and is_helper_layer(preview)
    assert viewer.layers.selection.active is layer  # the clicks stay with the labels
    np.testing.assert_array_equal(wand.proposed.full_mask(SHAPE), disk((40, 50), 10))
    assert not np.asarray(layer.data).any()  # a preview, nothing written
    outline_pixels = int(np.asarray(preview.data).sum())
    drag_to(layer, (40, 50), pos=(300 + 20 / TOLERANCE_PER_PIXEL, 300))  # +20 %: the ring too
    assert wand.tolerance == pytest.approx(25)
    np.testing.assert_array_equal(wand.proposed.full_mask(SHAPE), disk((40, 50), 20))
    assert int(np.asarray(preview.data).sum()) > outline_pixels  # the outline grew
    release(layer, (40, 50), pos=(300 + 20 / TOLERANCE_PER_PIXEL, 300))
    np.testing.assert_array_equal(np.asarray(layer.data) == label, disk((40, 50), 20))
    assert not preview.visible  # kept for the next click, hidden
    wand.deactivate()
    assert wand.overlay(PREVIEW) is None and preview not in viewer.layers
    wand.activate()
    # the next click starts from the dragged tolerance
    assert wand.tolerance == pytest.approx(25)


def test_click_replaces_shift_adds_alt_removes(scene):
    viewer, layer, dock, binding = scene
    label = binding.start_instance(ORANGE_FISH)
    wand = wand_of(layer)
    wand.activate()
    big, small = disk((30, 30), 12), disk((50, 70), 9)
    click(layer, (30, 30))
    click(layer, (50, 70), modifiers=("Shift",))
    np.testing.assert_array_equal(np.asarray(layer.data) == label, big | small)
    click(layer, (30, 30), modifiers=("Alt",))
    np.testing.assert_array_equal(np.asarray(layer.data) == label, small)
    click(layer, (30, 30))  # replace: the instance becomes the clicked region
    np.testing.assert_array_equal(np.asarray(layer.data) == label, big)
    assert table_counts(dock) == unique_counts(layer)
    for _ in range(4):
        layer.undo()
    assert not np.asarray(layer.data).any()
    assert table_counts(dock) == unique_counts(layer)


def test_a_new_instance_keeps_the_wand_on_and_another_mode_turns_it_off(scene):
    viewer, layer, dock, binding = scene
    first = binding.start_instance(ORANGE_FISH)
    wand = wand_of(layer)
    key_press(viewer, "w")
    assert wand.active and dock.pen_panel.wand_button.isChecked()
    click(layer, (30, 30))
    key_press(viewer, "n")  # the next nucleus
    second = int(layer.selected_label)
    assert second != first and wand.active
    click(layer, (50, 70))
    data = np.asarray(layer.data)
    np.testing.assert_array_equal(data == first, disk((30, 30), 12))
    np.testing.assert_array_equal(data == second, disk((50, 70), 9))
    assert binding.document.instances[second].schema_id == ORANGE_FISH
    assert table_counts(dock) == unique_counts(layer)
    layer.mode = "paint"
    assert not wand.active and not dock.pen_panel.wand_button.isChecked()
    assert layer.mouse_drag_callbacks.count(wand._drag_callback) == 0


def test_locked_instances_and_draw_to_back_hold(scene):
    viewer, layer, dock, binding = scene
    background = binding.start_instance(BLUE_FISH)
    band = np.zeros(SHAPE, dtype=bool)
    band[40:50] = True  # a band over the top half of the small disk
    paint(layer, ProposedEdit.from_mask(band, background))
    binding.document.set_locked(background, True)
    label = binding.start_instance(ORANGE_FISH)
    wand = wand_of(layer)
    wand.activate()
    before = np.asarray(layer.data).copy()
    click(layer, (50, 70))
    small = disk((50, 70), 9)
    data = np.asarray(layer.data)
    np.testing.assert_array_equal(data == background, before == background)  # locked: kept
    np.testing.assert_array_equal(data == label, small & (before == 0))
    assert (data == label).any() and (small & (before == background)).any()
    binding.document.set_locked(background, False)
    layer.undo()
    layer.preserve_labels = True  # draw to back: only unlabelled pixels
    click(layer, (50, 70))
    data = np.asarray(layer.data)
    np.testing.assert_array_equal(data == label, small & (before == 0))
    layer.preserve_labels = False
    layer.undo()
    click(layer, (50, 70))
    np.testing.assert_array_equal(np.asarray(layer.data) == label, small)
    assert table_counts(dock) == unique_counts(layer)


def test_rgb_images_flood_by_colour_distance(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    image = np.zeros((*SHAPE, 3), dtype=np.uint8)
    image[..., 2] = 200  # blue background
    image[disk((30, 30), 12)] = (200, 0, 0)  # red disk: same brightness in one channel
    image[disk((30, 30), 6)] = (190, 10, 0)  # a near red core
    viewer.add_image(image, name="rgb", rgb=True)
    layer = viewer.add_labels(
        np.zeros(SHAPE, dtype=np.uint16), **segmentation_layer_kwargs(Document(fish), "rgb")
    )
    label = binding_of(layer).start_instance(ORANGE_FISH)
    wand = wand_of(layer)
    wand.tolerance = 10
    wand.activate()
    click(layer, (30, 30))
    np.testing.assert_array_equal(np.asarray(layer.data) == label, disk((30, 30), 12))


def test_multichannel_images_flood_in_every_channel(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    channels = np.zeros((2, *SHAPE), dtype=np.float32)
    channels[0][disk((30, 30), 12) | disk((50, 70), 9)] = 1.0  # both cells in channel 0
    channels[1][disk((50, 70), 9)] = 1.0  # only the second in channel 1
    channels[1][disk((30, 30), 12)] = 0.5
    viewer.add_image(channels, channel_axis=0, name=["c0", "c1"], contrast_limits=[(0, 1)] * 2)
    layer = viewer.add_labels(
        np.zeros(SHAPE, dtype=np.uint16), **segmentation_layer_kwargs(Document(fish), "c")
    )
    label = binding_of(layer).start_instance(ORANGE_FISH)
    wand = wand_of(layer)
    wand.tolerance = 20
    wand.activate()
    click(layer, (30, 30))
    np.testing.assert_array_equal(np.asarray(layer.data) == label, disk((30, 30), 12))


def ball(centre, radius, shape) -> np.ndarray:
    grid = np.indices(shape)
    return sum((g - c) ** 2 for g, c in zip(grid, centre, strict=True)) <= radius**2


def test_on_a_stack_the_wand_floods_the_plane_or_the_volume(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    shape = (12, 40, 40)
    image = np.zeros(shape, dtype=np.uint8)
    image[ball((6, 20, 20), 5, shape)] = 200
    viewer.add_image(image, name="stack")
    layer = viewer.add_labels(
        np.zeros(shape, dtype=np.uint16), **segmentation_layer_kwargs(Document(fish), "stack")
    )
    binding = binding_of(layer)
    label = binding.start_instance(ORANGE_FISH)
    viewer.dims.set_current_step(0, 6)
    wand = wand_of(layer)
    wand.activate()
    click(layer, (6, 20, 20), dims_displayed=(1, 2))
    expected = np.zeros(shape, dtype=bool)
    expected[6] = ball((6, 20, 20), 5, shape)[6]
    np.testing.assert_array_equal(np.asarray(layer.data) == label, expected)
    wand.three_d = True
    click(layer, (6, 20, 20), dims_displayed=(1, 2))  # replace, now in the volume
    np.testing.assert_array_equal(np.asarray(layer.data) == label, ball((6, 20, 20), 5, shape))
    assert binding.pixel_counts[label] == int(ball((6, 20, 20), 5, shape).sum())
    layer.undo()
    np.testing.assert_array_equal(np.asarray(layer.data) == label, expected)


def test_removing_the_label_layer_turns_the_wand_off_and_takes_its_preview(scene):
    viewer, layer, dock, binding = scene
    wand = wand_of(layer)
    wand.activate()
    preview = wand.overlay(PREVIEW)
    assert preview in viewer.layers
    viewer.layers.remove(layer)
    assert not wand.active and preview not in viewer.layers


def test_one_assist_tool_at_a_time_wand_superpixels_and_scribble(scene):
    from napari_segtool._napari.scribble import scribbler_of
    from napari_segtool._napari.superpixels import superpixels_of

    viewer, layer, dock, binding = scene
    binding.start_instance(ORANGE_FISH)
    wand, scribbler = wand_of(layer), scribbler_of(layer)
    key_press(viewer, "r")
    assert scribbler.active and dock.scribble_panel.scribble_button.isChecked()
    key_press(viewer, "w")  # the wand takes over: the scribbles' drags would take the click
    assert wand.active and not scribbler.active
    assert not dock.scribble_panel.scribble_button.isChecked()
    key_press(viewer, "r")
    assert scribbler.active and not wand.active and not dock.pen_panel.wand_button.isChecked()
    assert layer.mouse_drag_callbacks.count(wand._drag_callback) == 0
    key_press(viewer, "s")
    assert superpixels_of(layer).active and not scribbler.active
    click(layer, (30, 30))  # one tool answers the click; the others left no callbacks behind
    assert layer.mouse_drag_callbacks.count(scribbler._on_drag) == 0
