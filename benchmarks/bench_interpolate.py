"""Interpolating one instance across a 20-slice gap of a 1024 x 1024 stack.

A 32 x 1024 x 1024 uint32 stack holds 200 small nuclei (other instances) and
one instance drawn on slices 5 and 26 (a disk of radius 60, then one of
radius 90 moved by 40 pixels): 20 empty slices between them.

Timed in the same run, each the median of ``--repeat`` rounds (CPU time of
this process, ``time.process_time``):

- **plugin**: what the *Interpolate* button does: find the instance's
  bounding box (one pass over the stack), signed distance maps of its box
  only, one painter call on a napari Labels layer (locks, draw to back, the
  undo step), undone (untimed) before the next round;
- **naive**: the per-slice loop over whole planes: for every slice of the gap,
  the signed distance maps of both annotated planes at full size, blended,
  thresholded and written with a boolean index.

Both give the same voxels (checked). The number reported is naive / plugin.

    python benchmarks/bench_interpolate.py [--size 1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from napari.layers import Labels
from scipy import ndimage

from napari_segtool._napari.interpolate import interpolate_instances

SLICES, LOW, HIGH, LABEL = 32, 5, 26, 7000


def stack(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = np.zeros((SLICES, size, size), dtype=np.uint32)
    yy, xx = np.ogrid[:size, :size]
    for label in range(1, 201):
        z = int(rng.integers(0, SLICES))
        cy, cx = (int(v) for v in rng.integers(20, size - 20, 2))
        r = int(rng.integers(5, 15))
        box = (slice(cy - r, cy + r + 1), slice(cx - r, cx + r + 1))
        data[z][box][((yy[box[0]] - cy) ** 2 + (xx[:, box[1]] - cx) ** 2) <= r * r] = label
    centre = size // 2
    data[LOW][(yy - centre) ** 2 + (xx - centre) ** 2 <= 60**2] = LABEL
    data[HIGH][(yy - centre - 40) ** 2 + (xx - centre) ** 2 <= 90**2] = LABEL
    return data


def naive(data: np.ndarray) -> None:
    """Per slice, whole planes: what a straightforward implementation does."""
    for k in range(LOW + 1, HIGH):
        first, last = data[LOW] == LABEL, data[HIGH] == LABEL
        sdf_first = ndimage.distance_transform_edt(~first) - ndimage.distance_transform_edt(first)
        sdf_last = ndimage.distance_transform_edt(~last) - ndimage.distance_transform_edt(last)
        t = (k - LOW) / (HIGH - LOW)
        data[k][(1 - t) * sdf_first + t * sdf_last < 0] = LABEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    original = stack(args.size)
    layer = Labels(original.copy())
    plugin_times, naive_times = [], []
    for _ in range(args.repeat):
        start = time.process_time()
        result = interpolate_instances(layer, [LABEL])
        plugin_times.append(time.process_time() - start)
        interpolated = np.asarray(layer.data).copy()
        layer.undo()
        copy = original.copy()
        start = time.process_time()
        naive(copy)
        naive_times.append(time.process_time() - start)
        assert np.array_equal(copy, interpolated), "plugin and naive loop disagree"
    assert np.array_equal(layer.data, original)
    plugin, slow = statistics.median(plugin_times), statistics.median(naive_times)
    print(
        f"stack {SLICES} x {args.size} x {args.size}, gap of {HIGH - LOW - 1} slices, "
        f"{result.changed} voxels filled"
    )
    print(f"plugin (bounding box, painter, undo step): {plugin * 1000:8.1f} ms")
    print(f"naive per-slice loop over full planes:     {slow * 1000:8.1f} ms")
    print(f"naive / plugin: {slow / plugin:.1f}x")


if __name__ == "__main__":
    main()
