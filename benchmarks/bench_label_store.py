"""Bounding boxes and counts from the label store, against the ways they were computed before.

Measured in the same run:

* **compact ids**: a 4096 x 4096 ``uint16`` image holding ~5,000 square
  instances with ids 1..5,000. Ours, ``label_store(labels).bounding_boxes()``,
  against a bare ``scipy.ndimage.find_objects(labels)`` (the best case for
  find_objects: its per-id table is dense). The ratio should be near 1.
  Counts: ours against ``np.unique(labels, return_counts=True)``, the way the
  layer binding counted before.
* **sparse huge ids**: the same instances with ids spread over
  ``[2**40, 2**62]`` (``int64``). Ours against the old fallback of
  ``formats/polygons.py`` (``np.unique(return_inverse=True)``, then
  find_objects on the compact numbering). Bare find_objects cannot run here:
  its table would hold one entry per id up to ``2**62``.
* **tiny image, huge id**: a 4 x 4 ``uint32`` image holding id 60,000,000.
  Ours against ``find_objects(labels, max_label=60_000_000)``, the old
  ``formats/masks.py`` path (about 2.4 GB and 11 s; ``--skip-huge-table`` to
  leave it out on a small machine).

Times are CPU seconds of this process (``time.process_time``: other work on a
shared machine does not count against either side), the best of ``--repeat``
rounds; peaks are ``tracemalloc`` peaks of one run.

    python benchmarks/bench_label_store.py [--size 4096] [--instances 5000]
        [--repeat 3] [--skip-huge-table]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from scipy import ndimage

from napari_segtool.model.label_store import label_store


def make_labels(size: int, count: int, seed: int = 0) -> np.ndarray:
    """Squares of side 10-80 px at random places, ids 1..count (later ones on top)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), dtype=np.uint16)
    for label_id in range(1, count + 1):
        side = int(rng.integers(10, 80))
        row, col = rng.integers(0, size - side, 2)
        labels[row : row + side, col : col + side] = label_id
    return labels


def spread_ids(labels: np.ndarray, seed: int = 1) -> np.ndarray:
    """The same instances with huge, sparse ids (0 stays background)."""
    rng = np.random.default_rng(seed)
    huge = np.sort(rng.choice(2**62 - 2**40, size=int(labels.max()), replace=False)) + 2**40
    lookup = np.concatenate([[0], huge]).astype(np.int64)
    return lookup[labels]


def old_sparse_boxes(labels: np.ndarray) -> dict[int, tuple[slice, ...]]:
    """The fallback ``formats/polygons.py`` had for ids above 2**20."""
    values, inverse = np.unique(labels, return_inverse=True)
    skip = int(np.count_nonzero(values <= 0))
    compact = inverse.reshape(labels.shape).astype(np.intp) - (skip - 1)
    compact[compact < 1] = 0
    windows = ndimage.find_objects(compact, max_label=len(values) - skip)
    return {int(v): w for v, w in zip(values[skip:], windows, strict=True) if w is not None}


def old_counts(labels: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(labels, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}


def measure(work, repeat: int) -> tuple[float, float, object]:
    """Best CPU seconds over ``repeat`` runs, tracemalloc peak (MB) of one more, the result."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        result = work()
        best = min(best, time.process_time() - start)
    tracemalloc.start()
    try:
        work()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return best, peak, result


def report(name: str, ours, baseline, baseline_name: str) -> None:
    (cpu, peak, _), (base_cpu, base_peak, _) = ours, baseline
    print(
        f"{name:<34} ours {cpu:8.4f} s CPU {peak:8.1f} MB   {baseline_name:<24} "
        f"{base_cpu:8.4f} s CPU {base_peak:8.1f} MB   ratio {base_cpu / cpu:7.2f}x CPU, "
        f"{base_peak / max(peak, 1e-3):7.2f}x memory"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-huge-table", action="store_true")
    args = parser.parse_args()

    labels = make_labels(args.size, args.instances)
    store = label_store(labels)
    print(f"{args.size} x {args.size} labels, {len(store.ids())} instances present")

    ours = measure(store.bounding_boxes, args.repeat)
    bare = measure(lambda: ndimage.find_objects(labels), args.repeat)
    expected = {i + 1: w for i, w in enumerate(bare[2]) if w is not None}
    assert ours[2] == expected
    report("boxes, compact ids", ours, bare, "bare find_objects")
    ours_counts = measure(store.counts, args.repeat)
    unique_counts = measure(lambda: old_counts(labels), args.repeat)
    assert ours_counts[2] == unique_counts[2]
    report("counts, compact ids", ours_counts, unique_counts, "np.unique counts")

    sparse = spread_ids(labels)
    sparse_store = label_store(sparse)
    ours = measure(sparse_store.bounding_boxes, args.repeat)
    old = measure(lambda: old_sparse_boxes(sparse), args.repeat)
    assert ours[2] == old[2]
    report("boxes, sparse huge ids", ours, old, "np.unique + find_objects")
    ours_counts = measure(sparse_store.counts, args.repeat)
    unique_counts = measure(lambda: old_counts(sparse), args.repeat)
    assert ours_counts[2] == unique_counts[2]
    report("counts, sparse huge ids", ours_counts, unique_counts, "np.unique counts")

    tiny = np.zeros((4, 4), dtype=np.uint32)
    tiny[1:3, 2] = 60_000_000
    ours = measure(label_store(tiny).bounding_boxes, args.repeat)
    name = "boxes, 4 x 4 with id 60,000,000"
    if args.skip_huge_table:
        print(f"{name:<34} ours {ours[0]:8.4f} s CPU {ours[1]:8.1f} MB")
        return
    table = measure(lambda: ndimage.find_objects(tiny, max_label=60_000_000), 1)
    assert ours[2] == {60_000_000: table[2][-1]}
    report(name, ours, table, "find_objects max_label")


if __name__ == "__main__":
    main()
