"""The document: instances, answers, label ids, locks and its dict form (pure)."""

import pytest

from napari_segtool.model.document import (
    Document,
    DocumentError,
    clean_answers,
    missing_required,
)
from napari_segtool.model.ontology import Ontology
from tests.fish import ids


def test_nested_answers_belong_to_the_chosen_option(fish):
    orange, _, _, blurry, fins = ids(fish)
    yes, no = blurry.options
    why = yes.questions[0]
    doc = Document(fish)
    doc.add_instance(1, orange)
    doc.set_answers(
        1,
        {
            blurry.feature_schema_id: {yes.feature_schema_id: {why.feature_schema_id: "moved"}},
            fins.feature_schema_id: {o.feature_schema_id: {} for o in fins.options},
            "unknown-question": "dropped",
        },
    )
    answers = doc.instance(1).answers
    assert answers[blurry.feature_schema_id][yes.feature_schema_id] == {
        why.feature_schema_id: "moved"
    }
    assert "unknown-question" not in answers
    # choosing "No" drops the sub-answer hanging under "Yes"
    doc.set_answers(1, {blurry.feature_schema_id: {no.feature_schema_id: {}}})
    assert doc.instance(1).answers == {blurry.feature_schema_id: {no.feature_schema_id: {}}}


def test_radio_keeps_one_choice(fish):
    _, _, _, blurry, _ = ids(fish)
    yes, no = blurry.options
    cleaned = clean_answers(
        [blurry], {blurry.feature_schema_id: {yes.feature_schema_id: {}, no.feature_schema_id: {}}}
    )
    assert cleaned == {blurry.feature_schema_id: {yes.feature_schema_id: {}}}


def test_required_questions_are_reported(fish):
    orange, blue, _, blurry, _ = ids(fish)
    doc = Document(fish)
    doc.add_instance(1, orange)
    doc.add_instance(2, blue)
    assert doc.missing_required(1) == ["Is the fish blurry?"]
    assert doc.missing_required(2) == []
    assert doc.unanswered_report() == [(1, "Is the fish blurry?")]
    doc.set_answers(1, {blurry.feature_schema_id: {blurry.options[1].feature_schema_id: {}}})
    assert doc.unanswered_report() == []
    assert missing_required([blurry], {}) == ["Is the fish blurry?"]


def test_label_ids_are_allocated_above_used_ones(fish):
    orange = fish.classes[0].feature_schema_id
    doc = Document(fish)
    assert doc.next_label_id() == 1
    doc.add_instance(1, orange)
    doc.add_instance(5, orange)
    assert doc.next_label_id() == 6
    assert doc.next_label_id(floor=9) == 10
    doc.remove_instance(5)
    assert doc.next_label_id() == 6, "ids are not reused within a session"
    with pytest.raises(DocumentError, match="already belongs"):
        doc.add_instance(1, orange)
    with pytest.raises(DocumentError, match="unknown class id"):
        doc.add_instance(7, "nope")


def test_locks_and_visibility(fish):
    orange, blue, _, _, _ = ids(fish)
    doc = Document(fish)
    doc.add_instance(1, orange)
    doc.add_instance(2, blue)
    doc.set_locked(1, True)
    doc.set_class_hidden(blue, True)
    assert doc.locked_label_ids() == [1]
    assert doc.hidden_label_ids() == [2]
    doc.set_class_locked(blue, True)
    assert doc.is_locked(2)


def test_signals_fire(fish):
    orange = fish.classes[0].feature_schema_id
    doc = Document(fish)
    seen = []
    doc.instance_added.connect(lambda i: seen.append(("added", i)))
    doc.instance_removed.connect(lambda i: seen.append(("removed", i)))
    doc.add_instance(3, orange)
    doc.remove_instance(3)
    assert seen == [("added", 3), ("removed", 3)]


