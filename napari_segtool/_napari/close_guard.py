"""Unsaved-work guard on a viewer's layer list (no Qt: the question is a callback).

What napari 0.9.2 offers, and what this module does with it (closing the
window is the Qt side's, :mod:`napari_segtool._qt.close_guard`):

Deleting layers from the GUI (the layer list's trash button, the "Delete
selected layers" shortcut, Delete in the layer list)
    All three call ``viewer.layers.remove_selected()``, and napari has no
    cancellable "before remove" event. :class:`LayerListGuard` wraps
    ``remove_selected`` on the viewer's own ``LayerList`` instance: with
    unsaved annotations among the selected (unlocked) layers it calls ``ask``,
    and a "no" removes nothing. Without ``ask`` (no window, nobody to ask) the
    layers go and their work stays in the recovery folder, as below.

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
so the worst outcome of a wrong click is a restore offer next time. When the
recovery file cannot be written (a full disk), the user is told so instead:
the guard asks once more, with ``action + WITHOUT_RECOVERY``, before the work
goes, and a removal that cannot be asked warns that the work is lost.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

from napari.layers import Labels
from napari.utils.notifications import show_info, show_warning

from napari_segtool._napari import compat
from napari_segtool._napari.autosave import autosaver_of
from napari_segtool._napari.binding import is_segmentation_layer, unwrap
from napari_segtool._napari.large_segmentation import large_segmentation_of

logger = logging.getLogger(__name__)

#: ``ask(layers, action) -> bool``: True to go ahead (``action``: "delete", "close")
Ask = Callable[[list[Labels], str], bool]
#: appended to ``action`` when asking again because no recovery copy could be written
WITHOUT_RECOVERY = " without recovery"

_guards: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def dirty_layers(layers) -> list[Labels]:
    """Segmentation layers among ``layers`` whose edits are not saved through a writer.

    The overview of a large segmentation stands for its editor (removing one removes both).
    """
    dirty = []
    for layer in layers:
        segmentation = large_segmentation_of(layer)
        if segmentation is not None and layer is segmentation.overview:
            layer = segmentation.editor
            if layer is None:
                continue
        saver = autosaver_of(layer) if is_segmentation_layer(layer) else None
        if saver is not None and saver.is_dirty and layer not in dirty:
            dirty.append(layer)
    return dirty


class LayerListGuard:
    """Asks before unsaved segmentation work leaves one viewer's layer list."""

    def __init__(self, viewer, ask: Ask | None = None):
        viewer = unwrap(viewer)
        # weak references only: nothing here holds the viewer or its layers alive
        self._viewer_ref = weakref.ref(viewer)
        self.ask: Ask | None = ask
        #: layers the user already agreed to let go (no second notice)
        self._agreed: weakref.WeakSet[Labels] = weakref.WeakSet()
        layers = viewer.layers
        # shadowed on this viewer's list only
        compat.shadow_remove_selected(layers, self._guarded_remove_selected)
        layers.events.removing.connect(self._on_removing)

    @property
    def viewer(self):
        return self._viewer_ref()

    def uninstall(self) -> None:
        viewer = self.viewer
        if viewer is None:
            return
        compat.restore_remove_selected(viewer.layers, self._guarded_remove_selected)
        viewer.layers.events.removing.disconnect(self._on_removing)
        if _guards.get(viewer) is self:
            del _guards[viewer]

    def go_ahead(self, layers: list[Labels], action: str) -> bool:
        """Ask about ``layers``; if the answer is yes, secure their work in recovery files.

        Layers whose recovery copy cannot be written are named in a warning,
        and asked about again: their work is lost if the answer is yes.
        """
        if self.ask is not None and not self.ask(layers, action):
            return False
        failures = {layer: error for layer in layers if (error := _secure(layer)) is not None}
        if failures:
            show_warning(_lost_message(failures, "if you go ahead"))
            unsecured = list(failures)
            if self.ask is not None and not self.ask(unsecured, action + WITHOUT_RECOVERY):
                return False
        self._agreed.update(layers)
        return True

    def _guarded_remove_selected(self) -> None:
        layers = self.viewer.layers
        deletable = [layer for layer in layers.selection if not layer.locked]
        dirty = dirty_layers(deletable)
        if dirty and not self.go_ahead(dirty, "delete"):
            return
        compat.napari_remove_selected(layers)

    def _on_removing(self, event) -> None:
        # fires before the layer leaves the list and cannot stop it: secure the work
        layer = self.viewer.layers[event.index]
        saver = autosaver_of(layer) if isinstance(layer, Labels) else None
        if saver is None:
            return
        was_dirty = saver.is_dirty
        error = _secure(layer) if was_dirty else None
        saver.disconnect()
        if was_dirty and layer not in self._agreed:
            if error is None:
                show_info(
                    f"{layer.name!r} was removed with unsaved annotations; they are kept and "
                    "offered again when you open the same image."
                )
            else:
                show_warning(_lost_message({layer: error}, "now that it was removed"))


def _secure(layer: Labels) -> str | None:
    """Flush ``layer``'s autosave: ``None`` if its recovery file holds every edit, else why not."""
    saver = autosaver_of(layer)
    if saver is None or saver.flush():
        return None
    error = saver.last_error or "the save did not finish in time"
    logger.warning("could not save recovery of %r: %s", layer.name, error)
    return error


def _lost_message(failures: dict[Labels, str], when: str) -> str:
    names = ", ".join(repr(layer.name) for layer in failures)
    reason = "; ".join(sorted(set(failures.values())))
    return (
        f"The recovery copy of {names} could not be written ({reason}): "
        f"the unsaved annotations are lost {when}."
    )


def install_layer_guard(viewer, ask: Ask | None = None) -> LayerListGuard:
    """The viewer's layer-list guard (one per viewer; later calls may set ``ask``)."""
    viewer = unwrap(viewer)
    guard = _guards.get(viewer)
    if guard is None:
        guard = _guards[viewer] = LayerListGuard(viewer, ask)
    elif ask is not None:
        guard.ask = ask
    return guard


def layer_guard_of(viewer) -> LayerListGuard | None:
    return _guards.get(unwrap(viewer))
