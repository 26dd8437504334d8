"""Labelbox export v2 (NDJSON): the pure reader, built from the format as Labelbox documents it
(composite masks, per-object masks, nested answers, several projects, other tools), and its
hostile cases."""

from __future__ import annotations

import copy
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_segtool.formats import labelbox_ndjson, labelbox_v1, registry
from napari_segtool.formats.labelbox_ndjson import (
    LabelboxFormatError,
    LabelboxFormatWarning,
    is_v2_export,
    read_export,
    read_result,
)
from napari_segtool.model.ontology import walk_questions

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
EXPORT = "export_v2.fish.ndjson"
COMPOSITE = "export_v2_masks/tank.composite.png"
FEATURES = [
    "cjxtm2d32i9aa07940tifrpuh",
    "cjxtm2kf0i9b207944z3gypsn",
    "cjxtm2spbh8xx0721s18nwqq0",
    "cjxtm3i3ci9cx07940e5t7if8",
]
COLOURS = [[255, 87, 34], [3, 169, 244], [139, 195, 74], [123, 103, 152]]
AREAS = [450, 341, 250, 10479]
ORANGE, BLUE, WATER = (
    "cjxtjkpjai8t80846iwqaa1d8",
    "cjxtjkpjai8t90846yzpbpo7t",
    "cjxtk7z5qi5s90794v7wvseu6",
)
BLURRY, YES, WHY = (
    "cjxtjkphehbnj0848wknmg44u",
    "cjxtjkpfwh4y90721uodxps2b",
    "cjxtjkpfwh4y90721uodxps3c",
)
REBUILT = "ignore:.*rebuilt the ontology"


def reference_row() -> dict:
    return json.loads((REFERENCE / EXPORT).read_text())


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def objects_of(row: dict, project: str = "ck0fishproject0000000001") -> list[dict]:
    return row["projects"][project]["labels"][0]["annotations"]["objects"]


@pytest.fixture
def folder(tmp_path) -> Path:
    """The reference export v2 with its composite mask and image, without the ontology."""
    target = tmp_path / "export"
    target.mkdir()
    shutil.copy(REFERENCE / EXPORT, target / EXPORT)
    shutil.copy(REFERENCE / "tank.png", target / "tank.png")
    (target / "export_v2_masks").mkdir()
    shutil.copy(REFERENCE / COMPOSITE, target / COMPOSITE)
    return target


def with_ontology(folder: Path) -> Path:
    shutil.copy(REFERENCE / "ontology.fish.json", folder / "ontology.fish.json")
    return folder


def by_feature(labels: np.ndarray, document) -> dict[str, np.ndarray]:
    return {i.feature_id: labels == i.label_id for i in document.instances.values()}


# -- the reference file ---------------------------------------------------------------
def test_reference_reads_as_its_v1_twin(reference_dir):
    """The v2 export of the tank holds what the v1 export of it holds: pixels, ids, answers."""
    (v2,) = read_export(reference_dir / EXPORT)
    (v1,) = labelbox_v1.read_export(reference_dir / "export_v1.fish.json")
    (layer,) = v2.layers
    assert layer.name == "tank segmentation" and v2.name == "tank"
    np.testing.assert_array_equal(v2.image, v1.image)
    assert by_feature(layer.labels, layer.document).keys() == set(FEATURES)
    for feature_id, mask in by_feature(v1.labels, v1.document).items():
        np.testing.assert_array_equal(by_feature(layer.labels, layer.document)[feature_id], mask)
    mine = {i.feature_id: (i.schema_id, i.answers) for i in layer.document.instances.values()}
    theirs = {i.feature_id: (i.schema_id, i.answers) for i in v1.document.instances.values()}
    assert mine == theirs
    assert mine[FEATURES[0]][1][BLURRY] == {YES: {WHY: "it moved during the exposure"}}
    assert layer.document.image_answers == v1.document.image_answers
    assert layer.document.ontology.to_dict() == v1.document.ontology.to_dict()


