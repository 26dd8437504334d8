"""The unsaved-work guard on napari 0.9.2's real close and delete paths.

Asked and cancellable: closing the main window (any route that ends in
``QMainWindow.close()``) and deleting selected layers from the GUI (all routes
end in ``viewer.layers.remove_selected()``). Not askable, covered by a
synchronous autosave flush: programmatic removal and ``viewer.close()``.
"""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils.notifications import notification_manager
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication, QMessageBox

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.autosave import attach_autosave, notify_saved
from napari_segtool._napari.binding import binding_of
from napari_segtool._qt.close_guard import (
    CANCEL,
    GO,
    SAVE,
    ask_user,
    dirty_layers,
    install_close_guard,
)
from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import iter_recovery_files, read_recovery
from tests.autosave_helpers import (
    open_session,
    paint_instance,
    recovery_folder,  # noqa: F401 - fixture
    write_image,
)


class Answers:
    """A stand-in for the dialog: records the questions, gives a fixed answer."""

    def __init__(self, answer: bool):
        self.answer = answer
        self.asked: list[tuple[list[str], str]] = []

    def __call__(self, parent, layers, action) -> bool:
        self.asked.append(([layer.name for layer in layers], action))
        return self.answer


@pytest.fixture
def guarded(make_napari_viewer, recovery_folder, tmp_path):  # noqa: F811
    viewer = make_napari_viewer()
    image_path = write_image(tmp_path)
    _image, layer, binding = open_session(viewer, image_path)
    saver = attach_autosave(binding, viewer=viewer)
    saver.interval = 3600  # only the guard's flush writes in these tests
    answers = Answers(False)
    guard = install_close_guard(viewer, confirm=answers)
    yield viewer, layer, binding, saver, guard, answers
    answers.answer = True  # let the fixture's teardown close the viewer


def test_one_guard_per_viewer(guarded):
    viewer, _layer, _binding, _saver, guard, _answers = guarded
    assert install_close_guard(viewer) is guard


def test_the_session_installs_both_guards_and_the_layer_guard_asks_through_qt(guarded):
    from napari_segtool._napari.close_guard import layer_guard_of
    from napari_segtool._napari.session import session_for

    viewer, layer, binding, _saver, guard, answers = guarded
    session = session_for(viewer)  # the segmentation layer was added by the command
    assert session.window_guard is guard and session.layer_guard is layer_guard_of(viewer)
    assert guard.layer_guard is session.layer_guard
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    assert session.layer_guard.go_ahead([layer], "delete") is False
    assert answers.asked == [([layer.name], "delete")]


# -- the window ---------------------------------------------------------------------------------
def test_clean_window_closes_without_asking(guarded):
    viewer, _layer, _binding, _saver, _guard, answers = guarded
    assert viewer.window._qt_window.close()
    assert answers.asked == []


def test_window_close_with_unsaved_work_asks_and_cancel_keeps_it(guarded):
    viewer, layer, binding, saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    assert dirty_layers(viewer.layers) == [layer]
    assert viewer.window._qt_window.close() is False  # Ctrl+W / title bar / Quit end here
    assert answers.asked == [([layer.name], "close")]
    assert layer in viewer.layers and saver.is_dirty


def test_window_close_confirmed_flushes_the_autosave(guarded):
    viewer, layer, binding, saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    answers.answer = True
    assert viewer.window._qt_window.close()
    assert answers.asked and not saver.has_pending
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)


def full_disk(monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recovery, "write_recovery", fail)


def last_notification() -> str:
    return notification_manager.records[-1].message


def test_close_anyway_without_a_recovery_copy_warns_and_asks_again(guarded, monkeypatch):
    viewer, layer, binding, saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    full_disk(monkeypatch)
    answers.answer = True
    assert viewer.window._qt_window.close()
    assert answers.asked == [([layer.name], "close"), ([layer.name], "close without recovery")]
    message = last_notification()
    assert "could not be written" in message and "No space left" in message
    assert "lost" in message and saver.has_pending


def test_declining_the_second_question_keeps_the_window(guarded, monkeypatch):
    viewer, layer, binding, _saver, guard, _answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    full_disk(monkeypatch)
    replies = iter([True, False])
    guard.confirm = lambda parent, layers, action: next(replies)
    assert viewer.window._qt_window.close() is False
    assert layer in viewer.layers
    guard.confirm = _answers  # the fixture's teardown closes through it


def test_removal_without_a_recovery_copy_says_the_work_is_lost(guarded, monkeypatch):
    viewer, layer, binding, _saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    full_disk(monkeypatch)
    viewer.layers.remove(layer)
    message = last_notification()
    assert "could not be written" in message and "lost" in message
    assert "kept" not in message and answers.asked == []


def test_napari_close_window_action_is_guarded(guarded):
    """File > Close Window goes through ``close(confirm_need=True)``: still our filter."""
    viewer, layer, binding, _saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    window = viewer.window._qt_window
    from napari.settings import get_settings

    settings = get_settings().application
    old, settings.confirm_close_window = settings.confirm_close_window, False
    try:
        window.close(quit_app=False, confirm_need=True)
    finally:
        settings.confirm_close_window = old
    assert answers.asked and layer in viewer.layers


def test_saved_work_closes_without_asking(guarded):
    viewer, layer, binding, _saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    notify_saved(layer)
    assert viewer.window._qt_window.close()
    assert answers.asked == []


# -- layers -------------------------------------------------------------------------------------
def test_delete_button_asks_and_cancel_keeps_the_layer(guarded):
    viewer, layer, binding, saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    viewer.layers.selection = {layer}
    viewer.window._qt_viewer.layerButtons.deleteButton.click()  # the trash button
    assert answers.asked == [([layer.name], "delete")]
    assert layer in viewer.layers and saver.is_dirty


