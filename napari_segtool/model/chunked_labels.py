"""A label array larger than memory: pixels kept chunk by chunk, with a nearest-neighbour pyramid.

Pure: numpy and zarr (zarr is imported only to read a zarr base or to spill).

:class:`ChunkedLabels` is a full-resolution label array (2-D to 5-D) split into
a regular grid of chunks. Nothing is allocated up front: a chunk exists only
once written (copy-on-write), on top of an optional read-only ``base`` (zarr
arrays, level 0 first, e.g. the label group of an OME-Zarr store); unwritten
chunks read as the base's pixels, or 0 without a base. Writes never touch the
base. Memory is (chunks written) x (chunk bytes), per level.

Indexing is numpy's basic indexing (ints, slices with any step, ``...``) and
returns numpy arrays; a read or write touches only the chunks its key covers.
``levels[k]`` is level ``k`` of the pyramid (level 0 is the array itself),
sliceable the same way; a write to level 0 recomputes only the level-k pixels
covering the written box, by the rule of
:func:`napari_segtool.formats.ome_zarr.writer.nearest_level` (along an axis of
level-0 size ``n`` and level size ``m``, level pixel ``j`` is level-0 pixel
``j * n // m``).

Dirty chunks (per level) are those written since :meth:`~ChunkedLabels.mark_saved`;
a save running on another thread takes a :meth:`~ChunkedLabels.save_point`
first, so that chunks written during the save stay dirty.

Chunk arrays are never modified once stored (a write stores a new array), and
the chunk tables are swapped under a lock, so a background thread may spill or
iterate chunks while the UI thread writes, and never sees a half-written chunk.

``spill_to(path)`` keeps an on-disk zarr copy of the written level-0 chunks
(writing only those changed since the last spill) for autosave and crash
recovery; :meth:`ChunkedLabels.recover` reopens it over the same base and
rebuilds the pyramid of the recovered chunks.
"""

from __future__ import annotations

import itertools
import math
import operator
import os
import secrets
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: ``np.asarray`` of a level larger than this many bytes is refused
ARRAY_LIMIT = 1 << 30
#: default chunk side along the last two axes (other axes: 1)
DEFAULT_CHUNK = 1024
#: the marker attribute of an overlay folder written by :meth:`ChunkedLabels.spill_to`
OVERLAY_KEY = "napari_segtool_chunked_labels_overlay"
OVERLAY_VERSION = 1

Index = tuple[int, ...]
Region = tuple[slice, ...]


class TooLargeForMemory(MemoryError):
    """Reading a whole level into one numpy array was refused (see ``ARRAY_LIMIT``)."""


class OverlayError(ValueError):
    """An overlay folder cannot be written or recovered (the message names it)."""


def _describe(shape: Sequence[int], dtype: np.dtype) -> str:
    return f"{' x '.join(map(str, shape))} {np.dtype(dtype).name}"


