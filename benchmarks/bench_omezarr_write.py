"""Writing OME-Zarr labels: this plugin's label group against ome-zarr-py's plain ``write_labels``.

A 4096 x 4096 label image holds 300 disk-shaped instances (the scene of
``bench_labelbox_io.py``), saved into an OME-Zarr store holding a 4096 x 4096
image (NGFF 0.5, chunks 1024, three levels). Measured in the same run, on the
same array and the same store:

* **ours**: ``registry.get("ome-zarr").write``: the nearest-neighbour pyramid
  matching the image's levels and chunks, ``image-label`` colours and
  properties (class, featureId, answers, flags) for every instance, the
  ontology under ``napari_segtool``, written beside the old group and swapped in;
* **plain**: ``ome_zarr.writer.write_labels`` of the same array with the same
  levels and chunks and no colours or properties.

Best of ``--repeats`` wall seconds each; bytes on disk of each label group.

    python benchmarks/bench_omezarr_write.py [--size 4096] [--instances 300] [--version 0.5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import zarr
from ome_zarr.writer import write_image, write_labels

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_labelbox_io import build_scene

from napari_segtool.formats import registry
from napari_segtool.formats.ome_zarr.store import ngff_format
from napari_segtool.formats.result import LabelsItem


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def best_of(repeats: int, function) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--version", choices=("0.4", "0.5"), default="0.5")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    labels, document = build_scene(args.size, args.instances)
    print(f"{args.size} x {args.size} labels, {len(document)} instances, NGFF {args.version}")
    fmt = ngff_format(args.version)
    entry = registry.get("ome-zarr")
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = Path(tmp) / "image.ome.zarr"
        root = zarr.open_group(str(store), mode="w", zarr_format=fmt.zarr_format)
        image = np.zeros((args.size, args.size), np.uint8)
        write_image(
            image,
            root,
            scale_factors=[2, 4],
            fmt=fmt,
            axes="yx",
            storage_options={"chunks": (1024, 1024)},
        )
        item = LabelsItem(labels, document, "ours")

        def ours():
            entry.write(store, [item])

        runs = iter(range(args.repeats))

        def plain():  # a new group each time: write_labels refuses existing arrays
            write_labels(
                labels,
                root,
                name=f"plain{next(runs)}",
                scale_factors=[2, 4],
                fmt=fmt,
                axes="yx",
                scaler=None,
                storage_options={"chunks": (1024, 1024)},
            )

        plain_time = best_of(args.repeats, plain)
        ours_time = best_of(args.repeats, ours)
        ours_bytes = folder_bytes(store / "labels" / "ours")
        plain_bytes = folder_bytes(store / "labels" / "plain0")
        metadata_bytes = sum(
            p.stat().st_size
            for name in ("zarr.json", ".zattrs")
            for p in (store / "labels" / "ours").rglob(name)
        )
        (back,) = [i for i in entry.read(store).labels if i.name == "ours"]
        assert np.array_equal(back.data, labels) and len(back.document) == len(document)
    print(f"plain write_labels: {plain_time:.3f} s, {plain_bytes / 1e6:.2f} MB on disk")
    print(f"ours:               {ours_time:.3f} s, {ours_bytes / 1e6:.2f} MB on disk")
    time_ratio, bytes_ratio = ours_time / plain_time, ours_bytes / plain_bytes
    print(f"ours / plain: time {time_ratio:.2f}x, bytes {bytes_ratio:.2f}x")
    print(f"of ours, metadata (zarr.json / .zattrs): {metadata_bytes / 1e3:.1f} kB")


if __name__ == "__main__":
    main()
