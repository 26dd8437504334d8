"""Reading a Labelbox v1 export: data rows, masks, images, and what the reader refuses."""

from __future__ import annotations

import json
import urllib.request
import warnings
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_segtool.formats.labelbox_v1.common import (
    DOWNLOAD_SCHEMES,
    OTHER_TOOLS,
    LabelboxFormatError,
    LabelboxFormatWarning,
    Progress,
    _no_progress,
    _progress_bar,
    _warn,
    unique_feature_id,
)
from napari_segtool.formats.labelbox_v1.data_rows import (
    _MODELLED_KEYS,
    _display_name,
    _objects,
    _seconds,
    _without_mask_outlines,
)
from napari_segtool.formats.labelbox_v1.ontology_builder import _OntologyBuilder
from napari_segtool.formats.labelbox_v1.other_tools import (
    OtherObject,
    _geometry,
    answers_text,
    is_mask_object,
)
from napari_segtool.formats.labelbox_v1.paths import (
    PathRefusedError,
    contained_path,
    has_scheme,
    local_path,
    ontology_candidates,
    ontology_path_for,
)
from napari_segtool.formats.masks import (
    MaskError,
    SparseMask,
    decode_mask_png,
)
from napari_segtool.formats.planes import SOURCE_KEY as PLANE_SOURCE
from napari_segtool.formats.planes import (
    PlaneError,
    PlaneWarning,
    join_planes,
    plane_of,
    read_stack_image,
)
from napari_segtool.formats.result import (
    ImageItem,
    Item,
    LabelsItem,
    ReadResult,
    ShapesItem,
    collected_notes,
)
from napari_segtool.formats.toolkit.flags import read_class_flags, read_instance_flags
from napari_segtool.formats.toolkit.images import (
    ImageBombError,
    ImageError,
    decode_image,
    pixel_limit,
)
from napari_segtool.formats.toolkit.values import kind_of, shown_text
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.label_store import label_store
from napari_segtool.model.ontology import (
    Ontology,
    OntologyError,
)

