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
    one. Protection covers the *pixels* of those instances: a protected
    instance never loses a pixel and none of its pixels takes another value.
    Painting *with* a locked instance's id onto unprotected pixels is allowed
    (a new instance of a locked class must be drawable). A class change
    touches no pixel, so it is for the dock to refuse one on a protected
    instance (:meth:`LockGuard.is_protected`); likewise a delete or merge
    should be refused up front rather than leave the document without an
    instance whose pixels the guard kept.

``data_setitem``
    napari's public programmatic edit path (it does not go through the hook
    and ignores ``preserve_labels``). The plugin's own operations use it, so
    the guard wraps it too: indices holding protected pixels are dropped
    before napari writes. Code that must write anyway unlocks first.

Private API
    The hook is napari internals (napari 0.9.2; ``pyproject.toml`` pins
    ``napari<0.10``). At install time its signature is checked and, once per
    process, a tiny probe layer is painted through brush, fill and polygon
    with a protected label, then undone. If napari changed anything the
    guard is not installed: :func:`install_lock_guard` returns ``None`` and
    warns (:class:`LockGuardUnavailableWarning`) rather than risk the data.
    ``tests/test_guard.py`` fails loudly on such a change.

Speed
    The protected ids live in a boolean look-up table indexed by label value
    (rebuilt on document signals, never per stroke); a brush dab costs one
    ``np.take`` over its small bounding box. ``benchmarks/bench_lock_guard.py``
    measures the overhead.
