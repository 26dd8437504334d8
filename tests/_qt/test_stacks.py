"""Stacks and time series: segmentation layers over an image's axes, the main command on
TIFF hyperstacks, the table's Slices column, Centre, forms per instance, the 3-D sample."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile
from napari.layers import Image, Labels
from qtpy.QtCore import Qt

from napari_segtool import PLUGIN_NAME, load_default_ontology
from napari_segtool.__main__ import open_viewer
from napari_segtool._napari.binding import (
    binding_of,
    document_of,
    is_segmentation_layer,
    segmentation_layer_kwargs,
)
from napari_segtool._napari.commands import new_segmentation_layer
from napari_segtool._napari.painter import paint
from napari_segtool._qt.instance_table import RANGE_DASH, SLICES_COLUMN
from napari_segtool.formats.tiff_stack import read_tiff_stack
from napari_segtool.model.document import METADATA_KEY, Document
from napari_segtool.tools.edit import ProposedEdit
from tests._qt.test_forms import (
    BLURRY,
    DAYLIGHT,
    LIGHTING,
    ORANGE_FISH,
    WHY,
    YES,
    radio_button,
)
from tests.napari_input import stroke

EXPECTED = {BLURRY: {YES: {WHY: "motion blur"}}}


def segmentation_layers(viewer) -> list[Labels]:
    return [layer for layer in viewer.layers if is_segmentation_layer(layer)]


def labels_for(viewer, image) -> Labels:
    viewer.layers.selection.active = image
    new_segmentation_layer(viewer)  # Layers > Annotate > New segmentation layer…
    (labels,) = segmentation_layers(viewer)
    return labels


# -- segmentation layers over an image's axes ----------------------------------------------
@pytest.mark.parametrize(
    ("shape", "axis_labels"),
    [
        ((40, 50), ("y", "x")),
        ((6, 40, 50), ("z", "y", "x")),
        ((3, 6, 40, 50), ("t", "z", "y", "x")),
        ((2, 3, 6, 40, 50), ("t", "z", "v", "y", "x")),
    ],
)
def test_the_layer_has_the_images_axes_scale_and_translate(make_napari_viewer, shape, axis_labels):
    viewer = make_napari_viewer()
    ndim = len(shape)
    scale = tuple(float(n + 1) / 2 for n in range(ndim))
    translate = tuple(float(10 * n) for n in range(ndim))
    image = viewer.add_image(
        np.zeros(shape, np.uint8), scale=scale, translate=translate, axis_labels=axis_labels
    )
    labels = labels_for(viewer, image)
    assert labels.data.shape == shape
    np.testing.assert_array_equal(labels.scale, scale)
    np.testing.assert_array_equal(labels.translate, translate)
    assert tuple(labels.axis_labels) == axis_labels
    assert viewer.dims.ndim == ndim  # the labels lie exactly over the image: no extra axis


def test_a_channel_axis_in_one_layer_is_dropped(make_napari_viewer):
    """A T,Z,C,Y,X hyperstack in one layer (napari's own TIFF reader): no channel axis."""
    viewer = make_napari_viewer()
    image = viewer.add_image(
        np.zeros((2, 5, 3, 30, 40), np.uint16),
        axis_labels=("t", "z", "c", "y", "x"),
        scale=(60.0, 2.0, 1.0, 0.5, 0.5),
        translate=(0.0, 4.0, 0.0, 1.0, 2.0),
    )
    labels = labels_for(viewer, image)
    assert labels.data.shape == (2, 5, 30, 40)
    assert tuple(labels.axis_labels) == ("t", "z", "y", "x")
    np.testing.assert_array_equal(labels.scale, (60.0, 2.0, 0.5, 0.5))
    np.testing.assert_array_equal(labels.translate, (0.0, 4.0, 1.0, 2.0))


def test_channels_split_into_layers_and_rgb_stacks(make_napari_viewer):
    viewer = make_napari_viewer()
    channels = viewer.add_image(
        np.zeros((2, 5, 3, 30, 40), np.uint16),
        channel_axis=2,
        axis_labels=("t", "z", "y", "x"),
        scale=(60.0, 2.0, 0.5, 0.5),
    )
    labels = labels_for(viewer, channels[1])
    assert labels.data.shape == (2, 5, 30, 40)
    assert tuple(labels.axis_labels) == ("t", "z", "y", "x")
    np.testing.assert_array_equal(labels.scale, (60.0, 2.0, 0.5, 0.5))

    viewer = make_napari_viewer()
    rgb = viewer.add_image(
        np.zeros((7, 30, 40, 3), np.uint8), rgb=True, scale=(3.0, 1.0, 1.0), axis_labels="zyx"
    )
    labels = labels_for(viewer, rgb)
    assert labels.data.shape == (7, 30, 40) and labels.ndim == 3
    np.testing.assert_array_equal(labels.scale, (3.0, 1.0, 1.0))


# -- the main command on TIFF stacks ------------------------------------------------------
def write_hyperstack(path, shape=(3, 4, 2, 24, 32)):
    data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        metadata={"axes": "TZCYX", "spacing": 2.5, "finterval": 30.0, "unit": "um"},
        resolution=(4.0, 4.0),  # pixels per µm: 0.25 µm pixels
    )
    return data


