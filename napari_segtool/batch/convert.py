"""Any readable input to any writable format, per file; or many inputs into one COCO file.

What the target cannot hold is found by reading each written file back with
the target's own reader and counting what came through (instances, answers,
objects of other tools), so the list holds for every registered format.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_segtool.batch import engine
from napari_segtool.batch.inputs import InputFile, Unit, expand_inputs, named, scan
from napari_segtool.formats import coco_files, labelbox_v1, registry
from napari_segtool.formats.result import ReadResult, collected_notes
from napari_segtool.model.answers import walk_answers
from napari_segtool.model.label_store import label_store

#: the one format that holds many inputs in one file (``--merge``)
MERGE_FORMAT = "coco"
MERGED_NAME = "merged"


def writable_formats() -> list[str]:
    """Names of the registered formats that can be written (the choices of ``--to``)."""
    return [entry.name for entry in registry.formats() if entry.writer is not None]


def content_counts(result: ReadResult) -> Counter[str]:
    """What a read result holds, counted the same way for every format."""
    counts: Counter[str] = Counter()
    for item in result.labels:
        document = item.document
        present = (set(label_store(item.data).ids()) - {0}) & set(document.instances)
        counts["label images"] += 1
        counts["instances"] += len(present)
        for label_id in present:
            cls_ = document.class_of(label_id)
            answers = document.instances[label_id].answers
            counts["answers"] += sum(s.answered for s in walk_answers(cls_.questions, answers))
        counts["image-level answers"] += sum(
            s.answered for s in walk_answers(document.ontology.questions, document.image_answers)
        )
    counts["objects of other tools"] += sum(len(shapes.coords) for shapes in result.shapes)
    return counts


@dataclass
class Converted:
    """One output file and what did not reach it."""

    source: str
    written: tuple[str, ...]
    lost: Counter[str]
    notes: tuple[str, ...]
    #: data rows / images of the source that failed (the output holds the rest: partial)
    failed_units: int = 0
    #: data rows / images of the source
    units: int = 1
    #: the output was written but could not be read back (no losses listed then)
    unreadable: str | None = None


@dataclass
class ConvertReport:
    target: str
    outputs: list[Converted] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def losses(self) -> dict[str, tuple[int, list[str]]]:
        """Per kind of content: how much the target could not hold, and in which files."""
        found: dict[str, tuple[int, list[str]]] = {}
        for output in self.outputs:
            for kind, count in output.lost.items():
                if count > 0:
                    total, sources = found.get(kind, (0, []))
                    found[kind] = (total + count, [*sources, output.source])
        return found


def output_stem(path: Path) -> str:
    """The file name without the ending its format gives it (``a.coco.json`` -> ``a``)."""
    name = path.name
    ends = [ext for entry in registry.formats() for ext in entry.extensions]
    for ext in sorted(ends, key=len, reverse=True):
        if name.lower().endswith(ext.lower()) and len(name) > len(ext):
            return name[: -len(ext)]
    return path.stem


class _ConvertFile:
    """A picklable task for a target written only whole: read one file, write it, read it back."""

    def __init__(self, target: str):
        self.target = target

    def __call__(self, job: tuple[Path, Path]) -> Converted:
        source, out = job
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the formats collect them in their results
            entry, claim = registry.claimed_format(source)
            result = entry.read(source, claim=claim)
            if not result.labels:
                raise ValueError(f"{source}: holds no label image to convert")
            target = registry.get(self.target)
            out.parent.mkdir(parents=True, exist_ok=True)
            written = target.write(out, result.labels, result.images)
            back = target.read(out)  # every format reads what it writes: losses are measured
        lost = content_counts(result)
        lost.subtract(content_counts(back))
        return Converted(
            str(source),
            tuple(str(p) for p in written.written),
            lost,
            tuple(result.notes) + tuple(written.notes),
        )


def _one_at_a_time(unit: Unit, images: bool = True):
    """The unit's data rows / images read one by one: a task holds one image at a time."""
    if unit.indices is None:
        yield unit.read(images)
        return
    for group in unit.groups():  # the planes of a stack are read together, as one stack
        yield Unit(unit.path, unit.format_name, group, unit.count).read(images)


@dataclass
class _UnitParts:
    """What one unit contributes to its output file (plain values, no pixels)."""

    parts: list[dict[str, Any]]
    counts: Counter[str]
    notes: list[str]


