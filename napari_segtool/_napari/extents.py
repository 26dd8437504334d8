"""Where each instance lies: its first and last index along every axis, kept per edit.

The instance table shows an instance's slice range ("z 10-20") from these
extents. They follow the binding's signals, never a scan of the whole array
per stroke: ``pixels_changed`` gives the boxes napari's history atoms touched,
then ``counts_changed`` which ids changed; the pixels are read when an
extent is next asked for. An id that only gained pixels grows by its extent
inside those boxes; one that lost pixels (erased, painted over, undone) is
measured again inside its own old extent joined with the boxes, the only place
it can still be. Only a full recount of the binding (data replaced, history
unreadable) measures the whole array again, once, when next read.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable

from napari_segtool._napari.autosave import merge_boxes
from napari_segtool._napari.binding import LayerBinding
from napari_segtool.model.label_store import label_store

#: per axis, the first and last index (inclusive) holding the id
Extent = tuple[tuple[int, int], ...]

_trackers: weakref.WeakKeyDictionary[LayerBinding, InstanceExtents] = weakref.WeakKeyDictionary()


def extents_of(binding: LayerBinding) -> InstanceExtents:
    """The binding's extents, created (and connected) on first use.

    Call it before connecting to ``binding.counts_changed`` yourself: listeners
    that read extents in that signal then see them already updated.
    """
    tracker = _trackers.get(binding)
    if tracker is None:
        tracker = _trackers[binding] = InstanceExtents(binding)
    return tracker


class InstanceExtents:
    """Per-axis extent of every label id with pixels on a binding's layer."""

    def __init__(self, binding: LayerBinding):
        self._binding_ref = weakref.ref(binding)
        self._extents: dict[int, Extent] = {}
        #: the pixel counts last seen, and what changed since the last read
        self._seen: dict[int, int] = {}
        self._pending: set[int] = set()
        self._shrunk: set[int] = set()
        self._boxes: list[tuple[slice, ...]] = []
        self._stale = True
        binding.pixels_changed.connect(self._on_pixels_changed)
        binding.counts_changed.connect(self._on_counts_changed)
        binding.data_moved_to.connect(self._on_data_moved)

    def extent(self, label_id: int) -> Extent | None:
        """First and last index of ``label_id`` along each axis; None without pixels."""
        if self._stale:
            self._measure_all()
        elif self._pending:
            self._catch_up()
        return self._extents.get(int(label_id))

    def middle(self, label_id: int) -> tuple[int, ...] | None:
        """The middle index of the id's extent along each axis."""
        extent = self.extent(label_id)
        return None if extent is None else tuple((lo + hi) // 2 for lo, hi in extent)

    # -- following the binding ----------------------------------------------------------
    # napari sends ``paint`` for a single dab before it writes the pixels, so the
    # signals only note what changed; the pixels are read on the next :meth:`extent`.
    def _on_pixels_changed(self, boxes) -> None:
        if boxes is None:
            self._stale = True
        elif not self._stale:
            self._boxes = merge_boxes(self._boxes, boxes)

    def _on_data_moved(self) -> None:
        self._stale = True  # indices into other pixels now: measured again when read

    def _on_counts_changed(self, label_ids: Iterable[int]) -> None:
        binding = self._binding_ref()
        if self._stale or binding is None:
            return  # measured on the next read
        counts = binding.pixel_counts
        for label_id in label_ids:
            new, old = counts.get(label_id, 0), self._seen.get(label_id, 0)
            self._seen[label_id] = new
            if new <= old:  # it lost pixels somewhere: measured again, in its own box
                self._shrunk.add(label_id)
            self._pending.add(label_id)

    def _catch_up(self) -> None:
        binding = self._binding_ref()
        pending, boxes = self._pending, self._boxes
        shrunk = self._shrunk
        self._pending, self._boxes, self._shrunk = set(), [], set()
        if binding is None or binding.layer is None or not pending:
            return
        store = label_store(binding.layer.data)
        grown: list[int] = []
        for label_id in sorted(pending):
            if self._seen.get(label_id, 0) <= 0:
                self._extents.pop(label_id, None)
                self._seen.pop(label_id, None)
            elif label_id in shrunk or not boxes:
                self._measure_in(store, label_id, [*boxes, *self._box_of(label_id)])
            else:
                grown.append(label_id)
        if grown:
            self._grow(store, grown, boxes)

    def _grow(self, store, label_ids: list[int], boxes: list[tuple[slice, ...]]) -> None:
        wanted = set(label_ids)
        for box in boxes:
            for label_id, local in label_store(store.region(box)).bounding_boxes(wanted).items():
                self._join(label_id, _extent(_offset(local, box)))

    def _measure_in(self, store, label_id: int, boxes: list[tuple[slice, ...]]) -> None:
        """The id's extent inside the hull of ``boxes`` (where all its pixels are)."""
        if not boxes:  # pixels that came with no box (no path does): looked for everywhere
            box = store.bounding_boxes([label_id]).get(label_id)
            if box is None:
                self._extents.pop(label_id, None)
            else:
                self._extents[label_id] = _extent(box)
            return
        hull = tuple(
            slice(min(b[axis].start for b in boxes), max(b[axis].stop for b in boxes))
            for axis in range(len(boxes[0]))
        )
        local = label_store(store.region(hull)).bounding_boxes([label_id]).get(label_id)
        if local is None:
            self._extents.pop(label_id, None)
        else:
            self._extents[label_id] = _extent(_offset(local, hull))

    def _box_of(self, label_id: int) -> list[tuple[slice, ...]]:
        extent = self._extents.get(label_id)
        return [] if extent is None else [tuple(slice(lo, hi + 1) for lo, hi in extent)]

    def _join(self, label_id: int, extent: Extent) -> None:
        old = self._extents.get(label_id)
        if old is not None:
            extent = tuple(
                (min(a[0], b[0]), max(a[1], b[1])) for a, b in zip(old, extent, strict=True)
            )
        self._extents[label_id] = extent

    def _measure_all(self) -> None:
        binding = self._binding_ref()
        self._stale = False
        self._pending, self._boxes, self._shrunk = set(), [], set()
        if binding is None or binding.layer is None:
            self._extents, self._seen = {}, {}
            return
        store = label_store(binding.layer.data)
        self._extents = {i: _extent(box) for i, box in store.bounding_boxes().items()}
        self._seen = {i: n for i, n in binding.pixel_counts.items() if n > 0}


def _extent(box: tuple[slice, ...]) -> Extent:
    return tuple((int(part.start), int(part.stop) - 1) for part in box)


def _offset(local: tuple[slice, ...], box: tuple[slice, ...]) -> tuple[slice, ...]:
    return tuple(
        slice(inner.start + outer.start, inner.stop + outer.start)
        for inner, outer in zip(local, box, strict=True)
    )