def test_delete_shortcut_action_asks(guarded):
    from napari.components._viewer_key_bindings import delete_selected_layers

    viewer, layer, binding, _saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    viewer.layers.selection = {layer}
    delete_selected_layers(viewer)  # Ctrl+Delete and the layer list's Delete key
    assert answers.asked and layer in viewer.layers


def test_delete_confirmed_keeps_a_recovery_copy(guarded, recovery_folder):  # noqa: F811
    viewer, layer, binding, saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    pixels = layer.data.copy()
    answers.answer = True
    image = viewer.layers[0]
    viewer.layers.selection = {layer, image}
    viewer.layers.remove_selected()
    assert layer not in viewer.layers and image not in viewer.layers
    (path,) = iter_recovery_files(recovery_folder)
    np.testing.assert_array_equal(read_recovery(path).labels, pixels)


def test_deleting_only_clean_layers_does_not_ask(guarded):
    viewer, layer, binding, _saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    image = viewer.layers[0]
    viewer.layers.selection = {image}
    viewer.layers.remove_selected()
    assert answers.asked == [] and image not in viewer.layers


def test_locked_layers_are_not_asked_about(guarded):
    viewer, layer, binding, _saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    layer.locked = True
    viewer.layers.selection = {layer}
    viewer.layers.remove_selected()  # napari refuses to delete a locked layer anyway
    assert answers.asked == [] and layer in viewer.layers


def test_programmatic_removal_cannot_be_asked_but_flushes(guarded, recovery_folder):  # noqa: F811
    viewer, layer, binding, saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    pixels = layer.data.copy()
    viewer.layers.remove(layer)
    assert answers.asked == []
    (path,) = iter_recovery_files(recovery_folder)
    np.testing.assert_array_equal(read_recovery(path).labels, pixels)
    # the removed layer's autosaver stops
    layer.data_setitem((np.array([0]), np.array([0])), 1)
    assert not saver.has_pending


def test_viewer_close_flushes_without_asking(guarded, recovery_folder):  # noqa: F811
    viewer, layer, binding, _saver, _guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    pixels = layer.data.copy()
    viewer.close()
    assert answers.asked == []
    (path,) = iter_recovery_files(recovery_folder)
    np.testing.assert_array_equal(read_recovery(path).labels, pixels)


def test_uninstall_restores_napari_behaviour(guarded):
    viewer, layer, binding, _saver, guard, answers = guarded
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    guard.uninstall()
    viewer.layers.selection = {layer}
    viewer.layers.remove_selected()
    assert answers.asked == [] and layer not in viewer.layers


# -- the real dialog ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "button, expected", [("Save…", SAVE), ("Close anyway", GO), (None, CANCEL)]
)
def test_ask_user_dialog(guarded, qtbot, button, expected):
    viewer, layer, _binding, _saver, _guard, _answers = guarded
    seen = {}

    def answer():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen["title"] = box.windowTitle()
        seen["text"] = box.text() + " " + box.informativeText()
        buttons = {b.text(): b for b in box.buttons()}
        seen["buttons"] = sorted(buttons)
        seen["default"] = box.defaultButton().text()
        target = buttons[button] if button else box.button(QMessageBox.StandardButton.Cancel)
        target.click()

    QTimer.singleShot(20, answer)
    assert ask_user(None, [layer], "close") == expected
    assert seen["title"] == "Close window?"
    assert repr(layer.name) in seen["text"] and "recovery copy" in seen["text"]
    assert seen["buttons"] == sorted(["Save…", "Close anyway", "Cancel"])
    assert seen["default"] == "Save…"


# -- the close guard without the dock -----------------------------------------------------
def answer_dialog(button_text: str | None, seen: list):
    """Click a button of the next modal message box (``None``: Cancel)."""

    def answer():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        buttons = {b.text(): b for b in box.buttons()}
        if button_text is None:
            box.button(QMessageBox.StandardButton.Cancel).click()
        else:
            buttons[button_text].click()

    QTimer.singleShot(20, answer)


@pytest.mark.parametrize("choice", ["Cancel", "Close anyway"])
def test_closing_the_window_with_unsaved_work_asks_with_the_dock_never_opened(
    make_napari_viewer,
    recovery_folder,  # noqa: F811
    choice,
):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    layer = viewer.layers["cells segmentation"]
    paint_instance(binding_of(layer), 0, slice(10, 20), slice(10, 20))
    seen: list[str] = []
    answer_dialog(None if choice == "Cancel" else choice, seen)
    closed = viewer.window._qt_window.close()
    assert seen and "unsaved annotations" in seen[0]
    if choice == "Cancel":
        assert closed is False and layer in viewer.layers  # the window stays
        return
    assert closed
    (path,) = iter_recovery_files(recovery_folder)  # flushed before closing
    np.testing.assert_array_equal(read_recovery(path).labels, layer.data)


def test_deleting_the_layer_from_the_layer_list_asks_with_the_dock_never_opened(
    make_napari_viewer,
    recovery_folder,  # noqa: F811
):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    layer = viewer.layers["cells segmentation"]
    paint_instance(binding_of(layer), 0, slice(10, 20), slice(10, 20))
    viewer.layers.selection = {layer}
    seen: list[str] = []
    answer_dialog(None, seen)
    viewer.window._qt_viewer.layerButtons.deleteButton.click()  # the trash button
    assert seen and layer in viewer.layers
    answer_dialog("Delete anyway", seen)
    viewer.layers.remove_selected()
    assert len(seen) == 2 and layer not in viewer.layers
    assert len(iter_recovery_files(recovery_folder)) == 1
