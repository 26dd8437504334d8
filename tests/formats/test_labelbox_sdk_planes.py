"""A stack written one data row per plane is read by the real Labelbox SDK
(``labelbox==4.0.0``'s v1 converter) as ordinary 2-D labels: every plane's masks and
answers, the same featureId on every plane of an object."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from napari_segtool.formats import registry
from tests.formats.test_labelbox_sdk_interop import CHECKER
from tests.formats.test_planes import stack_item
from tests.labelbox_sdk import SDK4

# one mask file per plane and object: the same featureId is on several planes
PLANE_CHECKER = CHECKER.replace(
    'out_dir / f"{feature_id}.npy"', 'out_dir / f"{len(report)}-{feature_id}.npy"'
)


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    return SDK4.ensure()


@pytest.mark.parametrize("shape", [(5, 30, 40), (2, 3, 30, 40)])
def test_labelbox_sdk_reads_every_plane(sdk_python, tmp_path, shape):
    item, _ = stack_item(shape, tmp_path)
    export = tmp_path / "stack.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry.get("labelbox-v1").write(
            export, [item], image_base_url="https://images.example/stacks"
        )
    rows = json.loads(export.read_text())
    assert assert_plane_names(rows)
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    script = tmp_path / "check_with_sdk.py"
    script.write_text(PLANE_CHECKER)
    result = subprocess.run(
        [sdk_python, script, export, drawn, ""], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    labels = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(labels) == len(rows)
    by_feature = {i.feature_id: i for i in item.document.instances.values()}
    per_object_planes: dict[str, int] = {}
    for n, (label, row) in enumerate(zip(labels, rows, strict=True)):
        index = tuple(row["napari_segtool"]["plane"]["index"])
        plane = item.data[index]
        assert label["row_data"] == "https://images.example/stacks/cells.tif"
        painted = np.zeros(plane.shape, bool)
        for obj in label["objects"]:
            instance = by_feature[obj["feature_id"]]
            mask = np.load(drawn / f"{n}-{obj['feature_id']}.npy").astype(bool)
            np.testing.assert_array_equal(mask, plane == instance.label_id)
            assert obj["schema_id"] == instance.schema_id
            painted |= mask
            per_object_planes[obj["feature_id"]] = per_object_planes.get(obj["feature_id"], 0) + 1
        np.testing.assert_array_equal(painted, plane != 0)
        assert [c["answer"] for c in label["classifications"]] == ["stack answer"]
    for feature_id, count in per_object_planes.items():
        label_id = by_feature[feature_id].label_id
        planes = {idx for idx in np.ndindex(*shape[:-2]) if (item.data[idx] == label_id).any()}
        assert count == len(planes)


def assert_plane_names(rows) -> bool:
    return all(row["External ID"].startswith("cells.tif#") for row in rows)


@pytest.fixture(scope="session")
def sdk7_python() -> Path:
    from tests.labelbox_sdk import SDK7

    return SDK7.ensure()


@pytest.mark.parametrize("shape", [(5, 30, 40), (2, 3, 30, 40)])
def test_labelbox_sdk_7_validates_and_draws_every_plane_line(sdk7_python, tmp_path, shape):
    from tests.formats.test_labelbox_ndjson_sdk import CHECKER as NDJSON_CHECKER
    from tests.labelbox_sdk import run_in_sdk

    item, _ = stack_item(shape, tmp_path)
    path = tmp_path / "stack.ndjson"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry.get("labelbox-ndjson").write(path, [item])
    lines = path.read_text().splitlines()
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    report = json.loads(
        run_in_sdk(sdk7_python, NDJSON_CHECKER, tmp_path, path, drawn).splitlines()[-1]
    )
    by_feature = {i.feature_id: i for i in item.document.instances.values()}
    masks = [json.loads(line) for line in lines if "mask" in json.loads(line)]
    assert len(report["objects"]) == len(masks) > len(by_feature)  # objects on several planes
    for obj in report["objects"]:
        line = json.loads(lines[obj["line"]])
        index = tuple(line["napari_segtool"]["plane"]["index"])
        instance = by_feature[line["napari_segtool"]["featureId"]]
        assert obj["data_row"] == {"globalKey": line["dataRow"]["globalKey"]}
        assert obj["data_row"]["globalKey"].startswith("cells.tif#")
        sdk_mask = np.load(drawn / f"{obj['line']}.npy")
        np.testing.assert_array_equal(sdk_mask, (item.data[index] == instance.label_id))
    uuids = [o["uuid"] for o in report["objects"]] + [c["uuid"] for c in report["classifications"]]
    assert len(set(uuids)) == len(uuids) == len(lines)
