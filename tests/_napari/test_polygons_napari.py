"""Polygons and COCO in a real viewer: menu command, Shapes layer, shapes to instance, save/open."""

from __future__ import annotations

import json

import numpy as np
import pytest
from napari.layers import Labels, Shapes
from napari.utils.colormaps.standardize_color import transform_color

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of, is_segmentation_layer
from napari_segtool._napari.polygons import (
    POLYGONS_METADATA_KEY,
    labels_to_shapes,
    shapes_to_instance,
)
from napari_segtool._qt.polygons_widget import PolygonsWidget
from napari_segtool.formats.polygons import ring_to_mask
from napari_segtool.model.document import DocumentError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

COMMAND = f"{PLUGIN_NAME}.labels_to_shapes"


def open_sample(viewer):
    viewer.open_sample(PLUGIN_NAME, "cells")
    image, labels = viewer.layers
    return image, labels


def class_ids(labels: Labels) -> dict[str, str]:
    return {c.name: c.feature_schema_id for c in document_of(labels).ontology.classes}


def draw_three_objects(labels: Labels) -> None:
    """A brushed nucleus, a cell with a hole (polygon tool, then erased), two debris bits."""
    document, classes = document_of(labels), class_ids(labels)
    document.add_instance(1, classes["Nucleus"])
    labels.brush_size = 15
    for col in range(100, 131, 3):
        labels.paint((80, col), 1)
    document.add_instance(2, classes["Cell"])
    labels.paint_polygon([(200, 250), (200, 330), (280, 330), (280, 250)], 2)
    labels.paint_polygon([(230, 280), (230, 300), (250, 300), (250, 280)], 0)
    document.add_instance(3, classes["Debris"])
    labels.paint_polygon([(40, 400), (40, 412), (52, 412), (52, 400)], 3)
    labels.paint_polygon([(60, 420), (60, 430), (66, 430), (66, 420)], 3)


def shapes_mask(shapes: Shapes, indices, shape) -> np.ndarray:
    """Pixels (of a layer with the same transform) whose centres the shapes enclose."""
    mask = np.zeros(shape, dtype=bool)
    for index in indices:
        mask ^= ring_to_mask(shapes.data[index][:, ::-1] + 0.5, shape)
    return mask


def box_corners(mask: np.ndarray) -> set[tuple[float, float]]:
    rows, cols = np.nonzero(mask)
    top, bottom, left, right = (
        rows.min() - 0.5,
        rows.max() + 0.5,
        cols.min() - 0.5,
        cols.max() + 0.5,
    )
    return {(top, left), (top, right), (bottom, right), (bottom, left)}


def test_menu_command_shows_the_instances_as_polygons_on_the_pixel_edges(make_napari_viewer):
    from napari._app_model import get_app_model

    viewer = make_napari_viewer()
    _, labels = open_sample(viewer)
    draw_three_objects(labels)
    app = get_app_model()
    menu = [
        i.command.id for i in app.menus.get_menu("napari/layers/annotate") if hasattr(i, "command")
    ]
    assert COMMAND in menu
    viewer.layers.selection.active = labels
    app.commands.execute_command(COMMAND).result()

    shapes = viewer.layers[-1]
    assert isinstance(shapes, Shapes) and shapes.name == "cells segmentation polygons"
    assert viewer.layers.selection.active is labels
    features = shapes.features
    assert list(zip(features["label_id"], features["ring"], strict=True)) == [
        (1, "exterior"),
        (2, "exterior"),
        (2, "hole"),
        (3, "exterior"),
        (3, "exterior"),
    ]
    assert list(features["class"]) == ["Nucleus", "Cell", "Cell", "Debris", "Debris"]
    document = document_of(labels)
    assert list(features["featureId"]) == [
        document.instances[i].feature_id for i in features["label_id"]
    ]
    assert set(shapes.shape_type) == {"polygon"}
    data = np.asarray(labels.data)
    # the cell's outline and its hole's are exactly the pixel edges of their boxes
    assert {tuple(v) for v in shapes.data[1].tolist()} == box_corners(data == 2)
    rows, cols = np.nonzero(data == 2)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    hole = np.zeros(data.shape, dtype=bool)
    hole[box] = data[box] == 0
    assert {tuple(v) for v in shapes.data[2].tolist()} == box_corners(hole)
    # every instance's rings enclose exactly its pixels
    for label_id in (1, 2, 3):
        indices = np.flatnonzero(features["label_id"] == label_id)
        np.testing.assert_array_equal(shapes_mask(shapes, indices, data.shape), data == label_id)
    # coloured by class: class-coloured edges, translucent exteriors, unfilled holes
    np.testing.assert_allclose(shapes.edge_color[0], transform_color("#1E88E5")[0])
    np.testing.assert_allclose(shapes.edge_color[3], transform_color("#FB8C00")[0])
    assert shapes.face_color[1][3] == pytest.approx(0.3) and shapes.face_color[2][3] == 0
    assert shapes.metadata[POLYGONS_METADATA_KEY]["labels_layer"] == "cells segmentation"