def test_reference_source_keeps_the_row_ids_and_times(reference_dir):
    (row,) = read_export(reference_dir / EXPORT)
    source = row.layers[0].document.source
    assert source["global_key"] == "tank.png"
    assert source["data_row_id"] == "ck0fishdatarow00000000001"
    assert source["project_id"] == "ck0fishproject0000000001"
    assert source["project_name"] == "Fish tank"
    assert source["label_id"] == "ck0fishlabel0000000000001"
    assert source["created_by"] == "annotator@example.org"
    assert source["seconds_to_label"] == 300.5
    assert source["image_path"] == str((reference_dir / "tank.png").resolve())


def test_registry_claims_v2_and_reads_it(reference_dir):
    entry, claim = registry.claimed_format(reference_dir / EXPORT)
    assert entry.name == "labelbox-ndjson" and entry.display_name == "Labelbox NDJSON"
    assert entry.extensions == (".ndjson", ".jsonl")
    result = entry.read(reference_dir / EXPORT, claim=claim)
    assert [type(item).__name__ for item in result.items] == ["ImageItem", "LabelsItem"]
    assert "Labelbox NDJSON (*.ndjson *.jsonl)" in registry.open_filter()


def test_a_jsonl_name_is_read_too(folder):
    (folder / EXPORT).rename(folder / "tank.jsonl")
    assert is_v2_export(folder / "tank.jsonl")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", REBUILT[7:])
        (row,) = read_export(folder / "tank.jsonl")
    assert len(row.layers[0].document) == 4


@pytest.mark.parametrize(
    "content",
    [
        '{"text": "a sentence", "label": 3}\n{"text": "another", "label": 1}\n',
        '{"text": "data_row", "note": "dataRow"}\n',
        '[{"data_row": {}}]\n',
        "",
        "\x00\x01binary",
    ],
)
def test_other_ndjson_is_declined(tmp_path, content):
    path = tmp_path / "other.ndjson"
    path.write_text(content)
    assert not is_v2_export(path)
    with pytest.raises(registry.UnknownFormatError):
        registry.format_for(path)


def test_a_v2_row_under_another_extension_is_not_claimed(tmp_path):
    path = write_rows(tmp_path / "rows.json", [reference_row()])
    assert not is_v2_export(path)
    assert not labelbox_v1.is_v1_export(path)


def test_the_entry_writes_imports_and_reads_them_back(tmp_path):
    """One entry: it reads exports, writes imports and reads those back; an import
    (``dataRow``, one line per object) is told from an export by its first line."""
    entry = registry.writer_for(tmp_path / "out.ndjson")
    assert entry is registry.get("labelbox-ndjson") and entry.writer is labelbox_ndjson.write_items
    (row,) = read_export(REFERENCE / EXPORT)
    (layer,) = row.layers
    labelbox_ndjson.write_ndjson(tmp_path / "out.ndjson", [(layer.labels, layer.document)])
    lines = [json.loads(line) for line in (tmp_path / "out.ndjson").read_text().splitlines()]
    # the export's data row and featureIds carry over into the import
    assert {line["dataRow"]["id"] for line in lines} == {"ck0fishdatarow00000000001"}
    masks = [line for line in lines if "mask" in line]
    assert [line["uuid"] for line in masks] == [labelbox_ndjson.stable_uuid(f) for f in FEATURES]
    assert masks[0]["classifications"][0]["answer"]["classifications"][0]["answer"] == (
        "it moved during the exposure"
    )
    assert not is_v2_export(tmp_path / "out.ndjson")
    assert labelbox_ndjson.is_import_file(tmp_path / "out.ndjson")
    assert registry.format_for(tmp_path / "out.ndjson") is entry
    (back,) = entry.read(tmp_path / "out.ndjson").labels
    np.testing.assert_array_equal(back.data, layer.labels)
    assert [i.feature_id for i in back.document.instances.values()] == [
        labelbox_ndjson.stable_uuid(f) for f in FEATURES
    ]


