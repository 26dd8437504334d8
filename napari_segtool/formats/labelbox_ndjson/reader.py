"""Reading a Labelbox export v2 (NDJSON): data rows, labels, composite masks, other tools."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_segtool.formats.labelbox_ndjson.answers_in import (
    place_questions,
    read_answers,
    v1_entries,
)
from napari_segtool.formats.labelbox_ndjson.download import LABELBOX_HOSTS, Fetcher, FetchError
from napari_segtool.formats.labelbox_ndjson.import_in import (
    LINE_KEY,
    ImportLineError,
    export_rows,
)
from napari_segtool.formats.labelbox_ndjson.masks_in import (
    CompositeError,
    decode_composite,
    pack_colour,
    paint_composite,
    shown_colour,
)
from napari_segtool.formats.labelbox_ndjson.writer import NDJSON_EXTENSIONS
from napari_segtool.formats.labelbox_v1.common import (
    OTHER_TOOLS,
    LabelboxFormatError,
    LabelboxFormatWarning,
    Progress,
    _no_progress,
    _progress_bar,
    _warn,
    unique_feature_id,
)
from napari_segtool.formats.labelbox_v1.data_rows import _display_name, _seconds
from napari_segtool.formats.labelbox_v1.ontology_builder import _OntologyBuilder
from napari_segtool.formats.labelbox_v1.other_tools import _geometry
from napari_segtool.formats.labelbox_v1.paths import ontology_candidates, ontology_path_for
from napari_segtool.formats.masks import MaskError, decode_mask_png
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
from napari_segtool.formats.toolkit.images import (
    ImageBombError,
    ImageError,
    ImageSizeError,
    decode_image,
    pixel_limit,
)
from napari_segtool.formats.toolkit.values import kind_of, shown_text
from napari_segtool.model.answers import flatten_answers
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.label_store import label_store
from napari_segtool.model.ontology import Ontology, OntologyError

EXTENSIONS = NDJSON_EXTENSIONS
_SNIFF_BYTES = 65536
#: the key that starts an export row / an import line (as a key, not a value)
_EXPORT_KEY = re.compile(r'"data_row"\s*:')
_IMPORT_KEY = re.compile(r'"dataRow"\s*:')
#: the geometry key of each v2 object of another tool, and the v1 key the shapes code reads
_GEOMETRY_KEYS = {"bounding_box": "bbox", "polygon": "polygon", "line": "line", "point": "point"}


@dataclass
class LabelLayer:
    """One label of a data row (one project's, one annotator's): a segmentation layer."""

    name: str
    labels: np.ndarray
    document: Document
    shapes: list[ShapesItem] = field(default_factory=list)


@dataclass
class DataRow:
    """One line of an export: its image (when found) and one :class:`LabelLayer` per label."""

    name: str
    layers: list[LabelLayer]
    image: np.ndarray | None = None
    image_path: Path | None = None


def is_v2_export(path: str | Path) -> bool:
    """A cheap sniff: an ``.ndjson`` / ``.jsonl`` file whose first line starts a data row.

    The first 64 KiB must start with ``{`` and hold ``"data_row"``: NDJSON of
    other tools (and Labelbox's annotation-import files, which say
    ``"dataRow"``, see :func:`is_import_file`) is declined. A damaged file that
    passes gets a clear error from :func:`read_export`.
    """
    return _sniff(path) == "export"


def is_import_file(path: str | Path) -> bool:
    """A cheap sniff: an ``.ndjson`` / ``.jsonl`` annotation import (lines name a ``dataRow``)."""
    return _sniff(path) == "import"


def is_labelbox_ndjson(path: str | Path) -> bool:
    """An export v2 or an annotation import (what the ``labelbox-ndjson`` format reads)."""
    return _sniff(path) is not None


def _sniff(path: str | Path) -> str | None:
    """``"export"``, ``"import"`` or ``None``, from the first 64 KiB (other NDJSON declined)."""
    path = Path(path)
    if path.suffix.lower() not in EXTENSIONS or not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES).decode("utf-8", errors="ignore")
    except OSError:
        return None
    head = head.lstrip("\ufeff \t\r\n")
    if not head.startswith("{"):
        return None
    first = head.split("\n", 1)[0]  # the first line tells (the whole head if it is longer)
    export, imported = _EXPORT_KEY.search(first), _IMPORT_KEY.search(first)
    if export is None and imported is None:
        return None
    if imported is None or (export is not None and export.start() < imported.start()):
        return "export"
    return "import"


def read_export(
    path: str | Path,
    *,
    ontology: Ontology | None = None,
    allow_download: bool = False,
    api_key: str | None = None,
    key_hosts: tuple[str, ...] = LABELBOX_HOSTS,
    max_pixels: int | None = -1,
    progress: Progress | None = None,
    rows: Collection[int] | None = None,
) -> list[DataRow]:
    """Read an export v2 (one :class:`DataRow` per line, one layer per label in it) or an
    annotation import (its lines grouped by data row, one layer per data row; see
    :mod:`.import_in`).

    The ontology is ``ontology`` if given, else the ontology file beside the
    export (as for v1: ``<name>.ontology.json``, ``ontology.json``, the only
    ``*ontology*.json``), else rebuilt from the objects and answers, schema ids
    kept and sub-questions placed under the options they hang from.

    Mask and image references that are local paths or ``file://`` URIs are
    relative to the export's folder and must lie in it; ``http(s)`` ones are
    downloaded only with ``allow_download`` (the API key, ``api_key`` else
    ``LABELBOX_API_KEY``, goes to ``key_hosts`` only: see
    :mod:`.download`). ``rows`` (positions among the data rows, see
    :func:`count_rows`) reads only those data rows' masks and images, for batch
    tools that give each data row its own task; the ontology is built from every
    row all the same. Raises :class:`LabelboxFormatError` naming the file, the
    line and the object; nothing is returned then.
    """
    json_path = Path(path)
    fetcher = Fetcher(json_path.absolute().parent, allow_download, api_key, tuple(key_hosts))
    reader = _Reader(json_path, fetcher, pixel_limit(max_pixels), progress or _no_progress)
    return reader.read(ontology, None if rows is None else set(rows))


def count_rows(path: str | Path) -> int:
    """How many data rows the file holds (export lines, or import lines grouped by data row)."""
    reader = _Reader(Path(path), Fetcher(Path(path).absolute().parent), None, _no_progress)
    return len(reader.data_rows())


def row_names(path: str | Path) -> list[Any]:
    """The global key (else external id) of every data row, in :func:`count_rows` order."""
    reader = _Reader(Path(path), Fetcher(Path(path).absolute().parent), None, _no_progress)
    names = []
    for _, row in reader.data_rows():
        data_row = row.get("data_row") if isinstance(row.get("data_row"), dict) else {}
        names.append(data_row.get("global_key") or data_row.get("external_id"))
    return names


def read_result(path: str | Path, *, claim: Any = None, **options) -> ReadResult:
    """:func:`read_export` (same options) as the result every reader returns: per data row its
    image (when found), then per label its segmentation and its shapes and points."""
    notes: list[str] = []
    json_path = Path(path)
    with collected_notes(LabelboxFormatWarning, notes), collected_notes(PlaneWarning, notes):
        rows = read_export(path, **options)
        items = [item for row in rows for item in row_items(row)]
        try:
            items = join_planes(items, _StackImages(json_path))
        except PlaneError as err:
            raise LabelboxFormatError(f"{json_path}: {err}") from None
    return ReadResult(tuple(items), tuple(notes))


class _StackImages:
    """The image of a stack written one plane per data row: the file its name (the part
    before ``#``) names in the file's folder (a TIFF is read whole)."""

    def __init__(self, json_path: Path):
        self.json_path = json_path
        self.fetcher = Fetcher(json_path.absolute().parent)

    def __call__(self, base: str, sources) -> ImageItem | None:
        try:
            path = self.fetcher.local(base, "row_data")
            if not path.is_file():
                return None  # a global key need not be a file name
            return read_stack_image(path, sources[0].get("image_name") or path.stem)
        except FetchError:
            return None
        except (OSError, ValueError) as err:
            _warn(
                f"{self.json_path.name}: the image {shown_text(base)} of the stack cannot be "
                f"read ({err}); opened the segmentation without it"
            )
            return None


def row_items(row: DataRow) -> list[Item]:
    items: list[Item] = []
    if row.image is not None:
        items.append(ImageItem(row.image, row.name, row.image_path))
    for layer in row.layers:
        items.append(LabelsItem(layer.labels, layer.document, layer.name))
        items.extend(layer.shapes)
    return items


def _kind(obj: dict[str, Any]) -> str | None:
    """``"mask"``, a v1 geometry key (``"bbox"``, ...) or ``None`` (not read)."""
    if "composite_mask" in obj or "mask" in obj:
        return "mask"
    return next((v1 for key, v1 in _GEOMETRY_KEYS.items() if key in obj), None)


def _v1_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The fields the v1 ontology builder finds a class by."""
    shaped = {
        "schemaId": obj.get("feature_schema_id"),
        "title": obj.get("name"),
        "value": obj.get("value"),
    }
    kind = _kind(obj)
    if kind == "mask":
        shaped["instanceURI"] = ""
    elif kind is not None:
        shaped[kind] = True
    return shaped


@dataclass
class _Label:
    line: int
    where: str
    project_id: str
    project: dict[str, Any]
    label: dict[str, Any]
    #: 1-based among its project's labels on the row, and how many there are
    number: int
    of: int

    @property
    def annotations(self) -> dict[str, Any]:
        return self.label.get("annotations") or {}

    @property
    def objects(self) -> list[dict[str, Any]]:
        return self.annotations.get("objects") or []


class _Reader:
    def __init__(self, json_path: Path, fetcher: Fetcher, limit: int | None, progress: Progress):
        self.json_path = json_path
        self.fetcher = fetcher
        self.limit = limit
        self.progress = progress
        self.feature_ids: set[str] = set()
        #: the featureIds of ordinary rows, and of each plane of a stack (see ..planes)
        self.row_feature_ids = self.feature_ids
        self.plane_feature_ids: dict[tuple[str, tuple[int, ...]], set[str]] = {}
        #: reading an annotation import rather than an export
        self.importing = False

    def fail(self, problem: str) -> LabelboxFormatError:
        return LabelboxFormatError(f"{self.json_path}: {problem}")

    # -- top level -------------------------------------------------------------------
    def data_rows(self) -> list[tuple[int, dict[str, Any]]]:
        """``(line, export row)`` per data row (import lines grouped into rows)."""
        rows = self._load_lines()
        if self.importing:
            try:
                rows = export_rows(rows)
            except ImportLineError as err:
                raise self.fail(str(err)) from None
        return rows

    def read(self, ontology: Ontology | None, only: set[int] | None = None) -> list[DataRow]:
        rows = self.data_rows()
        labels = {line: self._labels_of(line, row) for line, row in rows}
        builder = _OntologyBuilder(self._base_ontology(ontology), self.json_path)
        for found in labels.values():  # classes and questions in export order, before answers
            for item in found:
                for obj in item.objects:
                    if _kind(obj) is None:
                        continue
                    cls_ = builder.class_for(_v1_object(obj), item.where)
                    place_questions(builder, cls_.questions, v1_entries(obj.get("classifications")))
                entries = v1_entries(item.annotations.get("classifications"))
                place_questions(builder, builder.ontology.questions, entries)
        if only is not None:
            rows = [row for position, row in enumerate(rows) if position in only]
        total = sum(self._decodes(item) for line, _ in rows for item in labels[line])
        results: list[DataRow] = []
        with _progress_bar(self.progress, total, "Reading Labelbox masks") as self._tick:
            for line, row in rows:
                result = self._read_row(line, row, labels[line], builder)
                if result is not None:
                    results.append(result)
        if builder.added and not builder.ontology_given:
            _warn(
                f"{self.json_path.name}: no ontology file beside it (tried "
                f"{ontology_path_for(self.json_path).name}, ontology.json, *ontology*.json): "
                "rebuilt the ontology from the objects and answers (schema ids kept)"
            )
        elif builder.added:
            _warn(
                f"{self.json_path.name}: the ontology lacked {builder.describe_added()} used in "
                "the export; they were added"
            )
        if not results and self.importing:
            raise self.fail(
                "no data row could be opened: no line has a mask that gives its size, and no "
                "image file named by its global key is beside the file"
            )
        if not results:
            raise self.fail("no data row could be opened (no image size known for any row)")
        try:
            builder.ontology.validate()
        except OntologyError as err:
            raise self.fail(f"the ontology rebuilt from the export is not valid ({err})") from None
        final = builder.ontology.to_dict()
        for row in results:  # each layer gets its own copy to edit
            for layer in row.layers:
                layer.document.set_ontology(Ontology.from_dict(final))
        return results

    def _load_lines(self) -> list[tuple[int, dict[str, Any]]]:
        try:
            text = self.json_path.read_text(encoding="utf-8-sig")
        except OSError as err:
            raise self.fail(f"cannot read the file ({err.strerror or err})") from None
        except UnicodeDecodeError as err:
            raise self.fail(f"not UTF-8 text ({err.reason})") from None
        rows = []
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise self.fail(
                    f"line {number} is not valid JSON ({err.msg} at column {err.colno}); "
                    "the file may be cut short or damaged"
                ) from None
            except (RecursionError, ValueError) as err:
                raise self.fail(f"line {number} is not valid JSON ({err})") from None
            if not isinstance(row, dict):
                what = "an import line" if self.importing else "a data row"
                raise self.fail(f"line {number}: {what} is a JSON object, not {kind_of(row)}")
            if not rows:  # the first line tells export rows from import lines
                self.importing = "dataRow" in row and "data_row" not in row
            if self.importing and not isinstance(row.get("dataRow"), dict):
                raise self.fail(
                    f"line {number}: no dataRow object; not a line of a Labelbox annotation import"
                )
            if not self.importing and not isinstance(row.get("data_row"), dict):
                raise self.fail(
                    f"line {number}: no data_row object; not a row of a Labelbox export v2"
                )
            rows.append((number, row))
        if not rows:
            raise self.fail("no data rows (the file is empty)")
        return rows

    def _labels_of(self, line: int, row: dict[str, Any]) -> list[_Label]:
        """The labels of a row, every container checked, so later code can trust the shapes."""
        where = self._row_where(line, row)
        projects = row.get("projects", {})
        if not isinstance(projects, dict):
            raise self.fail(f"{where}: projects must be an object, not {kind_of(projects)}")
        found: list[_Label] = []
        for project_id, project in projects.items():
            if not isinstance(project, dict):
                raise self.fail(f"{where}: projects.{project_id} must be an object")
            labels = project.get("labels", [])
            if not isinstance(labels, list):
                raise self.fail(f"{where}: projects.{project_id}.labels must be a list")
            for n, label in enumerate(labels):
                at = f"projects.{project_id}.labels[{n}]"
                if not isinstance(label, dict):
                    raise self.fail(f"{where}: {at} must be an object")
                annotations = label.get("annotations") or {}
                if not isinstance(annotations, dict):
                    raise self.fail(f"{where}: {at}.annotations must be an object")
                for key in ("objects", "classifications"):
                    if not isinstance(annotations.get(key) or [], list):
                        raise self.fail(f"{where}: {at}.annotations.{key} must be a list")
                for m, obj in enumerate(annotations.get("objects") or []):
                    if not isinstance(obj, dict):
                        raise self.fail(f"{where}: {at}.annotations.objects[{m}] must be an object")
                label_where = (
                    where
                    if self.importing
                    else f"{where} label {shown_text(label.get('id') or at)}"
                )
                found.append(
                    _Label(line, label_where, str(project_id), project, label, n + 1, len(labels))
                )
        return found

    def _decodes(self, item: _Label) -> int:
        urls = set()
        count = 0
        for obj in item.objects:
            composite = obj.get("composite_mask")
            if isinstance(composite, dict):
                urls.add(str(composite.get("url")))
            elif "mask" in obj:
                count += 1
        return len(urls) + count

    def _base_ontology(self, ontology: Ontology | None) -> Ontology | None:
        if ontology is not None:
            return Ontology.from_dict(ontology.to_dict())
        for candidate in ontology_candidates(self.json_path):
            try:
                return Ontology.load(candidate)
            except OntologyError as err:
                raise self.fail(f"the ontology beside it is not usable: {err}") from None
        return None

    # -- one data row ----------------------------------------------------------------
    def _read_row(
        self, line: int, row: dict[str, Any], labels: list[_Label], builder: _OntologyBuilder
    ) -> DataRow | None:
        data_row = row["data_row"]
        where = self._row_where(line, row)
        size = self._media_size(where, row)
        name_of_plane = data_row.get("global_key") or data_row.get("external_id")
        try:
            plane = plane_of(name_of_plane, data_row, f"{self.json_path.name} {where}")
        except PlaneError as err:
            raise LabelboxFormatError(str(err)) from None
        if plane is None:
            image_path, image = self._image(where, data_row.get("row_data"), size)
            self.feature_ids = self.row_feature_ids
        else:  # the stack's image is opened once, for all its planes
            image_path, image = None, None
            if size is None and plane.stack_shape:
                size = plane.stack_shape[-2:]
            # the planes of a stack repeat its featureIds
            self.feature_ids = self.plane_feature_ids.setdefault((plane.base, plane.index), set())
        if size is None and image is not None:
            size = (int(image.shape[0]), int(image.shape[1]))
        name = (
            _display_name(
                data_row.get("external_id") or data_row.get("global_key"), image_path, None
            )
            or f"data row {line}"
        )
        layers: list[LabelLayer] = []
        several = len(labels) > 1
        for item in labels:
            layer, size = self._read_label(item, size, builder, row, image_path, name, several)
            layers.append(layer)
        if size is None:
            why = (
                "no image file named by its global key beside the file and no masks"
                if self.importing
                else "no media_attributes, no local image and no masks"
            )
            _warn(f"{self.json_path.name} {where}: skipped: {why}, so its size is unknown")
            return None
        if not labels:  # a row not labelled yet: an empty layer to annotate
            source = self._source(row, None, None, image_path, name)
            document = Document(ontology=builder.ontology, source=source)
            layers.append(LabelLayer(f"{name} segmentation", _blank(size), document))
        for layer in layers:  # a label read before a later one told the size
            if layer.labels.shape == (0, 0):
                layer.labels = _blank(size)
            if plane is not None:
                layer.document.source[PLANE_SOURCE] = plane.to_source()
        return DataRow(name, layers, image, image_path)

    def _row_where(self, line: int, row: dict[str, Any]) -> str:
        name = shown_text(_row_name(row["data_row"]))
        return (
            f"data row {name} (from line {line})"
            if self.importing
            else f"line {line} (data row {name})"
        )

    def _media_size(self, where: str, row: dict[str, Any]) -> tuple[int, int] | None:
        media = row.get("media_attributes")
        if media is None and self.importing:  # imports state no size: image or masks tell it
            return None
        if media is None:
            _warn(
                f"{self.json_path.name} {where}: no media_attributes; the size is taken "
                "from its image or masks"
            )
            return None
        mime = media.get("mime_type") if isinstance(media, dict) else None
        if isinstance(mime, str) and mime and not mime.startswith("image/"):
            raise self.fail(f"{where}: a {shown_text(mime)} data row; only images are read")
        height = media.get("height") if isinstance(media, dict) else None
        width = media.get("width") if isinstance(media, dict) else None
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (height, width)
        ):
            raise self.fail(
                f"{where}: media_attributes must give a positive integer height and width, "
                f"not {shown_text(media)}"
            )
        if self.limit is not None and height * width > self.limit:
            raise self.fail(
                f"{where}: media_attributes state {width} x {height} pixels, more than the limit "
                f"of {self.limit} (refused as a possible decompression bomb)"
            )
        return height, width

    # -- one label ---------------------------------------------------------------------
    def _read_label(
        self,
        item: _Label,
        size: tuple[int, int] | None,
        builder: _OntologyBuilder,
        row: dict[str, Any],
        image_path: Path | None,
        image_name: str,
        several: bool,
    ) -> tuple[LabelLayer, tuple[int, int] | None]:
        where = item.where
        masks = [o for o in item.objects if _kind(o) == "mask"]
        others = [o for o in item.objects if _kind(o) not in (None, "mask")]
        unknown = [o for o in item.objects if _kind(o) is None]

        feature_ids = [self._feature_id(where, obj) for obj in masks]
        shown = [_shown_object(fid, obj) for fid, obj in zip(feature_ids, masks, strict=True)]
        composites: dict[str, list[int]] = {}  # url -> indices into masks
        singles: list[int] = []
        colours: list[int | None] = [None] * len(masks)
        for index, obj in enumerate(masks):
            composite = obj.get("composite_mask")
            what = f"{where} object {shown[index]}"
            if composite is not None:  # preferred: one decode for the whole label
                if not isinstance(composite, dict) or not isinstance(composite.get("url"), str):
                    raise self.fail(f"{what}: composite_mask must be an object with a url")
                colours[index] = self._colour(what, composite.get("color_rgb"))
                composites.setdefault(composite["url"], []).append(index)
            else:
                mask = obj.get("mask")
                if not isinstance(mask, dict) or not (
                    isinstance(mask.get("url"), str) or isinstance(mask.get("png"), str)
                ):
                    raise self.fail(f"{what}: mask must be an object with a url or a png")
                singles.append(index)
        for url, indices in composites.items():
            seen: dict[int, int] = {}
            for index in indices:
                other = seen.setdefault(colours[index], index)
                if other != index:
                    raise self.fail(
                        f"{where}: objects {shown[other]} and {shown[index]} share "
                        f"the colour {shown_colour(colours[index])} in the composite mask "
                        f"{shown_text(url)}; their pixels cannot be told apart"
                    )

        label_ids = list(range(1, len(masks) + 1))
        labels: np.ndarray | None = None
        areas = [0] * len(masks)
        for url, indices in composites.items():
            packed = self._composite(where, url, [shown[i] for i in indices], size)
            size = (int(packed.shape[0]), int(packed.shape[1]))
            painted = paint_composite(
                packed, [colours[i] for i in indices], [label_ids[i] for i in indices]
            )
            if labels is None:
                labels = painted.labels
            else:  # a label with two composites (not seen in real exports): the later wins
                np.copyto(labels, painted.labels, where=painted.labels > 0)
            for index, count in zip(indices, painted.counts, strict=True):
                areas[index] = count
            if painted.stray:
                _warn(
                    f"{self.json_path.name} {where}: {painted.stray} pixel(s) of the composite "
                    f"mask {shown_text(url)} have colours no object names (such as "
                    f"{', '.join(shown_colour(c) for c in painted.stray_colours)}); left "
                    "unlabelled"
                )
            self._tick()
        if labels is None and size is not None:
            labels = _blank(size)
        overlaps: list[str] = []
        for index in singles:
            what = f"{where} object {shown[index]}"
            try:
                data, name = self._mask_bytes(what, masks[index]["mask"])
                mask = decode_mask_png(data, size, self.limit, name=name)
            except (FetchError, MaskError) as err:
                raise self.fail(f"{what}: the mask cannot be read: {err}") from None
            self._tick()
            if labels is None:
                size = mask.shape
                labels = _blank(size)
            region = labels[mask.slices]
            under = region[mask.crop]
            for other in label_store(under).ids():
                overlaps.append(f"{feature_ids[index]} over {feature_ids[other - 1]}")
                areas[other - 1] -= int(np.count_nonzero(under == other))
            region[mask.crop] = label_ids[index]
            areas[index] = mask.area
        if overlaps:
            _warn(
                f"{self.json_path.name} {where}: overlapping masks, the later object wins: "
                + "; ".join(overlaps)
            )

        instances: list[Instance] = []
        missing: list[str] = []
        renumber: dict[int, int] = {}
        for index, obj in enumerate(masks):
            if areas[index] <= 0:
                colour = colours[index]
                if self.importing and colour:  # the import names a colour its PNG does not hold
                    raise self.fail(
                        f"{where} object {shown[index]}: the colour {shown_colour(colour)} is "
                        "not in its composite mask (a wrong colorRGB or instanceURI)"
                    )
                missing.append(
                    feature_ids[index]
                    + (
                        f" (colour {shown_colour(colour)} is not in its composite mask)"
                        if colour
                        else ""
                    )
                )
                continue
            label_id = len(instances) + 1
            renumber[label_ids[index]] = label_id
            cls_ = builder.class_for(_v1_object(obj), where)
            answers = read_answers(
                builder,
                cls_.questions,
                obj.get("classifications"),
                f"{where} object {feature_ids[index]}",
            )
            instances.append(
                Instance(label_id, cls_.feature_schema_id, feature_ids[index], answers)
            )
        if missing:
            _warn(
                f"{self.json_path.name} {where}: {len(missing)} object(s) without pixels "
                f"skipped: {', '.join(missing)}"
            )
        if labels is not None and any(old != new for old, new in renumber.items()):
            table = np.zeros(len(masks) + 1, dtype=labels.dtype)
            for old, new in renumber.items():
                table[old] = new
            labels = table[labels]
        if unknown:
            kinds = Counter(str(o.get("annotation_kind") or "no kind") for o in unknown)
            listed = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            _warn(
                f"{self.json_path.name} {where}: {len(unknown)} object(s) with neither a mask "
                f"nor a known geometry skipped ({listed})"
            )
        image_answers = read_answers(
            builder, builder.ontology.questions, item.annotations.get("classifications"), where
        )
        layer_name = _layer_name(image_name, item, several)
        source = self._source(row, item, others, image_path, image_name)
        document = Document(
            ontology=builder.ontology,
            instances=instances,
            image_answers=image_answers,
            source=source,
        )
        shapes = self._shapes(where, others, builder, layer_name)
        placeholder = labels if labels is not None else np.zeros((0, 0), dtype=np.uint32)
        return LabelLayer(layer_name, placeholder, document, shapes), size

    def _mask_bytes(self, what: str, mask: dict[str, Any]) -> tuple[bytes, str]:
        """A single mask's PNG: inline base64 (``png``, imports) or a file or URL (``url``)."""
        if not isinstance(mask.get("png"), str):
            return self.fetcher.read(mask["url"], "mask url")
        try:
            return base64.b64decode(mask["png"], validate=True), "mask.png"
        except (binascii.Error, ValueError):
            raise self.fail(f"{what}: mask.png is not valid base64") from None

    def _feature_id(self, where: str, obj: dict[str, Any]) -> str:
        return unique_feature_id(
            obj.get("feature_id"), self.feature_ids, f"{self.json_path.name} {where}", "feature_id"
        )

    def _colour(self, what: str, rgb: Any) -> int:
        valid = (
            isinstance(rgb, list)
            and len(rgb) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb)
        )
        if not valid:
            raise self.fail(
                f"{what}: composite_mask.color_rgb must be three integers 0-255, not "
                f"{shown_text(rgb)}"
            )
        packed = pack_colour(rgb)
        if packed == 0:
            raise self.fail(f"{what}: composite_mask.color_rgb is black, the background colour")
        return packed

    def _composite(
        self, where: str, url: str, users: list[str], size: tuple[int, int] | None
    ) -> np.ndarray:
        who = users[0] if len(users) == 1 else f"{users[0]} and {len(users) - 1} other object(s)"
        what = f"{where} object {who}: the composite mask"
        try:
            data, name = self.fetcher.read(url, "composite_mask url")
        except FetchError as err:
            raise self.fail(f"{what} cannot be read: {err}") from None
        try:
            return decode_composite(data, size, self.limit)
        except ImageBombError as err:
            raise self.fail(f"{what} {shown_text(name)} is refused: {err}") from None
        except (CompositeError, ImageError) as err:
            raise self.fail(f"{what} {shown_text(name)} is not usable: {err}") from None

    # -- images ------------------------------------------------------------------------
    def _image(
        self, where: str, row_data: Any, size: tuple[int, int] | None
    ) -> tuple[Path | None, np.ndarray | None]:
        if not isinstance(row_data, str) or not row_data:
            return None, None
        path = None
        if self.fetcher.is_web(row_data):
            if not self.fetcher.allow_download:
                return None, None  # the segmentation opens without its image
            try:
                data, name = self.fetcher.download(row_data), row_data
            except FetchError as err:
                raise self.fail(f"{where}: the image cannot be downloaded: {err}") from None
        else:
            try:
                path = self.fetcher.local(row_data, "row_data")
                data, name = self.fetcher.read(row_data, "row_data")
            except FetchError:
                if row_data.startswith(("gs://", "s3://")):
                    return None, None  # cloud storage: not fetched
                if self.importing:  # a global key need not be a file name
                    return None, None
                _warn(
                    f"{self.json_path.name} {where}: the image {shown_text(row_data)} is not "
                    "a file in the export's folder (or below); opened the segmentation without it"
                )
                return None, None
        expected = (size[1], size[0]) if size is not None else None
        try:
            return path, decode_image(data, max_pixels=self.limit, expected_size=expected)
        except ImageSizeError as err:
            raise self.fail(
                f"{where}: the image {shown_text(name)} is {err.size[0]} x {err.size[1]} pixels, "
                f"but media_attributes state {err.expected[0]} x {err.expected[1]}"
                f"{err.bomb_note}"
            ) from None
        except ImageError as err:
            raise self.fail(
                f"{where}: the image {shown_text(name)} cannot be decoded ({err})"
            ) from None

    # -- what the document keeps -------------------------------------------------------
    def _source(
        self,
        row: dict[str, Any],
        item: _Label | None,
        others: list[dict[str, Any]] | None,
        image_path: Path | None,
        image_name: str,
    ) -> dict[str, Any]:
        data_row = row["data_row"]
        label = item.label if item else {}
        details = label.get("label_details") if isinstance(label.get("label_details"), dict) else {}
        performance = label.get("performance_details")
        performance = performance if isinstance(performance, dict) else {}
        project = item.project if item else {}
        return {
            "format": "labelbox-ndjson",
            "image_path": str(image_path) if image_path else None,
            "image_name": image_name,
            "labeled_data": data_row.get("row_data"),
            "row_data": data_row.get("row_data"),
            "external_id": data_row.get("external_id"),
            "global_key": data_row.get("global_key"),
            "data_row_id": data_row.get("id"),
            "project_id": item.project_id if item else None,
            "project_name": project.get("name"),
            "label_id": label.get("id"),
            "created_by": details.get("created_by"),
            "created_at": details.get("created_at"),
            "updated_at": details.get("updated_at"),
            "seconds_to_label": _seconds(performance.get("seconds_to_create")),
            "media_attributes": row.get("media_attributes"),
            "export_path": str(self.json_path.absolute()),
            "v2_other_objects": others or [],
            **(self._import_source(label) if self.importing else {}),
        }

    def _import_source(self, label: dict[str, Any]) -> dict[str, Any]:
        """What saving the import again needs: the answer lines' uuids, the file."""
        return {
            "ndjson_path": str(self.json_path),
            "import_answer_uuids": dict(label.get("answer_uuids") or {}),
            "project_id": None,
        }

    # -- other tools -------------------------------------------------------------------
    def _shapes(
        self, where: str, raw: list[dict[str, Any]], builder: _OntologyBuilder, layer_name: str
    ) -> list[ShapesItem]:
        read: list[tuple[str, np.ndarray, Any, str, dict[str, Any]]] = []
        broken = 0
        for obj in raw:
            key = next(k for k in _GEOMETRY_KEYS if k in obj)
            v1_key = _GEOMETRY_KEYS[key]
            coords = _geometry(v1_key, obj.get(key))
            if coords is None:
                broken += 1
                continue
            if v1_key == "bbox":
                (top, left), (bottom, right) = coords
                coords = np.array([[top, left], [top, right], [bottom, right], [bottom, left]])
            cls_ = builder.class_for(_v1_object(obj), where)
            fid = str(obj.get("feature_id") or "")
            answers = read_answers(
                builder, cls_.questions, obj.get("classifications"), f"{where} object {fid}"
            )
            read.append((OTHER_TOOLS[v1_key], coords, cls_, fid, answers))
        if broken:
            _warn(
                f"{self.json_path.name} {where}: {broken} object(s) whose geometry is not "
                "finite numbers of the right shape were skipped"
            )
        items = []
        for kind in ("shapes", "points"):
            chosen = [r for r in read if (r[0] == "point") == (kind == "points")]
            if not chosen:
                continue
            answer_columns = [flatten_answers(cls_.questions, a) for _, _, cls_, _, a in chosen]
            paths = list(dict.fromkeys(p for flat in answer_columns for p in flat))
            features: dict[str, list[Any]] = {
                "class": [c.name for _, _, c, _, _ in chosen],
                "featureId": [f for _, _, _, f, _ in chosen],
                "schemaId": [c.feature_schema_id for _, _, c, _, _ in chosen],
            }
            for path in paths:
                features[path] = [_cell(flat.get(path)) for flat in answer_columns]
            items.append(
                ShapesItem(
                    kind=kind,
                    name=f"{layer_name} {kind}",
                    coords=[r[1] for r in chosen],
                    shape_types=[r[0] for r in chosen],
                    colors=[c.color for _, _, c, _, _ in chosen],
                    features=features,
                    read_ids=tuple(f for f in features["featureId"] if f),
                )
            )
        return items


def _shown_object(feature_id: str, obj: dict[str, Any]) -> str:
    """An object in messages: its featureId, and its line in an import file."""
    line = obj.get(LINE_KEY)
    return f"{feature_id} (line {line})" if isinstance(line, int) else feature_id


def _cell(value: Any) -> str:
    """An answer as one table cell (checklists joined)."""
    if value is None:
        return ""
    return ", ".join(value) if isinstance(value, list) else str(value)


def _blank(size: tuple[int, int]) -> np.ndarray:
    return np.zeros(size, dtype=np.uint32)  # like a new segmentation layer


def _row_name(data_row: dict[str, Any]) -> Any:
    return data_row.get("global_key") or data_row.get("external_id") or data_row.get("id") or "?"


def _layer_name(image_name: str, item: _Label, several: bool) -> str:
    """``<image> segmentation``; with several labels on the row, the project and label added."""
    if not several:
        return f"{image_name} segmentation"
    project = item.project.get("name") or item.project_id
    label = f" #{item.number}" if item.of > 1 else ""
    return f"{image_name} segmentation ({project}{label})"
