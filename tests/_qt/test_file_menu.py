"""File > IO Utilities > Save segmentation as… / Open segmentation…, through napari's real menu.

The file dialogs are Qt's: their return value is given (no modal dialog in a
test); everything else is napari's menu action, the plugin's writers and
readers and the files on disk.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from napari.utils.notifications import notification_manager
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFileDialog, QMenu

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of, is_segmentation_layer
from napari_segtool._qt.close_guard import dirty_layers
from napari_segtool._qt.file_menu import with_extension
from napari_segtool._qt.instance_table import LOCKED_COLUMN
from napari_segtool.formats import registry
from tests._qt.test_dock import click_class, paint_instance, tick
from tests.napari_input import stroke


@pytest.fixture
def sample(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    return viewer, dock, viewer.layers["cells segmentation"]


def file_menu_action(viewer, title: str):
    """The QAction napari built for ``title`` under File > IO Utilities."""
    for action in viewer.window.file_menu.actions():
        if action.text() == "IO Utilities" and isinstance(action.menu(), QMenu):
            for item in action.menu().actions():
                if item.text().startswith(title):
                    return item
    raise AssertionError(f"{title!r} is not in File > IO Utilities")


def answer_save_dialog(monkeypatch, path, file_type: str | None = None) -> list[str]:
    """QFileDialog.getSaveFileName returns ``path`` with ``file_type``; the offered types kept."""
    offered: list[str] = []

    def dialog(parent, caption, folder, filters, initial=""):
        offered.extend(filters.split(";;"))
        return str(path), file_type or initial

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    return offered


def answer_open_dialog(monkeypatch, path) -> None:
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *args, **kwargs: (str(path), ""))
    )


def last_message() -> str:
    return notification_manager.records[-1].message


def test_save_and_open_through_the_file_menu_keep_pixels_and_locks(sample, tmp_path, monkeypatch):
    """The new user's path: draw, lock, File > IO Utilities > Save, reopen: nothing lost."""
    viewer, dock, layer = sample
    nucleus = paint_instance(dock, layer, "Nucleus", (100, 100), radius=12)
    cell = paint_instance(dock, layer, "Cell", (200, 300), radius=15)
    tick(dock.table_model, nucleus, LOCKED_COLUMN)
    document = document_of(layer)
    document.set_class_hidden(document.instance(cell).schema_id, True)
    painted = layer.data.copy()

    offered = answer_save_dialog(monkeypatch, tmp_path / "cells")  # the default type: Labelbox
    file_menu_action(viewer, "Save segmentation as").trigger()
    assert offered == [entry.file_filter for entry in registry.formats()]
    export = tmp_path / "cells.json"
    (row,) = json.loads(export.read_text())
    assert len(row["Label"]["objects"]) == 2
    assert "Saved 2 mask(s) to cells.json" in last_message()
    assert "cells.json" in viewer.status

    viewer.layers.clear()
    answer_open_dialog(monkeypatch, export)
    file_menu_action(viewer, "Open segmentation").trigger()
    (again,) = [lay for lay in viewer.layers if is_segmentation_layer(lay)]
    np.testing.assert_array_equal(again.data, painted)
    reopened = document_of(again)
    assert reopened.instance(nucleus).locked and not reopened.instance(cell).locked
    assert reopened.is_hidden(cell) and not reopened.is_hidden(nucleus)
    assert again.colormap.map(cell)[3] == 0 and again.colormap.map(nucleus)[3] > 0  # not drawn
    model = dock.table_model
    locked_box = model.index(model.row_of(nucleus), LOCKED_COLUMN)
    assert model.data(locked_box, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked

    # the lock is in force again: a stroke across the nucleus leaves it whole
    viewer.layers.selection.active = again
    click_class(dock, "Debris")
    again.mode = "paint"
    again.brush_size = 30
    stroke(again, [(100, 60), (100, 140)])
    np.testing.assert_array_equal(again.data == nucleus, painted == nucleus)
    assert (again.data == again.selected_label).any()


def test_the_chosen_file_type_decides_the_format_and_its_extension(sample, tmp_path, monkeypatch):
    viewer, dock, layer = sample
    paint_instance(dock, layer, "Nucleus", (100, 100), radius=12)
    coco = registry.get("coco")
    answer_save_dialog(monkeypatch, tmp_path / "cells.json", coco.file_filter)
    file_menu_action(viewer, "Save segmentation as").trigger()
    path = tmp_path / "cells.coco.json"
    assert not (tmp_path / "cells.json").exists()
    assert len(json.loads(path.read_text())["annotations"]) == 1
    assert "Wrote COCO cells.coco.json" in last_message()
    # saving again suggests the same file and format
    offered_initial: list[str] = []

    def dialog(parent, caption, folder, filters, initial=""):
        offered_initial.extend([folder, initial])
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    file_menu_action(viewer, "Save segmentation as").trigger()
    assert offered_initial == [str(path), coco.file_filter]


def test_with_extension_adds_or_swaps_the_ending(tmp_path):
    labelbox, coco = registry.get("labelbox-v1"), registry.get("coco")
    assert with_extension(tmp_path / "a", labelbox).name == "a.json"
    assert with_extension(tmp_path / "a.json", coco).name == "a.coco.json"
    assert with_extension(tmp_path / "a.coco.json", coco).name == "a.coco.json"
    assert with_extension(tmp_path / "a.JSON", labelbox).name == "a.JSON"


def test_a_failed_save_says_why_and_leaves_the_work_unsaved(sample, tmp_path, monkeypatch):
    viewer, dock, layer = sample
    paint_instance(dock, layer, "Nucleus", (100, 100), radius=12)
    blocker = tmp_path / "cells_masks"
    blocker.write_text("not a folder")  # the export's mask folder cannot be made
    answer_save_dialog(monkeypatch, tmp_path / "cells.json")
    file_menu_action(viewer, "Save segmentation as").trigger()
    assert not (tmp_path / "cells.json").exists()
    assert "Not saved" in last_message() and "cells_masks" in last_message()
    assert dirty_layers(viewer.layers) == [layer]  # the close guard still asks


def test_nothing_to_save_says_what_to_select(make_napari_viewer, monkeypatch):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((8, 8)))
    asked = answer_save_dialog(monkeypatch, "/nowhere/cells")
    file_menu_action(viewer, "Save segmentation as").trigger()
    assert asked == [] and "select the segmentation layer" in last_message()


