"""Writing Labelbox's NDJSON annotation import (model-assisted labelling, ground truth).

One JSON object a line: one per segmentation instance and one per answered
image-level question of each label image. Pure (numpy, Pillow; no napari).

**An instance** ::

    {"uuid": "...", "dataRow": {"globalKey": "well A1.png"}, "name": "Cell",
     "schemaId": "c...", "classifications": [...], "mask": {"png": "<base64>"}}

* ``uuid`` is derived from the instance's featureId, so saving again gives
  the same uuid (Labelbox's import treats a uuid as the annotation's identity).
  A featureId that is itself a UUID (an import read back: its uuid became the
  featureId) is written as it is, so reopening and saving keeps the uuids.
* ``dataRow`` is ``{"id": ...}`` when the document knows the Labelbox data row
  id (``source["data_row_id"]``, set when the layer was read from a Labelbox
  export), else ``{"globalKey": ...}``: ``source["global_key"]``, else the
  image's external id or file name. Data rows uploaded with their file name as
  global key match without further work; ``data_row_key="global_key"`` always
  writes the global key.
* ``name`` is the class name (Labelbox matches it against the ontology's tool
  names); ``schemaId`` the class's ``featureSchemaId`` when it is a cuid. An
  ontology made here has ids Labelbox does not know: ``schema_ids=False``
  writes names only.
* ``classifications`` hold the answers, nested (see :mod:`.answers_out`).
* ``mask`` (``masks="png"``, the default): a base64 PNG of the image's size,
  8-bit grey, 1 on the instance and 0 elsewhere, self-contained. Each is
  encoded from the instance's bounding-box crop (the rows outside it are
  precompressed zero runs, see :mod:`napari_segtool.formats.masks`), so the
  cost is the instance's area, not the image's.
* ``mask`` (``masks="composite"``): ``{"instanceURI": ..., "colorRGB": [r, g, b]}``
  pointing at one RGB PNG per label image in ``<name>_masks/`` beside the
  file, each instance in its own colour (derived from its featureId, so it
  stays the same across saves; never black, which is background).
  ``instanceURI`` is relative to the file unless ``mask_base_url`` is given:
  Labelbox must be able to fetch it, so upload the folder and pass its URL.

**An image-level answer** ::

    {"uuid": "...", "dataRow": {...}, "name": "Stain", "schemaId": "c...",
     "answer": {"name": "gfp", "schemaId": "c..."}}

**An object of another tool** (a box, polygon, point or line read from a
Labelbox export, v2 or v1) is written in the import's shape (``bbox``,
``polygon``, ``point``, ``line``; see :mod:`.objects_out`), with the edits of
the Shapes / Points layers saved along, matched by featureId.

An image-level answer's uuid is derived from the document's label id
(``source["label_id"]``, made and returned in the sources when missing) and the
question, unless the document was read from an import: then the uuid its line
had (``source["import_answer_uuids"]``, by schema id or name).

**Safe to interrupt.** The NDJSON file is replaced in one step (temporary
file, fsync, rename). Composite PNGs are content-named and written before it,
the ones it no longer names deleted after it, as the v1 writer does: the file
on disk always names PNGs that are there.

Warns (:class:`NdjsonWriteWarning`) about unanswered required questions and
instances without pixels (left out).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_segtool.formats.labelbox_ndjson.answers_out import (
    answers_by_question,
    answers_to_import,
    feature_reference,
)
from napari_segtool.formats.labelbox_ndjson.objects_out import object_line, other_objects_of
from napari_segtool.formats.labelbox_v1.common import (
    LabelboxFormatError,
    LabelboxFormatWarning,
    Progress,
    _no_progress,
    _progress_bar,
    check_unique_feature_ids,
)
from napari_segtool.formats.labelbox_v1.data_rows import _external_id, _join_url
from napari_segtool.formats.labelbox_v1.other_tools import objects_after_layer_edits
from napari_segtool.formats.labelbox_v1.paths import mask_dir_for
from napari_segtool.formats.labelbox_v1.save_files import (
    _STAGED,
    _MaskFiles,
    _remove_stale_temporaries,
)
from napari_segtool.formats.labelbox_v1.writer import _check_old_mask_dir
from napari_segtool.formats.masks import (
    MaskPngEncoder,
    SparseMask,
    encode_colour_png,
    iter_instance_crops,
)
from napari_segtool.formats.planes import SOURCE_KEY as PLANE_SOURCE
from napari_segtool.formats.planes import (
    Plane,
    plane_flags,
    same_stack_key,
    split_items,
)
from napari_segtool.formats.result import (
    ImageItem,
    LabelsItem,
    ShapesItem,
    WriteResult,
    collected_notes,
)
from napari_segtool.formats.toolkit import atomic
from napari_segtool.formats.toolkit.flags import FLAGS_KEY
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ids import is_cuid, new_cuid
from napari_segtool.model.label_store import label_store

MASK_STYLES = ("png", "composite")
_OBJECT_KEYS = ("bbox", "polygon", "point", "line")
DATA_ROW_KEYS = ("auto", "global_key")
NDJSON_EXTENSIONS = (".ndjson", ".jsonl")
_SAFE_STEM = re.compile(r"[^A-Za-z0-9_-]+")


class NdjsonWriteError(LabelboxFormatError):
    """Layers that cannot be written as an NDJSON import; the message names the file."""


class NdjsonWriteWarning(LabelboxFormatWarning):
    """Something left out of an NDJSON import, or still incomplete."""


@dataclass
class NdjsonExport:
    """What :func:`write_ndjson` wrote."""

    path: Path
    #: the composite-mask folder (``masks="composite"``), else ``None``
    mask_dir: Path | None
    #: lines written: instances plus image-level answers
    line_count: int = 0
    #: instances written (one mask each)
    mask_count: int = 0
    #: objects of other tools written (boxes, polygons, points, lines)
    object_count: int = 0
    #: per label image: label ids of instances with no pixels (left out)
    skipped_empty: list[list[int]] = field(default_factory=list)
    #: per label image: ``(label_id or None for the image, question path)`` unanswered
    unanswered: list[list[tuple[int | None, str]]] = field(default_factory=list)
    #: per label image: the document's ``source`` after the write (keep it)
    sources: list[dict[str, Any]] = field(default_factory=list)
    #: every file and folder written, the NDJSON first
    written: list[Path] = field(default_factory=list)


def instance_uuid(feature_id: str) -> str:
    """The import uuid of an instance: its featureId when that is a UUID, else derived."""
    try:
        if str(uuid.UUID(feature_id)) == feature_id.lower():
            return feature_id.lower()
    except (ValueError, AttributeError, TypeError):
        pass
    return stable_uuid(feature_id)


def stable_uuid(*parts: str) -> str:
    """A UUID (version 4 layout) that is the same for the same ``parts``."""
    digest = hashlib.sha256("\x1f".join(("napari-segtool", *parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def data_row_for(source: dict[str, Any], data_row_key: str = "auto") -> dict[str, str]:
    """``{"id": ...}`` when the Labelbox data row id is known, else ``{"globalKey": ...}``."""
    if data_row_key not in DATA_ROW_KEYS:
        raise ValueError(f"data_row_key must be one of {DATA_ROW_KEYS}, not {data_row_key!r}")
    data_row_id = source.get("data_row_id")
    if data_row_key == "auto" and is_cuid(data_row_id) and not source.get("data_row_id_generated"):
        return {"id": data_row_id}
    global_key = source.get("global_key") or _external_id(source)
    return {"globalKey": str(global_key)} if global_key else {}


def composite_colour(feature_id: str, taken: set[tuple[int, int, int]]) -> tuple[int, int, int]:
    """An instance's colour in a composite mask: from its featureId, unique, never black."""
    salt = 0
    while True:
        digest = hashlib.sha256(f"{feature_id}\x1f{salt}".encode()).digest()
        colour = (digest[0], digest[1], digest[2])
        if colour != (0, 0, 0) and colour not in taken:
            taken.add(colour)
            return colour
        salt += 1


