"""The class Lock / Hide boxes in the ontology tree, ticked with real mouse clicks."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtWidgets import QApplication, QStyle, QStyleOptionViewItem

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of
from napari_segtool._qt.ontology_panel import HIDE_COLUMN, LOCK_COLUMN


@pytest.fixture
def dock_on_sample(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    return viewer, dock


def click_box(qtbot, tree, item, column: int) -> None:
    """Click the check box of ``item`` in ``column`` where a user would."""
    tree.scrollToItem(item)
    row = tree.visualItemRect(item)
    option = QStyleOptionViewItem()
    option.rect = row.adjusted(0, 0, 0, 0)
    option.rect.setLeft(tree.header().sectionViewportPosition(column))
    option.rect.setWidth(tree.header().sectionSize(column))
    option.features |= QStyleOptionViewItem.ViewItemFeature.HasCheckIndicator
    box = tree.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, option, tree)
    centre = box.center() if box.isValid() else QPoint(option.rect.left() + 8, row.center().y())
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    QApplication.processEvents()


def draw_a_nucleus(viewer, dock):
    """A Nucleus instance drawn with napari's polygon tool: layer, document, class, id."""
    layer = viewer.layers["cells segmentation"]
    document = document_of(layer)
    nucleus = document.ontology.class_by_name("Nucleus").feature_schema_id
    dock.start_instance(nucleus)
    layer.paint_polygon([[10, 10], [10, 40], [40, 40], [40, 10]], layer.selected_label)
    return layer, document, nucleus, layer.selected_label


@pytest.mark.parametrize("column", [LOCK_COLUMN, HIDE_COLUMN])
def test_class_boxes_toggle_without_error_and_keep_the_tree(qtbot, dock_on_sample, column):
    viewer, dock = dock_on_sample
    layer = viewer.layers["cells segmentation"]
    document = document_of(layer)
    nucleus = document.ontology.class_by_name("Nucleus").feature_schema_id
    flags = document.locked_classes if column == LOCK_COLUMN else document.hidden_classes
    tree = dock.ontology_panel.tree
    item = dock.ontology_panel.class_item(nucleus)

    click_box(qtbot, tree, item, column)  # an error in a slot fails the test (pytest-qt)
    assert nucleus in flags
    assert dock.ontology_panel.class_item(nucleus) is item  # same item: not rebuilt under Qt
    assert item.checkState(column) == Qt.CheckState.Checked

    click_box(qtbot, tree, item, column)
    assert nucleus not in flags
    assert item.checkState(column) == Qt.CheckState.Unchecked


def test_class_lock_box_protects_pixels(qtbot, dock_on_sample):
    viewer, dock = dock_on_sample
    layer, document, nucleus, nucleus_id = draw_a_nucleus(viewer, dock)
    before = np.asarray(layer.data).copy()
    click_box(qtbot, dock.ontology_panel.tree, dock.ontology_panel.class_item(nucleus), LOCK_COLUMN)
    assert document.is_locked(nucleus_id)
    layer.paint_polygon([[0, 0], [0, 60], [60, 60], [60, 0]], nucleus_id + 1)
    assert np.array_equal(layer.data == nucleus_id, before == nucleus_id)


def test_a_hidden_class_is_not_removed_and_loses_nothing(qtbot, dock_on_sample):
    viewer, dock = dock_on_sample
    panel = dock.ontology_panel
    layer, document, nucleus, nucleus_id = draw_a_nucleus(viewer, dock)
    click_box(qtbot, panel.tree, panel.class_item(nucleus), HIDE_COLUMN)
    before, stored = np.asarray(layer.data).copy(), document.to_dict()
    warnings = []
    panel.confirm = lambda *_: True  # "Remove the class and erase them?" yes
    panel._warn = lambda title, text: warnings.append((title, text))
    index = [c.feature_schema_id for c in document.ontology.classes].index(nucleus)

    assert panel.remove(("class", index)) is False
    assert warnings and "hidden" in warnings[0][1] and str(nucleus_id) in warnings[0][1]
    assert np.array_equal(np.asarray(layer.data), before)
    assert document.to_dict() == stored
    assert document.ontology.class_by_name("Nucleus") is not None


@pytest.mark.parametrize("column", [LOCK_COLUMN, HIDE_COLUMN])
def test_instance_table_shows_flags_set_through_the_class(qtbot, dock_on_sample, column):
    from napari_segtool._qt.instance_table import HIDDEN_COLUMN, LOCKED_COLUMN

    viewer, dock = dock_on_sample
    layer, document, nucleus, label_id = draw_a_nucleus(viewer, dock)
    model = dock.table_model
    table_column = LOCKED_COLUMN if column == LOCK_COLUMN else HIDDEN_COLUMN
    cell = model.index(model.row_of(label_id), table_column)
    check_role = Qt.ItemDataRole.CheckStateRole
    assert model.data(cell, check_role) == Qt.CheckState.Unchecked

    item = dock.ontology_panel.class_item(nucleus)
    click_box(qtbot, dock.ontology_panel.tree, item, column)
    assert model.data(cell, check_role) == Qt.CheckState.PartiallyChecked
    assert "through its class" in model.data(cell, Qt.ItemDataRole.ToolTipRole)
    # the row's box cannot undo a class flag; the class's box does
    assert not model.flags(cell) & Qt.ItemFlag.ItemIsUserCheckable
    click_box(qtbot, dock.ontology_panel.tree, item, column)
    assert model.data(cell, check_role) == Qt.CheckState.Unchecked
    assert model.flags(cell) & Qt.ItemFlag.ItemIsUserCheckable
