"""npe2 reader and writer for Labelbox v1 exports, and the dock's open and save calls.

Thin: layer data tuples in and out of the ``labelbox-v1`` entry of the format
registry (:mod:`napari_segtool.formats.labelbox_v1` does the work). Long loops
report through napari's progress bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Labels, Layer

from napari_segtool._napari.binding import binding_of, document_of, unwrap
from napari_segtool._napari.io_hooks import (
    READ_IDS_KEY,
    LayerData,
    after_write,
    axis_labels_of,
    bound_layer,
    data_pixels,
    layer_data,
    layer_pixels,
    live_document,
    napari_progress,
)
from napari_segtool._napari.session import start_session_for_current_viewer
from napari_segtool.formats import registry
from napari_segtool.formats.labelbox_v1 import ExportResult, LabelboxFormatError
from napari_segtool.formats.result import LabelsItem, ShapesItem
from napari_segtool.model.document import METADATA_KEY, Document

if TYPE_CHECKING:
    import napari

LABELBOX = "labelbox-v1"


def get_reader(path: str | list[str]):
    """npe2 reader hook: our reader for a v1 export, ``None`` for any other file.

    Declining other JSON (COCO, ontologies, ...) lets napari offer them to
    other readers. Accepting starts the current viewer's session, so the
    layers get autosave, the pen and the keys (see :mod:`.session`).
    """
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    if not registry.get(LABELBOX).can_read(path):
        return None
    start_session_for_current_viewer()
    return read_labelbox_v1


def read_labelbox_v1(path: str | list[str], *, allow_download: bool = False) -> list[LayerData]:
    """Per data row: the image (when ``Labeled Data`` is a local file), the
    segmentation Labels layer with its document, and Shapes / Points layers for
    objects of other tools. Raises before returning, so a bad export adds nothing.

    ``allow_download`` lets http(s) masks and images be fetched (File > Open
    never does; see :func:`open_export`)."""
    if isinstance(path, list):
        (path,) = path
    labelbox = registry.get(LABELBOX)
    return layer_data(labelbox.read(path, allow_download=allow_download, progress=napari_progress))


def open_export(
    viewer: napari.Viewer, path: str | Path, *, allow_download: bool = False
) -> list[Layer]:
    """Open a v1 export into ``viewer`` (for a dock's Open button with a download option).

    Every layer is built before the first is added, so a bad export adds nothing.
    """
    layers = [
        Layer.create(data, meta, layer_type)
        for data, meta, layer_type in read_labelbox_v1(str(path), allow_download=allow_download)
    ]
    for layer in layers:
        viewer.add_layer(layer)
    return layers


def write_labelbox_v1(path: str, layers: list[LayerData]) -> list[str]:
    """npe2 writer hook: each selected segmentation layer becomes one data row.

    Selected image layers are ignored (``Labeled Data`` comes from the
    document). Selected Shapes / Points layers that show the export's objects of
    other tools (boxes, polygons, lines, points) save their edits; objects whose
    layer is not selected are written as they were read. The ids the export gets
    (``ID``, ``DataRow ID``) and its times are written back into the layers'
    documents, so saving again keeps them.
    """
    items: list[LabelsItem] = []
    shapes: list[ShapesItem] = []
    targets: list[tuple[dict[str, Any], Labels | None, Document]] = []
    for data, meta, layer_type in layers:
        if layer_type in ("shapes", "points"):
            shapes.append(_shapes_item(data, meta, layer_type))
            continue
        if layer_type != "labels":
            continue
        document = live_document(meta)
        if document is None:
            raise LabelboxFormatError(
                f"{path}: layer {meta.get('name')!r} is not a segmentation layer (it has no "
                "classes or instances); make one with Layers > Annotate > New segmentation layer"
            )
        metadata = meta["metadata"]
        items.append(
            LabelsItem(
                data_pixels(data, meta, LABELBOX),
                document,
                meta.get("name") or "labels",
                axis_labels_of(meta, data),
            )
        )
        targets.append((metadata, bound_layer(metadata), document))
    result = registry.get(LABELBOX).write(path, items, shapes=shapes, progress=napari_progress)
    for (metadata, layer, document), source in zip(targets, result.sources, strict=True):
        _remember(metadata, layer, document, source)
    return after_write(result, [layer for _, layer, _ in targets])


def _shapes_item(data, meta: dict[str, Any], layer_type: str) -> ShapesItem:
    """A Shapes / Points layer's data tuple as the writer takes it (2-D, the last two axes)."""
    features = meta.get("features")
    columns = {k: list(v) for k, v in features.items()} if features is not None else {}
    if layer_type == "points":
        coords = [
            np.asarray(point, dtype=float)[-2:] for point in np.atleast_2d(data) if len(point)
        ]
        types = ["point"] * len(coords)
    else:
        coords = [np.asarray(shape, dtype=float)[:, -2:] for shape in data]
        types = list(meta.get("shape_type") or ["polygon"] * len(coords))
    read = (meta.get("metadata") or {}).get(READ_IDS_KEY) or []
    return ShapesItem(
        layer_type, meta.get("name") or layer_type, coords, types, [], columns, tuple(read)
    )


def export_layer(
    layer: Labels,
    path: str | Path,
    *,
    seconds_to_label: float = 0.0,
    mask_mode: str = "RGBA",
    mask_base_url: str | None = None,
    image_base_url: str | None = None,
    write_ontology: bool = True,
    polygons: str = "none",
) -> ExportResult:
    """Write one segmentation layer as a v1 export (the dock's Save button).

    ``seconds_to_label`` is the active annotating time since the last save: it
    is added to the document's total, which the export records as ``Seconds to
    Label``. ``mask_mode`` is ``"RGBA"`` (Labelbox's format) or ``"L"`` (8-bit
    grey). ``mask_base_url`` / ``image_base_url`` turn ``instanceURI`` /
    ``Labeled Data`` into URLs; the Labelbox SDK accepts only URLs for
    ``Labeled Data``. ``polygons`` (``"none"``, ``"alongside"``, ``"instead"``)
    adds instance outlines as Labelbox polygon objects. The document's
    ``source`` is updated with the ids, times and paths written. Raises
    ``LabelboxFormatError``; warns (``LabelboxFormatWarning``) about unanswered
    required questions.
    """
    layer = unwrap(layer)
    document = document_of(layer)
    result = registry.get(LABELBOX).write(
        path,
        [LabelsItem(layer_pixels(layer, LABELBOX), document, layer.name, tuple(layer.axis_labels))],
        mask_mode=mask_mode,
        mask_base_url=mask_base_url,
        image_base_url=image_base_url,
        write_ontology=write_ontology,
        seconds_to_label=seconds_to_label,
        polygons=polygons,
        progress=napari_progress,
    )
    _remember(layer.metadata, layer, document, result.sources[0])
    after_write(result, [layer])
    return result.details


def _remember(metadata, layer, document: Document, source: dict[str, Any]) -> None:
    """Keep the written ids and times, so the next save reuses them."""
    document.source.update(source)
    if layer is not None:
        binding_of(layer).sync_metadata()
    else:
        metadata[METADATA_KEY] = document.to_dict()
