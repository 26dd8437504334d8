"""Make docs/scribble.png and docs/cleanup.png: the assist tools on the sample.

Run under Xvfb on a headless machine::

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshot_assist.py

scribble.png: a nucleus scribbled inside (white) and round (red), its region
previewed before Enter. cleanup.png: the dock's clean-up buttons after
splitting an instance drawn over two nuclei.
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


def settle() -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(20):
        QApplication.processEvents()


def main() -> int:
    recovery = tempfile.mkdtemp(prefix="segtool-screenshot-")
    os.environ["NAPARI_SEGTOOL_RECOVERY_DIR"] = recovery
    import napari

    from napari_segtool import PLUGIN_NAME
    from napari_segtool._napari.painter import paint
    from napari_segtool._napari.sample import SAMPLE_IMAGE_NAME
    from napari_segtool._napari.scribble import scribbler_of
    from napari_segtool.tools.edit import ProposedEdit

    viewer = napari.Viewer(title="napari-segtool")
    viewer.window.resize(1500, 950)
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    binding = dock.binding
    layer = binding.layer
    nucleus = binding.document.ontology.class_by_name("Nucleus").feature_schema_id
    image = viewer.layers[SAMPLE_IMAGE_NAME].data
    nuclei = label(image[..., 2] > 120)
    regions = sorted(regionprops(nuclei), key=lambda region: -region.area)[:6]

    # scribble.png: one nucleus scribbled, previewed
    binding.start_instance(nucleus)
    row, col = regions[0].centroid
    radius = np.sqrt(regions[0].area / np.pi)
    layer.brush_size = 3
    scribbler = scribbler_of(layer, viewer)
    scribbler.start()
    inside = radius / 3
    scribbler.add_stroke([(row - inside, col - inside), (row + inside, col + inside)])
    angles = np.linspace(0, 2 * np.pi, 40)
    ring = [(row + (radius + 10) * np.sin(a), col + (radius + 10) * np.cos(a)) for a in angles]
    scribbler.add_stroke(ring, background=True)
    viewer.scene.camera.center = (row, col)
    viewer.scene.camera.zoom = 6
    settle()
    viewer.screenshot(str(HERE / "scribble.png"), canvas_only=False, flash=False)
    scribbler.commit()
    scribbler.stop()

    # cleanup.png: the clean-up buttons after splitting one instance drawn over two nuclei
    binding.start_instance(nucleus)
    two = np.isin(nuclei, [regions[1].label, regions[2].label])
    paint(layer, ProposedEdit.from_mask(two, int(layer.selected_label), replaces={0}))
    split_id = int(layer.selected_label)
    dock.select_rows([split_id])
    dock.cleanup_panel.buttons["split"].click()
    dock.sections["classes"].collapse(animate=False)
    dock.sections["questions"].collapse(animate=False)
    dock.select_rows([split_id])
    viewer.reset_view()
    settle()
    viewer.screenshot(str(HERE / "cleanup.png"), canvas_only=False, flash=False)
    print("wrote docs/scribble.png and docs/cleanup.png")
    viewer.close()
    shutil.rmtree(recovery, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
