"""What the instance table's Slices column costs per stroke on a big stack.

Run: python benchmarks/bench_slice_ranges.py
A 64 x 1024 x 1024 label stack with 5,000 instances. Median times, measured in
the same run, of: one brush dab with the plugin's binding listening (pixel counts
from napari's history); the same dab plus the dabbed instance's slice range read
from the kept extents (what the table shows); and the dab plus the naive way, a
bounding box of every id over the whole stack. Also the range of an instance
that shrank (erased on its last slice), measured again inside its own box.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from napari.layers import Labels
from qtpy.QtWidgets import QApplication

from napari_segtool import load_default_ontology
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.painter import paint
from napari_segtool._qt.instance_table import InstanceTableModel
from napari_segtool.model.document import Document
from napari_segtool.model.label_store import label_store
from napari_segtool.tools.edit import ProposedEdit

SHAPE = (64, 1024, 1024)
BLOCKS = (8, 25, 25)  # 5,000 instances, each 8 slices deep
REPEATS = 15
NAIVE_REPEATS = 3


def build_layer() -> Labels:
    axes = [
        np.minimum(np.arange(size) // (size // blocks), blocks - 1)
        for size, blocks in zip(SHAPE, BLOCKS, strict=True)
    ]
    data = (
        axes[0][:, None, None] * BLOCKS[1] * BLOCKS[2]
        + axes[1][None, :, None] * BLOCKS[2]
        + axes[2][None, None, :]
        + 1
    ).astype(np.uint32)
    ontology = load_default_ontology()
    classes = [c.feature_schema_id for c in ontology.segmentation_classes]
    document = Document(ontology)
    with document.instance_added.blocked():
        for label_id in range(1, int(data.max()) + 1):
            document.add_instance(label_id, classes[label_id % len(classes)])
    return Labels(data, **segmentation_layer_kwargs(document, "bench"))


def main() -> None:
    app = QApplication.instance() or QApplication([])
    layer = build_layer()
    binding = binding_of(layer)
    model = InstanceTableModel()
    model.set_binding(binding)
    model.slice_range_text(1)  # the one full measurement, on first read
    layer.brush_size = 30
    rng = np.random.default_rng(0)

    def dab() -> int:
        z = int(rng.integers(0, SHAPE[0]))
        centre = rng.integers(100, SHAPE[1] - 100, size=2)
        label = int(rng.integers(1, 5001))
        layer.paint((z, *centre), label)
        return label

    def timed(action, repeats) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            action()
            app.processEvents()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    counts_only = timed(dab, REPEATS)
    with_ranges = timed(lambda: model.slice_range_text(dab()), REPEATS)
    naive = timed(lambda: (dab(), label_store(layer.data).bounding_boxes()), NAIVE_REPEATS)

    # shrinking: an instance's last slice erased (through the painter), then its range read
    def erase_last_slice() -> None:
        label = int(rng.integers(1, 5001))
        (_, last), (top, bottom), (left, right) = model.extents.extent(label)
        box = (slice(last, last + 1), slice(top, bottom + 1), slice(left, right + 1))
        paint(layer, ProposedEdit(box, np.asarray(layer.data[box]) == label, 0))
        model.slice_range_text(label)

    shrink = timed(erase_last_slice, REPEATS)

    print(f"{SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]} labels, 5000 instances, brush 30")
    print(f"  dab + pixel counts (binding only):          {counts_only * 1e3:9.2f} ms")
    print(f"  dab + counts + slice range from extents:    {with_ranges * 1e3:9.2f} ms")
    print(f"  dab + every bounding box over the stack:    {naive * 1e3:9.2f} ms")
    print(f"  erase a last slice + its range (shrink):    {shrink * 1e3:9.2f} ms")
    print(f"  ratio kept extents / counts only:           {with_ranges / counts_only:9.2f}x")
    print(f"  ratio naive / kept extents:                 {naive / with_ranges:9.1f}x")


if __name__ == "__main__":
    main()