def write_ndjson(
    path: str | Path,
    rows: Sequence[tuple[np.ndarray, Document]],
    *,
    masks: str = "png",
    mask_base_url: str | None = None,
    schema_ids: bool = True,
    data_row_key: str = "auto",
    compress_level: int = 6,
    other_objects: Sequence[list[dict[str, Any]] | None] | None = None,
    progress: Progress | None = None,
) -> NdjsonExport:
    """Write label images and their documents as one NDJSON import (see the module doc).

    ``rows`` holds one ``(labels, document)`` per label image (2-D integers).
    ``other_objects`` (one list per row, v1-shaped, ``None`` for a row's own) replaces
    the objects of other tools the documents carry, e.g. with edits of their layers.
    Raises :class:`NdjsonWriteError` naming the file; nothing is written then.
    """
    path = Path(path)
    progress = progress or _no_progress
    if masks not in MASK_STYLES:
        raise ValueError(f"masks must be one of {MASK_STYLES}, not {masks!r}")
    if not rows:
        raise NdjsonWriteError(f"{path}: nothing to write (no label images)")
    _check_rows(path, rows, data_row_key)
    mask_dir = mask_dir_for(path) if masks == "composite" else None
    if mask_dir is not None:
        _check_old_mask_dir(mask_dir)
    result = NdjsonExport(path, mask_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    mask_files = _MaskFiles(mask_dir) if mask_dir is not None else None
    try:
        lines: list[str] = []
        others = list(other_objects) if other_objects is not None else [None] * len(rows)
        for (labels, document), row_others in zip(rows, others, strict=True):
            if row_others is None:
                row_others = other_objects_of(document.source)
            row_lines, written_ids, empty, source = _row_lines(
                path,
                label_store(labels),  # a chunked array is read box by box
                document,
                mask_files,
                row_others,
                mask_base_url=mask_base_url,
                schema_ids=schema_ids,
                data_row_key=data_row_key,
                compress_level=compress_level,
                progress=progress,
            )
            lines.extend(json.dumps(line, ensure_ascii=False) for line in row_lines)
            result.mask_count += len(written_ids)
            result.object_count += sum(any(k in line for k in _OBJECT_KEYS) for line in row_lines)
            result.skipped_empty.append(empty)
            result.unanswered.append(document.unanswered_report(written_ids))
            result.sources.append(source)
        result.line_count = len(lines)
        _warn_left_out(path, rows, result)
        if mask_dir is not None and not mask_base_url and result.mask_count:
            _warn(
                f"{path.name}: the composite masks are named by paths relative to the file; "
                f"Labelbox must fetch them: upload {mask_dir.name}/ and save again with its "
                "base URL"
            )
        if mask_files is not None:
            mask_files.sync()
        text = "".join(line + "\n" for line in lines)
        atomic.atomic_write_bytes(path, text.encode("utf-8"), _STAGED)
    except BaseException:
        if mask_files is not None:
            mask_files.discard()
        raise
    atomic.fsync_dir(path.parent)  # committed
    if mask_files is not None:
        mask_files.prune()
    _remove_stale_temporaries(path, None)  # left by a killed save
    result.written = [path] + ([mask_dir] if mask_dir is not None else [])
    return result


def write_items(
    path: str | Path,
    labels: Sequence[LabelsItem],
    images: Sequence[ImageItem] = (),
    shapes: Sequence[ShapesItem] = (),
    **options,
) -> WriteResult:
    """:func:`write_ndjson` for the registry: every labels item in one file.

    ``images`` are not written (Labelbox has them as data rows). ``shapes`` are the
    Shapes / Points layers saved along: the objects of other tools they show (matched
    by featureId) are written moved, reshaped or deleted as in the layers; without
    them the objects are written as read. ``options`` are :func:`write_ndjson`'s.
    """
    notes: list[str] = []
    split = split_items(labels)
    with collected_notes(LabelboxFormatWarning, notes):
        if shapes:
            others = objects_after_layer_edits(
                path, [other_objects_of(item.document.source) for item in labels], labels, shapes
            )
            # a stack's planes keep the objects of other tools each was read with
            options["other_objects"] = [
                others[owner] if np.ndim(labels[owner].data) <= 2 else None
                for owner in split.owners
            ]
        result = write_ndjson(path, [(item.data, item.document) for item in split.items], **options)
    summary = f"Saved {result.mask_count} mask(s) as a Labelbox import to {result.path.name}"
    if result.object_count:
        summary += f" with {result.object_count} object(s) of other tools"
    if any(result.unanswered):
        missing = split.count_once(result.unanswered)
        summary += f"; {missing} required question(s) unanswered"
    if len(split.items) != len(labels):
        summary += f" ({len(split.items)} data rows: the planes of the stacks)"
    return WriteResult(
        written=tuple(result.written),
        sources=split.owner_sources(result.sources, labels),
        summary=summary,
        notes=tuple(notes),
        details=result,
    )


def write_row_part(
    path: str | Path,
    labels: np.ndarray,
    document: Document,
    *,
    masks: str = "png",
    mask_base_url: str | None = None,
    schema_ids: bool = True,
    data_row_key: str = "auto",
    compress_level: int = 6,
) -> dict[str, Any]:
    """One label image of the import at ``path`` as its lines (plain values) for
    :func:`assemble_ndjson`; composite masks are written into the mask folder
    (content-named). The options are :func:`write_ndjson`'s."""
    path = Path(path)
    if masks not in MASK_STYLES:
        raise ValueError(f"masks must be one of {MASK_STYLES}, not {masks!r}")
    _check_rows(path, [(labels, document)], data_row_key)
    mask_files = None
    if masks == "composite":
        mask_dir_for(path).mkdir(parents=True, exist_ok=True)
        mask_files = _MaskFiles(mask_dir_for(path))
    lines, written_ids, _empty, _source = _row_lines(
        path,
        label_store(labels),
        document,
        mask_files,
        other_objects_of(document.source),
        mask_base_url=mask_base_url,
        schema_ids=schema_ids,
        data_row_key=data_row_key,
        compress_level=compress_level,
        progress=_no_progress,
    )
    if mask_files is not None:
        mask_files.sync()
    return {
        "lines": [json.dumps(line, ensure_ascii=False) for line in lines],
        "masks": sorted(mask_files.named) if mask_files is not None else [],
        "mask_count": len(written_ids),
        "feature_ids": [i.feature_id for i in document.instances.values()],
    }


def assemble_ndjson(
    path: str | Path, parts: Sequence[dict[str, Any]], *, masks: str = "png"
) -> list[Path]:
    """Write the import of :func:`write_row_part` results (in their order) in one step;
    composite masks no line names are removed. Returns what was written."""
    path = Path(path)
    if not parts:
        raise NdjsonWriteError(f"{path}: nothing to write (no label images)")
    check_unique_feature_ids(
        parts, lambda problem: NdjsonWriteError(f"{path}: {problem}"), "label images", "an import"
    )
    mask_files = _MaskFiles(mask_dir_for(path)) if masks == "composite" else None
    text = "".join(line + "\n" for part in parts for line in part["lines"])
    atomic.atomic_write_bytes(path, text.encode("utf-8"), _STAGED)
    atomic.fsync_dir(path.parent)  # committed
    if mask_files is not None:
        mask_files.keep({name for part in parts for name in part["masks"]})
        mask_files.prune()
    _remove_stale_temporaries(path, None)
    return [path] + ([mask_files.folder] if mask_files is not None else [])


def _check_rows(path: Path, rows, data_row_key: str) -> None:
    seen: dict[str, tuple[int, object]] = {}
    for n, (labels, document) in enumerate(rows):
        if not isinstance(document, Document):
            raise NdjsonWriteError(f"{path}: label image {n} has no segmentation document")
        stack = same_stack_key(document, n)
        shape = np.shape(labels)
        if len(shape) != 2:
            raise NdjsonWriteError(
                f"{path}: label image {n}: only 2-D label images can be imported into "
                f"Labelbox, not shape {shape}"
            )
        if not np.issubdtype(np.asarray(labels[:1, :1]).dtype, np.integer):
            raise NdjsonWriteError(f"{path}: label image {n}: labels must be integers")
        if not data_row_for(document.source, data_row_key):
            raise NdjsonWriteError(
                f"{path}: label image {n} names no Labelbox data row (no data row id, global "
                "key, external id or image file); open the image with it or read it from a "
                "Labelbox export"
            )
        for instance in document.instances.values():
            first = seen.get(instance.feature_id)
            if first is not None and first[1] != stack:  # a stack's planes share them
                raise NdjsonWriteError(
                    f"{path}: featureId {instance.feature_id} is used twice (label images "
                    f"{first[0]} and {n}); an import needs unique featureIds "
                    "(was a layer duplicated? save the layers one at a time)"
                )
            seen.setdefault(instance.feature_id, (n, stack))
            if document.ontology.class_by_id(instance.schema_id) is None:
                raise NdjsonWriteError(
                    f"{path}: instance {instance.label_id} has a class that is not in the ontology"
                )


def _row_lines(
    path: Path,
    labels: np.ndarray,
    document: Document,
    mask_files: _MaskFiles | None,
    other_objects: list[dict[str, Any]],
    *,
    mask_base_url,
    schema_ids,
    data_row_key,
    compress_level,
    progress,
) -> tuple[list[dict[str, Any]], list[int], list[int], dict[str, Any]]:
    source = dict(document.source)
    source["label_id"] = source.get("label_id") or new_cuid()
    data_row = data_row_for(source, data_row_key)
    plane = Plane.from_source(source.get(PLANE_SOURCE))
    # a plane of a stack: its lines say which, and each instance's featureId (the uuid of
    # a line is unique in the import, so it cannot be the same on every plane)
    plane_record = plane_flags(document)
    if plane_record and "globalKey" not in data_row:  # named by data row id: say which plane
        plane_record["external_id"] = plane.name
    label_ids = sorted(document.instances)
    objects: list[tuple[dict[str, Any], SparseMask, Instance]] = []
    empty: list[int] = []
    encoder = (
        MaskPngEncoder(labels.shape, "L", compress_level, foreground=1)
        if mask_files is None
        else None
    )
    with _progress_bar(progress, len(label_ids), "Writing Labelbox import") as tick:
        for label_id, mask in iter_instance_crops(labels, label_ids):
            tick()
            if mask is None or not mask.crop.any():
                empty.append(label_id)
                continue
            instance = document.instances[label_id]
            cls_ = document.ontology.class_by_id(instance.schema_id)
            line = {
                "uuid": instance_uuid(instance.feature_id)
                if plane is None
                else stable_uuid(instance.feature_id, plane.suffix),
                "dataRow": data_row,
                **feature_reference(cls_.name, cls_.feature_schema_id, schema_ids),
                "classifications": answers_to_import(
                    cls_.questions, instance.answers, schema_ids=schema_ids
                ),
            }
            if encoder is not None:
                png = encoder.encode(mask)
                line["mask"] = {"png": base64.b64encode(png).decode("ascii")}
            if plane_record:
                line[FLAGS_KEY] = {"featureId": instance.feature_id, **plane_record}
            objects.append((line, mask, instance))
    if mask_files is not None and objects:
        _attach_composite(labels.shape, data_row, objects, mask_files, mask_base_url)
    lines = [line for line, _, _ in objects]
    broken = 0
    for obj in other_objects:
        feature_id = obj.get("featureId")
        line_uuid = (
            instance_uuid(feature_id) if isinstance(feature_id, str) and feature_id else None
        )
        line = object_line(
            obj, document.ontology, data_row, line_uuid or str(uuid.uuid4()), schema_ids
        )
        if line is None:
            broken += 1
        else:
            lines.append(line)
    if broken:
        _warn(f"{path.name}: {broken} object(s) of other tools without a usable geometry left out")
    for question, entry in answers_by_question(
        document.ontology.questions, document.image_answers, schema_ids=schema_ids
    ):
        known = source.get("import_answer_uuids") or {}
        line_uuid = (
            known.get(question.feature_schema_id)
            or known.get(question.name)
            or stable_uuid(source["label_id"], question.feature_schema_id)
        )
        lines.append(
            {
                "uuid": line_uuid,
                "dataRow": data_row,
                **entry,
                **({FLAGS_KEY: plane_record} if plane_record else {}),
            }
        )
    source["ndjson_path"] = str(path)
    written = [line_id for line_id in label_ids if line_id not in empty]
    return lines, written, empty, source


def _attach_composite(shape, data_row, objects, mask_files, mask_base_url) -> None:
    """Paint every instance in its colour into one RGB image, save it, point the lines at it."""
    taken: set[tuple[int, int, int]] = set()
    colours = [composite_colour(instance.feature_id, taken) for _, _, instance in objects]
    # streamed from the instances' crops: a large image is never held whole
    png = encode_colour_png(shape, [mask for _, mask, _ in objects], colours)
    # named after the data row; mask_files adds the content's digest
    stem = _SAFE_STEM.sub("_", next(iter(data_row.values())))[:80].strip("_") or "image"
    file_name = mask_files.put(stem, png)
    relative = f"{mask_files.folder.name}/{file_name}"
    uri = _join_url(mask_base_url, relative) if mask_base_url else relative
    for (line, _, _), colour in zip(objects, colours, strict=True):
        line["mask"] = {"instanceURI": uri, "colorRGB": list(colour)}


def _warn_left_out(path: Path, rows, result: NdjsonExport) -> None:
    lines = []
    for (_, document), missing in zip(rows, result.unanswered, strict=True):
        for label_id, question in missing:
            if label_id is None:
                lines.append(f"image: {question}")
            else:
                cls_ = document.class_of(label_id)
                lines.append(f"instance {label_id} ({cls_.name if cls_ else '?'}): {question}")
    if lines:
        shown = "; ".join(lines[:20]) + (f"; ... ({len(lines)} in all)" if len(lines) > 20 else "")
        _warn(f"{path.name}: unanswered required questions: {shown}")
    empty = [label_id for ids in result.skipped_empty for label_id in ids]
    if empty:
        _warn(
            f"{path.name}: {len(empty)} instance(s) without pixels left out (label ids "
            f"{', '.join(map(str, empty[:20]))}{' ...' if len(empty) > 20 else ''})"
        )


def _warn(message: str) -> None:
    warnings.warn(message, NdjsonWriteWarning, stacklevel=4)
