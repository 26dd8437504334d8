"""What a labeler sees after each action: locks refuse, strokes report, forms and selection follow.

Every test drives the dock's real widgets (mouse clicks on the table and the
tree, the canvas keys) and napari's real tools (brush strokes, fill, polygon,
the pen's Shift+click lines, undo), never mocks of napari.
"""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils.key_bindings import KeyBinding
from napari.utils.notifications import notification_manager
from qtpy.QtCore import Qt

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of, document_of
from napari_segtool._napari.feedback import feedback_of
from napari_segtool._qt.instance_table import LOCKED_COLUMN
from napari_segtool._qt.ontology_panel import LOCK_COLUMN, NAME_COLUMN
from tests._qt.test_dock import click_class, click_row, table_rows, tick
from tests.napari_input import hover, key_press, press, release, shift_click, stroke


@pytest.fixture
def sample(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    layer = viewer.layers["cells segmentation"]
    layer.brush_size = 10
    return viewer, dock, layer


@pytest.fixture
def notifications():
    """Messages napari's notification manager receives during the test."""
    received = []
    notification_manager.notification_ready.connect(received.append)
    yield received
    notification_manager.notification_ready.disconnect(received.append)


def draw(dock, layer, class_name, points):
    click_class(dock, class_name)
    label_id = layer.selected_label
    stroke(layer, points)
    return label_id


def selected_rows(dock) -> list[int]:
    model = dock.table_model
    return sorted(model.label_id_at(i.row()) for i in dock.table.selectionModel().selectedRows())


# -- 2. a locked instance does not grow ------------------------------------------------
def test_a_locked_instance_refuses_brush_fill_lines_and_polygon(sample, notifications):
    viewer, dock, layer = sample
    nucleus = draw(dock, layer, "Nucleus", [(60, 60), (60, 80)])
    other = draw(dock, layer, "Cell", [(200, 200), (200, 220)])
    # clicking the row (as ticking its Lock box does) makes it napari's paint label
    click_row(dock, nucleus)
    tick(dock.table_model, nucleus, LOCKED_COLUMN)
    document = document_of(layer)
    assert document.is_locked(nucleus)
    assert layer.selected_label == nucleus
    before = np.asarray(layer.data).copy()
    history = len(layer._undo_history)

    stroke(layer, [(120, 120), (120, 160)])  # the brush
    assert f"Nucleus #{nucleus} is locked: nothing painted" in feedback_of(layer).last_message
    assert any("is locked" in str(n.message) for n in notifications)
    shift_click(layer, (150, 150))  # a pen line from the stroke's end
    layer.mode = "fill"
    press(layer, (300, 400))  # fill the background
    release(layer, (300, 400))
    layer.mode = "polygon"  # napari's polygon tool: click the corners, Enter completes
    feedback_of(layer).last_message = ""
    for corner in [(250, 10), (250, 60), (300, 60)]:
        press(layer, corner)
        release(layer, corner)
    key_press(viewer, "Enter")
    assert "is locked: nothing painted" in feedback_of(layer).last_message
    np.testing.assert_array_equal(np.asarray(layer.data), before)
    assert len(layer._undo_history) == history  # nothing to undo: nothing happened

    # the same for an instance locked through its class
    layer.mode = "paint"
    cell_class = document.instance(other).schema_id
    dock.ontology_panel.class_item(cell_class).setCheckState(LOCK_COLUMN, Qt.CheckState.Checked)
    binding_of(layer).select_instance(other)
    stroke(layer, [(330, 330), (330, 360)])
    np.testing.assert_array_equal(np.asarray(layer.data), before)
    assert "unlock its class" in feedback_of(layer).last_message

    # a new instance of the locked class is still drawable (a fresh id is no instance yet),
    # in one stroke: picking the class says so
    fresh = draw(dock, layer, "Cell", [(330, 330), (330, 360)])
    assert fresh not in (nucleus, other) and (np.asarray(layer.data) == fresh).any()
    assert any("Cell is locked: a new Cell" in str(n.message) for n in notifications)
    drawn = np.asarray(layer.data).copy()
    stroke(layer, [(340, 330), (340, 360)])
    np.testing.assert_array_equal(np.asarray(layer.data), drawn)

    # unlocked, the instance grows again
    dock.select_rows([nucleus])
    dock.table_model.setData(
        dock.table_model.index(dock.table_model.row_of(nucleus), LOCKED_COLUMN),
        Qt.CheckState.Unchecked,
        Qt.ItemDataRole.CheckStateRole,
    )
    binding_of(layer).select_instance(nucleus)
    grown = (np.asarray(layer.data) == nucleus).sum()
    stroke(layer, [(120, 120), (120, 160)])
    assert (np.asarray(layer.data) == nucleus).sum() > grown


# -- 5. clipped strokes say what was kept ------------------------------------------------
def test_strokes_clipped_by_a_lock_or_draw_to_back_say_what_they_kept(sample):
    viewer, dock, layer = sample
    nucleus = draw(dock, layer, "Nucleus", [(100, 100), (100, 140)])
    document = document_of(layer)
    document.set_locked(nucleus, True)
    locked_pixels = int((np.asarray(layer.data) == nucleus).sum())

    # a brush stroke straight across the locked nucleus
    cell = draw(dock, layer, "Cell", [(100, 60), (100, 180)])
    message = feedback_of(layer).last_message
    assert message.startswith("Stroke clipped: kept ")
    assert f"pixels of locked Nucleus #{nucleus}" in message
    assert viewer.status == message
    kept = int(message.split("kept ")[1].split(" ")[0])
    assert 0 < kept <= locked_pixels
    assert layer.help == message  # stays readable while the mouse moves on

    # the next press gives the layer its help back; an unclipped stroke says nothing
    feedback_of(layer).last_message = ""
    stroke(layer, [(300, 300), (300, 310)])
    assert feedback_of(layer).last_message == ""
    assert layer.help != message

    # the pen's Shift+click line across the nucleus goes through the painter
    stroke(layer, [(100, 40)])  # a dab beside it starts the line
    shift_click(layer, (100, 190))
    assert f"of locked Nucleus #{nucleus}" in feedback_of(layer).last_message

    # draw to back: the stroke keeps off every labelled pixel and says how many
    dock.pen_panel.draw_to_back.setChecked(True)
    water = draw(dock, layer, "Debris", [(100, 20), (100, 200)])
    message = feedback_of(layer).last_message
    assert "labelled pixels (draw to back)" in message
    assert (np.asarray(layer.data) == water).any()
    assert (np.asarray(layer.data) == cell).any()

    # a stroke entirely on other objects changes nothing, and says so
    draw(dock, layer, "Debris", [(100, 100), (100, 104)])
    assert feedback_of(layer).last_message.startswith("Stroke changed nothing: kept ")


# -- 6. forms follow what exists -----------------------------------------------------------
def test_delete_clears_the_form_and_gives_napari_a_fresh_label(sample):
    viewer, dock, layer = sample
    panel = dock.questions_panel
    first = draw(dock, layer, "Nucleus", [(60, 60), (60, 80)])
    second = draw(dock, layer, "Nucleus", [(200, 200), (200, 220)])
    assert panel.label_id == second and f"#{second}" in panel.title.text()

    dock.select_rows([second])
    dock.delete_button.click()
    assert not (np.asarray(layer.data) == second).any()
    assert panel.label_id is None and "No instance selected" in panel.title.text()
    assert layer.selected_label not in (first, second)  # napari's spin box moved on
    assert layer.selected_label not in document_of(layer)
    stroke(layer, [(300, 300), (300, 320)])  # the next stroke is a new object
    assert (np.asarray(layer.data) == second).sum() == 0
    assert panel.label_id == layer.selected_label

    # undo twice: the new object goes, then the deleted one comes back whole
    layer.undo()
    layer.undo()
    assert (np.asarray(layer.data) == second).any()
    assert second in [row[0] for row in table_rows(dock)]


def test_undo_or_escape_leaves_no_form_for_an_object_that_is_not_there(sample):
    viewer, dock, layer = sample
    panel = dock.questions_panel
    first = draw(dock, layer, "Nucleus", [(60, 60), (60, 80)])
    assert panel.label_id == first
    layer.undo()  # its only stroke undone: the instance has no pixel left
    assert panel.label_id is None
    layer.redo()  # the object napari still paints with is back, and so is its form
    assert panel.label_id == first and panel.forms.currentWidget() is panel.form

    # napari's encircle, cancelled with Escape, draws nothing and shows no form for it
    layer.mode = "paint"
    click_class(dock, "Cell")
    pending = layer.selected_label
    press(layer, (150, 150), button=2)
    release(layer, (150, 150), button=2)
    for point in [(150, 190), (190, 190), (190, 150)]:
        hover(layer, point)
    assert (np.asarray(layer.data) == pending).any()  # staged pixels on screen
    key_press(viewer, "Escape")
    assert not (np.asarray(layer.data) == pending).any()
    assert panel.label_id != pending
    assert pending not in [row[0] for row in table_rows(dock)]


# -- 7. one notion of "current" ----------------------------------------------------------
def _current_tree_class(dock) -> str:
    return dock.ontology_panel.tree.currentItem().text(NAME_COLUMN)


def _bold_classes(dock) -> list[str]:
    tree = dock.ontology_panel.tree
    return [
        tree.topLevelItem(i).text(NAME_COLUMN)
        for i in range(tree.topLevelItemCount())
        if tree.topLevelItem(i).font(NAME_COLUMN).bold()
    ]


def test_tree_highlight_bold_class_and_table_selection_agree(sample):
    viewer, dock, layer = sample
    document = document_of(layer)
    names = [c.name for c in document.ontology.classes]
    nucleus = draw(dock, layer, names[0], [(60, 60), (60, 80)])
    cell = draw(dock, layer, names[1], [(200, 200), (200, 220)])
    # the stroke's new row is the selected one
    assert selected_rows(dock) == [cell]
    assert _bold_classes(dock) == [names[1]] == [_current_tree_class(dock)]

    # a canvas shortcut: class 1 is bold and highlighted, no row (a fresh id)
    layer.keymap[KeyBinding.from_str("Ctrl-1")](layer)
    assert _bold_classes(dock) == [names[0]] == [_current_tree_class(dock)]
    assert selected_rows(dock) == []

    # a table click: the row's class is bold and highlighted
    click_row(dock, cell)
    assert layer.selected_label == cell
    assert _bold_classes(dock) == [names[1]] == [_current_tree_class(dock)]

    # napari's label (pick tool, spin box): the table row follows
    layer.selected_label = nucleus
    assert selected_rows(dock) == [nucleus]
    assert _bold_classes(dock) == [names[0]] == [_current_tree_class(dock)]

    # a question being edited under the current class keeps its highlight
    class_item = dock.ontology_panel.class_item(document.ontology.classes[0].feature_schema_id)
    if class_item.childCount():
        dock.ontology_panel.tree.setCurrentItem(class_item.child(0))
        layer.selected_label = nucleus
        assert dock.ontology_panel.tree.currentItem() is class_item.child(0)


# -- 8. hovering a just-drawn object names it ---------------------------------------------
def test_status_bar_names_a_just_drawn_object_without_a_mouse_move(sample):
    viewer, dock, layer = sample
    viewer.mouse_over_canvas = True
    viewer.cursor.position = (70, 70)  # the mouse rests where the stroke ends
    viewer.update_status_from_cursor()
    click_class(dock, "Nucleus")
    label_id = layer.selected_label
    stroke(layer, [(70, 50), (70, 70)])
    status = viewer.status
    text = status if isinstance(status, str) else status["coordinates"]
    assert "[No Properties]" not in text
    assert "class: Nucleus" in text and f"{label_id}" in text

    # a class change (the features are edited in place) reaches the status bar at once too
    document = document_of(layer)
    dock.select_rows([label_id])
    dock.change_class_of_selected(document.ontology.class_by_name("Cell").feature_schema_id)
    status = viewer.status
    text = status if isinstance(status, str) else status["coordinates"]
    assert "class: Cell" in text


# -- 9. buttons that need a layer ----------------------------------------------------------
def test_buttons_need_a_layer_and_a_selection(make_napari_viewer):
    viewer = make_napari_viewer()
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    needs_a_layer = (
        dock.centre_button,
        dock.class_button,
        dock.merge_button,
        dock.delete_button,
        dock.new_instance_button,
        dock.save_button,
        dock.coco_button,
        dock.to_polygons_button,
        dock.from_polygons_button,
    )
    assert dock.binding is None
    assert not any(button.isEnabled() for button in needs_a_layer)
    assert dock.open_button.isEnabled()  # opening needs no layer

    viewer.open_sample(PLUGIN_NAME, "cells")
    layer = viewer.layers["cells segmentation"]
    assert dock.new_instance_button.isEnabled() and dock.save_button.isEnabled()
    # the row actions wait for rows: one for Centre, Class… and Delete, two for Merge
    assert not dock.delete_button.isEnabled() and not dock.merge_button.isEnabled()
    layer.brush_size = 10
    a = draw(dock, layer, "Nucleus", [(60, 60), (60, 80)])
    b = draw(dock, layer, "Nucleus", [(200, 200), (200, 220)])
    assert dock.centre_button.isEnabled() and dock.delete_button.isEnabled()
    assert not dock.merge_button.isEnabled()
    dock.select_rows([a, b])
    assert dock.merge_button.isEnabled()
    dock.merge_button.click()
    assert not (np.asarray(layer.data) == b).any()

    viewer.layers.remove(layer)
    assert dock.binding is None
    assert not any(button.isEnabled() for button in needs_a_layer)
