"""NDJSON annotation imports read back: what the writer wrote opens again, exactly, and
Labelbox's own import example opens with its boxes, polygons and points."""

from __future__ import annotations

import base64
import io
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_segtool.formats import registry
from napari_segtool.formats.labelbox_ndjson import (
    LabelboxFormatError,
    instance_uuid,
    is_import_file,
    is_v2_export,
    read_result,
    write_ndjson,
)
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ontology import ObjectClass, Ontology, Option, Question

DATA = Path(__file__).resolve().parents[1] / "data"
REAL_IMPORT = DATA / "realworld/labelbox-python/ndjson/image_import.json"
SIZE = (30, 40)


def three_levels() -> tuple[np.ndarray, Document]:
    """Answers nested three questions deep, on an instance and on the image."""
    note = Question("text", "Note")
    stage = Question("radio", "Stage", options=[Option("Dividing", questions=[note]), Option("G1")])
    alive = Question("radio", "Alive", options=[Option("Yes", questions=[stage]), Option("No")])
    tags = Question("checklist", "Tags", options=[Option("Round"), Option("Dim")])
    detail = Question("text", "Detail")
    cause = Question("checklist", "Cause", options=[Option("Motion", questions=[detail])])
    focus = Question("radio", "Focus", options=[Option("Blurred", questions=[cause])])
    ontology = Ontology(
        classes=[ObjectClass("Cell", questions=[alive, tags]), ObjectClass("Debris")],
        questions=[focus],
    )
    cell, debris = (c.feature_schema_id for c in ontology.classes)
    labels = np.zeros(SIZE, np.uint32)
    labels[2:9, 3:15] = 1
    labels[12:25, 5:38] = 2
    labels[29, 39] = 3
    ids = {q.name: q.feature_schema_id for q in (note, stage, alive, tags, detail, cause, focus)}
    deep = {
        ids["Alive"]: {
            alive.options[0].feature_schema_id: {
                ids["Stage"]: {stage.options[0].feature_schema_id: {ids["Note"]: "anaphase"}}
            }
        },
        ids["Tags"]: {o.feature_schema_id: {} for o in tags.options},
    }
    image = {
        ids["Focus"]: {
            focus.options[0].feature_schema_id: {
                ids["Cause"]: {cause.options[0].feature_schema_id: {ids["Detail"]: "drift"}}
            }
        }
    }
    document = Document(
        ontology=ontology,
        instances=[Instance(1, cell, answers=deep), Instance(2, debris), Instance(3, cell)],
        image_answers=image,
        source={"global_key": "cells.png"},
    )
    return labels, document


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def save(folder: Path, masks: str, *, ontology_beside: bool = True, name="cells.ndjson"):
    labels, document = three_levels()
    path = folder / name
    if ontology_beside:
        (folder / "ontology.json").write_text(json.dumps(document.ontology.to_dict()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_ndjson(path, [(labels, document)], masks=masks)
    return path, labels, document


def read(path: Path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_result(path, **options)


@pytest.mark.parametrize("masks", ["png", "composite"])
def test_what_the_writer_wrote_reads_back_exactly(tmp_path, masks):
    path, labels, document = save(tmp_path, masks)
    assert registry.claimed_format(path)[0].name == "labelbox-ndjson"
    (item,) = read(path).labels
    back = item.document
    assert item.name == "cells segmentation"
    np.testing.assert_array_equal(item.data, labels)
    # the uuid is the featureId; the answers are the same three levels deep
    for label_id, instance in document.instances.items():
        assert back.instances[label_id].feature_id == instance_uuid(instance.feature_id)
        assert back.instances[label_id].schema_id == instance.schema_id
        assert back.instances[label_id].answers == instance.answers
    assert back.image_answers == document.image_answers
    assert back.ontology.to_dict() == document.ontology.to_dict()
    assert back.source["global_key"] == "cells.png"

    # saving what was read gives the same lines: uuids, data row, answers, masks
    again = tmp_path / "again" / "cells.ndjson"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_ndjson(again, [(item.data, back)], masks=masks)
    first, second = lines_of(path), lines_of(again)
    assert [line["uuid"] for line in second] == [line["uuid"] for line in first]
    if masks == "png":
        assert second == first
    else:  # composite colours follow the featureId, which is now the uuid
        strip = [{k: v for k, v in line.items() if k != "mask"} for line in first]
        assert [{k: v for k, v in line.items() if k != "mask"} for line in second] == strip


@pytest.mark.parametrize("masks", ["png", "composite"])
def test_without_an_ontology_file_it_is_rebuilt_with_the_answers(tmp_path, masks):
    path, labels, document = save(tmp_path, masks, ontology_beside=False)
    result = read(path)
    (item,) = result.labels
    assert any("rebuilt the ontology" in note for note in result.notes)
    np.testing.assert_array_equal(item.data, labels)
    back = item.document
    for label_id, instance in document.instances.items():  # schema ids kept from the lines
        assert back.instances[label_id].answers == instance.answers
    assert back.image_answers == document.image_answers
    assert [c.name for c in back.ontology.classes] == ["Cell", "Debris"]


def test_the_image_is_the_global_key_beside_the_file(tmp_path):
    path, labels, _ = save(tmp_path, "png")
    pixels = np.random.default_rng(1).integers(0, 255, (*SIZE, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "cells.png")
    result = read(path)
    (image,) = result.images
    np.testing.assert_array_equal(image.data, pixels)
    assert result.labels[0].document.source["image_path"] == str(tmp_path / "cells.png")


def test_lines_of_several_data_rows_make_one_layer_each(tmp_path):
    labels, document = three_levels()
    other_labels, other = three_levels()
    other.source = {"data_row_id": "ck0otherdatarow0000000001"}
    other.ontology = document.ontology
    for instance, mine in zip(other.instances.values(), document.instances.values(), strict=True):
        instance.schema_id = mine.schema_id
        instance.answers = {}
    other.image_answers = {}
    path = tmp_path / "both.ndjson"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_ndjson(path, [(labels, document), (other_labels[:, ::-1], other)])
    lines = lines_of(path)
    lines.insert(1, lines.pop())  # interleaved rows are grouped
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    first, second = read(path).labels
    np.testing.assert_array_equal(first.data, labels)
    flipped = other_labels[:, ::-1]
    for label_id, instance in second.document.instances.items():  # numbered in line order
        (original,) = [
            i
            for i in other.instances.values()
            if instance_uuid(i.feature_id) == instance.feature_id
        ]
        np.testing.assert_array_equal(second.data == label_id, flipped == original.label_id)
    assert second.document.source["data_row_id"] == "ck0otherdatarow0000000001"


def real_lines() -> list[dict]:
    return json.loads(REAL_IMPORT.read_text())


def test_labelbox_s_import_example_opens_with_its_shapes_and_points(tmp_path):
    """Labelbox's documented example: a box, a polygon, a point and a mask by instanceURI."""
    lines = real_lines()
    mask = np.zeros((1800, 2500), np.uint8)
    mask[1400:1500, 2000:2200] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    for line in lines:
        if "mask" in line:
            line["mask"]["instanceURI"] = "mask.png"  # the example's web address, made local
    path = tmp_path / "image_import.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert is_import_file(path) and not is_v2_export(path)
    result = read(path)
    (item,) = result.labels
    np.testing.assert_array_equal(item.data > 0, mask > 0)
    (instance,) = item.document.instances.values()
    assert instance.feature_id == lines[1]["uuid"]
    assert item.document.source["data_row_id"] == lines[0]["dataRow"]["id"]
    shapes, points = result.shapes
    assert shapes.shape_types == ["rectangle", "polygon"]
    np.testing.assert_allclose(shapes.coords[0][0], [1352, 2275])
    np.testing.assert_allclose(shapes.coords[0][2], [1702, 2414])
    assert shapes.features["featureId"] == [lines[0]["uuid"], lines[2]["uuid"]]
    np.testing.assert_allclose(points.coords[0], [[1457, 2122]])


def test_a_web_mask_follows_the_download_rule(tmp_path):
    path = tmp_path / "image_import.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in real_lines()))
    with pytest.raises(LabelboxFormatError, match=r"line 2.*downloaded only when downloading"):
        read(path)


def test_claims_imports_and_exports_and_declines_other_ndjson(tmp_path):
    other = tmp_path / "tokens.ndjson"
    other.write_text('{"text": "dataRow", "label": 1}\n{"dataRow": {"id": "x"}}\n')
    assert not is_import_file(other) and registry.get("labelbox-ndjson").claim(str(other)) is None
    export = DATA / "reference/export_v2.fish.ndjson"
    assert is_v2_export(export) and not is_import_file(export)


# -- damaged files ----------------------------------------------------------------------------


def spoil(path: Path, n: int, change) -> None:
    lines = lines_of(path)
    change(lines[n])
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def wrong_size_png(line: dict) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.ones((SIZE[0] + 1, SIZE[1]), np.uint8)).save(buffer, format="PNG")
    line["mask"]["png"] = base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    ("masks", "change", "problem"),
    [
        ("png", lambda line: line["mask"].update(png="not base64!"), "line 2.*not valid base64"),
        ("png", wrong_size_png, "line 2.*cannot be read.*40 x 31 pixels but the image is 40 x 30"),
        ("composite", lambda line: line["mask"].update(colorRGB=[1, 2, 3]), r"line 2.*\(1, 2, 3\)"),
        ("composite", lambda line: line["mask"].update(colorRGB=[1, 2]), "line 2.*color_rgb"),
        (
            "composite",
            lambda line: line["mask"].update(instanceURI="../outside.png"),
            "line 2.*composite mask cannot be read",
        ),
        ("png", lambda line: line.update(classifications={}), "line 2: classifications"),
        ("png", lambda line: line.update(dataRow={"name": "x"}), "line 2: dataRow"),
    ],
)
def test_a_damaged_line_names_the_file_and_line(tmp_path, masks, change, problem):
    path, _, _ = save(tmp_path, masks)
    spoil(path, 1, change)
    with pytest.raises(LabelboxFormatError, match=problem) as raised:
        read(path)
    assert str(path) in str(raised.value)


def test_a_truncated_file_names_its_last_line(tmp_path):
    path, _, _ = save(tmp_path, "png")
    text = path.read_text()
    path.write_text(text[: len(text) - 40])
    with pytest.raises(LabelboxFormatError, match=r"line 4 is not valid JSON.*cut short"):
        read(path)


def test_no_mask_and_no_image_says_the_size_is_unknown(tmp_path):
    path, _, _ = save(tmp_path, "png")
    path.write_text(
        "".join(json.dumps(line) + "\n" for line in lines_of(path) if "mask" not in line)
    )
    with pytest.raises(LabelboxFormatError, match="no line has a mask that gives its size"):
        read(path)


def test_copied_reference_folder_still_opens_as_an_export(tmp_path):
    for name in ("export_v2.fish.ndjson", "tank.png", "ontology.fish.json"):
        shutil.copy(DATA / "reference" / name, tmp_path / name)
    shutil.copytree(DATA / "reference/export_v2_masks", tmp_path / "export_v2_masks")
    result = read(tmp_path / "export_v2.fish.ndjson")
    assert result.images and result.labels
