"""What the plugin reads from a label array, behind one small interface.

Pure: numpy, scipy and pandas only.

A label array holds one integer id per pixel (voxel), 0 for background; it
may have any number of dimensions (2-D images, 3-D stacks, 4-D or 5-D
time-lapse volumes). Everything the plugin wants to know about it goes through
a :class:`LabelStore`:

* ``shape``, ``dtype``, ``ndim``: as numpy names them;
* ``region(bbox)``: the pixels of a box (a tuple of slices, one per axis) as
  a numpy array, to be read only (it may be a view of the store);
* ``mask_of(label_id, bbox=None)``: where ``label_id`` is inside the box (the
  whole array without one), as a boolean array;
* ``pixels_of(ids)``: the indices of every pixel holding one of ``ids``, a
  tuple of index arrays into the whole array (numpy's ``nonzero`` form);
* ``ids()``: the non-zero ids present, sorted;
* ``counts(ids=None)``: ``id -> pixel count`` for every non-zero id present
  (or for those of ``ids`` that are present);
* ``bounding_boxes(ids=None)``: ``id -> tuple of slices`` (the smallest box
  holding the id, one slice per axis) likewise.

Negative ids are ids like any other here; callers that treat them as
background (polygon and mask export) leave them out. Results reflect the array
at the time of the call: a store keeps no cache, so painting into the array
never makes it stale.

**Cost.** ``counts``, ``ids`` and ``bounding_boxes`` cost O(pixels) in time
and memory *whatever the id values*: a 4 x 4 image holding id 60,000,000 (or
2**63 - 1) is as cheap as one holding id 1. ``scipy.ndimage.find_objects``
keeps a table entry per id from 1 to the largest, so it is used directly only
when that table is small next to the array (the largest id at most a quarter
of the pixel count, no negative id); otherwise the ids are first numbered
1..k with a hash table (:func:`pandas.factorize`, O(pixels), no sort, a block
of pixels at a time so that the table stays small), and ``find_objects`` and
:func:`numpy.bincount` run over that compact numbering (4 bytes a pixel).

**Adding a store.** A chunked array gets its own module with a class that
provides the members above and an ``accepts(array) -> bool`` static method
(true for the arrays it handles, checked without importing their library
eagerly), registered in :data:`STORES` before :class:`NumpyLabelStore`, the
fallback that takes any array (reading it whole with :func:`numpy.asarray`).
:class:`~.zarr_label_store.ChunkedLabelStore` (``model/zarr_label_store.py``)
is the one for :class:`~.chunked_labels.ChunkedLabels` and zarr arrays: it
numbers each chunk as :meth:`NumpyLabelStore._numbered` numbers an array and
merges the chunks' boxes and counts, so memory stays one chunk, and it skips
chunks never written. Code that asks :func:`label_store` for a store works
unchanged on such arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy import ndimage

from napari_segtool.model.zarr_label_store import ChunkedLabelStore

BoundingBox = tuple[slice, ...]

#: pixels hashed (or counted) at a time: bounds the temporary memory
_BLOCK = 1 << 18

#: ``find_objects`` straight on the ids only when its table (one entry per id
#: up to the largest) holds at most one entry per this many pixels
_PIXELS_PER_TABLE_ENTRY = 4


@runtime_checkable
class LabelStore(Protocol):
    """Read access to a label array; see the module docstring for the contract."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def ndim(self) -> int: ...

    def region(self, bbox: BoundingBox) -> np.ndarray: ...

    def mask_of(self, label_id: int, bbox: BoundingBox | None = None) -> np.ndarray: ...

    def pixels_of(self, ids: Iterable[int]) -> tuple[np.ndarray, ...]: ...

    def ids(self) -> list[int]: ...

    def counts(self, ids: Iterable[int] | None = None) -> dict[int, int]: ...

    def bounding_boxes(self, ids: Iterable[int] | None = None) -> dict[int, BoundingBox]: ...


