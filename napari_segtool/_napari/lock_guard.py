"""Locks: the pixels of locked instances are never changed until unlocked.

napari paints with the brush, the eraser, straight lines (our pen), fill,
polygon and right-click encircle by building a boolean mask over a bounding
box and handing it to the private hook ``Labels._apply_mask_to_data(data,
mask, new_label, volume_slice)``, which writes the pixels and records the
undo atom. :func:`install_lock_guard` wraps that hook *on the layer instance*
so the mask loses every protected pixel before napari's own code runs. napari
therefore records only the pixels it really changed, and undo / redo restore
them exactly (they replay history atoms and never pass through the hook).
Undo and redo are history, not edits: they replay exactly even across a lock
set in between (undoing a stroke made before a lock takes that stroke back).

What is protected
    An instance that is locked itself or whose class is locked, and, while it
    is hidden (itself or its class), any hidden instance: the labeler cannot
    see what a stroke would destroy, so a hidden object is as safe as a locked
    one. A protected instance does not change at all: it never loses a pixel,
    none of its pixels takes another value, and it gains none either, so a
    brush dab, fill, line or polygon *with* a protected id is refused whole
    (:attr:`LockGuard.tally` records it; the session tells the labeler). A
    new instance of a locked class is still drawable: its fresh id is no
    instance, hence not locked, until its first stroke ends. A class change
    touches no pixel, so it is for the dock to refuse one on a protected
    instance (:meth:`LockGuard.is_protected`); likewise a delete or merge
    should be refused up front rather than leave the document without an
    instance whose pixels the guard kept.

``data_setitem``
    napari's public programmatic edit path (it does not go through the hook
    and ignores ``preserve_labels``). The plugin's own edits go through the
    painter (:mod:`~napari_segtool._napari.painter`), which applies locks
    itself and writes through the hook; scripts may still call
    ``data_setitem``, so the guard wraps it too: indices holding protected
    pixels, or given a protected id, are dropped before napari writes. Code
    that must write anyway unlocks first.

Private API
    The hook is napari internals; :mod:`~napari_segtool._napari.compat` owns
    it and checks it once (signature, and a tiny probe layer painted through
    brush, fill, polygon and ``data_setitem`` with a protected label, then
    undone). If napari changed anything the guard is not installed:
    :func:`install_lock_guard` returns ``None`` and warns
    (:class:`LockGuardUnavailableWarning`) rather than risk the data.
    ``tests/_napari/test_guard.py`` fails loudly on such a change.

Speed
    The protected ids live in a boolean look-up table indexed by label value
    (rebuilt on document signals, never per stroke); a brush dab costs one
    ``np.take`` over its small bounding box. ``benchmarks/bench_lock_guard.py``
    measures the overhead.
"""

from __future__ import annotations

import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_segtool._napari import compat

if TYPE_CHECKING:
    from napari.layers import Labels

    from napari_segtool.model.document import Document

#: label values up to this use a look-up table; larger ids fall back to np.isin
_LUT_LIMIT = 1 << 22


class LockGuardUnavailableWarning(RuntimeWarning):
    """napari's painting internals changed: locks are off on this layer."""


class ProtectedLabels:
    """A fast membership test for a set of label ids over whole arrays."""

    def __init__(self, label_ids: Iterable[int] = ()):
        self.ids = frozenset(int(i) for i in label_ids if int(i) > 0)
        self._lut: np.ndarray | None = None
        self._sorted: np.ndarray | None = None
        if not self.ids:
            return
        largest = max(self.ids)
        if largest < _LUT_LIMIT:
            # one spare False slot: np.take(mode="clip") maps every value past
            # the table (and negatives, to slot 0 = background) to "not protected"
            self._lut = np.zeros(largest + 2, dtype=bool)
            self._lut[list(self.ids)] = True
        else:
            self._sorted = np.array(sorted(self.ids), dtype=np.uint64)

    def __bool__(self) -> bool:
        return bool(self.ids)

    def __contains__(self, label_id: object) -> bool:
        return label_id in self.ids

    def mask(self, values: np.ndarray) -> np.ndarray:
        """Boolean array, True where ``values`` holds a protected label."""
        values = np.asarray(values)
        if self._lut is not None:
            return np.take(self._lut, values, mode="clip")
        if self._sorted is not None:
            return np.isin(values, self._sorted.astype(values.dtype, copy=False))
        return np.zeros(values.shape, dtype=bool)


