"""Any readable input to any writable format, per file; or many inputs into one COCO file.

What the target cannot hold is found by reading each written file back with
the target's own reader and counting what came through (instances, answers,
objects of other tools), so the list holds for every registered format.
"""

from __future__ import annotations

import shutil
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_segtool.batch import engine
from napari_segtool.batch.inputs import InputFile, Unit, expand_inputs, named, scan
from napari_segtool.batch.measure import image_name_of
from napari_segtool.formats import coco, coco_files, registry
from napari_segtool.formats.result import ReadResult, collected_notes
from napari_segtool.formats.toolkit.atomic import atomic_path
from napari_segtool.model.answers import walk_answers
from napari_segtool.model.label_store import label_store
from napari_segtool.model.ontology import Ontology

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
    """A picklable task: read one file, write it in the target format, read it back."""

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
            _convert_merged(files, out_dir, merged_name, session, report)
            return report
        jobs = _jobs(files, out_dir, entry.extensions[0], report)
        for outcome in session.run(_ConvertFile(target), jobs, "Converting"):
            if outcome.ok:
                report.outputs.append(outcome.value)
            else:
                report.failures.append(named(outcome.error, outcome.item[0]))
    return report


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


# -- merging into one COCO file ----------------------------------------------------------
class _CocoFragment:
    """A picklable task: one data row / image as the COCO entries it contributes."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir

    def __call__(self, unit: Unit) -> list[dict[str, Any]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = unit.read()
            folder = self.out_dir.resolve()
            fragments = []
            for item in result.labels:
                image = next((i for i in result.images if i.name == image_name_of(item)), None)
                if image is None and len(result.images) == 1 == len(result.labels):
                    image = result.images[0]
                file_name, image_file, copy_to = coco_files.planned_image(item, image, folder)
                notes: list[str] = []
                with collected_notes(coco.CocoWarning, notes):
                    entry = coco.CocoImageInput(item.data, item.document, file_name)
                    built = coco.build_coco([entry])
                counts = content_counts(ReadResult((item,)))
                fragments.append(
                    {
                        "image": built["images"][0],
                        "annotations": built["annotations"],
                        "categories": built["categories"],
                        "ontology": built[coco.ONTOLOGY_KEY],
                        "file": item.document.source.get(coco.FILE_SOURCE),
                        "image_file": str(image_file) if copy_to is not None else None,
                        "counts": counts,
                        "notes": [*result.notes, *notes],
                    }
                )
            if fragments:
                fragments[0]["counts"]["objects of other tools"] += sum(
                    len(s.coords) for s in result.shapes
                )
        return fragments


def _convert_merged(files, out_dir: Path, merged_name: str, session, report: ConvertReport):
    out = out_dir / f"{merged_name}{registry.get(MERGE_FORMAT).extensions[0]}"
    units: list[Unit] = []
    for outcome in session.run(scan, [f.path for f in files], "Scanning"):
        if outcome.ok:
            units.extend(outcome.value)
        else:
            report.failures.append(named(outcome.error, outcome.item))
    fragments: list[tuple[str, dict[str, Any]]] = []
    for outcome in session.run(_CocoFragment(out_dir), units, "Converting"):
        if outcome.ok:
            fragments += [(str(outcome.item.path), f) for f in outcome.value]
        else:
            report.failures.append(named(outcome.error, outcome.item.path))
    if not fragments:
        report.failures.append(f"{out}: nothing to write")
        return
    try:
        merged, copies, kept = merge_fragments([f for _, f in fragments])
    except coco.CocoError as err:
        report.failures.append(f"{out}: {err}")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out]
    for source, name in copies.items():
        target = out_dir / name
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        written.append(target)
    coco.write_coco_json(out, merged)
    for (source, fragment), kept_count in zip(fragments, kept, strict=True):
        lost = Counter(fragment["counts"])
        lost.subtract(_fragment_counts(fragment, kept_count))
        lost["label images"] = 0
        report.outputs.append(
            Converted(source, tuple(map(str, written)), lost, tuple(fragment["notes"]))
        )


def merge_fragments(
    fragments: Sequence[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, str], list[int]]:
    """One COCO dict from per-image fragments: ids renumbered, categories and ontologies
    merged by ``featureSchemaId``, image names made unique.

    Returns the dict, the image files to copy (source path -> name beside the JSON)
    and per fragment the number of annotations it kept.
    """
    ontology = coco.merge_ontologies([Ontology.from_dict(f["ontology"]) for f in fragments])
    merged = coco.build_coco([])
    category_of = {cls_.feature_schema_id: n for n, cls_ in enumerate(ontology.classes, 1)}
    merged["categories"] = [
        {
            "id": n,
            "name": cls_.name,
            "supercategory": coco.SUPERCATEGORY,
            "featureSchemaId": cls_.feature_schema_id,
            "color": cls_.color,
        }
        for n, cls_ in enumerate(ontology.classes, 1)
    ]
    merged[coco.ONTOLOGY_KEY] = ontology.to_dict()
    # info, licenses and other top-level keys of the files read: first wins, licenses united
    merged.update(coco.merge_file_keys([f.get("file") for f in fragments]))
    used: set[str] = set()
    copies: dict[str, str] = {}
    kept: list[int] = []
    for image_id, fragment in enumerate(fragments, 1):
        image = dict(fragment["image"], id=image_id)
        source = fragment["image_file"]
        if source is not None and source in copies:
            image["file_name"] = copies[source]
        else:
            image["file_name"] = coco_files.unique_file_name(image["file_name"], used)
            used.add(image["file_name"].casefold())
            if source is not None:
                copies[source] = image["file_name"]
        merged["images"].append(image)
        schema_of = {c["id"]: c["featureSchemaId"] for c in fragment["categories"]}
        for annotation in fragment["annotations"]:
            merged["annotations"].append(
                dict(
                    annotation,
                    id=len(merged["annotations"]) + 1,
                    image_id=image_id,
                    category_id=category_of[schema_of[annotation["category_id"]]],
                )
            )
        kept.append(len(fragment["annotations"]))
    return merged, copies, kept


def _fragment_counts(fragment: dict[str, Any], annotations: int) -> Counter[str]:
    """What the merged file holds of a fragment: COCO keeps masks and answers, no other tools."""
    counts = Counter(fragment["counts"])
    counts["instances"] = annotations
    counts["objects of other tools"] = 0
    return counts
