"""Labelbox v1 export ("Label format") with one PNG mask per instance: read and write.

Pure (numpy, Pillow, scipy; no Qt, no napari). The napari hooks in
``napari_segtool._napari.io_labelbox`` translate layers to and from these functions.

**Layout on disk.** ``write_export("dir/name.json", ...)`` writes

* ``dir/name.json``: a JSON list, one data row per label image;
* ``dir/name_masks/<featureId>.<digest>.png``: one mask per instance, the
  image's size (RGBA by default: object white and opaque, background black and
  transparent; 8-bit grey on request). ``<digest>`` is the start of the
  SHA-256 of the PNG bytes, so a file name always stands for one content (a
  featureId unfit for a file name is replaced by a hash of it);
* ``dir/name.ontology.json``: the ontology (optional, on by default), so
  reading it back regroups nested answers exactly.

**The v1 shape.** Objects carry ``featureId`` (the instance's, stable across
saves), ``schemaId``, ``title``, ``value``, ``color``, ``instanceURI``
(relative to the JSON unless a ``mask_base_url`` is given) and
``classifications``: radio ``answer`` object, checklist ``answers`` list, text
``answer`` string, dropdown written radio-shaped (the SDK rejects the legacy
list shape). Nested answers are flattened beside their parent, as v1 does;
classification ``featureId`` values are derived from the instance's featureId
and the question, so they too are stable across saves. Image-level answers go in
``Label.classifications``.

``Labeled Data`` is the image's URL, else its path (relative to the JSON when
the image lies in the JSON's folder or below it). **The Labelbox SDK accepts
only URLs there** (``http(s)://``, ``gs://``, ``s3://``): pass
``image_base_url`` to write ``<image_base_url>/<image file name>`` for files
that are to be uploaded to Labelbox or read by the SDK.

``Seconds to Label`` is the annotating time: the document's
``source["seconds_to_label"]`` plus what the caller passes as
``seconds_to_label`` (the active time since the last save); the new total is
returned in :attr:`ExportResult.sources` for the caller to keep.

**Crash-safe: the JSON is the commit point.** At every instant the masks
named by ``name.json`` are in the mask folder with the bytes they had when
that JSON was written, whatever kills the process (SIGKILL, power loss). A
save

1. puts each new mask into ``name_masks/`` under its content-named file (temp
   file, fsync, rename; a file of that name already holds those bytes and is
   kept), so the files the old JSON names are never touched, then fsyncs the
   folder;
2. replaces the ontology file atomically;
3. replaces the JSON atomically (temp file, fsync, ``os.replace``, fsync of
   the folder): the commit;
4. deletes the PNGs in the mask folder that the new JSON does not name (masks
   of deleted or redrawn instances, and leftovers of interrupted saves).

An exception before the commit removes the files this save created and puts
the old ontology back: the earlier export is unchanged. A kill before the
commit leaves the old export readable as it was, plus unnamed PNGs in the mask
folder that the next save deletes. A kill between steps 2 and 3 leaves the
*new* ontology beside the *old* JSON. That is harmless: the reader never
trusts the ontology file blindly. It finds classes by schemaId (then title),
adds what the JSON uses and the ontology lacks (with a warning), and checks
every answer against its question, so the old JSON's pixels, instances and
featureIds read back unchanged; at worst a class shows the newer name or
colour, or an answer whose question changed type is reported as an error
naming the file (never misread). Saving again makes the pair consistent.
Two saves to the same export at the same time are not supported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import urllib.parse
import urllib.request
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from napari_segtool.formats.masks import (
    MaskError,
    MaskPngEncoder,
    SparseMask,
    decode_mask_png,
    iter_instance_crops,
)
from napari_segtool.formats.polygons import labelbox_polygons
from napari_segtool.formats.result import (
    ImageItem,
    Item,
    LabelsItem,
    ReadResult,
    ShapesItem,
    WriteResult,
    collected_notes,
)
from napari_segtool.formats.toolkit import atomic
from napari_segtool.formats.toolkit.images import (
    ImageBombError,
    ImageError,
    decode_image,
    pixel_limit,
)
from napari_segtool.formats.toolkit.names import find_named
from napari_segtool.formats.toolkit.values import class_colour, kind_of, shown_text
from napari_segtool.model.answers import Answers, build_answers, walk_answers
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ids import new_cuid
from napari_segtool.model.label_store import label_store
from napari_segtool.model.ontology import (
    CHOICE_TYPES,
    DEFAULT_TOOL,
    ObjectClass,
    Ontology,
    OntologyError,
    Option,
    Question,
    slugify,
    walk_questions,
)

T = TypeVar("T")
#: ``progress(iterable, total, description)`` -> the same items (napari's bar, tqdm, ...)
Progress = Callable[[Iterable[T], int, str], Iterable[T]]

URL_SCHEMES = ("http://", "https://", "gs://", "s3://")
#: how instance outlines go into an export: not at all, beside the masks, or instead of them
POLYGON_MODES = ("none", "alongside", "instead")
DOWNLOAD_SCHEMES = ("http://", "https://")
#: the geometry key of each non-mask v1 object, and what it becomes here
OTHER_TOOLS = {"bbox": "rectangle", "polygon": "polygon", "line": "path", "point": "point"}
_LABELBOX_TOOL = {"bbox": "rectangle", "polygon": "polygon", "line": "line", "point": "point"}
#: data-row keys this module models; every other key is kept in ``source["v1_extra"]``
_MODELLED_KEYS = (
    "ID",
    "DataRow ID",
    "Labeled Data",
    "External ID",
    "Created By",
    "Project Name",
    "Dataset Name",
    "Created At",
    "Updated At",
    "Seconds to Label",
    "Label",
)
#: the other keys of a real export, with the values Labelbox gives a fresh label
_DEFAULT_EXTRA = {
    "Agreement": -1,
    "Benchmark Agreement": -1,
    "Benchmark ID": None,
    "Reviews": [],
    "View Label": "",
    "Has Open Issues": 0,
    "Skipped": False,
}
_SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
_SNIFF_BYTES = 65536
#: suffix of a file staged beside its target during a save (swept after a killed one)
_STAGED = ".saving"
#: a staged mask ends in .png too, so a killed save never blocks the next (see _check_old_mask_dir)
_STAGED_MASK = ".saving.png"
_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
#: a real mask, even full of noise, compresses far below this (masks are 1 bit of information)
_MAX_MASK_BYTES = _MAX_DOWNLOAD_BYTES


class LabelboxFormatError(ValueError):
    """A v1 export that cannot be read or written; the message names the file."""


class LabelboxFormatWarning(UserWarning):
    """Something in an export was skipped, changed or is incomplete."""


def _warn(message: str) -> None:
    warnings.warn(message, LabelboxFormatWarning, stacklevel=3)


def _no_progress(items: Iterable[T], total: int, description: str) -> Iterable[T]:
    return items


@contextlib.contextmanager
def _progress_bar(progress: Progress, total: int, description: str) -> Iterator[Callable]:
    """A ``tick()`` that advances the bar; the bar is closed however the block ends."""
    steps = iter(progress(range(total + 1), total, description))
    # a progress iterator counts an item when asked for the next one: ask once now,
    # then once per finished step
    next(steps, None)

    def tick() -> None:
        next(steps, None)

    try:
        yield tick
    finally:
        close = getattr(steps, "close", None)  # a generator (tqdm's) closes its bar on close()
        if close is not None:
            close()


# ==============================================================================
# paths
# ==============================================================================
def mask_dir_for(json_path: str | Path) -> Path:
    """``dir/name.json`` -> ``dir/name_masks``."""
    json_path = Path(json_path)
    return json_path.with_name(f"{json_path.stem}_masks")


def ontology_path_for(json_path: str | Path) -> Path:
    """``dir/name.json`` -> ``dir/name.ontology.json`` (what the writer writes)."""
    json_path = Path(json_path)
    return json_path.with_name(f"{json_path.stem}.ontology.json")


def ontology_candidates(json_path: str | Path) -> list[Path]:
    """Ontology files the reader tries beside an export, in order.

    ``<name>.ontology.json``, then ``ontology.json``, then the only file in the
    folder whose name matches ``*ontology*.json`` (such as
    ``ontology.fish.json``), if there is exactly one.
    """
    json_path = Path(json_path)
    named = [ontology_path_for(json_path), json_path.with_name("ontology.json")]
    found = [p for p in named if p.is_file()]
    if found:
        return found
    others = sorted(
        p
        for p in json_path.parent.glob("*ontology*.json")
        if p.is_file() and p.resolve() != json_path.resolve()
    )
    return others if len(others) == 1 else []


# ==============================================================================
# writing
# ==============================================================================
@dataclass
class ExportResult:
    json_path: Path
    mask_dir: Path
    ontology_path: Path | None
    #: every file and folder written (JSON, mask folder, ontology)
    written: list[Path]
    #: number of masks the export names (files left unchanged since the last save count too)
    mask_count: int
    #: per data row: label ids of instances with no pixels (not exported)
    skipped_empty: list[list[int]]
    #: per data row: ``(label_id or None for the image, question path)`` still unanswered
    unanswered: list[list[tuple[int | None, str]]]
    #: per data row: the document's ``source`` as written (ids, times, paths): keep it
    sources: list[dict[str, Any]]


def write_export(
    path: str | Path,
    rows: Sequence[tuple[np.ndarray, Document]],
    *,
    mask_mode: str = "RGBA",
    compress_level: int = 6,
    mask_base_url: str | None = None,
    image_base_url: str | None = None,
    write_ontology: bool = True,
    seconds_to_label: float | Sequence[float] = 0.0,
    polygons: str = "none",
    polygon_tolerance: float = 0.0,
    progress: Progress | None = None,
) -> ExportResult:
    """Write label images and their documents as a v1 export (see the module doc).

    ``polygons`` adds each instance's outline as Labelbox polygon-tool objects
    (``polygon: [{x, y}, ...]``, one per connected component, holes not
    represented): ``"none"`` (masks only), ``"alongside"`` (masks and
    polygons) or ``"instead"`` (polygons only, no mask files).

    ``rows`` holds one ``(labels, document)`` per data row (a 2-D integer label
    image). ``mask_base_url`` makes ``instanceURI`` absolute
    (``<mask_base_url>/<name>_masks/<file>``); ``image_base_url`` does the same
    for ``Labeled Data``. ``seconds_to_label`` (one number, or one per row) is
    added to each row's recorded annotating time. Warns
    (:class:`LabelboxFormatWarning`) about unanswered required questions.
    """
    progress = progress or _no_progress
    json_path = Path(path)
    if polygons not in POLYGON_MODES:
        raise ValueError(f"polygons must be one of {POLYGON_MODES}, not {polygons!r}")
    if not rows:
        raise LabelboxFormatError(f"{json_path}: nothing to write (no label images)")
    mask_dir = mask_dir_for(json_path)
    ontology_path = ontology_path_for(json_path) if write_ontology else None
    if isinstance(seconds_to_label, int | float):
        seconds_to_label = [float(seconds_to_label)] * len(rows)
    if len(seconds_to_label) != len(rows):
        raise ValueError("give one seconds_to_label per data row")
    _check_rows(json_path, rows)
    _check_old_mask_dir(mask_dir)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    now = _timestamp()

    masks = _MaskFiles(mask_dir)
    ontology_swap = _OntologySwap(ontology_path)
    try:
        export: list[dict[str, Any]] = []
        result = ExportResult(json_path, mask_dir, ontology_path, [], 0, [], [], [])
        for (labels, document), seconds in zip(rows, seconds_to_label, strict=True):
            row, written_ids, empty = _write_row(
                json_path,
                labels,
                document,
                masks,
                mask_mode=mask_mode,
                compress_level=compress_level,
                mask_base_url=mask_base_url,
                image_base_url=image_base_url,
                seconds=seconds,
                now=now,
                progress=progress,
                polygons=polygons,
                polygon_tolerance=polygon_tolerance,
            )
            export.append(row)
            result.mask_count += 0 if polygons == "instead" else len(written_ids)
            result.skipped_empty.append(empty)
            result.unanswered.append(document.unanswered_report(written_ids))
            result.sources.append(_source_after_write(document, row, json_path))
        _warn_unanswered(json_path, rows, result.unanswered)
        masks.sync()
        if ontology_path is not None:
            ontologies = {json.dumps(d.ontology.to_dict(), sort_keys=True) for _, d in rows}
            if len(ontologies) > 1:
                _warn(f"{json_path}: the data rows use different ontologies; wrote the first")
            ontology_swap.replace((rows[0][1].ontology.to_json() + "\n").encode("utf-8"))
        text = json.dumps(export, indent=2, ensure_ascii=False) + "\n"
        staged_json = atomic.write_temporary(json_path, text.encode("utf-8"), _STAGED)
        try:
            _commit(staged_json, json_path)
        finally:
            staged_json.unlink(missing_ok=True)
    except BaseException:
        ontology_swap.undo()
        masks.discard()
        raise
    # committed: the new JSON is in place and names only files that are on disk
    atomic.fsync_dir(json_path.parent)
    masks.prune()
    _remove_stale_temporaries(json_path, ontology_path)
    result.written = [json_path, mask_dir] + ([ontology_path] if ontology_path else [])
    return result


def write_items(
    path: str | Path,
    labels: Sequence[LabelsItem],
    images: Sequence[ImageItem] = (),
    **options,
) -> WriteResult:
    """:func:`write_export` for the registry: one data row per labels item.

    ``images`` are not written (``Labeled Data`` comes from each document);
    ``options`` are :func:`write_export`'s.
    """
    notes: list[str] = []
    with collected_notes(LabelboxFormatWarning, notes):
        result = write_export(path, [(item.data, item.document) for item in labels], **options)
    summary = f"Saved {result.mask_count} mask(s) to {result.json_path.name}"
    if any(result.unanswered):
        missing = sum(len(u) for u in result.unanswered)
        summary += f"; {missing} required question(s) unanswered"
    return WriteResult(
        written=tuple(result.written),
        sources=tuple(result.sources),
        summary=summary,
        notes=tuple(notes),
        details=result,
    )


def _check_rows(json_path: Path, rows) -> None:
    seen: dict[str, int] = {}
    for n, (labels, document) in enumerate(rows):
        if not isinstance(document, Document):
            raise LabelboxFormatError(f"{json_path}: row {n} has no segmentation document")
        shape = np.shape(labels)
        if len(shape) != 2:
            raise LabelboxFormatError(
                f"{json_path}: row {n}: only 2-D label images can be exported, not shape {shape}"
            )
        if not np.issubdtype(np.asarray(labels[:1, :1]).dtype, np.integer):
            raise LabelboxFormatError(f"{json_path}: row {n}: labels must be integers")
        for instance in document.instances.values():
            if instance.feature_id in seen:
                raise LabelboxFormatError(
                    f"{json_path}: featureId {instance.feature_id} is used twice (rows "
                    f"{seen[instance.feature_id]} and {n}); an export needs unique featureIds "
                    "(was a layer duplicated? save the layers one at a time)"
                )
            seen[instance.feature_id] = n


def _check_old_mask_dir(mask_dir: Path) -> None:
    """Only a folder of masks is written into (and pruned): refuse anything else."""
    if not (mask_dir.exists() or mask_dir.is_symlink()):
        return
    if not mask_dir.is_dir():
        raise LabelboxFormatError(f"{mask_dir}: exists and is not a mask folder; not replaced")
    # the writer's own temporaries end in .png too, so a killed save never blocks the next
    foreign = [p.name for p in mask_dir.iterdir() if not (p.is_file() and p.suffix == ".png")]
    if foreign:
        raise LabelboxFormatError(
            f"{mask_dir}: the mask folder also holds {', '.join(sorted(foreign)[:5])}; "
            "it must hold only this export's masks (saving deletes the ones it no longer "
            "names), so nothing was written (move them or choose another name)"
        )


def _write_row(
    json_path: Path,
    labels: np.ndarray,
    document: Document,
    masks: _MaskFiles,
    *,
    mask_mode,
    compress_level,
    mask_base_url,
    image_base_url,
    seconds,
    now,
    progress,
    polygons="none",
    polygon_tolerance=0.0,
) -> tuple[dict[str, Any], list[int], list[int]]:
    labels = np.asarray(labels)
    source = document.source
    label_uid = source.get("label_id") or new_cuid()
    encoder = MaskPngEncoder(labels.shape, mask_mode, compress_level)
    objects: list[dict[str, Any]] = []
    written_ids: list[int] = []
    empty: list[int] = []
    label_ids = sorted(document.instances)
    crops = iter_instance_crops(labels, label_ids)
    with _progress_bar(progress, len(label_ids), "Writing Labelbox masks") as tick:
        for label_id, mask in crops:
            tick()
            instance = document.instances[label_id]
            if mask is None or not mask.crop.any():
                empty.append(label_id)
                continue
            cls_ = document.ontology.class_by_id(instance.schema_id)
            if cls_ is None:
                raise LabelboxFormatError(
                    f"{json_path}: instance {label_id} has a class that is not in the ontology"
                )
            base = {
                "schemaId": cls_.feature_schema_id,
                "title": cls_.name,
                "value": cls_.value,
                "color": cls_.color,
            }
            if polygons != "instead":
                file_name = masks.put(instance.feature_id, encoder.encode(mask))
                relative = f"{masks.folder.name}/{file_name}"
                objects.append(
                    {
                        "featureId": instance.feature_id,
                        **base,
                        "instanceURI": _join_url(mask_base_url, relative)
                        if mask_base_url
                        else relative,
                        "classifications": answers_to_v1(
                            cls_.questions, instance.answers, (instance.feature_id,)
                        ),
                    }
                )
            if polygons != "none":
                rings = labelbox_polygons(labels, label_id, mask.slices, polygon_tolerance)
                for n, ring in enumerate(rings):
                    feature_id = outline_feature_id(instance.feature_id, n)
                    objects.append(
                        {
                            "featureId": feature_id,
                            **base,
                            "polygon": ring,
                            "classifications": answers_to_v1(
                                cls_.questions, instance.answers, (feature_id,)
                            ),
                        }
                    )
            written_ids.append(label_id)
    written_outlines = {o["featureId"] for o in objects if "polygon" in o}
    objects.extend(
        o
        for o in source.get("other_objects") or []
        if not (isinstance(o, dict) and o.get("featureId") in written_outlines)
    )
    row: dict[str, Any] = {
        "ID": label_uid,
        "DataRow ID": source.get("data_row_id") or new_cuid(),
        "Labeled Data": labeled_data_for(source, json_path.parent, image_base_url),
        "External ID": _external_id(source),
        "Created By": source.get("created_by") or "",
        "Project Name": source.get("project_name") or "",
        "Dataset Name": source.get("dataset_name") or "",
        "Created At": source.get("created_at") or now,
        "Updated At": now,
        "Seconds to Label": round(_seconds(source.get("seconds_to_label")) + float(seconds), 3),
    }
    row.update(_DEFAULT_EXTRA)
    row.update(source.get("v1_extra") or {})
    row["Label"] = {
        "objects": objects,
        "classifications": answers_to_v1(
            document.ontology.questions, document.image_answers, (label_uid,)
        ),
    }
    return row, written_ids, empty


def _source_after_write(document: Document, row: dict[str, Any], json_path: Path) -> dict:
    source = dict(document.source)
    source.update(
        label_id=row["ID"],
        data_row_id=row["DataRow ID"],
        external_id=row["External ID"],
        created_at=row["Created At"],
        updated_at=row["Updated At"],
        seconds_to_label=row["Seconds to Label"],
        labeled_data=row["Labeled Data"],
        export_path=str(json_path),
    )
    return source


def _warn_unanswered(json_path: Path, rows, unanswered) -> None:
    lines = []
    for (_, document), missing in zip(rows, unanswered, strict=True):
        for label_id, question in missing:
            if label_id is None:
                lines.append(f"image: {question}")
            else:
                cls_ = document.class_of(label_id)
                lines.append(f"instance {label_id} ({cls_.name if cls_ else '?'}): {question}")
    if lines:
        shown = "; ".join(lines[:20]) + (f"; ... ({len(lines)} in all)" if len(lines) > 20 else "")
        _warn(f"{json_path.name}: unanswered required questions: {shown}")


class _MaskFiles:
    """The mask folder during one save: new files go in beside the old ones.

    A file's name stands for its content (see :func:`mask_file_name`), so
    nothing the current JSON names is ever overwritten or deleted before the
    new JSON is in place.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.made_folder = not folder.exists()
        folder.mkdir(exist_ok=True)
        #: files of this save that did not exist before it (removed if it fails)
        self.created: list[Path] = []
        #: every file name the new JSON names
        self.named: set[str] = set()

    def put(self, feature_id: str, png: bytes) -> str:
        name = mask_file_name(feature_id, png)
        target = self.folder / name
        self.named.add(name)
        existed = target.exists()
        # same name, same content: the digest says so (the size catches a damaged file)
        if existed and target.is_file() and target.stat().st_size == len(png):
            return name
        atomic.atomic_write_bytes(target, png, _STAGED_MASK)
        if not existed:
            self.created.append(target)
        return name

    def sync(self) -> None:
        """Make the new files durable before any JSON can name them."""
        atomic.fsync_dir(self.folder)
        if self.made_folder:
            atomic.fsync_dir(self.folder.parent)

    def discard(self) -> None:
        """The save failed before its commit: remove what it added."""
        for path in self.created:
            path.unlink(missing_ok=True)
        if self.made_folder:
            with contextlib.suppress(OSError):
                self.folder.rmdir()

    def prune(self) -> None:
        """After the commit: delete the PNGs the new JSON does not name."""
        for path in self.folder.iterdir():
            if path.suffix == ".png" and path.name not in self.named and not path.is_dir():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


