"""A large synthetic tissue image as an OME-Zarr, made offline on first use (the sample).

Greyscale ``uint8``: pale stroma with smooth fibres and dark nuclei scattered
on a jittered grid. Every pixel is a function of its coordinates (and the
seed), so the image is made chunk by chunk with memory bounded by a chunk,
and is the same on every machine. The coarser levels are 2 x 2 means of the
level above, read back chunk by chunk with dask. NGFF 0.5 metadata through
ome-zarr-py; the store is built in a hidden folder and renamed into place, so
an interrupted first use leaves nothing half made.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import dask.array as da
import numpy as np
import platformdirs
import zarr
from ome_zarr.format import FormatV05
from ome_zarr.writer import write_multiscales_metadata

from napari_segtool.formats.ome_zarr.store import WRITING_TAG
from napari_segtool.formats.toolkit.atomic import fsync_dir

DEFAULT_SIZE = 20_000
CHUNK = 1024
SEED = 15
#: spacing of the nuclei grid and nucleus radius, in pixels
SPACING = 36
RADIUS = 9.0
#: pyramid levels are added until the coarsest fits in this many pixels a side
COARSEST_SIDE = 1024
#: bumped when the texture changes, so an old cached store is not reused
GENERATION = 1
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def cache_folder() -> Path:
    return Path(platformdirs.user_cache_dir("napari-segtool"))


def tissue_store(
    size: int = DEFAULT_SIZE,
    folder: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """The sample store of ``size`` x ``size`` pixels, made (once) in ``folder`` (the cache)."""
    folder = Path(folder) if folder is not None else cache_folder()
    target = folder / f"tissue-g{GENERATION}-{size}.ome.zarr"
    if (target / "zarr.json").is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{target.name}{WRITING_TAG}{secrets.token_hex(4)}"
    try:
        _write_store(staging, size, progress)
        os.replace(staging, target)
        fsync_dir(folder)
    except FileExistsError:  # OSError on some systems: made meanwhile by another process
        shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "zarr.json").is_file():
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def level_shapes(size: int) -> list[tuple[int, int]]:
    shapes = [(size, size)]
    while max(shapes[-1]) > COARSEST_SIDE:
        shapes.append(tuple(s // 2 for s in shapes[-1]))
    return shapes


def _write_store(root: Path, size: int, progress) -> None:
    fmt = FormatV05()
    group = zarr.open_group(str(root), mode="w", zarr_format=fmt.zarr_format)
    shapes = level_shapes(size)
    first = group.create_array(
        "0", shape=shapes[0], chunks=(CHUNK, CHUNK), dtype=np.uint8, dimension_names=("y", "x")
    )
    starts = [(y, x) for y in range(0, size, CHUNK) for x in range(0, size, CHUNK)]
    for done, (y, x) in enumerate(starts, 1):
        h, w = min(CHUNK, size - y), min(CHUNK, size - x)
        first[y : y + h, x : x + w] = tissue_tile(y, x, h, w)
        if progress is not None:
            progress(done, len(starts))
    for level in range(1, len(shapes)):
        above = da.from_zarr(group[str(level - 1)])
        height, width = shapes[level]
        coarse = da.coarsen(np.mean, above[: 2 * height, : 2 * width], {0: 2, 1: 2})
        coarse = coarse.astype(np.uint8).rechunk(CHUNK)
        array = group.create_array(
            str(level),
            shape=shapes[level],
            chunks=(min(CHUNK, height), min(CHUNK, width)),
            dtype=np.uint8,
            dimension_names=("y", "x"),
        )
        da.store(coarse, array, lock=False)
    datasets = [
        {"path": str(level), "coordinateTransformations": [_scale(level)]}
        for level in range(len(shapes))
    ]
    write_multiscales_metadata(group, datasets, fmt=fmt, axes=["y", "x"], name="tissue")


def _scale(level: int) -> dict:
    return {"type": "scale", "scale": [float(2**level), float(2**level)]}


def tissue_tile(y0: int, x0: int, height: int, width: int, seed: int = SEED) -> np.ndarray:
    """The pixels ``[y0:y0+height, x0:x0+width]`` of the (unbounded) tissue texture."""
    ys = np.arange(y0, y0 + height, dtype=np.float64)[:, None]
    xs = np.arange(x0, x0 + width, dtype=np.float64)[None, :]
    stroma = (
        np.sin(ys / 53.0 + np.sin(xs / 211.0) * 2.1)
        + 0.6 * np.sin((xs + ys) / 29.0 + np.cos(ys / 97.0))
        + 0.4 * np.cos(xs / 17.0 - ys / 131.0)
    )
    value = 205.0 + 14.0 * stroma
    cell_y = (np.arange(y0, y0 + height) // SPACING)[:, None]
    cell_x = (np.arange(x0, x0 + width) // SPACING)[None, :]
    # the nuclei of every grid cell the tile's neighbourhood touches, hashed once per cell
    first_y, first_x = int(cell_y.min()) - 1, int(cell_x.min()) - 1
    grid_y = np.arange(first_y, int(cell_y.max()) + 2)[:, None]
    grid_x = np.arange(first_x, int(cell_x.max()) + 2)[None, :]
    jitter_y, jitter_x, kept = _cell_random(grid_y, grid_x, seed)
    centre_y = np.where(kept, (grid_y + 0.2 + 0.6 * jitter_y) * SPACING, np.inf)
    centre_x = (grid_x + 0.2 + 0.6 * jitter_x) * SPACING
    nearest_squared = np.full((height, width), np.inf)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            row, column = cell_y - first_y - 1 + dy, cell_x - first_x - 1 + dx
            squared = (ys - centre_y[row, column]) ** 2 + (xs - centre_x[row, column]) ** 2
            np.minimum(nearest_squared, squared, out=nearest_squared)
    nearest = np.sqrt(nearest_squared)
    nucleus = np.clip((RADIUS + 1.5 - nearest) / 3.0, 0.0, 1.0)
    value = value * (1 - nucleus) + (70.0 + 6.0 * stroma) * nucleus
    return np.clip(value, 0, 255).astype(np.uint8)


def _cell_random(gy: np.ndarray, gx: np.ndarray, seed: int):
    """Two uniform numbers and whether a nucleus sits there, per grid cell (a hash, no state)."""
    with np.errstate(over="ignore"):
        key = (gy.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
            gx.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        )
        key = (key + np.uint64(seed) * np.uint64(0x165667B19E3779F9)) & _MASK
        first = _mix(key)
        second = _mix(first ^ np.uint64(0xD6E8FEB86659FD93))
    scale = float(2**64)
    jitter_y = first.astype(np.float64) / scale
    jitter_x = second.astype(np.float64) / scale
    kept = (first & np.uint64(0xFF)) < np.uint64(200)  # some cells have no nucleus
    return jitter_y, jitter_x, kept


def _mix(key: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser."""
    key = (key ^ (key >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    key = (key ^ (key >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return key ^ (key >> np.uint64(31))
