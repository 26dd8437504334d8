"""Make docs/dock.png: napari with the plugin's dock on the sample, a few instances drawn.

Run it with ``./dev.sh screenshot`` (under Xvfb on a headless machine). It drives
napari as a user would: the sample through File > Open Sample, the dock through
the Plugins menu, classes picked in the dock and objects drawn with napari's
polygon tool, so the picture shows what a user sees.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from skimage.measure import find_contours, label, regionprops

OUTPUT = Path(__file__).with_name("dock.png")


def draw_objects(dock, image: np.ndarray) -> None:
    """Outline four nuclei and, drawn to back, the cell around one of them."""
    binding = dock.binding
    layer = binding.layer
    ontology = binding.document.ontology
    nuclei = label(image[..., 2] > 120)
    regions = sorted(regionprops(nuclei), key=lambda region: -region.area)[:4]
    for region in regions:
        binding.start_instance(ontology.class_by_name("Nucleus").feature_schema_id)
        paint_outline(layer, nuclei == region.label)
    # the cell around the first nucleus, drawn to back so the nucleus stays whole
    binding.start_instance(ontology.class_by_name("Cell").feature_schema_id)
    rows, cols = np.ogrid[: nuclei.shape[0], : nuclei.shape[1]]
    centre_row, centre_col = regions[0].centroid
    layer.preserve_labels = True
    paint_outline(layer, np.hypot(rows - centre_row, cols - centre_col) <= 36)
    layer.preserve_labels = False
    first = min(binding.document.instances)
    binding.select_instance(first)
    dock.select_rows([first])


def paint_outline(layer, mask: np.ndarray) -> None:
    (outline, *_) = sorted(find_contours(mask.astype(float), 0.5), key=len, reverse=True)
    layer.paint_polygon(outline[:: max(1, len(outline) // 60)], layer.selected_label)


def main() -> int:
    # the picture must not offer (or leave) recovery files of the user's own work
    recovery = tempfile.mkdtemp(prefix="segtool-screenshot-")
    os.environ["NAPARI_SEGTOOL_RECOVERY_DIR"] = recovery
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_segtool import PLUGIN_NAME
    from napari_segtool._napari.sample import SAMPLE_IMAGE_NAME

    viewer = napari.Viewer(title="napari-segtool")
    viewer.window.resize(1500, 950)
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    draw_objects(dock, viewer.layers[SAMPLE_IMAGE_NAME].data)
    for _ in range(20):
        QApplication.processEvents()
    viewer.reset_view()
    QApplication.processEvents()
    viewer.screenshot(str(OUTPUT), canvas_only=False, flash=False)
    print(f"wrote {OUTPUT}")
    viewer.close()
    shutil.rmtree(recovery, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