_SNIFF_BYTES = 65536
_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
#: a real mask, even full of noise, compresses far below this (masks are 1 bit of information)
_MAX_MASK_BYTES = _MAX_DOWNLOAD_BYTES


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
    ``"DataRow ID"`` (or a ``"Label"`` holding ``"objects"``) in it; or ``{``
    first and ``"Labeled Data"`` and ``"Label"`` in it (one data row on its own,
    as the Labelbox SDK's test exports are). A damaged file that passes gets a
    clear error from :func:`read_export`, instead of going to another reader.
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
    if head.startswith("{"):
        return '"Labeled Data"' in head and '"Label"' in head
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
    rows: Collection[int] | None = None,
) -> list[DataRow]:
    """Read a v1 export: one :class:`DataRow` per data row with a known image size.

    ``rows`` (positions in the JSON list) reads only those data rows' masks and
    images, for batch tools that give each data row its own task; the ontology
    is built from every row all the same, so each subset reads the same classes
    and options.

    The ontology is ``ontology`` if given, else the first of
    :func:`ontology_candidates`, else rebuilt from the objects (titles,
    schemaIds, colours) and the answers (titles, values); classes, questions and
    options the export uses but the ontology lacks are added (with a warning).
    Nested answers are regrouped under the option they hang from.

    ``instanceURI`` must be a file in the export's folder or below (``..``,
    outside absolute paths and symlinks leading out are refused); ``http(s)``
    URIs and images are downloaded only with ``allow_download=True`` (without it,
    a row whose masks are web addresses is not opened).

    Rows that are not opened (tiled imagery, video, text or PDF rows, web masks
    without downloading, no size known) are named in one warning per reason and
    kept unchanged in the ``source`` of the opened row before them
    (``rows_after``; ``rows_before`` of the first opened row), so the writer puts
    them back where they were. Objects with a geometry (``bbox``, ``polygon``,
    ``line``, ``point``) are that geometry, with or without an ``instanceURI``
    (as the Labelbox SDK reads them), and are kept as read in
    ``source["other_objects"]``; only objects without one are masks.
    ``max_pixels`` bounds image and mask sizes (default: Pillow's
    decompression-bomb limit). Raises :class:`LabelboxFormatError` naming the
    file and the problem; nothing is returned then.
    """
    json_path = Path(path)
    progress = progress or _no_progress
    reader = _Reader(json_path, allow_download, max_pixels, progress)
    return reader.read(ontology, None if rows is None else set(rows))


def count_rows(path: str | Path) -> int:
    """How many data rows the export's JSON list holds (each one a :func:`read_export` subset)."""
    reader = _Reader(Path(path), False, -1, _no_progress)
    return len(reader._load_json())


def row_names(path: str | Path) -> list[Any]:
    """The ``External ID`` of every data row, in order (the planes of a stack are named
    ``<image>#z=<k>``)."""
    reader = _Reader(Path(path), False, -1, _no_progress)
    return [row.get("External ID") for row in reader._load_json()]


def read_result(path: str | Path, **options) -> ReadResult:
    """:func:`read_export` (same options) as the result every reader returns: per data
    row its image (when it was found), its labels and document, its objects of other tools."""
    notes: list[str] = []
    json_path = Path(path)
    with collected_notes(LabelboxFormatWarning, notes), collected_notes(PlaneWarning, notes):
        rows = read_export(path, **options)
        items = [item for row in rows for item in row_items(row)]
        try:
            items = join_planes(items, _StackImages(json_path, options.get("max_pixels", -1)))
        except PlaneError as err:
            raise LabelboxFormatError(f"{json_path}: {err}") from None
    return ReadResult(tuple(items), tuple(notes))


class _StackImages:
    """The image of a stack written one plane per data row: ``Labeled Data`` of its planes,
    a local file (a TIFF is read whole)."""

    def __init__(self, json_path: Path, max_pixels):
        self.folder = json_path.absolute().parent
        self.json_path = json_path

    def __call__(self, base: str, sources) -> ImageItem | None:
        references = {s.get("labeled_data") for s in sources if s.get("labeled_data")}
        if len(references) != 1:
            return None
        reference = references.pop()
        web = (
            isinstance(reference, str)
            and has_scheme(reference)
            and not reference.startswith("file://")
        )
        if not isinstance(reference, str) or web:
            return None  # web addresses and cloud storage are not fetched for stacks
        try:
            path = local_path(self.folder, reference)
            if not path.is_file():
                _warn(
                    f"{self.json_path.name}: the image {shown_text(reference)} of the stack "
                    f"{shown_text(base)} was not found; opened the segmentation without it"
                )
                return None
            return read_stack_image(path, sources[0].get("image_name") or path.stem)
        except (OSError, ValueError) as err:
            _warn(
                f"{self.json_path.name}: the image {shown_text(reference)} of the stack "
                f"{shown_text(base)} cannot be read ({err}); opened the segmentation without it"
            )
            return None


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
                    features=_features(objects),
                    read_ids=tuple(o.feature_id for o in objects if o.feature_id),
                )
            )
    return items


def _features(objects: list[OtherObject]) -> dict[str, list[Any]]:
    """Class and ids per object, then one column per question with its answer as text."""
    features: dict[str, list[Any]] = {
        "class": [o.title for o in objects],
        "featureId": [o.feature_id for o in objects],
        "schemaId": [o.schema_id for o in objects],
    }
    titles = dict.fromkeys(title for o in objects for title in o.answers)
    for title in titles:
        column = title if title not in features else f"{title} (answer)"
        features[column] = [o.answers.get(title, "") for o in objects]
    return features


_SIZE_UNKNOWN = "size unknown"
_TILED = "tiled imagery is not supported (its Labeled Data is a tile layer, not an image)"
_VIDEO = "video labels are not supported (its Label is a list of frames)"
_TEXT = "text data rows are not supported (its objects are text entities)"
_DOCUMENT = "document (PDF) data rows are not supported (its objects lie on pages)"


def _unsupported(row: dict[str, Any]) -> str | None:
    """Why a row of a kind this reader does not open is not opened, else ``None``."""
    labeled_data = row.get("Labeled Data")
    if isinstance(labeled_data, dict) or (
        isinstance(labeled_data, str)
        and labeled_data.lstrip().startswith("{")
        and "tileLayerUrl" in labeled_data
    ):
        return _TILED
    if _is_video_label(row.get("Label")):
        return _VIDEO
    objects = _objects(row)
    if any(isinstance(o.get("data"), dict) and "location" in o["data"] for o in objects):
        return _TEXT
    if any("page" in o for o in objects):
        return _DOCUMENT
    return None


def _is_video_label(label: Any) -> bool:
    return (
        isinstance(label, list)
        and bool(label)
        and all(isinstance(frame, dict) and "frameNumber" in frame for frame in label)
    )