class _OntologySwap:
    """Replaces the ontology file before the commit; puts the old one back if it fails."""

    def __init__(self, path: Path | None):
        self.path = path
        self.old: bytes | None = None
        self.replaced = False

    def replace(self, data: bytes) -> None:
        if self.path is None:
            return
        self.old = self.path.read_bytes() if self.path.exists() else None
        if data == self.old:
            return
        self.replaced = True
        atomic.atomic_write_bytes(self.path, data, _STAGED)

    def undo(self) -> None:
        if not self.replaced:
            return
        if self.old is None:
            self.path.unlink(missing_ok=True)
            return
        atomic.atomic_write_bytes(self.path, self.old, _STAGED)


def _commit(staged_json: Path, json_path: Path) -> None:
    """The commit point of a save: the new JSON replaces the old one in one step."""
    os.replace(staged_json, json_path)


def _remove_stale_temporaries(json_path: Path, ontology_path: Path | None) -> None:
    """Temporary JSON / ontology files left beside the export by a killed save."""
    for target in (json_path, ontology_path):
        if target is None:
            continue
        pattern = re.compile(rf"\.{re.escape(target.name)}\.[A-Za-z0-9_]+{re.escape(_STAGED)}")
        for path in target.parent.iterdir():
            if pattern.fullmatch(path.name) and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def mask_file_name(feature_id: str, png: bytes) -> str:
    """``<featureId>.<digest>.png``: the digest is the start of the PNG's SHA-256.

    A featureId unfit for a file name is replaced by a hash of it.
    """
    digest = hashlib.sha256(png).hexdigest()[:10]
    if _SAFE_FILE_NAME.match(feature_id):
        return f"{feature_id}.{digest}.png"
    return f"m{hashlib.sha256(feature_id.encode()).hexdigest()[:24]}.{digest}.png"


