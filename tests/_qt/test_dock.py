"""The dock and the instance workflow, driven through real widgets and real strokes."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Labels
from qtpy.QtCore import Qt

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of, document_of, is_segmentation_layer
from napari_segtool._qt.dock import SegmentationDock
from napari_segtool._qt.instance_table import CLASS_COLUMN, HIDDEN_COLUMN, LOCKED_COLUMN
from napari_segtool._qt.ontology_panel import NAME_COLUMN
from napari_segtool.formats.ontology_json import write_ontology
from napari_segtool.model.document import Document
from napari_segtool.model.ontology import Ontology
from tests.napari_input import stroke


@pytest.fixture
def sample(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    layer = viewer.layers["cells segmentation"]
    return viewer, dock, layer


def click_class(dock: SegmentationDock, name: str) -> None:
    """Click a class row in the ontology tree, as the labeler does."""
    tree = dock.ontology_panel.tree
    item = next(
        tree.topLevelItem(i)
        for i in range(tree.topLevelItemCount())
        if tree.topLevelItem(i).text(NAME_COLUMN) == name
    )
    tree.itemClicked.emit(item, NAME_COLUMN)


def click_row(dock: SegmentationDock, label_id: int, column: int = 0, modifier=None) -> None:
    """Click a cell of the instance table with the mouse, as the labeler does."""
    from qtpy.QtTest import QTest

    table = dock.table
    index = dock.table_model.index(dock.table_model.row_of(label_id), column)
    table.scrollTo(index)
    centre = table.visualRect(index).center()
    modifiers = modifier if modifier is not None else Qt.KeyboardModifier.NoModifier
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifiers, centre)


def table_rows(dock: SegmentationDock) -> list[tuple[int, str, int]]:
    model = dock.table_model
    return [
        (
            model.data(model.index(row, 0)),
            model.data(model.index(row, CLASS_COLUMN)),
            model.data(model.index(row, 2)),
        )
        for row in range(model.rowCount())
    ]


def pixel_table(layer) -> list[tuple[int, int]]:
    values, counts = np.unique(layer.data, return_counts=True)
    return [(int(v), int(c)) for v, c in zip(values, counts, strict=True) if v]


def class_name(layer, label_id):
    doc = document_of(layer)
    return doc.ontology.class_by_id(doc.instance(label_id).schema_id).name


def test_pick_class_draw_two_then_another_class_delete_undo(sample):
    viewer, dock, layer = sample
    layer.brush_size = 8
    click_class(dock, "Nucleus")
    first = layer.selected_label
    assert layer.mode == "paint"
    stroke(layer, [(40, 40), (44, 50), (48, 60)])
    click_class(dock, "Nucleus")
    second = layer.selected_label
    assert second != first
    stroke(layer, [(150, 150), (152, 160)])
    click_class(dock, "Cell")
    third = layer.selected_label
    stroke(layer, [(300, 300), (300, 320)])

    rows = table_rows(dock)
    assert [(r[0], r[1]) for r in rows] == [
        (first, "Nucleus"),
        (second, "Nucleus"),
        (third, "Cell"),
    ]
    assert [(r[0], r[2]) for r in rows] == pixel_table(layer)
    assert [class_name(layer, i) for i in (first, second, third)] == ["Nucleus", "Nucleus", "Cell"]

    dock.select_rows([second])
    dock.delete_selected()
    assert not (layer.data == second).any()
    assert [r[0] for r in table_rows(dock)] == [first, third]
    assert [(r[0], r[2]) for r in table_rows(dock)] == pixel_table(layer)

    layer.undo()
    assert [(r[0], r[1]) for r in table_rows(dock)] == [
        (first, "Nucleus"),
        (second, "Nucleus"),
        (third, "Cell"),
    ]
    assert [(r[0], r[2]) for r in table_rows(dock)] == pixel_table(layer)
    layer.redo()
    assert [r[0] for r in table_rows(dock)] == [first, third]
    # undo all the way: the table empties exactly as the canvas does
    for _ in range(5):
        layer.undo()
    assert table_rows(dock) == [] and not layer.data.any()
    layer.redo()
    assert [(r[0], r[2]) for r in table_rows(dock)] == pixel_table(layer)


def paint_instance(dock, layer, class_label, centre, radius=5):
    click_class(dock, class_label)
    label_id = layer.selected_label
    layer.brush_size = radius * 2
    layer.paint(centre, label_id)
    return label_id


def test_merge_change_class_hide_and_lock(sample):
    viewer, dock, layer = sample
    a1 = paint_instance(dock, layer, "Nucleus", (50, 50))
    a2 = paint_instance(dock, layer, "Nucleus", (100, 100))
    a3 = paint_instance(dock, layer, "Nucleus", (150, 150))
    b1 = paint_instance(dock, layer, "Cell", (250, 250))
    doc = document_of(layer)
    before = layer.data.copy()

    dock.select_rows([a1, a2])
    dock.merge_selected()
    assert not (layer.data == a2).any()
    np.testing.assert_array_equal(layer.data == a1, (before == a1) | (before == a2))
    assert [r[0] for r in table_rows(dock)] == [a1, a3, b1]

    # merging across classes is refused and changes nothing
    dock.select_rows([a1, b1])
    dock.merge_selected()
    assert (layer.data == b1).sum() == (before == b1).sum()

    cell_id = doc.ontology.class_by_name("Cell").feature_schema_id
    dock.select_rows([a3])
    dock.change_class_of_selected(cell_id)
    assert class_name(layer, a3) == "Cell"
    assert dict((r[0], r[1]) for r in table_rows(dock))[a3] == "Cell"
    cell_colour = layer.colormap.map(np.array([b1]))[0]
    assert layer.colormap.map(np.array([a3]))[0][:3] == pytest.approx(
        _class_rgb(doc, "Cell", a3), abs=1e-3
    )
    assert cell_colour[3] == 1

    # hide one instance, then a whole class, through the table and the tree
    model = dock.table_model
    model.setData(
        model.index(model.row_of(a1), HIDDEN_COLUMN),
        Qt.CheckState.Checked,
        Qt.ItemDataRole.CheckStateRole,
    )
    assert doc.instance(a1).hidden
    assert layer.colormap.map(np.array([a1]))[0][3] == 0
    tree = dock.ontology_panel.tree
    cell_item = dock.ontology_panel.class_item(cell_id)
    cell_item.setCheckState(3, Qt.CheckState.Checked)
    assert cell_id in doc.hidden_classes
    assert layer.colormap.map(np.array([b1]))[0][3] == 0
    assert tree.topLevelItemCount() >= 3

    # a locked instance cannot be deleted, merged or reclassified by the dock
    model.setData(
        model.index(model.row_of(b1), LOCKED_COLUMN),
        Qt.CheckState.Checked,
        Qt.ItemDataRole.CheckStateRole,
    )
    assert doc.is_locked(b1)
    pixels = (layer.data == b1).sum()
    dock.select_rows([b1])
    dock.delete_selected()
    dock.change_class_of_selected(doc.ontology.class_by_name("Nucleus").feature_schema_id)
    assert (layer.data == b1).sum() == pixels
    assert class_name(layer, b1) == "Cell"


def tick(model, label_id, column):
    """Tick a checkbox cell of the table, as a click does."""
    index = model.index(model.row_of(label_id), column)
    assert model.setData(index, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)


def _class_rgb(doc, name, label_id):
    from napari_segtool._napari.binding import instance_colour

    return instance_colour(doc.ontology.class_by_name(name).color, label_id)[:3]


def test_foreign_ids_are_registered_or_listed_unassigned(sample):
    viewer, dock, layer = sample
    click_class(dock, "Debris")
    layer.selected_label = 40  # napari's spin box
    layer.paint((60, 60), 40)
    assert class_name(layer, 40) == "Debris"

    # no class to give: the id is listed as unassigned, then assigned by the user
    binding = binding_of(layer)
    binding.current_class_id = None
    layer.paint((200, 200), 41)
    rows = dict((r[0], r[1]) for r in table_rows(dock))
    assert rows[41] == "unassigned"
    assert 41 not in document_of(layer)
    dock.select_rows([41])
    dock.change_class_of_selected(
        document_of(layer).ontology.class_by_name("Cell").feature_schema_id
    )
    assert class_name(layer, 41) == "Cell"
    assert dict((r[0], r[1]) for r in table_rows(dock))[41] == "Cell"


def test_class_shortcuts_and_new_instance_key(sample):
    viewer, dock, layer = sample
    keymap = layer.keymap
    doc = document_of(layer)
    from napari.utils.key_bindings import KeyBinding

    def press(key):
        layer.keymap[KeyBinding.from_str(key)](layer)

    press("Ctrl-2")
    assert binding_of(layer).current_class_id == doc.ontology.classes[1].feature_schema_id
    first = layer.selected_label
    layer.paint((30, 30), first)
    press("N")
    assert layer.selected_label != first
    assert binding_of(layer).current_class_id == doc.ontology.classes[1].feature_schema_id
    # napari's own keys are untouched
    assert KeyBinding.from_str("1") not in keymap and KeyBinding.from_str("M") not in keymap


def test_each_layer_keeps_its_own_document(sample):
    viewer, dock, layer = sample
    image = viewer.layers["cells"]
    viewer.layers.selection.active = image
    from napari_segtool._napari.commands import new_segmentation_layer

    new_segmentation_layer(viewer)
    second = viewer.layers[-1]
    assert dock.binding.layer is second
    paint_instance(dock, second, "Cell", (20, 20))
    assert [r[1] for r in table_rows(dock)] == ["Cell"]
    viewer.layers.selection.active = layer
    assert dock.binding.layer is layer and table_rows(dock) == []
    viewer.layers.selection.active = image  # not a segmentation layer: dock stays
    assert dock.binding.layer is layer
    viewer.layers.remove(layer)
    assert dock.binding.layer is second  # the remaining segmentation layer
    viewer.layers.remove(second)
    assert dock.binding is None


def test_plain_labels_layer_is_offered_an_ontology(make_napari_viewer):
    viewer = make_napari_viewer()
    data = np.zeros((30, 30), np.uint16)
    data[2:5, 2:5] = 7
    plain = viewer.add_labels(data)
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    assert dock.binding is None
    assert dock.attach_button.isVisibleTo(dock)
    dock.attach_ontology(None)
    assert is_segmentation_layer(plain)
    assert dock.binding.layer is plain
    assert [r[1] for r in table_rows(dock)] == ["unassigned"]
    assert not dock.attach_button.isVisibleTo(dock)
    # made one in place: the session runs its services as for any segmentation layer
    from napari_segtool._napari.autosave import autosaver_of
    from napari_segtool._napari.pen import pen_of

    services = dock.session.services(plain)
    assert services is not None and services.autosaver is autosaver_of(plain)
    assert services.autosaver.binding is binding_of(plain) and pen_of(plain) is not None


def test_ontology_editing_recolours_validates_and_asks(sample, tmp_path):
    viewer, dock, layer = sample
    panel = dock.ontology_panel
    nucleus = paint_instance(dock, layer, "Nucleus", (50, 50))
    doc = document_of(layer)
    nucleus_id = doc.ontology.class_by_name("Nucleus").feature_schema_id

    assert panel.set_class_colour(nucleus_id, "#00ff00")
    assert doc.ontology.class_by_id(nucleus_id).color == "#00FF00"
    rgb = layer.colormap.map(np.array([nucleus]))[0][:3]
    assert rgb == pytest.approx(_class_rgb(doc, "Nucleus", nucleus), abs=1e-3)
    assert rgb[1] > rgb[0] and rgb[1] > rgb[2]

    # rename through the tree item, as a double-click edit would
    item = panel.class_item(nucleus_id)
    item.setText(NAME_COLUMN, "Nuclei")
    assert doc.ontology.class_by_id(nucleus_id).name == "Nuclei"
    # a duplicate name is refused with the model's message and nothing changes
    assert not panel.rename(("class", 0), "Cell")
    assert doc.ontology.class_by_id(nucleus_id).name == "Nuclei"

    new_class = panel.add_class("Vesicle")
    assert doc.ontology.class_by_name("Vesicle") is not None
    path = ("class", doc.ontology.classes.index(new_class))
    assert panel.add_question(path, "radio", "Shape")
    assert panel.add_option(("question", "class", path[1], 0), "Round")
    shape = doc.ontology.class_by_name("Vesicle").questions[0]
    assert [o.label for o in shape.options] == ["Yes", "No", "Round"]
    # nested: a text question under the "Round" option
    assert panel.add_question(("option", "class", path[1], 0, 2), "text", "Diameter")
    shape = doc.ontology.class_by_name("Vesicle").questions[0]  # edits replace the ontology
    assert shape.options[2].questions[0].name == "Diameter"
    assert panel.add_question(("image",), "checklist", "Artifacts")
    assert doc.ontology.questions[-1].name == "Artifacts"
    assert panel.remove(("question", "image", len(doc.ontology.questions) - 1))
    assert doc.ontology.questions[-1].name != "Artifacts"

    # removing a class with instances asks first; "no" keeps everything
    panel.confirm = lambda title, text: False
    assert not panel.remove(("class", 0))
    assert (layer.data == nucleus).any()
    asked = []
    panel.confirm = lambda title, text: asked.append(text) or True
    assert panel.remove(("class", 0))
    assert "1 instance(s)" in asked[0]
    assert not (layer.data == nucleus).any()
    assert doc.ontology.class_by_id(nucleus_id) is None

    # save and load an ontology file
    target = tmp_path / "onto.json"
    write_ontology(doc.ontology, target)
    assert Ontology.load(target) == doc.ontology
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    before = doc.ontology
    assert not panel.load(bad)
    assert doc.ontology is before


def test_table_follows_napari_label_selection(sample):
    viewer, dock, layer = sample
    a = paint_instance(dock, layer, "Nucleus", (50, 50))
    b = paint_instance(dock, layer, "Cell", (150, 150))
    layer.selected_label = a  # napari's pick tool or spin box
    assert binding_of(layer).current_class_id == document_of(layer).instance(a).schema_id
    selected = [i.row() for i in dock.table.selectionModel().selectedRows()]
    assert selected == [dock.table_model.row_of(a)]
    click_row(dock, b)
    assert layer.selected_label == b


def test_dock_renders(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer(show=True)  # the canvas renders only when shown
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    layer = viewer.layers["cells segmentation"]
    paint_instance(dock, layer, "Nucleus", (100, 120), radius=9)
    paint_instance(dock, layer, "Nucleus", (250, 300), radius=9)
    paint_instance(dock, layer, "Cell", (200, 200), radius=12)
    dock.resize(460, 900)
    path = tmp_path / "dock.png"
    assert dock.grab().save(str(path))
    assert path.stat().st_size > 5000
    shot = viewer.screenshot(str(tmp_path / "viewer.png"), canvas_only=False, flash=False)
    assert shot.shape[-1] == 4 and shot[..., :3].std() > 5


def test_segmentation_layer_round_trips_with_document(sample):
    viewer, dock, layer = sample
    a = paint_instance(dock, layer, "Nucleus", (50, 50))
    data, state, _ = layer.as_layer_data_tuple()
    copy = Labels(data, **state)
    assert document_of(copy).to_dict() == document_of(layer).to_dict()
    assert document_of(copy) is not document_of(layer)
    assert isinstance(document_of(copy), Document)
    assert a in document_of(copy)


def test_annotating_time_is_tracked_for_seconds_to_label(sample, monkeypatch):
    from napari_segtool._napari import binding

    _viewer, dock, layer = sample
    clock = iter([100.0, 103.5, 400.0, 401.0])
    monkeypatch.setattr(binding, "edit_clock", lambda: next(clock))
    label = paint_instance(dock, layer, "Nucleus", (50, 50))
    layer.paint((52, 52), label)  # 3.5 s later
    layer.paint((54, 54), label)  # after a long break: not counted
    layer.paint((56, 56), label)  # 1 s later
    source = document_of(layer).source
    assert source["seconds_to_label"] == pytest.approx(4.5)
    assert layer.metadata["napari_segtool"]["source"]["seconds_to_label"] == pytest.approx(4.5)


def test_dock_saves_and_reopens_a_labelbox_export(sample, tmp_path):
    from napari_segtool._napari.io_labelbox import open_export

    viewer, dock, layer = sample
    a = paint_instance(dock, layer, "Nucleus", (50, 50))
    b = paint_instance(dock, layer, "Cell", (150, 150))
    target = tmp_path / "cells.json"
    assert dock.save_export(target)
    assert target.exists() and (tmp_path / "cells_masks").is_dir()
    assert "Saved 2 mask(s)" in dock.file_status.text()
    assert "required question(s) unanswered" in dock.file_status.text()
    assert dock.default_export_path() == str(target)

    opened = open_export(viewer, target)
    labels = next(layer_ for layer_ in opened if is_segmentation_layer(layer_))
    reopened = document_of(labels)
    original = document_of(layer)
    for label_id in (a, b):
        feature_id = original.instance(label_id).feature_id
        match = next(i for i in reopened.instances.values() if i.feature_id == feature_id)
        np.testing.assert_array_equal(labels.data == match.label_id, layer.data == label_id)

    # a failing save reports and leaves the viewer as it was
    blocker = tmp_path / "blocked"
    blocker.write_text("not a folder")
    before = len(viewer.layers)
    assert not dock.save_export(blocker / "x.json")
    assert "Not saved" in dock.file_status.text()
    assert len(viewer.layers) == before


def test_dock_autosaves_and_offers_the_work_back(make_napari_viewer):
    from napari_segtool._napari.autosave import autosaver_of

    first = make_napari_viewer()
    first.open_sample(PLUGIN_NAME, "cells")
    _, dock = first.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    layer = first.layers["cells segmentation"]
    label = paint_instance(dock, layer, "Nucleus", (80, 80), radius=6)
    saver = autosaver_of(layer)
    assert saver is not None and saver.is_dirty
    saver.flush()
    painted = layer.data.copy()
    first.layers.remove(layer)  # the work stays in the recovery folder

    second = make_napari_viewer()
    second.open_sample(PLUGIN_NAME, "cells")
    _, dock2 = second.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    assert dock2.recovery_banner.isVisibleTo(dock2)
    assert "1 instance" in dock2.recovery_banner.message.text()
    dock2.recovery_banner.restore()
    restored = second.layers["cells segmentation"]
    np.testing.assert_array_equal(restored.data, painted)
    assert dock2.binding.layer is restored
    assert [r[0] for r in table_rows(dock2)] == [label]


def test_dock_polygons_both_ways_and_coco_export(sample, tmp_path):
    from pycocotools.coco import COCO

    viewer, dock, layer = sample
    a = paint_instance(dock, layer, "Nucleus", (60, 60), radius=6)
    b = paint_instance(dock, layer, "Cell", (200, 220), radius=8)
    shapes = dock.to_polygons()
    assert shapes is not None and len(shapes.data) == 2
    assert sorted(shapes.features["label_id"]) == [a, b]

    # draw a square as a shape and make it an instance of the current class
    shapes.add_polygons([np.array([[300, 400], [300, 420], [320, 420], [320, 400]])])
    shapes.selected_data = {len(shapes.data) - 1}
    click_class(dock, "Debris")
    new = dock.selected_shapes_to_instance()
    assert class_name(layer, new) == "Debris"
    # napari puts vertices at pixel centres: rows and columns 300..320 inclusive
    assert (layer.data == new).sum() == 21 * 21
    assert [r[0] for r in table_rows(dock)] == [a, b, new]

    target = tmp_path / "cells.coco.json"
    assert dock.export_coco(target)
    coco = COCO(str(target))
    masks = {
        ann["attributes"]["label_id"]: coco.annToMask(ann) for ann in coco.dataset["annotations"]
    }
    for label_id in (a, b, new):
        np.testing.assert_array_equal(masks[label_id].astype(bool), layer.data == label_id)


def test_lock_a_fish_and_paint_the_water_behind_everything(sample):
    """The seed's "draw to back", driven through the dock: the locked and the
    other instance stay pixel-for-pixel; the background fills with the new class."""
    viewer, dock, layer = sample
    fish_a = paint_instance(dock, layer, "Nucleus", (100, 100), radius=12)
    fish_b = paint_instance(dock, layer, "Nucleus", (200, 300), radius=12)
    model = dock.table_model
    tick(model, fish_a, LOCKED_COLUMN)
    before = layer.data.copy()

    click_class(dock, "Cell")
    water = layer.selected_label
    dock.pen_panel.draw_to_back.setChecked(True)
    assert layer.preserve_labels
    layer.brush_size = 60
    rows = range(0, 384, 20)
    stroke(layer, [(r, c) for r in rows for c in (0, 511)])  # scribble across the tank
    np.testing.assert_array_equal(layer.data == fish_a, before == fish_a)
    np.testing.assert_array_equal(layer.data == fish_b, before == fish_b)
    assert (layer.data == water).sum() == (before == 0).sum()

    # erasing with draw to back removes only the selected instance
    dock.pen_panel.erase_button.click()
    assert layer.mode == "erase"
    stroke(layer, [(r, c) for r in rows for c in (0, 511)])
    np.testing.assert_array_equal(layer.data == fish_a, before == fish_a)
    np.testing.assert_array_equal(layer.data == fish_b, before == fish_b)
    assert not (layer.data == water).any()
    # napari's B key and the dock's box stay in step
    layer.preserve_labels = False
    assert not dock.pen_panel.draw_to_back.isChecked()


def test_undo_after_removing_a_class_brings_its_pixels_back_unassigned(sample):
    _viewer, dock, layer = sample
    panel = dock.ontology_panel
    nucleus = paint_instance(dock, layer, "Nucleus", (50, 50))
    cell = paint_instance(dock, layer, "Cell", (150, 150))
    panel.confirm = lambda title, text: True
    assert panel.remove(("class", 0))
    layer.undo()  # the erase of the removed class's pixels
    rows = dict((r[0], r[1]) for r in table_rows(dock))
    assert rows == {nucleus: "unassigned", cell: "Cell"}
    assert nucleus not in document_of(layer)
    dock.select_rows([nucleus])
    dock.change_class_of_selected(
        document_of(layer).ontology.class_by_name("Debris").feature_schema_id
    )
    assert class_name(layer, nucleus) == "Debris"


def test_the_pen_is_the_sessions_closing_the_dock_keeps_it_removing_the_layer_ends_it(
    sample, qtbot
):
    """The pen no longer depends on the dock: closing the dock leaves it on every
    segmentation layer; a layer leaving the viewer gets napari's own brush back."""
    from qtpy.QtCore import QCoreApplication, QEvent

    from napari_segtool._napari.pen import pen_of

    viewer, dock, layer = sample
    pen = pen_of(layer)
    assert pen is not None
    viewer.window.remove_dock_widget(dock)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.wait(50)
    assert pen_of(layer) is pen and pen.attached
    layer.mode = "paint"
    assert pen._drag_callback in layer.mouse_drag_callbacks  # the pen's brush
    viewer.layers.remove(layer)
    assert pen_of(layer) is None and not pen.attached
    assert pen._drag_callback not in layer.mouse_drag_callbacks  # napari's brush again


