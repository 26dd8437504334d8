"""Unsaved-work guard: ask before a segmentation layer or the window goes.

What napari 0.9.2 offers, and what this module does with it:

Closing the window (title-bar button, File > Close Window / Ctrl+W, File >
Exit / Ctrl+Q)
    All of them end in ``QMainWindow.close()`` on napari's main window
    (:func:`napari_segtool._napari.compat.qt_window`), which sends a ``QCloseEvent`` that can be
    ignored. napari has no plugin hook for it, so :class:`CloseGuard` installs a
    Qt event filter on that window: with unsaved annotations it asks first, and
    "Cancel" ignores the event (the window stays). "Close anyway" first flushes
    the autosave, so the recovery file holds the very last stroke. napari's own
    "Close window?" dialog (setting ``confirm_close_window``) may follow ours
    for the title-bar button; that one knows nothing of annotations.

Deleting layers from the GUI (the layer list's trash button, the "Delete
selected layers" shortcut, Delete in the layer list)
    All three call ``viewer.layers.remove_selected()``, and napari has no
    cancellable "before remove" event. The guard wraps ``remove_selected`` on
    the viewer's own ``LayerList`` instance: with unsaved annotations among the
    selected (unlocked) layers it asks, and "Cancel" removes nothing.

Removing layers any other way (``viewer.layers.remove(...)``, ``del``,
``clear()``, ``viewer.close()``, napari quitting all viewers)
    Only ``layers.events.removing`` fires, before the layer goes, and it cannot
    cancel. No question is asked (these are scripts and shutdown paths); the
    autosave is flushed synchronously instead, so the work stays in the
    recovery folder and is offered when the image is opened again.

Killed process, crash, power loss
    No hook at all: the autosave covers it (at most ``interval`` seconds of
    idle time plus the stroke in progress are lost).

Declined prompts never discard anything: every path keeps the recovery file,
so the worst outcome of a wrong click is a restore offer next time.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

from napari.layers import Labels
from napari.utils.notifications import show_info
from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QMessageBox, QWidget

from napari_segtool._napari.autosave import autosaver_of
from napari_segtool._napari.binding import is_segmentation_layer, unwrap
from napari_segtool._napari.compat import qt_window

logger = logging.getLogger(__name__)

#: ``confirm(parent, layers, action) -> bool``: True to go ahead
Confirm = Callable[[QWidget | None, list[Labels], str], bool]


def ask_user(parent: QWidget | None, layers: list[Labels], action: str) -> bool:
    """The standard question: go ahead (keeping a recovery copy) or cancel."""
    names = ", ".join(repr(layer.name) for layer in layers[:5])
    if len(layers) > 5:
        names += f" and {len(layers) - 5} more"
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved annotations")
    box.setText(f"{names} {'has' if len(layers) == 1 else 'have'} unsaved annotations.")
    box.setInformativeText(
        "Save them with File > Save Selected Layers first, or go ahead: a recovery copy "
        "is kept and offered when you open the same image again."
    )
    go = box.addButton(action.capitalize() + " anyway", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    return box.clickedButton() is go


def dirty_layers(layers) -> list[Labels]:
    """Segmentation layers among ``layers`` whose edits are not saved through a writer."""
    dirty = []
    for layer in layers:
        saver = autosaver_of(layer) if is_segmentation_layer(layer) else None
        if saver is not None and saver.is_dirty:
            dirty.append(layer)
    return dirty


class CloseGuard(QObject):
    """Asks before unsaved segmentation work leaves one viewer (see the module doc)."""

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
        layers = viewer.layers
        self._original_remove_selected = layers.remove_selected
        # an instance attribute shadows the method for this viewer only
        layers.remove_selected = self._guarded_remove_selected
        viewer.window._segtool_close_guard = weakref.ref(self)
        layers.events.removing.connect(self._on_removing)
        #: layers the user already agreed to let go (no second notice)
        self._agreed: weakref.WeakSet[Labels] = weakref.WeakSet()

    @property
    def viewer(self):
        return self._viewer_ref()

    @property
    def window(self) -> QWidget | None:
        """napari's main window (our parent; not held otherwise)."""
        return self.parent()

    def uninstall(self) -> None:
        viewer = self.viewer
        if viewer is not None:
            viewer.layers.__dict__.pop("remove_selected", None)
            viewer.layers.events.removing.disconnect(self._on_removing)
        window = self.window
        if window is not None:
            window.removeEventFilter(self)
            self.setParent(None)

    # -- the window ------------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:
        viewer = self.viewer
        if event.type() == QEvent.Type.Close and obj is self.window and viewer is not None:
            dirty = dirty_layers(viewer.layers)
            if dirty and not self._go_ahead(dirty, "close"):
                event.ignore()
                return True  # napari's closeEvent never runs: the window stays
        return False

    # -- layers ------------------------------------------------------------------------------
    def _guarded_remove_selected(self) -> None:
        layers = self.viewer.layers
        deletable = [layer for layer in layers.selection if not layer.locked]
        dirty = dirty_layers(deletable)
        if dirty and not self._go_ahead(dirty, "delete"):
            return
        self._original_remove_selected()

    def _on_removing(self, event) -> None:
        # fires before the layer leaves the list and cannot stop it: secure the work
        layer = self.viewer.layers[event.index]
        saver = autosaver_of(layer) if isinstance(layer, Labels) else None
        if saver is None:
            return
        was_dirty = saver.is_dirty
        if was_dirty:
            try:
                saver.flush()
            except Exception as err:  # the layer goes anyway; say what was not kept
                logger.warning("could not save recovery of %r: %s", layer.name, err)
        saver.disconnect()
        if was_dirty and layer not in self._agreed:
            show_info(
                f"{layer.name!r} was removed with unsaved annotations; they are kept and "
                "offered again when you open the same image."
            )

    def _go_ahead(self, layers: list[Labels], action: str) -> bool:
        if not self.confirm(self.window, layers, action):
            return False
        for layer in layers:
            self._agreed.add(layer)
            saver = autosaver_of(layer)
            if saver is not None:
                saver.flush()
        return True


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
    ref = getattr(unwrap(viewer).window, "_segtool_close_guard", None)
    return ref() if ref is not None else None
