"""The label store of chunked arrays: :class:`ChunkedLabels` and zarr arrays, read chunk by chunk.

Pure: numpy, scipy and pandas (zarr only through the array handed in).

Same contract and results as :class:`~.label_store.NumpyLabelStore` (the
same dicts, in the same order, the same boxes), with memory bounded by one
chunk plus the per-id tables: per chunk, the ids are numbered 1..k (as
:meth:`NumpyLabelStore._numbered` numbers a whole array), boxes and counts
are taken over that numbering and merged across chunks (box union, count sum)
with one hash table. Chunks never written (absent from a zarr store, all its
fill value 0) are skipped without being read. ``region`` and ``mask_of`` with
a box read only the chunks the box touches.

:meth:`ChunkedLabelStore.counts_and_boxes` gives both in one pass, calling
``progress(done, total)`` after each chunk, for a first fill run in a worker.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from napari_segtool.model.chunked_labels import ChunkedLabels, _overlapping

BoundingBox = tuple[slice, ...]
Progress = Callable[[int, int], Any]

#: merge the per-chunk id tables once they hold this many entries (bounds their memory)
_MERGE_AT = 1 << 20


def _is_zarr_array(array: Any) -> bool:
    zarr = sys.modules.get("zarr")  # not imported: then the array cannot be a zarr array
    return zarr is not None and isinstance(array, zarr.Array)


class ChunkedLabelStore:
    """A :class:`ChunkedLabels` or zarr label array, read a chunk at a time."""

    @staticmethod
    def accepts(array: Any) -> bool:
        return isinstance(array, ChunkedLabels) or _is_zarr_array(array)

    def __init__(self, array: Any):
        dtype = np.dtype(array.dtype)
        if dtype.kind == "b":
            dtype = np.dtype(np.uint8)
        elif not dtype.isnative:
            dtype = dtype.newbyteorder("=")
        if not np.issubdtype(dtype, np.integer):
            raise ValueError(f"expected integer labels, got {array.dtype}")
        self._array = array
        self._dtype = dtype
        self._shape = tuple(int(s) for s in array.shape)
        if isinstance(array, ChunkedLabels):
            self._chunks = tuple(array.chunks)
        else:
            self._chunks = tuple(max(1, int(c)) for c in array.chunks)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self._shape)

    # -- chunks ----------------------------------------------------------------------------

    def _grid(self) -> tuple[int, ...]:
        return tuple(-(-s // c) for s, c in zip(self._shape, self._chunks, strict=True))

    def _present(self) -> list[tuple[int, ...]]:
        """The chunks that may hold a non-zero pixel, in grid order."""
        if any(s == 0 for s in self._shape):
            return []
        if isinstance(self._array, ChunkedLabels):
            return self._array.stored_chunks()
        present = _overlapping(self._array, self._chunks)
        return list(np.ndindex(*self._grid())) if present is None else sorted(present)

    def _region(self, index: tuple[int, ...]) -> BoundingBox:
        return tuple(
            slice(i * c, min((i + 1) * c, s))
            for i, c, s in zip(index, self._chunks, self._shape, strict=True)
        )

    def _pixels(self, pixels: Any) -> np.ndarray:
        pixels = np.asarray(pixels)
        if pixels.dtype.kind == "b":
            return pixels.view(np.uint8)
        if pixels.dtype != self._dtype:
            return pixels.astype(self._dtype)
        return pixels

    def _read(self, index: tuple[int, ...]) -> np.ndarray:
        if isinstance(self._array, ChunkedLabels):
            return self._pixels(self._array.read_chunk(index))
        return self._pixels(self._array[self._region(index)])

    def _chunks_read(
        self, progress: Progress | None = None
    ) -> Iterator[tuple[BoundingBox, np.ndarray]]:
        present = self._present()
        for done, index in enumerate(present, start=1):
            yield self._region(index), self._read(index)
            if progress is not None:
                progress(done, len(present))

    # -- the store -------------------------------------------------------------------------

    def region(self, bbox: BoundingBox) -> np.ndarray:
        return self._pixels(self._array[tuple(bbox)])

    def mask_of(self, label_id: int, bbox: BoundingBox | None = None) -> np.ndarray:
        if bbox is not None:
            return self.region(bbox) == label_id
        # chunks not read are all 0
        mask = np.full(self._shape, int(label_id) == 0, dtype=bool)
        for region, pixels in self._chunks_read():
            mask[region] = pixels == label_id
        return mask

    def pixels_of(self, ids: Iterable[int]) -> tuple[np.ndarray, ...]:
        wanted = [int(i) for i in ids]
        found: list[list[np.ndarray]] = [[] for _ in self._shape]
        chunks: Iterable[tuple[BoundingBox, np.ndarray]] = self._chunks_read()
        if 0 in wanted:  # background is in the chunks never written too
            chunks = self._every_chunk()
        for region, pixels in chunks:
            hit = pixels == wanted[0] if len(wanted) == 1 else np.isin(pixels, wanted)
            for axis, where in enumerate(np.nonzero(hit)):
                found[axis].append(where + region[axis].start)
        if not found or not found[0]:
            return tuple(np.zeros(0, dtype=np.intp) for _ in self._shape)
        coords = [np.concatenate(axis).astype(np.intp, copy=False) for axis in found]
        order = np.lexsort(coords[::-1])  # numpy's nonzero order (C order over the whole array)
        return tuple(axis[order] for axis in coords)

    def _every_chunk(self) -> Iterator[tuple[BoundingBox, np.ndarray]]:
        present = set(self._present())
        for index in np.ndindex(*self._grid()):
            region = self._region(index)
            if index in present:
                yield region, self._read(index)
            else:
                yield region, np.zeros(tuple(r.stop - r.start for r in region), self._dtype)

    def ids(self) -> list[int]:
        return list(self.counts())

    def counts(self, ids: Iterable[int] | None = None) -> dict[int, int]:
        wanted = _wanted(ids)
        if wanted == set():
            return {}
        return _chosen(self.counts_and_boxes()[0], wanted)

    def bounding_boxes(self, ids: Iterable[int] | None = None) -> dict[int, BoundingBox]:
        wanted = _wanted(ids)
        if wanted == set():
            return {}
        return _chosen(self.counts_and_boxes()[1], wanted)

    def counts_and_boxes(
        self, progress: Progress | None = None
    ) -> tuple[dict[int, int], dict[int, BoundingBox]]:
        """``(counts, bounding_boxes)`` of every non-zero id, in one pass over the chunks."""
        table = _Table(self.ndim, self._dtype)
        for region, pixels in self._chunks_read(progress):
            table.add(*_chunk_stats(pixels, region))
        return table.result()


def _chunk_stats(
    pixels: np.ndarray, region: BoundingBox
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(ids, counts, starts, stops)`` of the non-zero ids of one chunk (boxes in array pixels)."""
    # label_store imports this module
    from napari_segtool.model.label_store import NumpyLabelStore, _blocks

    ndim = pixels.ndim
    if not pixels.any():
        return (
            np.zeros(0, dtype=pixels.dtype),
            np.zeros(0, dtype=np.int64),
            np.zeros((0, ndim), dtype=np.int64),
            np.zeros((0, ndim), dtype=np.int64),
        )
    values, compact = NumpyLabelStore(pixels)._numbered()
    tally = np.zeros(len(values) + 1, dtype=np.intp)
    for block in _blocks(compact.ravel()):  # a block at a time: no 8-byte copy of the chunk
        tally += np.bincount(block.astype(np.intp, copy=False), minlength=tally.size)
    windows = ndimage.find_objects(compact, max_label=len(values))
    present = np.flatnonzero((tally[1:] > 0) & (values != 0))
    origin = np.array([r.start for r in region], dtype=np.int64)
    starts = np.empty((present.size, ndim), dtype=np.int64)
    stops = np.empty((present.size, ndim), dtype=np.int64)
    for row, j in enumerate(present.tolist()):
        window = windows[j]
        starts[row] = [w.start for w in window]
        stops[row] = [w.stop for w in window]
    return (
        np.asarray(values)[present].astype(pixels.dtype, copy=False),
        tally[1:][present].astype(np.int64),
        starts + origin,
        stops + origin,
    )


