"""Real Labelbox v1 files (the Labelbox SDK's test exports, a real 2020 export with two real
masks and its image) open as the SDK reads them and survive a round trip."""

from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_segtool.formats.labelbox_v1 import (
    LabelboxFormatError,
    LabelboxFormatWarning,
    read_result,
    write_items,
)
from napari_segtool.formats.result import ReadResult
from tests.labelbox_realworld import (
    EMONSON,
    EMONSON_EXPORT,
    SDK_FIXTURES,
    V1_FILES,
    kind_counts,
    kinds_by_feature_id,
    load_rows,
    serve_the_web,
    web_mask,
)

#: what opening each file without downloading says (no row of them can open so)
REFUSED_OFFLINE = {
    "highly_nested_image.json": "is a web address",
    "image_export.json": "is a web address",
    "pdf_export.json": "document (PDF) data rows are not supported",
    "text_export.json": "text data rows are not supported",
    "tiled_image_export.json": "row 0, row 1: tiled imagery is not supported",
    "unkown_media_type_export.json": "so the size is unknown",
    "video_export.json": "row 0 (jellyfish2-100-110.mp4): video labels are not supported",
    EMONSON_EXPORT.name: "is a web address",
}
#: the files whose rows are images, and so open once their web files can be fetched
IMAGE_EXPORTS = [
    SDK_FIXTURES / "image_export.json",
    SDK_FIXTURES / "highly_nested_image.json",
    SDK_FIXTURES / "unkown_media_type_export.json",
]
_GEOMETRY = ("bbox", "polygon", "line", "point")
_LINE = "ckr2k3h9t00003h69gdr7eb8p"  # a line of the SDK's image export
#: our shape types for the SDK's annotation types
_SHAPE_TYPE = {"Rectangle": "rectangle", "Polygon": "polygon", "Line": "path", "Point": "point"}