def test_shapes_layer_takes_the_labels_layer_transform(make_napari_viewer):
    viewer = make_napari_viewer()
    labels = viewer.add_labels(
        np.zeros((20, 30), np.uint8), scale=(2, 3), translate=(10, -5), rotate=30, shear=[0.2]
    )
    labels.data_setitem((np.array([4, 4, 5]), np.array([6, 7, 6])), 9)
    shapes = labels_to_shapes(viewer, labels)
    assert tuple(shapes.scale) == (2, 3) and tuple(shapes.translate) == (10, -5)
    assert shapes.features["class"].tolist() == [""]  # a plain Labels layer: no class
    vertex = shapes.data[0][0]
    np.testing.assert_allclose(shapes.data_to_world(vertex), labels.data_to_world(vertex))
    assert {tuple(v) for v in shapes.data[0].tolist()} == {
        (3.5, 5.5),
        (3.5, 7.5),
        (4.5, 7.5),
        (4.5, 6.5),
        (5.5, 6.5),
        (5.5, 5.5),
    }


def test_simplified_polygons_from_the_widget_tolerance(make_napari_viewer):
    viewer = make_napari_viewer()
    _, labels = open_sample(viewer)
    draw_three_objects(labels)
    exact = labels_to_shapes(viewer, labels)
    simplified = labels_to_shapes(viewer, labels, tolerance=1.0)
    assert len(simplified.data[0]) < len(exact.data[0]) / 2
    assert simplified.metadata[POLYGONS_METADATA_KEY]["tolerance"] == 1.0


def test_selected_polygons_become_an_instance_of_the_chosen_class(make_napari_viewer):
    viewer = make_napari_viewer()
    _, labels = open_sample(viewer)
    draw_three_objects(labels)
    shapes = labels_to_shapes(viewer, labels)
    document = document_of(labels)
    cell = np.asarray(labels.data) == 2
    labels.data_setitem(np.nonzero(cell), 0)  # the user erased the cell
    shapes.selected_data = set(np.flatnonzero(shapes.features["label_id"] == 2).tolist())
    debris = class_ids(labels)["Debris"]

    label_id = shapes_to_instance(labels, shapes, debris)

    assert label_id not in (1, 2, 3)
    np.testing.assert_array_equal(np.asarray(labels.data) == label_id, cell)  # hole kept empty
    assert document.instances[label_id].schema_id == debris
    assert is_segmentation_layer(labels)
    assert label_id in {i["label_id"] for i in labels.metadata["napari_segtool"]["instances"]}
    labels.undo()  # one undoable step
    assert not np.any(np.asarray(labels.data) == label_id)


def test_a_drawn_rectangle_paints_only_background(make_napari_viewer):
    viewer = make_napari_viewer()
    _, labels = open_sample(viewer)
    draw_three_objects(labels)
    before = np.asarray(labels.data).copy()
    shapes = viewer.add_shapes(name="drawn")
    shapes.add_rectangles(np.array([[60.0, 90.0], [100.0, 150.0]]))
    shapes.add_ellipses(np.array([[160.0, 70.0], [10.0, 20.0]]))  # centre and radii
    shapes.selected_data = {0, 1}
    nucleus = class_ids(labels)["Nucleus"]

    label_id = shapes_to_instance(labels, shapes, nucleus)

    after = np.asarray(labels.data)
    np.testing.assert_array_equal(after[before != 0], before[before != 0])  # nothing overwritten
    rectangle = np.zeros_like(before, dtype=bool)
    rectangle[60:101, 90:151] = True
    assert np.array_equal((after == label_id)[:120], (rectangle & (before == 0))[:120])
    ellipse = after[140:180] == label_id
    assert ellipse[20, 70] and ellipse.sum() == pytest.approx(np.pi * 10 * 20, rel=0.05)


