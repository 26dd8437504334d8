"""Reading COCO polygons: our exact rasteriser against pycocotools, measured in the same run.

A 4096 x 4096 image holds 300 polygon annotations like other tools write them
(disk outlines with 40-400 vertices at fractional coordinates, as CVAT and the
COCO dataset have). Measured:

* **ours**: :func:`~napari_segtool.formats.coco.polygon_pixels` per annotation,
  the pixels ``pycocotools`` gives, computed from the column crossings only;
* **crop**: ``pycocotools`` on each polygon shifted into its bounding box
  (``frPyObjects`` + ``decode`` of the crop), the reader's earlier path: fast,
  but off by a few pixels on 5-20 % of real polygons;
* **full-size**: ``COCO.annToMask`` per annotation (a full-size mask each), what
  a COCO user's script does (timed on a sample and scaled up).

Every annotation's pixels are checked equal to ``annToMask`` before timing.
Times are CPU seconds of this process (``time.process_time``) and wall seconds.

    python benchmarks/bench_coco_read.py [--size 4096] [--annotations 300] [--full-sample 20]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

from napari_segtool.formats.coco import decompress_counts, polygon_pixels, rle_pixels

warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)


def make_polygons(size: int, count: int, seed: int = 0) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    polygons = []
    for _ in range(count):
        radius = rng.uniform(15, 150)
        centre = rng.uniform(radius, size - radius, 2)
        vertices = int(rng.integers(40, 400))
        angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
        wobble = radius * rng.uniform(0.85, 1.0, vertices)
        x = centre[0] + wobble * np.cos(angles)
        y = centre[1] + wobble * np.sin(angles)
        polygons.append(np.round(np.column_stack([x, y]).ravel(), 2).tolist())
    return polygons


class Timer:
    def __enter__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_exc):
        self.cpu = time.process_time() - self.cpu
        self.wall = time.perf_counter() - self.wall


def crop_path(polygon: list[float], shape: tuple[int, int], coco_mask) -> np.ndarray:
    """The earlier reader: shift into the bounding box in floating point, rasterise the crop."""
    height, width = shape
    ring = np.asarray(polygon, float).reshape(-1, 2)
    x0, y0 = max(0, math.floor(ring[:, 0].min())), max(0, math.floor(ring[:, 1].min()))
    x1 = min(width, math.ceil(ring[:, 0].max()) + 1)
    y1 = min(height, math.ceil(ring[:, 1].max()) + 1)
    shifted = (ring - (x0, y0)).ravel().tolist()
    crop = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([shifted], y1 - y0, x1 - x0)))
    rows, cols = np.nonzero(crop)
    return rows + y0, cols + x0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--annotations", type=int, default=300)
    parser.add_argument("--full-sample", type=int, default=20, help="annToMask timed on N")
    args = parser.parse_args()
    from pycocotools import mask as coco_mask

    shape = (args.size, args.size)
    polygons = make_polygons(args.size, args.annotations)

    def full_size(polygon):
        return coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([polygon], *shape)))

    def pixel_set(rows, cols):
        return set((np.asarray(cols, np.int64) * shape[0] + rows).tolist())

    differ = 0
    for polygon in polygons:
        # annToMask's pixels, from its RLE (no full-size decode, so the check stays quick)
        rle = coco_mask.merge(coco_mask.frPyObjects([polygon], *shape))
        expected = pixel_set(*rle_pixels(decompress_counts(rle["counts"].decode()), shape))
        assert pixel_set(*polygon_pixels([polygon], shape)) == expected, "not annToMask's"
        differ += pixel_set(*crop_path(polygon, shape, coco_mask)) != expected
    print(
        f"{args.size} x {args.size}, {len(polygons)} polygons: ours equal annToMask on all; "
        f"the crop path differs on {differ} ({100 * differ / len(polygons):.0f} %)"
    )

    with Timer() as ours:
        for polygon in polygons:
            polygon_pixels([polygon], shape)
    with Timer() as crop:
        for polygon in polygons:
            crop_path(polygon, shape, coco_mask)
    sample = polygons[:: max(1, len(polygons) // args.full_sample)]
    with Timer() as full:
        for polygon in sample:
            full_size(polygon)
    scale = len(polygons) / len(sample)
    full.cpu, full.wall = full.cpu * scale, full.wall * scale
    for name, other in (
        ("crop path (pycocotools on crops)", crop),
        (f"annToMask full-size (x{scale:.0f} of {len(sample)})", full),
    ):
        print(
            f"ours {ours.cpu:6.3f} s CPU ({ours.wall:6.3f} s wall)   {name} {other.cpu:6.3f} s "
            f"CPU ({other.wall:6.3f} s wall)   ratio {other.cpu / ours.cpu:5.2f}x CPU, "
            f"{other.wall / ours.wall:5.2f}x wall"
        )


if __name__ == "__main__":
    main()
