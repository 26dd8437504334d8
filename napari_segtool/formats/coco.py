"""COCO instance segmentation: export label images with their documents, import them back.

Pure: numpy, scipy and scikit-image (no Qt, no napari). ``pycocotools`` is
not needed: RLE is encoded and decoded here (byte-for-byte what
``pycocotools.mask.encode`` writes, and working on each instance's crop, which
``pycocotools`` cannot), and polygons are rasterised with ``pycocotools``'
own arithmetic (:mod:`.coco_raster`): every annotation gets exactly the
pixels of ``COCO.annToMask``.

The file
--------
* ``images``: ``id``, ``file_name`` (relative to the JSON's folder), ``width``,
  ``height``; ``attributes`` holds the image-level answers when there are any.
* ``categories``: the ontology's classes in order, ids ``1..n`` (or those they
  were read with): ``name``,
  ``supercategory`` (``"object"``), and Labelbox's ``featureSchemaId`` and
  ``color``.
* ``annotations``: one per instance with pixels: ``id``, ``image_id``,
  ``category_id``, ``segmentation`` (compressed RLE ``{"size": [h, w],
  "counts": "..."}``, or polygons on request), ``area`` (the pixel count),
  ``bbox`` ``[x, y, width, height]`` in pixels, ``iscrowd`` (1 for a crowd
  region, whose segmentation is uncompressed RLE, as COCO's are), and
  ``attributes``: the answers as a readable dict (see
  :func:`readable_answers`) plus ``label_id`` and ``featureId`` (reserved keys).
  What another tool wrote that is no answer is written back as it was read:
  free attributes, other annotation, image, category and top-level keys
  (``info``, ``licenses``: the first file's value wins, licenses united by
  ``id``), annotations with a ``bbox`` but no segmentation (after the
  instances of their image), annotations empty or covered by later ones (in
  file order), and the ``segmentation``, ``area``, ``bbox``, ``iscrowd`` and
  ``id`` of every instance whose pixels are those it was read with (a digest
  over its bounding box, :data:`ORIGINALS_SOURCE`); an edited instance is
  written from its pixels. Image, annotation and category ids read are kept
  when unique.
* ``labelbox_ontology``: the full Labelbox ontology JSON, so nested questions,
  colours and ids survive a round trip (COCO readers ignore unknown keys).
* ``napari_segtool`` on an annotation or an image: its locks and hidden flags,
  only when set (see :mod:`.toolkit.flags`).

Polygons (``segmentation="polygons"``) follow :mod:`.polygons`: pixel-corner
outlines, one flat list per 4-connected component, holes joined by keyhole
bridges. With ``tolerance=0`` they rasterise back (``pycocotools``) to exactly
the instance's pixels.

Import
------
:func:`parse_coco` rebuilds the ontology (the embedded one when present,
otherwise one class per category, reusing ``featureSchemaId`` and ``color``
when the category has them), one label image per COCO image and its
:class:`~napari_segtool.model.document.Document`. Annotations are painted in file
order, crowd regions (``iscrowd`` 1) first: where they overlap the later one
wins, with a :class:`CocoWarning`. Attributes that match a question become
answers, the others are kept in ``Instance.extra`` (one warning names them);
annotations with a ``bbox`` and no segmentation are kept in the document's
``source`` (the reader shows them as rectangles), as are annotations without
a pixel of their own in the layer (empty or covered), with a warning. Panoptic COCO is refused by
name. Bad input raises :class:`CocoError` naming the file and the problem,
before anything is built.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import math
import warnings
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_segtool.formats.coco_raster import coco_polygons_pixels
from napari_segtool.formats.planes import SOURCE_KEY as PLANE_SOURCE
from napari_segtool.formats.planes import PlaneError, plane_of, row_flags
from napari_segtool.formats.polygons import bounding_boxes, coco_polygon, mask_polygons
from napari_segtool.formats.toolkit.atomic import atomic_write_text
from napari_segtool.formats.toolkit.flags import (
    FLAGS_KEY,
    instance_flags,
    read_class_flags,
    read_instance_flags,
)
from napari_segtool.formats.toolkit.names import find_named, name_key, unique_name
from napari_segtool.formats.toolkit.values import class_colour, is_int, shown
from napari_segtool.model.answers import Answers, Parents, Step, build_answers, flatten_answers
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ids import new_cuid
from napari_segtool.model.label_store import label_store
from napari_segtool.model.ontology import (
    DEFAULT_TOOL,
    ObjectClass,
    Ontology,
    OntologyError,
    Option,
    Question,
)

SEGMENTATION_KINDS = ("rle", "polygons")
ONTOLOGY_KEY = "labelbox_ontology"
#: keys of an annotation's ``attributes`` that are not answers
RESERVED_ATTRIBUTES = ("label_id", "featureId")
SUPERCATEGORY = "object"
#: annotation, image and category keys the reader models; any other key is kept as it
#: was (``Instance.extra``, the document's ``source``) and written back
# (our flags' key is read and written by .toolkit.flags, never kept as another tool's key)
ANNOTATION_KEYS = frozenset(
    (
        "id",
        "image_id",
        "category_id",
        "segmentation",
        "area",
        "bbox",
        "iscrowd",
        "attributes",
        FLAGS_KEY,
    )
)
IMAGE_KEYS = frozenset(("id", "file_name", "width", "height", FLAGS_KEY))
CATEGORY_KEYS = frozenset(("id", "name", "featureSchemaId", "color"))
#: ``document.source`` keys: annotations with a box and no segmentation (written back as
#: they were), the image entry's other keys, the categories' other keys by class id
BOXES_SOURCE = "coco_boxes"
IMAGE_SOURCE = "coco_image"
CATEGORIES_SOURCE = "coco_categories"
#: the category id each class was read with (``featureSchemaId -> id``), kept on writing
CATEGORY_IDS_SOURCE = "coco_category_ids"
#: per instance read (by featureId): the annotation's own segmentation, area, bbox, id and
#: file position, and a digest of its pixels as they ended up in the layer; an instance
#: whose pixels still match is written back with what the file said, not re-encoded
ORIGINALS_SOURCE = "coco_originals"
#: annotations empty or entirely covered by later ones: kept as they were, written back
COVERED_SOURCE = "coco_covered"
#: the file's top-level keys other than the lists it is made of (``info``, ``licenses``...)
FILE_SOURCE = "coco_file"
#: the top-level keys the reader models (every other one is kept in ``FILE_SOURCE``)
TOP_KEYS = frozenset(("images", "annotations", "categories", ONTOLOGY_KEY))
_PATH_SEPARATOR = " > "
#: 13 five-bit chunks hold a 64-bit run length: the most ``pycocotools`` decodes
_RLE_MAX_SHIFT = 60
#: the largest image the reader allocates a label array for (2**31 pixels)
MAX_PIXELS = 1 << 31


class CocoError(ValueError):
    """A COCO file (or export request) that cannot be used; names the file and the problem."""

    def __init__(self, source: str | None, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}" if source else problem)


class CocoWarning(UserWarning):
    """Something in a COCO file or export that was handled but deserves attention."""


# -- RLE ---------------------------------------------------------------------------------
def rle_counts(crop: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> list[int]:
    """COCO run lengths of a mask given as its crop.

    ``crop`` is the boolean mask inside the window that starts at ``origin``
    (row, column) of an image of ``shape``; everything outside is background.
    Runs go down the columns (Fortran order) and start with background.
    """
    height, width = shape
    r0, c0 = origin
    crop = np.asarray(crop, dtype=bool)
    step = np.diff(crop.astype(np.int8), axis=0, prepend=0, append=0)
    # transposed so that nonzero() walks column by column, as COCO's runs do
    start_cols, start_rows = np.nonzero(step.T == 1)
    end_cols, end_rows = np.nonzero(step.T == -1)
    starts = (c0 + start_cols).astype(np.int64) * height + r0 + start_rows
    ends = (c0 + end_cols).astype(np.int64) * height + r0 + end_rows
    if len(starts) == 0:
        return [height * width]
    # a run reaching the bottom of a column continues at the top of the next one
    joined = starts[1:] == ends[:-1]
    if joined.any():
        starts = starts[np.concatenate(([True], ~joined))]
        ends = ends[np.concatenate((~joined, [True]))]
    counts = np.empty(2 * len(starts), dtype=np.int64)
    counts[0] = starts[0]
    counts[1::2] = ends - starts
    counts[2::2] = starts[1:] - ends[:-1]
    tail = height * width - int(ends[-1])
    return counts.tolist() + ([tail] if tail else [])


def compress_counts(counts: Sequence[int]) -> str:
    """COCO's compressed RLE string (``pycocotools``' ``rleToString``)."""
    chars: list[str] = []
    for index, count in enumerate(counts):
        value = int(count) - (int(counts[index - 2]) if index > 2 else 0)
        more = True
        while more:
            chunk = value & 0x1F
            value >>= 5
            more = value != -1 if chunk & 0x10 else value != 0
            if more:
                chunk |= 0x20
            chars.append(chr(chunk + 48))
    return "".join(chars)


def decompress_counts(text: str) -> list[int]:
    """Run lengths from COCO's compressed RLE string (``rleFrString``)."""
    counts: list[int] = []
    position, length = 0, len(text)
    while position < length:
        value, shift, more = 0, 0, True
        while more:
            if position >= length:
                raise ValueError("the RLE string ends in the middle of a number")
            if shift > _RLE_MAX_SHIFT:
                # pycocotools keeps runs in 64-bit integers; longer numbers are garbage
                # (and would make this loop quadratic in big-integer arithmetic)
                raise ValueError("a number in the RLE string is longer than 64 bits")
            chunk = ord(text[position]) - 48
            if not 0 <= chunk < 64:
                raise ValueError(f"character {text[position]!r} cannot appear in an RLE string")
            value |= (chunk & 0x1F) << shift
            more = bool(chunk & 0x20)
            position += 1
            shift += 5
            if not more and chunk & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """A full-size boolean mask as compressed COCO RLE (like ``pycocotools.mask.encode``)."""
    mask = np.asarray(mask, dtype=bool)
    counts = rle_counts(mask, (0, 0), mask.shape)
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": compress_counts(counts)}


