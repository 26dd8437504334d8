"""convert and measure on a dask.distributed cluster give what the local run gives."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from napari_segtool.__main__ import main


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(
        host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as running:
        yield running


def _coco_files(folder):
    return {
        path.name: {k: v for k, v in json.loads(path.read_text()).items() if k != "info"}
        for path in sorted(folder.glob("*.coco.json"))
    }


def test_cluster_results_equal_the_local_run(batch, tmp_path, cluster):
    address = cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    exports = [str(p) for p in sorted(batch.glob("export_????.json"))[:30]]
    remote, local = tmp_path / "remote", tmp_path / "local"
    for out, where in ((remote, ["--scheduler", address]), (local, ["--workers", "1"])):
        assert (
            main(["convert", *exports, "--to", "coco", "--out", str(out / "c"), "--quiet", *where])
            == 0
        )
        assert (
            main(
                [
                    "convert",
                    *exports,
                    "--to",
                    "coco",
                    "--out",
                    str(out / "m"),
                    "--merge",
                    "--quiet",
                    *where,
                ]
            )
            == 0
        )
        assert main(["measure", *exports, "--out", str(out / "t.parquet"), "--quiet", *where]) == 0
    assert (
        _coco_files(remote / "c") == _coco_files(local / "c")
        and len(_coco_files(local / "c")) == 30
    )
    assert _coco_files(remote / "m") == _coco_files(local / "m")
    pd.testing.assert_frame_equal(
        pd.read_parquet(remote / "t.parquet"), pd.read_parquet(local / "t.parquet")
    )
    assert len(pd.read_parquet(local / "t.parquet")) == 30 * 4
