"""One session per napari viewer: every segmentation layer in it gets its services.

A :class:`Session` follows one viewer's layer list (``layers.events.inserted``
and ``removed``). Every segmentation layer in the viewer, whoever added it
(File > Open of an export, the sample, the "new segmentation layer" command,
the dock, a script calling ``viewer.add_labels(**segmentation_layer_kwargs(...))``),
gets while it is there:

- its binding (document, colours, instance workflow), which installs the lock guard;
- the pen (Shift+click lines, hold Alt to erase);
- the canvas keys (Ctrl+1..9, N, I);
- its status-bar feedback (what a stroke kept; the instance under the cursor);
- its autosaver.

When the layer leaves, its autosave is flushed and stopped and the pen and keys
come off; the binding stays with the layer, which still carries its document
(a script may still export it). A Labels layer that becomes a segmentation
layer in place (the dock's "Use as segmentation layer") is started with
:meth:`Session.start`.

The viewer gets the layer-list guard (:mod:`napari_segtool._napari.close_guard`)
and, when it has a Qt window, the window guard with its dialog. That is the
one place this Qt-free package loads Qt: :func:`_install_window_guard` imports
:data:`QT_WINDOW_GUARD` by name, and only for a viewer that has a Qt window,
so headless use (a ``ViewerModel``, no window) loads no Qt.

Who starts a session
    :func:`session_for` (idempotent) is called by the dock, the npe2 commands,
    the ``napari-segtool`` command, and scripts (``napari_segtool.session_for``).
    The sample and reader hooks return layer data and get no viewer: they call
    :func:`start_session_for_current_viewer` when they run, i.e. for the viewer
    napari reports as current then, the one File > Open and File > Open Sample
    act on. A script that opens files into a viewer that is not the current one
    calls ``session_for(viewer)`` first.
"""

from __future__ import annotations

import importlib
import sys
import weakref
from dataclasses import dataclass

from napari.layers import Labels

from napari_segtool._napari.autosave import Autosaver, attach_autosave, autosaver_of
from napari_segtool._napari.binding import (
    LayerBinding,
    binding_of,
    is_segmentation_layer,
    unwrap,
)
from napari_segtool._napari.close_guard import LayerListGuard, install_layer_guard
from napari_segtool._napari.compat import qt_window
from napari_segtool._napari.feedback import attach_feedback, detach_feedback
from napari_segtool._napari.interpolate import track_sliders
from napari_segtool._napari.keys import install_instance_keys, remove_instance_keys
from napari_segtool._napari.pen import Pen, attach_pen, pen_of
from napari_segtool._napari.save_options import NdjsonSaveOptions
from napari_segtool._napari.scribble import stop_scribbling

#: the Qt module with the window guard, loaded only for a viewer with a Qt window
QT_WINDOW_GUARD = "napari_segtool._qt.close_guard"
#: Qt bindings; while none is imported no Qt window can exist
_QT_BINDINGS = ("PyQt5", "PyQt6", "PySide2", "PySide6")

_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(eq=False)
class LayerServices:
    """What a session runs for one segmentation layer."""

    layer_ref: weakref.ref
    autosaver: Autosaver

    @property
    def layer(self) -> Labels | None:
        return self.layer_ref()

    @property
    def pen(self) -> Pen | None:
        """The layer's pen (``None`` if napari's brush internals changed: it warned)."""
        layer = self.layer
        return pen_of(layer) if layer is not None else None

    @property
    def binding(self) -> LayerBinding | None:
        """The layer's current binding (a restore replaces it)."""
        layer = self.layer
        return binding_of(layer) if layer is not None else None


class Session:
    """The plugin's services for the segmentation layers of one viewer."""

    def __init__(self, viewer):
        viewer = unwrap(viewer)
        # weak: napari's tests check that closed viewers are freed
        self._viewer_ref = weakref.ref(viewer)
        self._services: weakref.WeakKeyDictionary[Labels, LayerServices] = (
            weakref.WeakKeyDictionary()
        )
        self.layer_guard: LayerListGuard = install_layer_guard(viewer)
        #: how this viewer's saves write NDJSON imports (the dock sets it)
        self.ndjson_options = NdjsonSaveOptions()
        #: which slider moved last: the axis the interpolation key works along
        self.sliders = track_sliders(viewer)
        guard = _install_window_guard(viewer)
        self._window_guard_ref = weakref.ref(guard) if guard is not None else None
        viewer.layers.events.inserted.connect(self._on_inserted)
        viewer.layers.events.removed.connect(self._on_removed)
        for layer in list(viewer.layers):
            self.start(layer)

    @property
    def viewer(self):
        return self._viewer_ref()

    @property
    def window_guard(self):
        """The Qt window guard, or ``None`` (no Qt window)."""
        return self._window_guard_ref() if self._window_guard_ref is not None else None

    def services(self, layer) -> LayerServices | None:
        return self._services.get(unwrap(layer))

    def start(self, layer) -> LayerServices | None:
        """Start ``layer``'s services if it is a segmentation layer of this viewer (idempotent)."""
        layer = unwrap(layer)
        viewer = self.viewer
        if viewer is None or not is_segmentation_layer(layer) or layer not in viewer.layers:
            return None
        binding = binding_of(layer)
        services = self._services.get(layer)
        autosaver = attach_autosave(binding, viewer)  # follows a re-bind
        attach_feedback(layer, viewer)  # likewise (it listens to the binding's lock guard)
        if services is not None and services.autosaver is autosaver:
            return services
        if pen_of(layer) is None:
            attach_pen(layer)
        install_instance_keys(binding)
        services = self._services[layer] = LayerServices(weakref.ref(layer), autosaver)
        return services

    def stop(self, layer) -> None:
        """Stop ``layer``'s services (it left the viewer); its work stays in recovery."""
        layer = unwrap(layer)
        services = self._services.pop(layer, None)
        if services is None:
            return
        saver = autosaver_of(layer)
        if saver is not None:  # the layer guard usually did this on ``removing``
            if saver.has_pending:
                saver.flush()
            saver.disconnect()
        pen = pen_of(layer)
        if pen is not None:
            pen.detach()  # napari's own brush back
        stop_scribbling(layer)  # its preview and canvas keys go with it
        remove_instance_keys(layer)
        detach_feedback(layer)

    def _on_inserted(self, event) -> None:
        self.start(event.value)

    def _on_removed(self, event) -> None:
        self.stop(event.value)


def session_for(viewer) -> Session:
    """The viewer's session, started on first call: every segmentation layer gets
    its binding, lock guard, pen, keys and autosave, now and when added later."""
    viewer = unwrap(viewer)
    session = _sessions.get(viewer)
    if session is None:
        session = _sessions[viewer] = Session(viewer)
    return session


def session_of(viewer) -> Session | None:
    """The viewer's session if one was started."""
    return _sessions.get(unwrap(viewer))


def current_viewer():
    """napari's current viewer, without loading Qt in a process that made no Qt window."""
    if not any(binding in sys.modules for binding in _QT_BINDINGS):
        return None
    import napari

    return napari.current_viewer()


def start_session_for_current_viewer() -> Session | None:
    """For hooks that get no viewer (sample, readers): the current viewer's session."""
    viewer = current_viewer()
    return session_for(viewer) if viewer is not None else None


def _install_window_guard(viewer):
    """The window's close guard, for a viewer with a Qt window; ``None`` otherwise.

    The only place the napari glue loads Qt (by name, so no import of it is static).
    """
    if qt_window(viewer) is None:
        return None
    return importlib.import_module(QT_WINDOW_GUARD).install_close_guard(viewer)
