"""Closing napari's real window asks one question: napari's, or, with unsaved annotations, ours.

The window is shown and closed as a user closes it: the title-bar button is
the window manager's close request (a spontaneous close event,
on which napari asks "Close window?", sent as X11's ``WM_DELETE_WINDOW``:
:mod:`tests.x11`), Ctrl+W and Ctrl+Q are napari's own
actions. Every modal dialog that opens is recorded and answered, so a second
question would be seen.
"""

from __future__ import annotations

import json

import pytest
from napari._qt.dialogs.confirm_close_dialog import ConfirmCloseDialog
from napari.settings import get_settings
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QApplication, QFileDialog, QMessageBox

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of
from napari_segtool._qt.close_guard import dirty_layers, install_close_guard
from tests import x11
from tests.autosave_helpers import paint_instance


class Dialogs:
    """Answers each modal dialog as it opens: ours with ``button``, napari's with ``napari``."""

    def __init__(self, button: str, napari: str = "Close"):
        self.button, self.napari = button, napari
        self.seen: list[tuple[str, str]] = []
        self._answered: set[int] = set()
        self._timer = QTimer()
        self._timer.setInterval(20)
        self._timer.timeout.connect(self._answer)
        self._timer.start()

    def _answer(self) -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None or id(dialog) in self._answered:
            return
        self._answered.add(id(dialog))
        if isinstance(dialog, ConfirmCloseDialog):
            self.seen.append(("napari", dialog.windowTitle()))
            (dialog.close_btn if self.napari == "Close" else dialog.cancel_btn).click()
        elif isinstance(dialog, QMessageBox):
            self.seen.append(("ours", f"{dialog.windowTitle()} {dialog.text()}"))
            buttons = {button.text(): button for button in dialog.buttons()}
            buttons[self.button].click()

    def stop(self) -> None:
        self._timer.stop()
        self._timer.timeout.disconnect(self._answer)


@pytest.fixture
def shown(make_napari_viewer):
    """A shown window with the sample; napari's "Close window?" setting on (its default)."""
    assert get_settings().application.confirm_close_window
    viewer = make_napari_viewer(show=True)
    viewer.open_sample(PLUGIN_NAME, "cells")
    layer = viewer.layers["cells segmentation"]
    # a closed window only hides, so the fixture's teardown can still close the viewer
    viewer.window._qt_window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
    yield viewer, layer  # not the Qt window: a test's arguments live past napari's leak check
    install_close_guard(viewer, confirm=lambda *args: True)  # the teardown closes unasked


def title_bar_close(qtbot, window, button: str, napari: str = "Close") -> Dialogs:
    """Click the title bar's close button (the window manager's close request), answer, wait."""
    if not x11.available():
        pytest.skip("needs an X display (Xvfb) to send the window manager's close request")
    dialogs = Dialogs(button, napari)
    try:
        x11.request_close(int(window.winId()))
        qtbot.waitUntil(lambda: bool(dialogs.seen) or not window.isVisible(), timeout=5000)
        qtbot.wait(300)  # a second question would open now
    finally:
        dialogs.stop()
    return dialogs


def draw(layer) -> None:
    paint_instance(binding_of(layer), 0, slice(40, 60), slice(40, 60))
    assert dirty_layers([layer]) == [layer]


@pytest.mark.parametrize("button", ["Cancel", "Close anyway"])
def test_title_bar_with_unsaved_work_asks_only_ours(shown, qtbot, button):
    viewer, layer = shown
    window = viewer.window._qt_window
    draw(layer)
    dialogs = title_bar_close(qtbot, window, button)
    assert [kind for kind, _ in dialogs.seen] == ["ours"]
    assert "Close window?" in dialogs.seen[0][1] and "unsaved annotations" in dialogs.seen[0][1]
    assert window.isVisible() is (button == "Cancel")


def test_title_bar_save_writes_through_the_plugin_then_closes(shown, qtbot, tmp_path, monkeypatch):
    viewer, layer = shown
    window = viewer.window._qt_window
    draw(layer)
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        staticmethod(
            lambda parent, caption, folder, filters, initial: (str(tmp_path / "cells"), "")
        ),
    )
    dialogs = title_bar_close(qtbot, window, "Save…")
    assert [kind for kind, _ in dialogs.seen] == ["ours"]
    (row,) = json.loads((tmp_path / "cells.json").read_text())  # the default: Labelbox v1
    assert len(row["Label"]["objects"]) == 1
    assert not dirty_layers([layer]) and not window.isVisible()


def test_a_cancelled_save_keeps_the_window(shown, qtbot, monkeypatch):
    viewer, layer = shown
    window = viewer.window._qt_window
    draw(layer)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *args: ("", "")))
    dialogs = title_bar_close(qtbot, window, "Save…")
    assert len(dialogs.seen) == 1 and window.isVisible() and dirty_layers([layer]) == [layer]


@pytest.mark.parametrize("napari_answer", ["Cancel", "Close"])
def test_without_unsaved_work_napari_asks_its_own_question(shown, qtbot, napari_answer):
    viewer, layer = shown
    window = viewer.window._qt_window
    dialogs = title_bar_close(qtbot, window, "unused", napari_answer)
    assert dialogs.seen == [("napari", "Close Window?")]
    assert window.isVisible() is (napari_answer == "Cancel")


def run_action(command_id: str) -> None:
    from napari._app_model import get_app_model

    get_app_model().commands.execute_command(command_id).result()


@pytest.mark.parametrize("button", ["Cancel", "Close anyway"])
def test_ctrl_w_with_unsaved_work_asks_only_ours(shown, qtbot, button):
    viewer, layer = shown
    window = viewer.window._qt_window
    draw(layer)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    dialogs = Dialogs(button)
    try:
        run_action("napari.window.file.close_dialog")  # File > Close Window, Ctrl+W
    finally:
        dialogs.stop()
    assert [kind for kind, _ in dialogs.seen] == ["ours"]
    assert window.isVisible() is (button == "Cancel")


def test_ctrl_q_with_unsaved_work_asks_only_ours_and_cancel_keeps_everything(shown):
    viewer, layer = shown
    window = viewer.window._qt_window
    draw(layer)
    dialogs = Dialogs("Cancel")
    try:
        run_action("napari.window.file.quit_dialog")  # File > Exit, Ctrl+Q
    finally:
        dialogs.stop()
    assert len(dialogs.seen) == 1 and dialogs.seen[0][0] == "ours"
    assert "Quit napari?" in dialogs.seen[0][1]
    assert window.isVisible() and layer in viewer.layers
