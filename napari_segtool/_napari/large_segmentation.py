"""Segmentations larger than memory: a read-only overview and a full-resolution window.

napari cannot paint a multiscale Labels layer, so one large segmentation
(a :class:`~napari_segtool.model.chunked_labels.ChunkedLabels`) is shown as
two napari layers that behave as one:

the overview
    a multiscale, read-only Labels layer over ``labels.levels`` (napari reads
    only the visible tile of the level it shows), named ``"<name> (overview)"``,
    under the editor;
the editor
    the bound segmentation layer: a plain in-memory numpy Labels layer holding
    a full-resolution, chunk-aligned *window* of the segmentation, placed with
    ``translate`` over the part the user looks at. napari's brush, fill,
    polygon and undo, the plugin's painter, locks and draw to back work on it
    unchanged.

They share the name, the instance colours (the binding's colormap, copied to
the overview whenever it changes), visibility and opacity; removing either
removes both. The overview is never editable.

The window follows the camera (:meth:`LargeSegmentation.follow`, on pan, zoom
and slider moves, debounced when there is a Qt event loop): when the visible
level-0 region leaves the window and is at most ``window_max`` pixels a side,
the window's changed boxes are written into the ChunkedLabels, then a new
window around the view is loaded inside :meth:`LayerBinding.data_moved
<napari_segtool._napari.binding.LayerBinding.data_moved>` (no recount, no
autosave "data replaced"). Zoomed out further, the window stays and the
overview shows everything.

After every stroke, undo and redo (the binding's ``pixels_changed`` boxes) the
changed boxes are written through into the ChunkedLabels, which recomputes the
pyramid for just those chunks, and the overview re-reads its visible tile when
the boxes lie in it. (napari sends ``paint`` before writing the pixels of an
edit made outside a stroke, e.g. the polygon tool or a script's ``layer.fill``:
the boxes of the last write are checked again when napari redraws the painted
pixels, and every box of the window is written again before a move and in
:func:`full_labels`.)

Undo works within a window. A window move clears the undo history: napari's
history atoms point into the old window's pixels. So Ctrl+Z after the view
moved the window does not undo strokes made before the move; the window moves
only when the view leaves it, so panning inside it keeps the history.

Pixel counts: the binding counts deltas from napari's history (right however
the window moves); the counts of the rest of the segmentation come from one
pass of :meth:`ChunkedLabelStore.counts_and_boxes
<napari_segtool.model.zarr_label_store.ChunkedLabelStore.counts_and_boxes>`
in a worker thread with napari's progress bar, added when it ends. While it
counts, strokes stay in the window (the ChunkedLabels is not written, so the
count sees one state) and the window does not move.

Writers and autosave ask :func:`full_labels` for the pixels of a windowed
layer, never ``layer.data`` (the window).
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from napari.layers import Labels

from napari_segtool._napari.binding import (
    binding_of,
    segmentation_layer_kwargs,
    unwrap,
)
from napari_segtool._napari.compat import camera, editing_now, qt_window
from napari_segtool.model.document import Document, DocumentError

logger = logging.getLogger(__name__)

#: the window's largest side in level-0 pixels (rounded down to whole chunks)
WINDOW_MAX = 4096
#: environment variable that sets another default for it (memory: side² x the dtype's bytes)
WINDOW_MAX_ENV = "NAPARI_SEGTOOL_WINDOW_MAX"
#: the overview layer's name is the editor's with this after it
OVERVIEW_SUFFIX = " (overview)"
#: key of the overview's ``metadata``: the name of the segmentation it shows
OVERVIEW_KEY = "segtool_overview_of"
#: the window reaches this share of the view's size beyond each side of it
MARGIN = 1.0
#: camera events this close together make one window move (with a Qt event loop)
DEBOUNCE_SECONDS = 0.15
#: the Qt support (debounce timer, worker thread and progress bar), loaded by name
#: only for a viewer that has a Qt window
QT_SUPPORT = "napari_segtool._qt.large_segmentation"

Box = tuple[slice, ...]
#: ``schedule(callback)``: run ``callback`` soon on the UI thread (debounced)
Scheduler = Callable[[Callable[[], None]], None]
#: ``run(job, progress, done, failed)``: ``job(progress)`` off the UI thread, then
#: ``done(result)`` or ``failed(error)`` on it; ``progress(done, total)`` from the job
Runner = Callable[..., None]

_segmentations: weakref.WeakKeyDictionary[Labels, LargeSegmentation] = weakref.WeakKeyDictionary()


# -- public functions ------------------------------------------------------------------------
def open_large_segmentation(
    viewer,
    labels,
    document: Document,
    name: str,
    *,
    scale: Sequence[float] | None = None,
    translate: Sequence[float] | None = None,
    axis_labels: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    window_max: int | None = None,
    opacity: float = 0.7,
) -> Labels:
    """Show ``labels`` (a ``ChunkedLabels``) in ``viewer`` as one editable segmentation.

    Adds the read-only multiscale overview over ``labels.levels`` (named
    ``name + OVERVIEW_SUFFIX``) and above it the editor: the segmentation
    layer named ``name`` bound to ``document``, holding a full-resolution
    window of at most ``window_max`` pixels a side that follows the camera
    (default: :func:`default_window_max`).
    ``scale`` and ``translate`` are level 0's (world units per pixel, and
    where pixel 0 lies), as for any napari layer; ``axis_labels`` and
    ``units`` go to both layers. Starts the viewer's session (pen, keys,
    autosave) and the count of the labels already there (a worker thread with
    a progress bar when the viewer has a Qt window).

    Returns the editor layer; :func:`large_segmentation_of` gives the
    :class:`LargeSegmentation` that links the two.
    """
    from napari_segtool._napari.session import session_for

    viewer = unwrap(viewer)
    session_for(viewer)
    window_max = default_window_max() if window_max is None else int(window_max)
    ndim = len(labels.shape)
    scale = tuple(float(s) for s in scale) if scale is not None else (1.0,) * ndim
    translate = tuple(float(t) for t in translate) if translate is not None else (0.0,) * ndim
    extra: dict[str, Any] = {}
    if axis_labels is not None:
        extra["axis_labels"] = tuple(axis_labels)
    if units is not None:
        extra["units"] = tuple(units)
    colormap_source = segmentation_layer_kwargs(document, name)
    overview = Labels(
        list(labels.levels),
        multiscale=True,
        name=name + OVERVIEW_SUFFIX,
        metadata={OVERVIEW_KEY: name},
        colormap=colormap_source["colormap"],
        scale=scale,
        translate=translate,
        opacity=opacity,
        **extra,
    )
    first = _first_window(labels, window_max)
    editor = Labels(
        # empty until loaded below: the binding made on insertion counts nothing
        np.zeros(_box_shape(first), dtype=np.dtype(labels.dtype)),
        **segmentation_layer_kwargs(
            document,
            name,
            scale=scale,
            translate=_window_translate(translate, scale, first),
            opacity=opacity,
            **extra,
        ),
    )
    viewer.layers.append(overview)
    viewer.layers.append(editor)  # above the overview; the session binds it now
    segmentation = LargeSegmentation(
        viewer, labels, editor, overview, translate=translate, window_max=window_max, window=first
    )
    segmentation.move_window(first, flush=False)
    segmentation.follow()
    segmentation.start_counting()
    return editor


def default_window_max() -> int:
    """``$NAPARI_SEGTOOL_WINDOW_MAX`` when it is a whole number of at least 256, else
    :data:`WINDOW_MAX`."""
    import os

    raw = os.environ.get(WINDOW_MAX_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value >= 256:
            return value
        logger.warning(
            "%s=%r is not a side of at least 256 pixels; using %s", WINDOW_MAX_ENV, raw, WINDOW_MAX
        )
    return WINDOW_MAX


def large_segmentation_of(layer) -> LargeSegmentation | None:
    """The large segmentation whose editor (or overview) ``layer`` is; ``None`` for others."""
    layer = unwrap(layer)
    found = _segmentations.get(layer)
    if found is not None:
        return found
    for segmentation in list(_segmentations.values()):
        if segmentation.overview is layer:
            return segmentation
    return None


def is_windowed(layer) -> bool:
    """``layer`` shows a window of a larger segmentation (its ``data`` is not all of it)."""
    return unwrap(layer) in _segmentations


def full_labels(layer):
    """The layer's whole label array: for writers and autosave.

    For a windowed layer, the ``ChunkedLabels`` with every edit of the window
    written into it (a ``ValueError`` while its first count runs: the strokes
    made meanwhile are not in it yet); for any other layer, ``layer.data``.
    """
    layer = unwrap(layer)
    segmentation = _segmentations.get(layer)
    if segmentation is None:
        return layer.data
    if segmentation.counting:  # its strokes wait in the window until the count ends
        raise ValueError(
            f"{layer.name!r}: its labels are still being counted (see the progress bar); "
            "save again when the count is done"
        )
    segmentation.flush()
    return segmentation.labels


def window_of(layer) -> Box | None:
    """The level-0 box ``layer.data`` shows of its segmentation (``None``: all of it)."""
    segmentation = _segmentations.get(unwrap(layer))
    return segmentation.window if segmentation is not None else None


def full_shape(layer) -> tuple[int, ...]:
    """The shape of the layer's whole segmentation (``layer.data.shape`` unless windowed)."""
    segmentation = _segmentations.get(unwrap(layer))
    source = segmentation.labels if segmentation is not None else layer.data
    return tuple(int(n) for n in source.shape)


