"""Magic wand on a 4096 x 4096 image: click to preview, against flooding the whole image.

The image holds 2,000 cells (disks of radius 12-20 px, each of its own
intensity) on a noisy background. A click on a cell is driven through the
layer's real mouse callbacks (the wand on a segmentation layer of a
headless ``ViewerModel``): the press floods the region and shows its outline on the
preview layer; a drag step refloods at another tolerance and updates the
outline. The baseline is the same region flooded on the whole image at once
(scikit-image ``flood`` on the full distance image, as the wand floods float,
colour and multichannel images, and on the raw uint8 image, scikit-image's
fastest case), and the wand's region alone (its growing window, no layer).
Times are wall-clock medians over cells; the target is click to preview < 50 ms.

    python benchmarks/bench_wand.py [--size 4096] [--cells 2000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
from napari.components import ViewerModel
from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)
from skimage.segmentation import flood

from napari_segtool import load_default_ontology
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.wand import PREVIEW, wand_of
from napari_segtool.model.document import Document
from napari_segtool.tools.wand import WandSeed, flood_full


@dataclass
class _Mouse:
    type: str
    position: tuple[float, float]
    is_dragging: bool = False
    modifiers: tuple = ()
    button: int = 1
    dims_displayed: tuple = (0, 1)
    dims_point: tuple | None = None
    view_direction: tuple | None = None
    pos: tuple = (0.0, 0.0)
    camera_zoom: float = 1.0
    handled: bool = False


def cells_image(size: int, cells: int, rng) -> tuple[np.ndarray, list[tuple[int, int]]]:
    image = rng.normal(20, 3, (size, size)).clip(0, 255).astype(np.uint8)
    centres = []
    for _ in range(cells):
        r, c = rng.integers(30, size - 30, 2)
        radius = int(rng.integers(12, 21))
        rows = slice(r - radius, r + radius + 1)
        cols = slice(c - radius, c + radius + 1)
        yy, xx = np.ogrid[-radius : radius + 1, -radius : radius + 1]
        image[rows, cols][yy**2 + xx**2 <= radius**2] = rng.integers(120, 250)
        centres.append((int(r), int(c)))
    return image, centres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    image, centres = cells_image(args.size, args.cells, rng)
    viewer = ViewerModel()
    viewer.add_image(image, name="cells", contrast_limits=(0, 255))
    layer = viewer.add_labels(
        np.zeros(image.shape, dtype=np.uint32),
        **segmentation_layer_kwargs(Document(load_default_ontology()), "cells"),
    )
    binding_of(layer).start_instance()
    label = int(layer.selected_label)
    wand = wand_of(layer, viewer)
    wand.tolerance = 4  # 10 grey levels: the cell, not its neighbours
    wand.activate()

    # cells the last one painted over do not count: pick cells whose centre is still theirs
    picks = [centres[i] for i in rng.choice(len(centres), args.repeat * 3, replace=False)]
    preview_ms, drag_ms, commit_ms, full_ms, raw_ms, sizes = [], [], [], [], [], []
    region_ms = []
    for centre in picks[: args.repeat]:
        position = tuple(float(c) for c in centre)
        press = ReadOnlyWrapper(_Mouse("mouse_press", position, pos=(100.0, 100.0)))
        start = time.perf_counter()
        mouse_press_callbacks(layer, press)
        preview_ms.append((time.perf_counter() - start) * 1000)
        assert wand.overlay(PREVIEW) is not None
        move = ReadOnlyWrapper(_Mouse("mouse_move", position, True, pos=(104.0, 100.0)))
        start = time.perf_counter()
        mouse_move_callbacks(layer, move)
        drag_ms.append((time.perf_counter() - start) * 1000)
        release = ReadOnlyWrapper(_Mouse("mouse_release", position, pos=(104.0, 100.0)))
        start = time.perf_counter()
        mouse_release_callbacks(layer, release)
        commit_ms.append((time.perf_counter() - start) * 1000)
        wand.tolerance = 4
        sizes.append(int(np.count_nonzero(layer.data[centre[0] - 25 : centre[0] + 26] == label)))
        layer.undo()

        start = time.perf_counter()
        WandSeed(image, centre, (0, 1)).edit(10, 1)
        region_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        full = flood_full(image, centre, 10)
        full_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        flood(image, centre, tolerance=10)
        raw_ms.append((time.perf_counter() - start) * 1000)
        assert int(full.sum()) > 0

    preview, full, raw, region = (
        statistics.median(v) for v in (preview_ms, full_ms, raw_ms, region_ms)
    )
    print(f"image {args.size} x {args.size}, {args.cells} cells, {args.repeat} clicks")
    print(f"typical cell: {statistics.median(sizes):.0f} px")
    rows = [
        ("click to preview (press: flood + outline layer)", preview),
        ("drag step (reflood + outline)", statistics.median(drag_ms)),
        ("release (commit through the painter)", statistics.median(commit_ms)),
        ("wand region alone (growing window, no layer)", region),
        ("flood on the full image (distance + flood)", full),
        ("flood on the full raw image (skimage only)", raw),
    ]
    for name, ms in rows:
        print(f"{name:<50} {ms:8.2f} ms")
    print(f"target: click to preview < 50 ms: {'met' if preview < 50 else 'MISSED'}")
    ratios = [
        ("preview / full-image flood", preview / full),
        ("preview / raw full-image flood", preview / raw),
        ("wand region / full-image flood", region / full),
        ("wand region / raw full-image flood", region / raw),
    ]
    for name, ratio in ratios:
        print(f"ratio {name:<36} {ratio:.4f}")


if __name__ == "__main__":
    main()
