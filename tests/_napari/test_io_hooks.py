"""The npe2 file hooks: one translation of reader results, formats found through the registry."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest
from napari.layers import Image, Labels, Points, Shapes
from napari.utils.notifications import notification_manager

from napari_segtool import PLUGIN_NAME, load_default_ontology
from napari_segtool._napari.autosave import attach_autosave
from napari_segtool._napari.io_coco import export_coco
from napari_segtool._napari.io_hooks import layer_data, open_file
from napari_segtool._napari.io_labelbox import export_layer
from napari_segtool.formats import registry
from napari_segtool.formats.coco import encode_rle
from napari_segtool.formats.result import ImageItem, LabelsItem, ReadResult, ShapesItem
from napari_segtool.model.document import Document
from tests.autosave_helpers import (
    open_session,
    paint_instance,
    recovery_folder,  # noqa: F401 - fixture
    write_image,
)


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


def save_through_napari(file_name):
    def save(viewer, layer, folder):
        viewer.layers.selection = {layer}
        return viewer.layers.save(str(folder / file_name), selected=True, plugin=PLUGIN_NAME)

    return save


@pytest.mark.parametrize(
    ("save", "summary"),
    [
        (save_through_napari("cells.json"), "Saved 1 mask(s) to cells.json"),
        (save_through_napari("cells.coco.json"), "Wrote COCO cells.coco.json"),
        (lambda viewer, layer, folder: export_layer(layer, folder / "cells.json"), "Saved 1"),
        (lambda viewer, layer, folder: export_coco([layer], folder / "cells.coco.json"), "COCO"),
    ],
    ids=["file-save-labelbox", "file-save-coco", "dock-save-labelbox", "dock-export-coco"],
)
def test_every_writer_marks_the_layer_saved_and_reports_it(
    make_napari_viewer,
    qtbot,
    tmp_path,
    recovery_folder,  # noqa: F811
    save,
    summary,
):
    viewer = make_napari_viewer()
    _image, layer, binding = open_session(viewer, write_image(tmp_path))
    saver = attach_autosave(binding, viewer=viewer)
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    qtbot.waitUntil(lambda: saver.path is not None and not saver.has_pending, timeout=5000)
    recovery_file = saver.path
    assert saver.is_dirty and recovery_file.exists()
    reported = len(notification_manager.records)
    out = tmp_path / "out"
    out.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unanswered required questions
        save(viewer, layer, out)
    assert (out / "cells.json").exists() or (out / "cells.coco.json").exists()
    saver.flush()
    assert not saver.is_dirty
    assert not recovery_file.exists()
    messages = [n.message for n in notification_manager.records[reported:]]
    assert any(summary in message for message in messages), messages


def coco_with_an_outside_image(path):
    mask = np.zeros((10, 15), bool)
    mask[2:5, 3:9] = True
    coco = {
        "images": [{"id": 1, "file_name": "../a.png", "width": 15, "height": 10}],
        "categories": [{"id": 1, "name": "cell"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": encode_rle(mask)}
        ],
    }
    path.write_text(json.dumps(coco))
    return path


def test_open_file_parses_once_and_hands_the_claim_to_the_reader(
    make_napari_viewer, tmp_path, restore_registry
):
    entry = registry.get("coco")
    claims, read_with = [], []

    def claiming(path):
        claims.append(entry.claim(path))
        return claims[-1]

    def reading(path, *, claim=None, **options):
        read_with.append(claim)
        return entry.reader(path, claim=claim, **options)

    registry.register(dataclasses.replace(entry, claim=claiming, reader=reading))
    path = coco_with_an_outside_image(tmp_path / "plain name.json")  # parsed to be claimed
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (layer,) = open_file(viewer, path)
    assert len(claims) == 1 and isinstance(claims[0], dict)
    assert read_with == claims  # the very object parsed, not a second parse
    assert layer.name == "a segmentation"


def test_what_a_reader_skipped_is_shown_as_a_napari_warning(make_napari_viewer, tmp_path):
    path = coco_with_an_outside_image(tmp_path / "a.coco.json")
    viewer = make_napari_viewer()
    with notification_manager:  # as in napari's running application
        reported = len(notification_manager.records)
        open_file(viewer, path)
    (note,) = [n for n in notification_manager.records[reported:] if "outside" in n.message]
    assert note.severity == "warning" and str(path) in note.message