def windowed(array, layer):
    """``array`` (an image over the layer's whole segmentation) as seen through the
    layer's window: indices of the window's pixels; ``array`` itself when not windowed."""
    window = window_of(layer)
    return array if window is None else WindowView(array, window)


class WindowView:
    """An array seen through a window: index ``i`` of the view is ``window.start + i``.

    Axes past the window's (an RGB axis) are passed through. Reads only what a
    key asks for, as numpy arrays; :attr:`identity` names the array and the
    window (the assist tools cache results under it).
    """

    def __init__(self, array, window: Box):
        self.array = array
        self.window = tuple(window)
        inner = tuple(array.shape[len(self.window) :])
        self.shape = (*_box_shape(self.window), *inner)
        self.dtype = array.dtype
        self.ndim = len(self.shape)
        self.identity = (id(array), tuple((w.start, w.stop) for w in self.window))

    def __getitem__(self, key) -> np.ndarray:
        if key is Ellipsis:
            key = ()
        elif not isinstance(key, tuple):
            key = (key,)
        parts = []
        for axis, part in enumerate(key):
            if axis >= len(self.window):
                parts.append(part)
                continue
            outer = self.window[axis]
            size = outer.stop - outer.start
            if isinstance(part, slice):
                start, stop, step = part.indices(size)
                parts.append(slice(outer.start + start, outer.start + stop, step))
            else:
                index = int(part)
                parts.append(outer.start + (index + size if index < 0 else index))
        parts += list(self.window[len(key) :])
        return np.asarray(self.array[tuple(parts)])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        values = self[...]
        return values if dtype is None else values.astype(dtype)


