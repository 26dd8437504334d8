"""The pen: napari's brush plus straight lines and hold-Alt-to-erase.

Freehand painting and erasing stay napari's own (modes ``paint`` / ``erase``,
keys P and E). :func:`attach_pen` adds, on one Labels layer instance:

Straight lines: **Shift+click**
    (the GIMP / Photoshop convention). With the brush or the eraser, a
    Shift+click paints a straight segment of brush width from the last painted
    point (the end of the last freehand stroke or of the last segment) to the
    click; further Shift+clicks continue the polyline. The segment covers every
    pixel whose centre lies within the brush radius of it (napari's round brush
    swept along the line). Each segment is one undo step; selecting another
    label starts afresh (its first Shift+click paints one dab, as does a
    Shift+click with no earlier point). Shift+clicking back onto the
    polyline's first point closes it and fills the outline in that same step.
    Two other ways to fill an outline in one action are napari's: right-click,
    trace around the area and come back to the red circle (encircle), or the
    polygon tool (key 3, the panel's Polygon button). Lines go through napari's
    own mask painting, so draw to back (``preserve_labels``) and the lock guard
    apply.

Hold-to-erase: **hold Alt**
    While the pen is in ``paint`` mode, holding Alt switches to ``erase`` and
    releasing it switches back (Alt+Shift+click erases a line). The key goes
    to the active layer, so the canvas must have focus; desktops that take
    Alt+drag for moving windows (some Linux window managers) need that
    shortcut turned off, or use E / the panel's Erase toggle instead.

Brush resize moves to **Ctrl+Alt + move**
    napari resizes the brush while its "brush size on mouse move" modifiers
    (setting ``application.brush_size_on_mouse_move_modifiers``, default Alt)
    are held, and paints nothing meanwhile, so Alt could not also erase. While
    the pen is attached, its layer reads that setting but resizes with
    Ctrl+Alt when the setting is plain Alt (any other choice, including
    Disabled, is honoured as is). The user's setting itself is never written:
    napari saves settings to disk on every change (and on quitting), so a
    temporary value could outlive a crash. Detaching gives the layer napari's
    own behaviour back, reading the setting as before.

How: the layer instance gets its own copy of napari's per-mode mouse
callback tables (``_drag_modes`` / ``_move_modes``, private) with the brush
entries wrapped, and an instance key binding for Alt. Both are checked when
attaching; if napari changed them the pen warns and leaves the layer as it
is. Other napari behaviour is untouched.
"""

from __future__ import annotations

import inspect
import warnings
import weakref
from collections.abc import Generator

import numpy as np
from napari.layers import Labels
from napari.settings import get_settings

LINE_MODIFIER = "Shift"
ERASE_KEY = "Alt"
#: the brush-resize gesture while the pen is attached and napari's setting is Alt
PEN_RESIZE_MODIFIERS = ("Control", "Alt")
#: Shift+clicks this close (data pixels, at least) to the first vertex close the outline
CLOSE_DISTANCE = 3.0
#: long segments are painted in chunks so no bounding box grows with the line
_CHUNK_LENGTH = 64.0

PAINT, ERASE = "paint", "erase"
_PAINT_REGION = "_paint_region_with_mask"
_PAINT_REGION_PARAMETERS = ("self", "slice_key", "mask", "new_label", "dims_to_paint", "refresh")


class PenUnavailableWarning(RuntimeWarning):
    """napari's brush internals changed: straight lines and hold-Alt are off."""


def napari_resize_modifiers() -> tuple[str, ...]:
    """The modifiers of napari's brush-size-on-move gesture (user setting)."""
    value = get_settings().application.brush_size_on_mouse_move_modifiers
    return tuple(str(getattr(value, "value", value)).split("+"))


def pen_resize_modifiers() -> tuple[str, ...]:
    """The resize modifiers on a pen layer: the user's, moved off plain Alt."""
    modifiers = napari_resize_modifiers()
    return PEN_RESIZE_MODIFIERS if modifiers == (ERASE_KEY,) else modifiers


def describe_modifiers(modifiers: tuple[str, ...]) -> str:
    if modifiers == ("Disabled",):
        return "disabled"
    return "+".join("Ctrl" if m == "Control" else m for m in modifiers)