# -- the ontology ---------------------------------------------------------------------
@pytest.mark.filterwarnings(REBUILT)
def test_without_an_ontology_file_it_is_rebuilt_with_schema_ids_and_nesting(folder):
    (row,) = read_export(folder / EXPORT)
    ontology = row.layers[0].document.ontology
    assert [(c.name, c.feature_schema_id) for c in ontology.classes] == [
        ("Orange Fish", ORANGE),
        ("Blue Fish", BLUE),
        ("Water", WATER),
    ]
    orange = ontology.class_by_id(ORANGE)
    blurry = orange.questions[0]
    assert (blurry.name, blurry.feature_schema_id, blurry.type) == (
        "Is the fish blurry?",
        BLURRY,
        "radio",
    )
    (yes,) = blurry.options
    assert [(q.name, q.feature_schema_id) for q in yes.questions] == [("Why is it blurry?", WHY)]
    # the nested question is not also a question of its own
    assert [q.feature_schema_id for q in orange.questions] == [
        BLURRY,
        orange.questions[1].feature_schema_id,
    ]
    with_ontology(folder)
    (again,) = read_export(folder / EXPORT)
    mine = {i.feature_id: i.answers for i in row.layers[0].document.instances.values()}
    assert mine == {i.feature_id: i.answers for i in again.layers[0].document.instances.values()}


def test_a_rebuilt_ontology_is_announced(folder):
    with pytest.warns(LabelboxFormatWarning, match="rebuilt the ontology from the objects"):
        read_export(folder / EXPORT)


def deep_answer(level: int, prefix: str = "cdeep") -> dict:
    """A radio whose chosen option holds a radio ... ``level`` deep, ending in a checklist and a
    text answer."""
    if level == 0:
        return {
            "feature_schema_id": f"{prefix}text000000000000000",
            "name": "Comment",
            "value": "comment",
            "text_answer": {"content": "deepest"},
        }
    return {
        "feature_schema_id": f"{prefix}q{level:018d}",
        "name": f"Question {level}",
        "value": f"question_{level}",
        "radio_answer": {
            "feature_schema_id": f"{prefix}o{level:018d}",
            "name": f"Option {level}",
            "value": f"option_{level}",
            "classifications": [
                deep_answer(level - 1, prefix),
                {
                    "feature_schema_id": f"{prefix}c{level:018d}",
                    "name": f"Checks {level}",
                    "value": f"checks_{level}",
                    "checklist_answers": [
                        {"feature_schema_id": f"{prefix}a{level:018d}", "name": "A", "value": "a"},
                        {"feature_schema_id": f"{prefix}b{level:018d}", "name": "B", "value": "b"},
                    ],
                },
            ],
        },
    }


@pytest.mark.filterwarnings(REBUILT)
def test_answers_nested_three_levels_deep_survive_with_and_without_the_ontology(folder):
    row = reference_row()
    objects_of(row)[1]["classifications"] = [deep_answer(3)]
    row["projects"]["ck0fishproject0000000001"]["labels"][0]["annotations"][
        "classifications"
    ].append(deep_answer(2, "cimge"))
    write_rows(folder / EXPORT, [row])
    (read,) = read_export(folder / EXPORT)
    document = read.layers[0].document
    answers = document.instance(2).answers
    level = answers
    for depth in (3, 2, 1):
        chosen = level[f"cdeepq{depth:018d}"]
        assert list(chosen) == [f"cdeepo{depth:018d}"]
        level = chosen[f"cdeepo{depth:018d}"]
        assert level[f"cdeepc{depth:018d}"] == {
            f"cdeepa{depth:018d}": {},
            f"cdeepb{depth:018d}": {},
        }
    assert level["cdeeptext000000000000000"] == "deepest"
    assert document.image_answers["cimgeq" + "2".zfill(18)]["cimgeo" + "2".zfill(18)]
    ids = [
        q.feature_schema_id for q in walk_questions(document.ontology.class_by_id(ORANGE).questions)
    ]
    assert ids.count("cdeepq" + "1".zfill(18)) == 1  # one place in the ontology, nested
    # the file's ontology is reused: the answers read through it are the same
    path = folder / "export_v2.fish.ontology.json"
    path.write_text(document.ontology.to_json())
    (again,) = read_export(folder / EXPORT)
    assert again.layers[0].document.instance(2).answers == answers


# -- masks ------------------------------------------------------------------------------
def per_object_masks(row: dict) -> dict:
    for obj in objects_of(row):
        del obj["composite_mask"]
        obj["mask"] = {"url": f"tank_masks/{obj['feature_id']}.png"}
    return row