def test_the_main_command_opens_an_imagej_hyperstack(make_napari_viewer, tmp_path):
    path = tmp_path / "embryo.tif"
    data = write_hyperstack(path)
    viewer = make_napari_viewer()
    open_viewer(viewer, [str(path)])
    images = [layer for layer in viewer.layers if isinstance(layer, Image)]
    assert len(images) == 2  # one layer per channel
    for channel, image in enumerate(images):
        np.testing.assert_array_equal(image.data, data[:, :, channel])
        assert tuple(image.axis_labels) == ("t", "z", "y", "x")
        assert str(image.source.path) == str(path)
    (labels,) = segmentation_layers(viewer)
    assert labels.data.shape == (3, 4, 24, 32)
    assert tuple(labels.axis_labels) == ("t", "z", "y", "x")
    np.testing.assert_allclose(labels.scale, (30.0, 2.5, 0.25, 0.25))
    assert document_of(labels).source["image_path"] == str(path)
    assert viewer.dims.ndim == 4


def test_the_main_command_opens_plain_page_stacks_and_rgb_tiffs(make_napari_viewer, tmp_path):
    pages = tmp_path / "pages.tif"
    tifffile.imwrite(pages, np.zeros((9, 20, 30), np.uint8))
    viewer = make_napari_viewer()
    open_viewer(viewer, [str(pages)])
    (labels,) = segmentation_layers(viewer)
    assert labels.data.shape == (9, 20, 30) and tuple(labels.axis_labels) == ("z", "y", "x")

    colour = tmp_path / "colour.tif"
    tifffile.imwrite(colour, np.zeros((20, 30, 3), np.uint8), photometric="rgb")
    viewer = make_napari_viewer()
    open_viewer(viewer, [str(colour)])
    (image,) = [layer for layer in viewer.layers if isinstance(layer, Image)]
    (labels,) = segmentation_layers(viewer)
    assert image.rgb and labels.data.shape == (20, 30)


