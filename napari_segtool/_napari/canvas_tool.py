"""What the assist tools (magic wand, superpixels) share: a click mode, the image, overlays.

A canvas tool takes the layer's left mouse button while it is on: the layer
goes to napari's ``pan_zoom`` mode with panning by drag turned off (the wheel
still zooms, Space still pans), and the tool's drag callback answers clicks.
Choosing any napari mode (P, E, F, the panel's buttons) turns the tool off;
at most one canvas tool is on per layer.

The tools read the image the layer annotates (:func:`image_for`): the visible
Image layers on the label layer's grid, scaled to [0, 1] by their contrast
limits, so one tolerance or size works on any dtype. One RGB layer gives
colour channels; several grey layers (a multichannel image split by napari's
``channel_axis``) are stacked as channels.

Overlays (the wand's outline, the superpixel boundaries) are helper Image
layers the plugin's writers never save; they are removed when the tool goes off.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
from napari.layers import Image, Labels
from psygnal import Signal

from napari_segtool._napari import compat

PAN_ZOOM = "pan_zoom"
#: metadata key marking the plugin's helper layers (never saved, never bound)
HELPER_KEY = "napari_segtool_helper"


class NoImageError(LookupError):
    """No visible image lies on the label layer's grid."""


class NormalisedImage:
    """Image layers on the label grid, read window by window as floats in [0, 1].

    ``shape`` is the label grid's, plus a trailing channel axis when
    :attr:`channels`; indexing with a box or a pixel reads only that part.
    """

    def __init__(self, arrays: Sequence[tuple[np.ndarray, float, float]], rgb: bool):
        self._arrays = list(arrays)
        self.rgb = rgb
        first = self._arrays[0][0]
        grid = tuple(first.shape[:-1]) if rgb else tuple(first.shape)
        self.channels = rgb or len(self._arrays) > 1
        count = min(first.shape[-1], 3) if rgb else len(self._arrays)
        self.shape = (*grid, count) if self.channels else grid

    @property
    def cache_key(self) -> tuple:
        """Identifies the pixels and their scaling (while the arrays live)."""
        return (
            self.rgb,
            *((getattr(a, "identity", id(a)), low, high) for a, low, high in self._arrays),
        )

    def __getitem__(self, key) -> np.ndarray:
        parts = []
        for array, low, high in self._arrays:
            values = np.asarray(array[key], dtype=np.float32)
            if self.rgb:
                values = values[..., :3]
            span = high - low if high > low else 1.0
            parts.append((values - low) / span)
        if self.rgb:
            return parts[0]
        return np.stack(parts, axis=-1) if self.channels else parts[0]


def image_for(layer: Labels, viewer) -> NormalisedImage:
    """The image ``layer`` annotates (see the module doc); :class:`NoImageError` if none.

    A layer showing a window of a larger segmentation gets the image's pixels
    under its window (indexed like ``layer.data``).
    """
    # imported here: the large segmentation module imports the binding, which imports this one
    from napari_segtool._napari.large_segmentation import full_shape, windowed

    grid = full_shape(layer)
    candidates = []
    for other in list(viewer.layers) if viewer is not None else []:
        if not isinstance(other, Image) or other.metadata.get(HELPER_KEY) or not other.visible:
            continue
        data = other.data[0] if other.multiscale else other.data
        shape = tuple(data.shape[:-1]) if other.rgb else tuple(data.shape)
        if shape == grid:
            candidates.append((other, windowed(data, layer)))
    if not candidates:
        raise NoImageError(
            f"no visible image of {grid} pixels under layer {layer.name!r}: the wand and "
            "superpixels read the image the layer annotates"
        )
    named = _source_name(layer)
    for other, data in candidates:
        if other.rgb and (named is None or other.name == named):
            return NormalisedImage([(data, *_limits(other))], rgb=True)
    greys = [(data, *_limits(other)) for other, data in candidates if not other.rgb]
    if not greys:
        other, data = candidates[0]
        return NormalisedImage([(data, *_limits(other))], rgb=True)
    return NormalisedImage(greys, rgb=False)


