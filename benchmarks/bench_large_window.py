"""A windowed large segmentation: a brush stroke and a window move, against their baselines.

One viewer holds a 40,000 x 40,000 ``uint32`` segmentation (a ``ChunkedLabels``
of 1024 x 1024 chunks, 500 round cells written into it) opened with
``open_large_segmentation`` (window at most 4096 pixels a side, the camera on
a cell), and a plain 4096 x 4096 segmentation layer of the same pixels, the
baseline: what the plugin costs for a stroke without a large segmentation.

- **stroke**: the same mouse drag through napari's mouse callbacks (brush 20,
  300 pixels) on each layer, alternating. On the windowed layer it includes
  the write-through into the ``ChunkedLabels`` (pyramid recomputed for the
  touched chunks) and the overview's refresh; both are also timed alone.
- **window move**: flush the window's edits, load another 4096 x 4096 window
  and swap it into the editor (``binding.data_moved``), against copying a
  4096 x 4096 array (the least a move can cost).

Printed: medians of ``--repeat`` runs and the ratios.

    xvfb-run -a python benchmarks/bench_large_window.py [--size 40000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

BRUSH = 20
LENGTH = 300
MOVES = 30


def settle() -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()


def make_labels(size: int):
    from napari_segtool.model.chunked_labels import ChunkedLabels

    labels = ChunkedLabels.create((size, size), chunks=(1024, 1024), dtype=np.uint32)
    rng = np.random.default_rng(0)
    for label_id in range(1, 501):
        radius = int(rng.integers(30, 120))
        y, x = (int(v) for v in rng.integers(radius, size - radius, size=2))
        rows, cols = np.ogrid[-radius : radius + 1, -radius : radius + 1]
        box = (slice(y - radius, y + radius + 1), slice(x - radius, x + radius + 1))
        labels.write(box, np.where(rows**2 + cols**2 <= radius**2, label_id, labels[box]))
    return labels


def drag(layer, y: float, x: float) -> float:
    from napari.utils._proxies import ReadOnlyWrapper
    from napari.utils.interactions import (
        mouse_move_callbacks,
        mouse_press_callbacks,
        mouse_release_callbacks,
    )

    from tests.napari_input import MouseEvent

    points = [(y, x + LENGTH * i / MOVES) for i in range(MOVES + 1)]

    def event(kind, point, dragging=False):
        return ReadOnlyWrapper(MouseEvent(kind, point, is_dragging=dragging))

    start = time.perf_counter()
    mouse_press_callbacks(layer, event("mouse_press", points[0]))
    for point in points[1:]:
        mouse_move_callbacks(layer, event("mouse_move", point, True))
    mouse_release_callbacks(layer, event("mouse_release", points[-1]))
    return time.perf_counter() - start


def main() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent.parent))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    import napari

    from napari_segtool import load_default_ontology
    from napari_segtool._napari.autosave import autosaver_of
    from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
    from napari_segtool._napari.compat import camera
    from napari_segtool._napari.large_segmentation import (
        large_segmentation_of,
        open_large_segmentation,
    )
    from napari_segtool._qt.large_segmentation import wait_for_workers
    from napari_segtool.model.document import Document

    ontology = load_default_ontology()
    nucleus = ontology.class_by_name("Nucleus").feature_schema_id
    labels = make_labels(args.size)
    viewer = napari.Viewer(show=False)
    editor = open_large_segmentation(viewer, labels, Document(ontology=ontology), "large")
    wait_for_workers()
    segmentation = large_segmentation_of(editor)
    cam = camera(viewer)
    centre = args.size // 2
    cam.zoom, cam.center = 1.0, (centre, centre)
    settle()
    segmentation.follow()
    window = segmentation.window
    plain = viewer.add_labels(
        np.array(labels[window]),
        **segmentation_layer_kwargs(
            Document(ontology=ontology),
            "plain",
            translate=(window[0].start, window[1].start),
        ),
    )
    for layer in (editor, plain):
        saver = autosaver_of(layer)
        if saver is not None:
            saver.disconnect()  # bench_autosave_nd.py measures autosave
        binding_of(layer).start_instance(nucleus)
        layer.brush_size = BRUSH
    rng = np.random.default_rng(1)
    windowed, baseline = [], []
    for _ in range(args.repeat):
        y = int(rng.integers(window[0].start + 50, window[0].stop - 50))
        x = int(rng.integers(window[1].start + 50, window[1].stop - LENGTH - 50))
        windowed.append(drag(editor, y, x))
        baseline.append(drag(plain, y, x))
        settle()
    viewer.layers.remove(plain)

    # the write-through and the overview's refresh alone, on a stroke-sized box
    box = (slice(centre, centre + BRUSH), slice(centre, centre + LENGTH))
    values = np.asarray(labels[box])
    writes, refreshes = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        labels.write(box, values)
        writes.append(time.perf_counter() - start)
        start = time.perf_counter()
        segmentation.overview.refresh(thumbnail=False, extent=False)
        refreshes.append(time.perf_counter() - start)

    # window moves: between two places, against a copy of a window
    moves, copies = [], []
    places = [window, tuple(slice(s.start + 8192, s.stop + 8192) for s in window)]
    for n in range(args.repeat):
        start = time.perf_counter()
        segmentation.move_window(places[(n + 1) % 2])
        moves.append(time.perf_counter() - start)
        pixels = editor.data
        start = time.perf_counter()
        np.array(pixels, copy=True)
        copies.append(time.perf_counter() - start)

    def ms(values) -> float:
        return statistics.median(values) * 1000

    print(f"{args.size} x {args.size} segmentation, window {tuple(editor.data.shape)}")
    print(
        f"stroke: windowed {ms(windowed):.1f} ms, plain layer {ms(baseline):.1f} ms, "
        f"ratio {ms(windowed) / ms(baseline):.2f}x"
    )
    print(f"  of which: write-through {ms(writes):.2f} ms, overview refresh {ms(refreshes):.1f} ms")
    print(
        f"window move: {ms(moves):.0f} ms, copy of a window {ms(copies):.0f} ms, "
        f"ratio {ms(moves) / ms(copies):.1f}x"
    )
    viewer.close()


if __name__ == "__main__":
    main()
