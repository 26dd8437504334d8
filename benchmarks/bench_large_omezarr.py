"""A segmentation larger than memory in OME-Zarr: open, paint, save in place, export.

Made offline in a temporary folder (removed afterwards): a 32,768 x 32,768
``uint8`` image (1024 x 1024 chunks, a pyramid down to 1024 pixels a side,
written chunk by chunk from a function of the coordinates, as
``formats/ome_zarr/tissue.py`` makes the sample) and its label group: 900
disc-shaped instances, streamed into
the store by the plugin's writer (a 4 GiB ``uint32`` array that never exists
in memory: the discs go into a plain zarr array on disk, chunk by chunk, which
the writer streams like any chunked source).

Then, in a fresh process (so that its peak memory is its own):

* **open**: the store through the format registry's reader (model level: the
  label group comes back as a ``ChunkedLabels`` over the group's own arrays);
  wall time, the growth of peak RSS (``ru_maxrss``) and tracemalloc's peak;
* **strokes**: 100 disc strokes (radius 12-20 pixels, each a new instance)
  written into the ``ChunkedLabels`` with ``write`` (each within one chunk or
  two, so a stroke costs its chunks and their pyramid pixels), against the
  same read-modify-write of the same discs on an in-memory 4096 x 4096 numpy
  array (the baseline, measured in the same run): per-stroke time and ratio;
* **save**: into the group it was read from, only the chunks changed; the
  chunk files written must equal the chunks the strokes' boxes touch, on every
  pyramid level (computed here from the boxes by the nearest-neighbour rule);
* **export**: all 1,000 instances as COCO RLE (bounding boxes in one pass over
  the stored chunks, then each instance's box).

``--with-napari`` adds the napari level (needs a display): ``viewer.open`` of
the store, a brush drag on the editor window through napari's mouse callbacks
and the dock's save (``bench_large_window.py`` compares such a drag with a plain
layer's).

    python benchmarks/bench_large_omezarr.py [--size 32768] [--instances 900] [--strokes 100]
    xvfb-run -a python benchmarks/bench_large_omezarr.py --with-napari
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

CHUNK = 1024


def rss_mib() -> float:
    """Peak resident memory of this process (since the last :func:`reset_peak`), MiB.

    Linux's ``VmHWM``, which ``reset_peak`` sets back to the current size (so a
    phase's peak is its own, not the imports'); elsewhere ``ru_maxrss``.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss_mib()


def reset_peak() -> None:
    with contextlib.suppress(OSError):  # not Linux: the peaks are the process's
        Path("/proc/self/clear_refs").write_text("5")


def image_tile(y0: int, x0: int, height: int, width: int, step: int) -> np.ndarray:
    """Level pixels of a cheap texture: level pixel (y, x) shows level-0 pixel (y, x) * step."""
    ys = (np.arange(y0, y0 + height, dtype=np.int64) * step)[:, None]
    xs = (np.arange(x0, x0 + width, dtype=np.int64) * step)[None, :]
    return (((ys >> 4) ^ (xs >> 4)) & 0x3F | 0x80).astype(np.uint8)


