"""One walk over an answers tree, and what the plugin derives from it.

Answers are nested dicts keyed by question ``featureSchemaId`` (see
:mod:`napari_segtool.model.document`). :func:`walk` visits, in ontology order
and depth first, every question that applies: the given questions, and the
questions nested under each option chosen. A *chooser* says what each question's
answer is, so the same walk reads the answers tree (:func:`walk_answers`) and
reads answers from elsewhere (a Labelbox export, COCO attributes) into a tree
(:func:`build_answers`). The walk applies the ontology's rules once for all:
known options only, one choice unless a checklist, text answers non-empty strings.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from napari_segtool.model.ontology import Option, Question

Answers = dict[str, Any]
#: the (question, chosen option) pairs a nested question hangs under, outermost first
Parents = tuple[tuple[Question, Option], ...]
#: what a question's answer is: a text answer, or a collection of chosen option ids
Chooser = Callable[[Question, Parents], Any]

PATH_SEPARATOR = " > "


@dataclass(frozen=True)
class Step:
    """One question met on a walk, with its answer (or none)."""

    question: Question
    parents: Parents = ()
    #: the answer of a text question
    text: str | None = None
    #: the options chosen, in ontology order (at most one unless a checklist)
    options: tuple[Option, ...] = ()

    @property
    def answered(self) -> bool:
        return self.text is not None or bool(self.options)

    def path(self, separator: str = PATH_SEPARATOR) -> str:
        """``question > option > nested question`` as people read it."""
        names = [name for q, o in self.parents for name in (q.name, o.label)]
        return separator.join([*names, self.question.name])


def chosen_options(question: Question, value: Any) -> list[Option]:
    """The options of ``question`` that ``value`` (option ids) chooses, as the ontology allows."""
    if isinstance(value, str | bytes) or not isinstance(value, Collection):
        return []
    chosen = [o for o in question.options if o.feature_schema_id in value]
    return chosen if question.type == "checklist" else chosen[:1]


def walk(questions: Iterable[Question], choose: Chooser, parents: Parents = ()) -> Iterator[Step]:
    """Every question that applies, depth first, each with the answer ``choose`` gives it."""
    for question in questions:
        raw = choose(question, parents)
        if question.type == "text":
            yield Step(question, parents, text=raw if isinstance(raw, str) and raw else None)
            continue
        options = tuple(chosen_options(question, raw))
        yield Step(question, parents, options=options)
        for option in options:
            yield from walk(option.questions, choose, (*parents, (question, option)))


def walk_answers(questions: Iterable[Question], answers: Any) -> Iterator[Step]:
    """:func:`walk` over an answers tree; answers that do not fit the ontology are skipped."""
    root = answers if isinstance(answers, dict) else {}

    def choose(question: Question, parents: Parents) -> Any:
        value = _subtree(root, parents).get(question.feature_schema_id)
        if question.type == "text":
            return value
        return value if isinstance(value, dict) else None

    return walk(questions, choose)


def _subtree(answers: Answers, parents: Parents) -> Answers:
    """The answers nested under the last option of ``parents``."""
    node: Any = answers
    for question, option in parents:
        node = node.get(question.feature_schema_id, {}).get(option.feature_schema_id)
        if not isinstance(node, dict):
            return {}
    return node


def assemble(steps: Iterable[Step]) -> Answers:
    """The answers tree of the answered steps of a walk."""
    tree: Answers = {}
    under: dict[tuple[str, ...], Answers] = {(): tree}
    for step in steps:
        if not step.answered:
            continue
        key = tuple(part.feature_schema_id for pair in step.parents for part in pair)
        into = under[key]
        qid = step.question.feature_schema_id
        if step.text is not None:
            into[qid] = step.text
            continue
        chosen = into[qid] = {}
        for option in step.options:
            chosen[option.feature_schema_id] = under[(*key, qid, option.feature_schema_id)] = {}
    return tree


def build_answers(questions: Iterable[Question], choose: Chooser) -> Answers:
    """An answers tree read from elsewhere: ``choose`` answers each question that applies."""
    return assemble(walk(questions, choose))


# -- what the plugin derives from answers --------------------------------------------
def clean_answers(questions: list[Question], answers: Any) -> Answers:
    """Keep only answers that fit ``questions``: known ids, right shapes, one radio choice."""
    return assemble(walk_answers(questions, answers))


def missing_required(questions: list[Question], answers: Answers, prefix: str = "") -> list[str]:
    """Names (as ``parent > option > question`` paths) of unanswered required questions."""
    return [
        prefix + step.path()
        for step in walk_answers(questions, answers)
        if step.question.required and not step.answered
    ]


def summarise_answers(questions: list[Question], answers: Answers) -> str:
    """One line for the status bar: ``question: answer; ...`` at every depth."""
    return "; ".join(
        f"{step.question.name}: {_shown(step)}"
        for step in walk_answers(questions, answers)
        if step.answered
    )


def _shown(step: Step) -> str:
    return step.text if step.text is not None else ", ".join(o.label for o in step.options)


def flatten_answers(
    questions: list[Question], answers: Answers, separator: str = PATH_SEPARATOR
) -> dict[str, Any]:
    """Answers keyed by question path instead of id, one level deep, for people and tools.

    Text answers are strings, radio and dropdown answers the option's label,
    checklist answers a list of labels.
    """
    flat: dict[str, Any] = {}
    for step in walk_answers(questions, answers):
        if step.text is not None:
            flat[step.path(separator)] = step.text
        elif step.options:
            labels = [o.label for o in step.options]
            flat[step.path(separator)] = labels if step.question.type == "checklist" else labels[0]
    return flat


def unflatten_answers(
    questions: list[Question], flat: dict[str, Any], separator: str = PATH_SEPARATOR
) -> Answers:
    """The inverse of :func:`flatten_answers` (unknown keys and options are ignored).

    Options are found by label or value.
    """

    def choose(question: Question, parents: Parents) -> Any:
        value = flat.get(Step(question, parents).path(separator))
        if question.type == "text" or value is None:
            return value
        labels = value if isinstance(value, list) else [value]
        found = (question.option_by_value(label) for label in labels if isinstance(label, str))
        return {option.feature_schema_id for option in found if option is not None}

    return build_answers(questions, choose)
