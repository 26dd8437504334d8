"""OME-Zarr label groups: round trips in NGFF 0.4 and 0.5, real consumers (ome-zarr-models,
ome-zarr-py's Reader), the atomic replace of a label group, groups of other tools, bad stores."""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings

import numpy as np
import pytest
import zarr
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.io import parse_url
from ome_zarr.reader import Label, Reader
from ome_zarr_models import open_ome_zarr

from napari_segtool.formats import registry
from napari_segtool.formats.ome_zarr import NAMESPACE, OmeZarrError, tissue
from napari_segtool.formats.ome_zarr import writer as ome_writer
from napari_segtool.formats.ome_zarr.labels import FOREIGN_SOURCE, STORE_SOURCE
from napari_segtool.formats.result import ImageItem, LabelsItem
from napari_segtool.model.colours import instance_colour
from tests.coco_samples import CELL, NUCLEUS, annotated_image
from tests.ome_zarr_samples import another_tools_store

FORMATS = {"0.4": FormatV04(), "0.5": FormatV05()}


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return registry.get("ome-zarr").read(path)


def _annotated(shape=(60, 80)):
    labels, document = annotated_image()
    document.set_locked(2, True)
    document.set_hidden(5, True)
    document.set_class_locked(CELL, True)
    document.set_class_hidden(NUCLEUS, True)
    return labels, document


def _image(shape=(60, 80, 3)):
    return (np.random.default_rng(3).random(shape) * 255).astype(np.uint8)


def _write_new(path, version="0.5", name="cells segmentation"):
    labels, document = _annotated()
    registry.get("ome-zarr").write(
        path, [LabelsItem(labels, document, name)], [ImageItem(_image(), "cells")], version=version
    )
    return labels, document


def _image_files(path) -> list[tuple[str, bytes]]:
    """Every file of the store outside ``labels/``, with its bytes."""
    return sorted(
        (str(p.relative_to(path)), p.read_bytes())
        for p in path.rglob("*")
        if p.is_file() and "labels" not in p.relative_to(path).parts
    )


