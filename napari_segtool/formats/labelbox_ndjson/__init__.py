"""Labelbox NDJSON: the annotation import Labelbox takes today (model-assisted labelling and
ground truth), one JSON object a line.

Pure (numpy, Pillow; no Qt, no napari). The napari hooks in
``napari_segtool._napari.io_ndjson_writer`` writes layers through these functions.

**Modules.** ``writer`` (the import file: one line per instance and per
image-level answer, masks as base64 PNGs or one composite PNG per image, the
atomic write) and ``answers_out`` (nested answers in import shape). This
package re-exports the public names.
"""

from __future__ import annotations

from napari_segtool.formats.labelbox_ndjson.answers_out import (
    answers_by_question,
    answers_to_import,
)
from napari_segtool.formats.labelbox_ndjson.writer import (
    DATA_ROW_KEYS,
    MASK_STYLES,
    NDJSON_EXTENSIONS,
    NdjsonExport,
    NdjsonWriteError,
    NdjsonWriteWarning,
    composite_colour,
    data_row_for,
    stable_uuid,
    write_items,
    write_ndjson,
)

__all__ = [
    "DATA_ROW_KEYS",
    "MASK_STYLES",
    "NDJSON_EXTENSIONS",
    "NdjsonExport",
    "NdjsonWriteError",
    "NdjsonWriteWarning",
    "answers_by_question",
    "answers_to_import",
    "composite_colour",
    "data_row_for",
    "stable_uuid",
    "write_items",
    "write_ndjson",
]
