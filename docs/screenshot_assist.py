"""Make the assist tools' screenshots on the sample, mid-use: docs/wand.png,
docs/superpixels.png, docs/scribble.png and docs/cleanup.png.

Run under Xvfb on a headless machine::

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/screenshot_assist.py

It drives napari as a user would: the sample through File > Open Sample, the
dock's buttons, and mouse events through the layer's own callbacks. wand.png:
five nuclei by one click each, a sixth mid-drag with its live outline.
superpixels.png: the boundaries and a cell given whole superpixels.
scribble.png: a nucleus scribbled inside (white) and round (red), its region
previewed before Enter. cleanup.png: the clean-up buttons after splitting an
instance drawn over two nuclei.
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


def settle() -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(20):
        QApplication.processEvents()


def open_sample():
    """A viewer with the cells sample and the dock; the sample's nuclei, largest first."""
    import napari

    from napari_segtool import PLUGIN_NAME
    from napari_segtool._napari.sample import SAMPLE_IMAGE_NAME

    viewer = napari.Viewer(title="napari-segtool")
    viewer.window.resize(1500, 950)
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    image = viewer.layers[SAMPLE_IMAGE_NAME].data
    nuclei = label(image[..., 2] > 120)
    regions = sorted(regionprops(nuclei), key=lambda region: -region.area)[:6]
    return viewer, dock, nuclei, regions


def wand_and_superpixels() -> None:
    from napari_segtool._napari import compat
    from napari_segtool._napari.superpixels import superpixels_of
    from napari_segtool._napari.wand import wand_of

    viewer, dock, _nuclei, regions = open_sample()
    binding = dock.binding
    layer = binding.layer
    ontology = binding.document.ontology
    centres = [tuple(int(c) for c in region.centroid) for region in regions]
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
    viewer.close()


def scribble_and_cleanup() -> None:
    from napari_segtool._napari.painter import paint
    from napari_segtool._napari.scribble import scribbler_of
    from napari_segtool.tools.edit import ProposedEdit

    viewer, dock, nuclei, regions = open_sample()
    binding = dock.binding
    layer = binding.layer
    nucleus = binding.document.ontology.class_by_name("Nucleus").feature_schema_id

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
    viewer.close()


def main() -> int:
    recovery = tempfile.mkdtemp(prefix="segtool-screenshot-")
    os.environ["NAPARI_SEGTOOL_RECOVERY_DIR"] = recovery
    wand_and_superpixels()
    scribble_and_cleanup()
    print("wrote docs/wand.png, docs/superpixels.png, docs/scribble.png and docs/cleanup.png")
    shutil.rmtree(recovery, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