def _source_name(layer: Labels) -> str | None:
    # the binding imports this module (a new instance keeps the tool on)
    from napari_segtool._napari.binding import binding_of, is_segmentation_layer

    if not is_segmentation_layer(layer):
        return None

    return binding_of(layer).document.source.get("image_name")


def _limits(image: Image) -> tuple[float, float]:
    if image.rgb and np.issubdtype(np.dtype(image.dtype), np.integer):
        return 0.0, float(np.iinfo(np.dtype(image.dtype)).max)
    low, high = image.contrast_limits
    return float(low), float(high)


class CanvasTool:
    """A click tool on one Labels layer; subclasses answer :meth:`_on_drag`."""

    #: the registry name (the panel's button)
    name = ""
    active_changed = Signal(bool)

    def __init__(self, layer: Labels, viewer=None):
        self._layer_ref = weakref.ref(layer)
        self._viewer_ref = weakref.ref(viewer) if viewer is not None else None
        self.active = False
        self._overlays: dict[str, Image] = {}
        self._watched_viewer = None
        tool_ref = weakref.ref(self)

        def canvas_tool_drag(layer, event):
            tool = tool_ref()
            if tool is not None and tool.active:
                yield from tool._on_drag(layer, event)

        self._drag_callback = canvas_tool_drag

    @property
    def layer(self) -> Labels | None:
        return self._layer_ref()

    @property
    def viewer(self):
        viewer = self._viewer_ref() if self._viewer_ref is not None else None
        if viewer is None:
            from napari_segtool._napari.session import current_viewer

            viewer = current_viewer()
        return compat.unwrap(viewer) if viewer is not None else None

    def image(self) -> NormalisedImage:
        return image_for(self.layer, self.viewer)

    def image_or_warning(self) -> NormalisedImage | None:
        """The image, or ``None`` once the user is told why there is none."""
        try:
            return self.image()
        except NoImageError as error:
            from napari.utils.notifications import show_warning

            show_warning(str(error))
            return None

    # -- on / off ----------------------------------------------------------------
    def set_active(self, on: bool) -> None:
        if on:
            self.activate()
        else:
            self.deactivate()

    def toggle(self) -> None:
        self.set_active(not self.active)

    def activate(self) -> None:
        layer = self.layer
        if layer is None or self.active:
            return
        for other in tools_on(layer):
            if other is not self:
                other.deactivate()
        # one assist tool at a time: both would take the same drags
        from napari_segtool._napari.scribble import stop_scribbling

        stop_scribbling(layer)
        layer.mode = PAN_ZOOM
        if layer.mode != PAN_ZOOM:
            return
        layer.mouse_pan = False
        layer.mouse_drag_callbacks.append(self._drag_callback)
        layer.events.mode.connect(self._on_mode)
        viewer = self.viewer
        if viewer is not None:
            viewer.layers.events.removed.connect(self._on_layer_removed)
            self._watched_viewer = weakref.ref(viewer)
        self.active = True
        self._on_activate()
        self.active_changed.emit(True)

    def deactivate(self) -> None:
        if not self.active:
            return
        self.active = False
        layer = self.layer
        if layer is not None:
            layer.events.mode.disconnect(self._on_mode)
            if self._drag_callback in layer.mouse_drag_callbacks:
                layer.mouse_drag_callbacks.remove(self._drag_callback)
            layer.mouse_pan = layer.mode == PAN_ZOOM
        watched = self._watched_viewer() if self._watched_viewer is not None else None
        if watched is not None:
            watched.layers.events.removed.disconnect(self._on_layer_removed)
        self._watched_viewer = None
        self._on_deactivate()
        self.remove_overlays()
        self.active_changed.emit(False)

    def _on_mode(self, _event=None) -> None:
        self.deactivate()

    def _on_layer_removed(self, event) -> None:
        # the label layer left the viewer: its overlays go with it
        if event.value is self.layer:
            self.deactivate()

    def _on_activate(self) -> None:
        """Subclasses: the tool just went on."""

    def _on_deactivate(self) -> None:
        """Subclasses: the tool just went off (before its overlays are removed)."""

    def _on_drag(self, layer: Labels, event):
        yield

    # -- overlays ----------------------------------------------------------------------
    def show_overlay(
        self,
        key: str,
        region: tuple[slice, ...],
        data: np.ndarray,
        colormap: str,
        opacity: float = 1.0,
    ) -> Image | None:
        """Show ``data`` (a box of the label grid at ``region``) on a helper layer."""
        layer, viewer = self.layer, self.viewer
        if layer is None or viewer is None:
            return None
        scale = np.asarray(layer.scale, dtype=float)
        translate = np.asarray(layer.translate, dtype=float) + scale * [s.start for s in region]
        data = np.asarray(data, dtype=np.uint8)
        overlay = self._overlays.get(key)
        if overlay is not None and overlay in viewer.layers:
            if not np.array_equal(overlay.translate, translate):
                overlay.translate = translate
            overlay.data = data
            if not overlay.visible:
                overlay.visible = True
            return overlay
        active = viewer.layers.selection.active
        overlay = Image(
            data,
            name=f"{layer.name} {key}",
            scale=scale,
            translate=translate,
            colormap=colormap,
            contrast_limits=(0, 1),
            blending="additive",
            opacity=opacity,
            metadata={HELPER_KEY: True},
        )
        viewer.layers.append(overlay)
        # the clicks belong to the label layer, not its overlay
        viewer.layers.selection.active = active if active is not None else layer
        self._overlays[key] = overlay
        return overlay

    def conceal_overlay(self, key: str) -> None:
        """Hide the overlay but keep its layer (making a layer costs more than a click)."""
        overlay = self._overlays.get(key)
        if overlay is not None and overlay.visible:
            overlay.visible = False

    def hide_overlay(self, key: str) -> None:
        overlay = self._overlays.pop(key, None)
        viewer = self.viewer
        if overlay is not None and viewer is not None and overlay in viewer.layers:
            viewer.layers.remove(overlay)

    def remove_overlays(self) -> None:
        for key in list(self._overlays):
            self.hide_overlay(key)

    def overlay(self, key: str) -> Image | None:
        return self._overlays.get(key)


