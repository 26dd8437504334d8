"""Saving a chunked segmentation back into the label group it was read from: only what changed.

A large label group opens as a
:class:`~napari_segtool.model.chunked_labels.ChunkedLabels` whose ``base`` is
the group's own level arrays (see :mod:`.reader`). Saving it into that same
group rewrites only the chunks painted since the last save (the dirty chunks
of every pyramid level, as of a ``save_point`` taken when the save starts),
then the group's metadata (classes, answers, colours), and marks those chunk
versions saved (a chunk painted while the save runs stays unsaved). Every
other save of chunked labels (a new group, another store) streams the whole
pyramid into a new group instead (see :mod:`.writer`). A save that would have
to rewrite the group the labels read their unchanged pixels from (values its
type cannot hold, levels that do not match) is refused before anything is
written.

**What survives an interruption.** Chunks are written through zarr (its
codecs, its chunk keys) into :class:`AtomicLocalStore`, which stages every
file under a temporary name beside it, flushes it to disk and renames it over
the old one (a chunk that became all background is removed, also in one
step); the metadata is one such file (``zarr.json``, or ``.zattrs`` with its
``.zgroup`` in zarr v2), and the folders are flushed at the end. So at every
moment, also after a crash or a kill, each chunk file and the metadata file
is either its old or its new version, never a torn mix, and the group opens.
The order is: level 0's chunks, the coarser levels' chunks, the metadata
last. A save stopped part-way therefore leaves some chunks new and
some old (the image is a mix of before and after that stroke set, at chunk
granularity), coarser levels possibly behind level 0, and the classes and
answers of the previous save (an instance drawn since then may read back as
an unassigned label value). Nothing is marked saved then: the next save
writes every changed chunk again. This is weaker than the atomic group swap
used for in-memory labels (old group or new group, whole), which would cost a
rewrite of the entire group per save.
"""

from __future__ import annotations

import asyncio
import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.buffer import Buffer
from zarr.storage import LocalStore

from napari_segtool.formats.ome_zarr import labels as label_meta
from napari_segtool.formats.ome_zarr.store import OmeZarrError, multiscale_paths
from napari_segtool.formats.toolkit.atomic import atomic_write_bytes, fsync_dir
from napari_segtool.model.chunked_labels import ChunkedLabels

#: the name :func:`~napari_segtool.formats.toolkit.atomic.new_temporary` stages a file under
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")
#: zarr's metadata files (everything else in an array folder is a chunk)
METADATA_KEYS = frozenset(("zarr.json", ".zattrs", ".zarray", ".zgroup", ".zmetadata"))


class AtomicLocalStore(LocalStore):
    """zarr's :class:`~zarr.storage.LocalStore`, each file written atomically and durably.

    zarr's own store renames a temporary into place too, but does not flush
    it first; this one stages with :func:`~napari_segtool.formats.toolkit.atomic.atomic_write_bytes`
    (flushed, normal permissions) and records every key it writes or deletes,
    so that a save can say how many chunks it wrote.
    """

    def __init__(self, root: Path | str, *, read_only: bool = False) -> None:
        super().__init__(root, read_only=read_only)
        self.written: list[str] = []
        self.deleted: list[str] = []

    def _put_atomic(self, key: str, value: Buffer) -> None:
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"{self.root / key}: zarr gave a {type(value).__name__}, not a Buffer")
        atomic_write_bytes(self.root / key, bytes(value.as_buffer_like()))
        self.written.append(key)

    def set_sync(self, key: str, value: Buffer) -> None:
        self._ensure_open_sync()
        self._put_atomic(key, value)

    async def set(self, key: str, value: Buffer) -> None:
        if not self._is_open:
            await self._open()
        await asyncio.to_thread(self._put_atomic, key, value)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        if not (self.root / key).exists():
            await self.set(key, value)

    async def delete(self, key: str) -> None:
        await super().delete(key)
        self.deleted.append(key)

    def delete_sync(self, key: str) -> None:
        super().delete_sync(key)
        self.deleted.append(key)

    @property
    def chunk_files(self) -> int:
        """How many chunk files were replaced or removed (an all-background chunk is removed)."""
        return sum(
            1
            for key in (*self.written, *self.deleted)
            if key.rsplit("/", 1)[-1] not in METADATA_KEYS
        )

    def folders(self) -> set[Path]:
        return {(self.root / key).parent for key in (*self.written, *self.deleted)}


@dataclass(frozen=True)
class GroupWrite:
    """What a save did to one label group."""

    name: str
    #: ``True``: only the changed chunks were written into the group read from
    in_place: bool
    #: chunk files written (or removed, for chunks that became background), every level
    chunks_written: int


def array_folder(array: Any) -> Path | None:
    """The folder on disk of a zarr array (``None`` when it lives elsewhere)."""
    store = getattr(array, "store", None)
    root = getattr(store, "root", None)
    if root is None:
        return None
    path = getattr(array, "path", "") or ""
    return (Path(root) / path).resolve()