def test_removing_the_shown_layer_moves_the_dock_to_another_segmentation_layer(sample):
    from napari_segtool._napari.commands import new_segmentation_layer

    viewer, dock, layer = sample
    viewer.layers.selection.active = viewer.layers["cells"]
    new_segmentation_layer(viewer)
    second = viewer.layers[-1]
    assert dock.binding.layer is second
    viewer.layers.remove(second)
    assert dock.binding.layer is layer


def test_status_bar_says_none_for_an_unanswered_instance(sample):
    _viewer, dock, layer = sample
    label = paint_instance(dock, layer, "Debris", (30, 30))
    assert layer.get_status((30, 30))["value"].endswith("answers: none")
    assert label in document_of(layer)


def test_dock_files_section_reads_the_format_registry(sample, tmp_path):
    from napari_segtool.formats import registry

    viewer, dock, layer = sample
    paint_instance(dock, layer, "Nucleus", (60, 60), radius=6)
    assert registry.get("coco").display_name in dock.open_button.toolTip()
    assert registry.get("labelbox-v1").display_name in dock.open_button.toolTip()
    target = tmp_path / "cells.coco.json"
    assert dock.export_coco(target)
    before = len(viewer.layers)
    # the Open button opens any registered format, COCO as well as Labelbox
    assert dock.open_file(target)
    opened = list(viewer.layers)[before:]
    assert [type(x).__name__ for x in opened] == ["Labels"]
    np.testing.assert_array_equal(opened[0].data > 0, layer.data > 0)
    assert is_segmentation_layer(opened[0])
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert not dock.open_file(other)
    assert "not a file this plugin reads" in dock.file_status.text()
    assert len(viewer.layers) == before + 1