def _row_name(n: int, row: dict[str, Any]) -> str:
    external_id = row.get("External ID")
    named = f" ({shown_text(external_id, 80)})" if isinstance(external_id, str) else ""
    return f"row {n}{named}"


def _keep_unopened_rows(rows, opened: list[int], results: list[DataRow], unopened) -> None:
    """Rows not opened ride along, unchanged, in the document of the row before them (or,
    before the first opened row, of that row), so saving writes them back where they were."""
    for n in sorted(unopened):
        before = [k for k, m in enumerate(opened) if m < n]
        source = results[before[-1] if before else 0].document.source
        key = "rows_after" if before else "rows_before"
        source.setdefault(key, []).append(rows[n])


class _Reader:
    def __init__(self, json_path: Path, allow_download: bool, max_pixels, progress):
        self.json_path = json_path
        self.folder = json_path.absolute().parent
        self.allow_download = allow_download
        self.limit = pixel_limit(max_pixels)
        self.progress = progress
        #: featureIds of the instances read so far, in every row
        self.feature_ids: set[str] = set()
        #: the same for each plane of a stack (its planes repeat the stack's featureIds)
        self.plane_feature_ids: dict[tuple[str, tuple[int, ...]], set[str]] = {}

    def fail(self, problem: str) -> LabelboxFormatError:
        return LabelboxFormatError(f"{self.json_path}: {problem}")

    # -- top level ---------------------------------------------------------------
    def read(self, ontology: Ontology | None, wanted: set[int] | None = None) -> list[DataRow]:
        rows = self._load_json()
        builder = _OntologyBuilder(self._base_ontology(ontology), self.json_path)
        unsupported = {n: _unsupported(row) for n, row in enumerate(rows)}
        for n, row in enumerate(rows):  # classes in export order, before any answers
            for obj in _objects(row) if unsupported[n] is None else ():
                if is_mask_object(obj) or any(key in obj for key in OTHER_TOOLS):
                    builder.class_for(obj, f"row {n}")
        if wanted is not None:  # the options and questions the other rows' answers add
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LabelboxFormatWarning)
                for n, row in enumerate(rows):
                    if n not in wanted and unsupported[n] is None:
                        self._grow_ontology(n, row, builder)
        chosen = [n for n in range(len(rows)) if wanted is None or n in wanted]
        total = sum(
            1
            for n in chosen
            if unsupported[n] is None
            for obj in _objects(rows[n])
            if is_mask_object(obj)
        )
        results: list[DataRow] = []
        opened: list[int] = []
        #: why each unopened row was not opened
        unopened: dict[int, str] = {}
        with _progress_bar(self.progress, total, "Reading Labelbox masks") as self._tick:
            for n in chosen:
                row = rows[n]
                if unsupported[n] is not None:
                    unopened[n] = unsupported[n]
                    continue
                result = self._read_row(n, row, builder)
                if isinstance(result, str):
                    unopened[n] = result
                    continue
                results.append(result)
                opened.append(n)
        if not rows:
            raise self.fail("no data row could be opened (the export holds no data rows)")
        if unopened:
            self._tell_unopened(rows, unopened, bool(results))
        if results:
            _keep_unopened_rows(rows, opened, results, unopened)
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
        if isinstance(rows, dict) and "Label" in rows:
            rows = [rows]  # one data row on its own
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
            elif label not in ("Skip", "", None) and not _is_video_label(label):
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

    def _tell_unopened(self, rows, unopened: dict[int, str], any_opened: bool) -> None:
        """One message per reason, naming the rows; an error when no row opened."""
        lines = []
        for n, reason in unopened.items():
            if reason.startswith("object "):  # one object's problem, said per row
                lines.append(f"row {n} {reason}")
        for reason in dict.fromkeys(r for r in unopened.values() if not r.startswith("object ")):
            named = ", ".join(_row_name(n, rows[n]) for n, r in unopened.items() if r == reason)
            if reason == _SIZE_UNKNOWN:
                answers = sum(
                    len(rows[n]["Label"].get("classifications", []))
                    for n, r in unopened.items()
                    if r == reason and isinstance(rows[n]["Label"], dict)
                )
                reason = (
                    "the image is not a local file and there are no masks, so the size is "
                    f"unknown (open it with downloading allowed to see its image; {answers} "
                    "image answer(s))"
                )
            lines.append(f"{named}: {reason}")
        if not any_opened:
            raise self.fail("no data row could be opened: " + "; ".join(lines))
        _warn(
            f"{self.json_path.name}: not opened: "
            + "; ".join(lines)
            + ". These rows are kept as they are and written back unchanged on save"
        )

    def _grow_ontology(self, n: int, row: dict[str, Any], builder: _OntologyBuilder) -> None:
        """What reading row ``n`` adds to the ontology, without its masks or image."""
        where = f"row {n}"
        label = row["Label"] if isinstance(row["Label"], dict) else {}
        for obj in label.get("objects", []):
            if is_mask_object(obj):
                cls_ = builder.class_for(obj, where)
                builder.answers(cls_.questions, obj.get("classifications", []), where)
        others = [o for o in label.get("objects", []) if not is_mask_object(o)]
        self._other_objects(where, others, builder)
        builder.answers(builder.ontology.questions, label.get("classifications", []), where)

    # -- one data row --------------------------------------------------------------
    def _read_row(self, n: int, row: dict[str, Any], builder: _OntologyBuilder) -> DataRow | str:
        """The row read, or why it cannot be opened (it is then kept as it is)."""
        where = f"row {n}"
        label = row["Label"] if isinstance(row["Label"], dict) else {}
        remote = [
            o
            for o in label.get("objects", [])
            if is_mask_object(o)
            and isinstance(o["instanceURI"], str)
            and o["instanceURI"].startswith(DOWNLOAD_SCHEMES)
        ]
        if remote and not self.allow_download:
            self._tick(len([o for o in label.get("objects", []) if is_mask_object(o)]))
            more = f" (and {len(remote) - 1} more)" if len(remote) > 1 else ""
            return (
                f"object {shown_text(remote[0].get('featureId', '?'))}: the mask "
                f"{shown_text(remote[0]['instanceURI'], 100)} is a web address{more}; masks "
                "are not downloaded unless downloading is enabled"
            )
        try:
            plane = plane_of(row.get("External ID"), row, f"{self.json_path.name} {where}")
        except PlaneError as err:
            raise LabelboxFormatError(str(err)) from None
        if plane is None:
            image_path, image = self._image(where, row.get("Labeled Data"))
            shape = image.shape[:2] if image is not None else None
            seen = self.feature_ids
        else:  # the stack's image is opened once, for all its planes
            image_path, image = None, None
            shape = plane.stack_shape[-2:] if plane.stack_shape else None
            seen = self.plane_feature_ids.setdefault((plane.base, plane.index), set())
        mask_objects = [o for o in label.get("objects", []) if is_mask_object(o)]
        other_raw = [o for o in label.get("objects", []) if not is_mask_object(o)]

        masks: list[tuple[dict[str, Any], SparseMask]] = []
        for obj in mask_objects:
            mask = self._mask(where, obj, shape)
            shape = mask.shape
            masks.append((obj, mask))
            self._tick()
        if shape is None:
            return _SIZE_UNKNOWN

        labels = np.zeros(shape, dtype=np.uint32)  # like a new segmentation layer
        instances: list[Instance] = []
        owners: dict[int, str] = {}
        overlaps: list[str] = []
        empty: list[str] = []
        for obj, mask in masks:
            label_id = len(instances) + 1
            cls_ = builder.class_for(obj, where)
            feature_id = unique_feature_id(
                obj.get("featureId"), seen, f"{self.json_path.name} {where}"
            )
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
            instance = Instance(label_id, cls_.feature_schema_id, feature_id, answers)
            instances.append(read_instance_flags(instance, obj))
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
        if plane is not None:
            source[PLANE_SOURCE] = plane.to_source()
        document = Document(
            ontology=builder.ontology,
            instances=instances,
            image_answers=image_answers,
            source=source,
            **read_class_flags(row, builder.ontology),
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
        if has_scheme(labeled_data) and not labeled_data.startswith("file://"):
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

    def _local_path(self, reference: str) -> Path:
        """The file a local reference names; may raise OSError / ValueError for odd names."""
        return local_path(self.folder, reference)

    def _contained_path(self, what: str, uri: str) -> Path:
        """The mask file for ``uri``; refused unless it lies in the export's folder."""
        try:
            return contained_path(self.folder, uri)
        except PathRefusedError as err:
            raise self.fail(f"{what}: {err}") from None

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
                    answers=answers_text(obj.get("classifications")),
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
