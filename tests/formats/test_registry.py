"""The format registry: what it lists, and a round trip through each entry."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from napari_segtool import load_default_ontology
from napari_segtool.formats import registry
from napari_segtool.formats.registry import FileFormat, UnknownFormatError
from napari_segtool.formats.result import ImageItem, LabelsItem, ReadResult, WriteResult
from napari_segtool.model.document import Document


def annotated() -> LabelsItem:
    document = Document(ontology=load_default_ontology(), source={"image_name": "cells"})
    classes = document.ontology.segmentation_classes
    document.add_instance(1, classes[0].feature_schema_id)
    document.add_instance(4, classes[1].feature_schema_id)
    labels = np.zeros((20, 30), dtype=np.uint32)
    labels[2:8, 3:12] = 1
    labels[10:18, 15:28] = 4
    return LabelsItem(labels, document, "cells segmentation")


def test_the_registry_lists_labelbox_v1_coco_ndjson_and_ome_zarr():
    names = [entry.name for entry in registry.formats()]
    assert names == ["labelbox-v1", "coco", "labelbox-ndjson", "ome-zarr"]
    assert registry.get("ome-zarr").file_filter == "OME-Zarr (*.ome.zarr *.zarr)"
    assert registry.get("labelbox-ndjson").file_filter == "Labelbox NDJSON (*.ndjson *.jsonl)"
    assert registry.get("coco").file_filter == "COCO instance segmentation (*.coco.json)"
    assert registry.get("labelbox-v1").file_filter == "Labelbox v1 export (*.json)"
    with pytest.raises(UnknownFormatError):
        registry.get("tiff")


@pytest.mark.parametrize(
    ("name", "file_name"), [("labelbox-v1", "a.json"), ("coco", "a.coco.json")]
)
def test_round_trip_through_each_entry(tmp_path, name, file_name):
    entry = registry.get(name)
    item = annotated()
    pixels = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / file_name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unanswered required questions
        written = entry.write(path, [item], [ImageItem(pixels, "cells")])
    assert isinstance(written, WriteResult) and written.written[0] == path
    assert written.summary and len(written.sources) == 1
    assert registry.format_for(path) is entry and registry.writer_for(path) is entry
    assert entry.can_read(path)
    result = entry.read(path)
    assert isinstance(result, ReadResult)
    (labels,) = result.labels
    assert labels.name == "cells segmentation"
    by_feature = {i.feature_id: i for i in labels.document.instances.values()}
    for label_id, instance in item.document.instances.items():
        read = by_feature[instance.feature_id]
        assert read.schema_id == instance.schema_id
        np.testing.assert_array_equal(labels.data == read.label_id, item.data == label_id)
    assert labels.document.ontology.to_dict() == item.document.ontology.to_dict()


def test_each_entry_declines_the_others_files(tmp_path):
    item = annotated()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry.get("labelbox-v1").write(tmp_path / "a.json", [item])
        registry.get("coco").write(tmp_path / "b.coco.json", [item])
    assert not registry.get("coco").can_read(tmp_path / "a.json")
    assert not registry.get("labelbox-v1").can_read(tmp_path / "b.coco.json")
    for name in ("a.json", "b.coco.json"):
        assert not registry.get("labelbox-ndjson").can_read(tmp_path / name)
    v2 = Path(__file__).resolve().parents[1] / "data" / "reference" / "export_v2.fish.ndjson"
    assert [entry.name for entry in registry.formats() if entry.can_read(v2)] == ["labelbox-ndjson"]
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    for path in (tmp_path / "other.json", tmp_path / "missing.json", tmp_path / "a.ontology.json"):
        with pytest.raises(UnknownFormatError, match="not a file this plugin reads"):
            registry.format_for(path)


def test_writer_for_takes_the_longest_extension():
    assert registry.writer_for("x/cells.COCO.json").name == "coco"
    assert registry.writer_for("x/cells.json").name == "labelbox-v1"
    with pytest.raises(UnknownFormatError):
        registry.writer_for("cells.png")


def test_a_new_format_is_one_entry(tmp_path, restore_registry):
    def claim(path):
        return True if path.endswith(".ids.txt") else None

    def read(path, *, claim=None, **_):
        values = [int(v) for v in Path(path).read_text().split()]
        return ReadResult((ImageItem(np.array(values), "ids"),))

    def write(path, labels, images, **_):
        path.write_text(" ".join(str(v) for v in np.unique(labels[0].data)))
        return WriteResult((path,))

    registry.register(FileFormat("ids", "Id list", (".ids.txt",), claim, read, write))
    target = tmp_path / "a.ids.txt"
    registry.writer_for(target).write(target, [annotated()])
    assert registry.format_for(target).name == "ids"
    np.testing.assert_array_equal(
        registry.format_for(target).read(target).images[0].data, [0, 1, 4]
    )
    assert "Id list (*.ids.txt)" in registry.open_filter().split(";;")
    assert "*.ids.txt" in registry.open_filter().split(";;")[0]


def test_entries_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        registry.get("coco").name = "other"