def _quietly(call, *args, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        return call(*args, **options)


def _kinds_read(result: ReadResult) -> Counter[str]:
    """Object kinds as the SDK names them: each shape and point, each instance a Mask."""
    back = {v: k for k, v in _SHAPE_TYPE.items()}
    kinds = Counter(back[t] for item in result.shapes for t in item.shape_types)
    kinds["Mask"] += sum(len(item.document.instances) for item in result.labels)
    return +kinds


def _flat(classifications) -> list[dict]:
    """Classifications, out of the extra list some exports put around them."""
    entries = classifications or []
    return [e for entry in entries for e in (entry if isinstance(entry, list) else [entry])]


def _objects_by_feature_id(rows) -> dict[str, dict]:
    return {
        obj["featureId"]: obj
        for row in rows
        if isinstance(row.get("Label"), dict)
        for obj in row["Label"].get("objects", [])
    }


def test_every_real_v1_file_is_covered():
    assert {path.name for path in V1_FILES} == set(REFUSED_OFFLINE)


@pytest.mark.parametrize("path", V1_FILES, ids=lambda p: p.name)
def test_real_files_that_cannot_open_offline_say_why_naming_the_file(path):
    with pytest.raises(LabelboxFormatError) as caught:
        _quietly(read_result, path)
    message = str(caught.value)
    assert str(path) in message and "no data row could be opened" in message
    assert REFUSED_OFFLINE[path.name] in message, message
    assert "{" not in message  # a tile layer's JSON is never shown as an image name


@pytest.mark.parametrize("path", IMAGE_EXPORTS, ids=lambda p: p.name)
def test_real_image_exports_open_as_the_sdk_reads_them_and_round_trip(path, tmp_path, monkeypatch):
    asked = serve_the_web(monkeypatch)
    original = load_rows(path)
    local = tmp_path / path.name
    shutil.copy(path, local)
    result = _quietly(read_result, local, allow_download=True)
    assert asked and all(url.startswith("https://") for url in asked)
    assert _kinds_read(result) == kind_counts(original)

    # every geometry object is a shape or point with its class, featureId and answers
    objects = _objects_by_feature_id(original)
    for item in result.shapes:
        for n, feature_id in enumerate(item.features["featureId"]):
            obj = objects[feature_id]
            assert item.features["class"][n] == obj["title"]
            assert item.shape_types[n] == _SHAPE_TYPE[kinds_by_feature_id(original)[feature_id]]
            for entry in _flat(obj.get("classifications")):
                assert item.features[entry["title"]][n] != "", entry["title"]
    # every mask is an instance with the pixels it was served
    masks = [fid for fid, obj in objects.items() if not any(k in obj for k in _GEOMETRY)]
    for labels in result.labels:
        for label_id, instance in labels.document.instances.items():
            np.testing.assert_array_equal(labels.data == label_id, web_mask(instance.feature_id))
            masks.remove(instance.feature_id)
    assert masks == []
    # image answers (unkown_media_type: two rows with an image answer and no objects)
    image_answers = sum(len(r["Label"].get("classifications", [])) for r in original)
    answered = sum(len(labels.document.image_answers) for labels in result.labels)
    assert answered == image_answers

    out = tmp_path / "saved" / "export.json"
    _quietly(write_items, out, result.labels)
    written = json.loads(out.read_text())
    assert len(written) == len(original)
    saved = _objects_by_feature_id(written)
    assert set(saved) == set(objects)
    for feature_id, obj in objects.items():
        if any(key in obj for key in _GEOMETRY):  # written back exactly as they were
            assert saved[feature_id] == obj
        else:  # masks point at the files written beside the export
            assert saved[feature_id]["instanceURI"].startswith("export_masks/")
    assert kinds_by_feature_id(written) == kinds_by_feature_id(original)

    again = _quietly(read_result, out, allow_download=True)
    assert _kinds_read(again) == kind_counts(original)
    for first, second in zip(result.labels, again.labels, strict=True):
        np.testing.assert_array_equal(first.data, second.data)
        assert first.document.image_answers == second.document.image_answers
        assert [i.answers for i in first.document.instances.values()] == [
            i.answers for i in second.document.instances.values()
        ]
    for first, second in zip(result.shapes, again.shapes, strict=True):
        assert first.features == second.features and first.shape_types == second.shape_types


def _emonson_with_its_files(folder: Path) -> tuple[Path, list[np.ndarray]]:
    """The real export beside its real image and masks, as once its files are downloaded.

    The repository keeps mertola1.jpg and two masks of it (from a later labelling of the
    image, so their file names are other featureIds): row 0 gets them for its first two
    objects and loses the third, whose mask is not kept. Row 1 is as it was.
    """
    shutil.copytree(EMONSON / "LabelboxMasks", folder / "LabelboxMasks")
    rows = load_rows(EMONSON_EXPORT)
    mask_files = sorted((folder / "LabelboxMasks" / "masks" / "mertola1_jpg").glob("*.png"))
    row = rows[0]
    row["Labeled Data"] = "LabelboxMasks/images/mertola1.jpg"
    row["Label"]["objects"] = row["Label"]["objects"][: len(mask_files)]
    for obj, mask_file in zip(row["Label"]["objects"], mask_files, strict=True):
        obj["instanceURI"] = mask_file.relative_to(folder).as_posix()
    path = folder / "export.json"
    path.write_text(json.dumps(rows, indent=2))
    masks = []
    for mask_file in mask_files:
        with Image.open(mask_file) as image:
            masks.append(np.asarray(image)[..., 3] > 0)
    return path, masks


def test_the_real_export_with_its_real_masks_round_trips(tmp_path):
    path, masks = _emonson_with_its_files(tmp_path / "downloaded")
    original = load_rows(path)
    with pytest.warns(LabelboxFormatWarning, match=r"row 1 object ck93e4bgw2s060y7po35u9s6f"):
        result = read_result(path)
    (image,) = result.images
    (labels,) = result.labels
    assert image.data.shape == (3967, 5450, 3) and labels.data.shape == (3967, 5450)
    expected = np.zeros(labels.data.shape, np.uint32)
    for label_id, mask in enumerate(masks, start=1):  # the later object wins where they meet
        expected[mask] = label_id
    np.testing.assert_array_equal(labels.data, expected)
    assert [(labels.data == i).sum() for i in (1, 2)] == [
        38439 - (masks[0] & masks[1]).sum(),
        20132,
    ]
    document = labels.document
    assert [i.feature_id for i in document.instances.values()] == [
        o["featureId"] for o in original[0]["Label"]["objects"]
    ]
    assert {document.class_of(i).name for i in document.instances} == {"House Parts"}

    out = tmp_path / "saved" / "export.json"
    saved = _quietly(write_items, out, [labels])
    written = json.loads(out.read_text())
    assert written[1] == original[1]  # the row that could not open, as it was
    assert saved.details.mask_count == 2
    again = _quietly(read_result, out)
    np.testing.assert_array_equal(again.labels[0].data, expected)
    assert [i.feature_id for i in again.labels[0].document.instances.values()] == [
        o["featureId"] for o in original[0]["Label"]["objects"]
    ]


def test_the_real_export_opens_with_downloading_and_keeps_its_polygons(tmp_path, monkeypatch):
    """Its row 1 mixes masks and polygons that have an instanceURI: the polygons are polygons."""
    serve_the_web(monkeypatch)
    result = _quietly(read_result, EMONSON_EXPORT, allow_download=True)
    assert _kinds_read(result) == kind_counts(load_rows(EMONSON_EXPORT))
    (polygons,) = result.shapes
    assert polygons.shape_types == ["polygon"] * 3
    assert polygons.features["Draw only the facade or the room"] == ["", "", "Front Facade"]
    assert polygons.features["Shape?"] == ["Rectangular", "", ""]


def _row(external_id, labeled_data, objects=(), classifications=()):
    return {
        "ID": "ck93dp1kztpio0799fgt6l7u" + external_id[-1],
        "DataRow ID": "ck93cdtk4d5rn0dq150ol77v" + external_id[-1],
        "Labeled Data": labeled_data,
        "External ID": external_id,
        "Label": {"objects": list(objects), "classifications": list(classifications)},
    }


_ANSWER = {
    "featureId": "ckw3cf2v800053e66hd1qx3qx",
    "schemaId": "ckw3ceemh00013e66hcq7f5f2",
    "title": "classification",
    "value": "classification",
    "answer": {"schemaId": "ckw3ceemi00023e6652s6vwnp", "title": "a", "value": "a"},
}


def test_a_row_with_only_image_answers_opens_with_its_image(tmp_path):
    Image.fromarray(np.zeros((7, 9, 3), np.uint8)).save(tmp_path / "im3.png")
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_row("im3", "im3.png", classifications=[_ANSWER])]))
    result = _quietly(read_result, path)
    (labels,) = result.labels
    assert result.images[0].data.shape == (7, 9, 3) and not labels.data.any()
    (answer,) = labels.document.image_answers.values()
    assert answer == {labels.document.ontology.questions[0].options[0].feature_schema_id: {}}
    out = tmp_path / "saved.json"
    _quietly(write_items, out, [labels])
    (row,) = json.loads(out.read_text())
    assert [(c["title"], c["answer"]["title"]) for c in row["Label"]["classifications"]] == [
        ("classification", "a")
    ]


