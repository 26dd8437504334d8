"""The dock's layout on a shown window: widths napari restores, the form after a stroke, Centre."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QPoint, QRect, Qt
from qtpy.QtWidgets import QApplication, QLabel, QScrollArea, QWidget

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.autosave import autosaver_of
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.compat import qt_window
from napari_segtool._qt.dock import SegmentationDock
from napari_segtool.model.document import Document
from tests._qt.test_dock import click_class, paint_instance
from tests.napari_input import stroke

# ids in tests/data/reference/ontology.fish.json
ORANGE_FISH = "cjxtjkpjai8t80846iwqaa1d8"
BLUE_FISH = "cjxtjkpjai8t90846yzpbpo7t"
BLURRY, YES = "cjxtjkphehbnj0848wknmg44u", "cjxtjkpfwh4y90721uodxps2b"


def settle(qtbot, ms: int = 50) -> None:
    qtbot.wait(ms)
    QApplication.processEvents()


def shown_viewer(make_napari_viewer, size=(1600, 1000)):
    viewer = make_napari_viewer(show=True)
    qt_window(viewer).resize(*size)
    return viewer


def open_dock(viewer) -> tuple[QWidget, SegmentationDock]:
    qdock, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    return qdock, dock


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    """``widget``'s rectangle in ``ancestor``'s coordinates."""
    return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())


def scroll_of(dock: SegmentationDock) -> QScrollArea:
    return dock.findChild(QScrollArea, options=Qt.FindChildOption.FindDirectChildrenOnly)


def in_viewport(dock: SegmentationDock, widget: QWidget) -> bool:
    viewport = scroll_of(dock).viewport()
    return viewport.rect().contains(rect_in(widget, viewport))


def squeezed_state(make_napari_viewer, qtbot) -> bytes:
    """A main-window state that remembers the dock's place as a sliver.

    A stand-in under the dock's name is squeezed (the dock itself cannot be
    any more), as a dock squeezed in an earlier napari session was.
    """
    viewer = shown_viewer(make_napari_viewer)
    qdock, _dock = open_dock(viewer)
    name = qdock.objectName()
    viewer.window.remove_dock_widget(qdock)
    stand_in = viewer.window.add_dock_widget(QLabel("…"), name=name, area="right")
    assert stand_in.objectName() == name
    settle(qtbot)
    window = qt_window(viewer)
    window.resizeDocks([stand_in], [40], Qt.Orientation.Horizontal)
    settle(qtbot)
    assert stand_in.width() < 100
    return window.saveState()


# -- item 10: a dock that opens at a width where its content fits ------------------------
def test_dock_opens_wide_enough_whatever_width_napari_restores(make_napari_viewer, qtbot):
    state = squeezed_state(make_napari_viewer, qtbot)
    viewer = shown_viewer(make_napari_viewer)
    # napari restores the remembered window state before plugins add their docks
    qt_window(viewer).restoreState(state)
    viewer.open_sample(PLUGIN_NAME, "cells")
    qdock, dock = open_dock(viewer)
    settle(qtbot)

    page = scroll_of(dock).widget()
    assert dock.minimumSizeHint().width() >= page.minimumSizeHint().width() > 300
    assert dock.width() >= dock.minimumSizeHint().width()
    assert not scroll_of(dock).horizontalScrollBar().isVisible()
    assert page.width() <= scroll_of(dock).viewport().width()
    # the widest rows are all on show: the class editing buttons, the table's columns
    panel = dock.ontology_panel
    for button in (panel.add_class_button, panel.remove_button, dock.merge_button):
        assert in_viewport(dock, button), button.text()
    header = dock.table.horizontalHeader()
    assert header.length() <= dock.table.viewport().width()

    # restoring it once more with the dock in place cannot squeeze it either
    qt_window(viewer).restoreState(state)
    settle(qtbot)
    assert dock.width() >= dock.minimumSizeHint().width()

    # the labeler can still narrow it, down to that minimum and no further
    narrowest = dock.minimumSizeHint().width()
    qt_window(viewer).resizeDocks([qdock], [narrowest - 100], Qt.Orientation.Horizontal)
    settle(qtbot)
    assert narrowest <= dock.width() <= narrowest + 4
    assert not scroll_of(dock).horizontalScrollBar().isVisible()
    for button in (panel.add_class_button, panel.remove_button, dock.merge_button):
        assert in_viewport(dock, button), button.text()


def test_recovery_banner_wraps_and_keeps_its_buttons_at_the_narrowest(make_napari_viewer, qtbot):
    first = make_napari_viewer()
    first.open_sample(PLUGIN_NAME, "cells")
    _, old_dock = open_dock(first)
    layer = first.layers["cells segmentation"]
    paint_instance(old_dock, layer, "Nucleus", (80, 80), radius=6)
    autosaver_of(layer).flush()
    first.layers.remove(layer)  # the work stays in the recovery folder

    state = squeezed_state(make_napari_viewer, qtbot)
    viewer = shown_viewer(make_napari_viewer)
    qt_window(viewer).restoreState(state)
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = open_dock(viewer)
    settle(qtbot)
    banner = dock.recovery_banner
    assert banner.isVisible()
    assert dock.width() >= dock.minimumSizeHint().width()

    message = banner.message
    assert message.wordWrap()
    assert message.height() >= message.heightForWidth(message.width())  # no line cut off
    assert message.heightForWidth(message.width()) > message.fontMetrics().height()  # wrapped
    for widget in (message, banner.restore_button, banner.discard_button):
        assert banner.rect().contains(rect_in(widget, banner)), widget
        assert in_viewport(dock, widget), widget


# -- item 11: the just-drawn instance's form is in view -----------------------------------
@pytest.mark.parametrize("size", [(1600, 1000), (1280, 800)])
def test_form_of_the_first_stroke_is_in_view_and_the_canvas_keeps_the_keys(
    make_napari_viewer, qtbot, size
):
    viewer = shown_viewer(make_napari_viewer, size)
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = open_dock(viewer)
    layer = viewer.layers["cells segmentation"]
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.waitUntil(lambda: qt_window(viewer).focusWidget() is canvas, timeout=2000)

    click_class(dock, "Nucleus")
    layer.brush_size = 8
    stroke(layer, [(40, 40), (44, 50), (48, 60)])
    panel = dock.questions_panel
    qtbot.waitUntil(lambda: in_viewport(dock, panel.forms), timeout=2000)
    assert panel.label_id == layer.selected_label
    assert panel.form is not None and panel.forms.currentWidget() is panel.form
    assert in_viewport(dock, panel.title)
    assert in_viewport(dock, panel.form.fields[0])
    # shown, not focused: napari's keys still reach the canvas
    focused = QApplication.focusWidget()
    assert focused is None or not dock.isAncestorOf(focused)
    assert qt_window(viewer).focusWidget() is canvas
    # the class tree is as tall as its rows (three rows at least), not a screenful
    tree = dock.ontology_panel.tree
    rows = max(tree.topLevelItemCount(), 3)
    assert tree.height() <= tree.header().height() + rows * tree.sizeHintForRow(0) + 8
    # opening a class's questions makes room for them
    before = tree.height()
    tree.topLevelItem(0).setExpanded(True)
    qtbot.waitUntil(lambda: tree.height() > before, timeout=2000)


def test_a_folded_questions_section_is_not_scrolled_to(make_napari_viewer, qtbot):
    viewer = shown_viewer(make_napari_viewer, (1280, 800))
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = open_dock(viewer)
    layer = viewer.layers["cells segmentation"]
    dock.sections["questions"].collapse(animate=False)
    settle(qtbot)
    click_class(dock, "Nucleus")
    stroke(layer, [(40, 40), (44, 50)])
    settle(qtbot)
    assert scroll_of(dock).verticalScrollBar().value() == 0


# -- item 12: a short form after a tall one is short --------------------------------------
def test_a_short_form_after_a_tall_one_leaves_no_gap(make_napari_viewer, fish, qtbot):
    viewer = shown_viewer(make_napari_viewer)
    layer = viewer.add_labels(
        np.zeros((64, 64), dtype=np.uint32), **segmentation_layer_kwargs(Document(fish), "tank")
    )
    _, dock = open_dock(viewer)
    binding = binding_of(layer)
    panel = dock.questions_panel
    layer.brush_size = 4

    binding.start_instance(ORANGE_FISH)
    stroke(layer, [(10, 10), (14, 14)])
    panel.form.field(BLURRY).input.value = YES  # opens the nested "why" question
    settle(qtbot)
    tall = panel.forms.height()
    assert tall >= panel.form.sizeHint().height()

    binding.start_instance(BLUE_FISH)  # no questions: a one-line message
    stroke(layer, [(40, 40), (44, 44)])
    settle(qtbot)
    assert panel.forms.currentWidget() is panel.message
    message_height = panel.message.heightForWidth(panel.message.width())
    assert panel.forms.height() <= message_height + 4 < tall
    # the image-level questions follow straight after it
    image_title_top = rect_in(panel.image_stack, panel).top()
    assert image_title_top - rect_in(panel.forms, panel).bottom() < 60


# -- item 4: Centre in a stack moves the sliders to the instance --------------------------
def test_centre_in_a_stack_moves_the_slider_to_the_instance(make_napari_viewer, fish, qtbot):
    viewer = shown_viewer(make_napari_viewer)
    layer = viewer.add_labels(
        np.zeros((12, 80, 80), dtype=np.uint32),
        scale=(2.0, 1.0, 1.0),
        **segmentation_layer_kwargs(Document(fish), "stack"),
    )
    _, dock = open_dock(viewer)
    binding = binding_of(layer)
    layer.brush_size = 6
    label_id = binding.start_instance(ORANGE_FISH)
    for z in (6, 7, 8):  # the fish spans slices 6..8: the middle is 7
        viewer.dims.set_current_step(0, z)
        stroke(layer, [(2 * z, 60, 60), (2 * z, 64, 66)], dims_displayed=(1, 2))
    other = binding.start_instance(BLUE_FISH)
    viewer.dims.set_current_step(0, 1)
    stroke(layer, [(2, 10, 10), (2, 12, 12)], dims_displayed=(1, 2))
    assert viewer.dims.current_step[0] == 1

    dock.select_rows([label_id])
    dock.centre_button.click()
    assert viewer.dims.current_step[0] == 7
    assert layer.data[7].max() == label_id
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], (62, 63), atol=1.5)
    assert layer.selected_label == label_id

    dock.select_rows([other])
    dock.centre_button.click()
    assert viewer.dims.current_step[0] == 1
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], (11, 11), atol=1.5)


def test_centre_in_a_time_lapse_moves_every_slider(make_napari_viewer, fish, qtbot):
    viewer = shown_viewer(make_napari_viewer)
    movie = np.zeros((5, 6, 40, 40), dtype=np.uint32)  # t, z, y, x
    layer = viewer.add_labels(movie, **segmentation_layer_kwargs(Document(fish), "movie"))
    _, dock = open_dock(viewer)
    binding = binding_of(layer)
    layer.brush_size = 4
    label_id = binding.start_instance(ORANGE_FISH)
    for z in (1, 2):
        viewer.dims.current_step = (3, z, 0, 0)
        stroke(layer, [(3, z, 30, 8), (3, z, 32, 10)], dims_displayed=(2, 3))
    viewer.dims.current_step = (0, 5, 0, 0)

    dock.select_rows([label_id])
    dock.centre_button.click()
    assert viewer.dims.current_step[:2] == (3, 1)  # the first of the two middle slices
    assert layer.data[3, 1].max() == label_id
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], (31, 9), atol=1.5)
