"""The Labelbox NDJSON reader through napari: other NDJSON declined, a bad export or import
adds no layer, several labels of a row open as one segmentation layer each, a saved import
opens again."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from napari.layers import Image, Labels

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of, is_segmentation_layer
from napari_segtool._napari.io_labelbox_v2 import get_reader
from napari_segtool._napari.io_ndjson_writer import export_ndjson_layer
from napari_segtool.formats.labelbox_ndjson import instance_uuid

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
EXPORT = "export_v2.fish.ndjson"
READER = f"{PLUGIN_NAME}.get_labelbox_v2_reader"
PROJECT = "ck0fishproject0000000001"


@pytest.fixture
def folder(tmp_path) -> Path:
    for name in ("tank.png", "ontology.fish.json", EXPORT):
        shutil.copy(REFERENCE / name, tmp_path / name)
    (tmp_path / "export_v2_masks").mkdir()
    shutil.copy(
        REFERENCE / "export_v2_masks" / "tank.composite.png",
        tmp_path / "export_v2_masks" / "tank.composite.png",
    )
    return tmp_path


def row() -> dict:
    return json.loads((REFERENCE / EXPORT).read_text())


def write(folder: Path, rows: list[dict]) -> Path:
    path = folder / EXPORT
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_other_ndjson_is_declined(tmp_path, folder):
    other = tmp_path / "tokens.ndjson"
    other.write_text('{"text": "hello", "label": 1}\n')
    imports = tmp_path / "import.ndjson"
    imports.write_text('{"uuid": "u", "dataRow": {"globalKey": "tank.png"}, "name": "Water"}\n')
    assert get_reader(str(other)) is None
    assert get_reader(str(imports)) is not None  # an annotation import is read too
    assert get_reader(str(REFERENCE / "export_v1.fish.json")) is None
    assert get_reader([str(folder / EXPORT), str(folder / EXPORT)]) is None
    assert get_reader(str(folder / EXPORT)) is not None


def shared_colour(data: dict) -> None:
    objects = data["projects"][PROJECT]["labels"][0]["annotations"]["objects"]
    objects[1]["composite_mask"]["color_rgb"] = objects[0]["composite_mask"]["color_rgb"]


def bad_url(data: dict) -> None:
    objects = data["projects"][PROJECT]["labels"][0]["annotations"]["objects"]
    objects[3]["composite_mask"]["url"] = "../../elsewhere.png"


@pytest.mark.parametrize("spoil", [shared_colour, bad_url])
def test_a_bad_export_adds_no_layer(make_napari_viewer, folder, spoil):
    viewer = make_napari_viewer()
    data = row()
    spoil(data)
    good = row()  # a good row before the bad one: nothing of it is added either
    path = write(folder, [good, data])
    with pytest.raises(ValueError, match=str(path)):
        viewer.open(str(path), plugin=READER)
    assert len(viewer.layers) == 0


def test_a_truncated_file_adds_no_layer(make_napari_viewer, folder):
    viewer = make_napari_viewer()
    text = json.dumps(row())
    path = folder / EXPORT
    path.write_text(text + "\n" + text[: len(text) // 2])
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        viewer.open(str(path), plugin=READER)
    assert len(viewer.layers) == 0


def test_several_labels_open_as_one_layer_each(make_napari_viewer, folder):
    data = row()
    review = copy.deepcopy(data["projects"][PROJECT])
    review["name"] = "Review"
    for n, obj in enumerate(review["labels"][0]["annotations"]["objects"]):
        obj["feature_id"] = f"ck0reviewobject{n:010d}"
    data["projects"]["ck0fishproject0000000002"] = review
    viewer = make_napari_viewer()
    viewer.open(str(write(folder, [data])), plugin=READER)
    assert [type(layer) for layer in viewer.layers] == [Image, Labels, Labels]
    layers = [layer for layer in viewer.layers if is_segmentation_layer(layer)]
    assert [layer.name for layer in layers] == [
        "tank segmentation (Fish tank)",
        "tank segmentation (Review)",
    ]
    np.testing.assert_array_equal(layers[0].data, layers[1].data)
    first, second = (document_of(layer) for layer in layers)
    assert first is not second and len(first) == len(second) == 4
    # each layer is edited on its own
    first.remove_instance(1)
    assert len(second) == 4


@pytest.mark.parametrize("suffix", [".ndjson", ".jsonl"])
def test_file_open_picks_this_reader_by_itself(make_napari_viewer, folder, suffix):
    path = (folder / EXPORT).rename(folder / f"tank{suffix}")
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin=None)  # no plugin chosen: as File > Open and drag and drop
    (labels,) = [layer for layer in viewer.layers if is_segmentation_layer(layer)]
    assert len(document_of(labels)) == 4


@pytest.mark.parametrize("masks", ["png", "composite"])
def test_a_saved_import_reopens_through_napari(make_napari_viewer, folder, masks):
    """Open the export, save its segmentation as an NDJSON import, open that: same pixels,
    answers and image; the uuids are the featureIds, and saving again keeps them."""
    viewer = make_napari_viewer()
    viewer.open(str(folder / EXPORT), plugin=READER)
    (labels,) = [layer for layer in viewer.layers if is_segmentation_layer(layer)]
    saved = folder / "tank.ndjson"
    document = document_of(labels)
    document.source.pop("data_row_id")  # named by its global key: the image beside it opens
    export_ndjson_layer(labels, saved, masks=masks)
    first_lines = saved.read_text().splitlines()

    again = make_napari_viewer()
    again.open(str(saved), plugin=READER)
    assert [type(layer) for layer in again.layers] == [Image, Labels]
    reopened = again.layers[1]
    np.testing.assert_array_equal(reopened.data, labels.data)
    np.testing.assert_array_equal(again.layers[0].data, viewer.layers[0].data)
    back = document_of(reopened)
    for label_id, instance in document.instances.items():
        assert back.instances[label_id].feature_id == instance_uuid(instance.feature_id)
        assert back.instances[label_id].answers == instance.answers
    assert back.image_answers == document.image_answers
    export_ndjson_layer(reopened, folder / "again.ndjson", masks=masks)
    uuids = [
        json.loads(line)["uuid"] for line in (folder / "again.ndjson").read_text().splitlines()
    ]
    assert uuids == [json.loads(line)["uuid"] for line in first_lines]


def test_a_bad_import_adds_no_layer(make_napari_viewer, folder):
    viewer = make_napari_viewer()
    viewer.open(str(folder / EXPORT), plugin=READER)
    (labels,) = [layer for layer in viewer.layers if is_segmentation_layer(layer)]
    saved = folder / "tank.ndjson"
    export_ndjson_layer(labels, saved)
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    lines[2]["mask"]["png"] = "%%%"
    saved.write_text("".join(json.dumps(line) + "\n" for line in lines))
    again = make_napari_viewer()
    with pytest.raises(ValueError, match=r"line 3.*not valid base64"):
        again.open(str(saved), plugin=READER)
    assert len(again.layers) == 0