def test_an_unreadable_tiff_is_named(make_napari_viewer, tmp_path):
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00 not really a tiff")
    with pytest.raises(ValueError, match=r"broken\.tif"):
        read_tiff_stack(broken)
    with pytest.raises(ValueError, match=r"broken\.tif: "):
        open_viewer(make_napari_viewer(), [str(broken)])
    # the script says so and exits (its own process: napari's app registers its plugins once)
    script = (
        f"import sys\nfrom napari_segtool.__main__ import main\nsys.exit(main([{str(broken)!r}]))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 2, done.stderr
    assert "napari-segtool: " in done.stderr and "broken.tif: " in done.stderr


# -- the table's slice ranges and Centre ------------------------------------------------------
def stack_dock(viewer, shape, axis_labels):
    layer = viewer.add_labels(
        np.zeros(shape, dtype=np.uint32),
        **segmentation_layer_kwargs(
            Document(load_default_ontology()), "stack", axis_labels=axis_labels
        ),
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    return layer, dock


def slices_of(dock, label_id) -> str:
    model = dock.table_model
    return model.data(model.index(model.row_of(label_id), SLICES_COLUMN))


def span(first, last) -> str:
    return f"{first}{RANGE_DASH}{last}"


def test_slice_ranges_follow_paint_undo_and_erase_in_3d(make_napari_viewer):
    viewer = make_napari_viewer()
    layer, dock = stack_dock(viewer, (30, 64, 64), ("z", "y", "x"))
    binding = binding_of(layer)
    schema = binding.document.ontology.segmentation_classes[0].feature_schema_id
    assert not dock.table.isColumnHidden(SLICES_COLUMN)
    nucleus = binding.start_instance(schema)
    layer.brush_size = 6
    for z in (10, 14, 20):
        layer.paint((z, 30, 30), nucleus)  # napari's brush, one plane
    assert slices_of(dock, nucleus) == f"z {span(10, 20)}"
    other = binding.start_instance(schema)
    layer.paint((5, 10, 10), other)
    assert slices_of(dock, other) == "z 5"
    # an edit through the painter (what the plugin's tools do)
    mask = np.ones((3, 4, 4), bool)
    paint(layer, ProposedEdit((slice(24, 27), slice(40, 44), slice(40, 44)), mask, nucleus))
    assert slices_of(dock, nucleus) == f"z {span(10, 26)}"
    layer.undo()
    assert slices_of(dock, nucleus) == f"z {span(10, 20)}"
    layer.redo()
    assert slices_of(dock, nucleus) == f"z {span(10, 26)}"
    # erasing the ends shrinks the range (measured inside the instance's own box)
    paint(layer, ProposedEdit((slice(24, 27), slice(40, 44), slice(40, 44)), mask, 0))
    layer.paint((20, 30, 30), 0)
    assert slices_of(dock, nucleus) == f"z {span(10, 14)}"
    binding.delete_instance(other)
    assert dock.table_model.row_of(other) is None
    # the column names the axes off screen: in 3-D view there are none
    viewer.dims.ndisplay = 3
    assert slices_of(dock, nucleus) == "" and dock.table.isColumnHidden(SLICES_COLUMN)
    viewer.dims.ndisplay = 2
    assert not dock.table.isColumnHidden(SLICES_COLUMN)
    viewer.dims.order = (1, 0, 2)  # y on the slider now
    assert slices_of(dock, nucleus).startswith("y ")
    # every range equals a fresh measurement of the data
    extents = dock.table_model.extents
    for label_id in dock.table_model.label_ids():
        where = np.nonzero(np.asarray(layer.data) == label_id)
        expected = tuple((int(w.min()), int(w.max())) for w in where)
        assert extents.extent(label_id) == expected


def test_slice_ranges_and_centre_in_4d(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    layer, dock = stack_dock(viewer, (6, 20, 48, 48), ("t", "z", "y", "x"))
    binding = binding_of(layer)
    schema = binding.document.ontology.segmentation_classes[0].feature_schema_id
    track = binding.start_instance(schema)  # one cell followed through time: one id
    layer.brush_size = 5
    for t, z in ((1, 4), (2, 6), (4, 12)):
        layer.paint((t, z, 30, 36), track)
    assert slices_of(dock, track) == f"t {span(1, 4)}, z {span(4, 12)}"
    viewer.dims.current_step = (0, 0, 0, 0)
    viewer.scene.camera.center = (0.0, 0.0)
    # the row's context menu and its Centre action
    dock.select_rows([track])
    dock.centre_button.click()
    # the middle of t 1-4 is 2.5; the nearest frame holding it is 2, and slice 6 there
    assert tuple(viewer.dims.current_step[:2]) == (2, 6)
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], (30, 36), atol=1.5)


def test_the_row_menu_centres(make_napari_viewer, qtbot, monkeypatch):
    from qtpy.QtWidgets import QMenu

    viewer = make_napari_viewer(show=True)
    layer, dock = stack_dock(viewer, (30, 64, 64), ("z", "y", "x"))
    binding = binding_of(layer)
    schema = binding.document.ontology.segmentation_classes[0].feature_schema_id
    label_id = binding.start_instance(schema)
    layer.brush_size = 4
    for z in range(8, 19):
        layer.paint((z, 50, 12), label_id)
    viewer.dims.current_step = (0, 0, 0)
    chosen = []
    monkeypatch.setattr(QMenu, "exec_", lambda menu, *a: chosen.append(menu) or None)
    rect = dock.table.visualRect(dock.table_model.index(0, 0))
    dock.table.customContextMenuRequested.emit(rect.center())
    (menu,) = chosen
    (action,) = menu.actions()
    assert action.text().startswith("Centre")
    action.trigger()
    assert viewer.dims.current_step[0] == 13
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], (50, 12), atol=1.5)


def test_a_2d_layer_hides_the_slices_column(make_napari_viewer):
    viewer = make_napari_viewer()
    _layer, dock = stack_dock(viewer, (40, 40), ("y", "x"))
    assert dock.table.isColumnHidden(SLICES_COLUMN)