def make_image_store(path: Path, size: int) -> list[tuple[int, int]]:
    """The image pyramid, chunk by chunk (memory: one chunk); returns the level shapes."""
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_multiscales_metadata

    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    shapes = [(size, size)]
    while shapes[-1][0] > CHUNK:
        shapes.append((shapes[-1][0] // 2, shapes[-1][1] // 2))
    for level, (height, width) in enumerate(shapes):
        array = root.create_array(
            str(level),
            shape=(height, width),
            chunks=(min(CHUNK, height), min(CHUNK, width)),
            dtype=np.uint8,
            dimension_names=("y", "x"),
        )
        for y in range(0, height, CHUNK):
            for x in range(0, width, CHUNK):
                h, w = min(CHUNK, height - y), min(CHUNK, width - x)
                array[y : y + h, x : x + w] = image_tile(y, x, h, w, 2**level)
    datasets = [
        {
            "path": str(level),
            "coordinateTransformations": [{"type": "scale", "scale": [2.0**level] * 2}],
        }
        for level in range(len(shapes))
    ]
    write_multiscales_metadata(root, datasets, fmt=FormatV05(), axes=["y", "x"], name="image")
    return shapes


def disc(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return yy**2 + xx**2 <= radius**2


def build(store: Path, size: int, instances: int) -> float:
    """The image and a segmentation of ``instances`` discs, streamed in; returns the seconds
    the plugin's writer took.

    The discs are painted into a plain zarr array beside the store (chunk by chunk on
    disk), which the writer streams into the label group like any chunked source.
    """
    import zarr

    from napari_segtool import load_default_ontology
    from napari_segtool.formats import registry
    from napari_segtool.formats.result import LabelsItem
    from napari_segtool.model.document import Document

    make_image_store(store, size)
    ontology = load_default_ontology()
    document = Document(ontology=ontology, source={"image_name": "image"})
    source = zarr.create_array(
        str(store.with_name("source.zarr")),
        shape=(size, size),
        chunks=(CHUNK, CHUNK),
        dtype=np.uint32,
        fill_value=0,
    )
    side = math.ceil(math.sqrt(instances))
    spacing = size // side
    rng = np.random.default_rng(15)
    shape = disc(40)
    for n in range(instances):
        y = (n // side) * spacing + spacing // 2 + int(rng.integers(-200, 200))
        x = (n % side) * spacing + spacing // 2 + int(rng.integers(-200, 200))
        box = (slice(y - 40, y + 41), slice(x - 40, x + 41))
        source[box] = np.where(shape, np.uint32(n + 1), source[box])
        document.add_instance(n + 1, ontology.classes[n % len(ontology.classes)].feature_schema_id)
    document.source["ome_zarr"] = {"path": str(store), "label_group": "cells", "version": "0.5"}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry.get("ome-zarr").write(store, [LabelsItem(source, document, "cells")])
    return time.perf_counter() - start


def stroke_plan(size: int, count: int, first_id: int) -> list[tuple[int, int, int, int]]:
    """``(row, column, radius, id)`` per stroke, a third of them across a chunk border."""
    rng = np.random.default_rng(7)
    plan = []
    for n in range(count):
        radius = int(rng.integers(12, 21))
        y, x = (int(v) for v in rng.integers(radius, size - radius - 1, 2))
        if n % 3 == 0:  # on a chunk border
            x = max(radius, min(size - radius - 1, (x // CHUNK) * CHUNK + int(rng.integers(-8, 8))))
        plan.append((y, x, radius, first_id + n))
    return plan


def paint(array, y: int, x: int, radius: int, label_id: int, write) -> None:
    box = (slice(y - radius, y + radius + 1), slice(x - radius, x + radius + 1))
    current = array[box]
    write(box, np.where(disc(radius), np.asarray(label_id, current.dtype), current))


def touched_chunks(plan, level_shapes) -> int:
    """Chunk files the strokes' boxes touch on every level (level pixel j shows j * n // m)."""
    size = level_shapes[0][0]
    total = 0
    for height, width in level_shapes:
        chunks = (min(CHUNK, height), min(CHUNK, width))
        found = set()
        for y, x, radius, _ in plan:
            spans = []
            for start, stop, m, c in (
                (y - radius, y + radius + 1, height, chunks[0]),
                (x - radius, x + radius + 1, width, chunks[1]),
            ):
                lo, hi = -((-start * m) // size), -((-stop * m) // size)
                spans.append(range(lo // c, (hi - 1) // c + 1) if hi > lo else range(0))
            found.update((r, c) for r in spans[0] for c in spans[1])
        total += len(found)
    return total


def measure(store: Path, strokes: int, with_napari: bool) -> dict:
    """The open / strokes / save / export phases, in this (fresh) process."""
    from napari_segtool.formats import registry
    from napari_segtool.model.chunked_labels import ChunkedLabels

    entry = registry.get("ome-zarr")
    warnings.simplefilter("ignore")
    out: dict = {"rss_start_mib": current_mib()}
    reset_peak()
    tracemalloc.start()
    start = time.perf_counter()
    result = entry.read(store)
    out["open_s"] = time.perf_counter() - start
    out["open_traced_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    out["rss_after_open_mib"] = rss_mib()
    (item,) = result.labels
    labels = item.data
    assert isinstance(labels, ChunkedLabels), type(labels)
    out["labels"] = repr(labels)

    plan = stroke_plan(labels.shape[0], strokes, max(item.document.instances) + 1)
    baseline = np.zeros((4096, 4096), np.uint32)
    baseline.fill(0)  # resident, as a layer's array is after its first paint

    def numpy_write(box, values):
        baseline[box] = values

    schema = item.document.ontology.classes[0].feature_schema_id
    times: dict[str, list[float]] = {"cold": [], "warm": [], "numpy": []}
    reset_peak()
    # cold: the first stroke into a chunk reads it from the store; warm: the same strokes
    # again, their chunks in memory. Interleaved with the baseline: the same machine load
    for phase in ("cold", "warm"):
        for y, x, radius, label_id in plan:
            start = time.perf_counter()
            paint(baseline, y % 4000 + 40, x % 4000 + 40, radius, label_id, numpy_write)
            times["numpy"].append(time.perf_counter() - start)
            start = time.perf_counter()
            paint(labels, y, x, radius, label_id, labels.write)
            times[phase].append(time.perf_counter() - start)
            item.document.instances.get(label_id) or item.document.add_instance(label_id, schema)
    for phase, values in times.items():
        out[f"stroke_ms_{phase}"] = 1000 * float(np.median(values))
    out["stroke_ratio_cold"] = out["stroke_ms_cold"] / out["stroke_ms_numpy"]
    out["stroke_ratio_warm"] = out["stroke_ms_warm"] / out["stroke_ms_numpy"]
    out["level0_chunks_dirty"] = labels.changed_chunk_count
    out["rss_after_strokes_mib"] = rss_mib()

    reset_peak()
    start = time.perf_counter()
    written = entry.write(store, [item])
    out["save_s"] = time.perf_counter() - start
    (group,) = written.details
    out["save_in_place"] = group.in_place
    out["chunks_written"] = group.chunks_written
    out["chunks_touched"] = touched_chunks(plan, labels.level_shapes)
    out["rss_after_save_mib"] = rss_mib()

    with tempfile.TemporaryDirectory() as tmp:
        reset_peak()
        start = time.perf_counter()
        registry.get("coco").write(Path(tmp) / "cells.coco.json", [item], segmentation="rle")
        out["export_s"] = time.perf_counter() - start
        coco = json.loads((Path(tmp) / "cells.coco.json").read_text())
    out["exported_instances"] = len(coco["annotations"])
    out["rss_after_export_mib"] = rss_mib()
    if with_napari:
        out["napari"] = napari_stroke(store)
    return out


def napari_stroke(store: Path) -> dict:
    """Through napari (needs a display, e.g. ``xvfb-run -a``): ``viewer.open`` of the store
    (the overview and the editor window), a brush drag on the editor through napari's
    mouse callbacks (``bench_large_window.py``'s, which compares it with a plain layer),
    and the dock's save back into the group."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import napari
    from bench_large_window import drag

    from napari_segtool._napari.autosave import autosaver_of
    from napari_segtool._napari.binding import binding_of
    from napari_segtool._napari.io_ome_zarr import save_ome_zarr
    from napari_segtool._qt.large_segmentation import wait_for_workers

    viewer = napari.Viewer(show=False)
    found: dict = {}
    start = time.perf_counter()
    viewer.open(str(store), plugin="napari-segtool")
    found["open_s"] = time.perf_counter() - start
    wait_for_workers()
    found["open_and_count_s"] = time.perf_counter() - start
    editor = viewer.layers["cells"]
    saver = autosaver_of(editor)
    if saver is not None:
        saver.disconnect()  # bench_autosave_nd.py measures autosave
    binding = binding_of(editor)
    binding.start_instance(binding.document.ontology.classes[0].feature_schema_id)
    editor.brush_size = 20
    y, x = (float(t) + 200 for t in editor.translate)
    strokes = [drag(editor, y + 40 * n, x) for n in range(10)]
    found["stroke_ms"] = 1000 * float(np.median(strokes))
    start = time.perf_counter()
    (group,) = save_ome_zarr(viewer, editor, store).details
    found["save_s"] = time.perf_counter() - start
    found["chunks_written"] = group.chunks_written
    viewer.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=32768)
    parser.add_argument("--instances", type=int, default=900)
    parser.add_argument("--strokes", type=int, default=100)
    parser.add_argument("--with-napari", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:  # the child process
        print(json.dumps(measure(args.measure, args.strokes, args.with_napari)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "large.ome.zarr"
        start = time.perf_counter()
        streamed = build(store, args.size, args.instances)
        built = time.perf_counter() - start
        gib = args.size**2 * 4 / 2**30
        print(
            f"{args.size} x {args.size} image and labels ({gib:.1f} GiB as uint32), "
            f"{args.instances} instances: built in {built:.1f} s "
            f"(labels streamed into the store in {streamed:.1f} s)"
        )
        command = [
            sys.executable,
            __file__,
            "--measure",
            str(store),
            "--strokes",
            str(args.strokes),
        ]
        if args.with_napari:
            command.append("--with-napari")
        child = subprocess.run(command, capture_output=True, text=True, check=False)
        if child.returncode:
            print(child.stderr, file=sys.stderr)
            raise SystemExit(child.returncode)
        found = json.loads(child.stdout.strip().splitlines()[-1])
    base = found["rss_start_mib"]
    print(f"open: {found['open_s']:.2f} s, peak RSS +{found['rss_after_open_mib'] - base:.0f} MiB")
    print(f"  (tracemalloc peak {found['open_traced_peak_mib']:.1f} MiB; {found['labels']})")
    print(
        f"stroke (median of {args.strokes}): {found['stroke_ms_cold']:.2f} ms cold (chunks read "
        f"from the store), {found['stroke_ms_warm']:.2f} ms warm, vs "
        f"{found['stroke_ms_numpy']:.3f} ms on an in-memory 4096 x 4096 numpy array: "
        f"ratio {found['stroke_ratio_cold']:.0f}x cold, {found['stroke_ratio_warm']:.0f}x warm "
        f"({found['level0_chunks_dirty']} level-0 chunks changed)"
    )
    print(
        f"save in place: {found['save_s']:.2f} s, {found['chunks_written']} chunk files written, "
        f"{found['chunks_touched']} touched by the strokes on all levels "
        f"({'equal' if found['chunks_written'] == found['chunks_touched'] else 'DIFFERENT'}; "
        f"in place: {found['save_in_place']})"
    )
    print(f"export COCO RLE: {found['exported_instances']} instances in {found['export_s']:.1f} s")
    print(
        "peak RSS of each phase over the resident size before opening: "
        + ", ".join(
            f"{phase} +{found[f'rss_after_{phase}_mib'] - base:.0f} MiB"
            for phase in ("open", "strokes", "save", "export")
        )
        + f" (before opening: {base:.0f} MiB, the imports)"
    )
    if "napari" in found:
        napari = found["napari"]
        print(
            f"napari: viewer.open {napari['open_s']:.2f} s ({napari['open_and_count_s']:.1f} s "
            f"with the first count), brush drag {napari['stroke_ms']:.0f} ms (median of 10), "
            f"save {napari['save_s']:.2f} s ({napari['chunks_written']} chunk files)"
        )


if __name__ == "__main__":
    main()