def test_rows_that_cannot_open_are_named_once_and_written_back(tmp_path):
    """A tiled row and a row with answers but neither image nor masks, beside one that opens."""
    Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(tmp_path / "im1.png")
    tiled = load_rows(SDK_FIXTURES / "tiled_image_export.json")[0]
    rows = [
        _row("im0", "https://storage.example/im0.png", classifications=[_ANSWER]),
        _row("im1", "im1.png"),
        tiled,
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(rows))
    with pytest.warns(LabelboxFormatWarning) as caught:
        result = read_result(path)
    told = [str(w.message) for w in caught if "not opened" in str(w.message)]
    assert len(told) == 1, told
    assert "row 2: tiled imagery is not supported" in told[0]
    assert "row 0 (im0): the image is not a local file" in told[0] and "1 image answer" in told[0]
    assert "tileLayerUrl" not in told[0]
    (labels,) = result.labels
    assert labels.document.source["rows_before"] == [rows[0]]
    assert labels.document.source["rows_after"] == [tiled]

    out = tmp_path / "saved.json"
    _quietly(write_items, out, [labels])
    written = json.loads(out.read_text())
    assert [r["External ID"] for r in written[:2]] == ["im0", "im1"]
    assert written[0] == rows[0] and written[2] == tiled


def test_boxes_with_local_instance_uris_stay_boxes_and_keep_their_files(tmp_path):
    """Objects of other tools rendered beside the export (``instanceURI`` local): saving to the
    same export keeps their files and their kind; only the masks become instances."""
    masks = tmp_path / "export_masks"
    masks.mkdir()
    cell = np.zeros((20, 30, 4), np.uint8)
    cell[2:6, 3:9] = 255
    box = np.zeros((20, 30, 4), np.uint8)
    box[10:15, 10:20] = 255
    Image.fromarray(cell).save(masks / "cell.png")
    Image.fromarray(box).save(masks / "box.png")
    common = {"schemaId": "ckr083qt78ie70yar0goy4trr", "color": "#00FF00"}
    objects = [
        {"featureId": "ckr2k459500063h69uiumklz0", "title": "cell", "value": "cell",
         "instanceURI": "export_masks/cell.png", **common},
        {"featureId": "ckr2k4hvi000a3h69dm0voem2", "title": "box", "value": "box",
         "instanceURI": "export_masks/box.png", "schemaId": "ckr083qt78ie70yar0goy4tss",
         "color": "#FF0000", "bbox": {"top": 10, "left": 10, "height": 5, "width": 10}},
    ]  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_row("im1", "https://storage.example/im1.png", objects)]))
    result = _quietly(read_result, path)
    (labels,) = result.labels
    assert [i.feature_id for i in labels.document.instances.values()] == [objects[0]["featureId"]]
    (shapes,) = result.shapes
    assert shapes.shape_types == ["rectangle"] and shapes.features["class"] == ["box"]
    np.testing.assert_array_equal(shapes.coords[0], [[10, 10], [10, 20], [15, 20], [15, 10]])
    cls_ = labels.document.ontology.classes
    assert [(c.name, c.tool) for c in cls_] == [
        ("cell", "raster-segmentation"),
        ("box", "rectangle"),
    ]

    _quietly(write_items, path, [labels])  # saved over itself
    (row,) = json.loads(path.read_text())
    assert row["Label"]["objects"][1] == objects[1]
    assert (masks / "box.png").is_file() and not (masks / "cell.png").exists()
    again = _quietly(read_result, path)
    np.testing.assert_array_equal(again.labels[0].data, labels.data)
    assert again.shapes[0].shape_types == ["rectangle"]


