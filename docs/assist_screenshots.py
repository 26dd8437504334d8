"""Make docs/wand.png and docs/superpixels.png: the assist tools on the sample, mid-use.

Run it under Xvfb on a headless machine (``xvfb-run -a -s "-screen 0 1600x1000x24"
python docs/assist_screenshots.py``). It drives napari as a user would: the
sample through File > Open Sample, the dock's buttons, and mouse events
through the layer's own callbacks (a wand click on nuclei, a drag showing the
live outline; superpixel clicks on a cell).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from skimage.measure import label, regionprops

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from tests.napari_input import click, drag_to, press  # noqa: E402


def settle(rounds: int = 20) -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(rounds):
        QApplication.processEvents()


def main() -> int:
    recovery = tempfile.mkdtemp(prefix="segtool-screenshot-")
    os.environ["NAPARI_SEGTOOL_RECOVERY_DIR"] = recovery
    import napari

    from napari_segtool import PLUGIN_NAME
    from napari_segtool._napari import compat
    from napari_segtool._napari.sample import SAMPLE_IMAGE_NAME
    from napari_segtool._napari.superpixels import superpixels_of
    from napari_segtool._napari.wand import wand_of

    viewer = napari.Viewer(title="napari-segtool")
    viewer.window.resize(1500, 950)
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    binding = dock.binding
    layer = binding.layer
    ontology = binding.document.ontology
    image = viewer.layers[SAMPLE_IMAGE_NAME].data
    nuclei = sorted(regionprops(label(image[..., 2] > 120)), key=lambda r: -r.area)
    centres = [tuple(int(c) for c in r.centroid) for r in nuclei[:6]]
    nucleus = ontology.class_by_name("Nucleus").feature_schema_id

    # the wand: five nuclei by one click each, the sixth mid-drag with its live outline
    dock.pen_panel.tolerance_slider.setValue(25)
    dock.pen_panel.wand_button.click()
    for centre in centres[:5]:
        binding.start_instance(nucleus)
        click(layer, centre)
    binding.start_instance(nucleus)
    press(layer, centres[5], pos=(400.0, 400.0))
    drag_to(layer, centres[5], pos=(440.0, 400.0))
    viewer.reset_view()
    camera = compat.camera(viewer)
    camera.center = centres[5]
    camera.zoom *= 1.6
    settle()
    viewer.screenshot(str(HERE / "wand.png"), canvas_only=False, flash=False)
    wand = wand_of(layer)
    wand.proposed = wand.seed = None
    wand.deactivate()

    # superpixels: the boundaries overlay and a cell given whole superpixels
    dock.pen_panel.superpixel_size.setValue(16)
    dock.pen_panel.superpixels_button.click()
    tool = superpixels_of(layer)
    dock.pen_panel.wait_for_superpixels()
    settle()
    binding.start_instance(ontology.class_by_name("Cell").feature_schema_id)
    layer.preserve_labels = True
    row, col = centres[0]
    angles = np.radians(range(0, 360, 30))
    ring = [(round(d * np.cos(a)), round(d * np.sin(a))) for d in (18, 28) for a in angles]
    for dr, dc in ring:
        point = (row + dr, col + dc)
        if tool.current is not None and tool.current.contains(point):
            click(layer, point)
    layer.preserve_labels = False
    camera.center = centres[0]
    settle()
    viewer.screenshot(str(HERE / "superpixels.png"), canvas_only=False, flash=False)
    print("wrote docs/wand.png and docs/superpixels.png")
    viewer.close()
    shutil.rmtree(recovery, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