def labeled_data_for(source: dict[str, Any], export_dir: Path, image_base_url: str | None) -> str:
    """``Labeled Data``: base URL + file name, a kept URL, or the image's path."""
    image_path = source.get("image_path")
    kept = source.get("labeled_data")
    if image_base_url:
        name = Path(image_path).name if image_path else _external_id(source)
        return _join_url(image_base_url, name)
    if isinstance(kept, str) and kept.startswith(URL_SCHEMES):
        return kept
    if image_path:
        image = Path(image_path).absolute()
        try:
            return image.relative_to(export_dir.absolute()).as_posix()
        except ValueError:
            return image.as_posix()
    return kept if isinstance(kept, str) else ""


def _external_id(source: dict[str, Any]) -> str:
    if source.get("external_id"):
        return str(source["external_id"])
    if source.get("image_path"):
        return Path(source["image_path"]).name
    return str(source.get("image_name") or "")


def _join_url(base: str, relative: str) -> str:
    return base.rstrip("/") + "/" + urllib.parse.quote(relative)


def _seconds(value: Any) -> float:
    try:
        seconds = float(value or 0.0)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer past 1e308
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def _timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _without_mask_outlines(others: list, mask_objects: list[dict]) -> list:
    """Drop polygon objects that are outlines this writer derived from masks in the row.

    They repeat the masks (and are rewritten from them on the next save), so
    they become no Shapes and are not carried along as separate objects.
    """
    polygons = [o for o in others if isinstance(o, dict) and "polygon" in o]
    if not polygons:
        return others
    outline_ids = {
        outline_feature_id(obj["featureId"], n)
        for obj in mask_objects
        if isinstance(obj.get("featureId"), str)
        for n in range(len(polygons))
    }
    return [o for o in others if not (isinstance(o, dict) and o.get("featureId") in outline_ids)]


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


