"""Interpolate instances between slices in napari: which axis, which instances, one undo step.

The shapes come from :mod:`napari_segtool.tools.interpolate`; the pixels are
written by the painter (:func:`napari_segtool._napari.painter.paint`), all
instances together as one undo step, so locked and hidden instances keep
their pixels, a locked instance does not grow, and with *Draw to back* only
unlabelled pixels are filled.

Which axis
    The last non-displayed axis whose slider the user moved in this viewer
    (:class:`SliderMemory`, started by the viewer's session); before any slider
    moved, the layer's first non-displayed axis. In napari's 3-D view of a
    Z x Y x X stack, where no axis is left to a slider, the first displayed one.
    A slice is the two last displayed axes.

Which instances
    The rows selected in the dock's instance table (the dock registers its
    selection with :func:`set_selection_source`); without the dock, the
    instance napari paints with.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
from napari.layers import Labels
from napari.utils.notifications import show_info

from napari_segtool._napari.compat import unwrap
from napari_segtool._napari.painter import PaintResult, paint
from napari_segtool.tools.edit import bounding_box
from napari_segtool.tools.interpolate import interpolate

_memories: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_selection_sources: weakref.WeakKeyDictionary[Labels, Callable[[], list[int]]] = (
    weakref.WeakKeyDictionary()
)


class SliderMemory:
    """Remembers which non-displayed axis of a viewer the user moved last."""

    def __init__(self, viewer):
        self._viewer_ref = weakref.ref(viewer)
        self._steps = tuple(viewer.dims.current_step)
        #: the viewer dimension whose slider moved last (``None``: none yet)
        self.last_moved: int | None = None
        viewer.dims.events.current_step.connect(self._on_step)

    def _on_step(self, _event=None) -> None:
        viewer = self._viewer_ref()
        if viewer is None:
            return
        dims = viewer.dims
        steps = tuple(dims.current_step)
        if len(steps) == len(self._steps):
            moved = [
                i
                for i, (old, new) in enumerate(zip(self._steps, steps, strict=True))
                if old != new and i in dims.not_displayed
            ]
            if moved:
                self.last_moved = moved[-1]
        else:  # the viewer's dimensions changed: what moved before means nothing now
            self.last_moved = None
        self._steps = steps


def track_sliders(viewer) -> SliderMemory:
    """The viewer's slider memory, started on first call."""
    viewer = unwrap(viewer)
    memory = _memories.get(viewer)
    if memory is None:
        memory = _memories[viewer] = SliderMemory(viewer)
    return memory


def viewer_of(layer: Labels):
    """A tracked viewer that holds ``layer`` (``None``: none does)."""
    layer = unwrap(layer)
    for viewer in list(_memories):
        if layer in viewer.layers:
            return viewer
    return None


def interpolation_axes(layer: Labels, viewer=None) -> tuple[int, tuple[int, ...]]:
    """``(axis, plane axes)`` of ``layer`` to interpolate along and within (see above)."""
    layer = unwrap(layer)
    ndim = layer.ndim
    if ndim < 3:
        raise ValueError(f"{layer.name!r} has no slices to interpolate between (2-D labels)")
    viewer = unwrap(viewer) if viewer is not None else viewer_of(layer)
    if viewer is None:
        return 0, (ndim - 2, ndim - 1)
    dims = viewer.dims
    offset = dims.ndim - ndim  # the layer's axes are the viewer's last ones
    displayed = [d - offset for d in dims.displayed if d >= offset]
    plane = tuple(displayed[-2:])
    sliders = [d - offset for d in dims.not_displayed if d >= offset]
    memory = _memories.get(viewer)
    moved = memory.last_moved if memory is not None else None
    if moved is not None and moved - offset in sliders:
        return moved - offset, plane
    if sliders:
        return sliders[0], plane
    if len(displayed) > 2:
        return displayed[0], plane
    raise ValueError(f"{layer.name!r} has no axis left to interpolate along")


def axis_name(layer: Labels, axis: int, viewer=None) -> str:
    viewer = unwrap(viewer) if viewer is not None else viewer_of(layer)
    if viewer is not None:
        labels = viewer.dims.axis_labels
        index = viewer.dims.ndim - layer.ndim + axis
        if 0 <= index < len(labels):
            return str(labels[index])
    return str(axis)


def interpolate_instances(layer: Labels, label_ids, viewer=None) -> PaintResult:
    """Fill each instance of ``label_ids`` between its drawn slices, as one undo step.

    Raises ``ValueError`` for a layer without slices; says so in napari's
    notifications when there was no gap to fill.
    """
    layer = unwrap(layer)
    viewer = unwrap(viewer) if viewer is not None else viewer_of(layer)
    axis, plane = interpolation_axes(layer, viewer)
    sampling = [abs(float(layer.scale[a])) for a in plane]
    data = layer.data
    edits = []
    for label_id in dict.fromkeys(int(i) for i in label_ids if int(i) != 0):
        bbox = bounding_box(np.asarray(data) == label_id)
        if bbox is not None:
            edits.append(interpolate(data, label_id, axis, plane, sampling=sampling, bbox=bbox))
    result = paint(layer, edits)
    if not any(edits):
        show_info(
            f"Nothing to interpolate along axis {axis_name(layer, axis, viewer)}: "
            "draw the instance on two slices with empty slices between them."
        )
    return result


def set_selection_source(layer: Labels, source: Callable[[], list[int]] | None) -> None:
    """Who says which instances of ``layer`` are selected (the dock's table); ``None``: nobody.

    Held weakly when it is a bound method (a closed dock is not kept alive).
    """
    layer = unwrap(layer)
    if source is None:
        _selection_sources.pop(layer, None)
    elif hasattr(source, "__self__"):
        _selection_sources[layer] = weakref.WeakMethod(source)
    else:
        _selection_sources[layer] = lambda: source


def selected_instances(layer: Labels) -> list[int]:
    """The instances the interpolation key acts on (see the module's docstring)."""
    layer = unwrap(layer)
    reference = _selection_sources.get(layer)
    source = reference() if reference is not None else None
    if source is not None:
        selected = list(source())
        if selected:
            return selected
    label = int(layer.selected_label)
    return [label] if label else []


def interpolate_selected(layer: Labels, viewer=None) -> PaintResult:
    """The key's action: :func:`interpolate_instances` on :func:`selected_instances`."""
    layer = unwrap(layer)
    try:
        return interpolate_instances(layer, selected_instances(layer), viewer)
    except ValueError as error:
        show_info(str(error))
        return PaintResult()