def test_dock_saves_a_labelbox_ndjson_import(sample, tmp_path, monkeypatch):
    import base64
    import json

    from qtpy.QtWidgets import QFileDialog

    from napari_segtool.formats import registry
    from napari_segtool.formats.masks import decode_mask_png

    _viewer, dock, layer = sample
    a = paint_instance(dock, layer, "Nucleus", (50, 50))
    b = paint_instance(dock, layer, "Cell", (150, 150))
    ndjson_filter = registry.get("labelbox-ndjson").file_filter
    offered = []

    def choose(parent, caption, directory, filters):
        offered.append(filters)
        return str(tmp_path / "cells.json"), ndjson_filter  # the NDJSON entry, name unchanged

    monkeypatch.setattr(QFileDialog, "getSaveFileName", choose)
    dock.save_button.click()
    assert ndjson_filter in offered[0].split(";;")
    target = tmp_path / "cells.ndjson"
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["name"] for line in lines if "mask" in line] == ["Nucleus", "Cell"]
    assert not (tmp_path / "cells.json").exists()
    assert "Saved 2 mask(s) to cells.ndjson" in dock.file_status.text()
    assert "required question(s) unanswered" in dock.file_status.text()
    assert document_of(layer).source["ndjson_path"] == str(target)
    for line, label_id in zip([line for line in lines if "mask" in line], (a, b), strict=True):
        png = decode_mask_png(base64.b64decode(line["mask"]["png"]), layer.data.shape)
        np.testing.assert_array_equal(png.to_full(), layer.data == label_id)