# ==============================================================================
# reading
# ==============================================================================
@dataclass
class OtherObject:
    """A non-mask object (bbox, polygon, line, point); coordinates are (row, column)."""

    kind: str  # "rectangle", "polygon", "path" or "point"
    coords: np.ndarray
    title: str
    schema_id: str
    feature_id: str
    color: str


@dataclass
class DataRow:
    """One data row read from an export."""

    name: str
    labels: np.ndarray
    document: Document
    image: np.ndarray | None = None
    image_path: Path | None = None
    other_objects: list[OtherObject] = field(default_factory=list)


def is_v1_export(path: str | Path) -> bool:
    """A cheap sniff: a ``.json`` file whose text starts a list of v1 data rows.

    Looks at the first 64 KiB only: ``[`` first, and ``"Labeled Data"`` or
    ``"DataRow ID"`` (or a ``"Label"`` holding ``"objects"``) in it. A damaged
    file that passes gets a clear error from :func:`read_export`, instead of
    going to another reader.
    """
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES).decode("utf-8", errors="ignore")
    except OSError:
        return False
    head = head.lstrip("\ufeff \t\r\n")
    if not head.startswith("["):
        return False
    if '"Labeled Data"' in head or '"DataRow ID"' in head:
        return True
    return '"Label"' in head and '"objects"' in head


