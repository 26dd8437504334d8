"""Batch throughput: v1 exports to COCO on 1 and 2 workers against a plain loop, and
``measure`` against ``regionprops_table`` on the whole label image.

Run: python benchmarks/bench_batch.py [--exports 500] [--size 1024] [--instances 50]
                                      [--measure-size 4096] [--measure-instances 5000]
The defaults are the issue's sizes; pass smaller ones on a busy machine. Prints
times and the ratios measured in this run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from napari_segtool.batch import convert, measure_labels
from napari_segtool.batch.engine import RunOptions
from napari_segtool.formats import registry
from napari_segtool.model.document import Document
from tests.batch.exports import fish_ontology, scene, write_batch


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def plain_loop(exports: list[Path], out: Path) -> None:
    """The library calls one after the other, as a script would (read, write COCO)."""
    coco = registry.get("coco")
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for export in exports:
            result = registry.format_for(export).read(export)
            coco.write(out / f"{export.stem}.coco.json", result.labels, result.images)


def bench_convert(args, folder: Path) -> None:
    print(f"writing {args.exports} exports of {args.size}² with {args.instances} instances…")
    write_batch(folder / "in", args.exports, size=args.size, instances=args.instances)
    exports = sorted((folder / "in").glob("export_????.json"))
    loop = timed(lambda: plain_loop(exports, folder / "loop"))
    print(f"plain loop (read, write COCO): {loop:.1f} s")
    times = {}
    for workers in (1, 2):
        options = RunOptions(workers=workers, quiet=True)
        startup = timed(
            lambda o=options, w=workers: convert(
                [str(p) for p in exports[:w]], "coco", folder / f"start{w}", o
            )
        )
        work = timed(
            lambda o=options, w=workers: convert(
                [str(p) for p in exports], "coco", folder / f"w{w}", o
            )
        )
        times[workers] = work - startup
        print(
            f"{workers} worker(s): {work:.1f} s for the command, {times[workers]:.1f} s "
            f"({args.exports / times[workers]:.1f} exports/s) without the {startup:.1f} s "
            "of a command on one export per worker (processes, imports)"
        )
    print(f"  2 workers vs 1 worker: {times[1] / times[2]:.2f}x")
    print(f"  1 worker vs plain loop: {loop / times[1]:.2f}x (a command also scans the inputs,")
    print("  assembles each output from its per-image parts and reads it back row by row)")


def bench_measure(args) -> None:
    from skimage.measure import regionprops_table

    ontology = fish_ontology()
    labels, instances, image = scene(args.measure_size, args.measure_instances, 0, ontology)
    document = Document(ontology=ontology, instances=instances)
    grey = image[..., 0]
    props = ("label", "area", "centroid", "bbox", "perimeter", "eccentricity", "solidity")
    props += ("intensity_mean", "intensity_min", "intensity_max")
    whole = timed(lambda: regionprops_table(labels, grey, properties=props))
    ours = timed(lambda: measure_labels(labels, document, grey))
    print(
        f"measure {args.measure_size}² with {args.measure_instances} instances: "
        f"regionprops_table {whole:.2f} s, measure {ours:.2f} s (answers and classes "
        f"included), ratio {ours / whole:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=int, default=500)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--measure-size", type=int, default=4096)
    parser.add_argument("--measure-instances", type=int, default=5000)
    args = parser.parse_args()
    np.random.seed(0)
    with tempfile.TemporaryDirectory() as folder:
        bench_convert(args, Path(folder))
    bench_measure(args)


if __name__ == "__main__":
    main()
