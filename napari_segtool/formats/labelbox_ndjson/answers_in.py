"""Export v2 answers (nested) read into the document's nested answers.

v2 nests each sub-answer under the option it hangs from::

    {"feature_schema_id": ..., "name": "Is the fish blurry?",
     "radio_answer": {"feature_schema_id": ..., "name": "Yes",
                      "classifications": [{"name": "Why?", "text_answer": {"content": "..."}}]}}

with ``checklist_answers: [...]`` for checklists and ``text_answer.content`` for
text. The entries are put in the v1 shape the ontology builder of the v1 reader
understands (one walk, shared), after the questions are placed where the
nesting says: under the option they hang from, also when the ontology is
rebuilt from the export.
"""

from __future__ import annotations

from typing import Any

from napari_segtool.formats.labelbox_v1.answers import _choice_answers
from napari_segtool.formats.labelbox_v1.ontology_builder import _OntologyBuilder
from napari_segtool.model.answers import Answers
from napari_segtool.model.ontology import Question


def v1_entries(entries: Any) -> list[dict[str, Any]]:
    """v2 classifications as v1-shaped entries; sub-answers stay under their option."""
    if not isinstance(entries, list):
        return []
    return [_v1_entry(entry) for entry in entries if isinstance(entry, dict)]


def _v1_entry(entry: dict[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "featureId": entry.get("feature_id"),
        "schemaId": entry.get("feature_schema_id"),
        "title": entry.get("name"),
        "value": entry.get("value"),
    }
    if "radio_answer" in entry:
        shaped["answer"] = _v1_option(entry["radio_answer"])
    elif "checklist_answers" in entry:
        raw = entry["checklist_answers"]
        shaped["answers"] = [_v1_option(a) for a in raw] if isinstance(raw, list) else raw
    elif "text_answer" in entry:
        text = entry["text_answer"]
        shaped["answer"] = text.get("content") if isinstance(text, dict) else text
    elif "answer" in entry or "answers" in entry:  # v1 shape inside a v2 file: as it is
        shaped.update({k: entry[k] for k in ("answer", "answers") if k in entry})
    return shaped


def _v1_option(answer: Any) -> Any:
    if not isinstance(answer, dict):
        return answer  # the builder reports a choice that is not an option object
    return {
        "featureId": answer.get("feature_id"),
        "schemaId": answer.get("feature_schema_id"),
        "title": answer.get("name"),
        "value": answer.get("value"),
        "classifications": v1_entries(answer.get("classifications")),
    }


def place_questions(
    builder: _OntologyBuilder, questions: list[Question], entries: list[dict[str, Any]]
) -> None:
    """Find (or add) each entry's question among ``questions``, and its sub-questions under
    the options chosen, so that nested answers have a place in the ontology."""
    for entry in entries:
        question = builder._question_for(questions, entry)
        if question is None or question.type == "text":
            continue
        for answer in _choice_answers(entry) or []:
            option = builder._option_for(question, answer)
            nested = answer.get("classifications") if isinstance(answer, dict) else None
            if option is not None and nested:
                place_questions(builder, option.questions, nested)


def read_answers(
    builder: _OntologyBuilder, questions: list[Question], entries: Any, where: str
) -> Answers:
    """The nested answers of v2 ``entries`` to ``questions`` (placed by :func:`place_questions`)."""
    return builder.answers(questions, v1_entries(entries), where)