def read_export(
    path: str | Path,
    *,
    ontology: Ontology | None = None,
    allow_download: bool = False,
    max_pixels: int | None = -1,
    progress: Progress | None = None,
) -> list[DataRow]:
    """Read a v1 export: one :class:`DataRow` per data row with a known image size.

    The ontology is ``ontology`` if given, else the first of
    :func:`ontology_candidates`, else rebuilt from the objects (titles,
    schemaIds, colours) and the answers (titles, values); classes, questions and
    options the export uses but the ontology lacks are added (with a warning).
    Nested answers are regrouped under the option they hang from.

    ``instanceURI`` must be a file in the export's folder or below (``..``,
    outside absolute paths and symlinks leading out are refused); ``http(s)``
    URIs and images are downloaded only with ``allow_download=True``.
    ``max_pixels`` bounds image and mask sizes (default: Pillow's
    decompression-bomb limit). Raises :class:`LabelboxFormatError` naming the
    file and the problem; nothing is returned then.
    """
    json_path = Path(path)
    progress = progress or _no_progress
    reader = _Reader(json_path, allow_download, max_pixels, progress)
    return reader.read(ontology)


def read_result(path: str | Path, **options) -> ReadResult:
    """:func:`read_export` (same options) as the result every reader returns: per data
    row its image (when it was found), its labels and document, its objects of other tools."""
    notes: list[str] = []
    with collected_notes(LabelboxFormatWarning, notes):
        rows = read_export(path, **options)
    return ReadResult(tuple(item for row in rows for item in row_items(row)), tuple(notes))


def row_items(row: DataRow) -> list[Item]:
    """One data row as result items: image, labels, shapes, points (those it has)."""
    items: list[Item] = []
    if row.image is not None:
        items.append(ImageItem(row.image, row.name, row.image_path))
    items.append(LabelsItem(row.labels, row.document, f"{row.name} segmentation"))
    shapes = [o for o in row.other_objects if o.kind != "point"]
    points = [o for o in row.other_objects if o.kind == "point"]
    for kind, objects in (("shapes", shapes), ("points", points)):
        if objects:
            items.append(
                ShapesItem(
                    kind=kind,
                    name=f"{row.name} {kind}",
                    coords=[o.coords for o in objects],
                    shape_types=[o.kind for o in objects],
                    colors=[o.color for o in objects],
                    features={
                        "class": [o.title for o in objects],
                        "featureId": [o.feature_id for o in objects],
                        "schemaId": [o.schema_id for o in objects],
                    },
                )
            )
    return items


