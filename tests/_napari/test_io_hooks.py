"""The npe2 file hooks: one translation of reader results, formats found through the registry."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from napari.layers import Image, Labels, Points, Shapes

from napari_segtool import PLUGIN_NAME, load_default_ontology
from napari_segtool._napari.io_hooks import layer_data
from napari_segtool.formats import registry
from napari_segtool.formats.result import ImageItem, LabelsItem, ReadResult, ShapesItem
from napari_segtool.model.document import Document


def labels_item() -> LabelsItem:
    document = Document(ontology=load_default_ontology(), source={"image_name": "cells"})
    document.add_instance(1, document.ontology.segmentation_classes[0].feature_schema_id)
    labels = np.zeros((10, 12), dtype=np.uint32)
    labels[2:5, 3:7] = 1
    return LabelsItem(labels, document, "cells segmentation")


def test_every_kind_of_item_becomes_its_layer():
    box = np.array([[0, 0], [0, 4], [3, 4], [3, 0]], float)
    result = ReadResult(
        (
            ImageItem(np.zeros((10, 12, 3), np.uint8), "cells", rgb=True),
            labels_item(),
            ShapesItem(
                "shapes", "cells shapes", [box], ["rectangle"], ["#FF0000"], {"class": ["a"]}
            ),
            ShapesItem("points", "cells points", [np.array([[1.0, 2.0]])], ["point"], ["#00FF00"]),
        )
    )
    layers = [Image, Labels, Shapes, Points]
    tuples = layer_data(result)
    assert [kind for _, _, kind in tuples] == ["image", "labels", "shapes", "points"]
    built = [cls(data, **meta) for cls, (data, meta, _) in zip(layers, tuples, strict=True)]
    assert built[0].rgb and built[1].metadata["napari_segtool"]["instances"]
    assert list(built[2].features["class"]) == ["a"] and built[2].shape_type == ["rectangle"]
    np.testing.assert_array_equal(built[3].data, [[1.0, 2.0]])


@pytest.mark.parametrize(
    ("name", "file_name"), [("labelbox-v1", "a.json"), ("coco", "a.coco.json")]
)
def test_napari_open_and_save_find_the_format_through_the_registry(
    make_napari_viewer, tmp_path, restore_registry, name, file_name
):
    entry = registry.get(name)
    calls = []

    def reading(path, **options):
        calls.append(("read", path))
        return entry.reader(path, **options)

    def writing(path, labels, images, **options):
        calls.append(("write", str(path)))
        return entry.writer(path, labels, images, **options)

    registry.register(dataclasses.replace(entry, reader=reading, writer=writing))
    viewer = make_napari_viewer()
    item = labels_item()
    viewer.add_labels(item.data, **layer_data(ReadResult((item,)))[0][1])
    path = tmp_path / file_name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        viewer.layers.save(str(path), plugin=PLUGIN_NAME)
        viewer.open(str(path), plugin=PLUGIN_NAME)
    assert calls == [("write", str(path)), ("read", str(path))]
    np.testing.assert_array_equal(viewer.layers[-1].data, item.data)
