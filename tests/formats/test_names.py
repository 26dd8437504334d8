"""One name rule for every reader: case and surrounding spaces do not make a new class."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from PIL import Image

from napari_segtool.formats.coco import (
    answers_from_readable,
    encode_rle,
    parse_coco,
    readable_answers,
)
from napari_segtool.formats.labelbox_v1 import read_export
from napari_segtool.formats.toolkit.names import find_named, name_key, unique_name
from napari_segtool.model.ontology import ObjectClass, Ontology, Option, Question

NUCLEUS_ID = "cnucleus00000000000000000"
SPELLINGS = ["nucleus", "NUCLEUS", " Nucleus ", "nUcLeUs\t", "Nucleus"]


def nucleus_ontology() -> Ontology:
    shape = Question(
        type="radio",
        name="Shape",
        feature_schema_id="cshape0000000000000000000",
        options=[
            Option(label="Round", value="round", feature_schema_id="cround0000000000000000000"),
            Option(label="Oval", value="oval", feature_schema_id="coval00000000000000000000"),
        ],
    )
    cls_ = ObjectClass(
        name="Nucleus", color="#FF0000", feature_schema_id=NUCLEUS_ID, questions=[shape]
    )
    return Ontology(classes=[cls_])


def test_the_rule_strips_and_casefolds():
    assert name_key(" Straße ") == name_key("STRASSE") == "strasse"
    classes = nucleus_ontology().classes
    assert find_named(classes, "  nUCLEUS") is classes[0]
    assert find_named(classes, "nuclei") is None
    assert find_named(classes, None) is None
    assert unique_name("nucleus ", ["Nucleus", "NUCLEUS (2)"]) == "nucleus (3)"
    assert unique_name("Cell", ["Nucleus"]) == "Cell"


def coco_with_category(name: str) -> dict:
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2:6] = True
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 6}],
        "categories": [{"id": 1, "name": name}],  # no featureSchemaId: found by name
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": encode_rle(mask),
                "attributes": {"shape": "ROUND"},
            }
        ],
        "labelbox_ontology": nucleus_ontology().to_dict(),
    }


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_coco_category_finds_the_ontology_class_whatever_its_case(spelling):
    (image,), ontology = parse_coco(coco_with_category(spelling), "cells.coco.json")
    assert [c.name for c in ontology.classes] == ["Nucleus"]  # no "nucleus (2)"
    (instance,) = image.document.instances.values()
    assert instance.schema_id == NUCLEUS_ID
    # the readable answer keys and option labels follow the same rule
    assert instance.answers == {"cshape0000000000000000000": {"cround0000000000000000000": {}}}


def test_two_categories_differing_in_case_alone_still_get_two_classes():
    coco = coco_with_category("nucleus")
    coco["categories"].append({"id": 2, "name": "NUCLEUS"})
    _, ontology = parse_coco(coco, "cells.coco.json")
    assert [c.name for c in ontology.classes] == ["Nucleus", "NUCLEUS (2)"]


def test_readable_answers_round_trip_and_match_any_case():
    questions = nucleus_ontology().classes[0].questions
    answers = {"cshape0000000000000000000": {"coval00000000000000000000": {}}}
    assert answers_from_readable(questions, readable_answers(questions, answers)) == answers
    assert answers_from_readable(questions, {" SHAPE": "oval "}) == answers


def labelbox_export_with_title(folder, title: str):
    mask = np.zeros((6, 8), np.uint8)
    mask[1:4, 2:6] = 255
    Image.fromarray(mask).save(folder / "m.png")
    (folder / "export.ontology.json").write_text(nucleus_ontology().to_json())
    row = {
        "ID": "ck0fishlabel0000000000009",
        "DataRow ID": "ck0fishdatarow00000000009",
        "Labeled Data": "https://example.org/a.png",
        "External ID": "a.png",
        "Label": {
            "objects": [
                {
                    "featureId": "c" + "1" * 24,
                    "schemaId": "c" + "9" * 24,  # not the ontology's: found by title
                    "title": title,
                    "instanceURI": "m.png",
                    "classifications": [{"title": "SHAPE", "answer": {"title": "round"}}],
                }
            ],
            "classifications": [],
        },
    }
    path = folder / "export.json"
    path.write_text(json.dumps([row]))
    return path


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_labelbox_title_finds_the_ontology_class_whatever_its_case(tmp_path, spelling):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing added to the ontology, nothing to warn about
        (row,) = read_export(labelbox_export_with_title(tmp_path, spelling))
    assert [c.name for c in row.document.ontology.classes] == ["Nucleus"]
    (instance,) = row.document.instances.values()
    assert instance.schema_id == NUCLEUS_ID
    assert instance.answers == {"cshape0000000000000000000": {"cround0000000000000000000": {}}}