class _Reader:
    def __init__(self, json_path: Path, allow_download: bool, max_pixels, progress):
        self.json_path = json_path
        self.folder = json_path.absolute().parent
        self.allow_download = allow_download
        self.limit = pixel_limit(max_pixels)
        self.progress = progress
        #: featureIds of the instances read so far, in every row
        self.feature_ids: set[str] = set()

    def fail(self, problem: str) -> LabelboxFormatError:
        return LabelboxFormatError(f"{self.json_path}: {problem}")

    # -- top level ---------------------------------------------------------------
    def read(self, ontology: Ontology | None) -> list[DataRow]:
        rows = self._load_json()
        builder = _OntologyBuilder(self._base_ontology(ontology), self.json_path)
        for n, row in enumerate(rows):  # classes in export order, before any answers
            for obj in _objects(row):
                if "instanceURI" in obj or any(key in obj for key in OTHER_TOOLS):
                    builder.class_for(obj, f"row {n}")
        total = sum(1 for row in rows for obj in _objects(row) if "instanceURI" in obj)
        results = []
        with _progress_bar(self.progress, total, "Reading Labelbox masks") as self._tick:
            for n, row in enumerate(rows):
                result = self._read_row(n, row, builder)
                if result is not None:
                    results.append(result)
        if builder.added and not builder.ontology_given:
            _warn(
                f"{self.json_path.name}: no ontology file beside it (tried "
                f"{ontology_path_for(self.json_path).name}, ontology.json, *ontology*.json): "
                "rebuilt the ontology from the objects; sub-questions cannot be told from "
                "questions there, so they are read as questions of their own"
            )
        elif builder.added:
            _warn(
                f"{self.json_path.name}: the ontology lacked {builder.describe_added()} used in "
                "the export; they were added"
            )
        if not results:
            raise self.fail("no data row could be opened (no image size known for any row)")
        final = builder.ontology
        try:
            final.validate()
        except OntologyError as err:
            raise self.fail(f"the ontology rebuilt from the export is not valid ({err})") from None
        for result in results:  # each row gets its own copy to edit
            result.document.set_ontology(Ontology.from_dict(final.to_dict()))
        return results

    def _load_json(self) -> list[dict[str, Any]]:
        try:
            text = self.json_path.read_text(encoding="utf-8-sig")
        except OSError as err:
            raise self.fail(f"cannot read the file ({err.strerror or err})") from None
        except UnicodeDecodeError as err:
            raise self.fail(f"not UTF-8 text ({err.reason})") from None
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            raise self.fail(
                f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
            ) from None
        except RecursionError:
            raise self.fail("not valid JSON (nested too deeply)") from None
        except ValueError as err:  # e.g. an integer of more than 4300 digits
            raise self.fail(f"not valid JSON ({err})") from None
        if not isinstance(rows, list):
            raise self.fail(f"a v1 export is a JSON list of data rows, not {kind_of(rows)}")
        for n, row in enumerate(rows):
            if not isinstance(row, dict) or "Label" not in row:
                raise self.fail(f"row {n}: a data row is an object with a 'Label' key")
            label = row["Label"]
            if isinstance(label, dict):
                for key in ("objects", "classifications"):
                    if not isinstance(label.get(key, []), list):
                        raise self.fail(f"row {n}: Label.{key} must be a list")
                for m, obj in enumerate(label.get("objects", [])):
                    if not isinstance(obj, dict):
                        raise self.fail(f"row {n}: Label.objects[{m}] must be an object")
            elif label not in ("Skip", "", None):
                raise self.fail(f"row {n}: Label must be an object, not {kind_of(label)}")
        return rows

    def _base_ontology(self, ontology: Ontology | None) -> Ontology | None:
        if ontology is not None:
            return Ontology.from_dict(ontology.to_dict())
        for candidate in ontology_candidates(self.json_path):
            try:
                return Ontology.load(candidate)
            except OntologyError as err:
                raise LabelboxFormatError(
                    f"{self.json_path}: the ontology beside it is not usable: {err}"
                ) from None
        return None

    # -- one data row --------------------------------------------------------------
    def _read_row(self, n: int, row: dict[str, Any], builder: _OntologyBuilder) -> DataRow | None:
        where = f"row {n}"
        label = row["Label"] if isinstance(row["Label"], dict) else {}
        image_path, image = self._image(where, row.get("Labeled Data"))
        shape = image.shape[:2] if image is not None else None
        mask_objects = [o for o in label.get("objects", []) if "instanceURI" in o]
        other_raw = [o for o in label.get("objects", []) if "instanceURI" not in o]

        masks: list[tuple[dict[str, Any], SparseMask]] = []
        for obj in mask_objects:
            mask = self._mask(where, obj, shape)
            shape = mask.shape
            masks.append((obj, mask))
            self._tick()
        if shape is None:
            _warn(
                f"{self.json_path.name} {where}: skipped: its image is not a local file and it "
                "has no masks, so its size is unknown"
            )
            return None

        labels = np.zeros(shape, dtype=np.uint32)  # like a new segmentation layer
        instances: list[Instance] = []
        owners: dict[int, str] = {}
        overlaps: list[str] = []
        empty: list[str] = []
        for obj, mask in masks:
            label_id = len(instances) + 1
            cls_ = builder.class_for(obj, where)
            feature_id = obj.get("featureId")
            if not isinstance(feature_id, str) or not feature_id.strip():
                if feature_id not in (None, ""):
                    _warn(
                        f"{self.json_path.name} {where}: featureId {shown_text(feature_id)} is not "
                        "an id; the object got a new one"
                    )
                feature_id = new_cuid()
            elif feature_id in self.feature_ids:  # unique across the whole export
                _warn(
                    f"{self.json_path.name} {where}: featureId {shown_text(feature_id)} repeats; "
                    "the later object got a new one"
                )
                feature_id = new_cuid()
            self.feature_ids.add(feature_id)
            if mask.area == 0:
                empty.append(feature_id)
                continue
            region = labels[mask.slices]
            under = region[mask.crop]
            for other in label_store(under).ids():
                overlaps.append(f"{feature_id} over {owners[other]}")
            region[mask.crop] = label_id
            owners[label_id] = feature_id
            answers = builder.answers(
                cls_.questions, obj.get("classifications", []), f"{where} object {feature_id}"
            )
            instances.append(Instance(label_id, cls_.feature_schema_id, feature_id, answers))
        if overlaps:
            _warn(
                f"{self.json_path.name} {where}: overlapping masks, the later object wins: "
                + "; ".join(overlaps)
            )
        if empty:
            _warn(
                f"{self.json_path.name} {where}: {len(empty)} object(s) with an empty mask "
                f"skipped: {', '.join(empty)}"
            )
        other_raw = _without_mask_outlines(other_raw, [obj for obj, _ in masks])
        others = self._other_objects(where, other_raw, builder)
        image_answers = builder.answers(
            builder.ontology.questions, label.get("classifications", []), f"{where} image"
        )
        source = self._source(row, image_path)
        source["other_objects"] = other_raw
        document = Document(
            ontology=builder.ontology,
            instances=instances,
            image_answers=image_answers,
            source=source,
        )
        return DataRow(
            name=source["image_name"] or f"data row {n}",
            labels=labels,
            document=document,
            image=image,
            image_path=image_path,
            other_objects=others,
        )

    def _source(self, row: dict[str, Any], image_path: Path | None) -> dict[str, Any]:
        extra = {k: v for k, v in row.items() if k not in _MODELLED_KEYS}
        return {
            "image_path": str(image_path) if image_path else None,
            "image_name": _display_name(row.get("External ID"), image_path, None),
            "labeled_data": row.get("Labeled Data"),
            "external_id": row.get("External ID"),
            "data_row_id": row.get("DataRow ID"),
            "label_id": row.get("ID"),
            "project_name": row.get("Project Name"),
            "dataset_name": row.get("Dataset Name"),
            "created_by": row.get("Created By"),
            "created_at": row.get("Created At"),
            "updated_at": row.get("Updated At"),
            "seconds_to_label": _seconds(row.get("Seconds to Label")),
            "export_path": str(self.json_path.absolute()),
            "v1_extra": extra,
        }

    # -- files -----------------------------------------------------------------------
    def _image(self, where: str, labeled_data: Any) -> tuple[Path | None, np.ndarray | None]:
        if not isinstance(labeled_data, str) or not labeled_data:
            return None, None
        if labeled_data.startswith(DOWNLOAD_SCHEMES):
            if not self.allow_download:
                return None, None  # the segmentation opens without its image
            data = self._download(where, labeled_data)
            return None, self._decode_image(labeled_data, data)
        if _SCHEME.match(labeled_data) and not labeled_data.startswith("file://"):
            return None, None  # gs://, s3://, ...: not fetched
        try:
            path = self._local_path(labeled_data)
            found = path.is_file()
        except (OSError, ValueError):  # a name too long, a NUL byte, a lone surrogate
            found = False
        if not found:
            _warn(
                f"{self.json_path.name} {where}: the image {shown_text(labeled_data)} was not "
                "found; opened the segmentation without it"
            )
            return None, None
        try:
            data = path.read_bytes()
        except OSError as err:
            raise self.fail(f"{where}: cannot read the image {path} ({err.strerror})") from None
        return path, self._decode_image(str(path), data)

    def _decode_image(self, name: str, data: bytes) -> np.ndarray:
        try:
            return decode_image(data, max_pixels=self.limit)
        except ImageBombError as err:
            raise LabelboxFormatError(
                f"{self.json_path}: the image {name} is too large to be real, refused as a "
                f"possible decompression bomb ({err})"
            ) from None
        except ImageError as err:
            raise LabelboxFormatError(
                f"{self.json_path}: the image {shown_text(name, 300)} cannot be decoded ({err})"
            ) from None

    def _mask(self, where: str, obj: dict[str, Any], shape) -> SparseMask:
        uri = obj.get("instanceURI")
        what = f"{where} object {shown_text(obj.get('featureId', '?'))}"
        if not isinstance(uri, str) or not uri:
            raise self.fail(f"{what}: instanceURI must be a non-empty string")
        if uri.startswith(DOWNLOAD_SCHEMES):
            if not self.allow_download:
                raise self.fail(
                    f"{what}: the mask {uri} is a web address; masks are not downloaded "
                    "unless downloading is enabled (allow_download)"
                )
            data, name = self._download(what, uri), uri
        else:
            path = self._contained_path(what, uri)
            try:
                if not path.exists():
                    raise self.fail(f"{what}: the mask {path} is missing")
                if not path.is_file():  # a folder, or a FIFO that would block the read
                    raise self.fail(f"{what}: the mask {path} is not a regular file")
                if path.stat().st_size > _MAX_MASK_BYTES:
                    raise self.fail(
                        f"{what}: the mask {path} is larger than {_MAX_MASK_BYTES} bytes; "
                        "not a mask"
                    )
                data = path.read_bytes()
            except OSError as err:
                raise self.fail(f"{what}: cannot read the mask {path} ({err.strerror})") from None
            name = str(path)
        try:
            return decode_mask_png(data, shape, self.limit, name=name)
        except MaskError as err:
            raise self.fail(f"{what}: {err}") from None

    def _local_path(self, reference: str, unquoted: bool = False) -> Path:
        """The file a local reference names; may raise OSError / ValueError for odd names."""
        if reference.startswith("file://"):
            parsed = urllib.parse.urlparse(reference)
            return Path(urllib.request.url2pathname(parsed.path))
        path = Path(reference)
        path = path if path.is_absolute() else self.folder / path
        if not unquoted and "%" in reference and not path.exists():  # percent-encoded once
            return self._local_path(urllib.parse.unquote(reference), unquoted=True)
        return path

    def _contained_path(self, what: str, uri: str) -> Path:
        """The mask file for ``uri``; refused unless it lies in the export's folder."""
        if _SCHEME.match(uri) and not uri.startswith("file://"):
            raise self.fail(f"{what}: unsupported instanceURI scheme in {uri}")
        root = self.folder.resolve()
        try:
            resolved = self._local_path(uri).resolve()
        except (OSError, ValueError, RuntimeError) as err:  # long name, NUL, surrogate, loop
            raise self.fail(
                f"{what}: instanceURI {shown_text(uri)} is not a usable file name ({err})"
            ) from None
        if not resolved.is_relative_to(root):
            raise self.fail(
                f"{what}: instanceURI {uri} points outside the export's folder {root}; refused"
            )
        return resolved

    def _download(self, what: str, url: str) -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read(_MAX_DOWNLOAD_BYTES + 1)
        except OSError as err:
            raise self.fail(f"{what}: cannot download {url} ({err})") from None
        if len(data) > _MAX_DOWNLOAD_BYTES:
            raise self.fail(f"{what}: {url} is larger than {_MAX_DOWNLOAD_BYTES} bytes")
        return data

    # -- other tools -----------------------------------------------------------------
    def _other_objects(self, where, raw: list[dict[str, Any]], builder) -> list[OtherObject]:
        others: list[OtherObject] = []
        counts: Counter[str] = Counter()
        unknown = 0
        for obj in raw:
            key = next((k for k in OTHER_TOOLS if k in obj), None)
            coords = _geometry(key, obj.get(key)) if key else None
            if coords is None:
                unknown += 1
                continue
            cls_ = builder.class_for(obj, where)
            counts[key] += 1
            kind = OTHER_TOOLS[key]
            if key == "bbox":
                (top, left), (bottom, right) = coords
                coords = np.array([[top, left], [top, right], [bottom, right], [bottom, left]])
            others.append(
                OtherObject(
                    kind=kind,
                    coords=coords,
                    title=cls_.name,
                    schema_id=cls_.feature_schema_id,
                    feature_id=str(obj.get("featureId") or ""),
                    color=cls_.color,
                )
            )
        if counts:
            listed = ", ".join(f"{count} {key}" for key, count in sorted(counts.items()))
            _warn(
                f"{self.json_path.name} {where}: {sum(counts.values())} object(s) of other tools "
                f"({listed}) were read as shapes/points, not masks; they are written back "
                "unchanged on save"
            )
        if unknown:
            _warn(
                f"{self.json_path.name} {where}: {unknown} object(s) with neither a mask nor a "
                "known geometry were skipped (they are written back unchanged on save)"
            )
        return others