class _BrushResize:
    """napari's brush-size-on-mouse-move gesture, with the pen's modifiers."""

    def __init__(self, min_brush_size: int = 1):
        self.min_brush_size = min_brush_size
        self.start_pos = None
        self.start_size = None

    def __call__(self, layer: Labels, event) -> None:
        modifiers = pen_resize_modifiers()
        if all(m in event.modifiers for m in modifiers):
            if self.start_pos is None:
                self.start_pos = event.pos
                self.start_size = layer.brush_size
                layer.cursor = "circle_frozen"  # napari's draw paints nothing meanwhile
            else:
                delta = round((event.pos[0] - self.start_pos[0]) / event.camera_zoom)
                layer.brush_size = max(self.start_size + delta, self.min_brush_size)
        else:
            self.start_pos = None
            if layer.cursor == "circle_frozen":
                layer.cursor = "circle"


def _internals_problem(layer: Labels) -> str | None:
    for table in ("_drag_modes", "_move_modes"):
        modes = getattr(type(layer), table, None)
        if not isinstance(modes, dict) or not all(callable(modes.get(m)) for m in (PAINT, ERASE)):
            return f"Labels.{table} has no {PAINT!r}/{ERASE!r} callbacks"
    if not inspect.isgeneratorfunction(type(layer)._drag_modes[PAINT]):
        return "the brush drag callback is no longer a generator"
    paint_region = getattr(type(layer), _PAINT_REGION, None)
    if paint_region is None:
        return f"Labels.{_PAINT_REGION} is gone"
    parameters = tuple(inspect.signature(paint_region).parameters)
    if parameters[: len(_PAINT_REGION_PARAMETERS)] != _PAINT_REGION_PARAMETERS:
        return f"Labels.{_PAINT_REGION}{parameters} changed"
    for helper in ("_get_shape_and_dims_to_paint", "_partial_labels_refresh"):
        if not callable(getattr(layer, helper, None)):
            return f"Labels.{helper} is gone"
    return None


