"""Make the large-segmentation screenshots: docs/large_zoomed_out.png and docs/large_zoomed_in.png.

Run under Xvfb on a headless machine::

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshot_large.py

A 40,000 x 40,000 segmentation (1.6 billion pixels, 3.2 GB as one uint16
array) is made chunk by chunk in a ``ChunkedLabels``: 400 round "cells", only
the chunks holding them are in memory. Zoomed out, the overview shows all of
it; zoomed in, the editable window has followed the camera and a brush stroke
drawn through napari's own callbacks is in the table and in the overview.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from tests.napari_input import stroke  # noqa: E402

SIZE = 40_000
CHUNK = 512
CELLS = 400


def settle(seconds: float = 0.5) -> None:
    from qtpy.QtCore import QCoreApplication, QElapsedTimer

    timer = QElapsedTimer()
    timer.start()
    while timer.elapsed() < seconds * 1000:
        QCoreApplication.processEvents()


def cells(labels, document, schema_id: str) -> tuple[int, int, int]:
    """Round cells of radius 60-250 pixels spread over the whole array; the last one's centre."""
    rng = np.random.default_rng(15)
    for label_id in range(1, CELLS + 1):
        radius = int(rng.integers(60, 250))
        y, x = (int(v) for v in rng.integers(radius, SIZE - radius, size=2))
        rows, cols = np.ogrid[-radius : radius + 1, -radius : radius + 1]
        disk = rows**2 + cols**2 <= radius**2
        box = (slice(y - radius, y + radius + 1), slice(x - radius, x + radius + 1))
        pixels = np.where(disk, label_id, labels[box]).astype(labels.dtype)
        labels.write(box, pixels)
        document.add_instance(label_id, schema_id)
    return y, x, radius


def main() -> None:
    import napari

    from napari_segtool import PLUGIN_NAME, load_default_ontology
    from napari_segtool._napari.binding import binding_of
    from napari_segtool._napari.compat import camera
    from napari_segtool._napari.large_segmentation import (
        large_segmentation_of,
        open_large_segmentation,
    )
    from napari_segtool._qt.large_segmentation import wait_for_workers
    from napari_segtool.model.chunked_labels import ChunkedLabels
    from napari_segtool.model.document import Document

    ontology = load_default_ontology()
    nucleus = ontology.class_by_name("Nucleus").feature_schema_id
    cell = ontology.class_by_name("Cell").feature_schema_id
    labels = ChunkedLabels.create((SIZE, SIZE), chunks=(CHUNK, CHUNK), dtype=np.uint16)
    document = Document(ontology=ontology, source={"image_name": "slide"})
    y, x, radius = cells(labels, document, nucleus)

    viewer = napari.Viewer(title="napari-segtool: a 40,000 x 40,000 segmentation")
    viewer.window.resize(1500, 950)
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    editor = open_large_segmentation(viewer, labels, document, "slide segmentation")
    wait_for_workers()
    segmentation = large_segmentation_of(editor)
    viewer.reset_view()
    settle(1.0)
    viewer.screenshot(str(HERE / "large_zoomed_out.png"), canvas_only=False)

    # zoom in on one cell: the window follows; draw a new instance beside it
    cam = camera(viewer)
    cam.zoom = 0.6
    cam.center = (y, x)
    settle(1.0)
    binding = binding_of(editor)
    binding.start_instance(cell)
    editor.brush_size = 40
    path = [(y - radius - 120 + 12 * i, x - 250 + 17 * i) for i in range(30)]
    stroke(editor, path)
    settle(0.5)
    print(
        f"window {segmentation.window}, {segmentation.moves} moves; "
        f"{labels.stored_chunk_count()} of {np.prod(labels.grid_shape())} chunks in memory"
    )
    viewer.screenshot(str(HERE / "large_zoomed_in.png"), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    main()