def default_level_shapes(shape: Sequence[int], chunks: Sequence[int]) -> list[tuple[int, ...]]:
    """Level 0, then the last two axes halved (rounding up) until they fit in one chunk."""
    shapes = [tuple(int(s) for s in shape)]
    while any(s > c for s, c in zip(shapes[-1][-2:], chunks[-2:], strict=True)):
        last = shapes[-1]
        shapes.append(last[:-2] + tuple((s + 1) // 2 for s in last[-2:]))
    return shapes


def source_indices(level_indices: np.ndarray, size: int, target: int) -> np.ndarray:
    """The level-0 indices (axis of ``size``) that level pixels (axis of ``target``) show."""
    return (level_indices.astype(np.int64) * size) // target


def _level_range(start: int, stop: int, size: int, target: int) -> tuple[int, int]:
    """The level pixels ``j`` whose source ``j * size // target`` lies in ``[start, stop)``."""
    return -((-start * target) // size), -((-stop * target) // size)


class ChunkedLabels:
    """A chunked, copy-on-write label array with a pyramid; see the module docstring."""

    def __init__(
        self,
        shape: Sequence[int],
        chunks: Sequence[int],
        dtype: Any,
        level_shapes: Sequence[Sequence[int]],
        base: Sequence[Any] | None,
    ):
        self._shapes = [tuple(int(s) for s in level) for level in level_shapes]
        self._dtype = np.dtype(dtype)
        self._chunks = tuple(int(c) for c in chunks)
        self._level_chunks = [
            tuple(max(1, min(c, s)) for c, s in zip(self._chunks, level, strict=True))
            for level in self._shapes
        ]
        self._base = list(base) if base is not None else []
        self._lock = threading.RLock()
        self._overlay: list[dict[Index, np.ndarray]] = [{} for _ in self._shapes]
        # chunk -> the count of writes when it was last written, since the last save
        self._dirty: list[dict[Index, int]] = [{} for _ in self._shapes]
        self._writes = 0
        self._spill_lock = threading.Lock()  # one spill at a time
        self._spill_dirty: set[Index] = set()
        self._spill_path: Path | None = None
        self._base_present: dict[int, set[Index] | None] = {}
        self.array_limit = ARRAY_LIMIT
        self.levels: list[ChunkedLabels | ChunkedLevel] = [self] + [
            ChunkedLevel(self, k) for k in range(1, len(self._shapes))
        ]

    # -- creation --------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        shape: Sequence[int],
        *,
        chunks: Sequence[int] | None = None,
        dtype: Any = None,
        level_shapes: Sequence[Sequence[int]] | None = None,
        base: Sequence[Any] | None = None,
    ) -> ChunkedLabels:
        """A new array of ``shape``; nothing is allocated until written.

        ``chunks`` defaults to the base's chunks, else ``DEFAULT_CHUNK`` along
        the last two axes and 1 along the others; ``dtype`` to the base's,
        else ``uint32``; ``level_shapes`` (level 0 first) to the base's level
        shapes, else :func:`default_level_shapes`.
        """
        shape = tuple(int(s) for s in shape)
        if not 2 <= len(shape) <= 5:
            raise ValueError(f"a label array has 2 to 5 dimensions, not {len(shape)} ({shape})")
        if any(s < 0 for s in shape):
            raise ValueError(f"negative size in shape {shape}")
        base = list(base) if base is not None else None
        if base is not None and not base:
            base = None
        if base is not None:
            if tuple(base[0].shape) != shape:
                raise ValueError(
                    f"the base's level 0 is {tuple(base[0].shape)}, not the shape {shape}"
                )
            if chunks is None:
                chunks = tuple(getattr(base[0], "chunks", None) or shape)
            if dtype is None:
                dtype = base[0].dtype
        if chunks is None:
            chunks = tuple(1 for _ in shape[:-2]) + tuple(
                max(1, min(DEFAULT_CHUNK, s)) for s in shape[-2:]
            )
        chunks = tuple(int(c) for c in chunks)
        if len(chunks) != len(shape) or any(c < 1 for c in chunks):
            raise ValueError(f"chunks {chunks} do not fit shape {shape}")
        dtype = np.dtype(np.uint32 if dtype is None else dtype)
        if dtype.kind == "b" or not np.issubdtype(dtype, np.integer):
            raise ValueError(f"labels must be integers, not {dtype}")
        if level_shapes is None:
            if base is not None and len(base) > 1:
                level_shapes = [tuple(level.shape) for level in base]
            else:
                level_shapes = default_level_shapes(shape, chunks)
        level_shapes = [tuple(int(s) for s in level) for level in level_shapes]
        if not level_shapes or level_shapes[0] != shape:
            raise ValueError(f"level_shapes must start with the shape {shape}, got {level_shapes}")
        for level in level_shapes[1:]:
            if len(level) != len(shape) or any(
                not (1 if s else 0) <= t <= s for s, t in zip(shape, level, strict=True)
            ):
                raise ValueError(f"pyramid level {level} does not fit the shape {shape}")
        if base is not None:
            for k, level in enumerate(base[: len(level_shapes)]):
                if tuple(level.shape) != level_shapes[k]:
                    raise ValueError(
                        f"the base's level {k} is {tuple(level.shape)}, not {level_shapes[k]}"
                    )
            base = base[: len(level_shapes)]
        return cls(shape, chunks, dtype, level_shapes, base)

    @classmethod
    def from_array(
        cls,
        pixels: Any,
        *,
        chunks: Sequence[int] | None = None,
        level_shapes: Sequence[Sequence[int]] | None = None,
    ) -> ChunkedLabels:
        """A ChunkedLabels holding ``pixels``, its chunks holding a non-zero pixel written.

        They count as changed: :meth:`mark_saved` if ``pixels`` are saved.
        """
        pixels = np.asarray(pixels)
        labels = cls.create(
            pixels.shape, chunks=chunks, dtype=pixels.dtype, level_shapes=level_shapes
        )
        for index in np.ndindex(*labels.grid_shape()):
            region = labels.chunk_region(index)
            if pixels[region].any():
                labels.write(region, pixels[region])
        return labels

    # -- the array protocol ----------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shapes[0]

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def ndim(self) -> int:
        return len(self._shapes[0])

    @property
    def size(self) -> int:
        return math.prod(self._shapes[0])

    @property
    def chunks(self) -> tuple[int, ...]:
        return self._level_chunks[0]

    @property
    def level_shapes(self) -> list[tuple[int, ...]]:
        return list(self._shapes)

    @property
    def nbytes(self) -> int:
        return self.size * self._dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (
            f"ChunkedLabels({_describe(self.shape, self.dtype)}, chunks {self.chunks}, "
            f"{len(self._shapes)} levels, {self.stored_chunk_count()} chunks written)"
        )

    def __getitem__(self, key: Any) -> np.ndarray:
        return self._read(0, key)

    def __setitem__(self, key: Any, values: Any) -> None:
        self.write(key, values)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._whole(0, dtype)

    def write(self, region: Any, values: Any) -> None:
        """Set the pixels of ``region`` (a basic index) to ``values`` (broadcast), and levels."""
        axes, drop, flips = _parse_key(region, self.shape)
        if any(len(a) == 0 for a in axes):
            return
        kept = tuple(len(a) for a, d in zip(axes, drop, strict=True) if not d)
        if not isinstance(values, np.ndarray):  # as numpy: -1 into uint32 is an error, not 2**32-1
            values = np.asarray(values, dtype=self._dtype)
        values = np.broadcast_to(values, kept)  # a view: a scalar is never expanded
        dropped = tuple(i for i, d in enumerate(drop) if d)
        if dropped:
            values = np.expand_dims(values, dropped)
        flipped = tuple(i for i, f in enumerate(flips) if f)
        if flipped:
            values = np.flip(values, axis=flipped)
        self._scatter(0, axes, values)
        box = tuple(slice(int(a[0]), int(a[-1]) + 1) for a in axes)
        self._update_pyramid(box)

    # -- chunks ----------------------------------------------------------------------------

    def grid_shape(self, level: int = 0) -> tuple[int, ...]:
        """Chunks per axis of ``level``."""
        return tuple(
            -(-s // c) for s, c in zip(self._shapes[level], self._level_chunks[level], strict=True)
        )

    def chunk_region(self, index: Index, level: int = 0) -> Region:
        """The pixels (slices) of chunk ``index`` of ``level``, clipped to the array."""
        return tuple(
            slice(i * c, min((i + 1) * c, s))
            for i, c, s in zip(index, self._level_chunks[level], self._shapes[level], strict=True)
        )

    def read_chunk(self, index: Index, level: int = 0) -> np.ndarray:
        """The pixels of one chunk (read-only when it is a written chunk)."""
        with self._lock:
            stored = self._overlay[level].get(tuple(index))
        if stored is not None:
            return stored
        return self._read(level, self.chunk_region(index, level))

    def stored_chunks(self, level: int = 0) -> list[Index]:
        """The chunks that may hold non-zero pixels, in grid order: written, or in the base."""
        with self._lock:
            found = set(self._overlay[level])
        if self._base:
            present = self._present_in_base(level)
            if present is None:
                return list(np.ndindex(*self.grid_shape(level)))
            found |= present
        return sorted(found)

    def stored_chunk_count(self, level: int = 0) -> int:
        with self._lock:
            written = set(self._overlay[level])
        if self._base:
            present = self._present_in_base(level)
            if present is None:
                return math.prod(self.grid_shape(level))
            written |= present
        return len(written)

    def written_chunks(self, level: int = 0) -> list[Index]:
        """The chunks written (held in memory), in grid order."""
        with self._lock:
            return sorted(self._overlay[level])

    def iter_chunks(
        self, indices: Iterable[Index] | None = None, level: int = 0
    ) -> Iterator[tuple[Region, np.ndarray]]:
        """``(region, pixels)`` of every stored chunk of level 0 (see :meth:`stored_chunks`).

        A written chunk is yielded even when all zero, so that a writer
        replacing the base's pixels sees the erasure; never-written chunks
        absent from the base (all 0) are not. ``indices`` (e.g.
        :meth:`dirty_chunks`) and ``level`` choose other chunks, in grid order.
        """
        chosen = self.stored_chunks(level) if indices is None else sorted(map(tuple, indices))
        for index in chosen:
            yield self.chunk_region(index, level), self.read_chunk(index, level)

    # -- dirty tracking --------------------------------------------------------------------

    def dirty_chunks(self, level: int = 0) -> set[Index]:
        """The chunks of ``level`` written since the last :meth:`mark_saved`."""
        with self._lock:
            return set(self._dirty[level])

    def save_point(self) -> SavePoint:
        """The changes so far, for :meth:`mark_saved` once a save that read them has finished."""
        with self._lock:
            return SavePoint([dict(dirty) for dirty in self._dirty])

    @property
    def changed_chunk_count(self) -> int:
        """Level-0 chunks written since the last :meth:`mark_saved`."""
        with self._lock:
            return len(self._dirty[0])

    def mark_saved(self, point: SavePoint | None = None) -> None:
        """Forget the dirty chunks of every level (the pixels were saved).

        With ``point`` (from :meth:`save_point`, taken before a save read the
        pixels, e.g. on another thread), only the chunks not written since.
        """
        with self._lock:
            if point is None:
                for dirty in self._dirty:
                    dirty.clear()
                return
            for dirty, saved in zip(self._dirty, point.versions, strict=True):
                for index, version in saved.items():
                    if dirty.get(index) == version:
                        del dirty[index]

    # -- spill and recovery ----------------------------------------------------------------

    def spill_to(self, path: str | os.PathLike) -> int:
        """Write the level-0 chunks changed since the last spill to the overlay folder ``path``.

        The first spill to a path writes every written chunk into a new folder
        (beside it, then renamed into place, replacing an older overlay there).
        Returns the number of chunks written. Safe to call from another thread
        than the one writing pixels.
        """
        path = Path(path)
        with self._spill_lock:
            return self._spill(path)

    def _spill(self, path: Path) -> int:
        import zarr

        settled = _is_overlay(path)  # else removed meanwhile: start it again
        with self._lock:
            fresh = self._spill_path != path or not settled
            names = list(self._overlay[0]) if fresh else list(self._spill_dirty)
            todo = {i: self._overlay[0][i] for i in names if i in self._overlay[0]}
            self._spill_dirty.clear()
        try:
            if fresh:
                self._spill_fresh(path, todo)
            else:
                array = zarr.open_array(
                    str(path / "0"), mode="r+", config={"write_empty_chunks": True}
                )
                for index in sorted(todo):
                    array[self.chunk_region(index)] = todo[index]
        except BaseException:
            with self._lock:  # the next spill writes them again
                self._spill_dirty.update(todo)
            raise
        self._spill_path = path
        return len(todo)

    def _spill_fresh(self, path: Path, todo: dict[Index, np.ndarray]) -> None:
        import zarr

        if path.exists() and not _is_overlay(path):
            raise OverlayError(f"{path}: exists and is not a label overlay; choose another folder")
        token = secrets.token_hex(4)
        writing = path.with_name(f".{path.name}.writing-{token}")
        try:
            group = zarr.open_group(str(writing), mode="w", zarr_format=3)
            array = group.create_array(
                "0",
                shape=self.shape,
                chunks=self.chunks,
                dtype=self.dtype,
                fill_value=0,
                config={"write_empty_chunks": True},  # an erased chunk must stay stored
            )
            for index in sorted(todo):
                array[self.chunk_region(index)] = todo[index]
            # the marker last: a folder holding it is complete
            group.attrs[OVERLAY_KEY] = {
                "version": OVERLAY_VERSION,
                "shape": list(self.shape),
                "chunks": list(self.chunks),
                "dtype": self.dtype.str,
                "level_shapes": [list(s) for s in self._shapes],
            }
        except BaseException:
            shutil.rmtree(writing, ignore_errors=True)
            raise
        previous = path.with_name(f".{path.name}.previous-{token}")
        if path.exists():
            path.rename(previous)
        writing.rename(path)
        shutil.rmtree(previous, ignore_errors=True)

    @classmethod
    def recover(cls, path: str | os.PathLike, base: Sequence[Any] | None = None) -> ChunkedLabels:
        """The array spilled to ``path`` (over ``base``, which must be the base it had).

        The recovered chunks count as changed (unsaved) and as already spilled.
        """
        import zarr

        path = Path(path)
        _finish_interrupted_spill(path)
        if not _is_overlay(path):
            raise OverlayError(f"{path}: not a label overlay folder (nothing to recover)")
        try:
            group = zarr.open_group(str(path), mode="r")
            meta = dict(group.attrs[OVERLAY_KEY])
            array = group["0"]
        except Exception as error:
            raise OverlayError(f"{path}: the label overlay cannot be read ({error})") from error
        if meta.get("version") != OVERLAY_VERSION:
            raise OverlayError(f"{path}: unknown label overlay version {meta.get('version')!r}")
        labels = cls.create(
            meta["shape"],
            chunks=meta["chunks"],
            dtype=np.dtype(meta["dtype"]),
            level_shapes=meta["level_shapes"],
            base=base,
        )
        present = stored_blocks(array)
        indices = sorted(present) if present is not None else np.ndindex(*labels.grid_shape(0))
        for index in indices:
            region = labels.chunk_region(tuple(index))
            try:
                pixels = np.asarray(array[region])
            except Exception as error:
                raise OverlayError(
                    f"{path}: chunk {tuple(index)} of the label overlay cannot be read ({error})"
                ) from error
            labels.write(region, pixels)
        with labels._lock:
            labels._spill_dirty.clear()
        labels._spill_path = path
        return labels

    # -- internals -------------------------------------------------------------------------

    def _whole(self, level: int, dtype: Any) -> np.ndarray:
        shape = self._shapes[level]
        nbytes = math.prod(shape) * self._dtype.itemsize
        if nbytes > self.array_limit:
            raise TooLargeForMemory(
                f"a {_describe(shape, self._dtype)} label array ({nbytes / 2**30:.1f} GiB) is too "
                f"large to read whole (limit {self.array_limit / 2**30:.1f} GiB): read a region "
                f"(labels[y0:y1, x0:x1]) or stream it with iter_chunks()"
            )
        pixels = self._read(level, Ellipsis)
        return pixels if dtype is None else pixels.astype(dtype, copy=False)

    def _read(self, level: int, key: Any) -> np.ndarray:
        axes, drop, flips = _parse_key(key, self._shapes[level])
        out = self._gather(level, axes)
        flipped = tuple(i for i, f in enumerate(flips) if f)
        if flipped:
            out = np.flip(out, axis=flipped)
        dropped = tuple(i for i, d in enumerate(drop) if d)
        if dropped:
            out = out.reshape(tuple(n for n, d in zip(out.shape, drop, strict=True) if not d))
        return out

    def _groups(self, level: int, axes: list[np.ndarray]) -> list[list[tuple[int, slice, Any]]]:
        """Per axis: ``(chunk number, output slice, index inside the chunk)`` per chunk touched."""
        found = []
        for indices, size in zip(axes, self._level_chunks[level], strict=True):
            numbers = indices // size
            cuts = [0, *(np.flatnonzero(np.diff(numbers)) + 1).tolist(), len(indices)]
            groups = []
            for a, b in itertools.pairwise(cuts):
                number = int(numbers[a])
                local = indices[a:b] - number * size
                first, last = int(local[0]), int(local[-1])
                inside: Any = local
                step = (last - first) // (b - a - 1) if b - a > 1 else 1
                if (
                    step
                    and last - first == step * (b - a - 1)
                    and (b - a < 3 or bool((np.diff(local) == step).all()))
                ):
                    inside = slice(first, last + 1, step)  # slicing beats fancy indexing
                groups.append((number, slice(a, b), inside))
            found.append(groups)
        return found

    def _gather(self, level: int, axes: list[np.ndarray]) -> np.ndarray:
        """The pixels at the grid of (sorted) ``axes`` indices of ``level``."""
        out = np.zeros(tuple(len(a) for a in axes), dtype=self._dtype)
        if out.size == 0:
            return out
        with self._lock:
            overlay = dict(self._overlay[level])
        for combination in itertools.product(*self._groups(level, axes)):
            index = tuple(c[0] for c in combination)
            where = tuple(c[1] for c in combination)
            inside = tuple(c[2] for c in combination)
            stored = overlay.get(index)
            if stored is not None:
                out[where] = _take(stored, inside)
                continue
            piece = self._unwritten(level, index, inside)
            if piece is not None:
                out[where] = piece
        return out

    def _unwritten(self, level: int, index: Index, inside: tuple) -> np.ndarray | None:
        """The pixels ``inside`` a never-written chunk (None: all 0)."""
        if not self._base:
            return None
        if level < len(self._base):
            present = self._present_in_base(level)
            if present is not None and index not in present:
                return None
            starts = [i * c for i, c in zip(index, self._level_chunks[level], strict=True)]
            box = tuple(
                slice(s + _first(p), s + _last(p) + 1) for s, p in zip(starts, inside, strict=True)
            )
            pixels = np.asarray(self._base[level][box])
            local = tuple(
                slice(None, None, p.step) if isinstance(p, slice) else p - p[0] for p in inside
            )
            return _take(pixels, local).astype(self._dtype, copy=False)
        # a level the base lacks: its pixels come from the base's level 0 (unwritten there too)
        starts = [i * c for i, c in zip(index, self._level_chunks[level], strict=True)]
        sources = [
            source_indices(_as_indices(p) + s, n, m)
            for p, s, n, m in zip(inside, starts, self._shapes[0], self._shapes[level], strict=True)
        ]
        return _points(self._base[0], sources).astype(self._dtype, copy=False)

    def _scatter(self, level: int, axes: list[np.ndarray], values: np.ndarray) -> None:
        """Store ``values`` (shaped like the grid of ``axes``) into the chunks of ``level``."""
        for combination in itertools.product(*self._groups(level, axes)):
            index = tuple(c[0] for c in combination)
            where = tuple(c[1] for c in combination)
            inside = tuple(c[2] for c in combination)
            region = self.chunk_region(index, level)
            chunk_shape = tuple(r.stop - r.start for r in region)
            whole = all(
                isinstance(p, slice) and p.start == 0 and p.stop == n and p.step in (None, 1)
                for p, n in zip(inside, chunk_shape, strict=True)
            )
            with self._lock:
                stored = self._overlay[level].get(index)
            if whole:
                chunk = np.empty(chunk_shape, dtype=self._dtype)
            elif stored is not None:
                chunk = stored.copy()
            else:
                full = tuple(slice(0, n) for n in chunk_shape)
                piece = self._unwritten(level, index, full)
                chunk = (
                    np.zeros(chunk_shape, dtype=self._dtype)
                    if piece is None
                    else np.array(piece, dtype=self._dtype)
                )
            _put(chunk, inside, values[where])
            chunk.flags.writeable = False  # readers hold it without a copy
            with self._lock:
                self._overlay[level][index] = chunk
                self._writes += 1
                self._dirty[level][index] = self._writes
                if level == 0:
                    self._spill_dirty.add(index)

    def _update_pyramid(self, box: Region) -> None:
        """Recompute the pixels of every coarser level that show a level-0 pixel of ``box``.

        One level chunk at a time, so that a large write never gathers a large level region.
        """
        shape = self._shapes[0]
        for level in range(1, len(self._shapes)):
            target = self._shapes[level]
            axes = []
            for b, n, m in zip(box, shape, target, strict=True):
                lo, hi = _level_range(b.start, b.stop, n, m)
                axes.append(np.arange(lo, hi, dtype=np.int64))
            if any(len(a) == 0 for a in axes):
                continue
            for combination in itertools.product(*self._groups(level, axes)):
                part = [a[c[1]] for a, c in zip(axes, combination, strict=True)]
                sources = [
                    source_indices(p, n, m) for p, n, m in zip(part, shape, target, strict=True)
                ]
                self._scatter(level, part, self._gather(0, sources))

    def _present_in_base(self, level: int) -> set[Index] | None:
        """The chunks of ``level`` overlapping a block stored in the base (None: all)."""
        if level in self._base_present:
            return self._base_present[level]
        if level >= len(self._base):
            found = None
        else:
            found = _overlapping(self._base[level], self._level_chunks[level])
        self._base_present[level] = found
        return found


class SavePoint:
    """What :meth:`ChunkedLabels.save_point` saw: per level, chunk -> write count."""

    def __init__(self, versions: list[dict[Index, int]]):
        self.versions = versions


class ChunkedLevel:
    """Level ``k`` (> 0) of a :class:`ChunkedLabels` pyramid: read-only, indexed like the array."""

    def __init__(self, labels: ChunkedLabels, level: int):
        self._labels = labels
        self.level = level

    @property
    def shape(self) -> tuple[int, ...]:
        return self._labels._shapes[self.level]

    @property
    def dtype(self) -> np.dtype:
        return self._labels.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def chunks(self) -> tuple[int, ...]:
        return self._labels._level_chunks[self.level]

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        return self._labels._read(self.level, key)

    def __setitem__(self, key: Any, values: Any) -> None:
        raise TypeError(
            f"pyramid level {self.level} is computed from level 0 and cannot be written; "
            "write level 0 instead"
        )

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._labels._whole(self.level, dtype)

    def dirty_chunks(self) -> set[Index]:
        return self._labels.dirty_chunks(self.level)

    def __repr__(self) -> str:
        return f"ChunkedLevel({self.level}: {_describe(self.shape, self.dtype)})"


# -- indexing helpers ----------------------------------------------------------------------


def _parse_key(key: Any, shape: tuple[int, ...]) -> tuple[list[np.ndarray], list[bool], list[bool]]:
    """Per axis: the (increasing) indices selected, whether it is dropped (an int), reversed."""
    if not isinstance(key, tuple):
        key = (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    explicit = sum(k is not Ellipsis for k in key)
    if explicit > len(shape):
        raise IndexError(
            f"too many indices: the array is {len(shape)}-dimensional, but {explicit} were indexed"
        )
    expanded: list[Any] = []
    for k in key:
        if k is Ellipsis:
            expanded += [slice(None)] * (len(shape) - explicit)
        else:
            expanded.append(k)
    expanded += [slice(None)] * (len(shape) - len(expanded))
    axes, drop, flips = [], [], []
    for axis, (k, n) in enumerate(zip(expanded, shape, strict=True)):
        if isinstance(k, slice):
            chosen = range(*k.indices(n))
            flip = chosen.step < 0
            if flip:
                chosen = chosen[::-1]
            axes.append(np.arange(chosen.start, chosen.stop, chosen.step, dtype=np.int64))
            drop.append(False)
            flips.append(flip)
            continue
        try:
            i = operator.index(k)
        except TypeError:
            raise IndexError(
                f"only basic indexing (ints, slices, '...') is supported, not {type(k).__name__}"
            ) from None
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
        i %= n
        axes.append(np.array([i], dtype=np.int64))
        drop.append(True)
        flips.append(False)
    return axes, drop, flips


def _as_indices(part: Any) -> np.ndarray:
    if isinstance(part, slice):
        return np.arange(part.start, part.stop, part.step or 1, dtype=np.int64)
    return part


def _first(part: Any) -> int:
    return part.start if isinstance(part, slice) else int(part[0])


def _last(part: Any) -> int:
    return part.stop - 1 if isinstance(part, slice) else int(part[-1])


def _take(pixels: np.ndarray, inside: tuple) -> np.ndarray:
    if all(isinstance(p, slice) for p in inside):
        return pixels[inside]
    return pixels[np.ix_(*(_as_indices(p) for p in inside))]


def _put(chunk: np.ndarray, inside: tuple, values: np.ndarray) -> None:
    if all(isinstance(p, slice) for p in inside):
        chunk[inside] = values
    else:
        chunk[np.ix_(*(_as_indices(p) for p in inside))] = values


def _points(array: Any, axes: list[np.ndarray]) -> np.ndarray:
    """``array`` at the grid of ``axes`` (orthogonal: zarr reads only the chunks touched)."""
    if hasattr(array, "oindex"):
        return np.asarray(array.oindex[tuple(axes)])
    return np.asarray(array)[np.ix_(*axes)]


# -- zarr storage helpers ------------------------------------------------------------------


def _is_overlay(path: Path) -> bool:
    import json

    try:
        meta = json.loads((path / "zarr.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and OVERLAY_KEY in (meta.get("attributes") or {})


def _finish_interrupted_spill(path: Path) -> None:
    """Put back the overlay of a first spill stopped between its two renames.

    The new folder (``.<name>.writing-…``) is complete once it holds the
    marker, and is newer than the old one (``.<name>.previous-…``).
    """
    if path.exists():
        return
    for prefix in (f".{path.name}.writing-", f".{path.name}.previous-"):
        for candidate in sorted(path.parent.glob(prefix + "*")):
            if _is_overlay(candidate):
                candidate.rename(path)
                for older in path.parent.glob(f".{path.name}.previous-*"):
                    shutil.rmtree(older, ignore_errors=True)
                return


def stored_blocks(array: Any) -> set[Index] | None:
    """The storage blocks (shards, else chunks) of a zarr array that exist, or None when unknown.

    None also when the array's fill value is not 0 (absent blocks are not
    zeros then), or it is not a zarr array: callers then read every block.
    The store is listed once; no block is read.
    """
    import sys

    zarr = sys.modules.get("zarr")
    if zarr is None or not isinstance(array, zarr.Array):
        return None
    try:
        fill = array.fill_value
        if fill is not None and np.any(np.asarray(fill) != 0):
            return None
        from zarr.core.sync import sync

        store_path = array.store_path
        prefix = store_path.path.strip("/")
        prefix = prefix + "/" if prefix else ""

        async def listing() -> list[str]:
            return [key async for key in store_path.store.list_prefix(prefix)]

        keys = sync(listing())
        metadata = array.metadata
        if getattr(metadata, "zarr_format", 3) == 2:
            separator, lead = metadata.dimension_separator, ""
        else:
            encoding = metadata.chunk_key_encoding
            separator = encoding.separator
            lead = "c" + separator if encoding.name == "default" else ""
        grid = _block_grid(array)
        found = set()
        for key in keys:
            relative = key[len(prefix) :]
            if not relative.startswith(lead):
                continue
            try:
                coords = tuple(int(part) for part in relative[len(lead) :].split(separator))
            except ValueError:
                continue  # metadata, not a block
            if len(coords) == len(grid) and all(
                0 <= c < g for c, g in zip(coords, grid, strict=True)
            ):
                found.add(coords)
        return found
    except Exception:
        return None  # unknown layout: read everything (slower, still right)


def block_shape(array: Any) -> tuple[int, ...]:
    """The shape of one storage block (shard, else chunk) of ``array``."""
    shards = getattr(array, "shards", None)
    return tuple(shards or getattr(array, "chunks", None) or array.shape)


def _block_grid(array: Any) -> tuple[int, ...]:
    return tuple(-(-s // max(1, b)) for s, b in zip(array.shape, block_shape(array), strict=True))


def _overlapping(array: Any, chunks: tuple[int, ...]) -> set[Index] | None:
    """The chunks of a grid of ``chunks`` over ``array`` that overlap one of its stored blocks."""
    blocks = stored_blocks(array)
    if blocks is None:
        return None
    size = block_shape(array)
    found: set[Index] = set()
    for block in blocks:
        ranges = [
            range(b * s // c, -(-min((b + 1) * s, n) // c))
            for b, s, c, n in zip(block, size, chunks, array.shape, strict=True)
        ]
        found.update(itertools.product(*ranges))
    return found