class NumpyLabelStore:
    """A label array in memory (anything :func:`numpy.asarray` turns into integers)."""

    @staticmethod
    def accepts(array: Any) -> bool:
        return True  # the fallback: any array-like becomes a numpy array

    def __init__(self, array: Any):
        array = np.asarray(array)
        if array.dtype == bool:
            array = array.view(np.uint8)
        if not array.dtype.isnative:  # e.g. big-endian TIFF: hashing and scipy want native
            array = array.astype(array.dtype.newbyteorder("="))
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"expected integer labels, got {array.dtype}")
        self._array = array

    @property
    def shape(self) -> tuple[int, ...]:
        return self._array.shape

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    @property
    def ndim(self) -> int:
        return self._array.ndim

    def region(self, bbox: BoundingBox) -> np.ndarray:
        return self._array[tuple(bbox)]

    def mask_of(self, label_id: int, bbox: BoundingBox | None = None) -> np.ndarray:
        pixels = self._array if bbox is None else self.region(bbox)
        return pixels == label_id

    def pixels_of(self, ids: Iterable[int]) -> tuple[np.ndarray, ...]:
        wanted = [int(i) for i in ids]
        if len(wanted) == 1:
            return np.nonzero(self._array == wanted[0])
        return np.nonzero(np.isin(self._array, wanted))

    def ids(self) -> list[int]:
        return list(self.counts())

    def counts(self, ids: Iterable[int] | None = None) -> dict[int, int]:
        wanted = _wanted(ids)
        if wanted == set():
            return {}
        values, compact = self._numbered()
        tally = np.zeros(len(values) + 1, dtype=np.intp)
        for block in _blocks(compact.ravel()):
            tally += np.bincount(block.astype(np.intp, copy=False), minlength=tally.size)
        tally = tally[1:]
        present = np.flatnonzero((tally > 0) & (values != 0))
        return _by_id(values[present].tolist(), tally[present].tolist(), wanted)

    def bounding_boxes(self, ids: Iterable[int] | None = None) -> dict[int, BoundingBox]:
        wanted = _wanted(ids)
        if wanted == set():
            return {}
        values, compact = self._numbered()
        max_label = len(values)
        if compact is self._array and wanted is not None:
            max_label = min(max_label, max(wanted))  # the table need not go further
        if max_label <= 0:
            return {}
        windows = ndimage.find_objects(compact, max_label=max_label)
        present = [j for j, window in enumerate(windows) if window is not None]
        found = values[present].tolist()
        return _by_id(found, [windows[j] for j in present], wanted)

    def _numbered(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, compact)``: label ``j`` (1-based) of ``compact`` is id ``values[j - 1]``.

        ``compact`` is the array itself when its ids are small enough to number
        themselves; otherwise every distinct value (0 included, which is
        dropped later) gets a label 1..k (see :func:`_compact_numbering`).
        """
        array = self._array
        if array.size == 0:
            return np.zeros(0, dtype=array.dtype), array
        lowest, largest = int(array.min()), int(array.max())
        if lowest >= 0 and largest <= array.size // _PIXELS_PER_TABLE_ENTRY:
            return np.arange(1, largest + 1), array
        values, codes = _compact_numbering(array.ravel())
        return values, codes.reshape(array.shape)


def _blocks(flat: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, flat.size, _BLOCK):
        yield flat[start : start + _BLOCK]


def _compact_numbering(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(values, codes)``: ``flat[i] == values[codes[i] - 1]``, values in order of appearance.

    Hashing a block at a time keeps the hash table one block big; the blocks'
    own numberings are then merged into one (the way a chunked store would
    merge its chunks). The codes take 4 bytes a pixel.
    """
    codes = np.empty(flat.size, dtype=np.int32 if flat.size < 2**31 else np.int64)
    block_values = []
    for start, block in zip(range(0, flat.size, _BLOCK), _blocks(flat), strict=True):
        block_codes, uniques = pd.factorize(block)
        codes[start : start + block.size] = block_codes
        block_values.append(uniques)
    merged, values = pd.factorize(np.concatenate(block_values))
    merged = (merged + 1).astype(codes.dtype)
    offset = 0
    for block, uniques in zip(_blocks(codes), block_values, strict=True):
        block[...] = merged[offset : offset + uniques.size][block]
        offset += uniques.size
    return np.asarray(values), codes


def _wanted(ids: Iterable[int] | None) -> set[int] | None:
    return None if ids is None else {int(i) for i in ids}


def _by_id(label_ids: list[int], results: list, wanted: set[int] | None) -> dict:
    """``id -> result`` for the non-zero (and wanted) ids, in increasing id order."""
    pairs = zip(label_ids, results, strict=True)
    kept = [(i, r) for i, r in pairs if i != 0 and (wanted is None or i in wanted)]
    return dict(sorted(kept, key=itemgetter(0)))


def focus_point(
    store: LabelStore, label_id: int, displayed: Iterable[int]
) -> tuple[float, ...] | None:
    """Where to look at ``label_id``: on a slice that holds it, at its centre there.

    ``displayed`` are the axes on screen (the rest are stepped through with
    sliders). Along each other axis the point is the slice holding the id that
    is nearest the middle of its bounding box (the middle slice itself for a
    solid object; a hollow or gapped one still gets a slice where it is); along
    the displayed axes it is the mean of the id's pixels on that slice. Only
    the id's bounding box is read. None when the id is absent.
    """
    box = store.bounding_boxes([label_id]).get(int(label_id))
    if box is None:
        return None
    shown = sorted({int(a) for a in displayed if 0 <= int(a) < store.ndim})
    stepped = [a for a in range(store.ndim) if a not in shown]
    mask = store.mask_of(label_id, box)
    point = [0.0] * store.ndim
    if stepped:
        # which slices (combinations of the stepped axes) hold the id, inside the box
        present = np.argwhere(mask.any(axis=tuple(shown)))
        middle = np.array([(box[a].stop - box[a].start - 1) / 2 for a in stepped])
        nearest = present[np.argmin(((present - middle) ** 2).sum(axis=1))]
        index: list[Any] = [slice(None)] * store.ndim
        for axis, local in zip(stepped, nearest, strict=True):
            index[axis] = int(local)
            point[axis] = float(box[axis].start + local)
        mask = mask[tuple(index)]  # the displayed axes of that slice, in order
    if not shown:
        return tuple(point)
    for axis, coordinates in zip(shown, np.nonzero(mask), strict=True):
        point[axis] = float(box[axis].start + coordinates.mean())
    return tuple(point)


#: the stores, tried in order; the first whose ``accepts(array)`` is true serves it
STORES: tuple[type, ...] = (ChunkedLabelStore, NumpyLabelStore)


def label_store(array: Any) -> LabelStore:
    """The store for ``array`` (returned as is when it already is one)."""
    if isinstance(array, STORES):
        return array
    for store in STORES:
        if store.accepts(array):
            return store(array)
    raise TypeError(f"no label store reads a {type(array).__name__}")
