"""OME-Zarr in napari: the dock's *Save OME-Zarr…*, then napari-ome-zarr (another tool's
reader) and this plugin's reader open the same store."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image, Labels
from qtpy.QtWidgets import QFileDialog

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of, is_segmentation_layer
from napari_segtool._qt.dock import SegmentationDock
from napari_segtool.model.colours import instance_colour
from tests._qt.test_contributions import draw_two_instances, masks_by_feature, open_sample
from tests.ome_zarr_samples import another_tools_store


@pytest.fixture
def saved_store(make_napari_viewer, tmp_path):
    """The cells sample with two instances (one locked) saved by the dock's button."""
    viewer = make_napari_viewer()
    image, labels = open_sample(viewer)
    draw_two_instances(labels)
    document = document_of(labels)
    document.set_locked(2, True)
    dock = SegmentationDock(viewer)
    viewer.layers.selection.active = labels
    path = tmp_path / "cells.ome.zarr"
    offered = []

    def dialog(parent, caption, folder, filters, *rest):
        offered.append((folder, filters))
        return str(path), filters

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
        dock.ome_zarr_button.click()
    assert offered and offered[0][0].endswith(".ome.zarr") and "OME-Zarr" in offered[0][1]
    assert path.is_dir() and "cells.ome.zarr" in dock.file_status.text()
    return viewer, path, masks_by_feature(labels), document


def test_napari_ome_zarr_shows_the_labels_with_their_colours_and_properties(saved_store):
    viewer, path, expected, document = saved_store
    viewer.layers.clear()
    viewer.open(str(path), plugin="napari-ome-zarr")
    images = [layer for layer in viewer.layers if isinstance(layer, Image)]
    labels = [layer for layer in viewer.layers if isinstance(layer, Labels)]
    assert len(labels) == 1 and images
    (layer,) = labels
    data = np.asarray(layer.data[0] if layer.multiscale else layer.data)
    for label_id, instance in document.instances.items():
        np.testing.assert_array_equal(data == label_id, expected[instance.feature_id])
        cls_ = document.ontology.class_by_id(instance.schema_id)
        colour = np.round(instance_colour(cls_.color, label_id) * 255) / 255
        np.testing.assert_allclose(layer.colormap.map(label_id), colour, atol=1 / 255)
    features = layer.features.set_index("index")
    assert features.loc[1, "class"] == "Cell" and features.loc[2, "class"] == "Debris"
    assert features.loc[2, "locked"] and not features.loc[1, "locked"]
    assert features.loc[1, "featureId"] == document.instances[1].feature_id


def test_opened_with_this_plugin_every_class_and_flag_comes_back(saved_store):
    viewer, path, expected, document = saved_store
    viewer.layers.clear()
    viewer.open(str(path), plugin=PLUGIN_NAME)
    image, labels = viewer.layers
    assert isinstance(image, Image) and is_segmentation_layer(labels)
    read = document_of(labels)
    assert {k: i.to_dict() for k, i in read.instances.items()} == {
        k: i.to_dict() for k, i in document.instances.items()
    }
    assert masks_by_feature(labels).keys() == expected.keys()
    # painted and saved again: into the same store, the same group
    read.set_hidden(1, True)
    dock = SegmentationDock(viewer)
    viewer.layers.selection.active = labels
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a: (str(path), a[3])))
        dock.ome_zarr_button.click()
    viewer.layers.clear()
    viewer.open(str(path), plugin=PLUGIN_NAME)
    (again,) = [layer for layer in viewer.layers if is_segmentation_layer(layer)]
    assert document_of(again).instances[1].hidden
    assert again.name == labels.name


def test_another_tools_label_group_shows_its_properties_in_the_table(make_napari_viewer, tmp_path):
    from qtpy.QtCore import Qt

    from napari_segtool._qt.instance_table import CLASS_COLUMN, QUESTIONS_COLUMN

    path = tmp_path / "other.zarr"
    theirs = np.zeros((60, 80), np.uint8)
    theirs[5:15, 5:15] = 4
    theirs[30:40, 30:50] = 7
    another_tools_store(path, theirs, [{"label-value": 4, "kind": "round", "area": 100}])
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin=PLUGIN_NAME)
    labels = viewer.layers["nuclei"]
    viewer.layers.selection.active = labels
    dock = SegmentationDock(viewer)
    model = dock.table_model

    def cell(label_id, column, role=Qt.ItemDataRole.DisplayRole):
        return model.data(model.index(model.row_of(label_id), column), role)

    assert cell(4, CLASS_COLUMN) == "unassigned" and cell(7, CLASS_COLUMN) == "unassigned"
    assert cell(4, QUESTIONS_COLUMN) == "kind=round, area=100"
    assert cell(7, QUESTIONS_COLUMN) == ""
    tip = cell(4, QUESTIONS_COLUMN, Qt.ItemDataRole.ToolTipRole)
    assert "kind: round" in tip and "area: 100" in tip
    # given a class, the row keeps telling what the other tool said
    document_of(labels).add_instance(4, document_of(labels).ontology.classes[0].feature_schema_id)
    assert "kind=round" in cell(4, CLASS_COLUMN, Qt.ItemDataRole.ToolTipRole)
