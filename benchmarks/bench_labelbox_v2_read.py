"""Reading a Labelbox export v2 whose label is one composite mask, against decoding the
composite once per object.

A 4096 x 4096 composite PNG holds 300 disk-shaped instances (radius 15-100 px), one colour
each, named by 300 objects of one label. Measured in the same run:

* **reader**: ``read_export`` of the NDJSON (the composite decoded once, its non-background
  pixels matched against the objects' colours);
* **one decode**: Pillow decoding the composite once, the floor any reader pays;
* **per object**: for each object, decode the composite and ``labels[packed == colour] = id``
  (what a loop over the objects does when each fetches "its" mask).

Times are CPU seconds of this process (``time.process_time``) and wall seconds, the best of two
runs after a warm-up read. The per-object loop is timed on ``--naive-sample`` objects and scaled
to all of them.

    python benchmarks/bench_labelbox_v2_read.py [--size 4096] [--instances 300]
        [--naive-sample 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.bench_labelbox_io import build_scene
from napari_segtool.formats.labelbox_ndjson import read_export


def timed(function, *args, **kwargs):
    cpu, wall = time.process_time(), time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def best_of(runs: int, function, *args):
    """The run with the least CPU time."""
    return min((timed(function, *args) for _ in range(runs)), key=lambda run: run[1])


def colour_of(label_id: int) -> list[int]:
    """Distinct, never black: spread over the cube so neighbours differ."""
    packed = (label_id * 2654435761) % 0xFFFFFF or 1
    return [packed >> 16, (packed >> 8) & 255, packed & 255]


def write_export(folder: Path, labels: np.ndarray, count: int) -> Path:
    colours = np.zeros((count + 1, 3), np.uint8)
    for label_id in range(1, count + 1):
        colours[label_id] = colour_of(label_id)
    Image.fromarray(colours[labels]).save(folder / "composite.png")
    objects = [
        {
            "feature_id": f"cbench{label_id:019d}",
            "feature_schema_id": "cbenchclass0000000000000",
            "name": "Cell",
            "value": "cell",
            "annotation_kind": "ImageSegmentationMask",
            "classifications": [],
            "composite_mask": {"url": "composite.png", "color_rgb": colour_of(label_id)},
        }
        for label_id in range(1, count + 1)
    ]
    height, width = labels.shape
    row = {
        "data_row": {"id": "cbenchrow", "global_key": "bench.png", "row_data": "bench.png"},
        "media_attributes": {"height": height, "width": width},
        "projects": {"p": {"name": "Bench", "labels": [{"annotations": {"objects": objects}}]}},
    }
    path = folder / "bench.ndjson"
    path.write_text(json.dumps(row) + "\n")
    return path


def decode_once(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def per_object(path: Path, shape: tuple[int, int], label_ids: list[int]) -> np.ndarray:
    labels = np.zeros(shape, np.uint32)
    for label_id in label_ids:
        rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.uint32)
        packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        red, green, blue = colour_of(label_id)
        labels[packed == ((red << 16) | (green << 8) | blue)] = label_id
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--naive-sample", type=int, default=10)
    args = parser.parse_args()
    labels, _ = build_scene(args.size, args.instances)
    pixels = int(np.count_nonzero(labels))
    print(
        f"{args.size} x {args.size} composite, {args.instances} instances, "
        f"{pixels} instance pixels ({100 * pixels / labels.size:.1f}% of the image)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_export(folder, labels, args.instances)
        read_export(path)  # warm-up: imports, Pillow's plugins, the allocator
        rows, read_cpu, read_wall = best_of(2, read_export, path)
        (layer,) = rows[0].layers
        assert len(layer.document) == args.instances
        assert np.array_equal(layer.labels > 0, labels > 0)
        _, once_cpu, once_wall = best_of(2, decode_once, folder / "composite.png")
        sample = list(range(1, min(args.naive_sample, args.instances) + 1))
        _, naive_cpu, naive_wall = timed(per_object, folder / "composite.png", labels.shape, sample)
        scale = args.instances / len(sample)
        naive_cpu, naive_wall = naive_cpu * scale, naive_wall * scale
    print(f"reader          {read_cpu:7.2f} s CPU {read_wall:7.2f} s wall")
    print(f"one PNG decode  {once_cpu:7.2f} s CPU {once_wall:7.2f} s wall")
    print(
        f"per object      {naive_cpu:7.2f} s CPU {naive_wall:7.2f} s wall "
        f"(timed on {len(sample)} objects, scaled to {args.instances})"
    )
    print(f"reader / one decode: {read_cpu / once_cpu:.2f}x CPU")
    ratio_cpu, ratio_wall = naive_cpu / read_cpu, naive_wall / read_wall
    print(f"per object / reader: {ratio_cpu:.1f}x CPU, {ratio_wall:.1f}x wall")


if __name__ == "__main__":
    main()
