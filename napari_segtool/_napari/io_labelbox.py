"""npe2 reader and writer for Labelbox v1 exports, and the dock's export call.

Thin: layer data tuples in and out of :mod:`napari_segtool.formats.labelbox_v1`,
which does the work. Long loops report through napari's progress bar.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from napari.layers import Labels, Layer
from napari.utils import progress

from napari_segtool._napari import binding as _layer
from napari_segtool._napari.autosave import notify_saved
from napari_segtool._napari.binding import (
    binding_of,
    document_of,
    segmentation_layer_kwargs,
    unwrap,
)
from napari_segtool.formats.labelbox_v1 import (
    DataRow,
    ExportResult,
    LabelboxFormatError,
    is_v1_export,
    read_export,
    write_export,
)
from napari_segtool.model.document import METADATA_KEY, Document

if TYPE_CHECKING:
    import napari

T = TypeVar("T")
LayerData = tuple[Any, dict[str, Any], str]


def _napari_progress(items: Iterable[T], total: int, description: str) -> Iterable[T]:
    return progress(items, total=total, desc=description)


# -- reader -----------------------------------------------------------------------
def get_reader(path: str | list[str]):
    """npe2 reader hook: our reader for a v1 export, ``None`` for any other file.

    Declining other JSON (COCO, ontologies, ...) lets napari offer them to
    other readers.
    """
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    return read_labelbox_v1 if is_v1_export(path) else None


def read_labelbox_v1(path: str | list[str], *, allow_download: bool = False) -> list[LayerData]:
    """Per data row: the image (when ``Labeled Data`` is a local file), the
    segmentation Labels layer with its document, and Shapes / Points layers for
    objects of other tools. Raises before returning, so a bad export adds nothing.

    ``allow_download`` lets http(s) masks and images be fetched (File > Open
    never does; see :func:`open_export`)."""
    if isinstance(path, list):
        (path,) = path
    rows = read_export(path, allow_download=allow_download, progress=_napari_progress)
    return layer_data_for_rows(rows)


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


def layer_data_for_rows(rows: list[DataRow]) -> list[LayerData]:
    layers: list[LayerData] = []
    for row in rows:
        if row.image is not None:
            layers.append((row.image, {"name": row.name}, "image"))
        kwargs = segmentation_layer_kwargs(row.document, f"{row.name} segmentation")
        layers.append((row.labels, kwargs, "labels"))
        shapes = [o for o in row.other_objects if o.kind != "point"]
        points = [o for o in row.other_objects if o.kind == "point"]
        if shapes:
            layers.append(
                (
                    [o.coords for o in shapes],
                    {
                        "name": f"{row.name} shapes",
                        "shape_type": [o.kind for o in shapes],
                        "edge_color": [o.color for o in shapes],
                        "face_color": "transparent",
                        "features": _features(shapes),
                    },
                    "shapes",
                )
            )
        if points:
            layers.append(
                (
                    np.concatenate([o.coords for o in points]),
                    {
                        "name": f"{row.name} points",
                        "face_color": [o.color for o in points],
                        "features": _features(points),
                    },
                    "points",
                )
            )
    return layers


def _features(objects) -> dict[str, list[str]]:
    return {
        "class": [o.title for o in objects],
        "featureId": [o.feature_id for o in objects],
        "schemaId": [o.schema_id for o in objects],
    }


# -- writer -----------------------------------------------------------------------
def write_labelbox_v1(path: str, layer_data: list[LayerData]) -> list[str]:
    """npe2 writer hook: each selected segmentation layer becomes one data row.

    Selected image layers are ignored (``Labeled Data`` comes from the
    document). The ids the export gets (``ID``, ``DataRow ID``) and its times are
    written back into the layers' documents, so saving again keeps them.
    """
    rows: list[tuple[np.ndarray, Document]] = []
    targets: list[tuple[dict[str, Any], Labels | None, Document]] = []
    for data, meta, layer_type in layer_data:
        if layer_type != "labels":
            continue
        metadata = meta.get("metadata") or {}
        if not isinstance(metadata.get(METADATA_KEY), dict):
            raise LabelboxFormatError(
                f"{path}: layer {meta.get('name')!r} is not a segmentation layer (it has no "
                "classes or instances); make one with Layers > Annotate > New segmentation layer"
            )
        layer = _bound_layer(metadata)
        document = document_of(layer) if layer is not None else _document(metadata)
        rows.append((np.asarray(data), document))
        targets.append((metadata, layer, document))
    result = write_export(path, rows, progress=_napari_progress)
    for (metadata, layer, document), source in zip(targets, result.sources, strict=True):
        _remember(metadata, layer, document, source)
    return [str(p) for p in result.written]


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
    result = write_export(
        path,
        [(np.asarray(layer.data), document)],
        mask_mode=mask_mode,
        mask_base_url=mask_base_url,
        image_base_url=image_base_url,
        write_ontology=write_ontology,
        seconds_to_label=seconds_to_label,
        polygons=polygons,
        progress=_napari_progress,
    )
    _remember(layer.metadata, layer, document, result.sources[0])
    return result


def _bound_layer(metadata: dict[str, Any]) -> Labels | None:
    """The layer whose metadata this is, if a live document is bound to it.

    A writer gets layer data tuples whose metadata is the layer's own dict; the
    live document (which may hold edits not yet mirrored) is found through it.
    """
    return next((layer for layer in _layer.bound_layers() if layer.metadata is metadata), None)


def _document(metadata: dict[str, Any]) -> Document:
    return Document.from_dict(metadata[METADATA_KEY])


def _remember(metadata, layer, document: Document, source: dict[str, Any]) -> None:
    """Keep the written ids and times, so the next save reuses them."""
    document.source.update(source)
    if layer is not None:
        binding_of(layer).sync_metadata()
        notify_saved(layer)  # saved work needs no recovery copy
    else:
        metadata[METADATA_KEY] = document.to_dict()