# -- the pair of layers ----------------------------------------------------------------------
class LargeSegmentation:
    """One large segmentation shown as an overview and an editor that follows the camera."""

    def __init__(
        self,
        viewer,
        labels,
        editor: Labels,
        overview: Labels,
        *,
        translate: Sequence[float],
        window_max: int = WINDOW_MAX,
        window: Box | None = None,
    ):
        self.labels = labels
        self._viewer_ref = weakref.ref(unwrap(viewer))
        self._editor_ref = weakref.ref(editor)
        self._overview_ref = weakref.ref(overview)
        self.translate = tuple(float(t) for t in translate)
        self.scale = tuple(float(s) for s in editor.scale)
        self.chunks = tuple(int(c) for c in labels.chunks)
        self.window_max = int(window_max)
        self.window: Box = window if window is not None else _first_window(labels, window_max)
        #: boxes (level 0) edited since the window was loaded: written before it moves
        self._edited: list[Box] = []
        #: boxes not yet written into the labels (while counting)
        self._pending: list[Box] = []
        #: boxes written at a ``paint`` event that may have come before napari wrote the
        #: pixels (an edit outside a stroke: the polygon tool, a script's ``fill``)
        self._unsure: list[Box] = []
        #: where each id's pixels may be (level 0; from the count, grown by every stroke)
        self._boxes: dict[int, Box] = {}
        self._last_boxes: list[Box] = []
        #: the count of the whole segmentation is running (writes and moves wait)
        self.counting = False
        #: how many times the window moved, and boxes written through (tests, benchmarks)
        self.moves = 0
        self.writes = 0
        #: held while the labels are written or spilled (UI thread vs autosave thread)
        self.lock = threading.RLock()
        self._linking = False
        self.schedule: Scheduler = _call_now
        self.runner: Runner = _run_here
        self._qt = _qt_support(viewer)
        if self._qt is not None:
            self.schedule = self._qt.debouncer(DEBOUNCE_SECONDS)
            self.runner = self._qt.run_in_worker
        _segmentations[editor] = self
        self._connect(viewer, editor, overview)
        self.attach(binding_of(editor))
        self.sync_colours()

    @property
    def viewer(self):
        return self._viewer_ref()

    def attach(self, binding) -> None:
        """Follow the editor's binding: its strokes, its counts, its whole-instance edits."""
        binding.full_counts = self._count_now
        binding.pixels_changed.connect(self._on_pixels_changed)
        binding.counts_changed.connect(self._on_counts_changed)
        binding.whole_instance_check = self.check_whole

    def restore(self, recovered, binding) -> None:
        """Write ``recovered``'s chunks (a ``ChunkedLabels`` read from an autosaved overlay)
        over the labels, follow the new ``binding``, reload the window and count again."""
        with self.lock:
            for region, pixels in recovered.iter_chunks():
                self.labels.write(region, pixels)
        self.attach(binding)
        self._boxes = {}
        self.move_window(self.window, flush=False)
        overview = self.overview
        if overview is not None:
            overview.refresh()
        self.start_counting()

    @property
    def editor(self) -> Labels | None:
        return self._editor_ref()

    @property
    def overview(self) -> Labels | None:
        return self._overview_ref()

    # -- linking the two layers ----------------------------------------------------------
    def _connect(self, viewer, editor: Labels, overview: Labels) -> None:
        editor.events.colormap.connect(self.sync_colours)
        editor.events.labels_update.connect(self._on_labels_update)
        editor.events.name.connect(self._on_name)
        editor.events.opacity.connect(self._linker("opacity", editor, overview))
        overview.events.opacity.connect(self._linker("opacity", overview, editor))
        editor.events.visible.connect(self.update_overview)
        overview.events.visible.connect(self._linker("visible", overview, editor))
        overview.events.editable.connect(self._keep_read_only)
        viewer.layers.events.removed.connect(self._on_removed)
        cam = camera(viewer)
        cam.events.center.connect(self._on_view)
        cam.events.zoom.connect(self._on_view)
        viewer.dims.events.current_step.connect(self._on_view)

    def _linker(self, attribute: str, source: Labels, target: Labels):
        source_ref, target_ref = weakref.ref(source), weakref.ref(target)

        def link(_event=None) -> None:
            src, dst = source_ref(), target_ref()
            if src is None or dst is None or self._linking:
                return
            self._linking = True
            try:
                setattr(dst, attribute, getattr(src, attribute))
            finally:
                self._linking = False

        return link

    def update_overview(self, _event=None) -> None:
        """Show the overview with the editor, except while the window covers the whole view.

        Drawn under the editor, the overview would show through its translucent
        pixels, so a window would look darker than the rest; and where a stroke
        erased, the overview's old pixels would show until it refreshes.
        """
        editor, overview = self.editor, self.overview
        if editor is None or overview is None or self._linking:
            return
        wanted = bool(editor.visible) and not self.covers_view()
        if overview.visible != wanted:
            self._linking = True
            try:
                overview.visible = wanted
            finally:
                self._linking = False

    def covers_view(self) -> bool:
        """The window holds every pixel in view (2-D display)."""
        viewer = self.viewer
        if viewer is None or viewer.dims.ndisplay != 2:
            return False
        visible = self.visible_region()
        return visible is not None and _inside(visible, self.window)

    def sync_colours(self, _event=None) -> None:
        """Give the overview the editor's colormap (the binding's instance colours)."""
        editor, overview = self.editor, self.overview
        if editor is not None and overview is not None and overview.colormap is not editor.colormap:
            overview.colormap = editor.colormap

    def _on_name(self, _event=None) -> None:
        editor, overview = self.editor, self.overview
        if editor is not None and overview is not None:
            overview.name = editor.name + OVERVIEW_SUFFIX
            overview.metadata[OVERVIEW_KEY] = editor.name

    def _keep_read_only(self, _event=None) -> None:
        overview = self.overview
        if overview is not None and overview.editable:
            overview.editable = False

    def _on_removed(self, event) -> None:
        viewer = self.viewer
        removed = event.value
        editor, overview = self.editor, self.overview
        if viewer is None:
            return
        if removed is editor and overview is not None and overview in viewer.layers:
            self.flush()
            viewer.layers.remove(overview)
        elif removed is overview and editor is not None and editor in viewer.layers:
            viewer.layers.remove(editor)  # the layer guard flushes its autosave first
        if (editor is None or editor not in viewer.layers) and (
            overview is None or overview not in viewer.layers
        ):
            self.detach()

    def detach(self) -> None:
        """Stop following the viewer (both layers left it)."""
        viewer = self.viewer
        if viewer is None:
            return
        viewer.layers.events.removed.disconnect(self._on_removed)
        cam = camera(viewer)
        cam.events.center.disconnect(self._on_view)
        cam.events.zoom.disconnect(self._on_view)
        viewer.dims.events.current_step.disconnect(self._on_view)
        self._viewer_ref = _dead

    # -- writing the window's edits into the labels ---------------------------------------
    def _on_pixels_changed(self, boxes) -> None:
        """A stroke, undo or redo changed these window boxes (``None``: anywhere in it)."""
        offset = [s.start for s in self.window]
        shape = _box_shape(self.window)
        if boxes is None:
            boxes = [tuple(slice(0, n) for n in shape)]
        moved = [
            tuple(
                slice(o + max(b.start, 0), o + min(b.stop, n))
                for b, o, n in zip(box, offset, shape, strict=True)
            )
            for box in boxes
        ]
        moved = [box for box in moved if all(s.stop > s.start for s in box)]
        if not moved:
            return
        self._last_boxes = moved
        self._edited = _merge(self._edited, moved)
        self._pending = _merge(self._pending, moved)
        if not self.counting:
            self.write_pending()

    def _on_counts_changed(self, label_ids) -> None:
        """The ids a stroke changed may now lie anywhere in its boxes too."""
        if not self._last_boxes:
            return
        hull = _hull(self._last_boxes)
        for label_id in label_ids:
            old = self._boxes.get(label_id)
            self._boxes[label_id] = hull if old is None else _hull([old, hull])
        self._last_boxes = []

    def check_whole(self, label_ids: list[int], action: str) -> None:
        """Refuse to ``action`` instances that may have pixels outside the window (their
        other pixels would stay): :class:`DocumentError` naming them."""
        if self.counting:
            raise DocumentError(
                f"cannot {action} instance(s) {label_ids} yet: the labels of this large "
                "segmentation are still being counted"
            )
        outside = [
            i
            for i in label_ids
            if (box := self._boxes.get(int(i))) is not None and not _inside(box, self.window)
        ]
        if outside:
            raise DocumentError(
                f"cannot {action} instance(s) {outside} as a whole: they reach beyond the part of "
                "this large segmentation loaded for editing (the window round the view, at most "
                f"{self.window_max} pixels a side); centre the view on them and try again, or "
                "edit them with the brush"
            )

    def write_pending(self) -> int:
        """Write the boxes changed since the last write into the labels; refresh the overview."""
        if self.counting or not self._pending:
            return 0
        editor = self.editor
        if editor is None:
            return 0
        self._check_unsure()
        boxes, self._pending = self._pending, []
        self._write(editor, boxes)
        self._unsure = list(boxes)
        return len(boxes)

    def _on_labels_update(self, _event=None) -> None:
        """napari redrew painted pixels: those of an edit made outside a stroke are written now."""
        if self._unsure and not self.counting:
            self._check_unsure()

    def _check_unsure(self) -> None:
        """Write again the boxes of the last write-through whose pixels changed since."""
        editor = self.editor
        boxes, self._unsure = self._unsure, []
        if editor is None or not boxes:
            return
        offset = [s.start for s in self.window]
        stale = []
        for box in boxes:
            local = tuple(slice(b.start - o, b.stop - o) for b, o in zip(box, offset, strict=True))
            if not np.array_equal(np.asarray(editor.data[local]), self.labels[box]):
                stale.append(box)
        if stale:
            self._write(editor, stale)

    def flush(self) -> None:
        """Every edit of the window into the labels (before a move, a save, an autosave)."""
        editor = self.editor
        if editor is None or self.counting:
            return
        self._pending, self._unsure = [], []
        if self._edited:
            self._write(editor, self._edited)

    def _write(self, editor: Labels, boxes: list[Box]) -> None:
        offset = [s.start for s in self.window]
        window = editor.data
        with self.lock:
            for box in boxes:
                local = tuple(
                    slice(b.start - o, b.stop - o) for b, o in zip(box, offset, strict=True)
                )
                self.labels.write(box, np.asarray(window[local]))
                self.writes += 1
        self._refresh_overview(boxes)

    def _refresh_overview(self, boxes: list[Box]) -> None:
        overview = self.overview
        if overview is None or not overview.visible:
            return
        shown = self._overview_shown()
        if shown is None or any(_overlap(box, shown) for box in boxes):
            overview.refresh(thumbnail=False, extent=False)

    def _overview_shown(self) -> Box | None:
        """The level-0 box of the overview's visible tile (``None``: not known yet)."""
        overview = self.overview
        corners = np.asarray(overview.corner_pixels)
        if not corners.any():
            return None
        factor = np.asarray(overview.downsample_factors[overview.data_level], dtype=float)
        displayed = self._displayed_axes()
        box = []
        for axis, size in enumerate(self.labels.shape):
            if axis in displayed:
                start = int(np.floor(corners[0, axis] * factor[axis]))
                stop = int(np.ceil((corners[1, axis] + 1) * factor[axis]))
                box.append(slice(start, stop))
            else:  # the slider's slice: any box along this axis may be the shown one
                box.append(slice(0, int(size)))
        return tuple(box)

    # -- moving the window -----------------------------------------------------------------
    def _on_view(self, _event=None) -> None:
        self.update_overview()  # at once: a pan shows the overview beyond the window
        self.schedule(self.follow)

    def follow(self) -> bool:
        """Move the window over the view if the view left it and is small enough.

        True when the window moved. Nothing happens while counting, in 3-D
        display, or when the view is larger than ``window_max`` pixels a side
        (the overview shows it; the window stays put).
        """
        if self.counting:
            return False
        wanted = self.wanted_window()
        if wanted is None or wanted == self.window:
            return False
        editor = self.editor
        if editor is not None and editing_now(editor):  # a wheel zoom mid-stroke: after it
            if self._qt is not None:
                self.schedule(self.follow)
            return False
        self.move_window(wanted)
        return True

    def wanted_window(self) -> Box | None:
        """Where the window should be for the current view (``None``: stay)."""
        viewer = self.viewer
        if viewer is None or viewer.dims.ndisplay != 2:
            return None
        visible = self.visible_region()
        if visible is None:
            return None
        displayed = self._displayed_axes()
        if any(visible[a].stop - visible[a].start > self.window_max for a in displayed):
            return None  # zoomed out: the overview shows it
        if _inside(visible, self.window):
            return None
        return self._window_around(visible, displayed)

    def visible_region(self) -> Box | None:
        """The level-0 pixels in view: the canvas's box on the displayed axes, the
        slider's pixel on the others (clipped to the labels)."""
        viewer = self.viewer
        if viewer is None:
            return None
        ndim = len(self.labels.shape)
        world_ndim = viewer.dims.ndim
        cam = camera(viewer)
        height, width = (float(n) for n in viewer.canvas.size)
        zoom = float(cam.zoom)
        if zoom <= 0:
            return None
        half = np.array([height, width]) / (2 * zoom)
        centre = np.asarray(cam.center, dtype=float)[-2:]
        world_displayed = list(viewer.dims.displayed)[-2:]
        point = np.asarray(viewer.dims.point, dtype=float)
        lows = point.copy()
        highs = point.copy()
        lows[world_displayed] = centre - half
        highs[world_displayed] = centre + half
        box = []
        for axis in range(ndim):
            world_axis = axis + world_ndim - ndim
            scale, translate = self.scale[axis], self.translate[axis]
            a = (lows[world_axis] - translate) / scale
            b = (highs[world_axis] - translate) / scale
            a, b = min(a, b), max(a, b)
            start = math.floor(a + 0.5)
            stop = math.floor(b + 0.5) + 1
            size = int(self.labels.shape[axis])
            start, stop = max(0, min(start, size - 1)), max(1, min(stop, size))
            box.append(slice(start, max(stop, start + 1)))
        return tuple(box)

    def _displayed_axes(self) -> list[int]:
        viewer = self.viewer
        ndim = len(self.labels.shape)
        offset = viewer.dims.ndim - ndim
        return [a - offset for a in list(viewer.dims.displayed)[-2:] if a - offset >= 0]

    def _window_around(self, visible: Box, displayed: list[int]) -> Box:
        """A chunk-aligned window holding ``visible`` plus a margin, at most ``window_max``."""
        shape = self.labels.shape
        box = []
        for axis, part in enumerate(visible):
            chunk = self.chunks[axis]
            size = int(shape[axis])
            if axis not in displayed:  # the chunk of the slider's slice
                start = part.start // chunk * chunk
                box.append(slice(start, min(start + chunk, size)))
                continue
            limit = max(chunk, self.window_max // chunk * chunk)
            side = part.stop - part.start
            margin = int(side * MARGIN)
            start = max(0, part.start - margin) // chunk * chunk
            stop = min(size, -(-(part.stop + margin) // chunk) * chunk)
            if stop - start > limit:  # without the margin, centred on the view
                middle = (part.start + part.stop) // 2
                start = max(0, (middle - limit // 2) // chunk * chunk)
                stop = min(size, start + limit)
                start = max(0, min(start, part.start // chunk * chunk))
                stop = min(size, max(stop, start + 1))
            box.append(slice(start, stop))
        return tuple(box)

    def move_window(self, region: Box, *, flush: bool = True) -> None:
        """Load the level-0 pixels of ``region`` into the editor (after writing its edits).

        The binding sees no data replacement (:meth:`LayerBinding.data_moved`):
        counts stay, autosave sees no edit; napari's undo history is cleared.
        """
        editor = self.editor
        if editor is None:
            return
        region = tuple(
            slice(max(0, int(s.start)), min(int(n), int(s.stop)))
            for s, n in zip(region, self.labels.shape, strict=True)
        )
        if flush:
            self.flush()
        with self.lock:
            pixels = np.array(self.labels[region], dtype=np.dtype(self.labels.dtype), copy=True)
        binding = binding_of(editor)
        with binding.data_moved():
            self.window = region
            self._edited, self._pending, self._unsure = [], [], []
            editor.data = pixels
            editor.translate = _window_translate(self.translate, self.scale, region)
        self.moves += 1
        self.update_overview()

    # -- counting ----------------------------------------------------------------------------
    def start_counting(self) -> None:
        """Count the labels already there (a worker thread, a progress bar), then add
        the counts to the deltas the binding kept meanwhile."""
        from napari_segtool.model.zarr_label_store import ChunkedLabelStore

        editor = self.editor
        if editor is None:
            return
        self.counting = True
        store = ChunkedLabelStore(self.labels)

        def job(progress):
            return store.counts_and_boxes(progress=progress)

        self.runner(job, f"Counting {editor.name}", self._counted, self._count_failed)

    def _counted(self, result) -> None:
        """The count of the labels as they were at the start is in: the window's own
        pixels replace its part of it (every edit so far lies in the window)."""
        from napari_segtool.model.label_store import label_store

        counts = Counter(dict(result[0] if isinstance(result, tuple) else result))
        boxes = dict(result[1]) if isinstance(result, tuple) and len(result) > 1 else {}
        for label_id, box in boxes.items():
            old = self._boxes.get(int(label_id))
            box = tuple(box)
            self._boxes[int(label_id)] = box if old is None else _hull([old, box])
        everywhere = tuple(slice(0, int(n)) for n in self.labels.shape)
        for label_id, count in counts.items():
            if count > 0 and int(label_id) not in boxes:  # not said where: anywhere
                self._boxes[int(label_id)] = everywhere
        editor = self.editor
        if editor is None:
            self.counting = False
            return
        with self.lock:
            before = label_store(np.asarray(self.labels[self.window])).counts()
        counts.subtract(before)
        counts.update(label_store(editor.data).counts())
        self.counting = False
        binding_of(editor).set_counts(dict(counts))
        if self.write_pending():
            self._edited_meanwhile()
        self.follow()

    def _count_failed(self, error: BaseException) -> None:
        self.counting = False
        from napari.utils.notifications import show_error

        editor = self.editor
        name = editor.name if editor is not None else "the segmentation"
        show_error(f"Counting the labels of {name!r} failed: {error}; counts cover the edits only")
        if self.write_pending():
            self._edited_meanwhile()

    def _edited_meanwhile(self) -> None:
        """Strokes made while counting are in the labels only now: autosave them again."""
        from napari_segtool._napari.autosave import autosaver_of

        editor = self.editor
        saver = autosaver_of(editor) if editor is not None else None
        if saver is not None:
            saver.mark_dirty()

    def _count_now(self) -> dict[int, int]:
        """Every label's pixels now, in one pass (the binding's rare full recount)."""
        from napari_segtool.model.label_store import label_store

        self.flush()
        return label_store(self.labels).counts()


# -- helpers ----------------------------------------------------------------------------------
def _first_window(labels, window_max: int) -> Box:
    """The window before the camera is known: from the origin, one chunk on the
    leading axes, at most ``window_max`` (whole chunks) on the last two."""
    ndim = len(labels.shape)
    box = []
    for axis, (size, chunk) in enumerate(zip(labels.shape, labels.chunks, strict=True)):
        if axis < ndim - 2:
            box.append(slice(0, min(int(chunk), int(size))))
        else:
            limit = max(int(chunk), window_max // int(chunk) * int(chunk))
            box.append(slice(0, min(limit, int(size))))
    return tuple(box)


def _window_translate(translate, scale, region: Box) -> tuple[float, ...]:
    return tuple(t + s * part.start for t, s, part in zip(translate, scale, region, strict=True))


def _box_shape(box: Box) -> tuple[int, ...]:
    return tuple(s.stop - s.start for s in box)


def _inside(inner: Box, outer: Box) -> bool:
    return all(o.start <= i.start and i.stop <= o.stop for i, o in zip(inner, outer, strict=True))


def _hull(boxes: list[Box]) -> Box:
    return tuple(
        slice(min(b[axis].start for b in boxes), max(b[axis].stop for b in boxes))
        for axis in range(len(boxes[0]))
    )


def _overlap(a: Box, b: Box) -> bool:
    return all(x.start < y.stop and y.start < x.stop for x, y in zip(a, b, strict=True))


def _merge(boxes: list[Box], new: list[Box]) -> list[Box]:
    from napari_segtool._napari.autosave import merge_boxes

    return merge_boxes(boxes, new)


def _call_now(callback: Callable[[], None]) -> None:
    callback()


def _run_here(job, description: str, done, failed) -> None:
    """Without a Qt event loop: run the job now, with napari's progress bar."""
    from napari.utils import progress as napari_progress

    bar = napari_progress(total=0, desc=description)
    try:

        def report(finished: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.n = finished
            bar.refresh()

        result = job(report)
    except Exception as error:  # reported, the counts stay the edits' own
        bar.close()
        failed(error)
        return
    bar.close()
    done(result)


def _qt_support(viewer):
    """The Qt support module for a viewer with a Qt window (``None`` without one)."""
    if qt_window(viewer) is None:
        return None
    return importlib.import_module(QT_SUPPORT)


def _dead():
    return None
