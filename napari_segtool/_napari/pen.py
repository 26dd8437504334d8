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
    Two other ways to fill an outline in one action are napari's: a right click
    (released), then moving round the area with no button held and back into
    the circle it shows (encircle), or the
    polygon tool (key 3, the panel's Polygon button). The segment's geometry
    is :mod:`napari_segtool.tools.line` (the fill: :mod:`~napari_segtool.tools.polygon`)
    and the painter writes it, so draw to back (``preserve_labels``) and the
    locks apply as for every edit.

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
callback tables (private; :mod:`~napari_segtool._napari.compat` owns them)
with the brush entries wrapped, and an instance key binding for Alt. Both are
checked when attaching; if napari changed them the pen warns and leaves the
layer as it is. Other napari behaviour is untouched.
"""

from __future__ import annotations

import inspect
import warnings
import weakref
from collections.abc import Generator

import numpy as np
from napari.layers import Labels
from napari.settings import get_settings

from napari_segtool._napari import compat
from napari_segtool._napari.painter import PaintResult, paint
from napari_segtool.tools.line import segment_edits
from napari_segtool.tools.polygon import polygon_edit
from napari_segtool.tools.registry import tool

LINE_MODIFIER = tool("line").key
ERASE_KEY = tool("hold_erase").key
#: the brush-resize gesture while the pen is attached and napari's setting is Alt
PEN_RESIZE_MODIFIERS = ("Control", "Alt")
#: Shift+clicks this close (data pixels, at least) to the first vertex close the outline
CLOSE_DISTANCE = 3.0

PAINT, ERASE = "paint", "erase"


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


class Pen:
    """The pen on one layer; made by :func:`attach_pen`, undone by :meth:`detach`."""

    def __init__(self, layer: Labels):
        self._layer_ref = weakref.ref(layer)
        self.attached = False
        #: data coordinate of the last painted point (start of the next line)
        self.anchor: np.ndarray | None = None
        #: vertices of the current Shift+click polyline (first = where it began)
        self.polyline: list[np.ndarray] = []
        #: napari's own callbacks by mode (copied when attaching, once they are checked)
        self._napari_drag: dict = {}
        self._napari_move: dict = {}
        self._resize = _BrushResize()
        self._previous_alt_binding = None
        self._erase_held = False

        pen_ref = weakref.ref(self)

        def pen_drag(layer, event):
            pen = pen_ref()
            if pen is None:
                return (yield from compat.class_drag_callback(layer, layer.mode)(layer, event))
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
        problem = compat.problem(compat.MODE_CALLBACKS, type(layer))
        if problem is not None:
            warnings.warn(
                f"napari-segtool: straight lines and hold-Alt-to-erase are off for layer "
                f"{layer.name!r}: napari changed its brush internals ({problem}). The brush, "
                "the eraser (E) and draw to back still work.",
                PenUnavailableWarning,
                stacklevel=3,
            )
            return False
        self._napari_drag, self._napari_move = compat.mode_callbacks(type(layer))
        drag_modes = dict(self._napari_drag)
        move_modes = dict(self._napari_move)
        for mode in (PAINT, ERASE):
            drag_modes[mode] = self._drag_callback
            move_modes[mode] = self._resize
        # the mode setter swaps callbacks through these tables: shadow them on the instance
        compat.shadow_mode_callbacks(layer, drag_modes, move_modes)
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
        compat.restore_mode_callbacks(layer)
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
        return not compat.encircling(layer)

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
        edits = _segment_edits(layer, start, end, label)
        if closing:
            dims = compat.dims_to_paint(layer)
            outline = np.round(np.asarray(self.polyline, dtype=float))[:, dims]
            fill = polygon_edit(layer.data.shape, [outline], dims=dims, plane=end, label=label)
            edits.append(fill)
        paint(layer, edits)  # segment and fill: one undo step
        if closing:
            self.polyline = []
        else:
            self.polyline.append(end)
        self.anchor = end

    def _near(self, layer: Labels, a: np.ndarray, b: np.ndarray) -> bool:
        dims = compat.dims_to_paint(layer)
        if len(dims) != 2:
            return False  # outlines are filled in a plane only
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


def paint_segment(layer: Labels, start, end, label: int) -> PaintResult:
    """Paint every pixel within the brush radius of segment ``start``-``end`` (one undo step).

    Coordinates are full data coordinates; the segment lies in the painted
    dimensions, at the plane of ``end`` (see :mod:`napari_segtool.tools.line`).
    """
    return paint(layer, _segment_edits(layer, start, end, label))


def _segment_edits(layer: Labels, start, end, label: int) -> list:
    dims = compat.dims_to_paint(layer)
    return segment_edits(
        layer.data.shape,
        start,
        end,
        dims=dims,
        brush_size=layer.brush_size,
        label=label,
        scale=np.asarray(layer.scale, dtype=float)[dims],
    )


def _event_coordinate(layer: Labels, event) -> np.ndarray | None:
    return compat.event_to_data_coordinate(layer, event)


def _key(name: str):
    from napari.utils.key_bindings import coerce_keybinding

    return coerce_keybinding(name)