class _WriteParts:
    """A picklable task: one unit's label images as parts of the target file ``out``."""

    def __init__(self, target: str, now: str):
        self.target = target
        self.now = now

    def __call__(self, job: tuple[Unit, Path]) -> _UnitParts:
        unit, out = job
        entry = registry.get(self.target)
        done = _UnitParts([], Counter(), [])
        for result in _one_at_a_time(unit):
            done.counts += content_counts(result)
            done.notes += result.notes
            images = coco_files.pair_images(result.labels, result.images)
            for item, image in zip(result.labels, images, strict=True):
                with collected_notes(Warning, done.notes):
                    done.parts.append(entry.write_part(out, item, image, now=self.now))
            del result, images  # the next image is read only once this one is gone
        return done


class _ConvertUnit:
    """A picklable task for an output made of one unit: its parts, the file assembled from
    them, and what the file holds when read back."""

    def __init__(self, target: str, now: str):
        self.write_parts = _WriteParts(target, now)

    def __call__(self, job: tuple[Unit, Path]) -> Converted:
        unit, out = job
        entry = registry.get(self.write_parts.target)
        done = self.write_parts(job)
        if not done.parts:
            raise ValueError(f"{unit.path}: holds no label image to convert")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                written = entry.assemble(out, done.parts)
        except (ValueError, OSError) as err:
            for part in done.parts:
                coco_files.discard_image_part(part)
            raise ValueError(named(str(err), out)) from None
        try:
            held = [counts for back in scan(out) for counts in _CountUnit()(back)]
        except (ValueError, OSError) as err:  # written but not readable back: no losses listed
            return Converted(
                str(unit.path),
                tuple(str(p) for p in written),
                Counter(),
                tuple(done.notes),
                units=unit.count,
                unreadable=named(f"cannot be read back: {err}", out),
            )
        lost = Counter(done.counts)
        lost.subtract(sum(held, Counter()))
        return Converted(
            str(unit.path),
            tuple(str(p) for p in written),
            lost,
            tuple(done.notes),
            units=unit.count,
        )


class _CountUnit:
    """A picklable task: what each data row / image of a written unit holds."""

    def __call__(self, unit: Unit) -> list[Counter[str]]:
        held = []
        for result in _one_at_a_time(unit, images=False):  # counted: no pixels of images
            counts = [content_counts(ReadResult((item,))) for item in result.labels]
            if counts:  # the objects of other tools of a data row go with its label image
                counts[0]["objects of other tools"] += sum(len(s.coords) for s in result.shapes)
            held += counts
        return held


def convert(
    inputs: Sequence[str],
    target: str,
    out_dir: str | Path,
    options: engine.RunOptions = engine.DEFAULT_OPTIONS,
    *,
    merge: bool = False,
    merged_name: str = MERGED_NAME,
) -> ConvertReport:
    """Convert every input to ``target`` in ``out_dir`` (see the module docstring).

    Without ``merge`` each input file gives one output, named like it (folders
    given as inputs are mirrored). With ``merge`` (COCO only) every data row /
    image of every input goes into ``out_dir/<merged_name>.coco.json``, with
    their images copied beside it.

    Every task reads one unit of a file (:func:`~.inputs.scan`) one image at a
    time and gives the target's part for it; each output file is assembled from
    its parts at the end, so memory per task is one image and its masks.
    """
    entry = registry.get(target)
    if entry.writer is None:
        raise ValueError(f"{entry.display_name} cannot be written")
    if merge and target != MERGE_FORMAT:
        raise ValueError(f"--merge writes one COCO file; it cannot be used with --to {target}")
    out_dir = Path(out_dir)
    files, missing = expand_inputs(inputs)
    report = ConvertReport(target)
    report.failures += [f"{argument}: {problem}" for argument, problem in missing]
    with engine.Session(options) as session:
        if merge:
            out = out_dir / f"{merged_name}{registry.get(MERGE_FORMAT).extensions[0]}"
            jobs = [(file.path, out) for file in files]
        else:
            jobs = _jobs(files, out_dir, entry.extensions[0], report)
        if entry.write_part is None or entry.assemble is None:
            for outcome in session.run(_ConvertFile(target), jobs, "Converting"):
                if outcome.ok:
                    report.outputs.append(outcome.value)
                else:
                    report.failures.append(named(outcome.error, outcome.item[0]))
            return report
        _convert_in_parts(entry, jobs, session, report)
    return report


