"""Scribble to region in napari: scribbles on the canvas, a live preview, Enter commits.

While the tool is on (key R, or the dock's *Scribble* button) the layer is
in napari's pan/zoom mode with panning off, and a drag on the canvas draws a
scribble of brush size on the current plane: foreground, or background with
Shift held (or the panel's *Background* choice). After each stroke (and
while dragging, at most every :data:`PREVIEW_INTERVAL` seconds) the region
is recomputed (:mod:`napari_segtool.tools.scribble`) and shown, with the
scribbles, on a preview image layer above the labels. Enter paints the
region into the current instance through the painter (class colour, locks,
draw to back, one undo step); Esc drops the scribbles. Changing the layer's
mode (P, E, ...) or pressing R again turns the tool off.

Which image: the top-most Image layer of the viewer whose pixels line up
with the labels (same shape, plus a colour axis for RGB). Which plane: the
labels' last two axes, the ones napari displays by default, at the current
slider positions; other displayed axes are refused with a message.
"""

from __future__ import annotations

import time
import weakref

import numpy as np
from napari.layers import Image, Labels
from napari.utils.notifications import show_info
from psygnal import Signal

from napari_segtool._napari import compat
from napari_segtool._napari.canvas_tool import tools_on
from napari_segtool._napari.compat import unwrap
from napari_segtool._napari.interpolate import viewer_of
from napari_segtool._napari.large_segmentation import full_shape, windowed
from napari_segtool._napari.painter import PaintResult, paint
from napari_segtool.tools import scribble
from napari_segtool.tools.registry import tool

SCRIBBLE_KEY = tool("scribble").key
BACKGROUND_MODIFIER = "Shift"
COMMIT_KEY, CANCEL_KEY = "Enter", "Escape"
PREVIEW_INTERVAL = 0.05
PREVIEW_NAME = "scribble preview"
#: RGBA of the scribbles in the preview
FOREGROUND_COLOUR = (255, 255, 255, 255)
BACKGROUND_COLOUR = (230, 40, 40, 255)