def test_dock_downloads_web_masks_only_when_its_box_is_ticked(make_napari_viewer, tmp_path):
    import json
    import shutil

    from tests.mask_server import REFERENCE, MaskServer

    viewer = make_napari_viewer()
    dock = SegmentationDock(viewer)
    server = MaskServer()
    try:
        row = json.loads((REFERENCE / "export_v2.fish.ndjson").read_text())
        for label in row["projects"]["ck0fishproject0000000001"]["labels"]:
            for obj in label["annotations"]["objects"]:
                obj["composite_mask"]["url"] = f"{server.url}/open"
        path = tmp_path / "tank.ndjson"
        path.write_text(json.dumps(row) + "\n")
        shutil.copy(REFERENCE / "tank.png", tmp_path / "tank.png")
        shutil.copy(REFERENCE / "ontology.fish.json", tmp_path / "ontology.fish.json")
        assert not dock.download_box.isChecked()
        assert not dock.open_file(path)
        assert "downloading is enabled" in dock.file_status.text()
        assert len(viewer.layers) == 0 and server.seen == []
        dock.download_box.setChecked(True)
        assert dock.open_file(path)
        labels = viewer.layers["tank segmentation"]
        assert len(document_of(labels)) == 4
        assert server.seen == [("/open", None)]  # 127.0.0.1 is not Labelbox: no key sent
    finally:
        server.close()