class _Table:
    """Per-id counts and boxes merged across chunks (count sum, box union) by one hash table."""

    def __init__(self, ndim: int, dtype: np.dtype):
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._size = 0
        self._ndim = ndim
        self._dtype = dtype

    def add(self, ids: np.ndarray, counts: np.ndarray, starts: np.ndarray, stops: np.ndarray):
        if ids.size == 0:
            return
        self._parts.append((ids, counts, starts, stops))
        self._size += ids.size
        if self._size >= _MERGE_AT and len(self._parts) > 1:
            self._merge()

    def _merge(self) -> None:
        ids = np.concatenate([p[0] for p in self._parts])
        codes, uniques = pd.factorize(ids)
        k = len(uniques)
        counts = np.zeros(k, dtype=np.int64)
        np.add.at(counts, codes, np.concatenate([p[1] for p in self._parts]))
        starts = np.full((k, self._ndim), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(starts, codes, np.concatenate([p[2] for p in self._parts]))
        stops = np.zeros((k, self._ndim), dtype=np.int64)
        np.maximum.at(stops, codes, np.concatenate([p[3] for p in self._parts]))
        self._parts = [(np.asarray(uniques).astype(self._dtype, copy=False), counts, starts, stops)]
        self._size = k

    def result(self) -> tuple[dict[int, int], dict[int, BoundingBox]]:
        if not self._parts:
            return {}, {}
        self._merge()
        ids, counts, starts, stops = self._parts[0]
        order = np.argsort(ids, kind="stable")  # increasing id order, as NumpyLabelStore
        keys = ids[order].tolist()
        boxes = {
            key: tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
            for key, lo, hi in zip(keys, starts[order].tolist(), stops[order].tolist(), strict=True)
        }
        return dict(zip(keys, counts[order].tolist(), strict=True)), boxes


def _wanted(ids: Iterable[int] | None) -> set[int] | None:
    return None if ids is None else {int(i) for i in ids}


def _chosen(found: dict, wanted: set[int] | None) -> dict:
    return found if wanted is None else {i: r for i, r in found.items() if i in wanted}
