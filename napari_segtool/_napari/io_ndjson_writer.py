"""npe2 writer for Labelbox's NDJSON annotation import, and the dock's save call.

Thin: layer data tuples in, the ``labelbox-ndjson`` entry of the format registry
(:mod:`napari_segtool.formats.labelbox_ndjson` does the work). File > Save Selected
Layers with a ``.ndjson`` name writes it; the label id it records is kept in each
layer's document, so saving again gives the same uuids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari.layers import Labels

from napari_segtool._napari.binding import binding_of, document_of, unwrap
from napari_segtool._napari.io_hooks import (
    LayerData,
    after_write,
    axis_labels_of,
    bound_layer,
    data_pixels,
    layer_pixels,
    live_document,
)
from napari_segtool._napari.io_hooks import napari_progress as progress
from napari_segtool._napari.io_labelbox import _shapes_item as shapes_item
from napari_segtool._napari.session import current_viewer, session_of
from napari_segtool.formats import registry
from napari_segtool.formats.labelbox_ndjson import NdjsonExport, NdjsonWriteError
from napari_segtool.formats.result import LabelsItem
from napari_segtool.model.document import METADATA_KEY

NDJSON = "labelbox-ndjson"


def write_labelbox_ndjson(path: str, layers: list[LayerData]) -> list[str]:
    """npe2 writer hook: every selected segmentation layer into one import file (images ignored).

    Selected Shapes / Points layers showing objects of other tools read from a Labelbox
    export save their edits; objects whose layer is not selected are written as read.
    Masks are written as the current viewer's NDJSON options say (the dock's choice).
    """
    items, targets, shapes = [], [], []
    for data, meta, layer_type in layers:
        if layer_type in ("shapes", "points"):
            shapes.append(shapes_item(data, meta, layer_type))
            continue
        if layer_type != "labels":
            continue
        document = live_document(meta)
        if document is None:
            raise NdjsonWriteError(
                f"{path}: layer {meta.get('name')!r} is not a segmentation layer (it has no "
                "classes or instances); make one with Layers > Annotate > New segmentation layer"
            )
        items.append(
            LabelsItem(
                data_pixels(data, meta, NDJSON),
                document,
                meta.get("name") or "labels",
                axis_labels_of(meta, data),
            )
        )
        targets.append((meta["metadata"], bound_layer(meta["metadata"]), document))
    session = session_of(viewer) if (viewer := current_viewer()) is not None else None
    options = session.ndjson_options.writer_options() if session is not None else {}
    result = registry.get(NDJSON).write(path, items, shapes=shapes, progress=progress, **options)
    for (metadata, layer, document), source in zip(targets, result.sources, strict=True):
        _remember(metadata, layer, document, source)
    return after_write(result, [layer for _, layer, _ in targets])


def export_ndjson_layer(layer: Labels, path: str | Path, **options) -> NdjsonExport:
    """Write one segmentation layer as an NDJSON import (the dock's Save button).

    ``options`` are :func:`~napari_segtool.formats.labelbox_ndjson.write_ndjson`'s
    (``masks="composite"``, ``mask_base_url``, ``schema_ids``, ``data_row_key``).
    """
    layer = unwrap(layer)
    document = document_of(layer)
    items = [
        LabelsItem(layer_pixels(layer, NDJSON), document, layer.name, tuple(layer.axis_labels))
    ]
    result = registry.get(NDJSON).write(path, items, progress=progress, **options)
    _remember(layer.metadata, layer, document, result.sources[0])
    after_write(result, [layer])
    return result.details


def _remember(metadata: dict[str, Any], layer, document, source: dict[str, Any]) -> None:
    document.source.update(source)
    if layer is not None:
        binding_of(layer).sync_metadata()
    else:
        metadata[METADATA_KEY] = document.to_dict()
