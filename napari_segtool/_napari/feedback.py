"""Feedback in napari's status bar: what a stroke did, and what the cursor is over.

Clipped and refused strokes
    Locks and draw to back keep pixels from the brush, fill, encircle, the
    polygon tool and the pen's lines (the lock guard and the painter count
    them in :attr:`LockGuard.tally <napari_segtool._napari.lock_guard.LockGuard.tally>`).
    When a stroke ends (napari's ``paint`` event, or the mouse release of a
    stroke that changed nothing) :class:`StrokeFeedback` says so in the
    status bar: "Stroke clipped: kept 812 pixels of locked Nucleus #1". The
    text also stands in the layer's help (right side of the status bar) until
    the next press, since napari rewrites the status text on every mouse move.
    A stroke *with* a locked or hidden instance's id is refused whole; that
    also shows a notification, once per stroke, naming what to do.

The instance under the cursor
    napari shows the layer's features for the label under the cursor, but
    computes the status only when the mouse moves. A stroke that creates an
    instance (or a class change, an answer) changes the features while the
    mouse rests on the new object, which then read "[No Properties]"; the
    status is recomputed when the features change.
"""

from __future__ import annotations

import weakref

from napari.layers import Labels
from napari.utils.notifications import show_info

from napari_segtool._napari.binding import binding_of, is_segmentation_layer
from napari_segtool._napari.lock_guard import StrokeTally, guard_of

#: at most this many instances are named in one message
NAMED_LIMIT = 3


def instance_name(document, label_id: int) -> str:
    """``"Nucleus #3"``: the class name and the label id."""
    cls_ = document.class_of(label_id) if label_id in document else None
    return f"{cls_.name if cls_ is not None else 'label'} #{label_id}"


def _why_protected(document, label_id: int) -> str:
    return "locked" if document.is_locked(label_id) else "hidden"


def clip_message(tally: StrokeTally, document) -> str:
    """One sentence for what ``tally`` kept ('' when nothing was kept)."""
    parts = []
    kept = tally.kept.most_common()  # worked out once: the dabs are merged by position
    for position, (label_id, pixels) in enumerate(kept):
        if position == NAMED_LIMIT:
            rest = sum(n for _, n in kept[NAMED_LIMIT:])
            parts.append(f"{rest} of {len(kept) - NAMED_LIMIT} more protected")
            break
        name = instance_name(document, label_id)
        what = f"{_why_protected(document, label_id)} {name}"
        parts.append(f"{pixels} pixels of {what}" if position == 0 else f"{pixels} of {what}")
    behind = tally.kept_behind
    if behind:
        parts.append(f"{behind} labelled pixels (draw to back)")
    if not parts:
        return ""
    head = "Stroke clipped" if tally.changed else "Stroke changed nothing"
    return f"{head}: kept " + ", ".join(parts)


def refusal_message(document, label_id: int) -> str:
    """Why painting with ``label_id`` changed nothing, and what to do instead."""
    why = _why_protected(document, label_id)
    undo = "unlock it" if why == "locked" else "show it"
    if why == "locked" and not document.instance(label_id).locked:
        undo = "unlock its class"
    return (
        f"{instance_name(document, label_id)} is {why}: nothing painted. "
        f"To change it, {undo}; to draw a new object, pick a class (Ctrl+1…9) or press N."
    )


class StrokeFeedback:
    """Tells the labeler, in napari's status bar, what a stroke on one layer did."""

    def __init__(self, layer: Labels, viewer):
        self._layer_ref = weakref.ref(layer)
        self._viewer_ref = weakref.ref(viewer)
        #: the text last put in the layer's help (put back at the next press)
        self._help_shown: str | None = None
        self._help_before = ""
        #: the last message (tests and scripts read it)
        self.last_message = ""
        feedback_ref = weakref.ref(self)

        def on_drag(layer, event):
            feedback = feedback_ref()
            if feedback is None:
                return
            feedback._restore_help()
            yield
            while event.type == "mouse_move":
                yield
            feedback = feedback_ref()
            if feedback is not None:
                feedback.report()

        self._drag_callback = on_drag
        layer.mouse_drag_callbacks.append(on_drag)
        layer.events.paint.connect(self.report)
        layer.events.features.connect(self.refresh_status)
        self.follow_guard()

    @property
    def layer(self) -> Labels | None:
        return self._layer_ref()

    def follow_guard(self) -> None:
        """Listen to the layer's current lock guard (a restore re-binds the layer)."""
        layer = self.layer
        guard = guard_of(layer) if layer is not None else None
        if guard is not None:
            guard.on_refused = self._on_refused
            guard.start_tally()

    def detach(self) -> None:
        layer = self.layer
        if layer is None:
            return
        self._restore_help()
        if self._drag_callback in layer.mouse_drag_callbacks:
            layer.mouse_drag_callbacks.remove(self._drag_callback)
        layer.events.paint.disconnect(self.report)
        layer.events.features.disconnect(self.refresh_status)
        guard = guard_of(layer)
        if guard is not None and guard.on_refused == self._on_refused:
            guard.on_refused = None
            guard.tally = None  # nobody reports it any more

    # -- strokes -------------------------------------------------------------------
    def report(self, _event=None) -> str:
        """Say what the rules kept since the last report (nothing to say: say nothing)."""
        layer = self.layer
        guard = guard_of(layer) if layer is not None else None
        if guard is None or not is_segmentation_layer(layer):
            return ""
        tally = guard.take_tally()
        message = clip_message(tally, binding_of(layer).document)
        if message:
            self._show(message)
        return message

    def _on_refused(self, label_id: int) -> None:
        layer = self.layer
        if layer is None or not is_segmentation_layer(layer):
            return
        document = binding_of(layer).document
        if label_id not in document:
            return
        message = refusal_message(document, label_id)
        self._show(message)
        show_info(message)

    def _show(self, message: str) -> None:
        self.last_message = message
        viewer = self._viewer_ref()
        layer = self.layer
        if viewer is not None:
            viewer.status = message
        if layer is not None:
            if self._help_shown is None:
                self._help_before = layer.help
            self._help_shown = message
            layer.help = message
            if viewer is not None and viewer.layers.selection.active is layer:
                viewer.help = message

    def _restore_help(self) -> None:
        layer = self.layer
        shown, self._help_shown = self._help_shown, None
        if layer is not None and shown is not None and layer.help == shown:
            layer.help = self._help_before

    # -- hovering ----------------------------------------------------------------------
    def refresh_status(self, _event=None) -> None:
        """The features changed under a resting mouse: recompute napari's status now."""
        viewer = self._viewer_ref()
        layer = self.layer
        if viewer is None or layer is None or viewer.layers.selection.active is not layer:
            return
        viewer.update_status_from_cursor()


def attach_feedback(layer: Labels, viewer) -> StrokeFeedback:
    """Give ``layer`` its status-bar feedback in ``viewer`` (again: follow a new guard)."""
    feedback = _feedback.get(layer)
    if feedback is None:
        feedback = _feedback[layer] = StrokeFeedback(layer, viewer)
    else:
        feedback.follow_guard()
    return feedback


def feedback_of(layer: Labels) -> StrokeFeedback | None:
    return _feedback.get(layer)


def detach_feedback(layer: Labels) -> None:
    feedback = _feedback.pop(layer, None)
    if feedback is not None:
        feedback.detach()


_feedback: weakref.WeakKeyDictionary[Labels, StrokeFeedback] = weakref.WeakKeyDictionary()