_tools: weakref.WeakKeyDictionary[Labels, dict[str, CanvasTool]] = weakref.WeakKeyDictionary()


def tool_on(layer: Labels, cls: type[CanvasTool], viewer=None) -> CanvasTool:
    """The layer's tool of class ``cls`` (made on first use)."""
    by_name = _tools.setdefault(layer, {})
    tool = by_name.get(cls.name)
    if tool is None:
        tool = by_name[cls.name] = cls(layer, viewer)
    return tool


def tools_on(layer: Labels) -> list[CanvasTool]:
    return list(_tools.get(layer, {}).values())


def canvas_tool_active(layer: Labels) -> bool:
    """Whether a canvas tool holds the layer's clicks (a new instance keeps it on)."""
    return any(tool.active for tool in tools_on(layer))


def is_helper_layer(layer) -> bool:
    return bool(getattr(layer, "metadata", {}).get(HELPER_KEY))


def event_index(layer: Labels, event) -> tuple[int, ...] | None:
    """The label pixel under a mouse event (None: outside the layer)."""
    coordinate = compat.event_to_data_coordinate(layer, event)
    if coordinate is None:
        return None
    index = tuple(round(float(c)) for c in coordinate)
    if any(not 0 <= i < n for i, n in zip(index, layer.data.shape, strict=True)):
        return None
    return index
