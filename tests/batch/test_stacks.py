"""Batch commands on files holding stacks one data row / COCO image per plane."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from napari_segtool.__main__ import main
from napari_segtool.batch.inputs import scan
from napari_segtool.formats import registry
from napari_segtool.formats.result import LabelsItem
from tests.formats.test_planes import EXTENSIONS, assert_same_stack, stack_item

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return registry.format_for(path).read(path)


@pytest.fixture
def stacks(tmp_path):
    """A 3-D stack, a 2-D image and a 4-D stack written to one Labelbox v1 export."""
    folder = tmp_path / "in"
    folder.mkdir()
    three, _ = stack_item((5, 30, 40), folder)
    other, _ = stack_item((5, 30, 40), folder / "..", image=False)  # fresh featureIds
    other.document.source = {"external_id": "flat.png"}
    flat = LabelsItem(np.asarray(other.data[2]), other.document, "flat")
    four, _ = stack_item((2, 3, 30, 40), folder / "..", image=False)
    four.document.source = {"external_id": "time.tif"}
    export = folder / "stacks.json"
    registry.get("labelbox-v1").write(export, [three, flat, four])
    return export, [three, flat, four]


def test_the_planes_of_a_stack_are_one_unit(stacks, monkeypatch):
    from napari_segtool.batch import inputs

    export, _ = stacks
    monkeypatch.setattr(inputs, "MAX_TASKS_PER_FILE", 100)  # one row per unit when alone
    units = scan(export)
    # rows: 3 planes of the 3-D stack, the flat row, 2 x 3 planes of the 4-D stack (its
    # empty planes are not written: t=0,z=0 and t=0,z=1 ... see stack_item)
    groups = [g for unit in units for g in unit.groups()]
    assert [len(g) for g in groups] == [3, 1, len(groups[2])]
    assert len(units[0].read().labels) == 1
    assert units[0].read().labels[0].data.shape == (5, 30, 40)


@pytest.mark.parametrize("target", ["coco", "labelbox-ndjson", "labelbox-v1"])
def test_convert_keeps_every_stack(stacks, tmp_path, target):
    export, originals = stacks
    out = tmp_path / "out"
    code = main(
        ["convert", str(export), "--to", target, "--out", str(out), "--workers", "1", "--quiet"]
    )
    assert code == 0
    read = _read(out / f"stacks{EXTENSIONS[target]}")
    assert [item.data.shape for item in read.labels] == [(5, 30, 40), (30, 40), (2, 3, 30, 40)]
    locks = target != "labelbox-ndjson"
    assert_same_stack(originals[0], read.labels[0], locks)
    assert_same_stack(originals[2], read.labels[2], locks)


def test_measure_gives_volumes_of_stacks(stacks, tmp_path):
    export, originals = stacks
    table_path = tmp_path / "table.csv"
    code = main(["measure", str(export), "--out", str(table_path), "--workers", "1", "--quiet"])
    assert code == 0
    table = pd.read_csv(table_path)
    three = originals[0]
    nucleus = next(i for i in three.document.instances.values() if i.label_id == 4)
    row = table[table["featureId"] == nucleus.feature_id]
    assert row["volume"].tolist() == [int(np.count_nonzero(three.data == 4))]
    four = originals[2]
    for label_id, instance in four.document.instances.items():
        row = table[table["featureId"] == instance.feature_id]
        assert row["volume"].tolist() == [int(np.count_nonzero(four.data == label_id))]
        where = np.nonzero(four.data == label_id)
        assert row["bbox-0"].item() == where[0].min()
        assert row["bbox-7"].item() == where[3].max() + 1
        assert row["centroid-3"].item() == pytest.approx(where[3].mean())


def test_merge_keeps_every_stack(stacks, tmp_path):
    export, originals = stacks
    out = tmp_path / "merged"
    args = ["convert", str(export), "--to", "coco", "--merge", "--out", str(out)]
    assert main([*args, "--workers", "1", "--quiet"]) == 0
    read = _read(out / "merged.coco.json")
    assert [item.data.shape for item in read.labels] == [(5, 30, 40), (30, 40), (2, 3, 30, 40)]
    assert_same_stack(originals[0], read.labels[0])
    assert_same_stack(originals[2], read.labels[2])
    assert (out / "cells.tif").is_file()  # the stack's image, copied beside the file