class Pen:
    """The pen on one layer; made by :func:`attach_pen`, undone by :meth:`detach`."""

    def __init__(self, layer: Labels):
        self._layer_ref = weakref.ref(layer)
        self.attached = False
        #: data coordinate of the last painted point (start of the next line)
        self.anchor: np.ndarray | None = None
        #: vertices of the current Shift+click polyline (first = where it began)
        self.polyline: list[np.ndarray] = []
        self._napari_drag = dict(type(layer)._drag_modes)
        self._napari_move = dict(type(layer)._move_modes)
        self._resize = _BrushResize()
        self._previous_alt_binding = None
        self._erase_held = False

        pen_ref = weakref.ref(self)

        def pen_drag(layer, event):
            pen = pen_ref()
            if pen is None:
                return (yield from type(layer)._drag_modes[layer.mode](layer, event))
            return (yield from pen._on_drag(layer, event))

        def hold_to_erase(layer):
            pen = pen_ref()
            if pen is not None:
                yield from pen._hold_to_erase(layer)

        hold_to_erase.__doc__ = "Erase while Alt is held (napari-segtool pen)"
        self._drag_callback = pen_drag
        self._hold_callback = hold_to_erase

    @property
    def layer(self) -> Labels | None:
        return self._layer_ref()

    # -- erase toggle ---------------------------------------------------------
    @property
    def erase(self) -> bool:
        layer = self.layer
        return layer is not None and layer.mode == ERASE

    @erase.setter
    def erase(self, value: bool) -> None:
        layer = self.layer
        if layer is not None:
            layer.mode = ERASE if value else PAINT

    # -- attach / detach ------------------------------------------------------
    def _attach(self) -> bool:
        layer = self.layer
        problem = _internals_problem(layer)
        if problem is not None:
            warnings.warn(
                f"napari-segtool: straight lines and hold-Alt-to-erase are off for layer "
                f"{layer.name!r}: napari changed its brush internals ({problem}). The brush, "
                "the eraser (E) and draw to back still work.",
                PenUnavailableWarning,
                stacklevel=3,
            )
            return False
        drag_modes = dict(self._napari_drag)
        move_modes = dict(self._napari_move)
        for mode in (PAINT, ERASE):
            drag_modes[mode] = self._drag_callback
            move_modes[mode] = self._resize
        # the mode setter swaps callbacks through these tables: shadow them on the instance
        layer._drag_modes = drag_modes
        layer._move_modes = move_modes
        self._swap_callbacks(layer, to_pen=True)
        self._previous_alt_binding = layer.bind_key(ERASE_KEY, self._hold_callback, overwrite=True)
        # a new object (or new data) starts its own lines
        layer.events.data.connect(self._forget_anchor)
        layer.events.selected_label.connect(self._forget_anchor)
        self.attached = True
        return True

    def detach(self) -> None:
        """Give the layer napari's own brush, resize gesture and Alt back."""
        if not self.attached:
            return
        self.attached = False
        layer = self.layer
        if layer is None:
            return
        if self._erase_held and layer.mode == ERASE:
            layer.mode = PAINT
        self._erase_held = False
        self._swap_callbacks(layer, to_pen=False)
        for table in ("_drag_modes", "_move_modes"):
            layer.__dict__.pop(table, None)
        if layer.cursor == "circle_frozen":
            layer.cursor = "circle"
        if layer.keymap.get(_key(ERASE_KEY)) is self._hold_callback:
            layer.bind_key(ERASE_KEY, self._previous_alt_binding, overwrite=True)
        layer.events.data.disconnect(self._forget_anchor)
        layer.events.selected_label.disconnect(self._forget_anchor)

    def _swap_callbacks(self, layer: Labels, to_pen: bool) -> None:
        pairs = []
        for mode in (PAINT, ERASE):
            pairs.append((layer.mouse_drag_callbacks, self._napari_drag[mode], self._drag_callback))
            pairs.append((layer.mouse_move_callbacks, self._napari_move[mode], self._resize))
        for callbacks, napari_callback, pen_callback in pairs:
            old, new = (
                (napari_callback, pen_callback) if to_pen else (pen_callback, napari_callback)
            )
            for index, callback in enumerate(callbacks):
                if callback is old:
                    callbacks[index] = new

    def _forget_anchor(self, _event=None) -> None:
        self.anchor = None
        self.polyline = []

    # -- hold Alt ------------------------------------------------------------
    def _hold_to_erase(self, layer: Labels) -> Generator[None, None, None]:
        switched = layer.mode == PAINT
        if switched:
            self._erase_held = True
            layer.mode = ERASE
        yield
        if switched and self._erase_held:
            self._erase_held = False
            if layer.mode == ERASE:
                layer.mode = PAINT

    # -- mouse ----------------------------------------------------------------
    def _on_drag(self, layer: Labels, event):
        napari_draw = self._napari_drag[layer.mode]
        if self._is_line_click(layer, event):
            self._line_to(layer, _event_coordinate(layer, event))
            return
        strokes = napari_draw(layer, event)
        if not inspect.isgenerator(strokes):
            return
        try:
            next(strokes)
        except StopIteration:
            return  # napari painted nothing (resizing, right-button encircle, ...)
        self.polyline = []
        self._remember(layer, event)
        while True:
            yield
            moved = event.type == "mouse_move"
            try:
                next(strokes)
            except StopIteration:
                return
            if moved:
                self._remember(layer, event)

    def _is_line_click(self, layer: Labels, event) -> bool:
        if LINE_MODIFIER not in event.modifiers or self.anchor is None:
            return False
        if event.button == 2 or layer.cursor == "circle_frozen":
            return False
        if len(event.dims_displayed) != 2:
            return False  # 3D view: clicks hit surfaces, not a plane
        brush_stroke = getattr(layer, "_overlays", {}).get("brush_stroke")
        return not (brush_stroke is not None and brush_stroke.active)

    def _remember(self, layer: Labels, event) -> None:
        coordinate = _event_coordinate(layer, event)
        if coordinate is not None:
            self.anchor = coordinate

    # -- straight segments -------------------------------------------------------
    def _line_to(self, layer: Labels, end: np.ndarray | None) -> None:
        """Paint anchor -> ``end`` as one undo step; close and fill the outline if asked."""
        if end is None or self.anchor is None:
            return
        start = self.anchor
        if not self.polyline:
            self.polyline = [start]
        closing = len(self.polyline) >= 3 and self._near(layer, end, self.polyline[0])
        if closing:
            end = self.polyline[0]
        label = layer.colormap.background_value if layer.mode == ERASE else layer.selected_label
        with layer.block_history():
            paint_segment(layer, start, end, label)
            if closing:
                layer.paint_polygon(np.round(self.polyline).astype(int), label)
        if closing:
            self.polyline = []
        else:
            self.polyline.append(end)
        self.anchor = end

    def _near(self, layer: Labels, a: np.ndarray, b: np.ndarray) -> bool:
        _, dims = layer._get_shape_and_dims_to_paint()
        if len(dims) != 2:
            return False  # napari fills polygons in 2D only
        reach = max(CLOSE_DISTANCE, layer.brush_size / 2)
        return float(np.linalg.norm(a[dims] - b[dims])) <= reach