def test_a_file_that_cannot_be_opened_is_named_and_adds_nothing(
    make_napari_viewer, tmp_path, monkeypatch
):
    viewer = make_napari_viewer()
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    answer_open_dialog(monkeypatch, bad)
    file_menu_action(viewer, "Open segmentation").trigger()
    assert len(viewer.layers) == 0
    assert "Not opened" in last_message() and "notes.json" in last_message()


def test_napari_save_selected_layers_with_the_labelbox_type_reports_what_it_wrote(
    sample, tmp_path, monkeypatch
):
    """napari's own dialog works too when its file type is this plugin's: and says so."""
    viewer, dock, layer = sample
    paint_instance(dock, layer, "Nucleus", (100, 100), radius=12)
    viewer.layers.selection = {layer}
    offered: list[str] = []

    def dialog(parent, caption, folder, filter="", **kwargs):  # napari's keyword call
        offered.extend(filter.split(";;"))
        (ours,) = [f for f in offered if "Labelbox v1 export" in f]
        return str(tmp_path / "cells.json"), ours

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    viewer.window._qt_viewer._save_layers_dialog(selected=True)  # File > Save Selected Layers
    assert (tmp_path / "cells.json").is_file()
    assert "Saved 1 mask(s) to cells.json" in last_message()
    # napari's default type for a Labels layer is its own, which writes no .json: hence our entries
    assert offered[0].startswith("napari builtins labels")