@dataclass
class StrokeTally:
    """What the rules kept from the edits since the last report (see ``_napari/feedback.py``).

    A brush dab only appends its region and masks (the hot path); the counts
    are worked out when asked, by pixel position, so the overlapping dabs of
    one stroke count each pixel once.
    """

    #: edits that changed pixels (zero or not is what counts)
    changed: int = 0
    #: protected label ids an edit tried to paint with (refused whole)
    refused: set[int] = field(default_factory=set)
    #: (region, kept mask, values of the region): protected pixels kept
    _kept: list[tuple] = field(default_factory=list)
    #: (region, kept mask): labelled pixels draw to back kept
    _behind: list[tuple] = field(default_factory=list)
    #: the shape of the layer's data (for positions)
    shape: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self._kept or self._behind or self.refused)

    def note_kept(self, region, kept: np.ndarray, values: np.ndarray) -> None:
        """Protected pixels an edit was kept off: ``kept`` within ``region``, holding ``values``."""
        self._kept.append((region, kept, values))

    def note_behind(self, region, kept: np.ndarray) -> None:
        """Labelled pixels (``kept`` within ``region``) draw to back kept."""
        self._behind.append((region, kept))

    @property
    def kept(self) -> Counter:
        """Protected label id -> how many of its pixels were kept."""
        if not self._kept:
            return Counter()
        positions = [_flat_positions(r, m, self.shape) for r, m, _ in self._kept]
        labels = [np.asarray(v)[m].astype(np.int64, copy=False) for _, m, v in self._kept]
        _, first = np.unique(np.concatenate(positions), return_index=True)
        ids, counts = np.unique(np.concatenate(labels)[first], return_counts=True)
        return Counter(dict(zip(ids.tolist(), counts.tolist(), strict=True)))

    @property
    def kept_behind(self) -> int:
        """How many labelled pixels draw to back kept."""
        if not self._behind:
            return 0
        positions = [_flat_positions(r, m, self.shape) for r, m in self._behind]
        return int(np.unique(np.concatenate(positions)).size)


def _flat_positions(region, mask: np.ndarray, shape) -> np.ndarray:
    """Flat indices into an array of ``shape`` of the True pixels of ``mask`` at ``region``."""
    mask = np.asarray(mask)
    local = np.nonzero(mask)
    starts = [(s.start or 0) for s in region][-mask.ndim :]
    full = tuple(index + start for index, start in zip(local, starts, strict=True))
    # clip: a region recorded before the data was replaced by a smaller array
    return np.ravel_multi_index(full, tuple(shape)[-mask.ndim :], mode="clip")


