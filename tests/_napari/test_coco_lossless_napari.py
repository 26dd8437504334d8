"""A real CVAT export opened in napari and saved back unedited gives what CVAT wrote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from napari.layers import Labels

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
coco_api = pytest.importorskip("pycocotools.coco")

CVAT = Path(__file__).parent.parent / "data" / "realworld" / "cvat-SakibAhmedShuva"
COMPARED = (
    "id",
    "image_id",
    "category_id",
    "segmentation",
    "iscrowd",
    "attributes",
    "area",
    "bbox",
)


def compared(coco: dict) -> dict:
    category = {c["id"]: c["name"] for c in coco["categories"]}
    return {
        a["id"]: dict({k: a[k] for k in COMPARED}, category=category[a["category_id"]])
        for a in coco["annotations"]
    }


def test_a_cvat_export_saved_from_napari_unedited_is_what_cvat_wrote(make_napari_viewer, tmp_path):
    source = CVAT / "annotations" / "instances_default.json"
    viewer = make_napari_viewer()
    layers = viewer.open(str(source), plugin=PLUGIN_NAME)
    segmentations = [layer for layer in layers if isinstance(layer, Labels)]
    assert segmentations and all(document_of(layer) is not None for layer in segmentations)

    viewer.layers.selection = set(segmentations)
    target = tmp_path / "again.coco.json"
    saved = viewer.layers.save(str(target), selected=True)
    assert saved == [str(target)]
    original, written = json.loads(source.read_text()), json.loads(target.read_text())
    assert compared(written) == compared(original)
    assert written["info"] == original["info"] and written["licenses"] == original["licenses"]

    # an instance painted in napari is saved from the layer's pixels, the others as read
    layer = segmentations[0]
    document = document_of(layer)
    label_id, instance = next(iter(document.instances.items()))
    annotation_id = document.source["coco_originals"][instance.feature_id]["annotation"]["id"]
    rows, cols = np.nonzero(layer.data == label_id)
    layer.brush_size = 3
    layer.paint((rows.min(), cols.min()), label_id, refresh=True)
    assert np.count_nonzero(layer.data == label_id) > len(rows)
    viewer.layers.save(str(target), selected=True)
    edited = compared(json.loads(target.read_text()))
    expected = compared(original)
    assert edited.pop(annotation_id) != expected.pop(annotation_id)
    # only annotations the brush painted over are rewritten too
    after = coco_api.COCO(str(target))
    np.testing.assert_array_equal(
        after.annToMask(after.anns[annotation_id]), layer.data == label_id
    )
    rewritten = [n for n in edited if edited[n] != expected[n]]
    before = coco_api.COCO(str(source))
    for n in rewritten:
        assert (before.annToMask(before.anns[n]) & (layer.data == label_id)).any()
