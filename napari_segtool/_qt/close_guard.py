"""Unsaved-work guard, Qt side: ask before the window goes, and the dialog.

Closing the window (title-bar button, File > Close Window / Ctrl+W, File >
Exit / Ctrl+Q)
    All of them end in ``QMainWindow.close()`` on napari's main window
    (``viewer.window._qt_window``), which sends a ``QCloseEvent`` that can be
    ignored. napari has no plugin hook for it, so :class:`CloseGuard` installs a
    Qt event filter on that window: with unsaved annotations it asks first, and
    "Cancel" ignores the event (the window stays). "Close anyway" first flushes
    the autosave, so the recovery file holds the very last stroke. napari's own
    "Close window?" dialog (setting ``confirm_close_window``) may follow ours
    for the title-bar button; that one knows nothing of annotations.

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
from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QMessageBox, QWidget

from napari_segtool._napari.binding import unwrap
from napari_segtool._napari.close_guard import (
    WITHOUT_RECOVERY,
    dirty_layers,
    install_layer_guard,
)
from napari_segtool._napari.compat import qt_window

__all__ = ["CloseGuard", "ask_user", "close_guard_of", "dirty_layers", "install_close_guard"]

logger = logging.getLogger(__name__)

#: ``confirm(parent, layers, action) -> bool``: True to go ahead
Confirm = Callable[[QWidget | None, list[Labels], str], bool]

#: viewer -> its guard, both weakly (the guard lives as long as napari's window)
_guards: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ask_user(parent: QWidget | None, layers: list[Labels], action: str) -> bool:
    """The standard question: go ahead (keeping a recovery copy) or cancel.

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
    box.setWindowTitle("Unsaved annotations")
    box.setText(f"{names} {'has' if len(layers) == 1 else 'have'} unsaved annotations.")
    if unrecoverable:
        box.setInformativeText(
            "Their recovery copy could not be written (is the disk full?): if you go ahead, "
            "they are lost. Save them with File > Save Selected Layers first."
        )
    else:
        box.setInformativeText(
            "Save them with File > Save Selected Layers first, or go ahead: a recovery copy "
            "is kept and offered when you open the same image again."
        )
    go = box.addButton(verb.capitalize() + " anyway", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    return box.clickedButton() is go


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
        if window is not None:
            window.installEventFilter(self)
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
        return self.confirm(self.window, layers, action)

    def uninstall(self) -> None:
        """Give napari its own close and delete behaviour back (both guards go)."""
        self.layer_guard.uninstall()
        viewer = self.viewer
        if viewer is not None and close_guard_of(viewer) is self:
            del _guards[viewer]
        window = self.window
        if window is not None:
            window.removeEventFilter(self)
            self.setParent(None)

    def eventFilter(self, obj, event) -> bool:
        viewer = self.viewer
        if event.type() == QEvent.Type.Close and obj is self.window and viewer is not None:
            dirty = dirty_layers(viewer.layers)
            if dirty and not self.layer_guard.go_ahead(dirty, "close"):
                event.ignore()
                return True  # napari's closeEvent never runs: the window stays
        return False


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