def test_shapes_given_to_the_writer_save_their_edits(tmp_path, monkeypatch):
    """Matched by featureId: reshaped and moved objects get their new geometry, deleted ones
    go, the rest stays as read; shapes new to the export are not written and said so."""
    serve_the_web(monkeypatch)
    path = SDK_FIXTURES / "image_export.json"
    original = _objects_by_feature_id(load_rows(path))
    result = _quietly(read_result, path, allow_download=True)
    shapes, points = result.shapes
    polygon = shapes.features["featureId"].index("ckr2k3v6d00043h69s3psq0oy")
    coords = [c.copy() for c in shapes.coords]
    coords[polygon] = np.array([[10.0, 20.0], [30.5, 20.0], [30.5, 41.0]])
    kept = [n for n in range(len(coords)) if shapes.features["featureId"][n] != _LINE]
    edited = replace(
        shapes,
        coords=[coords[n] for n in kept] + [np.array([[1.0, 1.0], [2.0, 2.0], [1.0, 3.0]])],
        shape_types=[shapes.shape_types[n] for n in kept] + ["polygon"],
        features={"featureId": [shapes.features["featureId"][n] for n in kept] + [""]},
        read_ids=tuple(shapes.features["featureId"]),
    )
    moved_point = replace(points, coords=[points.coords[0] + [1, 2]], read_ids=("x",))
    out = tmp_path / "export.json"
    with pytest.warns(LabelboxFormatWarning, match=r"1 shape\(s\) or point\(s\) drawn in napari"):
        saved = write_items(out, result.labels, shapes=[edited, moved_point])
    written = _objects_by_feature_id(json.loads(out.read_text()))
    assert _LINE not in written and len(written) == len(original) - 1
    assert written["ckr2k3v6d00043h69s3psq0oy"]["polygon"] == [
        {"x": 20, "y": 10}, {"x": 20, "y": 30.5}, {"x": 41, "y": 30.5}
    ]  # fmt: skip
    point = original["ckr2k3ti600033h697k4f5q4y"]["point"]
    assert written["ckr2k3ti600033h697k4f5q4y"]["point"] == {
        "x": point["x"] + 2, "y": point["y"] + 1
    }  # fmt: skip
    for feature_id, obj in written.items():  # the others, and all but the geometry, as read
        if feature_id not in ("ckr2k3v6d00043h69s3psq0oy", "ckr2k3ti600033h697k4f5q4y"):
            if "instanceURI" in obj and obj["instanceURI"].startswith("export_masks/"):
                continue
            assert obj == original[feature_id]
    assert saved.sources[0]["other_objects"] == [
        o
        for o in json.loads(out.read_text())[0]["Label"]["objects"]
        if o["featureId"] != ("ckr2k459500063h69uiumklz0")
    ]