def test_shapes_in_another_transform_are_mapped_through_the_world(make_napari_viewer):
    viewer = make_napari_viewer()
    _, labels = open_sample(viewer)
    shapes = viewer.add_shapes(scale=(2, 2), translate=(10, 0))
    shapes.add_polygons([np.array([[0.0, 0.0], [0.0, 10.0], [5.0, 10.0], [5.0, 0.0]])])
    label_id = shapes_to_instance(labels, shapes, class_ids(labels)["Cell"], indices=[0])
    rows, cols = np.nonzero(np.asarray(labels.data) == label_id)
    # world rows 10..20, cols 0..20 -> the pixels whose centres lie inside
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 20, 0, 20)


def test_shapes_to_instance_refuses_what_it_cannot_do(make_napari_viewer):
    viewer = make_napari_viewer()
    _, labels = open_sample(viewer)
    draw_three_objects(labels)
    shapes = viewer.add_shapes()
    shapes.add_lines(np.array([[0.0, 0.0], [10.0, 10.0]]))
    shapes.add_polygons([np.array([[75.0, 105.0], [75.0, 110.0], [80.0, 110.0]])])
    cell = class_ids(labels)["Cell"]
    before = np.asarray(labels.data).copy()
    count = len(document_of(labels))
    with pytest.raises(ValueError, match="select one or more shapes"):
        shapes_to_instance(labels, shapes, cell)
    with pytest.raises(ValueError, match="is a line"):
        shapes_to_instance(labels, shapes, cell, indices=[0])
    with pytest.raises(ValueError, match="no unannotated pixel"):
        shapes_to_instance(labels, shapes, cell, indices=[1])  # inside the nucleus
    with pytest.raises(DocumentError, match="unknown class"):
        shapes_to_instance(labels, shapes, "cnotaclassxxxxxxxxxxxxxxx", indices=[1])
    with pytest.raises(ValueError, match="not a segmentation layer"):
        shapes_to_instance(viewer.add_labels(np.zeros((5, 5), np.uint8)), shapes, cell, [1])
    np.testing.assert_array_equal(np.asarray(labels.data), before)
    assert len(document_of(labels)) == count


