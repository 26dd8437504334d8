"""The Labelbox NDJSON import writer: lines, masks, answers, ids, and a safe write."""

from __future__ import annotations

import base64
import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_segtool.formats import registry
from napari_segtool.formats.labelbox_ndjson import (
    NdjsonWriteError,
    NdjsonWriteWarning,
    answers_to_import,
    write_ndjson,
)
from napari_segtool.formats.labelbox_v1 import write_export
from napari_segtool.formats.masks import decode_mask_png
from napari_segtool.formats.result import LabelsItem
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ontology import ObjectClass, Ontology, Option, Question


def layer(external_id: str = "cells.png", size=(40, 50)):
    """Two classes with a required radio (nested text under one option), three instances."""
    detail = Question("text", "Detail")
    alive = Question(
        "radio", "Alive", required=True, options=[Option("Yes", questions=[detail]), Option("No")]
    )
    tags = Question("checklist", "Tags", options=[Option("Round"), Option("Dim")])
    focus = Question("radio", "Focus", options=[Option("Sharp"), Option("Blurred")])
    ontology = Ontology(
        classes=[ObjectClass("Cell", questions=[alive, tags]), ObjectClass("Debris")],
        questions=[focus, Question("text", "Comment")],
    )
    cell, debris = (c.feature_schema_id for c in ontology.classes)
    labels = np.zeros(size, np.uint16)
    labels[2:12, 3:20] = 1
    labels[20:35, 10:49] = 2
    labels[39, 0] = 3
    yes = alive.options[0]
    document = Document(
        ontology=ontology,
        instances=[
            Instance(
                1,
                cell,
                answers={
                    alive.feature_schema_id: {
                        yes.feature_schema_id: {detail.feature_schema_id: "dividing"}
                    },
                    tags.feature_schema_id: {o.feature_schema_id: {} for o in tags.options},
                },
            ),
            Instance(
                2, cell, answers={alive.feature_schema_id: {alive.options[1].feature_schema_id: {}}}
            ),
            Instance(3, debris),
        ],
        image_answers={focus.feature_schema_id: {focus.options[1].feature_schema_id: {}}},
        source={"external_id": external_id},
    )
    return labels, document


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def png_mask(line: dict, shape) -> np.ndarray:
    data = base64.b64decode(line["mask"]["png"])
    pixels = np.asarray(Image.open(io.BytesIO(data)))
    assert pixels.dtype == np.uint8 and set(np.unique(pixels)) <= {0, 1}  # Labelbox: 0/1 only
    assert decode_mask_png(data, shape).to_full().tolist() == pixels.astype(bool).tolist()
    return pixels.astype(bool)


def test_one_line_per_instance_and_image_answer(tmp_path):
    labels, document = layer()
    path = tmp_path / "cells.ndjson"
    result = write_ndjson(path, [(labels, document)])
    lines = read_lines(path)
    assert (result.line_count, result.mask_count) == (4, 3)
    objects, (focus,) = lines[:3], lines[3:]
    for line, label_id in zip(objects, (1, 2, 3), strict=True):
        cls_ = document.class_of(label_id)
        assert line["dataRow"] == {"globalKey": "cells.png"}
        assert (line["name"], line["schemaId"]) == (cls_.name, cls_.feature_schema_id)
        assert set(line) == {"uuid", "dataRow", "name", "schemaId", "classifications", "mask"}
        np.testing.assert_array_equal(png_mask(line, labels.shape), labels == label_id)
    alive, tags = document.ontology.classes[0].questions
    assert objects[0]["classifications"] == [
        {
            "name": "Alive",
            "schemaId": alive.feature_schema_id,
            "answer": {
                "name": "yes",
                "schemaId": alive.options[0].feature_schema_id,
                "classifications": [
                    {
                        "name": "Detail",
                        "schemaId": alive.options[0].questions[0].feature_schema_id,
                        "answer": "dividing",
                    }
                ],
            },
        },
        {
            "name": "Tags",
            "schemaId": tags.feature_schema_id,
            "answer": [{"name": o.value, "schemaId": o.feature_schema_id} for o in tags.options],
        },
    ]
    focus_question = document.ontology.questions[0]
    assert focus["answer"] == {
        "name": "blurred",
        "schemaId": focus_question.options[1].feature_schema_id,
    }
    assert "mask" not in focus and focus["dataRow"] == {"globalKey": "cells.png"}
    assert len({line["uuid"] for line in lines}) == 4


