"""Writing label groups into an OME-Zarr store, or a new store holding the image and labels.

Into an existing OME-Zarr image (the one the layer was read from, or any with
the labels' shape): only ``labels/<name>/`` is added or replaced, in the
store's own NGFF version. The new group is written beside the old one
(``labels/.<name>.writing-…``) and then swapped in by two renames; a save
stopped before the swap leaves the previous group as it was, and one stopped
between the renames is put back by the next read or write
(:func:`~.store.recover_interrupted_swaps`).

Anywhere else, a new store (NGFF 0.5 unless ``version="0.4"`` or the image
came from a 0.4 store) is written in a hidden folder beside the target and
renamed into place: the image as a pyramid (ome-zarr-py ``write_image``),
then its label groups.

**Chunked labels** (a segmentation larger than memory,
:class:`~napari_segtool.model.chunked_labels.ChunkedLabels` or any array a
chunked label store serves, such as a zarr array) are never made one numpy
array. Saved into the very label group they were read from, only the chunks
changed since the last save are rewritten, then the metadata
(:mod:`.in_place`). That save is *not* atomic as a whole: each chunk file
and the metadata file are replaced atomically (staged, flushed, renamed), so
the group always opens and every chunk is its old or its new version; the
metadata comes last, so a save stopped midway leaves some chunks new, some
old, coarser levels possibly behind, and the previous save's classes and
answers, until the next save writes every changed chunk again. Saved
anywhere else, the new group is streamed level by level, chunk by chunk (each
level a dask array over the labels' own level, one task at a time), into the
staging folder and swapped in as above (atomic). :attr:`WriteResult.details`
lists a :class:`~.in_place.GroupWrite` per group: in place or not, chunk
files written.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from ome_zarr.format import Format
from ome_zarr.scale import Methods
from ome_zarr.writer import add_metadata, get_metadata, write_image, write_multiscale

from napari_segtool.formats.ome_zarr import labels as label_meta
from napari_segtool.formats.ome_zarr.in_place import (
    METADATA_KEYS,
    GroupWrite,
    is_read_from,
    reads_inside,
    save_in_place,
)
from napari_segtool.formats.ome_zarr.store import (
    PREVIOUS_TAG,
    VERSIONS,
    WRITING_TAG,
    OmeZarrError,
    multiscale_paths,
    ngff_format,
    ome_attributes,
    recover_interrupted_swaps,
    zarr_format_of,
)
from napari_segtool.formats.result import ImageItem, LabelsItem, WriteResult
from napari_segtool.formats.toolkit.arrays import is_chunked
from napari_segtool.formats.toolkit.atomic import fsync_dir
from napari_segtool.model.chunked_labels import ChunkedLabels

#: spatial chunk side of a new store (its image and labels)
NEW_CHUNK = 1024
#: a new store's pyramid stops once its coarsest level fits in this many pixels a side
COARSEST_SIDE = 1024
SPATIAL_AXES = {2: "yx", 3: "zyx", 4: "tzyx"}


def write_items(
    path: Path,
    labels: Sequence[LabelsItem],
    images: Sequence[ImageItem] = (),
    *,
    version: str | None = None,
    **_options: Any,
) -> WriteResult:
    """Write ``labels`` into the OME-Zarr at ``path`` (see the module docstring)."""
    path = Path(path)
    if not labels:
        raise OmeZarrError(f"{path}: nothing to write (no label image)")
    zarr_format = zarr_format_of(path) if path.is_dir() else None
    # what each chunked item holds as this save starts (a stroke made meanwhile stays unsaved)
    points = [item.data.save_point() if _rebasable(item) else None for item in labels]
    if path.exists() and zarr_format is None:
        raise OmeZarrError(f"{path}: exists and is not an OME-Zarr store; choose another name")
    if zarr_format is None:
        groups = _write_new_store(
            path, labels, images, version or _version_of_source(labels, images)
        )
    else:
        if version is not None and version != VERSIONS[zarr_format]:
            raise OmeZarrError(
                f"{path}: the store is OME-NGFF {VERSIONS[zarr_format]}; labels are written "
                f"in its version, not {version}"
            )
        groups = _write_into_store(path, zarr_format, labels)
    names = [group_name(item) for item in labels]
    version_written = VERSIONS[zarr_format_of(path) or 3]
    for item, name, group, point in zip(labels, names, groups, points, strict=True):
        if point is not None and not group.in_place:
            _rebase(item.data, path / "labels" / name, zarr_format_of(path) or 3, point)
    sources = tuple(
        {
            label_meta.STORE_SOURCE: {
                "path": str(path.absolute()),
                "label_group": name,
                "version": version_written,
            }
        }
        for name in names
    )
    written = (path, *(path / "labels" / name for name in names))
    summary = f"Saved {len(labels)} label image(s) to {path.name} ({', '.join(names)})"
    in_place = [group for group in groups if group.in_place]
    if in_place:
        summary += f"; {sum(g.chunks_written for g in in_place)} changed chunk(s) written"
    return WriteResult(written=written, sources=sources, summary=summary, details=tuple(groups))


def _rebasable(item: LabelsItem) -> bool:
    return isinstance(item.data, ChunkedLabels)


def _rebase(labels: ChunkedLabels, folder: Path, zarr_format: int, point) -> None:
    """Chunked labels just streamed whole into ``folder`` read their unchanged pixels from it:
    the next save there writes only what changed, and memory holds only that."""
    arrays = [
        zarr.open_array(str(folder / level), mode="r")
        for level in multiscale_paths(folder, zarr_format)
    ]
    if [tuple(a.shape) for a in arrays] == [tuple(level.shape) for level in labels.levels]:
        labels.rebase(arrays, point)


def group_name(item: LabelsItem) -> str:
    """The label group of ``item``: the one it was read from, else its layer name."""
    read = item.document.source.get(label_meta.STORE_SOURCE)
    if isinstance(read, dict) and isinstance(read.get("label_group"), str):
        return read["label_group"]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in item.name).strip("._")
    return name or "labels"


def _version_of_source(labels: Sequence[LabelsItem], images: Sequence[ImageItem]) -> str:
    for item in labels:
        read = item.document.source.get(label_meta.STORE_SOURCE)
        if isinstance(read, dict) and read.get("version") in ("0.4", "0.5"):
            return read["version"]
    return "0.5"


def label_pixels(item: LabelsItem) -> np.ndarray:
    """The label array as an unsigned integer array (NGFF labels are integers, 0 background)."""
    data = np.asarray(item.data)
    if data.ndim not in SPATIAL_AXES:
        raise OmeZarrError(f"{item.name}: labels of {data.ndim} dimensions are not written")
    if data.dtype.kind == "u":
        return data
    if data.dtype.kind != "i":
        raise OmeZarrError(f"{item.name}: labels must be integers, not {data.dtype}")
    if data.size and data.min() < 0:
        raise OmeZarrError(f"{item.name}: negative label values cannot be written")
    return data.astype(np.dtype(f"u{data.dtype.itemsize}"))


def nearest_level(labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``labels`` resampled to ``shape`` by nearest neighbour (strided when the factor is whole)."""
    index: list[Any] = []
    for size, target in zip(labels.shape, shape, strict=True):
        if size == target:
            index.append(slice(None))
        elif size % target == 0:
            index.append(slice(None, None, size // target))
        else:
            index.append((np.arange(target) * size) // target)
    if any(isinstance(i, np.ndarray) for i in index):
        grids = [
            i if isinstance(i, np.ndarray) else np.arange(n)[i]
            for i, n in zip(index, labels.shape, strict=True)
        ]
        return labels[np.ix_(*grids)]
    return np.ascontiguousarray(labels[tuple(index)])


def _write_into_store(
    root: Path, zarr_format: int, labels: Sequence[LabelsItem]
) -> list[GroupWrite]:
    fmt = ngff_format(VERSIONS[zarr_format])
    levels = _image_levels(root, zarr_format)
    labels_dir = root / "labels"
    recover_interrupted_swaps(labels_dir)
    names = [group_name(item) for item in labels]
    groups = []
    for item, name in zip(labels, names, strict=True):
        _check_shape(root, item, levels[0][0])
        folder = labels_dir / name
        if is_chunked(item.data) and is_read_from(item.data, folder, zarr_format):
            count = save_in_place(folder, item.data, item.document, fmt, zarr_format)
            groups.append(GroupWrite(name, True, count))
        elif reads_inside(item.data, folder):
            raise OmeZarrError(
                f"{folder}: the labels {item.name!r} read their unchanged pixels from this "
                "group, whose levels they do not match; it is not rewritten under them. "
                "Save to a new OME-Zarr store instead"
            )
        else:
            count = _replace_group(labels_dir, name, item, levels, fmt, zarr_format)
            groups.append(GroupWrite(name, False, count))
    _list_groups(root, names, fmt, zarr_format)
    return groups


def _image_levels(root: Path, zarr_format: int) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Per level of the image: its spatial shape and chunks (the labels' axes)."""
    found = []
    for path in multiscale_paths(root, zarr_format):
        array = zarr.open_array(str(root / path), mode="r")
        found.append((tuple(array.shape), tuple(array.chunks)))
    return found


def _check_shape(root: Path, item: LabelsItem, image_shape: tuple[int, ...]) -> None:
    shape = np.shape(item.data)
    if tuple(image_shape[-len(shape) :]) != tuple(shape):
        raise OmeZarrError(
            f"{root}: the image is {tuple(image_shape)}, the labels {item.name!r} are "
            f"{tuple(shape)}: they must match the image's last axes"
        )


def _replace_group(labels_dir: Path, name: str, item: LabelsItem, levels, fmt, zarr_format) -> int:
    """Write the group whole beside the old one and swap it in; returns its chunk files."""
    ndim = len(np.shape(item.data))
    chunks = [{"chunks": tuple(chunk[-ndim:])} for _, chunk in levels]  # the image's own
    if is_chunked(item.data):
        pyramid = chunked_pyramid(item, [tuple(shape[-ndim:]) for shape, _ in levels], chunks)
    else:
        pixels = label_pixels(item)
        pyramid = [nearest_level(pixels, tuple(shape[-ndim:])) for shape, _ in levels]
    labels_dir.mkdir(exist_ok=True)
    token = secrets.token_hex(4)
    staging = labels_dir / f".{name}{WRITING_TAG}{token}"
    try:
        group = zarr.open_group(str(staging), mode="w", zarr_format=zarr_format)
        with _one_task_at_a_time(is_chunked(item.data)):
            write_multiscale(
                pyramid,
                group,
                fmt=fmt,
                axes=list(SPATIAL_AXES[ndim]),
                storage_options=chunks,
                name=name,
            )
        add_metadata(
            group,
            {
                "image-label": {
                    **label_meta.image_label_metadata(item.document),
                    "version": fmt.version,
                }
            },
            fmt=fmt,
        )
        group.attrs[label_meta.NAMESPACE] = label_meta.namespaced_attributes(item.document)
        count = _chunk_file_count(staging)
        _swap_in(labels_dir, name, staging, token)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return count


@contextlib.contextmanager
def _one_task_at_a_time(chunked: bool) -> Iterator[None]:
    """Chunked labels are read by one thread: memory stays one chunk or so, and the
    labels need not be safe to read from several threads."""
    if not chunked:
        yield
        return
    import dask

    with dask.config.set(scheduler="synchronous"):
        yield


def chunked_pyramid(
    item: LabelsItem, shapes: Sequence[tuple[int, ...]], chunks: Sequence[dict[str, Any]]
) -> list[Any]:
    """The levels of chunked labels as dask arrays in the group's chunks (read lazily).

    A level of the labels' own pyramid that has the wanted shape is used as it
    is; any other is sampled from level 0 by nearest neighbour (strided, so a
    task reads one chunk of level 0).
    """
    import dask.array as da

    data = item.data
    dtype = _unsigned(item.name, np.dtype(data.dtype))
    own = {tuple(level.shape): level for level in getattr(data, "levels", [data])}
    first = da.from_array(data, chunks=chunks[0]["chunks"], asarray=True, fancy=False)
    pyramid = []
    for shape, chunk in zip(shapes, chunks, strict=True):
        level = own.get(tuple(shape))
        if level is not None:
            array = da.from_array(level, chunks=chunk["chunks"], asarray=True, fancy=False)
        else:
            array = _nearest_lazy(first, tuple(shape)).rechunk(chunk["chunks"])
        pyramid.append(array.astype(dtype))
    return pyramid


def _nearest_lazy(first: Any, shape: tuple[int, ...]) -> Any:
    """:func:`nearest_level` of a dask array, staying lazy (one axis at a time)."""
    array = first
    for axis, (size, target) in enumerate(zip(first.shape, shape, strict=True)):
        index: list[Any] = [slice(None)] * first.ndim
        if size == target:
            continue
        if size % target == 0:
            index[axis] = slice(None, None, size // target)
        else:
            index[axis] = (np.arange(target) * size) // target
        array = array[tuple(index)]
    return array


def _unsigned(name: str, dtype: np.dtype) -> np.dtype:
    if dtype.kind == "u":
        return dtype
    if dtype.kind != "i":
        raise OmeZarrError(f"{name}: labels must be integers, not {dtype}")
    # a chunked array's negative values are not looked for (that would read it whole)
    return np.dtype(f"u{dtype.itemsize}")


def _chunk_file_count(group: Path) -> int:
    return sum(1 for p in group.rglob("*") if p.is_file() and p.name not in METADATA_KEYS)


def _swap_in(labels_dir: Path, name: str, staging: Path, token: str) -> None:
    target = labels_dir / name
    previous = labels_dir / f".{name}{PREVIOUS_TAG}{token}"
    if target.exists():
        _rename(target, previous)
    _rename(staging, target)
    fsync_dir(labels_dir)
    shutil.rmtree(previous, ignore_errors=True)


def _rename(source: Path, target: Path) -> None:
    os.replace(source, target)


def _list_groups(root: Path, names: Sequence[str], fmt: Format, zarr_format: int) -> None:
    """Add the new names to ``labels``' list (0.5: with the group's own ``version``)."""
    group = zarr.open_group(str(root / "labels"), mode="a", zarr_format=zarr_format)
    listed = list(get_metadata(group).get("labels", []))
    missing = [name for name in names if name not in listed]
    update: dict[str, Any] = {}
    if missing:
        update["labels"] = listed + missing
    if zarr_format == 3 and ome_attributes(root / "labels", 3).get("version") != fmt.version:
        update["version"] = fmt.version
    if update:
        add_metadata(group, update, fmt=fmt)


def _image_axes(image: Any, label_shape: tuple[int, ...]) -> tuple[Any, str]:
    """The image with its channel axis (if any) first, and its NGFF axes."""
    shape = tuple(np.shape(image))
    spatial = SPATIAL_AXES[len(label_shape)]
    if shape == label_shape:
        return image, spatial
    if len(shape) == len(label_shape) + 1 and shape[:-1] == label_shape:
        return np.moveaxis(image, -1, 0), "c" + spatial  # lazy for a dask image
    raise OmeZarrError(f"the image {shape} does not match the labels {label_shape}")


def _write_new_store(
    path: Path, labels: Sequence[LabelsItem], images: Sequence[ImageItem], version: str
) -> list[GroupWrite]:
    if not images:
        raise OmeZarrError(
            f"{path}: a new OME-Zarr needs its image: save the image layer along with the labels"
        )
    fmt = ngff_format(version)
    label_shape = tuple(np.shape(labels[0].data))
    image, axes = _image_axes(images[0].data, label_shape)
    side, factors = max(label_shape[-2:]), []
    while side // 2 ** len(factors) > COARSEST_SIDE:
        factors.append(2 ** (len(factors) + 1))
    chunks = tuple(
        1 if a in "ctz" else min(NEW_CHUNK, s) for a, s in zip(axes, np.shape(image), strict=True)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}{WRITING_TAG}{secrets.token_hex(4)}")
    try:
        root = zarr.open_group(str(staging), mode="w", zarr_format=fmt.zarr_format)
        write_image(
            image,
            root,
            scale_factors=factors,
            method=Methods.RESIZE,
            fmt=fmt,
            axes=list(axes),
            storage_options={"chunks": chunks},
            name=images[0].name,
        )
        groups = _write_into_store(staging, fmt.zarr_format, labels)
        os.replace(staging, path)
        fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return groups