def test_per_object_masks_read_like_the_composite(reference_copy):
    composite = read_export(reference_copy / EXPORT)[0].layers[0]
    write_rows(reference_copy / EXPORT, [per_object_masks(reference_row())])
    (row,) = read_export(reference_copy / EXPORT)
    np.testing.assert_array_equal(row.layers[0].labels, composite.labels)


def test_a_composite_mask_by_file_uri_inside_the_folder(folder):
    row = reference_row()
    for obj in objects_of(row):
        obj["composite_mask"]["url"] = (folder / COMPOSITE).resolve().as_uri()
    write_rows(folder / EXPORT, [row])
    with_ontology(folder)
    (read,) = read_export(folder / EXPORT)
    assert np.bincount(read.layers[0].labels.ravel()).tolist()[1:] == AREAS


@pytest.mark.parametrize(
    "url",
    ["../outside.png", "/etc/passwd", "file:///etc/passwd", "gs://bucket/mask.png"],
)
def test_mask_urls_outside_the_folder_are_refused(folder, url):
    (folder.parent / "outside.png").write_bytes((folder / COMPOSITE).read_bytes())
    row = reference_row()
    objects_of(row)[0]["composite_mask"]["url"] = url
    write_rows(folder / EXPORT, [row])
    with_ontology(folder)
    with pytest.raises(LabelboxFormatError) as caught:
        read_export(folder / EXPORT)
    message = str(caught.value)
    assert str(folder / EXPORT) in message and FEATURES[0] in message
    assert "outside the export's folder" in message or "unsupported" in message


def test_a_web_mask_is_not_fetched_unless_downloading_is_enabled(folder):
    row = reference_row()
    for obj in objects_of(row):
        obj["composite_mask"]["url"] = "https://api.labelbox.com/api/v1/tasks/t/masks/m/index/1"
    write_rows(folder / EXPORT, [row])
    with_ontology(folder)
    with pytest.raises(LabelboxFormatError, match="downloaded only when downloading is enabled"):
        read_export(folder / EXPORT)


def test_the_composite_is_decoded_once_per_label(folder, monkeypatch):
    from napari_segtool.formats.labelbox_ndjson import reader

    calls = []
    original = reader.decode_composite

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(reader, "decode_composite", counting)
    with_ontology(folder)
    read_export(folder / EXPORT)
    assert len(calls) == 1


# -- several projects and labels ------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*colours no object names")  # the second label's composite
def test_several_projects_and_labels_give_one_layer_each(folder):
    row = reference_row()
    project = row["projects"]["ck0fishproject0000000001"]
    first = project["labels"][0]
    second = copy.deepcopy(first)
    second["id"] = "ck0fishlabel0000000000002"
    second["annotations"]["objects"] = second["annotations"]["objects"][2:3]
    for obj in second["annotations"]["objects"]:
        obj["feature_id"] = "ck0secondlabelobject00001"
    project["labels"].append(second)
    review = copy.deepcopy(project)
    review["name"] = "Fish review"
    review["labels"] = [copy.deepcopy(first)]
    for n, obj in enumerate(review["labels"][0]["annotations"]["objects"]):
        obj["feature_id"] = f"ck0reviewobject{n:010d}"
    row["projects"]["ck0fishproject0000000002"] = review
    write_rows(folder / EXPORT, [row])
    with_ontology(folder)
    (read,) = read_export(folder / EXPORT)
    assert [layer.name for layer in read.layers] == [
        "tank segmentation (Fish tank #1)",
        "tank segmentation (Fish tank #2)",
        "tank segmentation (Fish review)",
    ]
    counts = [np.bincount(layer.labels.ravel()).tolist()[1:] for layer in read.layers]
    assert counts == [AREAS, [250], AREAS]
    sources = [
        (lay.document.source["project_id"], lay.document.source["label_id"]) for lay in read.layers
    ]
    assert sources == [
        ("ck0fishproject0000000001", "ck0fishlabel0000000000001"),
        ("ck0fishproject0000000001", "ck0fishlabel0000000000002"),
        ("ck0fishproject0000000002", "ck0fishlabel0000000000001"),
    ]
    documents = [layer.document for layer in read.layers]
    assert documents[0].ontology is not documents[2].ontology  # each layer edits its own
    result = read_result(folder / EXPORT)
    assert [type(item).__name__ for item in result.items] == ["ImageItem"] + ["LabelsItem"] * 3