def test_uuids_follow_feature_ids_across_saves_and_edits(tmp_path):
    labels, document = layer()
    path = tmp_path / "cells.ndjson"
    result = write_ndjson(path, [(labels, document)])
    first = read_lines(path)
    document.source.update(result.sources[0])  # what the napari hook keeps
    document.remove_instance(2)
    labels[labels == 2] = 0
    document.add_instance(4, document.ontology.classes[1].feature_schema_id)
    labels[0:2, 0:2] = 4
    write_ndjson(path, [(labels, document)])
    second = read_lines(path)
    by_name = {line["uuid"]: line for line in second}
    assert first[0]["uuid"] in by_name and first[2]["uuid"] in by_name  # kept instances
    assert first[1]["uuid"] not in by_name  # the removed one
    assert first[3]["uuid"] == second[-1]["uuid"]  # the image-level answer


def test_data_row_id_from_an_import_and_global_key_otherwise(tmp_path):
    labels, document = layer()
    document.source["data_row_id"] = "ckrazctum0z8a0ybc0b0o0g0v"
    path = tmp_path / "cells.ndjson"
    write_ndjson(path, [(labels, document)])
    assert {json.dumps(line["dataRow"]) for line in read_lines(path)} == {
        '{"id": "ckrazctum0z8a0ybc0b0o0g0v"}'
    }
    write_ndjson(path, [(labels, document)], data_row_key="global_key")
    assert read_lines(path)[0]["dataRow"] == {"globalKey": "cells.png"}
    document.source["global_key"] = "plate-7/cells.png"
    write_ndjson(path, [(labels, document)], data_row_key="global_key")
    assert read_lines(path)[0]["dataRow"] == {"globalKey": "plate-7/cells.png"}


def test_a_data_row_id_made_up_by_a_v1_save_is_not_used(tmp_path):
    labels, document = layer()
    v1 = write_export(tmp_path / "cells.json", [(labels, document)])
    document.source.update(v1.sources[0])
    assert document.source["data_row_id"]  # a fresh cuid Labelbox has never seen
    write_ndjson(tmp_path / "cells.ndjson", [(labels, document)])
    assert read_lines(tmp_path / "cells.ndjson")[0]["dataRow"] == {"globalKey": "cells.png"}


def test_names_only_for_an_ontology_made_here(tmp_path):
    labels, document = layer()
    write_ndjson(tmp_path / "cells.ndjson", [(labels, document)], schema_ids=False)
    text = (tmp_path / "cells.ndjson").read_text()
    assert "schemaId" not in text and '"name": "Alive"' in text


def test_ids_that_are_not_cuids_are_left_out():
    question = Question("radio", "Alive", options=[Option("Yes", feature_schema_id="yes")])
    question.feature_schema_id = "alive-question"
    entries = answers_to_import([question], {"alive-question": {"yes": {}}})
    assert entries == [{"name": "Alive", "answer": {"name": "yes"}}]


def test_composite_masks_beside_the_file(tmp_path):
    labels, document = layer()
    path = tmp_path / "cells.ndjson"
    with pytest.warns(NdjsonWriteWarning, match="upload cells_masks/"):
        result = write_ndjson(path, [(labels, document)], masks="composite")
    lines = read_lines(path)
    objects = [line for line in lines if "mask" in line]
    (uri,) = {line["mask"]["instanceURI"] for line in objects}
    assert uri.startswith("cells_masks/") and result.written == [path, tmp_path / "cells_masks"]
    composite = np.asarray(Image.open(tmp_path / uri))
    assert composite.shape == (*labels.shape, 3)
    colours = [tuple(line["mask"]["colorRGB"]) for line in objects]
    assert len(set(colours)) == 3 and (0, 0, 0) not in colours
    for colour, label_id in zip(colours, (1, 2, 3), strict=True):
        np.testing.assert_array_equal((composite == colour).all(axis=2), labels == label_id)
    assert ((composite == 0).all(axis=2) == (labels == 0)).all()
    # the same colours and file on a second save; a changed layer gets a new file, the old goes
    write_ndjson(path, [(labels, document)], masks="composite", mask_base_url="https://x.example/a")
    again = [line for line in read_lines(path) if "mask" in line]
    assert [tuple(line["mask"]["colorRGB"]) for line in again] == colours
    assert again[0]["mask"]["instanceURI"] == f"https://x.example/a/{uri}"
    labels[labels == 3] = 0
    with pytest.warns(NdjsonWriteWarning, match="without pixels"):
        write_ndjson(path, [(labels, document)], masks="composite", mask_base_url="https://x")
    (new_uri,) = {line["mask"]["instanceURI"] for line in read_lines(path) if "mask" in line}
    assert [p.name for p in (tmp_path / "cells_masks").iterdir()] == [new_uri.rsplit("/", 1)[1]]


