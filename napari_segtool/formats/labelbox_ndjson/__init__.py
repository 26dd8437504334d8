"""Labelbox NDJSON, one JSON object a line: export v2 (what Labelbox exports today) read into
napari, and the annotation import Labelbox takes (model-assisted labelling and ground truth)
written from it and read back (:mod:`.import_in`: lines grouped by data row).

Pure (numpy, Pillow; no Qt, no napari). The napari hooks are
``napari_segtool._napari.io_labelbox_v2`` (reader) and
``napari_segtool._napari.io_ndjson_writer`` (writer).

**Export v2.** One line per data row: ``data_row {id, global_key,
external_id, row_data}``, ``media_attributes {height, width}``,
``projects.<project id>.labels[]``, each label with ``annotations.objects[]``
and ``annotations.classifications[]``, ``label_details`` and
``performance_details.seconds_to_create``.

* **Masks.** ``annotation_kind: "ImageSegmentationMask"`` objects carry a
  ``composite_mask {url, color_rgb}`` (one PNG for all instances of a label,
  each instance the pixels of its colour), decoded once per label, or the
  older per-object ``mask {url}`` (a binary mask). Objects of other tools
  (``bounding_box``, ``polygon``, ``line``, ``point``) become Shapes and Points
  with their class and answers as features.
* **Answers** are nested (``radio_answer`` with its own ``classifications``,
  ``checklist_answers``, ``text_answer.content``) and become the document's
  nested answers; image-level ones come from ``annotations.classifications``.
* **Layers.** Per data row its image (``row_data`` a file in the export's
  folder) and one segmentation layer per label, named ``<image> segmentation``;
  with several labels on a row (several projects, or several labels in one
  project), ``<image> segmentation (<project name> #<n>)``.
* **Ontology.** v2 rows carry none: the ontology file beside the export (as
  for v1), else rebuilt from the objects and answers, schema ids kept.
* **References.** Local paths and ``file://`` URIs are relative to the export's
  folder and must lie in it; web masks are downloaded only when asked, with
  the Labelbox API key (:mod:`.download`).

**Modules.** ``reader`` (rows, labels, layers), ``import_in`` (import lines as
export rows, so the same reader reads them), ``masks_in`` (composite
masks), ``answers_in`` (nested answers in), ``download`` (files and URLs);
``writer`` (the import file: one line per instance and per image-level
answer, masks as base64 PNGs or one composite PNG per image, the atomic
write) and ``answers_out`` (nested answers in import shape). This package
re-exports the public names.
"""

from __future__ import annotations

from napari_segtool.formats.labelbox_ndjson.answers_out import (
    answers_by_question,
    answers_to_import,
)
from napari_segtool.formats.labelbox_ndjson.download import (
    API_KEY_ENV,
    LABELBOX_HOSTS,
    Fetcher,
    FetchError,
)
from napari_segtool.formats.labelbox_ndjson.reader import (
    EXTENSIONS,
    DataRow,
    LabelLayer,
    count_rows,
    is_import_file,
    is_labelbox_ndjson,
    is_v2_export,
    read_export,
    read_result,
    row_items,
    row_names,
)
from napari_segtool.formats.labelbox_ndjson.writer import (
    DATA_ROW_KEYS,
    MASK_STYLES,
    NDJSON_EXTENSIONS,
    NdjsonExport,
    NdjsonWriteError,
    NdjsonWriteWarning,
    assemble_ndjson,
    composite_colour,
    data_row_for,
    instance_uuid,
    stable_uuid,
    write_items,
    write_ndjson,
    write_row_part,
)
from napari_segtool.formats.labelbox_v1.common import LabelboxFormatError, LabelboxFormatWarning

__all__ = [
    "API_KEY_ENV",
    "DATA_ROW_KEYS",
    "EXTENSIONS",
    "LABELBOX_HOSTS",
    "MASK_STYLES",
    "NDJSON_EXTENSIONS",
    "DataRow",
    "FetchError",
    "Fetcher",
    "LabelLayer",
    "LabelboxFormatError",
    "LabelboxFormatWarning",
    "NdjsonExport",
    "NdjsonWriteError",
    "NdjsonWriteWarning",
    "answers_by_question",
    "answers_to_import",
    "assemble_ndjson",
    "composite_colour",
    "count_rows",
    "data_row_for",
    "instance_uuid",
    "is_import_file",
    "is_labelbox_ndjson",
    "is_v2_export",
    "read_export",
    "read_result",
    "row_items",
    "row_names",
    "stable_uuid",
    "write_items",
    "write_ndjson",
    "write_row_part",
]