def test_a_row_not_labelled_yet_opens_an_empty_layer(folder):
    row = reference_row()
    row["projects"]["ck0fishproject0000000001"]["labels"] = []
    write_rows(folder / EXPORT, [row])
    with_ontology(folder)
    (read,) = read_export(folder / EXPORT)
    (layer,) = read.layers
    assert layer.labels.shape == (96, 128) and not layer.labels.any()
    assert len(layer.document) == 0


# -- other tools ------------------------------------------------------------------------------
@pytest.mark.filterwarnings(REBUILT)
def test_other_tools_become_shapes_and_points_with_class_and_answers(folder):
    row = reference_row()
    objects_of(row).extend(
        [
            {
                "feature_id": "cbox0000000000000000000001",
                "feature_schema_id": "cboxtool00000000000000001",
                "name": "Bubble",
                "value": "bubble",
                "annotation_kind": "ImageBoundingBox",
                "classifications": [
                    {
                        "feature_schema_id": "cboxq0000000000000000001",
                        "name": "Size",
                        "value": "size",
                        "radio_answer": {
                            "feature_schema_id": "cboxo0000000000000000001",
                            "name": "Large",
                            "value": "large",
                        },
                    }
                ],
                "bounding_box": {"top": 10, "left": 20, "height": 5, "width": 8},
            },
            {
                "feature_id": "cpoly000000000000000000001",
                "feature_schema_id": "cpolytool0000000000000001",
                "name": "Plant",
                "value": "plant",
                "annotation_kind": "ImagePolygon",
                "classifications": [],
                "polygon": [{"x": 1, "y": 2}, {"x": 5, "y": 2}, {"x": 5, "y": 9}],
            },
            {
                "feature_id": "cline000000000000000000001",
                "feature_schema_id": "clinetool0000000000000001",
                "name": "Crack",
                "value": "crack",
                "annotation_kind": "ImagePolyline",
                "classifications": [],
                "line": [{"x": 0, "y": 0}, {"x": 10, "y": 4}],
            },
            {
                "feature_id": "cpoint00000000000000000001",
                "feature_schema_id": "cpointtool000000000000001",
                "name": "Eye",
                "value": "eye",
                "annotation_kind": "ImagePoint",
                "classifications": [],
                "point": {"x": 30, "y": 40},
            },
            {"feature_id": "crel", "annotation_kind": "ImageRelationship", "name": "rel"},
        ]
    )
    write_rows(folder / EXPORT, [row])
    with pytest.warns(
        LabelboxFormatWarning, match=r"1 object\(s\) with neither a mask.*1 ImageRelationship"
    ):
        (read,) = read_export(folder / EXPORT)
    (layer,) = read.layers
    assert len(layer.document) == 4
    shapes, points = layer.shapes
    assert shapes.name == "tank segmentation shapes" and points.kind == "points"
    assert shapes.shape_types == ["rectangle", "polygon", "path"]
    np.testing.assert_array_equal(shapes.coords[0], [[10, 20], [10, 28], [15, 28], [15, 20]])
    np.testing.assert_array_equal(shapes.coords[1], [[2, 1], [2, 5], [9, 5]])
    assert shapes.features["class"] == ["Bubble", "Plant", "Crack"]
    assert shapes.features["featureId"][0] == "cbox0000000000000000000001"
    assert shapes.features["Size"] == ["Large", "", ""]
    np.testing.assert_array_equal(points.coords[0], [[40, 30]])
    tools = {c.name: c.tool for c in layer.document.ontology.classes}
    assert tools["Bubble"] == "rectangle" and tools["Eye"] == "point"
    assert len(layer.document.source["v2_other_objects"]) == 4


# -- hostile ----------------------------------------------------------------------------------
def read_with(folder: Path, rows: list[dict]):
    write_rows(folder / EXPORT, rows)
    with_ontology(folder)
    return read_export(folder / EXPORT)


