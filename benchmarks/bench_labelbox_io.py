"""Writing and reading a Labelbox v1 export, against the naive per-instance loop.

A 4096 x 4096 label image holds 300 disk-shaped instances (radius 15-100 px).
Measured in the same run:

* **write**: ``write_export`` (JSON, one RGBA mask PNG per instance, ontology,
  every file fsynced and the JSON committed last) versus the naive loop: for
  each instance ``labels == id``, a full-size RGBA array, saved with Pillow
  (default compression, no fsync);
* **re-save**: ``write_export`` again with nothing changed (every mask is
  encoded to find its content-named file, none is rewritten);
* **read**: ``read_export`` versus the naive loop: for each mask Pillow decodes
  the full image and ``labels[mask == 255] = id``.

Times are CPU seconds of this process (``time.process_time``: other work on a
shared machine does not count against either side) and wall seconds. The
writer must be at least 10x faster than the naive loop.

    python benchmarks/bench_labelbox_io.py [--size 4096] [--instances 300]
        [--naive-sample N]   # time the naive loops on N instances and scale up
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from napari_segtool import load_default_ontology
from napari_segtool.formats.labelbox_v1 import LabelboxFormatWarning, read_export, write_export
from napari_segtool.model.document import Document, Instance


def build_scene(size: int, count: int, seed: int = 0) -> tuple[np.ndarray, Document]:
    """Disks on a jittered grid, so all ``count`` instances keep their pixels."""
    rng = np.random.default_rng(seed)
    per_row = int(np.ceil(np.sqrt(count)))
    cell = size // per_row
    labels = np.zeros((size, size), np.uint32)
    for n in range(count):
        row, col = divmod(n, per_row)
        radius = int(rng.integers(15, min(100, cell // 2 - 2) + 1))
        centre_r = row * cell + int(rng.integers(radius, cell - radius))
        centre_c = col * cell + int(rng.integers(radius, cell - radius))
        rows, cols = np.ogrid[-radius : radius + 1, -radius : radius + 1]
        disk = rows**2 + cols**2 <= radius**2
        window = labels[
            centre_r - radius : centre_r + radius + 1, centre_c - radius : centre_c + radius + 1
        ]
        window[disk] = n + 1
    ontology = load_default_ontology()
    classes = [c.feature_schema_id for c in ontology.classes]
    document = Document(
        ontology=ontology,
        instances=[Instance(n + 1, classes[n % len(classes)]) for n in range(count)],
        source={"external_id": "bench.png", "labeled_data": "https://example.org/bench.png"},
    )
    return labels, document


def timed(function, *args, **kwargs):
    cpu, wall = time.process_time(), time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def naive_write(labels: np.ndarray, label_ids: list[int], folder: Path) -> None:
    for label_id in label_ids:
        mask = labels == label_id
        rgba = np.zeros((*labels.shape, 4), np.uint8)
        rgba[mask] = 255
        Image.fromarray(rgba).save(folder / f"{label_id}.png")


def naive_read(shape: tuple[int, int], folder: Path, label_ids: list[int]) -> np.ndarray:
    labels = np.zeros(shape, np.uint32)
    for label_id in label_ids:
        with Image.open(folder / f"{label_id}.png") as image:
            pixels = np.asarray(image)
        labels[pixels[..., 0] == 255] = label_id
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=0,
        help="time the naive loops on this many instances and scale up (0: all)",
    )
    args = parser.parse_args()

    labels, document = build_scene(args.size, args.instances)
    ids = sorted(document.instances)
    sample = ids if not args.naive_sample else ids[:: max(1, len(ids) // args.naive_sample)]
    scale = len(ids) / len(sample)
    print(
        f"{args.size} x {args.size} labels, {len(ids)} instances, {(labels > 0).sum()} pixels set"
    )

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        export = folder / "bench.json"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LabelboxFormatWarning)
            _, write_cpu, write_wall = timed(write_export, export, [(labels, document)])
            _, resave_cpu, resave_wall = timed(write_export, export, [(labels, document)])
            (row,), read_cpu, read_wall = timed(read_export, export)
        size_mb = sum(p.stat().st_size for p in (folder / "bench_masks").iterdir()) / 1e6
        # pixel-exact: the same instances (by featureId), the same pixels
        by_feature = {i.feature_id: i.label_id for i in row.document.instances.values()}
        for instance in document.instances.values():
            again = by_feature[instance.feature_id]
            assert np.array_equal(row.labels == again, labels == instance.label_id)

        naive = folder / "naive"
        naive.mkdir()
        _, naive_write_cpu, naive_write_wall = timed(naive_write, labels, sample, naive)
        naive_labels, naive_read_cpu, naive_read_wall = timed(
            naive_read, labels.shape, naive, sample
        )
        naive_mb = sum(p.stat().st_size for p in naive.iterdir()) / 1e6 * scale
        if not args.naive_sample:
            assert np.array_equal(naive_labels, labels)

    note = "" if scale == 1 else f" (measured on {len(sample)}, scaled x{scale:.1f})"
    rows = [
        ("write", write_cpu, write_wall, naive_write_cpu * scale, naive_write_wall * scale),
        ("read", read_cpu, read_wall, naive_read_cpu * scale, naive_read_wall * scale),
    ]
    print(f"{'':6} {'segtool cpu/wall s':>20} {'naive cpu/wall s':>20} {'ratio cpu (wall)':>18}")
    for name, cpu, wall, naive_cpu, naive_wall in rows:
        print(
            f"{name:6} {cpu:9.2f} / {wall:7.2f} {naive_cpu:9.2f} / {naive_wall:7.2f}"
            f" {naive_cpu / cpu:10.1f}x ({naive_wall / wall:.1f}x)"
        )
    print(f"re-save, nothing changed: {resave_cpu:.2f} / {resave_wall:.2f} s")
    print(f"mask files: {size_mb:.1f} MB here, {naive_mb:.1f} MB naive{note}")
    ratio = rows[0][3] / rows[0][1]
    print(f"writer speed-up {ratio:.1f}x (target >= 10x): {'OK' if ratio >= 10 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