def _objects(row: dict[str, Any]) -> list[dict[str, Any]]:
    label = row.get("Label")
    return label.get("objects", []) if isinstance(label, dict) else []


#: fewest points a geometry needs to be drawn (a bbox and a point are checked by shape)
_MIN_POINTS = {"polygon": 3, "line": 2}


def _geometry(key: str, value: Any) -> np.ndarray | None:
    """v1 geometry as (row, column) coordinates; a bbox as its two corners.

    ``None`` for anything that is not finite numbers of the right shape.
    """
    try:
        if key == "bbox" and isinstance(value, dict):
            top, left = float(value["top"]), float(value["left"])
            coords = [[top, left], [top + float(value["height"]), left + float(value["width"])]]
        elif key == "point" and isinstance(value, dict):
            coords = [[float(value["y"]), float(value["x"])]]
        elif key in _MIN_POINTS and isinstance(value, list):
            coords = [[float(p["y"]), float(p["x"])] for p in value]
        else:
            return None
    except (KeyError, TypeError, ValueError, OverflowError):  # Overflow: an int past 1e308
        return None
    array = np.array(coords, dtype=float)
    if len(array) < _MIN_POINTS.get(key, 1) or not np.isfinite(array).all():
        return None
    return array


def _display_name(external_id: Any, image_path: Path | None, default: str | None) -> str | None:
    """A layer name: the External ID's file stem, else the image file's stem."""
    if isinstance(external_id, str) and external_id.strip():
        name = external_id.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[0] if "." in name[1:] else name
    return image_path.stem if image_path else default