def test_a_colour_missing_from_the_png_skips_that_object_with_a_warning(folder):
    row = reference_row()
    objects_of(row)[1]["composite_mask"]["color_rgb"] = [1, 2, 3]
    with pytest.warns(LabelboxFormatWarning) as caught:
        (read,) = read_with(folder, [row])
    messages = " ".join(str(w.message) for w in caught)
    assert FEATURES[1] in messages and "(1, 2, 3) is not in its composite mask" in messages
    assert "341 pixel(s) of the composite mask" in messages  # its pixels: no object names them
    layer = read.layers[0]
    assert [i.feature_id for i in layer.document.instances.values()] == [
        FEATURES[0],
        FEATURES[2],
        FEATURES[3],
    ]
    # ids stay 1..n, and the orphaned pixels are background
    assert np.bincount(layer.labels.ravel()).tolist() == [768 + 341, 450, 250, 10479]


def test_a_colour_shared_by_two_objects_is_an_error_naming_both(folder):
    row = reference_row()
    objects_of(row)[2]["composite_mask"]["color_rgb"] = COLOURS[0]
    with pytest.raises(LabelboxFormatError) as caught:
        read_with(folder, [row])
    message = str(caught.value)
    assert FEATURES[0] in message and FEATURES[2] in message
    assert "share the colour (255, 87, 34)" in message and "line 1" in message


@pytest.mark.parametrize("rgb", [[1, 2], [256, 0, 0], "red", None, [0, 0, 0], [1.5, 2, 3]])
def test_bad_colours_are_errors_naming_the_object(folder, rgb):
    row = reference_row()
    objects_of(row)[3]["composite_mask"]["color_rgb"] = rgb
    with pytest.raises(
        LabelboxFormatError, match=f"object {FEATURES[3]}: composite_mask.color_rgb"
    ):
        read_with(folder, [row])


def test_a_composite_of_the_wrong_size_is_an_error(folder):
    Image.new("RGB", (64, 48)).save(folder / COMPOSITE)
    with pytest.raises(LabelboxFormatError) as caught:
        read_with(folder, [reference_row()])
    message = str(caught.value)
    assert "64 x 48 pixels, but the data row is 128 x 96" in message
    assert FEATURES[0] in message and "3 other object(s)" in message


def test_a_composite_that_is_not_a_png_is_an_error(folder):
    (folder / COMPOSITE).write_bytes(b"GIF89a not really")
    with pytest.raises(LabelboxFormatError, match=r"the composite mask .* is not usable"):
        read_with(folder, [reference_row()])


@pytest.mark.parametrize("cut", [1, 100, 1000, -2])
def test_a_truncated_line_is_an_error_naming_the_line(folder, cut):
    good = json.dumps(reference_row())
    (folder / EXPORT).write_text(good + "\n" + good[:cut] + "\n")
    with_ontology(folder)
    with pytest.raises(LabelboxFormatError) as caught:
        read_export(folder / EXPORT)
    assert "line 2 is not valid JSON" in str(caught.value)
    assert "cut short" in str(caught.value)


@pytest.mark.parametrize(
    "line, problem",
    [
        ("[1, 2]", "a data row is a JSON object, not a list"),
        ('{"media_attributes": {}}', "no data_row object"),
        ('{"data_row": {"id": "x"}, "projects": []}', "projects must be an object"),
        ('{"data_row": {"id": "x"}, "projects": {"p": {"labels": {}}}}', "labels must be a list"),
        (
            '{"data_row": {"id": "x"}, '
            '"projects": {"p": {"labels": [{"annotations": {"objects": [1]}}]}}}',
            "objects[0] must be an object",
        ),
        (
            '{"data_row": {"id": "x"}, "media_attributes": {"height": -1, "width": 4}}',
            "positive integer height and width",
        ),
        (
            '{"data_row": {"id": "x"}, "media_attributes": {"mime_type": "text/plain"}}',
            "a text/plain data row; only images are read",
        ),
    ],
)
def test_malformed_rows_say_where(folder, line, problem):
    (folder / EXPORT).write_text(json.dumps(reference_row()) + "\n" + line + "\n")
    with pytest.raises(LabelboxFormatError) as caught:
        read_export(folder / EXPORT)
    assert "line 2" in str(caught.value) and problem in str(caught.value)


