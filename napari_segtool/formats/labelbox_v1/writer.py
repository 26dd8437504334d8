"""Writing a Labelbox v1 export (see the package doc for the layout and the commit point)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from napari_segtool.formats.labelbox_v1.answers import answers_to_v1, outline_feature_id
from napari_segtool.formats.labelbox_v1.common import (
    POLYGON_MODES,
    LabelboxFormatError,
    LabelboxFormatWarning,
    Progress,
    _no_progress,
    _progress_bar,
    _warn,
    check_unique_feature_ids,
)
from napari_segtool.formats.labelbox_v1.data_rows import (
    _DEFAULT_EXTRA,
    _external_id,
    _join_url,
    _seconds,
    _timestamp,
    labeled_data_for,
)
from napari_segtool.formats.labelbox_v1.other_tools import objects_after_layer_edits
from napari_segtool.formats.labelbox_v1.paths import mask_dir_for, ontology_path_for
from napari_segtool.formats.labelbox_v1.save_files import (
    _STAGED,
    _MaskFiles,
    _OntologySwap,
    _remove_stale_temporaries,
)
from napari_segtool.formats.masks import (
    MaskPngEncoder,
    iter_instance_crops,
)
from napari_segtool.formats.planes import row_flags, same_stack_key, split_items
from napari_segtool.formats.polygons import labelbox_polygons
from napari_segtool.formats.result import (
    ImageItem,
    LabelsItem,
    ShapesItem,
    WriteResult,
    collected_notes,
)
from napari_segtool.formats.toolkit import atomic
from napari_segtool.formats.toolkit.flags import instance_flags
from napari_segtool.model.document import Document
from napari_segtool.model.ids import new_cuid
from napari_segtool.model.label_store import label_store


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
    other_objects: Sequence[list[Any] | None] | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write label images and their documents as a v1 export (see the package doc).

    ``polygons`` adds each instance's outline as Labelbox polygon-tool objects
    (``polygon: [{x, y}, ...]``, one per connected component, holes not
    represented): ``"none"`` (masks only), ``"alongside"`` (masks and
    polygons) or ``"instead"`` (polygons only, no mask files).

    ``rows`` holds one ``(labels, document)`` per data row (a 2-D integer label
    image). ``mask_base_url`` makes ``instanceURI`` absolute
    (``<mask_base_url>/<name>_masks/<file>``); ``image_base_url`` does the same
    for ``Labeled Data``. ``seconds_to_label`` (one number, or one per row) is
    added to each row's recorded annotating time. ``other_objects`` (one list per
    row, ``None`` for as read) replaces the objects of other tools a document
    carries (``source["other_objects"]``), e.g. with edits of their layers. Warns
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
        others = list(other_objects) if other_objects is not None else [None] * len(rows)
        for (labels, document), seconds, other in zip(rows, seconds_to_label, others, strict=True):
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
                other_objects=other,
            )
            export.extend(_kept_rows(document.source.get("rows_before")))
            export.append(row)
            export.extend(_kept_rows(document.source.get("rows_after")))
            result.mask_count += 0 if polygons == "instead" else len(written_ids)
            result.skipped_empty.append(empty)
            result.unanswered.append(document.unanswered_report(written_ids))
            result.sources.append(_source_after_write(document, row, json_path, other))
        _warn_unanswered(json_path, rows, result.unanswered)
        ontologies = [d.ontology.to_dict() for _, d in rows]
        _commit_export(json_path, export, ontologies, masks, ontology_swap)
    except BaseException:
        ontology_swap.undo()
        masks.discard()
        raise
    _after_commit(json_path, masks, ontology_path)
    result.written = [json_path, mask_dir] + ([ontology_path] if ontology_path else [])
    return result


def write_items(
    path: str | Path,
    labels: Sequence[LabelsItem],
    images: Sequence[ImageItem] = (),
    shapes: Sequence[ShapesItem] = (),
    **options,
) -> WriteResult:
    """:func:`write_export` for the registry: one data row per labels item.

    ``images`` are not written (``Labeled Data`` comes from each document).
    ``shapes`` are the Shapes / Points layers saved along: the objects of other tools
    they show (matched by featureId) are written with their edits, moved, reshaped or
    deleted (see :func:`~.other_tools.edited_other_objects`); without them the objects
    are written as read. ``options`` are :func:`write_export`'s.
    """
    notes: list[str] = []
    split = split_items(labels)
    with collected_notes(LabelboxFormatWarning, notes):
        if shapes:
            others = objects_after_layer_edits(
                path,
                [list(item.document.source.get("other_objects") or []) for item in labels],
                labels,
                shapes,
            )
            # a stack's planes keep the objects of other tools each was read with
            options["other_objects"] = [
                others[owner] if np.ndim(labels[owner].data) <= 2 else None
                for owner in split.owners
            ]
        seconds = options.get("seconds_to_label")
        if seconds is not None and not isinstance(seconds, int | float):
            options["seconds_to_label"] = [seconds[owner] for owner in split.owners]
        result = write_export(path, [(item.data, item.document) for item in split.items], **options)
    summary = f"Saved {result.mask_count} mask(s) to {result.json_path.name}"
    others = sum(len(item.document.source.get("other_objects") or []) for item in labels)
    if shapes:
        others = sum(len(o) for o in options["other_objects"] if o)
    if others:
        summary += f" with {others} object(s) of other tools"
    kept = sum(
        len(_kept_rows(item.document.source.get(key)))
        for item in labels
        for key in ("rows_before", "rows_after")
    )
    if kept:
        summary += f"; {kept} data row(s) that were not opened kept as read"
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


def prepare_export(path: str | Path) -> None:
    """Check and make the places of an export written row by row (:func:`write_row_part`)."""
    json_path = Path(path)
    _check_old_mask_dir(mask_dir_for(json_path))
    mask_dir_for(json_path).mkdir(parents=True, exist_ok=True)


def write_row_part(
    path: str | Path,
    labels: np.ndarray,
    document: Document,
    *,
    now: str,
    mask_mode: str = "RGBA",
    compress_level: int = 6,
    mask_base_url: str | None = None,
    image_base_url: str | None = None,
    seconds_to_label: float = 0.0,
    polygons: str = "none",
    polygon_tolerance: float = 0.0,
) -> dict[str, Any]:
    """One data row of the export at ``path``: its masks written into the mask folder
    (content-named, so nothing the current JSON names changes), its rows returned as
    plain values for :func:`assemble_export`. ``now`` is the export's one timestamp
    (:func:`export_timestamp`); the options are :func:`write_export`'s.
    """
    json_path = Path(path)
    if polygons not in POLYGON_MODES:
        raise ValueError(f"polygons must be one of {POLYGON_MODES}, not {polygons!r}")
    _check_rows(json_path, [(labels, document)])
    masks = _MaskFiles(mask_dir_for(json_path))
    row, written_ids, _empty = _write_row(
        json_path,
        labels,
        document,
        masks,
        mask_mode=mask_mode,
        compress_level=compress_level,
        mask_base_url=mask_base_url,
        image_base_url=image_base_url,
        seconds=seconds_to_label,
        now=now,
        progress=_no_progress,
        polygons=polygons,
        polygon_tolerance=polygon_tolerance,
    )
    masks.sync()
    return {
        "rows": [
            *_kept_rows(document.source.get("rows_before")),
            row,
            *_kept_rows(document.source.get("rows_after")),
        ],
        "masks": sorted(masks.named),
        "mask_count": 0 if polygons == "instead" else len(written_ids),
        "feature_ids": [i.feature_id for i in document.instances.values()],
        "unanswered": _unanswered_lines(document, document.unanswered_report(written_ids)),
        "ontology": document.ontology.to_dict(),
    }


def assemble_export(
    path: str | Path, parts: Sequence[dict[str, Any]], *, write_ontology: bool = True
) -> list[Path]:
    """Commit the export of :func:`write_row_part` results (in their order): the ontology,
    then the JSON in one step; masks no row names are removed. Returns what was written."""
    json_path = Path(path)
    if not parts:
        raise LabelboxFormatError(f"{json_path}: nothing to write (no label images)")
    check_unique_feature_ids(
        parts, lambda problem: LabelboxFormatError(f"{json_path}: {problem}"), "rows", "an export"
    )
    mask_dir = mask_dir_for(json_path)
    ontology_path = ontology_path_for(json_path) if write_ontology else None
    _warn_unanswered_lines(json_path, [line for part in parts for line in part["unanswered"]])
    masks = _MaskFiles(mask_dir)
    masks.keep({name for part in parts for name in part["masks"]})
    ontology_swap = _OntologySwap(ontology_path)
    export = [row for part in parts for row in part["rows"]]
    try:
        _commit_export(
            json_path, export, [part["ontology"] for part in parts], masks, ontology_swap
        )
    except BaseException:
        ontology_swap.undo()
        raise
    _after_commit(json_path, masks, ontology_path)
    return [json_path, mask_dir] + ([ontology_path] if ontology_path else [])


def export_timestamp() -> str:
    """The ``Updated At`` of every row of one export."""
    return _timestamp()


def _commit_export(json_path: Path, export, ontologies, masks: _MaskFiles, ontology_swap) -> None:
    masks.keep(_mask_folder_files(export, masks.folder.name))
    masks.sync()
    if ontology_swap.path is not None:
        if len({json.dumps(o, sort_keys=True) for o in ontologies}) > 1:
            _warn(f"{json_path}: the data rows use different ontologies; wrote the first")
        text = json.dumps(ontologies[0], indent=2, ensure_ascii=False)
        ontology_swap.replace((text + "\n").encode("utf-8"))
    text = json.dumps(export, indent=2, ensure_ascii=False) + "\n"
    staged_json = atomic.write_temporary(json_path, text.encode("utf-8"), _STAGED)
    try:
        _commit(staged_json, json_path)
    finally:
        staged_json.unlink(missing_ok=True)


def _after_commit(json_path: Path, masks: _MaskFiles, ontology_path: Path | None) -> None:
    # committed: the new JSON is in place and names only files that are on disk
    atomic.fsync_dir(json_path.parent)
    masks.prune()
    _remove_stale_temporaries(json_path, ontology_path)


def _kept_rows(rows: Any) -> list[dict[str, Any]]:
    """Rows the reader did not open (tiled imagery, video, no size known), as they were read."""
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _mask_folder_files(export: list[dict[str, Any]], folder_name: str) -> set[str]:
    """Files of the mask folder that objects written back as they were read still name
    (a box's or a polygon's ``instanceURI``): the save must not delete them."""
    prefix = folder_name + "/"
    named = set()
    for row in export:
        label = row.get("Label")
        for obj in label.get("objects", []) if isinstance(label, dict) else []:
            uri = obj.get("instanceURI") if isinstance(obj, dict) else None
            if isinstance(uri, str) and uri.startswith(prefix) and "/" not in uri[len(prefix) :]:
                named.add(uri[len(prefix) :])
    return named


def _check_rows(json_path: Path, rows) -> None:
    seen: dict[str, tuple[int, object]] = {}
    for n, (labels, document) in enumerate(rows):
        if not isinstance(document, Document):
            raise LabelboxFormatError(f"{json_path}: row {n} has no segmentation document")
        stack = same_stack_key(document, n)
        shape = np.shape(labels)
        if len(shape) != 2:
            raise LabelboxFormatError(
                f"{json_path}: row {n}: only 2-D label images can be exported, not shape {shape}"
            )
        if not np.issubdtype(np.asarray(labels[:1, :1]).dtype, np.integer):
            raise LabelboxFormatError(f"{json_path}: row {n}: labels must be integers")
        for instance in document.instances.values():
            first = seen.get(instance.feature_id)
            if first is not None and first[1] != stack:  # a stack's planes share them
                raise LabelboxFormatError(
                    f"{json_path}: featureId {instance.feature_id} is used twice (rows "
                    f"{first[0]} and {n}); an export needs unique featureIds "
                    "(was a layer duplicated? save the layers one at a time)"
                )
            seen.setdefault(instance.feature_id, (n, stack))


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
    other_objects=None,
) -> tuple[dict[str, Any], list[int], list[int]]:
    # a chunked array stays chunked: one pass for the boxes, then each instance's box
    labels = label_store(labels)
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
                        **instance_flags(instance),
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
        for o in (source.get("other_objects") if other_objects is None else other_objects) or []
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
    row.update(row_flags(document))
    row["Label"] = {
        "objects": objects,
        "classifications": answers_to_v1(
            document.ontology.questions, document.image_answers, (label_uid,)
        ),
    }
    return row, written_ids, empty


def _source_after_write(document: Document, row: dict[str, Any], json_path: Path, others) -> dict:
    source = dict(document.source)
    if not source.get("data_row_id"):
        # made up here, unknown to Labelbox: an NDJSON import names the row by global key
        source["data_row_id_generated"] = True
    if others is not None:  # edits of the objects' layers are saved work now
        source["other_objects"] = list(others)
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


def _unanswered_lines(document: Document, missing) -> list[str]:
    lines = []
    for label_id, question in missing:
        if label_id is None:
            lines.append(f"image: {question}")
        else:
            cls_ = document.class_of(label_id)
            lines.append(f"instance {label_id} ({cls_.name if cls_ else '?'}): {question}")
    return lines


def _warn_unanswered(json_path: Path, rows, unanswered) -> None:
    lines = []
    for (_, document), missing in zip(rows, unanswered, strict=True):
        lines += _unanswered_lines(document, missing)
    _warn_unanswered_lines(json_path, lines)


def _warn_unanswered_lines(json_path: Path, lines: list[str]) -> None:
    if lines:
        shown = "; ".join(lines[:20]) + (f"; ... ({len(lines)} in all)" if len(lines) > 20 else "")
        _warn(f"{json_path.name}: unanswered required questions: {shown}")


def _commit(staged_json: Path, json_path: Path) -> None:
    """The commit point of a save: the new JSON replaces the old one in one step."""
    os.replace(staged_json, json_path)
