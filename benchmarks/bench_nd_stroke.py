"""A brush stroke on a 64 x 1024 x 1024 stack with 5,000 instances: the plugin vs napari alone.

Two copies of the same stack (uint32, 256 MiB each, 5,000 instances of
3 x 10 x 10 voxels) sit in two headless viewers (``ViewerModel``, sliders on
slice 32):

- **napari alone**: a plain Labels layer, nothing of the plugin listening;
- **plugin**: a segmentation layer with its session (binding and pixel counts
  from napari's history atoms, lock guard with 100 instances locked, pen,
  status-bar feedback, canvas keys) and the instance table (its Qt model in a
  ``QTableView``, updated before the stroke's time stops). The session's
  autosaver is switched off here: ``bench_autosave_nd.py`` measures it.

Each stroke is the same mouse drag through napari's mouse callbacks (press,
moves, release: napari's brush, or the plugin's pen around it), brush 20,
across 300 pixels of the slice; strokes alternate between the two layers
(so load on the machine hits both alike), at random places crossing
instances. A **2-D stroke** paints in the slice; a **3-D stroke**
(``n_edit_dimensions = 3``) paints a ball through the neighbouring slices at
each dab. Printed: medians of ``--repeat`` strokes and the ratio plugin /
napari alone (target: at most 1.5x).

    python benchmarks/bench_nd_stroke.py [--slices 64] [--size 1024] [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from napari.components import ViewerModel
from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)
from qtpy.QtWidgets import QApplication, QTableView

from napari_segtool import load_default_ontology
from napari_segtool._napari.autosave import autosaver_of
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.session import session_for
from napari_segtool._qt.instance_table import InstanceTableModel
from napari_segtool.model.document import Document

INSTANCES = 5000
LOCKED = 100
BRUSH = 20
LENGTH = 300
MOVES = 30


@dataclass
class MouseEvent:
    """What napari's brush and the pen read of a canvas mouse event."""

    type: str
    position: tuple[float, ...]
    dims_displayed: tuple[int, ...]
    modifiers: tuple[str, ...] = ()
    button: int = 1
    is_dragging: bool = False
    view_direction: tuple[float, ...] | None = None
    pos: tuple[float, float] = (0.0, 0.0)
    camera_zoom: float = 1.0
    handled: bool = False


def stack(slices: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = np.zeros((slices, size, size), dtype=np.uint32)
    for label in range(1, INSTANCES + 1):
        z = int(rng.integers(0, slices - 3))
        y, x = (int(v) for v in rng.integers(0, size - 12, 2))
        data[z : z + 3, y : y + 10, x : x + 10] = label
    return data


def drag(layer, points, plane: int) -> None:
    """Press, move through ``points``, release: a stroke through napari's mouse callbacks."""
    displayed = (layer.ndim - 2, layer.ndim - 1)

    def event(kind, point, dragging=False):
        position = (float(plane), float(point[0]), float(point[1]))
        return ReadOnlyWrapper(MouseEvent(kind, position, displayed, is_dragging=dragging))

    mouse_press_callbacks(layer, event("mouse_press", points[0]))
    for point in points[1:]:
        mouse_move_callbacks(layer, event("mouse_move", point, dragging=True))
    mouse_release_callbacks(layer, event("mouse_release", points[-1]))


def stroke_points(rng, size: int) -> list[tuple[float, float]]:
    y0, x0 = rng.uniform(BRUSH, size - LENGTH - BRUSH, 2)
    angle = rng.uniform(0, np.pi / 2)
    t = np.linspace(0, LENGTH, MOVES)
    return [(y0 + s * np.sin(angle), x0 + s * np.cos(angle)) for s in t]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=64)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    data = stack(args.slices, args.size)
    plane = args.slices // 2

    plain_viewer = ViewerModel()
    plain = plain_viewer.add_labels(data.copy(), name="napari alone")
    data_before = data.copy()
    ontology = load_default_ontology()
    classes = [c.feature_schema_id for c in ontology.segmentation_classes]
    document = Document(ontology)
    with document.instance_added.blocked():
        for n in range(INSTANCES):
            document.add_instance(n + 1, classes[n % len(classes)])
    viewer = ViewerModel()
    session_for(viewer)
    layer = viewer.add_labels(data, **segmentation_layer_kwargs(document, "plugin"))
    binding = binding_of(layer)
    autosaver_of(layer).disconnect()  # measured by bench_autosave_nd.py
    for label_id in range(1, LOCKED + 1):
        document.set_locked(label_id * (INSTANCES // LOCKED), True)
    model = InstanceTableModel()
    view = QTableView()
    view.setModel(model)
    model.set_binding(binding)
    view.resize(500, 600)
    view.show()
    app.processEvents()
    assert model.rowCount() == len(binding.visible_instance_ids())
    for v in (plain_viewer, viewer):
        v.dims.set_current_step(0, plane)
    for target in (plain, layer):
        target.mode = "paint"
        target.brush_size = BRUSH

    rng = np.random.default_rng(1)
    print(
        f"{args.slices}x{args.size}x{args.size} uint32 stack, {INSTANCES} instances "
        f"({LOCKED} locked), brush {BRUSH}, {LENGTH}-pixel strokes of {MOVES} mouse events, "
        f"median of {args.repeat}"
    )
    for edit_dims, name in ((2, "2-D stroke"), (3, "3-D stroke (n_edit_dimensions=3)")):
        for target in (plain, layer):
            target.n_edit_dimensions = edit_dims
        times: dict[str, list[float]] = {"napari": [], "plugin": []}
        for _ in range(args.repeat):
            points = stroke_points(rng, args.size)
            label = int(rng.integers(1, INSTANCES))
            label += label % (INSTANCES // LOCKED) == 0  # a locked id paints nothing
            for key, target in (("napari", plain), ("plugin", layer)):
                target.selected_label = label
                start = time.perf_counter()
                drag(target, points, plane)
                app.processEvents()  # the table's rows
                times[key].append(time.perf_counter() - start)
        base, plugin = (statistics.median(times[k]) for k in ("napari", "plugin"))
        print(f"  {name}")
        print(f"    napari alone (no plugin listening):  {base * 1e3:8.1f} ms")
        print(f"    plugin + table update:               {plugin * 1e3:8.1f} ms")
        print(f"    ratio plugin / napari alone:         {plugin / base:8.2f}x (target <= 1.5x)")
    # the same work on both layers: they differ only where the plugin kept locked voxels
    differ = np.asarray(layer.data) != np.asarray(plain.data)
    kept = np.asarray(layer.data)[differ]
    assert np.isin(kept, sorted(binding.lock_guard.protected_ids)).all(), "strokes differed"
    assert np.count_nonzero(np.asarray(plain.data) != data_before), "nothing was painted"
    values, counts = np.unique(np.asarray(layer.data), return_counts=True)
    expected = {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}
    assert binding.pixel_counts == expected, "the table's counts drifted from the pixels"


if __name__ == "__main__":
    main()