class LockGuard:
    """Keeps a layer's protected pixels unchanged; made by :func:`install_lock_guard`."""

    def __init__(self, layer: Labels, document: Document, *, protect_hidden: bool = True):
        self._layer_ref = weakref.ref(layer)
        self.document = document
        self.protect_hidden = protect_hidden
        self.protected = ProtectedLabels()
        #: what the hot path reads: the protected labels, or None (nothing to guard)
        self._active: ProtectedLabels | None = None
        self._installed = False
        #: what compat.unwrap_paint_paths needs to give napari its paths back
        self._patches: dict[str, Any] = {}
        #: what locks and draw to back kept since the last report (None: nobody reports it)
        self.tally: StrokeTally | None = None
        #: called with the label id when an edit with a protected id is first refused
        self.on_refused: Callable[[int], None] | None = None
        self._signals = (
            document.instance_added,
            document.instance_removed,
            document.instance_changed,
            document.ontology_changed,
        )

    # -- queries the dock uses ------------------------------------------------
    @property
    def installed(self) -> bool:
        return self._installed

    @property
    def protected_ids(self) -> frozenset[int]:
        return self.protected.ids

    def is_protected(self, label_id: int) -> bool:
        return int(label_id) in self.protected.ids

    def start_tally(self) -> None:
        """Count what the rules keep from now on (the session's feedback reads it)."""
        if self.tally is None:
            self.tally = self._new_tally()

    def take_tally(self) -> StrokeTally:
        """What was kept since the last call, and start counting afresh (if counting)."""
        tally = self.tally
        if tally is None:
            return self._new_tally()
        self.tally = self._new_tally()
        return tally

    def _new_tally(self) -> StrokeTally:
        layer = self._layer_ref()
        return StrokeTally(shape=tuple(layer.data.shape) if layer is not None else ())

    def refuse(self, label_id: int) -> None:
        """Record an edit with protected ``label_id`` that was refused whole."""
        tally = self.tally
        first = tally is None or label_id not in tally.refused
        if tally is not None:
            tally.refused.add(int(label_id))
        if first and self.on_refused is not None:
            self.on_refused(int(label_id))

    def writable_mask(self, values: np.ndarray) -> np.ndarray:
        """True where a pixel holding ``values`` may be changed."""
        return ~self.protected.mask(values)

    def unlocked_indices(self, indices: tuple) -> tuple[np.ndarray, ...]:
        """``indices`` (a tuple of index arrays into the layer data) minus protected pixels."""
        layer = self._layer_ref()
        arrays = np.broadcast_arrays(*(np.asarray(i) for i in indices))
        if layer is None or not self.protected:
            return tuple(a.ravel() for a in arrays)
        keep = self.writable_mask(np.asarray(layer.data[tuple(arrays)]))
        return tuple(a[keep] for a in arrays)

    # -- lifecycle ------------------------------------------------------------
    def refresh(self, *_args: Any) -> None:
        """Rebuild the protected-id table from the document (on its signals)."""
        document = self.document
        ids = set(document.locked_label_ids())
        if self.protect_hidden:
            ids.update(document.hidden_label_ids())
        if ids != self.protected.ids:
            self.protected = ProtectedLabels(ids)
        self._active = self.protected if self._installed and self.protected else None

    def _install(self) -> None:
        layer = self._layer_ref()
        if layer is None or self._installed:
            return
        self._patches = compat.wrap_paint_paths(
            layer, self, self._make_guarded_apply, self._make_guarded_setitem
        )
        for signal in self._signals:
            signal.connect(self.refresh)
        self._installed = True
        self.refresh()

    def uninstall(self) -> None:
        """Remove the guard: locks stop protecting pixels on this layer."""
        if not self._installed:
            return
        self._installed = False
        self._active = None  # a wrapper left in place (see below) now passes through
        for signal in self._signals:
            signal.disconnect(self.refresh, missing_ok=True)
        layer = self._layer_ref()
        if layer is not None:
            # a wrapper someone put on top of ours stays; ours then passes through
            compat.unwrap_paint_paths(layer, self, self._patches)
        self._patches = {}

    # -- the wrappers -----------------------------------------------------------
    def _make_guarded_apply(self, call_original):
        # The brush calls this once per dab: one table look-up, two C counts
        # (and one comparison while draw to back is on, to say what it kept).
        guard = self
        count = np.count_nonzero

        def guarded_apply(data, mask, new_label, volume_slice):
            protected = guard._active
            tally = guard.tally  # None while no one reports (no session)
            if protected is not None:
                if new_label in protected.ids:
                    guard.refuse(new_label)  # a protected instance gains no pixel
                    return None
                lut = protected._lut
                blocked = lut.take(data, mode="clip") if lut is not None else protected.mask(data)
                if count(blocked):
                    if tally is not None:
                        tally.note_kept(volume_slice, mask & blocked, data)
                    mask = mask & ~blocked
                    if not count(mask):
                        return None  # napari's "nothing painted"
            if tally is not None:
                layer = guard._layer_ref()
                if layer is not None and layer.preserve_labels:
                    source = compat.preserve_labels_source(layer, new_label)
                    tally.note_behind(volume_slice, mask & (data != source) & (data != new_label))
            painted = call_original(data, mask, new_label, volume_slice)
            if painted is not None and tally is not None:
                tally.changed += 1
            return painted

        return guarded_apply

    def _make_guarded_setitem(self, call_original):
        guard = self

        def guarded_setitem(indices, value, refresh=True):
            layer = guard._layer_ref()
            protected = guard._active
            if protected is not None and layer is not None:
                arrays = np.broadcast_arrays(*(np.asarray(i) for i in indices))
                current = np.asarray(layer.data[tuple(arrays)])
                keep = guard.writable_mask(current)
                values = np.broadcast_to(np.asarray(value), current.shape)
                # as for the mask tools: no pixel may take a protected id either
                keep &= ~protected.mask(values)
                if not keep.all():
                    for label_id in set(np.unique(values[~keep]).tolist()) & protected.ids:
                        guard.refuse(label_id)
                    indices = tuple(a[keep] for a in arrays)
                    if np.ndim(value) > 0:
                        value = values[keep]
            return call_original(indices, value, refresh)

        return guarded_setitem


def install_lock_guard(
    layer: Labels, document: Document, *, protect_hidden: bool = True
) -> LockGuard | None:
    """Protect ``document``'s locked (and hidden) instances on ``layer``.

    Returns the installed :class:`LockGuard`, or ``None`` after a
    :class:`LockGuardUnavailableWarning` when napari's painting hook changed
    (locks are then off for this layer; nothing else is affected).
    """
    existing = _installed_guard(layer)
    if existing is not None:
        existing.uninstall()
    reason = hook_problem(type(layer))
    if reason is not None:
        warnings.warn(
            f"napari-segtool: locks are OFF for layer {layer.name!r}. napari "
            f"{compat.napari_version()} changed its private painting hook "
            f"Labels.{compat.HOOK_NAME} ({reason}), so locked and hidden instances "
            f"would not be protected. Use napari{compat.TESTED_NAPARI_TEXT} or a newer "
            "napari-segtool.",
            LockGuardUnavailableWarning,
            stacklevel=2,
        )
        return None
    guard = LockGuard(layer, document, protect_hidden=protect_hidden)
    guard._install()
    return guard


def guard_of(layer: Labels) -> LockGuard | None:
    """The lock guard installed on ``layer``, if any."""
    return _installed_guard(layer)


def _installed_guard(layer: Labels) -> LockGuard | None:
    guard = compat.paint_paths_owner(layer)
    return guard if isinstance(guard, LockGuard) and guard.installed else None


def hook_problem(layer_class: type) -> str | None:
    """Why the hook cannot be guarded on ``layer_class`` (None: it can). Checked once."""
    return compat.problem(compat.PAINT_HOOK, layer_class)
