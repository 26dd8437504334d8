import json

import pytest

from napari_segtool import load_default_ontology
from napari_segtool.formats.ontology_json import write_ontology
from napari_segtool.model.ids import is_cuid
from napari_segtool.model.ontology import (
    ObjectClass,
    Ontology,
    OntologyError,
    Option,
    Question,
    slugify,
)


def test_reference_ontology_round_trips_without_losing_a_field(reference_dir):
    path = reference_dir / "ontology.fish.json"
    original = json.loads(path.read_text())
    ontology = Ontology.load(path)
    assert ontology.to_dict() == original
    assert [c.name for c in ontology.classes] == ["Orange Fish", "Blue Fish", "Water"]
    blurry = ontology.classes[0].questions[0]
    assert blurry.type == "radio" and blurry.required
    assert blurry.options[0].questions[0].name == "Why is it blurry?"
    assert [q.type for q in ontology.questions] == ["dropdown", "text"]


def test_reference_ontology_saved_and_loaded_is_equal(reference_dir, tmp_path):
    ontology = Ontology.load(reference_dir / "ontology.fish.json")
    write_ontology(ontology, tmp_path / "o.json")
    assert Ontology.load(tmp_path / "o.json") == ontology


def test_unknown_keys_survive(reference_dir):
    data = json.loads((reference_dir / "ontology.fish.json").read_text())
    data["tools"][0]["someFutureKey"] = {"x": 1}
    data["classifications"][0]["options"][0]["position"] = 3
    data["updatedAt"] = "2026-01-01"
    assert Ontology.from_dict(data).to_dict() == data


def test_ontology_built_in_code_round_trips(tmp_path):
    why = Question("text", "Why?")
    ontology = Ontology(
        classes=[
            ObjectClass(
                "Cell",
                color="#00FF00",
                questions=[
                    Question(
                        "radio", "Alive?", options=[Option("Yes", questions=[why]), Option("No")]
                    ),
                    Question("checklist", "Touches", options=[Option("Border"), Option("Cell")]),
                ],
            )
        ],
        questions=[Question("dropdown", "Quality", options=[Option("Good")], scope="global")],
    )
    ontology.validate()
    write_ontology(ontology, tmp_path / "o.json")
    loaded = Ontology.load(tmp_path / "o.json")
    assert loaded == ontology
    assert loaded.classes[0].questions[0].options[0].questions[0].name == "Why?"
    assert loaded.classes[0].questions[0].options[0].value == "yes"


def test_missing_ids_are_generated_cuids_and_stay_stable(tmp_path):
    data = {"tools": [{"tool": "superpixel", "name": "Fish", "color": "#112233"}]}
    ontology = Ontology.from_dict(data)
    schema_id = ontology.classes[0].feature_schema_id
    assert is_cuid(schema_id) and len(schema_id) == 25
    write_ontology(ontology, tmp_path / "o.json")
    assert Ontology.load(tmp_path / "o.json").classes[0].feature_schema_id == schema_id


def test_slug_matches_labelbox_values():
    assert slugify("Orange Fish") == "orange_fish"
    assert slugify("Is the fish blurry?") == "is_the_fish_blurry?"


def _tool(name="Fish", color="#112233", questions=()):
    return {"tool": "superpixel", "name": name, "color": color, "classifications": list(questions)}


@pytest.mark.parametrize(
    ("data", "path", "problem"),
    [
        (
            {"tools": [_tool("Fish"), _tool("fish")]},
            "tools[1].name",
            "duplicate class name 'fish' (also tools[0])",
        ),
        ({"tools": [_tool(color="orange")]}, "tools[0].color", "bad colour 'orange'"),
        ({"tools": [_tool(color="#12345")]}, "tools[0].color", "bad colour '#12345'"),
        (
            {"tools": [_tool(questions=[{"type": "slider", "name": "Size"}])]},
            "tools[0].classifications[0].type",
            "unknown question type 'slider'",
        ),
        (
            {"tools": [_tool(questions=[{"type": "radio", "name": "Alive?", "options": []}])]},
            "tools[0].classifications[0].options",
            "a radio question needs options",
        ),
        (
            {"classifications": [{"type": "checklist", "name": "Tags"}]},
            "classifications[0].options",
            "a checklist question needs options",
        ),
        (
            {
                "tools": [
                    _tool(
                        questions=[
                            {
                                "type": "radio",
                                "name": "Alive?",
                                "options": [
                                    {
                                        "label": "Yes",
                                        "options": [
                                            {
                                                "type": "dropdown",
                                                "name": "How",
                                                "options": [{"label": "A"}],
                                            }
                                        ],
                                    }
                                ],
                            }
                        ]
                    )
                ]
            },
            "tools[0].classifications[0].options[0].options[0]",
            "a dropdown question cannot be nested under an option",
        ),
        ({"tools": {"name": "x"}}, "tools", "expected a JSON list"),
        ({"tools": [_tool(name="")]}, "tools[0].name", "a class needs a non-empty name"),
    ],
)
def test_validation_errors_name_the_path(data, path, problem):
    with pytest.raises(OntologyError) as info:
        Ontology.from_dict(data)
    assert info.value.path == path
    assert problem in str(info.value)
    assert str(info.value).startswith(path)


def test_non_json_names_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"tools": [')
    with pytest.raises(OntologyError, match=r"broken\.json: not valid JSON"):
        Ontology.load(bad)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(OntologyError, match=r"nothere\.json: cannot read file"):
        Ontology.load(tmp_path / "nothere.json")


def test_duplicate_schema_ids_are_refused():
    data = {"tools": [_tool("A"), _tool("B")]}
    data["tools"][0]["featureSchemaId"] = data["tools"][1]["featureSchemaId"] = "c" * 25
    with pytest.raises(OntologyError, match=r"tools\[1\]\.featureSchemaId: duplicate id"):
        Ontology.from_dict(data)


def test_save_is_atomic_and_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "o.json"
    target.write_text("previous")
    ontology = Ontology(classes=[ObjectClass("A"), ObjectClass("B")])
    ontology.classes[1].name = "A"
    with pytest.raises(OntologyError):
        write_ontology(ontology, target)
    assert target.read_text() == "previous"
    assert list(tmp_path.iterdir()) == [target]


def test_default_ontology_exercises_every_question_type_and_nesting():
    ontology = load_default_ontology()
    types = {q.type for q in ontology.iter_questions()}
    assert types == {"radio", "checklist", "text", "dropdown"}
    assert ontology.questions, "needs image-level questions"
    nested_depths = [
        q
        for c in ontology.classes
        for q in c.questions
        for o in q.options
        for sub in o.questions
        for o2 in sub.options
        if o2.questions
    ]
    assert nested_depths, "needs a question nested two levels deep"
    assert all(c.is_segmentation for c in ontology.classes)