# ==============================================================================
# ontology from the file beside the export, completed from the export itself
# ==============================================================================
class _OntologyBuilder:
    """Finds the class / question / option of v1 entries, adding what is missing."""

    def __init__(self, ontology: Ontology | None, json_path: Path):
        self.json_path = json_path
        #: False when there was no ontology to start from (rebuilt from the export)
        self.ontology_given = ontology is not None
        self.ontology = ontology if ontology is not None else Ontology()
        self.added: Counter[str] = Counter()
        self._ids = {c.feature_schema_id for c in self.ontology.classes} | {
            q.feature_schema_id for q in self.ontology.iter_questions()
        }
        for question in self.ontology.iter_questions():
            self._ids.update(o.feature_schema_id for o in question.options)

    def describe_added(self) -> str:
        return ", ".join(f"{n} {kind}(s)" for kind, n in sorted(self.added.items()))

    def _fresh_id(self, wanted: Any) -> str:
        if isinstance(wanted, str) and wanted and wanted not in self._ids:
            identifier = wanted
        else:
            identifier = new_cuid()
        self._ids.add(identifier)
        return identifier

    # -- classes -------------------------------------------------------------------
    def class_for(self, obj: dict[str, Any], where: str) -> ObjectClass:
        schema_id = obj.get("schemaId")
        title = obj.get("title") or obj.get("value")
        found = self.ontology.class_by_id(schema_id) if isinstance(schema_id, str) else None
        if found is None:
            found = find_named(self.ontology.classes, title)
        if found is not None:
            return found
        if not isinstance(title, str) or not title.strip():
            title = f"Class {len(self.ontology.classes) + 1}"
        key = next((k for k in OTHER_TOOLS if k in obj), None)
        colour = class_colour(obj.get("color"), len(self.ontology.classes))
        cls_ = ObjectClass(
            name=title,
            color=colour,
            tool=_LABELBOX_TOOL[key] if key and "instanceURI" not in obj else DEFAULT_TOOL,
            feature_schema_id=self._fresh_id(schema_id),
        )
        self.ontology.classes.append(cls_)
        self.added["class"] += 1
        return cls_

    # -- answers -------------------------------------------------------------------
    def answers(self, questions: list[Question], entries: Any, where: str) -> Answers:
        """Regroup flattened v1 classifications under the options they hang from."""
        flat = _flatten_entries(entries)
        by_question: dict[str, dict[str, Any]] = {}
        for entry in flat:
            question = self._question_for(questions, entry)
            if question is None:
                continue
            if question.feature_schema_id in by_question:
                _merge_entry(by_question[question.feature_schema_id], entry)
            else:
                by_question[question.feature_schema_id] = dict(entry)
        answers = self._collect(questions, by_question, where)
        if by_question:
            lost = sorted(
                str(e.get("title") or e.get("value") or e.get("schemaId"))
                for e in by_question.values()
            )
            _warn(
                f"{self.json_path.name} {where}: answers ignored because the option they "
                f"belong under is not chosen: {', '.join(lost)}"
            )
        return answers

    def _collect(self, questions, by_question, where) -> Answers:
        """Take the entry of each question that applies (the rest are left over)."""

        def choose(question: Question, _parents) -> Any:
            entry = by_question.pop(question.feature_schema_id, None)
            return None if entry is None else self._parse(question, entry, where)

        return build_answers(questions, choose)

    def _parse(self, question: Question, entry: dict[str, Any], where: str):
        if question.type == "text":
            answer = entry.get("answer")
            if answer is None or answer == "":
                return None
            if not isinstance(answer, str):
                raise LabelboxFormatError(
                    f"{self.json_path}: {where}: the text answer to {question.name!r} is "
                    f"{kind_of(answer)}, not a string"
                )
            return answer
        chosen = _choice_answers(entry)
        if chosen is None:
            raise LabelboxFormatError(
                f"{self.json_path}: {where}: the answer to {question.name!r} is not an option "
                "object or a list of them"
            )
        value: Answers = {}
        for answer in chosen:
            option = self._option_for(question, answer)
            if option is not None:
                value.setdefault(option.feature_schema_id, {})
            if question.type != "checklist" and value:
                break
        return value or None

    def _question_for(self, questions: list[Question], entry: dict[str, Any]) -> Question | None:
        schema_id = entry.get("schemaId")
        title = entry.get("title") or entry.get("value")
        every = list(walk_questions(questions))
        found = next((q for q in every if q.feature_schema_id == schema_id), None)
        if found is None:  # a title names a question, or is its value (a slug)
            found = find_named(every, title) or find_named(every, title, name_of=_value_of)
        if found is not None:
            return found
        if not isinstance(title, str) or not title.strip():
            return None
        if "answers" in entry:
            qtype = "checklist"
        elif isinstance(entry.get("answer"), str):
            qtype = "text"
        elif isinstance(entry.get("answer"), list):
            qtype = "dropdown"
        elif isinstance(entry.get("answer"), dict):
            qtype = "radio"
        else:
            return None
        question = Question(
            type=qtype, name=title, instructions=title, feature_schema_id=self._fresh_id(schema_id)
        )
        if qtype in CHOICE_TYPES:  # options come from the answers; an empty one is invalid
            for answer in _choice_answers(entry) or []:
                self._option_for(question, answer, count=False)
            if not question.options:
                return None
        questions.append(question)
        self.added["question"] += 1
        return question

    def _option_for(self, question: Question, answer: Any, count: bool = True) -> Option | None:
        if not isinstance(answer, dict):
            return None
        schema_id, value, title = answer.get("schemaId"), answer.get("value"), answer.get("title")
        found = question.option(schema_id) if isinstance(schema_id, str) else None
        for key in (value, title):
            if found is None and isinstance(key, str):
                found = question.option_by_value(key) or question.option_by_value(slugify(key))
        if found is not None:
            return found
        label = title if isinstance(title, str) and title.strip() else value
        if not isinstance(label, str) or not label.strip():
            return None
        option = Option(
            label=label,
            value=value if isinstance(value, str) and value else "",
            feature_schema_id=self._fresh_id(schema_id),
        )
        question.options.append(option)
        if count:
            self.added["option"] += 1
        return option


def _value_of(question: Question) -> str:
    return question.value


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
