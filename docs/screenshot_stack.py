"""Make docs/stack_sample.png: the 3-D nuclei sample with a few nuclei segmented through Z.

Run it under Xvfb on a headless machine (``xvfb-run -a python docs/screenshot_stack.py``).
The sample comes through napari's File > Open Sample command, the dock through the
Plugins menu; each nucleus is one instance across its slices, painted through the
plugin's painter (one undo step each), so the table shows their slice ranges.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from skimage.measure import label, regionprops

OUTPUT = Path(__file__).with_name("stack_sample.png")


def segment_nuclei(dock, stack: np.ndarray, count: int = 5) -> None:
    from napari_segtool._napari.painter import paint
    from napari_segtool.tools.edit import ProposedEdit

    binding = dock.binding
    layer = binding.layer
    nucleus = binding.document.ontology.class_by_name("Nucleus").feature_schema_id
    regions = sorted(regionprops(label(stack > 90)), key=lambda r: r.centroid[1])[:count]
    for region in regions:
        binding.start_instance(nucleus)
        box = region.slice
        paint(layer, ProposedEdit(box, region.image, layer.selected_label))
    first = min(binding.document.instances)
    binding.select_instance(first)
    dock.select_rows([first])
    dock.centre_on(first)  # the sliders to its middle slice


def main() -> int:
    recovery = tempfile.mkdtemp(prefix="segtool-screenshot-")
    os.environ["NAPARI_SEGTOOL_RECOVERY_DIR"] = recovery
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_segtool import PLUGIN_NAME
    from napari_segtool._napari.sample import STACK_IMAGE_NAME

    viewer = napari.Viewer(title="napari-segtool")
    viewer.window.resize(1500, 950)
    viewer.open_sample(PLUGIN_NAME, "nuclei-3d")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    segment_nuclei(dock, viewer.layers[STACK_IMAGE_NAME].data)
    for _ in range(20):
        QApplication.processEvents()
    viewer.reset_view()  # the whole plane in view (the canvas has its size now)
    QApplication.processEvents()
    viewer.screenshot(str(OUTPUT), canvas_only=False, flash=False)
    print(f"wrote {OUTPUT}")
    viewer.close()
    shutil.rmtree(recovery, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