def _same_document(read, document) -> None:
    assert read.ontology.to_dict() == document.ontology.to_dict()
    assert read.image_answers == document.image_answers
    assert read.locked_classes == document.locked_classes
    assert read.hidden_classes == document.hidden_classes
    assert {k: i.to_dict() for k, i in read.instances.items()} == {
        k: i.to_dict() for k, i in document.instances.items()
    }


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_round_trip_keeps_classes_answers_flags_ontology_and_image_answers(tmp_path, version):
    path = tmp_path / "cells.ome.zarr"
    labels, document = _write_new(path, version)
    assert (path / ("zarr.json" if version == "0.5" else ".zattrs")).is_file()
    result = _read(path)
    (image,) = result.images
    (item,) = result.labels
    assert image.rgb and image.data.shape == (60, 80, 3)  # one level: not a pyramid
    np.testing.assert_array_equal(item.data, labels)
    _same_document(item.document, document)
    assert item.name == "cells_segmentation"
    assert item.document.source[STORE_SOURCE]["version"] == version
    # saved again into the store it came from: the group is replaced, nothing else
    image_bytes = _image_files(path)
    assert image_bytes
    item.document.set_locked(1, True)
    registry.get("ome-zarr").write(path, [item])
    (again,) = _read(path).labels
    assert again.document.instances[1].locked
    assert _image_files(path) == image_bytes
    assert sorted(os.listdir(path / "labels")) == sorted(
        [".zattrs", ".zgroup", "cells_segmentation"]
        if version == "0.4"
        else ["zarr.json", "cells_segmentation"]
    )


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_models_validates_image_and_labels(tmp_path, version):
    path = tmp_path / "cells.ome.zarr"
    _write_new(path, version)
    model = open_ome_zarr(zarr.open_group(str(path), mode="r"))
    assert model.ome_zarr_version == version
    assert model.labels is not None
    label_group = zarr.open_group(str(path / "labels" / "cells_segmentation"), mode="r")
    label_model = open_ome_zarr(label_group)
    assert type(label_model).__name__ == "ImageLabel"
    label_attrs, image_attrs = label_model.ome_attributes, model.ome_attributes
    assert len(label_attrs.multiscales[0].datasets) == len(image_attrs.multiscales[0].datasets)
    colours = {c.label_value: tuple(c.rgba) for c in label_attrs.image_label.colors}
    assert sorted(colours) == [1, 2, 5, 9]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_py_reader_sees_the_colours_and_properties(tmp_path, version):
    path = tmp_path / "cells.ome.zarr"
    labels, document = _write_new(path, version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodes = list(Reader(parse_url(str(path)))())
    (label_node,) = [n for n in nodes if any(isinstance(s, Label) for s in n.specs)]
    np.testing.assert_array_equal(np.asarray(label_node.data[0]), labels)
    colours = label_node.metadata["color"]
    for label_id, instance in document.instances.items():
        cls_ = document.ontology.class_by_id(instance.schema_id)
        expected = np.round(instance_colour(cls_.color, label_id) * 255) / 255
        np.testing.assert_allclose(colours[label_id], expected, atol=1e-6)
    properties = label_node.metadata["properties"]
    assert properties[1]["class"] == "Nucleus"
    assert properties[1]["class_schema_id"] == NUCLEUS
    assert properties[1]["featureId"] == document.instances[1].feature_id
    assert properties[1]["answers"] == document.instances[1].answers
    assert "two, both round" in properties[1]["answers_summary"]
    assert properties[2]["locked"] is True and properties[5]["hidden"] is True
    assert properties[9]["class"] == "Debris" and properties[9]["locked"] is False


def test_pyramid_has_the_images_levels_and_chunks(tmp_path):
    path = tmp_path / "big.ome.zarr"
    labels = np.zeros((2500, 2100), np.uint16)
    labels[1000:1010, 7:9] = 3
    _, document = annotated_image()
    document.add_instance(3, CELL)
    image = np.zeros((2500, 2100), np.uint8)
    registry.get("ome-zarr").write(
        path, [LabelsItem(labels, document, "seg")], [ImageItem(image, "big")]
    )
    group = zarr.open_group(str(path), mode="r")
    label_group = group["labels/seg"]
    image_arrays = [group[d["path"]] for d in group.attrs["ome"]["multiscales"][0]["datasets"]]
    label_arrays = [
        label_group[d["path"]] for d in label_group.attrs["ome"]["multiscales"][0]["datasets"]
    ]
    assert [a.shape for a in label_arrays] == [a.shape for a in image_arrays]
    assert [a.chunks for a in label_arrays] == [a.chunks for a in image_arrays]
    assert len(label_arrays) == 3
    assert set(np.unique(label_arrays[1][:])) == {0, 3}  # nearest neighbour: no new values
    assert label_group.attrs[NAMESPACE]["version"] == 1


def test_labels_go_into_a_store_of_another_tool_and_its_groups_open_unassigned(tmp_path):
    path = tmp_path / "other.zarr"
    theirs = np.zeros((40, 50), np.uint8)
    theirs[5:10, 5:10] = 4
    theirs[20:30, 20:30] = 7
    another_tools_store(path, theirs, [{"label-value": 4, "area": 25, "kind": "round"}])
    result = _read(path)
    (item,) = result.labels
    assert item.name == "nuclei" and len(item.document) == 0  # unassigned, ready for classes
    assert item.document.ontology.classes  # the plugin's own classes to give them
    assert item.document.source[FOREIGN_SOURCE] == {"4": {"area": 25, "kind": "round"}}
    assert any("another tool" in note for note in result.notes)
    np.testing.assert_array_equal(item.data, theirs)
    # given a class and saved back: the other tool's properties stay with the value
    item.document.add_instance(4, CELL)
    registry.get("ome-zarr").write(path, [item])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodes = list(Reader(parse_url(str(path)))())
    (node,) = [n for n in nodes if any(isinstance(s, Label) for s in n.specs)]
    assert node.metadata["properties"][4]["area"] == 25
    assert node.metadata["properties"][4]["class"] == "Cell"
    (again,) = _read(path).labels
    assert again.document.instances[4].schema_id == CELL
    # a second group of ours beside theirs
    labels, document = _annotated()
    registry.get("ome-zarr").write(
        path, [LabelsItem(np.zeros((40, 50), np.uint16), document, "mine")]
    )
    assert [item.name for item in _read(path).labels] == ["nuclei", "mine"]


def _seg_pixels(path):
    return np.asarray(zarr.open_array(str(path / "labels" / "cells_segmentation" / "0"), mode="r"))


def test_a_save_that_fails_midway_leaves_the_previous_group_readable(tmp_path, monkeypatch):
    path = tmp_path / "cells.ome.zarr"
    labels, document = _write_new(path)
    (item,) = _read(path).labels
    changed = np.where(item.data == 1, 0, item.data).astype(item.data.dtype)
    real = ome_writer.write_multiscale

    def dies_midway(pyramid, group, **kwargs):
        real(pyramid[:1], group, **kwargs)  # the first level's chunks are on disk
        raise OSError("disk full")

    monkeypatch.setattr(ome_writer, "write_multiscale", dies_midway)
    with pytest.raises(OSError, match="disk full"):
        registry.get("ome-zarr").write(path, [LabelsItem(changed, item.document, item.name)])
    monkeypatch.undo()
    assert not [p for p in os.listdir(path / "labels") if p.startswith(".c")]
    (kept,) = _read(path).labels
    np.testing.assert_array_equal(kept.data, labels)
    _same_document(kept.document, document)


def test_a_save_stopped_between_the_two_renames_is_put_back(tmp_path, monkeypatch):
    path = tmp_path / "cells.ome.zarr"
    labels, document = _write_new(path)
    (item,) = _read(path).labels
    real = ome_writer._rename
    calls = []

    def stops_after_the_first(source, target):
        calls.append(source)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process is stopped here
        real(source, target)

    monkeypatch.setattr(ome_writer, "_rename", stops_after_the_first)
    changed = np.zeros_like(item.data)
    with pytest.raises(KeyboardInterrupt):
        registry.get("ome-zarr").write(path, [LabelsItem(changed, item.document, item.name)])
    monkeypatch.undo()
    assert not (path / "labels" / "cells_segmentation").exists()  # moved aside
    result = _read(path)
    assert any("put back" in note for note in result.notes)
    (kept,) = result.labels
    np.testing.assert_array_equal(kept.data, labels)
    assert [p for p in os.listdir(path / "labels") if p.startswith(".")] == [] or all(
        p in (".zattrs", ".zgroup") for p in os.listdir(path / "labels") if p.startswith(".")
    )


def test_the_version_follows_the_store(tmp_path):
    path = tmp_path / "cells.ome.zarr"
    _write_new(path, "0.4")
    (item,) = _read(path).labels
    with pytest.raises(OmeZarrError, match=r"OME-NGFF 0\.4"):
        registry.get("ome-zarr").write(path, [item], version="0.5")
    registry.get("ome-zarr").write(path, [item])
    assert not (path / "labels" / "cells_segmentation" / "zarr.json").exists()


def test_malformed_attributes_name_the_file(tmp_path):
    path = tmp_path / "cells.ome.zarr"
    _write_new(path, "0.4")
    bad = path / "labels" / "cells_segmentation" / ".zattrs"
    bad.write_text("{not json")
    with pytest.raises(OmeZarrError, match=re.escape(str(bad))):
        _read(path)
    (path / ".zattrs").write_text(json.dumps({"something": "else"}))
    with pytest.raises(OmeZarrError, match=r"\.zattrs: no 'multiscales'"):
        _read(path)


def test_a_missing_array_is_named(tmp_path):
    path = tmp_path / "cells.ome.zarr"
    _write_new(path, "0.5")
    shutil.rmtree(path / "labels" / "cells_segmentation" / "1", ignore_errors=True)
    missing = [p for p in (path / "labels" / "cells_segmentation").iterdir() if p.is_dir()]
    shutil.rmtree(missing[-1])
    with pytest.raises(OmeZarrError, match=r"array of level \d is missing"):
        _read(path)


def test_refuses_to_write_over_a_folder_that_is_not_a_store(tmp_path):
    folder = tmp_path / "photos.zarr"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    labels, document = _annotated()
    with pytest.raises(OmeZarrError, match="not an OME-Zarr store"):
        registry.get("ome-zarr").write(
            folder, [LabelsItem(labels, document, "x")], [ImageItem(_image(), "c")]
        )
    with pytest.raises(OmeZarrError, match="needs its image"):
        registry.get("ome-zarr").write(
            tmp_path / "new.ome.zarr", [LabelsItem(labels, document, "x")]
        )
    assert (folder / "keep.txt").read_text() == "mine"


def test_tissue_is_deterministic_seamless_and_multiscale(tmp_path):
    tile = tissue.tissue_tile(100, 200, 300, 400)
    np.testing.assert_array_equal(tissue.tissue_tile(250, 350, 50, 60), tile[150:200, 150:210])
    assert tile.dtype == np.uint8 and tile.min() < 100 < 180 < tile.max()  # nuclei on stroma
    store = tissue.tissue_store(size=1500, folder=tmp_path)
    assert store == tissue.tissue_store(size=1500, folder=tmp_path)  # made once
    result = _read(store)
    (image,) = result.images
    assert [level.shape for level in image.data] == [(1500, 1500), (750, 750)]
    np.testing.assert_array_equal(np.asarray(image.data[0][100:400, 200:600]), tile)
    assert not result.labels
    assert [p.name for p in tmp_path.iterdir()] == [store.name]
