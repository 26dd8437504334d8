"""Real input for tests: mouse events through a layer's napari callbacks, keys on the canvas.

The mouse helpers feed napari's own dispatch functions
(``napari.utils.interactions.mouse_*_callbacks``) with read-only event
wrappers, as napari's tests do, so every drag callback on the layer (the
mode's brush, the pen, the encircle overlay of a viewer) sees the input.
"""

from __future__ import annotations

from dataclasses import dataclass

from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)

LEFT, RIGHT = 1, 2


@dataclass
class MouseEvent:
    type: str
    position: tuple[float, ...]
    modifiers: tuple[str, ...] = ()
    button: int = LEFT
    is_dragging: bool = False
    dims_displayed: tuple[int, ...] = (0, 1)
    dims_point: tuple[float, ...] | None = None
    view_direction: tuple[float, ...] | None = None
    pos: tuple[float, float] = (0.0, 0.0)  # canvas pixels (the resize gesture reads these)
    camera_zoom: float = 1.0
    handled: bool = False


def _event(kind: str, position, **kwargs) -> ReadOnlyWrapper:
    return ReadOnlyWrapper(MouseEvent(kind, tuple(float(p) for p in position), **kwargs))


def press(layer, position, **kwargs) -> None:
    mouse_press_callbacks(layer, _event("mouse_press", position, **kwargs))


def drag_to(layer, position, **kwargs) -> None:
    mouse_move_callbacks(layer, _event("mouse_move", position, is_dragging=True, **kwargs))


def hover(layer, position, **kwargs) -> None:
    """A mouse move with no button held (mouse_move_callbacks, e.g. the resize gesture)."""
    mouse_move_callbacks(layer, _event("mouse_move", position, **kwargs))


def release(layer, position, **kwargs) -> None:
    mouse_release_callbacks(layer, _event("mouse_release", position, **kwargs))


def stroke(layer, points, **kwargs) -> None:
    """Press at the first point, drag through the others, release at the last."""
    points = list(points)
    press(layer, points[0], **kwargs)
    for point in points[1:]:
        drag_to(layer, point, **kwargs)
    release(layer, points[-1], **kwargs)


def click(layer, position, **kwargs) -> None:
    press(layer, position, **kwargs)
    release(layer, position, **kwargs)


def shift_click(layer, position, **kwargs) -> None:
    modifiers = (*kwargs.pop("modifiers", ()), "Shift")
    click(layer, position, modifiers=modifiers, **kwargs)


def canvas_of(viewer):
    return viewer.window._qt_viewer.canvas._scene_canvas


def key_press(viewer, key: str, modifiers=()) -> None:
    """Press ``key`` on the viewer's canvas (napari's KeymapHandler answers)."""
    from vispy import keys

    canvas_of(viewer).events.key_press(
        key=keys.Key(key), modifiers=[keys.Key(m) for m in modifiers]
    )


def key_release(viewer, key: str, modifiers=()) -> None:
    from vispy import keys

    canvas_of(viewer).events.key_release(
        key=keys.Key(key), modifiers=[keys.Key(m) for m in modifiers]
    )