def test_several_layers_in_one_file(tmp_path):
    first, first_doc = layer("a.png")
    second, second_doc = layer("b.png")
    path = tmp_path / "plate.ndjson"
    result = write_ndjson(path, [(first, first_doc), (second, second_doc)])
    keys = [line["dataRow"]["globalKey"] for line in read_lines(path)]
    assert keys == ["a.png"] * 4 + ["b.png"] * 4 and result.mask_count == 6


def test_unanswered_and_empty_instances_are_warned_about(tmp_path):
    labels, document = layer()
    document.set_answers(2, {})
    document.add_instance(9, document.ontology.classes[1].feature_schema_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = write_ndjson(tmp_path / "cells.ndjson", [(labels, document)])
    messages = [str(w.message) for w in caught if issubclass(w.category, NdjsonWriteWarning)]
    assert any("instance 2 (Cell): Alive" in m for m in messages)
    assert any("label ids 9" in m for m in messages)
    assert result.unanswered == [[(2, "Alive")]] and result.skipped_empty == [[9]]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda labels, doc: (np.zeros((2, *labels.shape), np.uint8), doc), "2-D"),
        (lambda labels, doc: (labels.astype(float), doc), "integers"),
        (lambda labels, doc: (labels, Document(doc.ontology, source={})), "names no Labelbox"),
    ],
)
def test_refused_layers_write_nothing(tmp_path, change, problem):
    labels, document = layer()
    path = tmp_path / "cells.ndjson"
    path.write_text("old\n")
    with pytest.raises(NdjsonWriteError, match=problem):
        write_ndjson(path, [change(labels, document)])
    assert path.read_text() == "old\n"


def test_duplicated_layer_is_refused(tmp_path):
    labels, document = layer()
    with pytest.raises(NdjsonWriteError, match="used twice"):
        write_ndjson(tmp_path / "x.ndjson", [(labels, document), (labels, document)])


def test_a_failed_write_keeps_the_old_file_and_masks(tmp_path, monkeypatch):
    labels, document = layer()
    path = tmp_path / "cells.ndjson"
    write_ndjson(path, [(labels, document)], masks="composite", mask_base_url="https://x")
    before = path.read_bytes()
    masks_before = sorted(p.name for p in (tmp_path / "cells_masks").iterdir())
    labels[0, 0] = 1  # a new composite would be written
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(dst) == path:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_ndjson(path, [(labels, document)], masks="composite", mask_base_url="https://x")
    assert path.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "cells_masks").iterdir()) == masks_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.ndjson", "cells_masks"]
    # what a killed save leaves beside the file goes with the next save
    (tmp_path / ".cells.ndjson.1a2b3c4d.saving").write_text("half")
    monkeypatch.setattr(os, "replace", real_replace)
    write_ndjson(path, [(labels, document)], masks="composite", mask_base_url="https://x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.ndjson", "cells_masks"]


def test_registered_for_ndjson_and_jsonl_names(tmp_path):
    for name in ("cells.ndjson", "cells.JSONL"):
        assert registry.writer_for(tmp_path / name).name == "labelbox-ndjson"
    labels, document = layer()
    entry = registry.get("labelbox-ndjson")
    result = entry.write(tmp_path / "cells.ndjson", [LabelsItem(labels, document, "cells")])
    assert result.summary.startswith("Saved 3 mask(s) as a Labelbox import to cells.ndjson")
    assert result.sources[0]["label_id"] and result.written == (tmp_path / "cells.ndjson",)


def test_lines_have_the_fields_of_a_real_labelbox_import(tmp_path):
    """Labelbox's own import example (tests/data/realworld): same fields, confidences aside."""
    real = json.loads(
        (
            Path(__file__).parents[1] / "data/realworld/labelbox-python/ndjson/image_import.json"
        ).read_text()
    )
    (real_mask,) = [line for line in real if "mask" in line]
    labels, document = layer()
    document.source["data_row_id"] = real_mask["dataRow"]["id"]
    write_ndjson(
        tmp_path / "cells.ndjson",
        [(labels, document)],
        masks="composite",
        mask_base_url="https://x",
    )
    ours = read_lines(tmp_path / "cells.ndjson")[0]
    assert set(real_mask) - {"confidence", "customMetrics"} <= set(ours)
    assert ours["dataRow"] == real_mask["dataRow"]
    assert set(real_mask["mask"]) <= set(ours["mask"])  # colorRGB is required since then


def test_ndjson_that_is_not_an_export_is_not_claimed(tmp_path):
    path = tmp_path / "export.ndjson"
    path.write_text("{}\n")
    with pytest.raises(registry.UnknownFormatError, match="not a file this plugin reads"):
        registry.claimed_format(path)
    reference = Path(__file__).parents[1] / "data/reference/export_v1.fish.json"
    assert registry.format_for(reference).name == "labelbox-v1"
