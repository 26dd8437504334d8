"""Objects of other tools read from a Labelbox export are written to the NDJSON import."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from napari_segtool.formats import registry
from napari_segtool.formats.labelbox_ndjson import read_export, stable_uuid, write_ndjson
from napari_segtool.formats.labelbox_v1 import read_export as read_v1_export
from napari_segtool.formats.result import LabelsItem, ShapesItem
from tests.formats.test_labelbox_ndjson_reader import (
    EXPORT,
    REBUILT,
    objects_of,
    reference_row,
    with_ontology,
    write_rows,
)

pytestmark = pytest.mark.filterwarnings("ignore:.*unanswered required questions")

BOX, POLY, LINE, POINT = (
    "cbox0000000000000000000001",
    "cpoly000000000000000000001",
    "cline000000000000000000001",
    "cpoint00000000000000000001",
)


def other_tools() -> list[dict]:
    def obj(feature_id, name, kind, key, geometry, classifications=()):
        return {
            "feature_id": feature_id,
            "feature_schema_id": "c" + name.lower()[:4].ljust(24, "0"),
            "name": name,
            "value": name.lower(),
            "annotation_kind": kind,
            "classifications": list(classifications),
            key: geometry,
        }

    size = {
        "feature_schema_id": "csize00000000000000000001",
        "name": "Size",
        "value": "size",
        "radio_answer": {
            "feature_schema_id": "clarge0000000000000000001",
            "name": "Large",
            "value": "large",
            "classifications": [
                {"name": "Note", "value": "note", "text_answer": {"content": "split"}}
            ],
        },
    }
    return [
        obj(BOX, "Bubble", "ImageBoundingBox", "bounding_box",
            {"top": 10, "left": 20, "height": 5, "width": 8}, [size]),
        obj(POLY, "Plant", "ImagePolygon", "polygon",
            [{"x": 1, "y": 2}, {"x": 5, "y": 2}, {"x": 5, "y": 9}]),
        obj(LINE, "Crack", "ImagePolyline", "line", [{"x": 0, "y": 0}, {"x": 10, "y": 4.5}]),
        obj(POINT, "Eye", "ImagePoint", "point", {"x": 30, "y": 40}),
    ]  # fmt: skip


@pytest.fixture
def v2_with_objects(folder):
    row = reference_row()
    objects_of(row).extend(other_tools())
    write_rows(folder / EXPORT, [row])
    with_ontology(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (read,) = read_export(folder / EXPORT)
    return read.layers[0]


@pytest.fixture
def folder(tmp_path):
    from tests.formats.test_labelbox_ndjson_reader import COMPOSITE, REFERENCE

    target = tmp_path / "export"
    (target / "export_v2_masks").mkdir(parents=True)
    for name in (EXPORT, "tank.png", COMPOSITE):
        shutil.copy(REFERENCE / name, target / name)
    return target


def object_lines(path) -> dict[str, dict]:
    lines = [json.loads(text) for text in path.read_text().splitlines()]
    return {line["uuid"]: line for line in lines if "mask" not in line and "answer" not in line}


@pytest.mark.filterwarnings(REBUILT)
def test_a_v2_export_saved_as_an_import_keeps_boxes_polygons_lines_and_points(
    v2_with_objects, tmp_path
):
    layer = v2_with_objects
    out = tmp_path / "import.ndjson"
    result = write_ndjson(out, [(layer.labels, layer.document)])
    assert result.object_count == 4
    lines = object_lines(out)
    box, poly, line, point = (lines[stable_uuid(f)] for f in (BOX, POLY, LINE, POINT))
    assert box["bbox"] == {"top": 10, "left": 20, "height": 5, "width": 8}
    assert box["name"] == "Bubble" and box["dataRow"] == {
        "id": layer.document.source["data_row_id"]
    }
    assert box["classifications"] == [
        {
            "name": "Size",
            "schemaId": "csize00000000000000000001",
            "answer": {
                "name": "large",
                "schemaId": "clarge0000000000000000001",
                "classifications": [{"name": "Note", "answer": "split"}],
            },
        }
    ]
    assert poly["polygon"] == [{"x": 1, "y": 2}, {"x": 5, "y": 2}, {"x": 5, "y": 9}]
    assert line["line"] == [{"x": 0, "y": 0}, {"x": 10, "y": 4.5}]
    assert point["point"] == {"x": 30, "y": 40}
    assert all(o["classifications"] == [] for o in (poly, line, point))
    # saving again gives the same lines (uuids from the featureIds)
    write_ndjson(tmp_path / "again.ndjson", [(layer.labels, layer.document)])
    assert object_lines(tmp_path / "again.ndjson") == lines


@pytest.mark.filterwarnings(REBUILT)
def test_edits_of_the_shapes_and_points_layers_are_written(v2_with_objects, tmp_path):
    layer = v2_with_objects
    shapes, points = layer.shapes
    assert set(shapes.read_ids) == {BOX, POLY, LINE} and points.read_ids == (POINT,)
    moved = [np.asarray(c, float) for c in shapes.coords]
    moved[0] = moved[0] + [2, 3]  # the box down 2, right 3
    edited = ShapesItem(
        "shapes",
        shapes.name,
        [moved[0], moved[1]],  # the line deleted
        ["rectangle", "polygon"],
        [],
        {"featureId": [BOX, POLY]},
        shapes.read_ids,
    )
    out = tmp_path / "import.ndjson"
    result = registry.get("labelbox-ndjson").write(
        out, [LabelsItem(layer.labels, layer.document, "seg")], shapes=[edited, points]
    )
    assert "3 object(s) of other tools" in result.summary
    lines = object_lines(out)
    assert stable_uuid(LINE) not in lines
    assert lines[stable_uuid(BOX)]["bbox"] == {"top": 12, "left": 23, "height": 5, "width": 8}
    assert lines[stable_uuid(BOX)]["classifications"][0]["name"] == "Size"  # kept
    assert lines[stable_uuid(POINT)]["point"] == {"x": 30, "y": 40}


def test_v1_objects_of_other_tools_are_written_too(reference_copy, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (row,) = read_v1_export(reference_copy / "export_v1.fish.json")
    box = {
        "featureId": "c" + "b" * 24,
        "schemaId": "c" + "x" * 24,
        "title": "Box",
        "bbox": {"top": 1, "left": 2, "height": 3, "width": 4},
        "classifications": [
            {"title": "Kind", "value": "kind", "answer": {"title": "Round", "value": "round"}},
            {"title": "Tags", "answers": [{"title": "A", "value": "a"}]},
            {"title": "Say", "answer": "hello"},
        ],
    }
    spot = {"featureId": "c" + "t" * 24, "title": "Spot", "point": {"x": 7, "y": 3}}
    row.document.source["other_objects"] = [box, spot]
    out = tmp_path / "import.ndjson"
    write_ndjson(out, [(row.labels, row.document)])
    lines = object_lines(out)
    written = lines[stable_uuid(box["featureId"])]
    assert written["bbox"] == box["bbox"] and written["name"] == "Box"
    assert written["classifications"] == [
        {"name": "Kind", "answer": {"name": "round"}},
        {"name": "Tags", "answer": [{"name": "a"}]},
        {"name": "Say", "answer": "hello"},
    ]
    assert lines[stable_uuid(spot["featureId"])]["point"] == {"x": 7, "y": 3}


@pytest.mark.filterwarnings(REBUILT, "ignore:.*the ontology lacked")
def test_an_import_read_back_and_saved_again_keeps_its_objects_and_uuids(v2_with_objects, tmp_path):
    from napari_segtool.formats.labelbox_ndjson import read_export as read_again

    layer = v2_with_objects
    first = tmp_path / "import.ndjson"
    write_ndjson(first, [(layer.labels, layer.document)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (row,) = read_again(first)
    again = tmp_path / "again.ndjson"
    write_ndjson(again, [(row.layers[0].labels, row.layers[0].document)])
    before, after = object_lines(first), object_lines(again)
    assert set(after) == set(before)
    for line_uuid, line in before.items():
        geometry = next(k for k in ("bbox", "polygon", "line", "point") if k in line)
        assert after[line_uuid][geometry] == line[geometry]