"""

from __future__ import annotations

import inspect
import warnings
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from napari.layers import Labels

    from napari_segtool.model.document import Document

HOOK_NAME = "_apply_mask_to_data"
#: the hook's parameters as of napari 0.9.2
HOOK_PARAMETERS = ("self", "data", "mask", "new_label", "volume_slice")
SETITEM_NAME = "data_setitem"
SETITEM_PARAMETERS = ("self", "indices", "value", "refresh")
#: label values up to this use a look-up table; larger ids fall back to np.isin
_LUT_LIMIT = 1 << 22

# layer class -> None (hook works) or the reason it cannot be used
_hook_status: dict[type, str | None] = {}


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
        #: patched name -> the instance attribute it replaced (None: the class's)
        self._patches: dict[str, Any] = {}
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
        self._patch(layer, HOOK_NAME, self._make_guarded_apply)
        self._patch(layer, SETITEM_NAME, self._make_guarded_setitem)
        for signal in self._signals:
            signal.connect(self.refresh)
        self._installed = True
        self.refresh()

    def _patch(self, layer: Labels, name: str, make_wrapper) -> None:
        # An earlier instance-level wrapper (someone else's) is chained, not lost.
        previous = layer.__dict__.get(name)
        if previous is not None:
            call_original = previous
        else:
            function = getattr(type(layer), name)
            layer_ref = self._layer_ref  # weak: the layer holds this closure

            def call_original(*args, **kwargs):
                return function(layer_ref(), *args, **kwargs)

        patched = make_wrapper(call_original)
        patched.__wrapped__ = call_original  # type: ignore[attr-defined]
        patched._segtool_guard = self  # type: ignore[attr-defined]
        self._patches[name] = previous
        setattr(layer, name, patched)

    def uninstall(self) -> None:
        """Remove the guard: locks stop protecting pixels on this layer."""
        if not self._installed:
            return
        self._installed = False
        self._active = None  # a wrapper left in place (see below) now passes through
        for signal in self._signals:
            signal.disconnect(self.refresh, missing_ok=True)
        layer = self._layer_ref()
        if layer is None:
            return
        for name, previous in self._patches.items():
            current = layer.__dict__.get(name)
            if getattr(current, "_segtool_guard", None) is not self:
                continue  # wrapped again on top of us: our wrapper now passes through
            if previous is None:
                delattr(layer, name)
            else:
                setattr(layer, name, previous)
        self._patches.clear()

    # -- the wrappers -----------------------------------------------------------
    def _make_guarded_apply(self, call_original):
        # The brush calls this once per dab: one table look-up, two C counts.
        guard = self
        count = np.count_nonzero

        def guarded_apply(data, mask, new_label, volume_slice):
            protected = guard._active
            if protected is not None:
                lut = protected._lut
                blocked = lut.take(data, mode="clip") if lut is not None else protected.mask(data)
                if count(blocked):
                    mask = mask & ~blocked
                    if not count(mask):
                        return None  # napari's "nothing painted"
            return call_original(data, mask, new_label, volume_slice)

        return guarded_apply

    def _make_guarded_setitem(self, call_original):
        guard = self

        def guarded_setitem(indices, value, refresh=True):
            layer = guard._layer_ref()
            if guard._active is not None and layer is not None:
                arrays = np.broadcast_arrays(*(np.asarray(i) for i in indices))
                current = np.asarray(layer.data[tuple(arrays)])
                keep = guard.writable_mask(current)
                if not keep.all():
                    indices = tuple(a[keep] for a in arrays)
                    if np.ndim(value) > 0:
                        value = np.broadcast_to(np.asarray(value), current.shape)[keep]
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
            f"{_napari_version()} changed its private painting hook "
            f"Labels.{HOOK_NAME} ({reason}), so locked and hidden instances "
            "would not be protected. Use napari>=0.9.2,<0.10 or a newer "
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
    guard = getattr(layer.__dict__.get(HOOK_NAME), "_segtool_guard", None)
    return guard if guard is not None and guard.installed else None


# -- checking the private hook ------------------------------------------------------
def hook_problem(layer_class: type) -> str | None:
    """Why the hook cannot be guarded on ``layer_class`` (None: it can). Cached."""
    if layer_class not in _hook_status:
        _hook_status[layer_class] = _signature_problem(layer_class) or _probe_problem()
    return _hook_status[layer_class]


def _signature_problem(layer_class: type) -> str | None:
    for name, expected in ((HOOK_NAME, HOOK_PARAMETERS), (SETITEM_NAME, SETITEM_PARAMETERS)):
        function = getattr(layer_class, name, None)
        if not callable(function):
            return f"{name} is gone"
        try:
            parameters = tuple(inspect.signature(function).parameters)
        except (TypeError, ValueError):
            return f"the signature of {name} cannot be read"
        if parameters != expected:
            return f"{name}{parameters} is not {name}{expected}"
    return None


def _probe_problem() -> str | None:
    """Paint a 6x6 layer through every mask tool with label 1 protected."""
    from napari.layers import Labels

    class _Document:  # just what LockGuard.refresh reads
        instance_added = instance_removed = instance_changed = ontology_changed = None

        def locked_label_ids(self):
            return [1]

        def hidden_label_ids(self):
            return []

    start = np.zeros((6, 6), dtype=np.uint8)
    start[2:4, 2:4] = 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = Labels(start.copy())
            guard = LockGuard(layer, _Document())  # type: ignore[arg-type]
            guard._signals = ()
            guard._install()
            layer.brush_size = 5
            layer.paint((2, 2), 2)
            layer.fill((0, 5), 3)
            layer.paint_polygon([(0, 0), (0, 5), (5, 5), (5, 0)], 4)
            layer.data_setitem((np.array([2, 0]), np.array([2, 0])), 5)
            painted = np.asarray(layer.data).copy()
            for _ in range(4):
                layer.undo()
            undone = np.asarray(layer.data).copy()
            guard.uninstall()
    except Exception as error:  # any failure means the internals moved
        return f"probe failed: {type(error).__name__}: {error}"
    if not np.array_equal(painted[2:4, 2:4], start[2:4, 2:4]):
        return "protected pixels changed in the probe"
    if not (painted == 5).any() or not (painted == 4).any():
        return "the probe painted nothing"
    if not np.array_equal(undone, start):
        return "undo did not restore the probe exactly"
    return None


def _napari_version() -> str:
    try:
        import napari

        return napari.__version__
    except Exception:  # pragma: no cover - napari is a dependency
        return "(unknown)"
