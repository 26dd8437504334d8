"""The one walk over an answers tree and the helpers built on it (pure)."""

import pytest

from napari_segtool.model.answers import (
    Step,
    build_answers,
    chosen_options,
    clean_answers,
    flatten_answers,
    missing_required,
    summarise_answers,
    unflatten_answers,
    walk,
    walk_answers,
)
from napari_segtool.model.ontology import Option, Question, walk_questions


@pytest.fixture
def questions():
    """kind (radio, required) > fish > fins (checklist) > tail > length (text, required)."""
    length = Question("text", "Length", required=True, feature_schema_id="length")
    fins = Question(
        "checklist",
        "Fins",
        options=[
            Option("Dorsal", feature_schema_id="dorsal"),
            Option("Tail", questions=[length], feature_schema_id="tail"),
        ],
        feature_schema_id="fins",
    )
    why = Question("text", "Why", required=True, feature_schema_id="why")
    kind = Question(
        "radio",
        "Kind",
        required=True,
        options=[
            Option("Fish", questions=[fins], feature_schema_id="fish"),
            Option("Other", questions=[why], feature_schema_id="other"),
        ],
        feature_schema_id="kind",
    )
    notes = Question("text", "Notes", feature_schema_id="notes")
    return [kind, notes]


@pytest.fixture
def answered():
    return {
        "kind": {"fish": {"fins": {"dorsal": {}, "tail": {"length": "12 cm"}}}},
        "notes": "two fish",
    }


def shape(steps):
    return [
        (s.path(), s.text, [o.label for o in s.options], s.answered)
        for s in steps  # plain values: easy to compare
    ]


def test_walk_visits_what_applies_depth_first_in_ontology_order(questions, answered):
    assert shape(walk_answers(questions, answered)) == [
        ("Kind", None, ["Fish"], True),
        ("Kind > Fish > Fins", None, ["Dorsal", "Tail"], True),
        ("Kind > Fish > Fins > Tail > Length", "12 cm", [], True),
        ("Notes", "two fish", [], True),
    ]
    # nothing chosen: nested questions do not apply, so they are not met
    assert shape(walk_answers(questions, {})) == [
        ("Kind", None, [], False),
        ("Notes", None, [], False),
    ]


def test_walk_names_the_parents_of_a_nested_question(questions, answered):
    length = next(s for s in walk_answers(questions, answered) if s.question.name == "Length")
    assert [(q.name, o.label) for q, o in length.parents] == [("Kind", "Fish"), ("Fins", "Tail")]
    assert length.path("/") == "Kind/Fish/Fins/Tail/Length"


def test_answers_that_do_not_fit_are_not_met(questions):
    misfits = {
        "kind": {"other": {"why": 5}, "fish": "not a dict", "nope": {}},
        "notes": {"a": "dict"},
        "unknown": "x",
    }
    # radio: the first option in ontology order wins; nested non-dicts count as empty
    assert shape(walk_answers(questions, misfits)) == [
        ("Kind", None, ["Fish"], True),
        ("Kind > Fish > Fins", None, [], False),
        ("Notes", None, [], False),
    ]
    assert list(walk_answers(questions, "not answers")) == list(walk_answers(questions, {}))


def test_clean_answers_keeps_only_what_fits(questions, answered):
    assert clean_answers(questions, answered) == answered
    assert clean_answers(questions, {"kind": {"other": {}, "fish": 3}, "notes": ""}) == {
        "kind": {"fish": {}}
    }
    assert clean_answers(questions, {"kind": {}, "notes": None}) == {}
    assert clean_answers(questions, ["not", "a", "dict"]) == {}
    # choosing another option drops everything under the old one
    assert clean_answers(questions, {"kind": {"other": {"fins": {"dorsal": {}}}}}) == {
        "kind": {"other": {}}
    }


def test_missing_required_follows_the_chosen_branch(questions):
    assert missing_required(questions, {}) == ["Kind"]
    assert missing_required(questions, {"kind": {"other": {}}}) == ["Kind > Other > Why"]
    assert missing_required(questions, {"kind": {"fish": {"fins": {"tail": {}}}}}) == [
        "Kind > Fish > Fins > Tail > Length"
    ]
    assert missing_required(questions, {"kind": {"fish": {"fins": {"dorsal": {}}}}}) == []
    assert missing_required(questions, {}, prefix="Image: ") == ["Image: Kind"]
    # an answer of the wrong shape is not an answer (the exports drop it too)
    assert missing_required(questions, {"kind": {"other": {"why": 5}}}) == ["Kind > Other > Why"]


def test_summary_lists_every_answer_at_every_depth(questions, answered):
    assert summarise_answers(questions, answered) == (
        "Kind: Fish; Fins: Dorsal, Tail; Length: 12 cm; Notes: two fish"
    )
    assert summarise_answers(questions, {}) == ""


def test_flat_answers_round_trip(questions, answered):
    flat = flatten_answers(questions, answered)
    assert flat == {
        "Kind": "Fish",
        "Kind > Fish > Fins": ["Dorsal", "Tail"],
        "Kind > Fish > Fins > Tail > Length": "12 cm",
        "Notes": "two fish",
    }
    assert unflatten_answers(questions, flat) == answered
    assert unflatten_answers(questions, flatten_answers(questions, answered, "/"), "/") == answered


def test_unflatten_matches_labels_or_values_and_ignores_the_rest(questions):
    flat = {
        "Kind": ["other", "Fish"],  # a radio keeps the first option in ontology order
        "Kind > Other > Why": "ignored: Other is not the choice kept",
        "Kind > Fish > Fins": "tail",
        "Kind > Fish > Fins > Tail > Length": 12,  # not text
        "Notes": "",
        "Unknown": "x",
    }
    assert unflatten_answers(questions, flat) == {"kind": {"fish": {"fins": {"tail": {}}}}}
    assert unflatten_answers(questions, {"Kind": "Nope", "Notes": ["a"]}) == {}


def test_build_answers_asks_only_the_questions_that_apply(questions):
    asked = []

    def choose(question, parents):
        asked.append(Step(question, parents).path())
        return {"kind": {"fish"}, "fins": ["tail", "dorsal"], "length": "3"}.get(
            question.feature_schema_id
        )

    built = build_answers(questions, choose)
    assert built == {"kind": {"fish": {"fins": {"dorsal": {}, "tail": {"length": "3"}}}}}
    assert asked == ["Kind", "Kind > Fish > Fins", "Kind > Fish > Fins > Tail > Length", "Notes"]


def test_chosen_options_never_reads_a_string_as_a_set_of_ids(questions):
    kind = questions[0]
    assert chosen_options(kind, "fish") == []  # "fish" in "fish" would be True
    assert chosen_options(kind, None) == []
    assert [o.label for o in chosen_options(kind, ["other", "fish"])] == ["Fish"]
    fins = kind.options[0].questions[0]
    assert [o.label for o in chosen_options(fins, {"tail": {}, "dorsal": {}})] == ["Dorsal", "Tail"]


def test_walk_is_the_one_walk_for_any_source(questions):
    steps = list(walk(questions, lambda question, _parents: None))
    assert [s.question.name for s in steps] == ["Kind", "Notes"]
    assert [q.name for q in walk_questions(questions)] == [
        "Kind",
        "Fins",
        "Length",
        "Why",
        "Notes",
    ]
