"""Nested answers in the shape of Labelbox's NDJSON annotation import.

Unlike v1, the import nests: a sub-question's answer sits in the
``classifications`` of the option it hangs from.

* text: ``{"name", "schemaId", "answer": "..."}``
* radio (and dropdown, which Labelbox imports as radio):
  ``{"name", "schemaId", "answer": {"name", "schemaId", "classifications": [...]}}``
* checklist: ``{"name", "schemaId", "answer": [{"name", "schemaId", "classifications"}, ...]}``

Names are what Labelbox matches when it has no schema id: a question's
``name`` and an option's ``value`` (as the SDK's ontology lookup does).
``schemaId`` is written when the id is a Labelbox cuid and ``schema_ids`` is
true; ``classifications`` only when something is nested.
"""

from __future__ import annotations

from typing import Any

from napari_segtool.model.answers import Answers, Step, walk_answers
from napari_segtool.model.ids import is_cuid
from napari_segtool.model.ontology import Option, Question


def feature_reference(name: str, schema_id: str, schema_ids: bool) -> dict[str, str]:
    """``{"name": ..., "schemaId": ...}``, the id only when Labelbox can know it."""
    reference = {"name": name}
    if schema_ids and is_cuid(schema_id):
        reference["schemaId"] = schema_id
    return reference


def answers_to_import(
    questions: list[Question], answers: Answers, *, schema_ids: bool = True
) -> list[dict[str, Any]]:
    """Every answered question of ``questions`` (sub-answers nested under their option)."""
    return [entry for _, entry in answers_by_question(questions, answers, schema_ids=schema_ids)]


def answers_by_question(
    questions: list[Question], answers: Answers, *, schema_ids: bool = True
) -> list[tuple[Question, dict[str, Any]]]:
    """:func:`answers_to_import`, each entry with the question of ``questions`` it answers."""
    steps = [step for step in walk_answers(questions, answers) if step.answered]
    return _entries(steps, (), schema_ids)


def _entries(
    steps: list[Step], parents: tuple, schema_ids: bool
) -> list[tuple[Question, dict[str, Any]]]:
    """The entries of the steps directly under ``parents`` (one level of the walk)."""
    depth = len(parents)
    out = []
    for step in steps:
        if len(step.parents) != depth or step.parents[:depth] != parents:
            continue
        question = step.question
        entry: dict[str, Any] = feature_reference(
            question.name, question.feature_schema_id, schema_ids
        )
        if step.text is not None:
            entry["answer"] = step.text
        else:
            chosen = [
                _option(option, steps, (*step.parents, (question, option)), schema_ids)
                for option in step.options
            ]
            entry["answer"] = chosen if question.type == "checklist" else chosen[0]
        out.append((question, entry))
    return out


def _option(option: Option, steps: list[Step], parents: tuple, schema_ids: bool) -> dict:
    answer: dict[str, Any] = feature_reference(option.value, option.feature_schema_id, schema_ids)
    nested = [entry for _, entry in _entries(steps, parents, schema_ids)]
    if nested:
        answer["classifications"] = nested
    return answer