def test_dict_round_trip(fish):
    orange, blue, _, blurry, _ = ids(fish)
    doc = Document(fish, source={"image_path": "tank.png"})
    doc.add_instance(
        1, orange, answers={blurry.feature_schema_id: {blurry.options[1].feature_schema_id: {}}}
    )
    doc.add_instance(4, blue)
    doc.set_locked(4, True)
    doc.set_class_hidden(orange, True)
    _lighting, notes = fish.questions
    doc.set_image_answers({notes.feature_schema_id: "two fish"})
    doc.instance(4).crowd = True
    doc.instance(4).extra = {"attributes": {"occluded": False}, "keypoints": [1, 2, 2]}
    again = Document.from_dict(doc.to_dict())
    assert again.to_dict() == doc.to_dict()
    assert again.instance(1).feature_id == doc.instance(1).feature_id
    assert again.instance(4).crowd and not again.instance(1).crowd
    assert again.instance(4).extra == doc.instance(4).extra
    assert again.instance(4).extra is not doc.instance(4).extra


def test_bad_document_dicts_are_refused(fish):
    with pytest.raises(DocumentError, match="unsupported document version"):
        Document.from_dict({"version": 99})
    with pytest.raises(DocumentError, match=r"instances\[0\]\.label_id"):
        Document.from_dict(
            {"ontology": fish.to_dict(), "instances": [{"label_id": -1, "schema_id": "x"}]}
        )
    with pytest.raises(DocumentError, match=r"instances\[0\]\.schema_id: unknown class id"):
        Document.from_dict(
            {"ontology": fish.to_dict(), "instances": [{"label_id": 1, "schema_id": "x"}]}
        )
    with pytest.raises(DocumentError, match="used twice"):
        orange = fish.classes[0].feature_schema_id
        Document.from_dict(
            {
                "ontology": fish.to_dict(),
                "instances": [
                    {"label_id": 1, "schema_id": orange},
                    {"label_id": 1, "schema_id": orange},
                ],
            }
        )


def test_feature_rows_summarise_answers(fish):
    orange, blue, _, blurry, fins = ids(fish)
    yes = blurry.options[0]
    why = yes.questions[0]
    doc = Document(fish)
    doc.add_instance(2, blue)
    doc.add_instance(1, orange)
    doc.set_answers(
        1,
        {
            blurry.feature_schema_id: {yes.feature_schema_id: {why.feature_schema_id: "moved"}},
            fins.feature_schema_id: {o.feature_schema_id: {} for o in fins.options},
        },
    )
    assert doc.feature_row(1) == {
        "class": "Orange Fish",
        "featureId": doc.instance(1).feature_id,
        "answers": "Is the fish blurry?: Yes; Why is it blurry?: moved; Visible fins: Dorsal, Tail",
    }
    columns = doc.feature_columns()
    assert columns["index"] == [0, 1, 2], "background first, then instances in id order"
    assert columns["class"] == ["background", "Orange Fish", "Blue Fish"]
    assert columns["answers"] == ["", doc.feature_row(1)["answers"], "none"]


def test_a_new_ontology_cleans_answers_and_forgets_removed_classes(fish):
    orange, blue, water, blurry, fins = ids(fish)
    doc = Document(fish)
    doc.add_instance(1, orange)
    doc.set_answers(
        1,
        {
            blurry.feature_schema_id: {blurry.options[1].feature_schema_id: {}},
            fins.feature_schema_id: {fins.options[0].feature_schema_id: {}},
        },
    )
    doc.set_class_locked(water, True)
    changed = Ontology.from_dict(fish.to_dict())
    changed.classes[0].questions.pop()  # "Visible fins" is gone
    changed.classes.pop()  # so is Water
    doc.set_ontology(changed)
    assert doc.instance(1).answers == {
        blurry.feature_schema_id: {blurry.options[1].feature_schema_id: {}}
    }
    assert doc.locked_classes == set()
    doc.add_instance(2, blue)
    bare = Ontology(classes=[c for c in changed.classes if c.feature_schema_id != blue])
    with pytest.raises(DocumentError, match=r"lacks the class of instances \[2\]"):
        doc.set_ontology(bare)
