"""Unsaved-work guard, Qt side: one question before the window goes, and the dialog.

The question
    With unsaved annotations the user is asked once: *Save…* (the plugin's
    save: :func:`napari_segtool._qt.file_menu.save_with_dialog`, every format
    of the registry), *Close anyway* (the autosave is flushed first, so the
    recovery file holds the very last stroke) or *Cancel* (the window stays).
    A save that is cancelled or fails keeps the window too. Without unsaved
    annotations nothing is asked here and napari's own "Close window?" (setting
    ``application.confirm_close_window``) is the one question, as without the
    plugin.

Closing the window (title-bar button, File > Close Window / Ctrl+W, File >
Exit / Ctrl+Q)
    All of them end in ``QMainWindow.close()`` on napari's main window
    (``viewer.window._qt_window``), which sends a ``QCloseEvent`` that can be
    ignored. napari has no plugin hook for it, so :class:`CloseGuard` installs a
    Qt event filter on that window. napari would then ask its own question as
    well, in two places, and both are kept from asking after ours:

    - the title-bar button sends a *spontaneous* close event, on which
      napari's ``closeEvent`` asks. Once our question is answered the filter
      ignores that event and closes the window anew right after it (a plain
      close event, on which napari asks nothing);
    - Ctrl+W and Ctrl+Q call ``close(quit_app, confirm_need=True)``, which asks
      before any event is sent. :class:`CloseGuard` shadows that ``close`` on
      the window instance (:func:`~napari_segtool._napari.compat.shadow_window_close`):
      with unsaved annotations it asks ours and calls napari's with
      ``confirm_need=False``.

Deleting and removing layers is guarded without Qt by
:class:`napari_segtool._napari.close_guard.LayerListGuard`; this guard makes it
ask with the same dialog. The viewer's session installs both (the Qt part only
when the viewer has a Qt window).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from functools import partial

from napari.layers import Labels
from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QMessageBox, QWidget

from napari_segtool._napari import compat
from napari_segtool._napari.binding import unwrap
from napari_segtool._napari.close_guard import (
    WITHOUT_RECOVERY,
    dirty_layers,
    install_layer_guard,
)
from napari_segtool._napari.compat import qt_window
from napari_segtool._qt.file_menu import save_with_dialog

__all__ = [
    "CANCEL",
    "GO",
    "SAVE",
    "CloseGuard",
    "ask_user",
    "close_guard_of",
    "dirty_layers",
    "install_close_guard",
]

logger = logging.getLogger(__name__)

#: the answers of the question
SAVE, GO, CANCEL = "save", "go", "cancel"
#: ``confirm(parent, layers, action)``: SAVE, GO or CANCEL (``True`` / ``False``: GO / CANCEL)
Confirm = Callable[[QWidget | None, list[Labels], str], str | bool]
#: the dialog's title per action
_TITLES = {"close": "Close window?", "quit": "Quit napari?", "delete": "Delete layers?"}

#: viewer -> its guard, both weakly (the guard lives as long as napari's window)
_guards: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ask_user(parent: QWidget | None, layers: list[Labels], action: str) -> str:
    """The one question: :data:`SAVE`, :data:`GO` (keeping a recovery copy) or :data:`CANCEL`.

    Asked again with ``action`` ending in ``WITHOUT_RECOVERY`` when the
    recovery copy could not be written: going ahead then loses the work.
    """
    names = ", ".join(repr(layer.name) for layer in layers[:5])
    if len(layers) > 5:
        names += f" and {len(layers) - 5} more"
    unrecoverable = action.endswith(WITHOUT_RECOVERY)
    verb = action.removesuffix(WITHOUT_RECOVERY)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(_TITLES.get(verb, "Unsaved annotations"))
    box.setText(f"{names} {'has' if len(layers) == 1 else 'have'} unsaved annotations.")
    if unrecoverable:
        box.setInformativeText(
            "Their recovery copy could not be written (is the disk full?): if you "
            f"{verb} anyway, they are lost. Save them first."
        )
    else:
        box.setInformativeText(
            f"Save them first, or {verb} anyway: a recovery copy is kept and offered when "
            "you open the same image again."
        )
    save = box.addButton("Save…", QMessageBox.ButtonRole.AcceptRole)
    save.setToolTip("Choose a file and format (File > IO Utilities > Save segmentation as…)")
    go = box.addButton(verb.capitalize() + " anyway", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(save)
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()  # not a child of napari's window until it closes
    return SAVE if clicked is save else GO if clicked is go else CANCEL


def _ask_through(guard_ref, layers: list[Labels], action: str) -> bool:
    # the layer guard outlives nothing it should not: it holds this guard weakly
    guard = guard_ref()
    return True if guard is None else guard.ask(layers, action)


class CloseGuard(QObject):
    """Asks before unsaved segmentation work leaves one viewer's window (see the module doc)."""

    def __init__(self, viewer, confirm: Confirm | None = None):
        viewer = unwrap(viewer)
        window: QWidget | None = qt_window(viewer)
        # a child of the window: Qt deletes it with the window, and nothing here
        # holds the viewer alive (napari's tests check that viewers are freed)
        super().__init__(window)
        self._viewer_ref = weakref.ref(viewer)
        self.confirm: Confirm = confirm or ask_user
        #: set while a close the user agreed to runs (nothing is asked again)
        self._agreed_close = False
        self._close = partial(_close_through, weakref.ref(self), weakref.ref(window or self))
        if window is not None:
            window.installEventFilter(self)
            if not compat.shadow_window_close(window, self._close):
                logger.warning(
                    "napari's window close changed (%s): Ctrl+W may ask twice",
                    compat.window_close_problem(window),
                )
        #: the layer list's guard, asking with this guard's dialog
        self.layer_guard = install_layer_guard(viewer, partial(_ask_through, weakref.ref(self)))
        _guards[viewer] = weakref.ref(self)

    @property
    def viewer(self):
        return self._viewer_ref()

    @property
    def window(self) -> QWidget | None:
        """napari's main window (our parent; not held otherwise)."""
        return self.parent()

    def ask(self, layers: list[Labels], action: str) -> bool:
        """Ask; True to go ahead (after *Save…*: only once the layers are saved)."""
        choice = self.confirm(self.window, layers, action)
        if choice is True or choice == GO:
            return True
        if choice == SAVE:
            viewer = self.viewer
            return viewer is not None and save_with_dialog(viewer, layers, self.window) is not None
        return False

    def uninstall(self) -> None:
        """Give napari its own close and delete behaviour back (both guards go)."""
        self.layer_guard.uninstall()
        viewer = self.viewer
        if viewer is not None and close_guard_of(viewer) is self:
            del _guards[viewer]
        window = self.window
        if window is not None:
            window.removeEventFilter(self)
            compat.restore_window_close(window, self._close)
            self.setParent(None)

    def close_window(self, quit_app: bool = False, confirm_need: bool = False):
        """napari's ``close`` with our question in place of napari's when work is unsaved."""
        viewer, window = self.viewer, self.window
        dirty = dirty_layers(viewer.layers) if confirm_need and viewer is not None else []
        if dirty:
            if not self.layer_guard.go_ahead(dirty, "quit" if quit_app else "close"):
                return None  # what napari's close returns when its question is declined
            confirm_need = False  # asked: napari's "Close window?" would be a second question
        self._agreed_close = bool(dirty)
        try:
            return compat.napari_window_close(window, quit_app, confirm_need)
        finally:
            self._agreed_close = False

    def eventFilter(self, obj, event) -> bool:
        viewer = self.viewer
        if (
            event.type() != QEvent.Type.Close
            or obj is not self.window
            or viewer is None
            or self._agreed_close
        ):
            return False
        dirty = dirty_layers(viewer.layers)
        if not dirty:
            return False  # napari asks its own question, if its setting says so
        if not self.layer_guard.go_ahead(dirty, "close"):
            event.ignore()
            return True  # napari's closeEvent never runs: the window stays
        if event.spontaneous():
            # napari's closeEvent asks "Close window?" on a spontaneous event (the
            # title bar): the user has answered ours, so the window is closed anew,
            # without napari's question, once this event is done
            event.ignore()
            QTimer.singleShot(0, self._close_agreed)
            return True
        return False

    def _close_agreed(self) -> None:
        window = self.window
        if window is None:
            return
        self._agreed_close = True
        try:
            compat.napari_window_close(window)
        finally:
            self._agreed_close = False


def _close_through(guard_ref, window_ref, quit_app: bool = False, confirm_need: bool = False):
    # the window holds this (its shadowed close): it holds the guard and the window weakly
    guard = guard_ref()
    if guard is None:
        return compat.napari_window_close(window_ref(), quit_app, confirm_need)
    return guard.close_window(quit_app, confirm_need)


def install_close_guard(viewer, confirm: Confirm | None = None) -> CloseGuard:
    """The viewer's guard (one per viewer; later calls may replace ``confirm``)."""
    viewer = unwrap(viewer)
    guard = close_guard_of(viewer)
    if guard is None:
        guard = CloseGuard(viewer, confirm)
    elif confirm is not None:
        guard.confirm = confirm
    return guard


def close_guard_of(viewer) -> CloseGuard | None:
    ref = _guards.get(unwrap(viewer))
    return ref() if ref is not None else None
