"""Real COCO files opened with the dock: crowd regions marked in the table, boxes as Shapes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of
from napari_segtool._qt.instance_table import CLASS_COLUMN, CROWD_MARK, CROWD_TIP

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation:DeprecationWarning", "ignore::UserWarning"
)
REALWORLD = Path(__file__).parent.parent / "data" / "realworld"
ONE_IMAGE = REALWORLD / "cocoapi/PythonAPI/extra/samples/instances_val2017_1img-sample.json"
WITH_BOX = REALWORLD / "datumaro/coco_instances/annotations/instances_train.json"


@pytest.fixture
def viewer_and_dock(make_napari_viewer):
    viewer = make_napari_viewer()
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    return viewer, dock


def test_a_crowd_region_is_marked_in_the_table_and_saved_as_crowd(viewer_and_dock, tmp_path):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO

    viewer, dock = viewer_and_dock
    assert dock.open_file(ONE_IMAGE)
    (layer,) = [x for x in viewer.layers if type(x).__name__ == "Labels"]
    viewer.layers.selection.active = layer
    document = document_of(layer)
    (crowd,) = [i.label_id for i in document.instances.values() if i.crowd]
    model = dock.table_model
    row = model.row_of(crowd)
    assert model.data(model.index(row, CLASS_COLUMN)) == f"{CROWD_MARK} person"
    assert model.data(model.index(row, CLASS_COLUMN), Qt.ItemDataRole.FontRole).italic()
    assert model.data(model.index(row, CLASS_COLUMN), Qt.ItemDataRole.ToolTipRole) == CROWD_TIP
    others = [model.data(model.index(r, CLASS_COLUMN)) for r in range(model.rowCount()) if r != row]
    assert others and not any(CROWD_MARK in name for name in others)
    dock.table.resize(420, 300)
    assert dock.table.grab().save(str(tmp_path / "table.png"))

    target = tmp_path / "again.coco.json"
    assert dock.export_coco(target)
    written = json.loads(target.read_text())["annotations"]
    (saved,) = [a for a in written if a["iscrowd"] == 1]
    assert "label_id" not in saved.get("attributes", {})  # another tool's: none of our keys
    assert isinstance(saved["segmentation"]["counts"], list)  # uncompressed, as COCO's crowds
    mask = COCO(str(target)).annToMask(saved).astype(bool)
    # unchanged since reading: the crowd region as the file had it, pixels under others too
    original = COCO(str(ONE_IMAGE))
    (read,) = [a for a in original.dataset["annotations"] if a["iscrowd"] == 1]
    np.testing.assert_array_equal(mask, original.annToMask(read).astype(bool))
    assert (mask[layer.data == crowd]).all()


def test_boxes_open_as_a_shapes_layer_beside_image_and_masks(viewer_and_dock):
    viewer, dock = viewer_and_dock
    assert dock.open_file(WITH_BOX)
    kinds = [type(x).__name__ for x in viewer.layers]
    assert kinds == ["Image", "Labels", "Shapes"]  # the image from ../images/train/
    shapes = viewer.layers[-1]
    assert shapes.shape_type == ["rectangle"]
    annotation = json.loads(WITH_BOX.read_text())["annotations"][0]
    x, y, width, height = annotation["bbox"]
    np.testing.assert_allclose(
        shapes.data[0], [[y, x], [y, x + width], [y + height, x + width], [y + height, x]]
    )
    assert list(shapes.features["class"]) == ["b"]
    assert list(shapes.features["annotation id"]) == [annotation["id"]]