_scribblers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Scribbler:
    """The scribble tool of one Labels layer."""

    #: on / off, the scribbles or the preview changed
    changed = Signal()

    def __init__(self, layer: Labels, viewer=None):
        self._layer_ref = weakref.ref(unwrap(layer))
        self._viewer_ref = weakref.ref(unwrap(viewer)) if viewer is not None else None
        self.active = False
        self.method = scribble.WATERSHED
        #: the panel chose background scribbles (Shift gives them either way)
        self.background = False
        self._foreground: np.ndarray | None = None
        self._background: np.ndarray | None = None
        #: the slider index of every non-plane axis (None for the plane axes)
        self._plane_index: tuple[int | None, ...] | None = None
        self.window: tuple[slice, slice] | None = None
        #: the region the scribbles mark, in ``window`` (None: nothing yet)
        self.region: np.ndarray | None = None
        self._preview_layer: Image | None = None
        self._saved_keys: dict = {}
        self._last_preview = 0.0
        self._told_no_image = False

    @property
    def layer(self) -> Labels | None:
        return self._layer_ref()

    @property
    def viewer(self):
        viewer = self._viewer_ref() if self._viewer_ref is not None else None
        return viewer if viewer is not None else viewer_of(self.layer)

    # -- on and off ------------------------------------------------------------------
    def toggle(self) -> None:
        if self.active:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        layer = self.layer
        if layer is None or self.active:
            return
        for other in tools_on(layer):  # one assist tool at a time: both would take the drags
            other.deactivate()
        self.active = True
        self._told_no_image = False
        layer.mode = "pan_zoom"
        layer.mouse_pan = False  # a drag scribbles instead
        layer.mouse_drag_callbacks.append(self._on_drag)
        layer.events.mode.connect(self._on_mode)
        for key, action in ((COMMIT_KEY, self._commit_key), (CANCEL_KEY, self._cancel_key)):
            self._saved_keys[key] = layer.keymap.get(_key(key))
            layer.bind_key(key, action, overwrite=True)
        self.changed.emit()

    def stop(self) -> None:
        layer = self.layer
        if not self.active:
            return
        self.active = False
        self.cancel()
        if layer is not None:
            layer.events.mode.disconnect(self._on_mode)
            if self._on_drag in layer.mouse_drag_callbacks:
                layer.mouse_drag_callbacks.remove(self._on_drag)
            for key, previous in self._saved_keys.items():
                layer.bind_key(key, previous, overwrite=True)
            if str(layer.mode) == "pan_zoom":
                layer.mouse_pan = True
        self._saved_keys = {}
        self.changed.emit()

    def _on_mode(self, _event=None) -> None:
        layer = self.layer
        if layer is not None and str(layer.mode) != "pan_zoom":
            self.stop()

    # -- scribbling ------------------------------------------------------------------
    def add_stroke(self, points, background: bool | None = None) -> None:
        """A scribble through ``points`` (data coordinates of the layer), then the preview."""
        self._stroke(points, self.background if background is None else background)
        self.update_preview()

    def _stroke(self, points, background: bool) -> bool:
        layer = self.layer
        points = [np.asarray(p, dtype=float) for p in points]
        if layer is None or not points:
            return False
        ndim = layer.ndim
        shape = layer.data.shape
        index = tuple(
            None if a >= ndim - 2 else int(np.clip(np.rint(points[0][a]), 0, shape[a] - 1))
            for a in range(ndim)
        )
        if index != self._plane_index:  # another plane: start again there
            self.clear()
            self._plane_index = index
            plane = tuple(layer.data.shape[-2:])
            self._foreground = np.zeros(plane, dtype=bool)
            self._background = np.zeros(plane, dtype=bool)
        target = self._background if background else self._foreground
        radius = max(1.0, float(layer.brush_size) / 2)
        previous = points[0][-2:]
        for point in points:
            scribble.stamp_segment(target, previous, point[-2:], radius)
            previous = point[-2:]
        return True

    def _on_drag(self, layer, event):
        if getattr(event, "button", 1) not in (1, None):
            return  # the left button scribbles; others stay napari's
        viewer = self.viewer
        offset = viewer.dims.ndim - layer.ndim if viewer is not None else 0
        displayed = tuple(d - offset for d in event.dims_displayed)
        if displayed != (layer.ndim - 2, layer.ndim - 1):
            show_info("Scribble works on the labels' last two axes in the 2-D view")
            return
        background = self.background or BACKGROUND_MODIFIER in event.modifiers
        point = compat.event_to_data_coordinate(layer, event)
        if point is None:
            return
        last = point
        self._stroke([point], background)
        yield
        while event.type == "mouse_move":
            point = compat.event_to_data_coordinate(layer, event)
            if point is not None:
                self._stroke([last, point], background)
                last = point
                if time.perf_counter() - self._last_preview > PREVIEW_INTERVAL:
                    self.update_preview()
            yield
        self.update_preview()

    # -- the region ------------------------------------------------------------------
    def image_window(self) -> np.ndarray | None:
        """The image's pixels under the window (channels last), or None (no image fits)."""
        image = self.image_layer()
        if image is None or self.window is None:
            return None
        data = windowed(image.data[0] if image.multiscale else image.data, self.layer)
        index = tuple(slice(i, i + 1) if i is not None else s for i, s in self._full_index())
        pixels = np.asarray(data[index])
        plane = pixels.reshape(pixels.shape[-3:] if image.rgb else pixels.shape[-2:])
        return plane

    def _full_index(self):
        windows = iter(self.window)
        return [(i, next(windows) if i is None else None) for i in self._plane_index]

    def image_layer(self) -> Image | None:
        layer, viewer = self.layer, self.viewer
        if layer is None or viewer is None:
            return None
        shape = full_shape(layer)
        for candidate in reversed(list(viewer.layers)):
            if not isinstance(candidate, Image):
                continue
            data = candidate.data[0] if candidate.multiscale else candidate.data
            spatial = tuple(data.shape[:-1] if candidate.rgb else data.shape)
            if spatial == shape and not candidate.name.startswith(PREVIEW_NAME):
                return candidate
        return None

    def update_preview(self) -> None:
        """Recompute the region from the scribbles and show it."""
        self._last_preview = time.perf_counter()
        layer = self.layer
        if layer is None or self._foreground is None:
            return
        scribbles = self._foreground | self._background
        self.window = scribble.scribble_window(scribbles)
        self.region = None
        if self.window is not None:
            pixels = self.image_window()
            if pixels is None:
                if not self._told_no_image:
                    show_info("Scribble needs an image layer of the labels' shape to grow on")
                    self._told_no_image = True
            else:
                self.region = scribble.grow_region(
                    pixels,
                    self._foreground[self.window],
                    self._background[self.window],
                    self.method,
                )
        self._show_preview()
        self.changed.emit()

    def proposed_edit(self):
        layer = self.layer
        if layer is None or self.region is None:
            return None
        return scribble.region_edit(
            self.region, self.window, self._plane_index, int(layer.selected_label)
        )

    def commit(self) -> PaintResult:
        """Paint the region into the current instance (one undo step), then start afresh."""
        layer = self.layer
        edit = self.proposed_edit()
        result = paint(layer, edit) if edit is not None and layer is not None else PaintResult()
        self.cancel()
        return result

    def cancel(self) -> None:
        """Drop the scribbles and the preview."""
        self.clear()
        self._remove_preview()
        self.changed.emit()

    def clear(self) -> None:
        self._foreground = self._background = None
        self._plane_index = None
        self.window = None
        self.region = None

    @property
    def has_scribbles(self) -> bool:
        return self._foreground is not None and bool(self._foreground.any())

    def _commit_key(self, _layer=None):
        self.commit()

    def _cancel_key(self, _layer=None):
        self.cancel()

    # -- the preview layer -----------------------------------------------------------
    def _show_preview(self) -> None:
        layer, viewer = self.layer, self.viewer
        if layer is None or viewer is None or self.window is None:
            self._remove_preview()
            return
        rows, cols = self.window
        rgba = np.zeros((rows.stop - rows.start, cols.stop - cols.start, 4), dtype=np.uint8)
        if self.region is not None:
            colour = layer.get_color(int(layer.selected_label))
            colour = np.asarray(colour if colour is not None else (1, 1, 0, 1), dtype=float)
            rgba[self.region] = (np.clip(colour, 0, 1) * 255).astype(np.uint8)
            rgba[self.region, 3] = 150
        rgba[self._background[self.window]] = BACKGROUND_COLOUR
        rgba[self._foreground[self.window]] = FOREGROUND_COLOUR
        scale = np.asarray(layer.scale[-2:], dtype=float)
        translate = np.asarray(layer.translate[-2:], dtype=float) + scale * (rows.start, cols.start)
        preview = self._preview_layer
        if preview is None or preview not in viewer.layers:
            active = viewer.layers.selection.active
            preview = self._preview_layer = viewer.add_image(
                rgba, name=PREVIEW_NAME, rgb=True, scale=scale, translate=translate
            )
            viewer.layers.selection.active = active  # the keys stay with the labels
        else:
            preview.data = rgba
            preview.translate = translate

    def _remove_preview(self) -> None:
        viewer, preview = self.viewer, self._preview_layer
        self._preview_layer = None
        if viewer is not None and preview is not None and preview in viewer.layers:
            active = viewer.layers.selection.active
            viewer.layers.remove(preview)
            if active is not None and active in viewer.layers:
                viewer.layers.selection.active = active


def scribbler_of(layer: Labels, viewer=None) -> Scribbler:
    """The layer's scribble tool, made on first call."""
    layer = unwrap(layer)
    scribbler = _scribblers.get(layer)
    if scribbler is None:
        scribbler = _scribblers[layer] = Scribbler(layer, viewer)
    return scribbler


def stop_scribbling(layer: Labels) -> None:
    """Turn the layer's scribble tool off if it has one (the layer leaves the viewer)."""
    scribbler = _scribblers.get(unwrap(layer))
    if scribbler is not None:
        scribbler.stop()


def _key(name: str):
    from napari.utils.key_bindings import coerce_keybinding

    return coerce_keybinding(name)