def rle_pixels(counts: Sequence[int], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of the foreground of COCO run lengths (never builds a full mask)."""
    height, _ = shape
    counts = np.asarray(counts, dtype=np.int64)
    ends = np.cumsum(counts)
    starts = ends - counts
    run_starts, run_lengths = starts[1::2], counts[1::2]
    keep = run_lengths > 0
    run_starts, run_lengths = run_starts[keep], run_lengths[keep]
    total = int(run_lengths.sum())
    offsets = np.repeat(run_starts - (np.cumsum(run_lengths) - run_lengths), run_lengths)
    linear = np.arange(total, dtype=np.int64) + offsets
    return linear % height, linear // height


def decode_rle(segmentation: dict[str, Any]) -> np.ndarray:
    """A COCO RLE (compressed or not) as a full-size boolean mask."""
    height, width = (int(v) for v in segmentation["size"])
    counts = segmentation["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    if isinstance(counts, str):
        counts = decompress_counts(counts)
    mask = np.zeros((height, width), dtype=bool)
    mask[rle_pixels(counts, (height, width))] = True
    return mask


def polygon_pixels(
    polygons: Sequence[Sequence[float]], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` inside COCO polygon lists: exactly ``pycocotools``' ``annToMask``.

    See :mod:`.coco_raster`: the same rounding as ``pycocotools``, in image
    coordinates, costing only the columns the outlines cross.
    """
    return coco_polygons_pixels(polygons, shape)


# -- answers ---------------------------------------------------------------------------
def readable_answers(questions: Sequence[Question], answers: Answers) -> dict[str, Any]:
    """Answers keyed by question name instead of id, flat, for people and other tools.

    Text answers are strings, radio and dropdown answers the option's label,
    checklist answers a list of labels. A nested question's key is its path,
    ``"Question > Option > Nested question"``.
    """
    return flatten_answers(list(questions), answers, _PATH_SEPARATOR)


def answers_from_readable(questions: Sequence[Question], readable: dict[str, Any]) -> Answers:
    """The inverse of :func:`readable_answers` (unknown keys and options are ignored).

    Question names in the keys and option labels match by the toolkit's name
    rule (:mod:`.toolkit.names`: case and surrounding spaces do not matter).
    """
    by_key = {name_key(k): v for k, v in readable.items() if isinstance(k, str)}

    def choose(question: Question, parents: Parents) -> Any:
        value = by_key.get(name_key(Step(question, parents).path(_PATH_SEPARATOR)))
        if question.type == "text" or value is None:
            return value
        labels = value if isinstance(value, list) else [value]
        found = (_option_named(question, label) for label in labels)
        return {option.feature_schema_id for option in found if option is not None}

    return build_answers(list(questions), choose)


def _option_named(question: Question, label: Any) -> Option | None:
    """The option whose label (or value) ``label`` is."""
    if not isinstance(label, str):
        return None
    return question.option_by_value(label) or find_named(question.options, label, name_of=_label)


def _label(option: Option) -> str:
    return option.label


# -- export ----------------------------------------------------------------------------
@dataclass
class CocoImageInput:
    """One annotated image to export: its label pixels, document and file name."""

    labels: np.ndarray
    document: Document
    file_name: str


def merge_ontologies(ontologies: Sequence[Ontology]) -> Ontology:
    """One ontology holding every class and image question, matched by ``featureSchemaId``.

    Two different classes (different ids) with the same name cannot share a
    COCO file: their categories would be indistinguishable by name.
    """
    if not ontologies:
        return Ontology()
    merged = Ontology.from_dict(ontologies[0].to_dict())
    for ontology in ontologies[1:]:
        for cls_ in ontology.classes:
            if merged.class_by_id(cls_.feature_schema_id) is not None:
                continue
            same_name = find_named(merged.classes, cls_.name)
            if same_name is not None:
                raise CocoError(
                    None,
                    f"two different classes are both named {cls_.name!r} "
                    f"({same_name.feature_schema_id} and {cls_.feature_schema_id}); "
                    "use one ontology for the layers exported together",
                )
            merged.classes.append(ObjectClass.from_dict(cls_.to_dict(), "tools"))
        for question in ontology.questions:
            known = {q.feature_schema_id for q in merged.questions}
            if question.feature_schema_id not in known and not find_named(
                merged.questions, question.name
            ):
                merged.questions.append(Question.from_dict(question.to_dict(), "classifications"))
    merged.validate()
    return merged


def build_coco(
    images: Sequence[CocoImageInput],
    *,
    segmentation: str = "rle",
    tolerance: float = 0.0,
    description: str = "napari-segtool export",
) -> dict[str, Any]:
    """The COCO dict for ``images`` (see the module docstring for its layout).

    ``segmentation`` is ``"rle"`` (exact, the default) or ``"polygons"``
    (exact at ``tolerance=0``; simplified in pixels otherwise). Painted ids
    that the document does not know (no class) are left out with a
    :class:`CocoWarning`; instances without pixels are left out.
    """
    _check_segmentation(segmentation)
    parts = [
        coco_image_part(entry, segmentation=segmentation, tolerance=tolerance) for entry in images
    ]
    return assemble_coco(parts, description=description)


def _check_segmentation(segmentation: str) -> None:
    if segmentation not in SEGMENTATION_KINDS:
        raise CocoError(
            None,
            f"segmentation must be one of {', '.join(SEGMENTATION_KINDS)}, not {segmentation!r}",
        )


def coco_image_part(
    entry: CocoImageInput, *, segmentation: str = "rle", tolerance: float = 0.0
) -> dict[str, Any]:
    """What one image contributes to a COCO file, before ids are given (plain values).

    ``image`` (no ``id``), ``placed``: the image's annotations in file order as
    ``[position, order, id read, schema id, annotation]`` (instances written from
    their pixels or, when unchanged since reading, as read; annotations kept as
    read: covered ones and boxes), and what the file keeps of the documents read
    (ontology, category ids and keys, top-level keys). Holds no pixels, so many
    images are built apart (one per task) and joined by :func:`assemble_coco`.
    """
    _check_segmentation(segmentation)
    # a chunked array stays chunked: boxes in one pass, then each instance's box alone
    labels = label_store(entry.labels)
    if labels.ndim != 2:
        raise CocoError(None, f"{entry.file_name}: COCO needs 2D labels, got {labels.ndim}D")
    height, width = (int(n) for n in labels.shape)
    document = entry.document
    image_extra = _without(document.source.get(IMAGE_SOURCE), IMAGE_KEYS)
    free_image_attributes = image_extra.pop("attributes", None)
    image: dict[str, Any] = {
        "file_name": entry.file_name,
        "width": width,
        "height": height,
        **image_extra,
        **row_flags(document),
    }
    image_answers = _with_free(
        readable_answers(document.ontology.questions, document.image_answers),
        free_image_attributes,
    )
    if image_answers:
        image["attributes"] = image_answers
    boxes = bounding_boxes(labels)
    unknown = sorted(set(boxes) - set(document.instances))
    if unknown:
        warnings.warn(
            f"{entry.file_name}: label ids {_short(unknown)} have no class and are not "
            "exported; give them a class first",
            CocoWarning,
            stacklevel=2,
        )
    originals = document.source.get(ORIGINALS_SOURCE)
    originals = originals if isinstance(originals, dict) else {}
    placed: list[list[Any]] = []
    for label_id in sorted(set(boxes) & set(document.instances)):
        instance = document.instances[label_id]
        rows, cols = boxes[label_id]
        crop = labels.mask_of(label_id, (rows, cols))
        record = originals.get(instance.feature_id)
        record = record if isinstance(record, dict) else {}
        original = record.get("annotation")
        original = original if isinstance(original, dict) else {}
        unchanged = bool(original) and (
            record.get("digest")
            == pixels_digest(crop, [rows.start, cols.start, rows.stop, cols.stop])
            and instance.crowd == _is_crowd(original)
        )
        cls_ = document.ontology.class_by_id(instance.schema_id)
        if unchanged:
            segm: Any = copy.deepcopy(original.get("segmentation"))
        elif instance.crowd:  # COCO's crowd regions are uncompressed RLE
            counts = rle_counts(crop, (rows.start, cols.start), (height, width))
            segm = {"size": [height, width], "counts": counts}
        elif segmentation == "rle":
            counts = rle_counts(crop, (rows.start, cols.start), (height, width))
            segm = {"size": [height, width], "counts": compress_counts(counts)}
        else:
            polygons = mask_polygons(crop, tolerance, offset=(cols.start, rows.start))
            segm = [coco_polygon(p) for p in polygons]
        extra = _without(instance.extra, ANNOTATION_KEYS | {"featureId"})
        attributes = _with_free(
            readable_answers(cls_.questions if cls_ else [], instance.answers),
            instance.extra.get("attributes"),
        )
        # another tool's annotation gets none of our keys (it did not have them)
        if not original or record.get("reserved"):
            attributes.update(label_id=label_id, featureId=instance.feature_id)
        annotation: dict[str, Any] = {
            "id": None,
            "image_id": None,
            "category_id": None,
            "segmentation": segm,
            "area": int(np.count_nonzero(crop)),
            "bbox": [
                float(cols.start),
                float(rows.start),
                float(cols.stop - cols.start),
                float(rows.stop - rows.start),
            ],
            "iscrowd": 1 if instance.crowd else 0,
            **({"attributes": attributes} if attributes or record.get("attributes", 1) else {}),
            **extra,
            **instance_flags(instance),
        }
        if unchanged:
            annotation.pop("iscrowd")
            annotation.update(
                {
                    k: copy.deepcopy(original[k])
                    for k in ("area", "bbox", "iscrowd")
                    if k in original
                }
            )
        position = record.get("position")
        placed.append(
            [
                position if is_int(position) else math.inf,
                label_id,
                original.get("id"),
                instance.schema_id,
                annotation,
            ]
        )
    for source_key, what in ((COVERED_SOURCE, "covered"), (BOXES_SOURCE, "box")):
        for position, read_id, schema_id, annotation in _kept_annotations(
            document, source_key, entry.file_name, what
        ):
            if source_key == BOXES_SOURCE:  # after the masks, in their order
                placed.append([math.inf, math.inf, read_id, schema_id, annotation])
            else:
                placed.append([position, 0, read_id, schema_id, annotation])
    # file order: where annotations overlap, the later one wins again on the next read
    placed.sort(key=lambda p: (p[0], p[1]))
    kept_extra = document.source.get(CATEGORIES_SOURCE)
    return {
        "image": image,
        "image_id": document.source.get("coco_image_id"),
        "placed": placed,
        "ontology": document.ontology.to_dict(),
        "category_ids": copy.deepcopy(document.source.get(CATEGORY_IDS_SOURCE)),
        "category_extra": {
            schema_id: copy.deepcopy(extra)
            for schema_id, extra in (kept_extra if isinstance(kept_extra, dict) else {}).items()
            if isinstance(extra, dict)
        },
        "file_keys": copy.deepcopy(document.source.get(FILE_SOURCE)),
    }


def assemble_coco(
    parts: Sequence[dict[str, Any]], *, description: str = "napari-segtool export"
) -> dict[str, Any]:
    """One COCO dict from :func:`coco_image_part` results, in their order: image,
    annotation and category ids given here (the ids read where they are free)."""
    ontology = merge_ontologies([Ontology.from_dict(part["ontology"]) for part in parts])
    read_ids: dict[str, Any] = {}  # the category id each class was read with
    for part in parts:
        kept = part["category_ids"]
        for schema_id, cat_id in (kept if isinstance(kept, dict) else {}).items():
            read_ids.setdefault(schema_id, cat_id)
    category_ids = _assign_ids([read_ids.get(c.feature_schema_id) for c in ontology.classes])
    category_of = {
        cls_.feature_schema_id: n for n, cls_ in zip(category_ids, ontology.classes, strict=True)
    }
    category_extra: dict[str, dict[str, Any]] = {}
    for part in parts:
        for schema_id, extra in part["category_extra"].items():
            category_extra.setdefault(schema_id, extra)
    categories = [
        {
            "id": n,
            "name": cls_.name,
            "supercategory": SUPERCATEGORY,
            **_without(category_extra.get(cls_.feature_schema_id), CATEGORY_KEYS),
            "featureSchemaId": cls_.feature_schema_id,
            "color": cls_.color,
        }
        for n, cls_ in zip(category_ids, ontology.classes, strict=True)
    ]
    coco_images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    wanted_ids: list[Any] = []  # per annotation, the id it was read with
    image_ids = _assign_ids([part["image_id"] for part in parts])
    for image_id, part in zip(image_ids, parts, strict=True):
        coco_images.append({"id": image_id, **part["image"]})
        lost = 0
        for _, _, read_id, schema_id, annotation in part["placed"]:
            category_id = category_of.get(schema_id)
            if category_id is None:
                lost += 1
                continue
            annotations.append({**annotation, "image_id": image_id, "category_id": category_id})
            wanted_ids.append(read_id)
        if lost:
            warnings.warn(
                f"{part['image']['file_name']}: {lost} annotation(s) whose class is no longer "
                "in the ontology are not exported",
                CocoWarning,
                stacklevel=2,
            )
    for annotation, annotation_id in zip(annotations, _assign_ids(wanted_ids), strict=True):
        annotation["id"] = annotation_id
    kept_keys = merge_file_keys([part["file_keys"] for part in parts])
    now = _dt.datetime.now(_dt.UTC)
    return {
        "info": {
            "description": description,
            "version": "1.0",
            "year": now.year,
            "contributor": "napari-segtool",
            "date_created": now.isoformat(timespec="seconds"),
        },
        "licenses": [],
        **kept_keys,
        "images": coco_images,
        "annotations": annotations,
        "categories": categories,
        ONTOLOGY_KEY: ontology.to_dict(),
    }


def merge_file_keys(kept: Sequence[Any]) -> dict[str, Any]:
    """The top-level keys of the files read (``FILE_SOURCE`` of each document) as one:
    the first file's value of a key wins, except ``licenses``, united by ``id``."""
    merged: dict[str, Any] = {}
    for keys in kept:
        for key, value in (keys if isinstance(keys, dict) else {}).items():
            if key in TOP_KEYS:
                continue
            if key not in merged:
                merged[key] = copy.deepcopy(value)
            elif key == "licenses" and isinstance(value, list) and isinstance(merged[key], list):
                known = [_license_key(v) for v in merged[key]]
                merged[key] += [copy.deepcopy(v) for v in value if _license_key(v) not in known]
    return merged


def _license_key(license_: Any) -> Any:
    if isinstance(license_, dict) and "id" in license_:
        return ("id", json.dumps(license_["id"], sort_keys=True))
    return ("value", json.dumps(license_, sort_keys=True, default=str))


def _assign_ids(wanted: Sequence[Any]) -> list[int]:
    """The ids asked for where they are integers used once; fresh ones (above all) for the rest."""
    taken: set[int] = set()
    claimed: list[int | None] = []
    for value in wanted:
        if is_int(value) and value not in taken:
            taken.add(value)
            claimed.append(value)
        else:
            claimed.append(None)
    next_id = max(taken, default=0) + 1
    assigned: list[int] = []
    for value in claimed:
        if value is None:
            value, next_id = next_id, next_id + 1
        assigned.append(value)
    return assigned


def _kept_annotations(
    document: Document, key: str, file_name: str, what: str
) -> list[tuple[float, Any, Any, dict[str, Any]]]:
    """The annotations the document kept as read (``key`` of its source), as they were:
    ``(position in the file, id read, class schema id, annotation)``; ids, image and
    category are set when the parts are joined."""
    kept = document.source.get(key)
    written: list[tuple[float, Any, Any, dict[str, Any]]] = []
    lost = 0
    for entry in kept if isinstance(kept, list) else []:
        annotation = entry.get("annotation") if isinstance(entry, dict) else None
        if not isinstance(annotation, dict):
            lost += 1
            continue
        position = entry.get("position")
        written.append(
            (
                position if is_int(position) else math.inf,
                annotation.get("id"),
                entry.get("schema_id"),
                {**copy.deepcopy(annotation), "id": None},
            )
        )
    if lost:
        warnings.warn(
            f"{file_name}: {lost} {what} annotation(s) kept from reading are damaged and "
            "not exported",
            CocoWarning,
            stacklevel=3,
        )
    return written


def _without(values: Any, keys: Container[str]) -> dict[str, Any]:
    """A deep copy of the dict ``values`` without ``keys`` (``{}`` for anything else)."""
    if not isinstance(values, dict):
        return {}
    return {k: copy.deepcopy(v) for k, v in values.items() if k not in keys}


def _with_free(answers: dict[str, Any], free: Any) -> dict[str, Any]:
    """The free attributes kept from another tool, then the answers (which win by name)."""
    if not isinstance(free, dict):
        return answers
    answered = {name_key(k) for k in answers}
    kept = {k: copy.deepcopy(v) for k, v in free.items() if name_key(k) not in answered}
    return {**kept, **answers}


def write_coco_json(path: str | Path, coco: dict[str, Any]) -> None:
    """Write atomically: a reader sees the previous file or the whole new one."""
    atomic_write_text(Path(path), json.dumps(coco, ensure_ascii=False) + "\n")


# -- import ----------------------------------------------------------------------------
@dataclass
class CocoImage:
    """One imported image: its COCO entry, label pixels and document."""

    image_id: int
    file_name: str
    width: int
    height: int
    labels: np.ndarray
    document: Document
    #: COCO annotation ids -> label ids they became
    label_ids: dict[Any, int] = field(default_factory=dict)


def is_coco(data: Any) -> bool:
    """Does this parsed JSON look like COCO (the sniff the reader uses)?"""
    return isinstance(data, dict) and all(
        isinstance(data.get(key), list) for key in ("images", "annotations", "categories")
    )


def sniff_coco_file(path: str | Path) -> dict[str, Any] | None:
    """The parsed file when it is COCO JSON, else ``None`` (cheap for a JSON list)."""
    try:
        data = read_json_file(path, only_objects=True)
    except CocoError:
        return None
    return data if is_coco(data) else None


def read_json_file(path: str | Path, *, only_objects: bool = False) -> Any:
    """The parsed JSON of ``path``; :class:`CocoError` names the file and the problem.

    ``only_objects`` returns ``None`` without reading further when the text is
    not a JSON object (a Labelbox export is a list): the sniff stays cheap.
    """
    path = Path(path)
    # a FIFO or a device would block the open or never end: regular files only
    if not path.is_file():
        raise CocoError(str(path), "not a file")
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
            if only_objects and not head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
                return None
            return json.loads(head + handle.read())
    except OSError as err:
        raise CocoError(str(path), f"cannot read the file ({err.strerror or err})") from None
    except ValueError as err:  # also bad UTF-8, and integers with thousands of digits
        raise CocoError(str(path), f"not valid JSON ({err})") from None
    except RecursionError:
        raise CocoError(str(path), "not usable JSON (nested too deeply)") from None


def load_coco(path: str | Path) -> tuple[list[CocoImage], Ontology]:
    """Read and parse a COCO file; :class:`CocoError` names the file on any problem."""
    return parse_coco(read_json_file(path), str(path))


def parse_coco(
    data: Any, source: str | None = None, *, only_images: Container[int] | None = None
) -> tuple[list[CocoImage], Ontology]:
    """Label images and documents from a parsed COCO dict (see the module docstring).

    ``only_images`` (positions in the ``images`` list) builds only those label
    images, for batch tools that give each image its own task; the whole file is
    checked all the same.
    """
    if not is_coco(data):
        raise CocoError(
            source,
            "not a COCO file: expected an object with 'images', 'annotations' and "
            "'categories' lists",
        )
    if any(isinstance(a, dict) and "segments_info" in a for a in data["annotations"]):
        raise CocoError(
            source,
            "panoptic COCO (annotations with 'segments_info' and PNG segment images) is not "
            "supported; open a COCO instance segmentation file (instances_*.json) instead",
        )
    categories = _parse_categories(data["categories"], source)
    ontology, class_of_category = _rebuild_ontology(data.get(ONTOLOGY_KEY), categories, source)
    images = _parse_images(data["images"], source)
    by_image: dict[int, list[tuple[int, dict[str, Any]]]] = {image_id: [] for image_id in images}
    annotation_ids: set[int] = set()
    for index, annotation in enumerate(data["annotations"]):
        path = f"annotations[{index}]"
        if not isinstance(annotation, dict):
            raise CocoError(source, f"{path}: expected an object")
        # ids are checked to be integers first: a list or dict cannot even be looked up,
        # and True would pass for 1
        for key in ("id", "image_id", "category_id"):
            value = annotation.get(key)
            if not is_int(value):
                raise CocoError(source, f"{path}.{key}: must be an integer, not {shown(value)}")
        # pycocotools would keep one of two annotations with one id: refuse rather than lose one
        annotation_ids.add(_new_id(annotation["id"], annotation_ids, source, path, "annotation"))
        image_id = annotation["image_id"]
        if image_id not in images:
            raise CocoError(source, f"{path}.image_id: no image has id {shown(image_id)}")
        if annotation["category_id"] not in class_of_category:
            raise CocoError(
                source,
                f"{path}.category_id: no category has id {shown(annotation['category_id'])}",
            )
        by_image[image_id].append((index, annotation))
    category_extra = {
        class_of_category[cat_id]: {k: v for k, v in category.items() if k not in CATEGORY_KEYS}
        for cat_id, category in categories.items()
    }
    free: dict[str, None] = {}  # attribute names kept as free values, in file order
    results = [
        _build_image(
            images[image_id], by_image[image_id], ontology, class_of_category, source, free
        )
        for position, image_id in enumerate(images)
        if only_images is None or position in only_images
    ]
    top_level = {k: v for k, v in data.items() if k not in TOP_KEYS}
    category_ids: dict[str, int] = {}
    for cat_id, schema_id in class_of_category.items():
        category_ids.setdefault(schema_id, cat_id)
    for image in results:
        image.document.source[CATEGORIES_SOURCE] = copy.deepcopy(category_extra)
        image.document.source[CATEGORY_IDS_SOURCE] = dict(category_ids)
        image.document.source[FILE_SOURCE] = copy.deepcopy(top_level)
    if free:
        warnings.warn(
            f"{source}: attributes {_short(list(free))} match no question of the ontology and "
            "are kept per instance as free values (written back unchanged on save)",
            CocoWarning,
            stacklevel=2,
        )
    boxes = sum(len(image.document.source.get(BOXES_SOURCE, ())) for image in results)
    if boxes:
        warnings.warn(
            f"{source}: {boxes} annotation(s) with a bbox and no segmentation were opened as "
            "rectangles (Shapes layers), not masks; they are written back unchanged on save",
            CocoWarning,
            stacklevel=2,
        )
    return results, ontology


def _parse_categories(raw: list[Any], source: str | None) -> dict[int, dict[str, Any]]:
    categories: dict[int, dict[str, Any]] = {}
    for index, category in enumerate(raw):
        path = f"categories[{index}]"
        if not isinstance(category, dict):
            raise CocoError(source, f"{path}: expected an object")
        cat_id = _new_id(category.get("id"), categories, source, path, "category")
        name = category.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CocoError(source, f"{path}.name: a category needs a non-empty name")
        categories[cat_id] = category
    return categories


def _rebuild_ontology(
    embedded: Any, categories: dict[int, dict[str, Any]], source: str | None
) -> tuple[Ontology, dict[int, str]]:
    """The ontology and ``category id -> class featureSchemaId``."""
    if embedded is not None:
        try:
            ontology = Ontology.from_dict(embedded)
        except OntologyError as err:
            raise CocoError(source, f"{ONTOLOGY_KEY}: {err}") from None
        except RecursionError:
            raise CocoError(source, f"{ONTOLOGY_KEY}: nested too deeply") from None
    else:
        ontology = Ontology()
    class_of_category: dict[int, str] = {}
    for cat_id, category in categories.items():
        schema_id = category.get("featureSchemaId")
        cls_ = ontology.class_by_id(schema_id) if isinstance(schema_id, str) else None
        if cls_ is None:  # by name, among the classes no other category has claimed
            claimed = set(class_of_category.values())
            free = [c for c in ontology.classes if c.feature_schema_id not in claimed]
            cls_ = find_named(free, category["name"])
        if cls_ is None:
            cls_ = ObjectClass(
                name=unique_name(category["name"], (c.name for c in ontology.classes)),
                color=class_colour(category.get("color"), len(ontology.classes)),
                tool=DEFAULT_TOOL,
                feature_schema_id=schema_id if isinstance(schema_id, str) else "",
            )
            ontology.classes.append(cls_)
        class_of_category[cat_id] = cls_.feature_schema_id
    try:
        ontology.validate()
    except OntologyError as err:
        raise CocoError(source, f"categories: {err}") from None
    return ontology, class_of_category


def _parse_images(raw: list[Any], source: str | None) -> dict[int, dict[str, Any]]:
    images: dict[int, dict[str, Any]] = {}
    for index, image in enumerate(raw):
        path = f"images[{index}]"
        if not isinstance(image, dict):
            raise CocoError(source, f"{path}: expected an object")
        image_id = _new_id(image.get("id"), images, source, path, "image")
        for key in ("width", "height"):
            value = image.get(key)
            if not is_int(value) or value <= 0:
                raise CocoError(
                    source, f"{path}.{key}: must be a positive integer, not {shown(value)}"
                )
        if image["width"] * image["height"] > MAX_PIXELS:
            raise CocoError(
                source,
                f"{path}: {shown(image['width'])} x {shown(image['height'])} pixels is more "
                f"than this reader builds in memory ({MAX_PIXELS:,} pixels)",
            )
        file_name = image.get("file_name", "")
        if not isinstance(file_name, str):
            raise CocoError(source, f"{path}.file_name: must be a string, not {shown(file_name)}")
        images[image_id] = image
    return images


def _build_image(
    image: dict[str, Any],
    annotations: list[tuple[int, dict[str, Any]]],
    ontology: Ontology,
    class_of_category: dict[int, str],
    source: str | None,
    free: dict[str, None],
) -> CocoImage:
    height, width = image["height"], image["width"]
    ontology = Ontology.from_dict(ontology.to_dict())  # each document owns its ontology
    boxes: list[dict[str, Any]] = []
    masks: list[dict[str, Any]] = []
    positions: list[int] = []  # each mask's place among the image's annotations
    pixels: list[tuple[np.ndarray, np.ndarray]] = []
    for position, (index, annotation) in enumerate(annotations):
        path = f"annotations[{index}]"
        if _is_box_only(annotation, source, path):
            schema_id = class_of_category[annotation["category_id"]]
            boxes.append({"schema_id": schema_id, "annotation": copy.deepcopy(annotation)})
        else:
            masks.append(annotation)
            positions.append(position)
            pixels.append(_annotation_pixels(annotation, (height, width), source, path))
    label_ids = _choose_label_ids(masks)
    largest = max(label_ids, default=0)
    labels = np.zeros((height, width), dtype=np.uint16 if largest <= 0xFFFF else np.uint32)
    overlapped: list[Any] = []
    # crowd regions lie beneath the objects they hold (COCO draws people over their crowd):
    # painted first, so that the individual objects win where they overlap
    order = sorted(range(len(masks)), key=lambda n: not _is_crowd(masks[n]))
    for n in order:
        annotation, (rows, cols), label_id = masks[n], pixels[n], label_ids[n]
        if np.any(labels[rows, cols]):
            overlapped.append(annotation.get("id"))
        labels[rows, cols] = label_id
    if overlapped:
        warnings.warn(
            f"{source}: image {image['id']}: annotations {_short(overlapped)} overlap earlier "
            "ones; the later annotation wins where they overlap",
            CocoWarning,
            stacklevel=3,
        )
    # per annotation, not a scan of the image: most images of a detection export are empty
    present = {
        label_id
        for (rows, cols), label_id in zip(pixels, label_ids, strict=True)
        if np.any(labels[rows, cols] == label_id)
    }
    hidden = [a.get("id") for a, i in zip(masks, label_ids, strict=True) if i not in present]
    if hidden:
        warnings.warn(
            f"{source}: image {image['id']}: annotations {_short(hidden)} are empty or entirely "
            "covered by later ones; they are not in the layer but are kept and written back "
            "unchanged on save",
            CocoWarning,
            stacklevel=3,
        )
    instances: list[Instance] = []
    feature_ids: set[str] = set()
    mapping: dict[Any, int] = {}
    originals: dict[str, dict[str, Any]] = {}
    covered: list[dict[str, Any]] = []
    for annotation, label_id, position, (rows, cols) in zip(
        masks, label_ids, positions, pixels, strict=True
    ):
        if label_id not in present:
            covered.append(
                {
                    "schema_id": class_of_category[annotation["category_id"]],
                    "position": position,
                    "annotation": copy.deepcopy(annotation),
                }
            )
            continue
        schema_id = class_of_category[annotation["category_id"]]
        attributes = annotation.get("attributes")
        attributes = attributes if isinstance(attributes, dict) else {}
        feature_id = attributes.get("featureId", annotation.get("featureId"))
        if not isinstance(feature_id, str) or not feature_id or feature_id in feature_ids:
            feature_id = new_cuid()
        feature_ids.add(feature_id)
        questions = ontology.class_by_id(schema_id).questions
        answers, unmatched = _answers_and_free(
            questions, {k: v for k, v in attributes.items() if k not in RESERVED_ATTRIBUTES}
        )
        free.update(dict.fromkeys(unmatched))
        extra = {k: copy.deepcopy(v) for k, v in annotation.items() if k not in ANNOTATION_KEYS}
        extra.pop("featureId", None)
        if unmatched:
            extra["attributes"] = unmatched
        instance = Instance(
            label_id, schema_id, feature_id, answers, crowd=_is_crowd(annotation), extra=extra
        )
        instances.append(read_instance_flags(instance, annotation))
        mapping[annotation.get("id")] = label_id
        originals[feature_id] = _original(annotation, position, labels, label_id, rows, cols)
    image_attributes = image.get("attributes")
    image_answers: Answers = {}
    image_extra = {k: copy.deepcopy(v) for k, v in image.items() if k not in IMAGE_KEYS}
    image_extra.pop("attributes", None)
    if isinstance(image_attributes, dict):
        image_answers, unmatched = _answers_and_free(ontology.questions, image_attributes)
        if unmatched:
            image_extra["attributes"] = unmatched
    file_name = image.get("file_name", "")
    try:
        plane = plane_of(file_name, image, f"{source}: image {image['id']}")
    except PlaneError as err:
        raise CocoError(source, str(err).removeprefix(f"{source}: ")) from None
    document = Document(
        ontology=ontology,
        instances=instances,
        image_answers=image_answers,
        **read_class_flags(image, ontology),
        source={
            "image_name": Path(file_name).stem or f"image {image['id']}",
            "image_path": None,
            "external_id": file_name,
            "coco_image_id": image["id"],
            IMAGE_SOURCE: image_extra,
            ORIGINALS_SOURCE: originals,
            **({BOXES_SOURCE: boxes} if boxes else {}),
            **({COVERED_SOURCE: covered} if covered else {}),
            **({PLANE_SOURCE: plane.to_source()} if plane is not None else {}),
        },
    )
    return CocoImage(image["id"], file_name, width, height, labels, document, mapping)


def _original(
    annotation: dict[str, Any],
    position: int,
    labels: np.ndarray,
    label_id: int,
    rows: np.ndarray,
    cols: np.ndarray,
) -> dict[str, Any]:
    """What :func:`build_coco` needs to write ``annotation`` back as it was, if unchanged."""
    # the box of the pixels the instance kept (overlaps may have taken some of its own)
    kept = labels[rows, cols] == label_id
    rows, cols = rows[kept], cols[kept]
    box = [int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1]
    crop = labels[box[0] : box[2], box[1] : box[3]] == label_id
    attributes = annotation.get("attributes")
    return {
        "position": position,
        "digest": pixels_digest(crop, box),
        "annotation": {
            k: copy.deepcopy(annotation[k])
            for k in ("id", "segmentation", "area", "bbox", "iscrowd")
            if k in annotation
        },
        # attributes the file did not have are not added to it (ours: label_id, featureId)
        "attributes": isinstance(attributes, dict),
        "reserved": isinstance(attributes, dict)
        and any(k in attributes for k in RESERVED_ATTRIBUTES),
    }


def pixels_digest(crop: np.ndarray, box: Sequence[int]) -> str:
    """A digest of an instance's boolean crop and where it lies (``[r0, c0, r1, c1]``)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(np.asarray(box, dtype=np.int64).tobytes())
    digest.update(np.packbits(np.ascontiguousarray(crop, dtype=bool)).tobytes())
    return digest.hexdigest()


def _answers_and_free(
    questions: Sequence[Question], attributes: dict[str, Any]
) -> tuple[Answers, dict[str, Any]]:
    """The answers ``attributes`` hold, and the attributes that are none (kept as they are)."""
    answers = answers_from_readable(questions, attributes)
    answered = {name_key(k) for k in readable_answers(questions, answers)}
    unmatched = {
        k: copy.deepcopy(v)
        for k, v in attributes.items()
        if not (isinstance(k, str) and name_key(k) in answered)
    }
    return answers, unmatched


def _is_crowd(annotation: dict[str, Any]) -> bool:
    return is_int(annotation.get("iscrowd")) and annotation["iscrowd"] == 1


def _is_box_only(annotation: dict[str, Any], source: str | None, path: str) -> bool:
    """A detection: a ``bbox`` and no segmentation (CVAT, datumaro and Roboflow write these)."""
    if annotation.get("segmentation") not in (None, []) or "bbox" not in annotation:
        return False
    bbox = annotation["bbox"]
    if not (
        isinstance(bbox, list)
        and len(bbox) == 4
        and all(_is_coordinate(v) for v in bbox)
        and bbox[2] >= 0
        and bbox[3] >= 0
    ):
        raise CocoError(
            source,
            f"{path}.bbox: an annotation without segmentation needs a box [x, y, width, "
            "height] of four finite numbers",
        )
    return True


def _annotation_pixels(
    annotation: dict[str, Any], shape: tuple[int, int], source: str | None, path: str
) -> tuple[np.ndarray, np.ndarray]:
    segm = annotation.get("segmentation")
    height, width = shape
    if isinstance(segm, dict):
        size = segm.get("size")
        if not (isinstance(size, list) and len(size) == 2 and list(size) == [height, width]):
            raise CocoError(
                source,
                f"{path}.segmentation.size: {size!r} does not match the image's "
                f"[height, width] [{height}, {width}]",
            )
        counts = segm.get("counts")
        if isinstance(counts, str):
            try:
                counts = decompress_counts(counts)
            except ValueError as err:
                raise CocoError(source, f"{path}.segmentation.counts: {err}") from None
        elif not (isinstance(counts, list) and all(is_int(c) for c in counts)):
            raise CocoError(
                source, f"{path}.segmentation.counts: must be an RLE string or a list of integers"
            )
        if any(c < 0 for c in counts) or sum(counts) != height * width:
            raise CocoError(
                source,
                f"{path}.segmentation.counts: the runs must be non-negative and cover the "
                f"{height} x {width} image exactly",
            )
        return rle_pixels(counts, shape)
    if isinstance(segm, list) and segm:
        for n, polygon in enumerate(segm):
            if not (
                isinstance(polygon, list)
                and len(polygon) >= 6
                and len(polygon) % 2 == 0
                and all(_is_coordinate(v) for v in polygon)
            ):
                raise CocoError(
                    source,
                    f"{path}.segmentation[{n}]: a polygon is a flat list of at least three "
                    "x, y pairs of finite numbers",
                )
        return polygon_pixels(segm, shape)
    raise CocoError(source, f"{path}.segmentation: expected an RLE object or a list of polygons")


def _new_id(value: Any, taken: Container[int], source: str | None, path: str, what: str) -> int:
    """``value`` when it is an integer id not ``taken`` yet; else :class:`CocoError`."""
    if not is_int(value):
        raise CocoError(source, f"{path}.id: must be an integer, not {shown(value)}")
    if value in taken:
        raise CocoError(source, f"{path}.id: {what} id {shown(value)} is used twice")
    return value


def _choose_label_ids(annotations: list[dict[str, Any]]) -> list[int]:
    """The ``label_id`` each annotation asks for when usable, fresh ids for the rest."""
    wanted: list[int | None] = []
    taken: set[int] = set()
    for annotation in annotations:
        attributes = annotation.get("attributes")
        label_id = attributes.get("label_id") if isinstance(attributes, dict) else None
        if is_int(label_id) and 0 < label_id < 2**31 and label_id not in taken:
            taken.add(label_id)
            wanted.append(label_id)
        else:
            wanted.append(None)
    next_id = max(taken, default=0) + 1
    chosen = []
    for label_id in wanted:
        if label_id is None:
            label_id, next_id = next_id, next_id + 1
        chosen.append(label_id)
    return chosen


# -- small helpers -----------------------------------------------------------------------
def _is_coordinate(value: Any) -> bool:
    """A finite number that fits a float (``10**400`` is an int that does not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _short(items: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return f"[{shown}{', ...' if len(items) > limit else ''}]"
