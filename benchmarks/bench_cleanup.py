"""Instance clean-up on the instance's bounding box vs the same operation on the whole image.

A 4096 x 4096 uint32 label image holds 400 cells (disks of radius 20 with a
hole, a spur and a stray speck); one of them is cleaned. Timed in the same
run, each the median of ``--repeat`` rounds (``time.perf_counter``):

- **box**: what the dock's button computes: the operation on the instance's
  bounding box plus its margin (:func:`napari_segtool.tools.cleanup.new_shape`
  on the crop), with the box given (the dock gets it from one
  ``find_objects`` pass; that pass is timed on its own as **find box**);
- **full**: the same operation on the whole image's mask of the instance.

Both give the same pixels (checked). Reported: full / box, and full / (box +
find box).

    python benchmarks/bench_cleanup.py [--size 4096] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from skimage.draw import disk

from napari_segtool.model.label_store import label_store
from napari_segtool.tools import cleanup
from napari_segtool.tools.cleanup import CleanupOptions

LABEL = 1


def make_labels(size: int) -> np.ndarray:
    labels = np.zeros((size, size), dtype=np.uint32)
    rng = np.random.default_rng(1)
    step = size // 20
    label = 1
    for row in range(step // 2, size, step):
        for col in range(step // 2, size, step):
            centre = (row + rng.integers(-5, 5), col + rng.integers(-5, 5))
            labels[disk(centre, 20, shape=labels.shape)] = label
            labels[disk(centre, 4, shape=labels.shape)] = 0
            labels[centre[0] : centre[0] + 2, centre[1] + 18 : centre[1] + 26] = label
            labels[centre[0] - 30, centre[1]] = label
            label += 1
    return labels


def median_time(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    labels = make_labels(args.size)
    options = CleanupOptions(radius=2, distance=3, min_size=20)
    find, boxes = median_time(lambda: label_store(labels).bounding_boxes([LABEL]), args.repeat)
    box = boxes[LABEL]
    print(f"{args.size} x {args.size}, 400 cells; find box {find * 1000:.1f} ms")
    print(f"{'operation':<14}{'box ms':>10}{'full ms':>10}{'full/box':>10}{'incl. find':>12}")
    for operation in cleanup.OPERATIONS:
        region = cleanup.window(box, labels.shape, cleanup.margin(operation, options), (0, 1))
        if operation == cleanup.SPLIT:

            def on_box(region=region):
                return cleanup.split_pieces(labels[region], LABEL, (0, 1))

            def on_full():
                return cleanup.split_pieces(labels, LABEL, (0, 1))

        else:

            def on_box(region=region, operation=operation):
                return cleanup.new_shape(labels[region], LABEL, operation, options, (0, 1))

            def on_full(operation=operation):
                return cleanup.new_shape(labels, LABEL, operation, options, (0, 1))

        box_time, box_result = median_time(on_box, args.repeat)
        full_time, full_result = median_time(on_full, 1)
        if operation == cleanup.SPLIT:
            assert [int(p.sum()) for p in box_result] == [int(p.sum()) for p in full_result]
        else:
            placed = np.zeros(labels.shape, dtype=bool)
            placed[region] = box_result
            assert np.array_equal(placed, full_result), operation
        print(
            f"{operation:<14}{box_time * 1000:>10.2f}{full_time * 1000:>10.1f}"
            f"{full_time / box_time:>10.0f}{full_time / (box_time + find):>12.1f}"
        )


if __name__ == "__main__":
    main()