def test_instances_to_polygons_needs_a_2d_labels_layer(make_napari_viewer):
    viewer = make_napari_viewer()
    assert labels_to_shapes(viewer) is None  # no Labels layer: a message, no layer
    volume = viewer.add_labels(np.ones((3, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="3 dimensions"):
        labels_to_shapes(viewer, volume)
    empty = viewer.add_labels(np.zeros((4, 4), np.uint8))
    assert labels_to_shapes(viewer, empty) is None
    assert [type(layer).__name__ for layer in viewer.layers] == ["Labels", "Labels"]


def test_polygons_dock_widget_both_ways(make_napari_viewer):
    viewer = make_napari_viewer()
    _, labels = open_sample(viewer)
    draw_three_objects(labels)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Polygons")
    assert isinstance(widget, PolygonsWidget)
    assert widget.labels_layer.value is labels
    assert [name for name, _ in widget._class_choices()] == ["Nucleus", "Cell", "Debris"]

    widget.to_polygons.native.click()
    shapes = viewer.layers[-1]
    assert isinstance(shapes, Shapes) and widget.shapes_layer.value is shapes
    assert widget.status.value == "5 polygons in 'cells segmentation polygons'"

    nucleus = np.asarray(labels.data) == 1
    labels.data_setitem(np.nonzero(nucleus), 0)
    shapes.selected_data = {0}
    widget.object_class.value = class_ids(labels)["Cell"]
    widget.to_instance.native.click()
    new_id = int(np.asarray(labels.data)[nucleus][0])
    assert widget.status.value == f"New Cell instance, label {new_id}"
    np.testing.assert_array_equal(np.asarray(labels.data) == new_id, nucleus)

    shapes.selected_data = set()
    widget.to_instance.native.click()
    assert "select one or more shapes" in widget.status.value


# -- COCO through napari's save and open ---------------------------------------------------------
def test_coco_writer_is_chosen_by_extension_and_by_the_save_dialog_entry(
    make_napari_viewer, tmp_path
):
    from napari._qt.qt_viewer import _npe2_decode_selected_filter
    from napari.plugins._npe2 import file_extensions_string_for_layers
    from npe2 import PluginManager

    viewer = make_napari_viewer()
    image, labels = open_sample(viewer)
    draw_three_objects(labels)
    pm = PluginManager.instance()
    for name, expected in [("a.coco.json", "write_coco"), ("a.json", "write_labelbox_v1")]:
        writer, _ = pm.get_writer(name, ["image", "labels"], PLUGIN_NAME)
        assert writer.command == f"{PLUGIN_NAME}.{expected}"

    viewer.layers.selection = {image, labels}
    saved = viewer.layers.save(str(tmp_path / "cells.coco.json"), selected=True)
    assert sorted(saved) == [str(tmp_path / "cells.coco.json"), str(tmp_path / "cells.png")]
    coco = json.loads((tmp_path / "cells.coco.json").read_text())
    assert len(coco["annotations"]) == 3 and coco["images"][0]["file_name"] == "cells.png"

    # the save dialog lists COCO on its own: picking it writes COCO whatever the name
    filters, writers = file_extensions_string_for_layers([image, labels])
    entry = next(e for e in filters.split(";;") if "COCO" in e)
    assert entry == "Segmentation Tool COCO instance segmentation (*.coco.json)"
    writer = _npe2_decode_selected_filter(filters, entry, writers)
    assert writer.command == f"{PLUGIN_NAME}.write_coco"
    viewer.layers.save(str(tmp_path / "plain name.json"), selected=True, _writer=writer)
    assert "annotations" in json.loads((tmp_path / "plain name.json").read_text())


def test_coco_file_opens_as_image_and_segmentation_layers(make_napari_viewer, tmp_path):
    from napari_segtool._napari.io_coco import export_coco

    viewer = make_napari_viewer()
    image, labels = open_sample(viewer)
    draw_three_objects(labels)
    document_of(labels).set_answers(1, {})
    path = tmp_path / "export" / "cells.coco.json"
    written = export_coco([image, labels], path, segmentation="polygons")
    assert written == [str(path), str(path.parent / "cells.png")]

    other = make_napari_viewer()
    # no reader named (File > Open): the Labelbox reader of the plugin declines COCO
    layers = other.open(str(path), plugin=None)
    assert [layer.name for layer in layers] == ["cells", "cells segmentation"]
    opened_image, opened_labels = layers
    np.testing.assert_array_equal(opened_image.data, image.data)
    np.testing.assert_array_equal(opened_labels.data, labels.data)
    original, opened = document_of(labels), document_of(opened_labels)
    assert {i: (d.schema_id, d.feature_id) for i, d in opened.instances.items()} == {
        i: (d.schema_id, d.feature_id) for i, d in original.instances.items()
    }


def test_new_user_walkthrough_sample_polygons_coco(make_napari_viewer, tmp_path):
    """Open the sample, draw three objects, see them as polygons, export COCO, read it back."""
    coco_api = pytest.importorskip("pycocotools.coco")
    from napari._app_model import get_app_model

    from napari_segtool._napari.io_coco import export_coco

    viewer = make_napari_viewer(show=True)
    image, labels = open_sample(viewer)
    draw_three_objects(labels)
    labels.visible = False
    before = viewer.screenshot(canvas_only=True)
    viewer.layers.selection.active = labels
    get_app_model().commands.execute_command(COMMAND).result()
    shapes = viewer.layers[-1]
    after = viewer.screenshot(canvas_only=True)
    changed = np.any(before != after, axis=-1)
    assert changed.mean() > 0.01  # the polygons show over the image
    shapes.visible = False
    np.testing.assert_array_equal(viewer.screenshot(canvas_only=True), before)

    path = tmp_path / "cells.coco.json"
    export_coco([image, labels], path)
    api = coco_api.COCO(str(path))
    annotations = api.loadAnns(api.getAnnIds())
    assert {api.loadCats(a["category_id"])[0]["name"] for a in annotations} == {
        "Nucleus",
        "Cell",
        "Debris",
    }
    for annotation in annotations:
        expected = np.asarray(labels.data) == annotation["attributes"]["label_id"]
        np.testing.assert_array_equal(api.annToMask(annotation).astype(bool), expected)
