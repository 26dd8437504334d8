"""Stacks in the 2-D formats: one data row / COCO image per plane, read back into one stack."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_segtool import load_default_ontology
from napari_segtool.formats import planes, registry
from napari_segtool.formats.labelbox_v1 import LabelboxFormatError
from napari_segtool.formats.result import ImageItem, LabelsItem
from napari_segtool.model.document import Document, Instance

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ONTOLOGY = load_default_ontology()
NUCLEUS, CELL, DEBRIS = (c.feature_schema_id for c in ONTOLOGY.classes)
PHASE, APPEARANCE = (q.feature_schema_id for q in ONTOLOGY.classes[0].questions)
INTERPHASE, MITOSIS = (o.feature_schema_id for o in ONTOLOGY.classes[0].questions[0].options)
BRIGHT = ONTOLOGY.classes[0].questions[1].options[0].feature_schema_id
TOUCHING, COMMENT = (q.feature_schema_id for q in ONTOLOGY.classes[1].questions)
BORDER = ONTOLOGY.classes[1].questions[0].options[0].feature_schema_id
NOTES = ONTOLOGY.questions[2].feature_schema_id
FORMATS = ("labelbox-v1", "labelbox-ndjson", "coco")
EXTENSIONS = {"labelbox-v1": ".json", "labelbox-ndjson": ".ndjson", "coco": ".coco.json"}


def stack_item(shape, tmp_path: Path, axis_labels=None, image=True) -> tuple[LabelsItem, Path]:
    """A stack with instances spanning planes, a plane between them empty and the last
    planes empty (the shape must come back all the same), answers and a lock."""
    labels = np.zeros(shape, np.uint32)
    lead = shape[:-2]
    first = (0,) * len(lead)
    middle = tuple(n // 2 for n in lead)
    labels[first][2:10, 3:12] = 4  # a nucleus on the first plane and the middle one
    labels[middle][4:12, 5:14] = 4
    labels[middle][15:25, 20:30] = 7  # a cell on the middle plane only
    labels[middle][26:28, 1:39] = 9  # debris
    if len(lead) == 1:
        labels[1][0:3, 0:3] = 7  # the cell on plane 1 too; planes 2.. (and the last) empty
    instances = [
        Instance(4, NUCLEUS, answers={PHASE: {MITOSIS: {}}, APPEARANCE: {BRIGHT: {}}}),
        Instance(7, CELL, answers={TOUCHING: {BORDER: {}}, COMMENT: "in focus"}, locked=True),
        Instance(9, DEBRIS),
    ]
    source = {"image_name": "cells"}
    image_path = tmp_path / "cells.tif"
    if image:
        tifffile.imwrite(image_path, (labels * 10).astype(np.uint16), photometric="minisblack")
        source["image_path"] = str(image_path)
    document = Document(
        ontology=ONTOLOGY.__class__.from_dict(ONTOLOGY.to_dict()),
        instances=instances,
        image_answers={NOTES: "stack answer"},
        source=source,
    )
    return LabelsItem(labels, document, "cells segmentation", axis_labels), image_path


def assert_same_stack(written: LabelsItem, read: LabelsItem, locks: bool = True) -> None:
    assert read.data.shape == written.data.shape
    by_feature = {i.feature_id: i for i in read.document.instances.values()}
    assert set(by_feature) == {i.feature_id for i in written.document.instances.values()}
    for label_id, instance in written.document.instances.items():
        twin = by_feature[instance.feature_id]
        np.testing.assert_array_equal(read.data == twin.label_id, written.data == label_id)
        assert twin.schema_id == instance.schema_id
        assert twin.answers == instance.answers
        assert twin.locked == (instance.locked and locks)
    assert np.count_nonzero(read.data) == np.count_nonzero(written.data)
    assert read.document.image_answers == written.document.image_answers


def write_and_read(fmt: str, item: LabelsItem, tmp_path: Path, images=()):
    path = tmp_path / f"export{EXTENSIONS[fmt]}"
    entry = registry.get(fmt)
    result = entry.write(path, [item], list(images))
    read = registry.format_for(path).read(path)
    return path, result, read


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape", [(5, 30, 40), (2, 3, 30, 40)])
def test_a_stack_comes_back_with_the_same_voxels_classes_and_answers(fmt, shape, tmp_path):
    item, image_path = stack_item(shape, tmp_path)
    path, result, read = write_and_read(fmt, item, tmp_path)
    assert registry.format_for(path).name == fmt
    assert len(read.labels) == 1
    locks = fmt != "labelbox-ndjson"  # an import has no place for locks, in 2-D neither
    assert_same_stack(item, read.labels[0], locks)
    assert read.labels[0].axis_labels == (("z",) if len(shape) == 3 else ("t", "z")) + ("y", "x")
    # the image (a TIFF named before '#') opens as the stack
    images = read.images
    assert len(images) == 1 and images[0].data.shape == shape
    # saved again from what was read: the same file
    again = tmp_path / "again"
    again.mkdir()
    (again / "cells.tif").write_bytes(image_path.read_bytes())
    item2 = read.labels[0]
    item2.document.source["image_path"] = str(again / "cells.tif")
    _, _, reread = write_and_read(fmt, item2, again)
    assert_same_stack(item, reread.labels[0], locks)


@pytest.mark.parametrize("fmt", FORMATS)
def test_planes_are_named_and_record_the_stack(fmt, tmp_path):
    item, _ = stack_item((5, 30, 40), tmp_path)
    path, result, _ = write_and_read(fmt, item, tmp_path)
    names = _plane_names(fmt, path)
    # planes 0, 1, 2 hold instances; 3 and 4 are empty and not written
    assert names == ["cells.tif#z=0", "cells.tif#z=1", "cells.tif#z=2"]
    records = _records(fmt, path)
    assert all(r["plane"]["stack_shape"] == [5, 30, 40] for r in records)
    assert [r["plane"]["index"] for r in records] == [[0], [1], [2]]
    if fmt != "coco":  # the ids each plane row got, kept for the next save
        assert set(result.sources[0]["planes"]) == {"z=0", "z=1", "z=2"}


def test_axis_labels_name_the_planes(tmp_path):
    item, _ = stack_item((2, 3, 30, 40), tmp_path, axis_labels=("time", "depth", "y", "x"))
    path, _, read = write_and_read("labelbox-v1", item, tmp_path)
    assert _plane_names("labelbox-v1", path)[0] == "cells.tif#time=0,depth=0"
    assert read.labels[0].axis_labels == ("time", "depth", "y", "x")
    assert planes.plane_axes(4, ("-4", "-3", "-2", "-1")) == ("t", "z")
    assert planes.plane_axes(3, ("Z", "y", "x")) == ("z",)
    assert planes.plane_axes(4, ("z", "z", "y", "x")) == ("t", "z")


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_instance_keeps_one_feature_id_on_every_plane(fmt, tmp_path):
    item, _ = stack_item((5, 30, 40), tmp_path)
    path, _, _ = write_and_read(fmt, item, tmp_path)
    nucleus = next(i for i in item.document.instances.values() if i.schema_id == NUCLEUS)
    assert _feature_ids_per_plane(fmt, path).count(nucleus.feature_id) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_stack_keeps_its_shape_and_answers(fmt, tmp_path):
    item, _ = stack_item((4, 30, 40), tmp_path)
    item.data[...] = 0
    _, _, read = write_and_read(fmt, item, tmp_path)
    assert read.labels[0].data.shape == (4, 30, 40)
    assert not read.labels[0].data.any()
    assert read.labels[0].document.image_answers == {NOTES: "stack answer"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_with_plane_rows_and_ordinary_rows(fmt, tmp_path):
    stack, _ = stack_item((5, 30, 40), tmp_path)
    flat = np.zeros((20, 25), np.uint32)
    flat[3:9, 4:8] = 1
    flat_doc = Document(
        ontology=ONTOLOGY.__class__.from_dict(ONTOLOGY.to_dict()),
        instances=[Instance(1, DEBRIS)],
        source={"image_name": "flat", "external_id": "flat.png"},
    )
    flat_item = LabelsItem(flat, flat_doc, "flat segmentation")
    path = tmp_path / f"mixed{EXTENSIONS[fmt]}"
    registry.get(fmt).write(path, [flat_item, stack])
    read = registry.get(fmt).read(path)
    assert [item.data.shape for item in read.labels] == [(20, 25), (5, 30, 40)]
    np.testing.assert_array_equal(read.labels[0].data, flat)
    assert_same_stack(stack, read.labels[1], fmt != "labelbox-ndjson")


def test_a_malformed_plane_suffix_is_named(tmp_path):
    item, _ = stack_item((5, 30, 40), tmp_path)
    path, _, _ = write_and_read("labelbox-v1", item, tmp_path)
    rows = json.loads(path.read_text())
    rows[1]["External ID"] = "cells.tif#z=one"
    path.write_text(json.dumps(rows))
    with pytest.raises(LabelboxFormatError, match=r"row 1.*cells.tif#z=one.*whole number"):
        registry.get("labelbox-v1").read(path)
    # without the record, the row is an ordinary image, with a warning naming it
    del rows[1]["napari_segtool"]["plane"]
    path.write_text(json.dumps(rows))
    with pytest.warns(planes.PlaneWarning, match=r"row 1.*cells.tif#z=one"):
        read = registry.get("labelbox-v1").read(path)
    assert sorted(item.data.ndim for item in read.labels) == [2, 3]


def test_planes_without_their_record_are_rebuilt_from_their_names(tmp_path):
    item, _ = stack_item((5, 30, 40), tmp_path)
    path, _, _ = write_and_read("labelbox-v1", item, tmp_path)
    rows = json.loads(path.read_text())
    for row in rows:
        del row["napari_segtool"]["plane"]
    path.write_text(json.dumps(rows))
    read = registry.get("labelbox-v1").read(path)
    (stack,) = read.labels
    assert stack.data.shape == (3, 30, 40)  # as deep as the last plane written
    np.testing.assert_array_equal(stack.data.astype(bool), item.data[:3].astype(bool))


def test_parse_suffix_rules():
    assert planes.parse_suffix("t=3,z=12") == (("t", "z"), (3, 12))
    for bad in ("z=-1", "z=1,z=2", "Z=1", "z=", "=3", "z=1.5"):
        with pytest.raises(ValueError):
            planes.parse_suffix(bad)
    assert planes.split_name("image#1.png") is None
    assert planes.split_name("a#b#z=2") == ("a#b", "z=2")


def test_the_stack_image_is_written_beside_a_coco_file(tmp_path):
    item, image_path = stack_item((5, 30, 40), tmp_path / "..", image=False)
    pixels = np.arange(5 * 30 * 40, dtype=np.uint16).reshape(5, 30, 40)
    item.document.source["image_name"] = "cells"
    out = tmp_path / "out"
    out.mkdir()
    path, _, read = write_and_read("coco", item, out, images=[ImageItem(pixels, "cells")])
    assert (out / "cells.tif").is_file()
    np.testing.assert_array_equal(read.images[0].data, pixels)


# -- what the files hold ---------------------------------------------------------------------
def _entries(fmt, path):
    if fmt == "labelbox-v1":
        return json.loads(path.read_text())
    if fmt == "coco":
        return json.loads(path.read_text())["images"]
    return [json.loads(line) for line in path.read_text().splitlines()]


def _plane_names(fmt, path):
    entries = _entries(fmt, path)
    if fmt == "labelbox-v1":
        return [row["External ID"] for row in entries]
    if fmt == "coco":
        return [image["file_name"] for image in entries]
    return list(dict.fromkeys(line["dataRow"]["globalKey"] for line in entries))


def _records(fmt, path):
    entries = _entries(fmt, path)
    if fmt == "labelbox-ndjson":
        seen = {}
        for line in entries:
            seen.setdefault(line["dataRow"]["globalKey"], line["napari_segtool"])
        return list(seen.values())
    return [entry["napari_segtool"] for entry in entries]


def _feature_ids_per_plane(fmt, path):
    entries = _entries(fmt, path)
    if fmt == "labelbox-v1":
        return [obj["featureId"] for row in entries for obj in row["Label"]["objects"]]
    if fmt == "coco":
        annotations = json.loads(path.read_text())["annotations"]
        return [a["attributes"]["featureId"] for a in annotations]
    return [line["napari_segtool"]["featureId"] for line in entries if "mask" in line]


def test_warnings_are_quiet_for_a_plain_2d_file(tmp_path):
    flat = np.zeros((20, 25), np.uint32)
    flat[1:4, 1:4] = 1
    document = Document(
        ontology=ONTOLOGY.__class__.from_dict(ONTOLOGY.to_dict()),
        instances=[Instance(1, DEBRIS)],
        source={"external_id": "a.png"},
    )
    path = tmp_path / "flat.json"
    registry.get("labelbox-v1").write(path, [LabelsItem(flat, document, "flat")])
    row = json.loads(path.read_text())[0]
    assert "napari_segtool" not in row
    with warnings.catch_warnings():
        warnings.simplefilter("error", planes.PlaneWarning)
        registry.get("labelbox-v1").read(path)


@pytest.mark.parametrize("shape", [(5, 30, 40), (2, 3, 30, 40)])
def test_pycocotools_reads_every_plane(shape, tmp_path):
    from pycocotools.coco import COCO

    item, _ = stack_item(shape, tmp_path)
    path, _, _ = write_and_read("coco", item, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coco = COCO(str(path))
    feature_to_label = {i.feature_id: i.label_id for i in item.document.instances.values()}
    seen_planes = set()
    for image in coco.dataset["images"]:
        index = tuple(image["napari_segtool"]["plane"]["index"])
        seen_planes.add(index)
        plane = item.data[index]
        painted = np.zeros(plane.shape, np.uint32)
        for annotation in coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]])):
            mask = coco.annToMask(annotation).astype(bool)
            label_id = feature_to_label[annotation["attributes"]["featureId"]]
            np.testing.assert_array_equal(mask, plane == label_id)
            painted[mask] = label_id
        np.testing.assert_array_equal(painted, plane)
    # every plane with an object is an image of the file
    with_objects = {idx for idx in np.ndindex(*shape[:-2]) if item.data[idx].any()}
    assert seen_planes == with_objects


@pytest.mark.parametrize("fmt", ["labelbox-v1", "labelbox-ndjson"])
def test_saving_a_read_stack_again_keeps_every_plane_row_id(fmt, tmp_path):
    item, _ = stack_item((5, 30, 40), tmp_path)
    path, _, read = write_and_read(fmt, item, tmp_path)
    first = _entries(fmt, path)
    registry.get(fmt).write(path, read.labels)
    again = _entries(fmt, path)
    if fmt == "labelbox-v1":
        keys = [(r["External ID"], r["DataRow ID"], r["ID"]) for r in first]
        assert keys == [(r["External ID"], r["DataRow ID"], r["ID"]) for r in again]
    else:
        assert sorted(line["uuid"] for line in first) == sorted(line["uuid"] for line in again)
        assert len({line["uuid"] for line in again}) == len(again)  # unique in the import


def test_an_unanswered_question_of_a_stack_is_counted_once(tmp_path):
    item, _ = stack_item((5, 30, 40), tmp_path)
    # the nucleus (on planes 0 and 2) leaves "Mitosis > Mitotic stage" unanswered
    assert [label_id for label_id, _ in item.document.unanswered_report()] == [4]
    for fmt in ("labelbox-v1", "labelbox-ndjson"):
        path = tmp_path / f"stack{EXTENSIONS[fmt]}"
        result = registry.get(fmt).write(path, [item])
        assert "; 1 required question(s) unanswered" in result.summary


def test_a_labelbox_export_v2_with_plane_rows_opens_as_one_stack(reference_copy):
    """Rows of Labelbox's own export named as planes (no record of ours): one stack, each
    feature_id one label id across the rows, as deep as the last plane."""
    export = reference_copy / "export_v2.fish.ndjson"
    row = json.loads(export.read_text())
    alone = registry.get("labelbox-ndjson").read(export).labels[0]
    rows = []
    for z in (0, 2):  # plane 1 has no row: an empty plane
        plane_row = json.loads(json.dumps(row))
        plane_row["data_row"].update(
            id=f"ck0fishdatarow0000000000{z}", external_id=f"tank.png#z={z}", global_key=None
        )
        rows.append(plane_row)
    export.write_text("".join(json.dumps(r) + "\n" for r in rows))
    read = registry.get("labelbox-ndjson").read(export)
    (stack,) = read.labels
    assert stack.data.shape == (3, *alone.data.shape)
    assert not stack.data[1].any()
    by_feature = {i.feature_id: i for i in stack.document.instances.values()}
    for instance in alone.document.instances.values():
        twin = by_feature[instance.feature_id]
        assert twin.answers == instance.answers
        for z in (0, 2):
            np.testing.assert_array_equal(
                stack.data[z] == twin.label_id, alone.data == instance.label_id
            )
    # the image named before '#' (tank.png beside the export) is one 2-D picture, not the
    # stack: the segmentation opens without it, and a note says why
    assert read.images == []
    assert any("tank.png: the image is (96, 128, 3)" in note for note in read.notes)