# -- forms belong to the instance, image questions to the stack -------------------------------
def test_answers_given_on_one_slice_show_on_another(make_napari_viewer, fish, qtbot):
    viewer = make_napari_viewer(show=True)
    layer = viewer.add_labels(
        np.zeros((30, 40, 40), dtype=np.uint32), **segmentation_layer_kwargs(Document(fish), "z")
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    binding = binding_of(layer)
    panel = dock.questions_panel
    fish_id = binding.start_instance(ORANGE_FISH)
    layer.brush_size = 6
    for z in (3, 20):
        viewer.dims.set_current_step(0, z)
        layer.paint((z, 20, 20), fish_id)
    viewer.dims.set_current_step(0, 3)
    binding.select_instance(fish_id)
    # through the widgets a labeler touches: Blurry? Yes, because "motion blur"
    qtbot.mouseClick(radio_button(panel.form.field(BLURRY), "Yes"), Qt.MouseButton.LeftButton)
    why = panel.form.field(WHY).input.native
    qtbot.keyClicks(why, "motion blur")
    qtbot.keyClick(why, Qt.Key.Key_Return)
    assert binding.document.instance(fish_id).answers == EXPECTED
    other = binding.start_instance(ORANGE_FISH)
    layer.paint((20, 5, 5), other)
    viewer.dims.set_current_step(0, 20)
    layer.selected_label = fish_id  # napari's picker on slice 20
    assert panel.label_id == fish_id and panel.form.value == EXPECTED
    assert panel.form.field(BLURRY).is_branch_shown(YES)
    assert panel.form.field(WHY).input.value == "motion blur"
    # one instance, one set of answers, wherever it is drawn
    stored = [i for i in layer.metadata[METADATA_KEY]["instances"] if i["label_id"] == fish_id]
    assert len(stored) == 1 and stored[0]["answers"] == EXPECTED
    # the image's questions belong to the stack: the same on every slice
    panel.image_form.field(LIGHTING).input.native.setCurrentIndex(1)
    viewer.dims.set_current_step(0, 3)
    assert binding.document.image_answers == {LIGHTING: {DAYLIGHT: {}}}
    assert panel.image_form.value == {LIGHTING: {DAYLIGHT: {}}}
    assert layer.metadata[METADATA_KEY]["image_answers"] == {LIGHTING: {DAYLIGHT: {}}}


def measured(layer, label_id) -> tuple[tuple[int, int], ...]:
    where = np.nonzero(np.asarray(layer.data) == label_id)
    return tuple((int(w.min()), int(w.max())) for w in where)


def test_slice_ranges_follow_drag_strokes_and_the_3d_brush(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    layer, dock = stack_dock(viewer, (24, 64, 64), ("z", "y", "x"))
    binding = binding_of(layer)
    schema = binding.document.ontology.segmentation_classes[0].feature_schema_id
    label_id = binding.start_instance(schema)
    layer.mode = "paint"
    layer.brush_size = 5
    for z in (4, 9):
        viewer.dims.set_current_step(0, z)
        stroke(layer, [(z, 10, 10), (z, 10, 40), (z, 30, 40)], dims_displayed=(1, 2))
    assert slices_of(dock, label_id) == f"z {span(4, 9)}"
    assert dock.table_model.extents.extent(label_id) == measured(layer, label_id)
    # napari's 3-D brush (n_edit_dimensions = 3) paints a ball through the planes
    layer.n_edit_dimensions = 3
    viewer.dims.set_current_step(0, 16)
    layer.brush_size = 7
    stroke(layer, [(16, 50, 50), (16, 52, 52)], dims_displayed=(1, 2))
    assert slices_of(dock, label_id) == f"z {span(4, 19)}"
    assert dock.table_model.extents.extent(label_id) == measured(layer, label_id)
    # napari's 3-D eraser takes the ball away again: the range shrinks back
    layer.mode = "erase"
    stroke(layer, [(16, 50, 50), (16, 52, 52)], dims_displayed=(1, 2))
    assert slices_of(dock, label_id) == f"z {span(4, 9)}"
    assert dock.table_model.extents.extent(label_id) == measured(layer, label_id)
    layer.undo()
    assert dock.table_model.extents.extent(label_id) == measured(layer, label_id)
    assert slices_of(dock, label_id) == f"z {span(4, 19)}"


def test_axes_without_names_are_numbered():
    from napari_segtool._qt.instance_table import axis_name

    assert axis_name(("-3", "-2", "-1"), 0) == "axis 0"
    assert axis_name(("t", "z", "y", "x"), 1) == "z"
