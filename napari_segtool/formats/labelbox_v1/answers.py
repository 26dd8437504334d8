"""Answers in Labelbox v1 shape: written flattened beside their parent, read back from any v1
shape; stable derived featureIds.
"""

from __future__ import annotations

import hashlib
from typing import Any

from napari_segtool.model.answers import Answers, walk_answers
from napari_segtool.model.ontology import (
    Question,
)


def outline_feature_id(instance_feature_id: str, component: int) -> str:
    """The featureId of an instance's ``component``-th polygon outline (stable across saves)."""
    return derived_cuid(instance_feature_id, "polygon", str(component))


def derived_cuid(*parts: str) -> str:
    """A 25-character cuid-shaped id that is the same for the same ``parts``.

    Classification featureIds are not stored in a document; deriving them from
    the instance and the question keeps them stable across saves.
    """
    digest = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    digits = []
    for _ in range(24):
        digest, rem = divmod(digest, 36)
        digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[rem])
    return "c" + "".join(digits)


def answers_to_v1(
    questions: list[Question], answers: Answers, owner: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Nested answers as v1 classifications, sub-answers flattened after their parent."""
    out: list[dict[str, Any]] = []
    for step in walk_answers(questions, answers):
        if not step.answered:
            continue
        question, qid = step.question, step.question.feature_schema_id
        entry: dict[str, Any] = {
            "featureId": derived_cuid(*owner, qid),
            "schemaId": qid,
            "title": question.name,
            "value": question.value,
        }
        if step.text is not None:
            entry["answer"] = step.text
            out.append(entry)
            continue
        shaped = [
            {
                "featureId": derived_cuid(*owner, qid, o.feature_schema_id),
                "schemaId": o.feature_schema_id,
                "title": o.label,
                "value": o.value,
            }
            for o in step.options
        ]
        if question.type == "checklist":
            entry["answers"] = shaped
        else:  # radio, and dropdown written radio-shaped (the SDK rejects the list shape)
            entry["answer"] = shaped[0]
        out.append(entry)
    return out


def _flatten_entries(entries: Any) -> list[dict[str, Any]]:
    """v1 classifications as a flat list: unwraps ``[[...]]`` and answer-nested lists."""
    flat: list[dict[str, Any]] = []
    stack = list(reversed(entries)) if isinstance(entries, list) else []
    while stack:
        entry = stack.pop()
        if isinstance(entry, list):
            stack.extend(reversed(entry))
            continue
        if not isinstance(entry, dict):
            continue
        flat.append(entry)
        # some exports nest sub-answers inside the chosen answer
        for answer in _choice_answers(entry) or []:
            if isinstance(answer, dict) and isinstance(answer.get("classifications"), list):
                stack.extend(reversed(answer["classifications"]))
    return flat


def _choice_answers(entry: dict[str, Any]) -> list[Any] | None:
    """The chosen option objects of a radio / checklist / dropdown entry, any v1 shape."""
    raw = entry.get("answers", entry.get("answer"))
    if isinstance(raw, dict):
        return [raw]
    if isinstance(raw, list):
        flat: list[Any] = []
        for item in raw:  # legacy dropdown list, checklist wrapped in an extra list
            flat.extend(item if isinstance(item, list) else [item])
        return flat
    return None


def _merge_entry(into: dict[str, Any], extra: dict[str, Any]) -> None:
    """Two entries for one checklist question: keep every chosen option."""
    mine, theirs = _choice_answers(into), _choice_answers(extra)
    if mine is not None and theirs is not None:
        into.pop("answer", None)
        into["answers"] = mine + theirs
