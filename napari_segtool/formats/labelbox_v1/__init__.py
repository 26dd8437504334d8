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

**Objects of other tools.** Like the Labelbox SDK's v1 converter, an object
with ``bbox``, ``polygon``, ``line`` or ``point`` is that geometry, whether or
not it has an ``instanceURI`` (Labelbox gives every object one); only objects
without a geometry are masks. They are kept as read in the document's
``source["other_objects"]`` and written back so, unless the Shapes / Points
layers showing them are given to the writer with their edits
(:func:`write_items` ``shapes``). Rows the reader does not open (tiled imagery,
video, text, PDF, web masks without downloading, no size known) ride along
unchanged in a neighbouring row's ``source`` and are written back in place.

Locks and hidden flags of instances and classes travel under the namespaced key
``napari_segtool`` of the object and the data row, only when set (see
:mod:`napari_segtool.formats.toolkit.flags`; the SDK ignores the key).

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

**Modules.** ``reader`` (data rows, masks, images, what is refused), ``writer``
(rows out, the commit), ``save_files`` (the crash-safe files of one save),
``ontology_builder`` (the ontology completed from the export), ``answers``
(classifications in v1 shape, both ways), ``data_rows`` (the row's fields),
``other_tools`` (bbox, polygon, line, point objects), ``paths`` and
``common`` (errors, constants, progress). This package re-exports the public names.
"""

from __future__ import annotations

from napari_segtool.formats.labelbox_v1.answers import (
    answers_to_v1,
    derived_cuid,
    outline_feature_id,
)
from napari_segtool.formats.labelbox_v1.common import (
    DOWNLOAD_SCHEMES,
    OTHER_TOOLS,
    POLYGON_MODES,
    URL_SCHEMES,
    LabelboxFormatError,
    LabelboxFormatWarning,
    Progress,
)
from napari_segtool.formats.labelbox_v1.data_rows import labeled_data_for
from napari_segtool.formats.labelbox_v1.other_tools import OtherObject
from napari_segtool.formats.labelbox_v1.paths import (
    mask_dir_for,
    ontology_candidates,
    ontology_path_for,
)
from napari_segtool.formats.labelbox_v1.reader import (
    DataRow,
    count_rows,
    is_v1_export,
    read_export,
    read_result,
    row_items,
    row_names,
)
from napari_segtool.formats.labelbox_v1.save_files import mask_file_name
from napari_segtool.formats.labelbox_v1.writer import (
    ExportResult,
    assemble_export,
    export_timestamp,
    prepare_export,
    write_export,
    write_items,
    write_row_part,
)

__all__ = [
    "DOWNLOAD_SCHEMES",
    "OTHER_TOOLS",
    "POLYGON_MODES",
    "URL_SCHEMES",
    "DataRow",
    "ExportResult",
    "LabelboxFormatError",
    "LabelboxFormatWarning",
    "OtherObject",
    "Progress",
    "answers_to_v1",
    "assemble_export",
    "count_rows",
    "derived_cuid",
    "export_timestamp",
    "is_v1_export",
    "labeled_data_for",
    "mask_dir_for",
    "mask_file_name",
    "ontology_candidates",
    "ontology_path_for",
    "outline_feature_id",
    "prepare_export",
    "read_export",
    "read_result",
    "row_items",
    "row_names",
    "write_export",
    "write_items",
    "write_row_part",
]
