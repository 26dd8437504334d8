"""Autosave after one stroke on a 64 x 1024 x 1024 stack with 5,000 instances.

The stack (uint32, 256 MiB) is bound as a segmentation layer (5,000
instances in its document) with an autosaver writing to a temporary folder.
A first autosave writes the full snapshot; then one brush stroke (a 9-pixel
brush dabbed every 3 pixels across 200 pixels of slice 32, through the
painter: one napari undo step and ``paint`` event with one history atom per
dab, as napari's brush makes) is made and autosaved, then a stroke four
times as long.

Measured in the same run:

- **UI thread**: what the autosaver does on the UI thread for the stroke
  (its handlers of the binding's signals: the boxes, the document snapshot,
  re-arming the idle timer), CPU time of the thread (``time.thread_time``;
  wall time, which includes other load on the machine, beside it), median
  of ``--repeat`` strokes;
- **full copy**: ``np.array(labels, copy=True)`` of the volume, the least a
  save of the whole volume would cost on the UI thread (median, same clocks);
- **bytes written** by each stroke's autosave (the delta file: the stroke's
  box of pixels and the changed instances of the document), before and after
  compression, against the bytes of the changed region and of the full
  snapshot file.

Targets: UI thread <= 5 % of the full copy; bytes proportional to the region.

    python benchmarks/bench_autosave_nd.py [--slices 64] [--size 1024] [--repeat 9]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import zipfile

import numpy as np
from napari.layers import Labels

from napari_segtool import load_default_ontology
from napari_segtool._napari.autosave import COMPACT_FRACTION, Autosaver
from napari_segtool._napari.binding import bind
from napari_segtool._napari.painter import paint
from napari_segtool.formats import recovery
from napari_segtool.model.document import Document
from napari_segtool.tools.edit import ProposedEdit

INSTANCES = 5000
#: the short stroke's length in pixels (the long one is four times as long)
SHORT = 200


class TimedAutosaver(Autosaver):
    """The autosaver, with the time its UI-thread handlers take added up."""

    ui_seconds = 0.0  # CPU time of the UI thread
    ui_wall = 0.0  # wall time (includes the machine's other load)

    def _on_pixels(self, boxes) -> None:
        start, wall = time.thread_time(), time.perf_counter()
        super()._on_pixels(boxes)
        self.ui_seconds += time.thread_time() - start
        self.ui_wall += time.perf_counter() - wall

    def _on_edit(self, *args) -> None:
        start, wall = time.thread_time(), time.perf_counter()
        super()._on_edit(*args)
        self.ui_seconds += time.thread_time() - start
        self.ui_wall += time.perf_counter() - wall


def stack(slices: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = np.zeros((slices, size, size), dtype=np.uint32)
    for label in range(1, INSTANCES + 1):
        z = int(rng.integers(0, slices - 3))
        y, x = (int(v) for v in rng.integers(0, size - 12, 2))
        data[z : z + 3, y : y + 10, x : x + 10] = label
    return data


def line(z: int, row: int, length: int, shape) -> list[ProposedEdit]:
    """A brush stroke as napari paints it: a dab of a 9-pixel disk every 3 pixels."""
    yy, xx = np.ogrid[-4:5, -4:5]
    disk = (yy**2 + xx**2 <= 16)[None]
    assert 50 + length + 5 <= shape[2]
    return [
        ProposedEdit((slice(z, z + 1), slice(row, row + 9), slice(x, x + 9)), disk, label=1)
        for x in range(50, 50 + length, 3)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=64)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    data = stack(args.slices, args.size)
    layer = Labels(data, name="stack")
    document = Document(load_default_ontology(), source={"image_name": "stack"})
    schema = document.ontology.segmentation_classes[0].feature_schema_id
    for label in range(1, INSTANCES + 1):
        document.add_instance(label, schema)
    binding = bind(layer, document)
    folder = tempfile.mkdtemp()
    saver = TimedAutosaver(binding, folder=folder, interval=3600)
    saver.mark_dirty()
    start = time.perf_counter()
    assert saver.flush(timeout=600)
    snapshot_seconds = time.perf_counter() - start

    copies, copy_walls = [], []
    for _ in range(args.repeat):
        start, wall = time.thread_time(), time.perf_counter()
        np.array(layer.data, copy=True)
        copies.append(time.thread_time() - start)
        copy_walls.append(time.perf_counter() - wall)
    full_copy = statistics.median(copies)

    def fresh_snapshot() -> None:
        saver.compact_fraction = 0.0  # the next autosave compacts
        saver.mark_dirty()
        assert saver.flush(timeout=600)
        saver.compact_fraction = COMPACT_FRACTION

    ui, ui_walls, saves = [], [], []
    for round_ in range(args.repeat):
        saver.ui_seconds = saver.ui_wall = 0.0
        paint(layer, line(args.slices // 2, 100 + 20 * round_, SHORT, data.shape))
        ui.append(saver.ui_seconds)
        ui_walls.append(saver.ui_wall)
        start = time.perf_counter()
        assert saver.flush(timeout=600)
        saves.append(time.perf_counter() - start)
    written = []
    for row, length in ((600, SHORT), (700, 4 * SHORT)):
        fresh_snapshot()
        deltas = saver.deltas_written
        paint(layer, line(args.slices // 2, row, length, data.shape))
        assert saver.flush(timeout=600) and saver.deltas_written == deltas + 1
        delta = recovery.delta_path(saver.path)
        with zipfile.ZipFile(delta) as archive:
            raw = sum(info.file_size for info in archive.infolist())
        written.append((length, (delta.stat().st_size, raw)))
    snapshot_bytes = saver.path.stat().st_size
    restored = recovery.read_recovery(saver.path).labels
    assert np.array_equal(restored, layer.data), "the recovery is not exact"

    ui_time = statistics.median(ui)
    print(
        f"stack {args.slices} x {args.size} x {args.size} uint32 "
        f"({data.nbytes / 2**20:.0f} MiB), {INSTANCES} instances"
    )
    print(f"full snapshot (background): {snapshot_seconds:.2f} s, {snapshot_bytes:,} bytes")
    copy_wall, ui_wall = statistics.median(copy_walls), statistics.median(ui_walls)
    print(
        f"full copy of the volume:    {full_copy * 1000:8.2f} ms CPU ({copy_wall * 1000:.2f} wall)"
    )
    print(f"UI thread per stroke:       {ui_time * 1000:8.2f} ms CPU ({ui_wall * 1000:.2f} wall)")
    print(
        f"UI thread / full copy:      {ui_time / full_copy:8.2%} CPU, "
        f"{ui_wall / copy_wall:.2%} wall (target <= 5 %)"
    )
    print(f"autosave of a stroke (background, median): {statistics.median(saves) * 1000:.1f} ms")
    for length, (size, raw) in written:
        region = 9 * length * data.itemsize
        print(
            f"stroke of 9 x {length:4d} pixels (region {region:,} bytes): delta file {size:,} "
            f"bytes ({size / snapshot_bytes:.2%} of the snapshot file), {raw:,} bytes before "
            "compression"
        )
    (short, (short_file, short_raw)), (long, (long_file, long_raw)) = written
    print(
        f"long / short stroke: region {long / short:.0f}x, before compression "
        f"{long_raw / short_raw:.2f}x, file {long_file / short_file:.2f}x"
    )


if __name__ == "__main__":
    main()
