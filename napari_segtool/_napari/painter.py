"""The one painter: every edit the plugin makes to a label layer goes through :func:`paint`.

A tool (``napari_segtool.tools``) proposes edits; the painter decides which
of their pixels change and writes them as **one undo step**, by the same
rules for every tool:

Locks
    A pixel of a protected instance (locked, of a locked class, or hidden:
    see :mod:`~napari_segtool._napari.lock_guard`) never changes, and an edit
    *with* a protected id is refused whole (all its pixels count as kept), as
    napari's brush is: a locked instance does not grow either.

Draw to back (``layer.preserve_labels``, napari's key B)
    napari's own rule, mirrored: painting a label changes only background
    pixels; erasing changes only pixels of the selected label. An edit that
    names the labels it replaces (:attr:`ProposedEdit.replaces`: deleting an
    instance, merging instances, filling under existing objects) already says
    which pixels it targets, so draw to back does not narrow it further:
    deleting an instance erases exactly its pixels and merging repaints
    exactly the merged instances' pixels, whatever the setting. Locks still
    hold for those.

Undo
    The pixels are written through napari's own masked paint path inside one
    ``block_history``: napari records the undo atoms, emits one ``paint``
    event (from which the binding keeps its pixel counts) and undo / redo
    restore exactly. An edit that changes no pixel makes no undo step.

:func:`paint` returns a :class:`PaintResult` saying how many pixels changed
and how many each rule kept, so the UI can tell the user why a stroke did
less than asked; what :func:`paint` kept is also added to the layer's
:attr:`LockGuard.tally <napari_segtool._napari.lock_guard.LockGuard.tally>`,
from which the session's feedback (:mod:`~napari_segtool._napari.feedback`)
tells the labeler. :func:`preview` computes the same without writing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from napari.layers import Labels

from napari_segtool._napari import compat
from napari_segtool._napari.lock_guard import guard_of
from napari_segtool.tools.edit import ProposedEdit


@dataclass(frozen=True)
class PaintResult:
    """What an edit did: pixels changed, and pixels kept by each rule."""

    #: pixels that took a new value
    changed: int = 0
    #: pixels the edit covered but locks or hidden instances protected
    kept_locked: int = 0
    #: pixels the edit covered but draw to back kept
    kept_behind: int = 0

    @property
    def refused(self) -> int:
        return self.kept_locked + self.kept_behind

    def __add__(self, other: PaintResult) -> PaintResult:
        return PaintResult(
            self.changed + other.changed,
            self.kept_locked + other.kept_locked,
            self.kept_behind + other.kept_behind,
        )


def paint(layer: Labels, edits: ProposedEdit | Iterable[ProposedEdit | None]) -> PaintResult:
    """Apply ``edits`` to ``layer`` in order, by the rules above, as one undo step."""
    edits = _as_list(edits)
    if not edits:
        return PaintResult()
    compat.require(compat.REGION_WRITES, type(layer))
    for edit in edits:
        _check_fits(layer, edit)
    total = PaintResult()
    with layer.block_history():
        # one edit at a time: a later one sees what an earlier one wrote
        for edit in edits:
            mask, result = _effective_mask(layer, edit, record=True)
            total += result
            if result.changed:
                compat.write_regions(layer, [(edit.region, mask, edit.label)])
    return total


def preview(layer: Labels, edits: ProposedEdit | Iterable[ProposedEdit | None]) -> PaintResult:
    """What :func:`paint` would do now, writing nothing (each edit against today's pixels)."""
    total = PaintResult()
    for edit in _as_list(edits):
        _check_fits(layer, edit)
        total += _effective_mask(layer, edit)[1]
    return total


def _as_list(edits) -> list[ProposedEdit]:
    if isinstance(edits, ProposedEdit):
        return [edits]
    return [edit for edit in edits if edit is not None]


def _check_fits(layer: Labels, edit: ProposedEdit) -> None:
    shape = layer.data.shape
    if edit.ndim != len(shape) or any(s.stop > n for s, n in zip(edit.region, shape, strict=True)):
        raise ValueError(f"edit region {edit.region} lies outside the layer's {shape} pixels")
    dtype = np.dtype(layer.data.dtype)
    if dtype.kind in "iu" and not np.iinfo(dtype).min <= edit.label <= np.iinfo(dtype).max:
        raise ValueError(f"label {edit.label} does not fit the layer's {dtype} pixels")


def _effective_mask(
    layer: Labels, edit: ProposedEdit, record: bool = False
) -> tuple[np.ndarray, PaintResult]:
    """The pixels of ``edit`` that change, and how many each rule kept.

    ``record``: add what the rules kept to the guard's tally (real edits, not previews).
    """
    values = np.asarray(layer.data[edit.region])
    mask = edit.mask & (values != edit.label)
    if edit.replaces is not None:
        mask &= np.isin(values, np.fromiter(edit.replaces, dtype=np.int64))
    kept_locked = kept_behind = 0
    guard = guard_of(layer)
    if guard is not None and guard.is_protected(edit.label) and mask.any():
        if record:
            guard.refuse(edit.label)
        refused = int(np.count_nonzero(mask))
        return np.zeros_like(mask), PaintResult(0, refused, 0)
    if guard is not None and guard.protected and mask.any():
        writable = guard.writable_mask(values)
        kept = mask & ~writable
        kept_locked = int(np.count_nonzero(kept))
        if record and kept_locked and guard.tally is not None:
            guard.tally.note_kept(edit.region, kept, values)
        mask &= writable
    if layer.preserve_labels and edit.replaces is None and mask.any():
        allowed = values == compat.preserve_labels_source(layer, edit.label)
        behind = mask & ~allowed
        kept_behind = int(np.count_nonzero(behind))
        mask &= allowed
        if record and kept_behind and guard is not None and guard.tally is not None:
            guard.tally.note_behind(edit.region, behind)
    return mask, PaintResult(int(np.count_nonzero(mask)), kept_locked, kept_behind)
