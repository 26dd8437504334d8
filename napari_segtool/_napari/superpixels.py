"""Superpixels on a Labels layer: click or brush over them to give them whole to the instance.

While the tool is on, the image around the view (a bounded window, see
:mod:`napari_segtool.tools.superpixels`) is cut into SLIC superpixels of about
:attr:`SuperpixelTool.size` pixels across, and their boundaries are shown on a
helper layer. A click or a brush stroke (the brush size is napari's) over
superpixels assigns every superpixel it touched, whole, to the current
instance on release (a click: the one under the pointer; a drag: every one
under the brush along the way), through the painter (class colour, locks, hidden
instances, draw to back, one undo step); with **Alt** it removes them from the
instance instead. A press outside the computed window computes the window
around it.

Computing runs off the main thread when a runner is set
(:attr:`SuperpixelTool.runner`, the dock's worker thread); results are cached
per image, window and size, so switching the tool off and on, or going back
to a size, costs nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from napari.layers import Labels
from psygnal import Signal

from napari_segtool._napari import compat
from napari_segtool._napari.canvas_tool import (
    CanvasTool,
    NormalisedImage,
    event_index,
    tool_on,
)
from napari_segtool._napari.painter import PaintResult, paint
from napari_segtool.tools.edit import ERASE
from napari_segtool.tools.superpixels import (
    DEFAULT_SIZE,
    Superpixels,
    compute_superpixels,
    superpixel_window,
)

BOUNDARIES = "superpixel boundaries"
#: computed windows kept per layer
CACHE_SIZE = 8


@dataclass(frozen=True)
class SuperpixelJob:
    """One SLIC computation: runs on any thread; its result goes to ``install``."""

    key: tuple
    image: NormalisedImage
    region: tuple[slice, ...]
    dims: tuple[int, ...]
    size: int

    def run(self) -> Superpixels:
        return compute_superpixels(
            self.image,
            self.region,
            self.dims,
            self.size,
            channels=self.image.channels,
            value_range=(0.0, 1.0),
        )


class SuperpixelTool(CanvasTool):
    name = "superpixels"
    #: computing started (True) or ended (False)
    busy_changed = Signal(bool)
    size_changed = Signal(int)
    committed = Signal(object)

    def __init__(self, layer: Labels, viewer=None):
        super().__init__(layer, viewer)
        self._size = DEFAULT_SIZE
        self._cache: OrderedDict[tuple, Superpixels] = OrderedDict()
        self.current: Superpixels | None = None
        #: runs a job off the main thread and calls ``install(job, result)`` on the main
        #: thread when done; None: compute right away (scripts, tests)
        self.runner: Callable[[SuperpixelTool, SuperpixelJob], None] | None = None
        self.pending: SuperpixelJob | None = None
        #: superpixels touched by the stroke under way
        self.chosen: set[int] = set()

    @property
    def size(self) -> int:
        return self._size

    @size.setter
    def size(self, value: int) -> None:
        value = int(value)
        if value != self._size:
            self._size = value
            self.size_changed.emit(value)
            if self.active:
                self.request(self._centre())

    # -- computing -------------------------------------------------------------------
    def _centre(self) -> tuple[float, ...]:
        layer, viewer = self.layer, self.viewer
        if viewer is not None:
            centre = np.asarray(viewer.dims.point, dtype=float)
            displayed = list(viewer.dims.displayed)
            camera = np.asarray(compat.camera(viewer).center, dtype=float)[-len(displayed) :]
            centre[displayed] = camera
            world = centre[-layer.ndim :]
            return tuple(layer.world_to_data(world))
        return tuple((n - 1) / 2 for n in layer.data.shape)

    def request(self, centre) -> None:
        """Show the superpixels of the window around ``centre`` (computing them if needed)."""
        layer = self.layer
        if layer is None:
            return
        image = self.image_or_warning()
        if image is None:
            return
        dims = tuple(compat.dims_to_paint(layer))
        region = superpixel_window(layer.data.shape, centre, dims)
        key = (image.cache_key, _key_of(region), dims, self.size)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self._show(cached)
            return
        job = SuperpixelJob(key, image, region, dims, self.size)
        if self.pending is not None and self.pending.key == key:
            return
        self.pending = job
        self.busy_changed.emit(True)
        if self.runner is None:
            self.install(job, job.run())
        else:
            self.runner(self, job)

    def install(self, job: SuperpixelJob, result: Superpixels) -> None:
        """A computation finished (main thread): cache it, and show it if still wanted."""
        self._cache[job.key] = result
        self._cache.move_to_end(job.key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        if self.pending is job:
            self.pending = None
            self.busy_changed.emit(False)
            if self.active and job.size == self.size:
                self._show(result)

    def failed(self, job: SuperpixelJob, error: BaseException) -> None:
        if self.pending is job:
            self.pending = None
            self.busy_changed.emit(False)
        from napari.utils.notifications import show_error

        show_error(f"superpixels could not be computed: {error}")

    def _show(self, superpixels: Superpixels) -> None:
        self.current = superpixels
        self.show_overlay(BOUNDARIES, superpixels.region, superpixels.boundaries(), "cyan", 0.5)

    def _on_activate(self) -> None:
        self.request(self._centre())

    def _on_deactivate(self) -> None:
        self.current = None
        self.chosen = set()
        if self.pending is not None:
            self.pending = None
            self.busy_changed.emit(False)

    # -- clicks and strokes ----------------------------------------------------------
    def _on_drag(self, layer: Labels, event):
        if event.button != 1:
            return
        index = event_index(layer, event)
        if index is None:
            return
        if self.current is None or not self.current.contains(index):
            self.request(index)
            return
        remove = "Alt" in event.modifiers
        # a click takes the superpixel under the pointer; a drag brushes (napari's brush size)
        self.chosen = self.current.at([index])
        yield
        while event.type == "mouse_move":
            index = event_index(layer, event)
            if index is not None:
                self._touch(layer, index)
            yield
        result = self.assign(layer, self.chosen, remove=remove)
        self.chosen = set()
        self.committed.emit(result)

    def _touch(self, layer: Labels, index: tuple[int, ...]) -> None:
        """Add the superpixels under the brush at ``index`` to the stroke."""
        dims = compat.dims_to_paint(layer)
        radius = int(np.floor(layer.brush_size / 2))
        reach = [radius if axis in dims else 0 for axis in range(len(index))]
        region = tuple(slice(i - r, i + r + 1) for i, r in zip(index, reach, strict=True))
        offsets = np.ogrid[tuple(slice(-r, r + 1) for r in reach)]
        brush = sum(o.astype(float) ** 2 for o in offsets) <= (radius + 0.5) ** 2
        self.chosen |= self.current.under_mask(region, brush)

    def assign(self, layer: Labels, chosen, remove: bool = False) -> PaintResult:
        """Give the ``chosen`` superpixels whole to the current instance (one undo step)."""
        label = int(layer.selected_label)
        if self.current is None or label == ERASE:
            return PaintResult()
        if remove:
            edit = self.current.edit(chosen, ERASE, replaces={label})
        else:
            edit = self.current.edit(chosen, label)
        return paint(layer, edit) if edit is not None else PaintResult()


def _key_of(region: tuple[slice, ...]) -> tuple:
    return tuple((s.start, s.stop) for s in region)


def superpixels_of(layer: Labels, viewer=None) -> SuperpixelTool:
    """The layer's superpixel tool (made on first use; off until activated)."""
    return tool_on(layer, SuperpixelTool, viewer)