def _convert_in_parts(entry, jobs: list[tuple[Path, Path]], session, report: ConvertReport):
    outs = list(dict.fromkeys(out for _, out in jobs))
    ready = set()
    for out in outs:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if entry.prepare is not None:
                entry.prepare(out)
            ready.add(out)
        except (ValueError, OSError) as err:
            report.failures.append(named(str(err), out))
    jobs = [(source, out) for source, out in jobs if out in ready]
    out_of = dict(jobs)
    unit_jobs: list[tuple[Unit, Path]] = []
    for outcome in session.run(scan, list(out_of), "Scanning"):
        if outcome.ok:
            unit_jobs += [(unit, out_of[outcome.item]) for unit in outcome.value]
        else:
            report.failures.append(named(outcome.error, outcome.item))
    now = labelbox_v1.export_timestamp()
    # An output made of one unit is written and checked by that unit's task: no parts travel
    # back, and nothing is left to do one file after the other in this process.
    units_of = Counter(out for _, out in unit_jobs)
    whole = [job for job in unit_jobs if units_of[job[1]] == 1]
    unit_jobs = [job for job in unit_jobs if units_of[job[1]] > 1]
    outs = [out for out in outs if units_of[out] > 1]
    for outcome in session.run(_ConvertUnit(entry.name, now), whole, "Converting"):
        if outcome.ok:
            report.outputs.append(outcome.value)
            if outcome.value.unreadable:
                report.failures.append(outcome.value.unreadable)
        else:
            report.failures.append(named(outcome.error, str(outcome.item[0])))
    if not unit_jobs:
        return
    # per output file, per source: the parts in order, the counts read, failed units
    gathered: dict[Path, dict[Path, _Gathered]] = {out: {} for out in outs}
    for outcome in session.run(_WriteParts(entry.name, now), unit_jobs, "Converting"):
        unit, out = outcome.item
        place = gathered[out].setdefault(unit.path, _Gathered(unit.count))
        if outcome.ok:
            place.parts += outcome.value.parts
            place.counts += outcome.value.counts
            place.notes += outcome.value.notes
        else:
            place.failed += 1 if unit.indices is None else len(unit.indices)
            report.failures.append(named(outcome.error, str(unit)))
    assembled: list[tuple[Path, list[str], dict[Path, _Gathered]]] = []
    for out in outs:
        sources = {p: g for p, g in gathered[out].items() if g.parts}
        for path, place in gathered[out].items():
            if not place.parts and not place.failed:
                report.failures.append(f"{path}: holds no label image to convert")
        parts = [part for place in sources.values() for part in place.parts]
        if not parts:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                written = entry.assemble(out, parts)
        except (ValueError, OSError) as err:
            for part in parts:
                coco_files.discard_image_part(part)
            report.failures.append(named(str(err), out))
            continue
        assembled.append((out, [str(p) for p in written], sources))
    _check_outputs(entry, assembled, session, report)


@dataclass
class _Gathered:
    count: int
    parts: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    failed: int = 0


def _check_outputs(entry, assembled, session, report: ConvertReport) -> None:
    """Read every written file back unit by unit and list, per source, what did not reach it."""
    units: list[Unit] = []
    for outcome in session.run(scan, [out for out, _, _ in assembled], "Checking"):
        units += outcome.value if outcome.ok else []
    back: dict[Path, list[Counter[str]] | None] = {out: [] for out, _, _ in assembled}
    for outcome in session.run(_CountUnit(), units, "Checking"):
        path = outcome.item.path
        if outcome.ok and back[path] is not None:
            back[path] += outcome.value
        elif not outcome.ok:  # written but not readable back: say so, list no losses
            back[path] = None
            report.failures.append(named(f"cannot be read back: {outcome.error}", path))
    for out, written, sources in assembled:
        counts = back.get(out) if back.get(out) else None
        position = 0
        for source, place in sources.items():
            lost = Counter(place.counts)
            if counts is not None:
                held = sum(counts[position : position + len(place.parts)], Counter())
                lost.subtract(held)
            position += len(place.parts)
            notes = list(place.notes)
            report.outputs.append(
                Converted(
                    str(source),
                    tuple(written),
                    Counter() if counts is None else lost,
                    tuple(notes),
                    failed_units=place.failed,
                    units=place.count,
                )
            )


def _jobs(files: list[InputFile], out_dir: Path, extension: str, report) -> list[tuple[Path, Path]]:
    jobs: list[tuple[Path, Path]] = []
    taken: set[Path] = set()
    for file in files:
        folder = out_dir / file.relative.parent
        stem = output_stem(file.path)
        out, n = folder / f"{stem}{extension}", 2
        while out.resolve() in taken:  # a.json and a.coco.json in one folder
            out, n = folder / f"{stem}-{n}{extension}", n + 1
        if out.resolve() == file.path.resolve():
            report.failures.append(
                f"{file.path}: the output would replace the input; choose another --out"
            )
            continue
        taken.add(out.resolve())
        jobs.append((file.path, out))
    return jobs