def test_a_row_without_media_attributes_takes_the_size_from_its_masks(folder):
    row = reference_row()
    del row["media_attributes"]
    row["data_row"]["row_data"] = "https://storage.example.org/tank.png"  # not fetched
    with pytest.warns(LabelboxFormatWarning, match="no media_attributes"):
        (read,) = read_with(folder, [row])
    assert read.image is None
    assert np.bincount(read.layers[0].labels.ravel()).tolist()[1:] == AREAS


def test_a_row_without_media_attributes_image_or_masks_is_skipped(folder):
    bare = reference_row()
    del bare["media_attributes"]
    bare["data_row"]["row_data"] = "https://storage.example.org/tank.png"
    objects_of(bare).clear()
    with pytest.warns(LabelboxFormatWarning, match="skipped: no media_attributes"):
        rows = read_with(folder, [bare, reference_row()])
    assert len(rows) == 1
    with (
        pytest.raises(LabelboxFormatError, match="no data row could be opened"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        read_with(folder, [bare])


def test_an_image_of_another_size_than_media_attributes_is_an_error(folder):
    row = reference_row()
    row["media_attributes"].update(height=48, width=64)
    with pytest.raises(
        LabelboxFormatError, match="is 128 x 96 pixels, but media_attributes state 64 x 48"
    ):
        read_with(folder, [row])


def test_a_stated_size_beyond_the_pixel_limit_is_refused_before_decoding(folder):
    row = reference_row()
    row["media_attributes"].update(height=10**6, width=10**6)
    with pytest.raises(LabelboxFormatError, match="possible decompression bomb"):
        read_with(folder, [row])


def test_repeated_feature_ids_get_new_ones(folder):
    row = reference_row()
    objects_of(row)[1]["feature_id"] = FEATURES[0]
    with pytest.warns(LabelboxFormatWarning, match="repeats"):
        (read,) = read_with(folder, [row])
    ids = [i.feature_id for i in read.layers[0].document.instances.values()]
    assert ids[0] == FEATURES[0] and len(set(ids)) == 4


def test_the_package_exports_its_reader():
    assert labelbox_ndjson.read_result is read_result


def first_label(row: dict) -> dict:
    return row["projects"]["ck0fishproject0000000001"]["labels"][0]


def first_object(row: dict) -> dict:
    return first_label(row)["annotations"]["objects"][0]


def geometry(key: str):
    def put(row: dict, value) -> None:
        first_object(row).pop("composite_mask")
        first_object(row)[key] = value

    return put


FIELDS = {
    "object classifications": lambda r, v: first_object(r).__setitem__("classifications", v),
    "radio_answer": lambda r, v: first_object(r)["classifications"][0].__setitem__(
        "radio_answer", v
    ),
    "nested classifications": lambda r, v: first_object(r)["classifications"][0][
        "radio_answer"
    ].__setitem__("classifications", v),
    "checklist_answers": lambda r, v: first_object(r)["classifications"][1].__setitem__(
        "checklist_answers", v
    ),
    "a checklist answer": lambda r, v: first_object(r)["classifications"][1][
        "checklist_answers"
    ].__setitem__(0, v),
    "text_answer": lambda r, v: first_object(r)["classifications"][0]["radio_answer"][
        "classifications"
    ][0].__setitem__("text_answer", v),
    "feature_schema_id": lambda r, v: first_object(r).__setitem__("feature_schema_id", v),
    "name": lambda r, v: first_object(r).__setitem__("name", v),
    "feature_id": lambda r, v: first_object(r).__setitem__("feature_id", v),
    "composite_mask": lambda r, v: first_object(r).__setitem__("composite_mask", v),
    "composite url": lambda r, v: first_object(r)["composite_mask"].__setitem__("url", v),
    "mask": geometry("mask"),
    "bounding_box": geometry("bounding_box"),
    "point": geometry("point"),
    "polygon": geometry("polygon"),
    "label_details": lambda r, v: first_label(r).__setitem__("label_details", v),
    "performance_details": lambda r, v: first_label(r).__setitem__("performance_details", v),
    "annotations": lambda r, v: first_label(r).__setitem__("annotations", v),
    "image classifications": lambda r, v: first_label(r)["annotations"].__setitem__(
        "classifications", v
    ),
    "row_data": lambda r, v: r["data_row"].__setitem__("row_data", v),
    "external_id": lambda r, v: r["data_row"].__setitem__("external_id", v),
    "project name": lambda r, v: r["projects"]["ck0fishproject0000000001"].__setitem__("name", v),
    "media_attributes": lambda r, v: r.__setitem__("media_attributes", v),
    "a label": lambda r, v: r["projects"]["ck0fishproject0000000001"]["labels"].__setitem__(0, v),
    "data_row": lambda r, v: r.__setitem__("data_row", v),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("field", FIELDS)
def test_any_value_in_any_field_is_read_or_refused_by_name(folder, field):
    with_ontology(folder)
    for value in (None, 1, -1, 1.5, True, "x", [], {}, [1], {"a": 1}, [{"x": "y"}]):
        row = reference_row()
        FIELDS[field](row, value)
        write_rows(folder / EXPORT, [row])
        try:
            read_export(folder / EXPORT)
        except LabelboxFormatError as err:
            assert str(folder / EXPORT) in str(err)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` and holds no pixels (a bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_composite_bomb_without_media_attributes_is_refused_unread(folder):
    (folder / COMPOSITE).write_bytes(png_header_only(200_000, 200_000))
    row = reference_row()
    del row["media_attributes"]
    with (
        pytest.raises(LabelboxFormatError, match="possible decompression bomb"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        read_with(folder, [row])


# -- a real export ----------------------------------------------------------------------------
REAL = Path(__file__).resolve().parents[1] / "data" / "realworld" / "labelbox-python" / "export_v2"


def test_a_real_export_v2_opens_every_row_with_its_answers():
    """Labelbox's own export of an image-classification project: 102 rows, image-level radio
    answers only, images on Google Cloud Storage (not fetched)."""
    path = REAL / "roof-wear-highres.ndjson"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    with pytest.warns(LabelboxFormatWarning, match="rebuilt the ontology"):
        result = read_result(path)
    assert not result.images  # https row_data is not downloaded
    assert len(result.labels) == len(lines) == 102
    for item, line in zip(result.labels, lines, strict=True):
        media = line["media_attributes"]
        assert item.data.shape == (media["height"], media["width"]) and not item.data.any()
        assert item.name == f"{line['data_row']['global_key']} segmentation"
        ((project_id, project),) = line["projects"].items()
        (label,) = project["labels"]
        expected = {
            c["feature_schema_id"]: {c["radio_answer"]["feature_schema_id"]: {}}
            for c in label["annotations"]["classifications"]
        }
        assert item.document.image_answers == expected
        source = item.document.source
        assert (source["data_row_id"], source["project_id"], source["label_id"]) == (
            line["data_row"]["id"],
            project_id,
            label["id"],
        )
    questions = {q.name: q for q in result.labels[0].document.ontology.questions}
    assert questions["bad_image"].feature_schema_id == "cls1sqiy70c9u07546vr5a2sn"
    assert [o.value for o in questions["wear"].options] == ["good", "light_wear", "heavy_wear"]


def test_a_per_object_mask_of_the_wrong_size_or_missing_names_the_object(reference_copy):
    row = per_object_masks(reference_row())
    Image.new("L", (10, 10)).save(reference_copy / "small.png")
    objects_of(row)[2]["mask"]["url"] = "small.png"
    write_rows(reference_copy / EXPORT, [row])
    with pytest.raises(LabelboxFormatError, match=f"object {FEATURES[2]}: the mask cannot be read"):
        read_export(reference_copy / EXPORT)
    objects_of(row)[2]["mask"]["url"] = "tank_masks/gone.png"
    write_rows(reference_copy / EXPORT, [row])
    with pytest.raises(LabelboxFormatError, match=f"object {FEATURES[2]}: .*gone.png is missing"):
        read_export(reference_copy / EXPORT)
