"""The instance table's first fill of a large segmentation: ChunkedLabelStore vs the numpy store.

Measured in the same run, on a 16,384 x 16,384 ``uint32`` label image (1 GiB)
holding ~1,000 square instances (side 10-80 px, ids 1..1,000), in 1024 x 1024
chunks:

* **spread**: the instances anywhere in the image (every chunk written).
  Ours, ``ChunkedLabelStore(labels).counts_and_boxes()`` over a
  :class:`ChunkedLabels`, against ``NumpyLabelStore(array).counts()`` plus
  ``.bounding_boxes()`` on the same pixels as one numpy array in memory.
* **clustered**: the instances inside one 4096 x 4096 region (what a user
  edits of a huge image): the chunks never written are skipped.
* **zarr on disk**: the spread labels as a zarr array in a temporary folder.
  Ours reads it a chunk at a time; the baseline must first read it whole
  (``np.asarray``) to count it with the numpy store, so its peak includes the
  1 GiB array.

Times are CPU seconds of this process (``time.process_time``), the best of
``--repeat`` rounds; peaks are ``tracemalloc`` peaks of one run (of the scan;
the arrays already held are reported separately as "held").

    python benchmarks/bench_chunked_store.py [--size 16384] [--chunk 1024]
        [--instances 1000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import zarr

from napari_segtool.model.chunked_labels import ChunkedLabels
from napari_segtool.model.label_store import NumpyLabelStore
from napari_segtool.model.zarr_label_store import ChunkedLabelStore


def make_labels(size: int, count: int, extent: int, seed: int = 0) -> np.ndarray:
    """Squares of side 10-80 px inside the top-left ``extent`` square, ids 1..count."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), dtype=np.uint32)
    for label_id in range(1, count + 1):
        side = int(rng.integers(10, 80))
        row, col = rng.integers(0, extent - side, 2)
        labels[row : row + side, col : col + side] = label_id
    return labels


def chunked_from(labels: np.ndarray, chunk: int) -> ChunkedLabels:
    """The labels written chunk by chunk (only the chunks holding an instance)."""
    chunked = ChunkedLabels.create(labels.shape, chunks=(chunk, chunk), dtype=labels.dtype)
    for index in np.ndindex(*chunked.grid_shape()):
        region = chunked.chunk_region(index)
        if labels[region].any():
            chunked[region] = labels[region]
    return chunked


def measure(work, repeat: int) -> tuple[float, float, object]:
    """Best CPU seconds over ``repeat`` runs, tracemalloc peak (MB) of one more, the result."""
    best = float("inf")
    result = None
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


def numpy_fill(array: np.ndarray) -> tuple[dict, dict]:
    store = NumpyLabelStore(array)
    return store.counts(), store.bounding_boxes()


def report(name: str, ours, baseline, held: tuple[float, float]) -> None:
    (cpu, peak, _), (base_cpu, base_peak, _) = ours, baseline
    print(
        f"{name:<12} ours {cpu:7.3f} s CPU {peak:7.1f} MB peak {held[0]:7.0f} MB held   "
        f"numpy {base_cpu:7.3f} s CPU {base_peak:7.1f} MB peak {held[1]:7.0f} MB held   "
        f"time ratio (ours/numpy) {cpu / base_cpu:5.2f}, "
        f"peak ratio {peak / max(base_peak, 1e-3):6.3f}"
    )


def held_bytes(chunked: ChunkedLabels) -> float:
    """MB of the chunks a ChunkedLabels holds, over all its levels."""
    total = 0
    for level in range(len(chunked.levels)):
        for index in chunked.written_chunks(level):
            total += chunked.read_chunk(index, level).nbytes
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    size, chunk = args.size, args.chunk

    for name, extent in (("spread", size), ("clustered", min(size, 4096))):
        labels = make_labels(size, args.instances, extent)
        chunked = chunked_from(labels, chunk)
        written = len(chunked.written_chunks())
        ours = measure(ChunkedLabelStore(chunked).counts_and_boxes, args.repeat)
        baseline = measure(lambda labels=labels: numpy_fill(labels), args.repeat)
        assert ours[2] == baseline[2], "the stores disagree"
        print(
            f"{name}: {size} x {size} uint32, {len(ours[2][0])} instances present, "
            f"{written} of {int(np.prod(chunked.grid_shape()))} chunks written"
        )
        report(name, ours, baseline, (held_bytes(chunked), labels.nbytes / 2**20))
        if name == "spread":
            spread = labels
        del chunked

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "labels.zarr")
        on_disk = zarr.create_array(path, shape=spread.shape, chunks=(chunk, chunk), dtype="u4")
        on_disk[...] = spread
        del spread
        on_disk = zarr.open_array(path, mode="r")
        ours = measure(ChunkedLabelStore(on_disk).counts_and_boxes, args.repeat)
        baseline = measure(lambda: numpy_fill(np.asarray(on_disk[...])), args.repeat)
        assert ours[2] == baseline[2], "the stores disagree"
        report("zarr on disk", ours, baseline, (0.0, 0.0))


if __name__ == "__main__":
    main()
