"""Hostile ontology JSON: every bad input is an OntologyError naming the file and the field.

Never another exception, never a half-built ontology (issue "Nothing lost", item 4).
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_segtool.formats.ontology_json import write_ontology
from napari_segtool.model.ontology import Ontology, OntologyError
from tests.fuzz import json_values

FIXTURE_OK = HealthCheck.function_scoped_fixture  # the fixtures are read-only here

STR_FIELDS = {
    "tool",
    "name",
    "color",
    "featureSchemaId",
    "schemaNodeId",
    "instructions",
    "scope",
    "type",
    "label",
    "value",
}
BOOL_FIELDS = {"required"}
LIST_FIELDS = {"classifications", "options", "tools"}
WRONG = {
    str: [1, 1.5, True, [], {}, ["x"], {"a": "b"}],
    bool: ["true", 1, 0, None, [], {}],
    list: ["x", 1, {}, None, True],
}


@pytest.fixture
def reference(reference_dir) -> dict:
    return json.loads((reference_dir / "ontology.fish.json").read_text())


def known_fields(node, path=()):
    """(path to a dict, key) for every modelled key in the ontology JSON."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in STR_FIELDS | BOOL_FIELDS | LIST_FIELDS:
                yield path, key
            yield from known_fields(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from known_fields(value, (*path, index))


def at(node, path):
    for step in path:
        node = node[step]
    return node


def json_path(path, key) -> str:
    text = ""
    for step in (*path, key):
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def load_text(tmp_path, text: str | bytes):
    target = tmp_path / "ontology.json"
    (target.write_bytes if isinstance(text, bytes) else target.write_text)(text)
    return Ontology.load(target), target


def refused(tmp_path, text, *fragments) -> str:
    target = tmp_path / "ontology.json"
    (target.write_bytes if isinstance(text, bytes) else target.write_text)(text)
    with pytest.raises(OntologyError) as caught:
        Ontology.load(target)
    message = str(caught.value)
    assert str(target) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# -- malformed and truncated JSON -----------------------------------------------------------------
def test_truncated_at_every_position_is_a_clear_error(tmp_path, reference_dir):
    text = (reference_dir / "ontology.fish.json").read_text()
    for cut in range(0, len(text) - 2, max(1, len(text) // 300)):
        refused(tmp_path, text[:cut])


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ('{"tools": [}', "not valid JSON"),
        ("{'tools': []}", "not valid JSON"),
        ('{"tools": [],}', "not valid JSON"),
        (b"\xff\xfe{", "not valid JSON"),
        (b"\x00\x00\x00", "not valid JSON"),
        ("null", "expected a JSON object"),
        ("[]", "expected a JSON object"),
        ('"tools"', "expected a JSON object"),
        ("1e999", "expected a JSON object"),
        ('{"tools": {}}', "tools: expected a JSON list"),
        ('{"tools": [null]}', "tools[0]: expected a JSON object"),
        ('{"classifications": "radio"}', "classifications: expected a JSON list"),
        ('{"tools": [{"name": "a", "color": NaN}]}', "tools[0].color"),
        ('{"tools": [{"name": "a", "color": Infinity}]}', "tools[0].color"),
    ],
)
def test_malformed(tmp_path, text, problem):
    refused(tmp_path, text, problem)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(OntologyError, match="cannot read file"):
        Ontology.load(tmp_path / "missing.json")
    with pytest.raises(OntologyError, match="cannot read file"):
        Ontology.load(tmp_path)


def test_deeply_nested_json(tmp_path):
    refused(tmp_path, "[" * 100_000, "not valid JSON")


def test_integer_with_too_many_digits(tmp_path):
    refused(tmp_path, '{"tools": [' + "9" * 5000 + "]}", "not valid JSON")


# -- wrong types in every field -------------------------------------------------------------------
def test_wrong_type_in_every_field_names_the_field(tmp_path, reference):
    fields = list(known_fields(reference))
    assert len(fields) > 40  # the walk really covers the reference ontology
    checked = 0
    for path, key in fields:
        kind = str if key in STR_FIELDS else bool if key in BOOL_FIELDS else list
        for value in WRONG[kind]:
            broken = copy.deepcopy(reference)
            at(broken, path)[key] = value
            message = refused(tmp_path, json.dumps(broken))
            # the message points into the right object (the key itself, or its owner
            # when a fallback such as label <- value is tried first)
            owner = json_path(path, key).rsplit(".", 1)[0]
            assert owner in message, (path, key, value, message)
            checked += 1
    assert checked > 200


def test_wrong_type_at_the_top(tmp_path, reference):
    for key in ("tools", "classifications"):
        for value in WRONG[list]:
            broken = dict(reference, **{key: value})
            if value is None:
                continue  # JSON null is refused as "expected a JSON list" too, checked above
            refused(tmp_path, json.dumps(broken), key)


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda o: o["tools"][0].update(color="red"), "tools[0].color"),
        (lambda o: o["tools"][0].update(color="#GGGGGG"), "tools[0].color"),
        (lambda o: o["tools"][1].update(name=o["tools"][0]["name"].upper()), "duplicate class"),
        (lambda o: o["tools"][1].update(featureSchemaId=o["tools"][0]["featureSchemaId"]), "dupl"),
        (lambda o: o["tools"][0].update(name="   "), "non-empty name"),
        (lambda o: o["tools"][0].update(name="\u3000\u2003"), "non-empty name"),
        (lambda o: o["tools"][0]["classifications"][0].update(type="slider"), "unknown question"),
        (lambda o: o["tools"][0]["classifications"][0].update(options=[]), "needs options"),
        (lambda o: o["classifications"][1].update(options=[{"label": "x"}]), "text question"),
    ],
)
def test_inconsistent_values(tmp_path, reference, change, problem):
    change(reference)
    refused(tmp_path, json.dumps(reference), problem)


