"""The new user's walkthrough on a shown window, start to close, with real widgets.

Pick a class in the tree, draw, answer nested questions, a second instance,
straight lines, hold-Alt erase, draw to back, lock, undo/redo, save through
File > IO Utilities, reopen, polygons both ways, COCO, and close with unsaved
work. Every step checks what the labeler sees (status bar, notification,
table row, form); the end checks that no error was notified and that no
widget of the dock was cut off. ``SEGTOOL_WALKTHROUGH_SHOTS=<folder>`` keeps
grabs of the window at 1600 x 1000 and 1280 x 800 for a look.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from napari.layers import Shapes
from napari.utils.notifications import NotificationSeverity, notification_manager
from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QApplication,
    QLabel,
    QLineEdit,
    QRadioButton,
    QStyle,
    QStyleOptionViewItem,
    QWidget,
)

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of, is_segmentation_layer
from napari_segtool._napari.compat import qt_window
from napari_segtool._napari.feedback import feedback_of
from napari_segtool._qt.close_guard import dirty_layers, install_close_guard
from napari_segtool._qt.instance_table import LOCKED_COLUMN
from napari_segtool._qt.ontology_panel import NAME_COLUMN
from napari_segtool.formats import registry
from tests._qt.test_close_question import title_bar_close
from tests._qt.test_dock import table_rows
from tests._qt.test_dock_layout import rect_in, scroll_of, settle
from tests._qt.test_file_menu import answer_open_dialog, answer_save_dialog, file_menu_action
from tests.napari_input import key_press, key_release, shift_click, stroke

SIZES = ((1600, 1000), (1280, 800))


# -- what the labeler does ----------------------------------------------------------------
def click(widget: QWidget, pos: QPoint | None = None) -> None:
    QTest.mouseClick(
        widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos or QPoint()
    )
    QApplication.processEvents()


def click_tree_class(dock, name: str) -> None:
    tree = dock.ontology_panel.tree
    (item,) = [
        tree.topLevelItem(i)
        for i in range(tree.topLevelItemCount())
        if tree.topLevelItem(i).text(NAME_COLUMN) == name
    ]
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    x = tree.header().sectionViewportPosition(NAME_COLUMN) + 40
    click(tree.viewport(), QPoint(x, rect.center().y()))


def click_check_box(view: QAbstractItemView, index) -> None:
    """Click the check box drawn in the cell ``index`` of ``view``, where a user would."""
    view.scrollTo(index)
    option = QStyleOptionViewItem()
    option.rect = view.visualRect(index)
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    box = view.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, view)
    click(view.viewport(), box.center() if box.isValid() else option.rect.center())


def tick(box: QAbstractButton) -> None:
    """Click a check box or radio button on its indicator (its hit area)."""
    was = box.isChecked()
    click(box, QPoint(8, box.height() // 2))
    assert box.isChecked() is not was or box.autoExclusive(), box.text()


def click_radio(field, text: str) -> None:
    """Click the round indicator of the choice ``text`` (a radio button's hit area)."""
    (button,) = [b for b in field.findChildren(QRadioButton) if b.text() == text]
    for _ in range(100):  # a branch just opened is laid out on the next event loop turns
        if button.height() > 0:
            break
        QTest.qWait(20)
    tick(button)


def titles(question) -> tuple[str, str]:
    return question.name, question.instructions


def field_of(panel, question_name: str):
    return next(f for f in panel.form.iter_fields() if question_name in titles(f.question))


def nested_fields(field, option_label: str):
    option = next(o for o in field.question.options if o.label == option_label)
    fields = field.subforms[option.feature_schema_id].iter_fields()
    return {title: f for f in fields for title in titles(f.question)}


# -- what the labeler sees ----------------------------------------------------------------
def status_bar(viewer) -> str:
    """Everything napari's status bar shows now (the status and the help on its right)."""
    QApplication.processEvents()
    labels = qt_window(viewer).statusBar().findChildren(QLabel)
    return " | ".join(label.text() for label in labels if label.isVisible())


def clipped_widgets(dock) -> list[str]:
    """Shown widgets of the dock that stick out of its viewport sideways."""
    viewport = scroll_of(dock).viewport()
    page = scroll_of(dock).widget()
    inner_viewports = [
        area.viewport() for area in page.findChildren(QAbstractScrollArea) if area.viewport()
    ]
    clipped = []
    for widget in page.findChildren(QWidget):
        if not widget.isVisibleTo(page) or widget.width() <= 0:
            continue
        if any(inner.isAncestorOf(widget) for inner in inner_viewports):
            continue  # scrolled inside a table or tree of its own
        rect = rect_in(widget, viewport)
        if rect.left() < 0 or rect.right() > viewport.width():
            name = widget.objectName() or type(widget).__name__
            text = getattr(widget, "text", lambda: "")()
            clipped.append(f"{name} {text!r} {rect.left()}..{rect.right()} of {viewport.width()}")
    return clipped


def look(qtbot, viewer, dock, name: str, shots: Path | None) -> None:
    """At both window sizes: nothing clipped and no sideways scroll bar; keep a grab."""
    window = qt_window(viewer)
    before = window.size()
    for width, height in SIZES:
        window.resize(width, height)
        settle(qtbot, 150)
        assert not clipped_widgets(dock), (width, height, clipped_widgets(dock))
        assert not scroll_of(dock).horizontalScrollBar().isVisible(), (width, height)
        if shots is not None:
            window.grab().save(str(shots / f"{name}-{width}x{height}.png"))
    window.resize(before)
    settle(qtbot)


@pytest.fixture
def shots() -> Path | None:
    folder = os.environ.get("SEGTOOL_WALKTHROUGH_SHOTS")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


@pytest.fixture
def notified():
    received = []
    notification_manager.notification_ready.connect(received.append)
    yield received
    notification_manager.notification_ready.disconnect(received.append)


def test_the_new_users_walkthrough(
    make_napari_viewer, qtbot, tmp_path, monkeypatch, notified, shots
):
    viewer = make_napari_viewer(show=True)
    window = qt_window(viewer)
    window.resize(*SIZES[0])
    # a closed window only hides, so the fixture's teardown can still close the viewer
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    layer = viewer.layers["cells segmentation"]
    document = document_of(layer)
    panel = dock.questions_panel
    settle(qtbot)

    # pick a class: the tree highlights it and napari paints a fresh id of it
    click_tree_class(dock, "Nucleus")
    assert dock.ontology_panel.tree.currentItem().text(NAME_COLUMN) == "Nucleus"
    assert layer.mode == "paint"
    nucleus = layer.selected_label

    # draw: a row in the table, the instance's form in view
    layer.brush_size = 12
    stroke(layer, [(100, 100), (104, 110), (108, 120)])
    assert [row[:2] for row in table_rows(dock)] == [(nucleus, "Nucleus")]
    assert panel.label_id == nucleus and panel.form.isVisible()
    assert "Nucleus" in panel.title.text()

    # nested questions: Mitosis opens the stage, Telophase opens the description
    phase = field_of(panel, "Which phase is this nucleus in?")
    click_radio(phase, "Mitosis")
    stage = nested_fields(phase, "Mitosis")["Which stage of mitosis?"]
    qtbot.waitUntil(stage.isVisible, timeout=2000)
    click_radio(stage, "Telophase")
    describe = nested_fields(stage, "Telophase")["Describe the daughter nuclei"]
    qtbot.waitUntil(describe.isVisible, timeout=2000)
    line_edit = describe.findChild(QLineEdit)
    click(line_edit)
    QTest.keyClicks(line_edit, "two, well apart")
    QTest.keyClick(line_edit, Qt.Key.Key_Return)
    checklist = field_of(panel, "Tick everything that applies")
    tick(checklist.checkboxes[checklist.question.options[0].feature_schema_id].native)
    answers = document.instance(nucleus).answers
    (chosen_phase,) = answers[phase.question.feature_schema_id].values()
    (chosen_stage,) = chosen_phase[stage.question.feature_schema_id].values()
    assert chosen_stage[describe.question.feature_schema_id] == "two, well apart"
    assert checklist.question.feature_schema_id in answers
    look(qtbot, viewer, dock, "1-drawn-form-open", shots)

    # a second instance of the same class, through the dock's button
    click(dock.new_instance_button)
    second = layer.selected_label
    assert second != nucleus
    stroke(layer, [(250, 300), (255, 310)])
    assert [row[0] for row in table_rows(dock)] == [nucleus, second]
    assert panel.label_id == second and not field_of(panel, "Which phase is this nucleus in?").value

    # straight lines: a dab, then Shift+click paints the segment between
    stroke(layer, [(300, 100)])
    shift_click(layer, (300, 200))
    assert (np.asarray(layer.data)[300, 100:201] == second).all()

    # hold Alt to erase: the pen panel shows the eraser while Alt is down
    key_press(viewer, "Alt")
    assert layer.mode == "erase" and dock.pen_panel.erase_button.isChecked()
    stroke(layer, [(300, 140), (300, 160)], modifiers=("Alt",))
    key_release(viewer, "Alt")
    assert layer.mode == "paint" and not dock.pen_panel.erase_button.isChecked()
    assert not (np.asarray(layer.data)[300, 145:156] == second).any()

    # draw to back: a Cell stroke across the nucleus keeps it and says so
    tick(dock.pen_panel.draw_to_back)
    assert layer.preserve_labels
    click_tree_class(dock, "Cell")
    cell = layer.selected_label
    nucleus_pixels = np.asarray(layer.data) == nucleus
    stroke(layer, [(104, 60), (104, 160)])
    assert "draw to back" in status_bar(viewer)
    np.testing.assert_array_equal(np.asarray(layer.data) == nucleus, nucleus_pixels)
    assert (np.asarray(layer.data) == cell).any()
    tick(dock.pen_panel.draw_to_back)
    assert not layer.preserve_labels

    # lock the nucleus with its box in the table: a stroke across it is clipped, and says so
    model = dock.table_model
    click_check_box(dock.table, model.index(model.row_of(nucleus), LOCKED_COLUMN))
    assert document.instance(nucleus).locked
    assert model.data(
        model.index(model.row_of(nucleus), LOCKED_COLUMN), Qt.ItemDataRole.CheckStateRole
    ) in (Qt.CheckState.Checked, Qt.CheckState.Checked.value)
    click_tree_class(dock, "Cell")
    stroke(layer, [(108, 60), (108, 160)])
    assert f"locked Nucleus #{nucleus}" in status_bar(viewer)
    np.testing.assert_array_equal(np.asarray(layer.data) == nucleus, nucleus_pixels)

    # undo / redo with napari's keys on the canvas
    before_undo = np.asarray(layer.data).copy()
    crossing = layer.selected_label
    assert (before_undo == crossing).any()
    key_press(viewer, "z", ("Control",))
    assert not (np.asarray(layer.data) == crossing).any()
    key_press(viewer, "z", ("Control", "Shift"))
    np.testing.assert_array_equal(np.asarray(layer.data), before_undo)
    assert crossing in [row[0] for row in table_rows(dock)]
    assert panel.label_id == crossing  # its form is back with it

    # save through File > IO Utilities: written, said so, no longer unsaved
    export = tmp_path / "cells.json"
    answer_save_dialog(monkeypatch, tmp_path / "cells")
    file_menu_action(viewer, "Save segmentation as").trigger()
    (row,) = json.loads(export.read_text())
    assert len(row["Label"]["objects"]) == len(table_rows(dock))
    assert "cells.json" in notification_manager.records[-1].message
    assert "cells.json" in status_bar(viewer)
    assert not dirty_layers([layer])
    saved_pixels = np.asarray(layer.data).copy()
    look(qtbot, viewer, dock, "2-saved", shots)

    # reopen through File > IO Utilities: the same pixels, answers and lock
    viewer.layers.clear()
    answer_open_dialog(monkeypatch, export)
    file_menu_action(viewer, "Open segmentation").trigger()
    assert notification_manager.records[-1].message.startswith("Opened cells.json")
    (layer,) = [lay for lay in viewer.layers if is_segmentation_layer(lay)]
    document = document_of(layer)
    np.testing.assert_array_equal(np.asarray(layer.data), saved_pixels)
    assert document.instance(nucleus).locked
    assert document.instance(nucleus).answers == answers
    assert nucleus in [row[0] for row in table_rows(dock)]

    # polygons: instances to a Shapes layer, one polygon back as a new Debris instance
    click(dock.to_polygons_button)
    shapes = next(lay for lay in viewer.layers if isinstance(lay, Shapes))
    # one polygon per connected part: the erased gap and the clipped strokes split some
    assert set(shapes.features["label_id"]) == {row[0] for row in table_rows(dock)}
    shapes.add_polygons([np.array([[20, 400], [20, 440], [60, 440], [60, 400]])])
    shapes.selected_data = {len(shapes.data) - 1}
    viewer.layers.selection.active = layer
    click_tree_class(dock, "Debris")
    rows_before = len(table_rows(dock))
    click(dock.from_polygons_button)
    assert len(table_rows(dock)) == rows_before + 1
    debris = table_rows(dock)[-1][0]
    assert table_rows(dock)[-1][1] == "Debris" and (np.asarray(layer.data) == debris).any()

    # COCO through the same File menu entry
    answer_save_dialog(monkeypatch, tmp_path / "cells", registry.get("coco").file_filter)
    file_menu_action(viewer, "Save segmentation as").trigger()
    coco = json.loads((tmp_path / "cells.coco.json").read_text())
    assert len(coco["annotations"]) == len(table_rows(dock))
    assert "cells.coco.json" in notification_manager.records[-1].message

    # unsaved work, then close: one question, answered "Close anyway"
    viewer.layers.selection.active = layer
    click_tree_class(dock, "Cell")
    stroke(layer, [(350, 450), (355, 460)])
    assert dirty_layers([layer]) == [layer]
    try:
        dialogs = title_bar_close(qtbot, window, "Close anyway")
        assert [kind for kind, _ in dialogs.seen] == ["ours"]
        assert "unsaved annotations" in dialogs.seen[0][1]
        assert not window.isVisible()
    finally:
        install_close_guard(viewer, confirm=lambda *args: True)  # the teardown closes unasked

    errors = [n for n in notified if n.severity >= NotificationSeverity.ERROR]
    assert not errors, [n.message for n in errors]
    assert feedback_of(layer) is not None