def base_of(labels: ChunkedLabels) -> list[Any]:
    """The read-only zarr arrays under ``labels`` (level 0 first), empty without a base."""
    return labels.base


def is_read_from(labels: Any, folder: Path, zarr_format: int) -> bool:
    """Whether ``labels`` are chunked labels over the levels of the label group ``folder``."""
    if not isinstance(labels, ChunkedLabels):
        return False
    base = base_of(labels)
    if not base:
        return False
    try:
        paths = multiscale_paths(folder, zarr_format)
    except ValueError:
        return False
    if len(paths) != len(base) or len(paths) != len(labels.levels):
        return False
    folder = folder.resolve()
    return all(
        array_folder(array) == folder / path and tuple(array.shape) == tuple(level.shape)
        for array, path, level in zip(base, paths, labels.levels, strict=True)
    )


def reads_inside(labels: Any, folder: Path) -> bool:
    """Whether some base array of ``labels`` lies in ``folder`` (rewriting it whole would
    pull the pixels from under them)."""
    if not isinstance(labels, ChunkedLabels):
        return False
    folder = folder.resolve()
    return any(
        (found := array_folder(array)) is not None and found.is_relative_to(folder)
        for array in base_of(labels)
    )


def save_in_place(
    folder: Path, labels: Any, document: Any, fmt: Any, zarr_format: int
) -> int | None:
    """Write the chunks of ``labels`` changed since its last save, then the metadata.

    Returns the number of chunk files written (replaced, or removed where a
    chunk became background). Raises :class:`OmeZarrError` before writing
    anything when a changed pixel holds a value the group's arrays cannot.
    """
    if not is_read_from(labels, folder, zarr_format):
        raise OmeZarrError(f"{folder}: the labels were not read from this group")
    paths = multiscale_paths(folder, zarr_format)
    # what this save writes; a chunk painted while it runs (another thread) stays dirty
    point = labels.save_point()
    dirty = [sorted(point.versions[k]) for k in range(len(paths))]
    stored = np.dtype(base_of(labels)[0].dtype)
    largest = _largest_unfit(labels, dirty[0], stored)
    if largest is not None:
        # rewriting the group the labels read from under them is never done
        raise OmeZarrError(
            f"{folder}: this label group stores {stored.name}, which cannot hold the label "
            f"value {largest} painted since; nothing was written. Save to a new OME-Zarr "
            "store instead (its labels get a type that holds every value)"
        )
    remove_stale_temporaries(folder)
    store = AtomicLocalStore(folder)
    for k, path in enumerate(paths):
        level = labels.levels[k]
        target = zarr.open_array(store=store, path=path, mode="r+", zarr_format=zarr_format)
        for index in dirty[k]:
            region = labels.chunk_region(index, k)
            target[region] = np.asarray(level[region]).astype(target.dtype, copy=False)
    group = zarr.open_group(store=store, mode="r+", zarr_format=zarr_format)
    group.attrs.update(updated_attributes(dict(group.attrs), document, fmt, zarr_format))
    for written in store.folders():
        fsync_dir(written)
    labels.mark_saved(point)
    labels.release_saved()  # the group holds them now: memory keeps only unsaved chunks
    return store.chunk_files


def updated_attributes(
    attributes: dict[str, Any], document: Any, fmt: Any, zarr_format: int
) -> dict[str, Any]:
    """The group's attributes with the document's ``image-label`` and namespaced keys
    (what a new group gets; the rest, such as ``multiscales``, kept)."""
    image_label = {**label_meta.image_label_metadata(document), "version": fmt.version}
    update: dict[str, Any] = {label_meta.NAMESPACE: label_meta.namespaced_attributes(document)}
    if zarr_format == 3:
        ome = (
            copy.deepcopy(attributes.get("ome")) if isinstance(attributes.get("ome"), dict) else {}
        )
        ome["image-label"] = image_label
        update["ome"] = ome
    else:
        update["image-label"] = image_label
    return update


def _largest_unfit(labels: Any, dirty: list, dtype: np.dtype) -> int | None:
    """A changed pixel value ``dtype`` cannot hold (coarser levels are samples of level 0)."""
    if np.can_cast(labels.dtype, dtype):
        return None
    info = np.iinfo(dtype)
    for index in dirty:
        pixels = labels.read_chunk(index, 0)
        if pixels.size and (int(pixels.max()) > info.max or int(pixels.min()) < info.min):
            return int(pixels.max()) if int(pixels.max()) > info.max else int(pixels.min())
    return None


def remove_stale_temporaries(folder: Path) -> None:
    """Temporaries of chunk files a killed save left behind (zarr never reads them)."""
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            if _TEMPORARY.match(name):
                Path(dirpath, name).unlink(missing_ok=True)
