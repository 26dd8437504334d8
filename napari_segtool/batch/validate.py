"""Read everything and report what is wrong, per file and data row / image."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from napari_segtool.batch import engine
from napari_segtool.batch.inputs import Unit, expand_inputs, named, scan
from napari_segtool.batch.measure import image_name_of
from napari_segtool.model.label_store import label_store

#: kinds of problems; ``note`` is what a reader says without it being wrong
PROBLEMS = (
    "missing-file",
    "foreign-file",
    "unreadable",
    "missing-mask",
    "unreadable-mask",
    "wrong-size",
    "unknown-class",
    "unanswered",
    "overlap",
    "empty-mask",
)
NOTE = "note"

#: what the readers' messages say, by kind (first match wins)
_KINDS = (
    ("missing-mask", re.compile(r"mask .* is missing|no such file", re.I)),
    ("wrong-size", re.compile(r"pixels but the image is|pixels, the file says|size", re.I)),
    ("unknown-class", re.compile(r"lacked|no category has id|not in the ontology|no class", re.I)),
    ("overlap", re.compile(r"overlap", re.I)),
    ("empty-mask", re.compile(r"empty mask", re.I)),
    ("unreadable-mask", re.compile(r"mask", re.I)),
)


@dataclass(frozen=True)
class Issue:
    path: str
    kind: str
    message: str
    #: the data row / image (its name), when the issue is about one
    row: str | None = None
    label_id: int | None = None
    feature_id: str | None = None

    def line(self) -> str:
        where = f"{self.path}" + (f" [{self.row}]" if self.row else "")
        message = self.message.removeprefix(f"{self.path}: ")
        return f"{where}: {self.kind}: {message}"


@dataclass
class ValidateReport:
    files: int = 0
    units: int = 0
    issues: list[Issue] = field(default_factory=list)

    @property
    def problems(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.kind != NOTE]

    @property
    def clean(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        return dict(Counter(issue.kind for issue in self.problems))

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "files": self.files,
            "units": self.units,
            "counts": self.counts(),
            "issues": [asdict(issue) for issue in self.issues],
        }


def kind_of(message: str, default: str) -> str:
    return next((kind for kind, pattern in _KINDS if pattern.search(message)), default)


def check_unit(unit: Unit) -> list[Issue]:
    """Everything wrong with one data row / image (a read error is one issue)."""
    path = str(unit.path)
    try:
        result = unit.read()
    except Exception as err:
        message = str(err) or type(err).__name__
        return [Issue(path, kind_of(message, "unreadable"), message, _row_of(message))]
    issues = [Issue(path, kind_of(note, NOTE), note, _row_of(note)) for note in result.notes]
    issues = [
        i
        if i.kind in ("overlap", "unknown-class", "empty-mask")
        else Issue(i.path, NOTE, i.message, i.row)
        for i in issues
    ]
    for item in result.labels:
        document, row = item.document, image_name_of(item)
        present = set(label_store(item.data).ids()) - {0}
        unclassed = sorted(present - set(document.instances))
        if unclassed:
            issues.append(
                Issue(path, "unknown-class", f"label ids {unclassed[:10]} have no class", row)
            )
        for label_id, question in document.unanswered_report(
            sorted(present & set(document.instances))
        ):
            if label_id is None:
                message = f"image-level required question {question!r} unanswered"
                issues.append(Issue(path, "unanswered", message, row))
                continue
            instance = document.instances[label_id]
            message = (
                f"instance {instance.feature_id} (label {label_id}): required question "
                f"{question!r} unanswered"
            )
            issues.append(Issue(path, "unanswered", message, row, label_id, instance.feature_id))
    return issues


def validate(
    inputs: Sequence[str], options: engine.RunOptions = engine.DEFAULT_OPTIONS
) -> ValidateReport:
    files, missing = expand_inputs(inputs)
    report = ValidateReport(files=len(files))
    report.issues += [Issue(argument, "missing-file", problem) for argument, problem in missing]
    with engine.Session(options) as session:
        return _validate(files, session, report)


def _validate(files, session: engine.Session, report: ValidateReport) -> ValidateReport:
    scanned = session.run(scan, [f.path for f in files], "Scanning")
    units: list[Unit] = []
    for outcome in scanned:
        if outcome.ok:
            units.extend(outcome.value)
        else:
            kind = (
                "foreign-file" if "not a file this plugin reads" in outcome.error else "unreadable"
            )
            report.issues.append(Issue(str(outcome.item), kind, named(outcome.error, outcome.item)))
    report.units = len(units)
    seen: set[tuple[str, str, str]] = set()
    for outcome in session.run(check_unit, units, "Validating"):
        found = (
            outcome.value
            if outcome.ok
            else [Issue(str(outcome.item.path), "unreadable", outcome.error)]
        )
        for issue in found:  # a file-wide note is said by each of its rows' tasks
            key = (issue.path, issue.kind, issue.message)
            if key not in seen:
                seen.add(key)
                report.issues.append(issue)
    return report


_ROW = re.compile(r"\b(row \d+|image \d+)")


def _row_of(message: str) -> str | None:
    match = _ROW.search(message)
    return match.group(1) if match else None
