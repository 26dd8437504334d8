"""Writing a Labelbox NDJSON import with ``png`` masks: each instance encoded from its
bounding-box crop, against full-size masks.

A 4096 x 4096 label image holds 300 disk-shaped instances (the scene of
``bench_labelbox_io.py``). Measured in the same run:

* **crop**: ``write_ndjson`` (every line, base64 0/1 PNGs built from each
  instance's crop with precompressed zero rows, the file written atomically);
* **full**: what a full-size encoder does per instance, as the Labelbox SDK's
  serializer does: ``labels == id`` over the whole image, a full-size 0/1 8-bit
  array saved by Pillow (default compression), base64.

Both produce the same pixels (checked on the instances timed). Times are CPU
seconds of this process (``time.process_time``) and wall seconds.

    python benchmarks/bench_ndjson_write.py [--size 4096] [--instances 300]
        [--full-sample N]   # time the full-size masks on N instances and scale up (default 30)
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_labelbox_io import build_scene, timed

from napari_segtool.formats.labelbox_ndjson import NdjsonWriteWarning, write_ndjson


def full_size_masks(labels: np.ndarray, label_ids: list[int]) -> list[str]:
    encoded = []
    for label_id in label_ids:
        buffer = io.BytesIO()
        Image.fromarray((labels == label_id).astype(np.uint8)).save(buffer, format="PNG")
        encoded.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    return encoded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--full-sample", type=int, default=30)
    args = parser.parse_args()

    labels, document = build_scene(args.size, args.instances)
    ids = sorted(document.instances)
    sample = ids[:: max(1, len(ids) // args.full_sample)] if args.full_sample else ids
    scale = len(ids) / len(sample)
    print(f"{args.size} x {args.size} labels, {len(ids)} instances, {(labels > 0).sum()} pixels")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.ndjson"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NdjsonWriteWarning)
            _, crop_cpu, crop_wall = timed(write_ndjson, path, [(labels, document)])
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        crop_mb = path.stat().st_size / 1e6
    masks = {line["uuid"]: line["mask"]["png"] for line in lines if "mask" in line}
    assert len(masks) == len(ids)

    full, full_cpu, full_wall = timed(full_size_masks, labels, sample)
    ours = list(masks.values())
    for label_id, encoded in zip(sample, full, strict=True):
        theirs = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))
        mine = np.asarray(Image.open(io.BytesIO(base64.b64decode(ours[ids.index(label_id)]))))
        assert np.array_equal(mine, theirs)
    full_mb = sum(len(e) for e in full) / 1e6 * scale

    note = "" if scale == 1 else f" (full-size measured on {len(sample)}, scaled x{scale:.1f})"
    print(f"{'':5} {'cpu s':>8} {'wall s':>8} {'base64 MB':>10}")
    print(f"{'crop':5} {crop_cpu:8.2f} {crop_wall:8.2f} {crop_mb:10.1f}  (the whole file)")
    print(f"{'full':5} {full_cpu * scale:8.2f} {full_wall * scale:8.2f} {full_mb:10.1f}{note}")
    print(
        f"bbox-crop encoding vs full-size masks: {full_cpu * scale / crop_cpu:.1f}x cpu "
        f"({full_wall * scale / crop_wall:.1f}x wall)"
    )


if __name__ == "__main__":
    main()