# -- huge numbers, unicode, odd names -------------------------------------------------------------
@pytest.mark.parametrize("value", [10**300, -(10**300), 1e308, 2**64, 0.1])
def test_huge_numbers_in_fields_are_refused(tmp_path, reference, value):
    reference["tools"][0]["name"] = value
    refused(tmp_path, json.dumps(reference), "tools[0].name")
    reference["tools"][0]["name"] = "x"
    reference["tools"][0]["required"] = value
    refused(tmp_path, json.dumps(reference), "tools[0].required")


def test_huge_numbers_in_unknown_keys_survive(tmp_path, reference):
    reference["tools"][0]["position"] = 10**300
    reference["updatedAt"] = 1e308
    ontology, _ = load_text(tmp_path, json.dumps(reference))
    assert ontology.to_dict() == reference


NAMES = [
    "Рыба",
    "鱼",
    "سمكة",
    "🐟 fish 🐠",
    "e\u0301clair",  # combining accent
    "\u202eevil\u202c",  # right-to-left override
    "../../etc/passwd",
    "C:\\Windows\\system32",
    "a/b",
    "name\x00with nul",
    "x" * 10_000,
]


@pytest.mark.parametrize("name", NAMES)
def test_unicode_and_path_like_names_round_trip(tmp_path, reference, name):
    reference["tools"][0]["name"] = name
    reference["tools"][0]["classifications"][0]["options"][0]["label"] = name
    ontology, target = load_text(tmp_path, json.dumps(reference, ensure_ascii=False))
    assert ontology.classes[0].name == name
    write_ontology(ontology, target)
    assert Ontology.load(target) == ontology
    # names are data, never paths: nothing else appeared next to the file
    assert [p.name for p in tmp_path.iterdir()] == ["ontology.json"]


def test_unicode_case_duplicates_are_caught(tmp_path, reference):
    reference["tools"][0]["name"] = "STRASSE"
    reference["tools"][1]["name"] = "straße"  # casefold makes them equal
    refused(tmp_path, json.dumps(reference), "duplicate class name")


def test_lone_surrogates_and_bom(tmp_path, reference):
    reference["tools"][0]["name"] = "\ud800"
    text = json.dumps(reference)  # ASCII escape of a lone surrogate: valid JSON
    ontology = Ontology.from_json(text)
    assert ontology.classes[0].name == "\ud800"
    refused(tmp_path, b"\xef\xbb\xbf" + json.dumps(reference).encode()[:10])


# -- property-based fuzzing -----------------------------------------------------------------------
JSON = json_values(STR_FIELDS | BOOL_FIELDS | LIST_FIELDS, max_leaves=25)


def check(call):
    """Succeeds (and then round-trips) or raises OntologyError: nothing else."""
    try:
        ontology = call()
    except OntologyError as err:
        assert str(err)
        return None
    assert Ontology.from_dict(ontology.to_dict()) == ontology
    return ontology


@settings(max_examples=300, deadline=None)
@given(data=JSON)
def test_fuzz_from_dict_arbitrary_json(data):
    check(lambda: Ontology.from_dict(data))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | st.binary(max_size=200))
def test_fuzz_from_json_arbitrary_text(text):
    check(lambda: Ontology.from_json(text, source="fuzz.json"))


@settings(max_examples=300, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(data=st.data())
def test_fuzz_mutations_of_the_reference(reference, data):
    """Near-valid ontologies: replace, drop or add fields anywhere in the reference."""
    broken = copy.deepcopy(reference)
    for _ in range(data.draw(st.integers(1, 4))):
        fields = list(known_fields(broken))  # afresh: earlier mutations reshape the tree
        if not fields:
            break
        path, key = data.draw(st.sampled_from(fields))
        owner = at(broken, path)
        action = data.draw(st.sampled_from(["replace", "drop", "duplicate"]))
        if action == "replace":
            owner[key] = data.draw(JSON)
        elif action == "drop":
            del owner[key]
        elif isinstance(owner[key], list) and owner[key]:
            owner[key].append(copy.deepcopy(owner[key][0]))
    text = json.dumps(broken, allow_nan=True)
    check(lambda: Ontology.from_json(text, source="fuzz.json"))
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(text)))
        check(lambda: Ontology.from_json(text[:cut], source="fuzz.json"))
