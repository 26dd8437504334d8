"""Masks to polygons (and COCO RLE) per bounding-box crop, against full-size tracing.

A 4096 x 4096 label image holds 300 disk-shaped instances (radius 15-100 px,
every third one with a hole). Measured in the same run:

* **ours**: ``instance_polygons(labels)``: one ``scipy.ndimage.find_objects``
  pass for all bounding boxes, then each instance traced inside its crop;
* **naive, SDK's way**: for each instance ``labels == id`` and a contour trace
  of that full-size mask (``skimage.measure.find_contours`` at 0.5 on the
  zero-padded mask; the Labelbox SDK does the same with
  ``cv2.findContours``);
* **naive, our tracer**: for each instance ``mask_polygons(labels == id)``:
  the same algorithm as ours, on the full-size mask (isolates the crop's gain);
* **COCO RLE**: ``build_coco`` (every annotation, RLE from the crop) against
  ``pycocotools.mask.encode`` of each full-size mask (when installed).

Times are CPU seconds of this process (``time.process_time``: other work on a
shared machine does not count against either side) and wall seconds.

    python benchmarks/bench_polygons.py [--size 4096] [--instances 300]
        [--naive-sample N]   # time the naive loops on N instances and scale up
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from skimage.draw import disk
from skimage.measure import find_contours

from napari_segtool import load_default_ontology
from napari_segtool.formats.coco import CocoImageInput, build_coco
from napari_segtool.formats.polygons import instance_polygons, mask_polygons
from napari_segtool.model.document import Document


def make_labels(size: int, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), dtype=np.uint16)
    for label_id in range(1, count + 1):
        radius = rng.uniform(15, 100)
        centre = rng.uniform(radius, size - radius, 2)
        labels[disk(centre, radius, shape=labels.shape)] = label_id
        if label_id % 3 == 0:
            labels[disk(centre, radius / 3, shape=labels.shape)] = 0
    return labels


class Timer:
    def __enter__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *_exc):
        self.cpu = time.process_time() - self.cpu
        self.wall = time.perf_counter() - self.wall


def naive_find_contours(labels: np.ndarray, ids) -> int:
    rings = 0
    for label_id in ids:
        rings += len(find_contours(np.pad(labels == label_id, 1).astype(np.uint8), 0.5))
    return rings


def naive_our_tracer(labels: np.ndarray, ids) -> int:
    return sum(len(mask_polygons(labels == label_id)) for label_id in ids)


def naive_pycocotools(labels: np.ndarray, ids) -> None:
    from pycocotools import mask as mask_utils

    for label_id in ids:
        mask_utils.encode(np.asfortranarray((labels == label_id).astype(np.uint8)))


def report(name: str, ours: Timer, naive: Timer, scale: float) -> None:
    cpu, wall = naive.cpu * scale, naive.wall * scale
    print(
        f"{name:<38} ours {ours.cpu:7.3f} s CPU ({ours.wall:7.3f} s wall)   "
        f"naive {cpu:8.2f} s CPU ({wall:8.2f} s wall)   ratio {cpu / ours.cpu:6.1f}x CPU, "
        f"{wall / ours.wall:6.1f}x wall"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--naive-sample", type=int, default=0, help="0: every instance")
    args = parser.parse_args()

    labels = make_labels(args.size, args.instances)
    ids = [int(i) for i in np.unique(labels) if i]
    sample = ids if not args.naive_sample else ids[:: max(1, len(ids) // args.naive_sample)]
    scale = len(ids) / len(sample)
    print(
        f"{args.size} x {args.size} labels, {len(ids)} instances present; naive loops timed "
        f"on {len(sample)} and scaled x{scale:.2f}"
    )

    with Timer() as ours:
        polygons = instance_polygons(labels)
    vertices = sum(len(r) for ps in polygons.values() for p in ps for r in p.rings)
    rings = sum(len(p.rings) for ps in polygons.values() for p in ps)
    print(f"ours: {rings} rings, {vertices} vertices (exact pixel-edge outlines)")

    with Timer() as naive:
        naive_find_contours(labels, sample)
    report("polygons vs find_contours full-size", ours, naive, scale)
    with Timer() as naive_same:
        naive_our_tracer(labels, sample)
    report("polygons vs our tracer full-size", ours, naive_same, scale)

    ontology = load_default_ontology()
    document = Document(ontology=ontology)
    class_id = ontology.classes[0].feature_schema_id
    for label_id in ids:
        document.add_instance(label_id, class_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Timer() as coco:
            build_coco([CocoImageInput(labels, document, "bench.png")])
    try:
        with Timer() as naive_coco:
            naive_pycocotools(labels, sample)
    except ImportError:
        print(f"COCO RLE (build_coco, all annotations)  ours {coco.cpu:.3f} s CPU; no pycocotools")
    else:
        report("COCO RLE vs pycocotools full-size", coco, naive_coco, scale)


if __name__ == "__main__":
    main()