def attach_pen(layer: Labels) -> Pen:
    """Give ``layer`` the pen (Shift+click lines, hold Alt to erase, Ctrl+Alt resize).

    Attaching twice detaches the first pen. If napari's brush internals
    changed, a :class:`PenUnavailableWarning` is shown and the returned pen
    is inert (``pen.attached`` is False).
    """
    previous = pen_of(layer)
    if previous is not None:
        previous.detach()
    pen = Pen(layer)
    if pen._attach():
        _pens[layer] = pen
    return pen


def pen_of(layer: Labels) -> Pen | None:
    pen = _pens.get(layer)
    return pen if pen is not None and pen.attached else None


_pens: weakref.WeakKeyDictionary[Labels, Pen] = weakref.WeakKeyDictionary()


def paint_segment(layer: Labels, start, end, label: int) -> None:
    """Paint every pixel within the brush radius of segment ``start``-``end``.

    Coordinates are full data coordinates; the segment lies in the painted
    dimensions, at the plane of ``end``. Endpoints are rounded like napari's
    brush centres and the radius is napari's (``floor(size / 2) + 0.5``, in
    units of the finest painted axis), so a zero-length segment is one dab.
    """
    _, dims = layer._get_shape_and_dims_to_paint()
    full_shape = np.asarray(layer.data.shape)
    plane = np.round(np.asarray(end, dtype=float)).astype(int)
    a = np.round(np.asarray(start, dtype=float)[dims])
    b = np.round(np.asarray(end, dtype=float)[dims])
    scale = np.abs(np.asarray(layer.scale, dtype=float)[dims])
    axis_scale = scale / scale.min()
    radius = np.floor(layer.brush_size / 2) + 0.5
    reach = np.floor(radius / axis_scale).astype(int)
    bounds = full_shape[dims]
    pieces = max(1, int(np.ceil(np.max(np.abs(b - a)) / _CHUNK_LENGTH)))
    for piece in range(pieces):
        p = a + (b - a) * (piece / pieces)
        q = a + (b - a) * ((piece + 1) / pieces)
        low = np.maximum(np.floor(np.minimum(p, q)).astype(int) - reach, 0)
        high = np.minimum(np.ceil(np.maximum(p, q)).astype(int) + reach + 1, bounds)
        if np.any(low >= high):
            continue
        mask = _capsule_mask(low, high, p, q, axis_scale, radius)
        if not mask.any():
            continue
        slice_key = [slice(int(c), int(c) + 1) for c in plane]
        for i, dim in enumerate(dims):
            slice_key[dim] = slice(int(low[i]), int(high[i]))
        layer._paint_region_with_mask(tuple(slice_key), mask, label, dims, refresh=False)
    layer._partial_labels_refresh()


def _capsule_mask(low, high, p, q, axis_scale, radius) -> np.ndarray:
    """Pixels of the box [low, high) within ``radius`` of segment p-q (scaled space)."""
    grids = np.ogrid[tuple(slice(int(lo), int(hi)) for lo, hi in zip(low, high, strict=True))]
    direction = (q - p) * axis_scale
    length_sq = float(direction @ direction)
    offsets = [(grid - p[i]) * axis_scale[i] for i, grid in enumerate(grids)]
    if length_sq == 0:
        t = 0.0
    else:
        t = np.clip(sum(o * direction[i] for i, o in enumerate(offsets)) / length_sq, 0.0, 1.0)
    distance_sq = sum((o - t * direction[i]) ** 2 for i, o in enumerate(offsets))
    return np.asarray(distance_sq <= radius**2)


def _event_coordinate(layer: Labels, event) -> np.ndarray | None:
    from napari.layers.labels._labels_utils import mouse_event_to_labels_coordinate

    coordinate = mouse_event_to_labels_coordinate(layer, event)
    return None if coordinate is None else np.asarray(coordinate, dtype=float)


def _key(name: str):
    from napari.utils.key_bindings import coerce_keybinding

    return coerce_keybinding(name)
