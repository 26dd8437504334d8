"""Drive a Labels layer the way the mouse does: press, drag, release."""

from __future__ import annotations

from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)


def drag(layer, mouse_event, points, modifiers=()):
    """One stroke through ``points`` (data coordinates) with napari's mouse callbacks."""
    first, *rest = points
    common = {"dims_displayed": (0, 1), "dims_point": (0, 0), "view_direction": None}
    press = mouse_event(type="mouse_press", is_dragging=False, position=first, **common)
    press.modifiers = list(modifiers)
    mouse_press_callbacks(layer, ReadOnlyWrapper(press))
    for point in rest:
        move = mouse_event(type="mouse_move", is_dragging=True, position=point, **common)
        move.modifiers = list(modifiers)
        mouse_move_callbacks(layer, ReadOnlyWrapper(move))
    release = mouse_event(
        type="mouse_release", is_dragging=False, position=rest[-1] if rest else first, **common
    )
    release.modifiers = list(modifiers)
    mouse_release_callbacks(layer, ReadOnlyWrapper(release))
