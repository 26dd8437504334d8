"""Superpixels on a 4096 x 4096 image: one background compute, then assigning vs brushing.

The image holds 2,000 cells on a noisy background (as in ``bench_wand.py``).
The superpixel tool of a segmentation layer on a headless ``ViewerModel`` is
switched on once; its computation (SLIC on the bounded window around the
view, :data:`~napari_segtool.tools.superpixels.MAX_PIXELS` pixels, plus the
boundary overlay) runs on a plain thread here, as the dock's worker does, and
is timed once. Then, on the same layer, a click assigning one superpixel
(mouse callbacks to painter, one undo step) is timed against a brush dab of
the same area by napari's own paint mode; each edit is undone before the
next. Medians over the repeats, wall-clock. ``--full`` also times SLIC on the
whole image once, for reference.

    python benchmarks/bench_superpixels.py [--size 4096] [--repeat 21] [--full]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np
from bench_wand import _Mouse, cells_image
from napari.components import ViewerModel
from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

from napari_segtool import load_default_ontology
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.superpixels import superpixels_of
from napari_segtool.model.document import Document
from napari_segtool.tools.superpixels import DEFAULT_SIZE, compute_superpixels


def click(layer, position) -> float:
    position = tuple(float(p) for p in position)
    start = time.perf_counter()
    mouse_press_callbacks(layer, ReadOnlyWrapper(_Mouse("mouse_press", position)))
    mouse_release_callbacks(layer, ReadOnlyWrapper(_Mouse("mouse_release", position)))
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    image, _ = cells_image(args.size, 2000, rng)
    viewer = ViewerModel()
    viewer.add_image(image, name="cells", contrast_limits=(0, 255))
    layer = viewer.add_labels(
        np.zeros(image.shape, dtype=np.uint32),
        **segmentation_layer_kwargs(Document(load_default_ontology()), "cells"),
    )
    binding_of(layer).start_instance()
    tool = superpixels_of(layer, viewer)
    tool.size = DEFAULT_SIZE
    done = threading.Event()
    results = []

    def runner(tool_, job):
        def work():
            try:
                results.append((job, job.run()))
            finally:
                done.set()

        threading.Thread(target=work, daemon=True).start()

    tool.runner = runner
    start = time.perf_counter()
    tool.activate()
    on_ms = (time.perf_counter() - start) * 1000
    done.wait()
    compute_ms = (time.perf_counter() - start) * 1000
    job, result = results[0]
    start = time.perf_counter()
    tool.install(job, result)  # main thread: cache and overlay
    install_ms = (time.perf_counter() - start) * 1000
    superpixels = tool.current
    window = superpixels.region
    pixels = superpixels.labels.size

    inside = [
        (
            int(rng.integers(window[0].start + 50, window[0].stop - 50)),
            int(rng.integers(window[1].start + 50, window[1].stop - 50)),
        )
        for _ in range(args.repeat)
    ]
    assign_ms, brush_ms, areas = [], [], []
    for point in inside:
        local = (point[0] - window[0].start, point[1] - window[1].start)
        area = int(np.count_nonzero(superpixels.labels == superpixels.labels[local]))
        areas.append(area)
        assign_ms.append(click(layer, point))
        assert layer.data[point] == layer.selected_label
        layer.undo()

    tool.deactivate()
    layer.mode = "paint"
    layer.brush_size = max(1, round(2 * np.sqrt(statistics.median(areas) / np.pi)))
    for point in inside:
        brush_ms.append(click(layer, point))
        layer.undo()

    assign, brush = statistics.median(assign_ms), statistics.median(brush_ms)
    print(f"image {args.size} x {args.size}; window {pixels} px; size {DEFAULT_SIZE}")
    print(f"{superpixels.count} superpixels, median {statistics.median(areas):.0f} px each")
    print(f"switch on (returns at once, compute in background): {on_ms:9.1f} ms")
    print(f"background compute (SLIC + boxes):                  {compute_ms:9.1f} ms")
    print(f"install on the main thread (cache + overlay):       {install_ms:9.1f} ms")
    print(f"assign one superpixel (click -> painter):           {assign:9.2f} ms")
    print(f"brush dab of the same area (napari, size {layer.brush_size:3d}):     {brush:9.2f} ms")
    print(f"ratio assign / brush dab: {assign / brush:.2f}")
    if args.full:
        start = time.perf_counter()
        region = tuple(slice(0, n) for n in image.shape)
        compute_superpixels(image, region, (0, 1), DEFAULT_SIZE, value_range=(0, 255))
        print(f"SLIC on the whole image (reference): {(time.perf_counter() - start):.1f} s")


if __name__ == "__main__":
    main()
