"""What every npe2 file hook shares: one translation of a
:class:`~napari_segtool.formats.result.ReadResult` into napari layer data, the
live document behind a writer's layer data, napari's progress bar, one step
after every write (:func:`after_write`); :func:`save_layers`, which writes
layers in any registered format, and :func:`open_file`, which opens a file of
any registered format into a viewer.

What a reader skipped or changed (``ReadResult.notes``) reaches the user as
the format's warnings, which napari shows as notifications.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from napari.layers import Image, Labels, Layer
from napari.utils import progress
from napari.utils.notifications import show_info

from napari_segtool._napari.autosave import notify_saved
from napari_segtool._napari.binding import (
    binding_of,
    bound_layers,
    document_of,
    is_segmentation_layer,
    segmentation_layer_kwargs,
    unwrap,
)
from napari_segtool._napari.large_segmentation import (
    full_labels,
    is_windowed,
    open_large_segmentation,
)
from napari_segtool.formats import registry
from napari_segtool.formats.result import (
    ImageItem,
    LabelsItem,
    ReadResult,
    ShapesItem,
    WriteResult,
)
from napari_segtool.formats.toolkit.arrays import is_chunked
from napari_segtool.model.document import METADATA_KEY, Document

if TYPE_CHECKING:
    import napari

T = TypeVar("T")
#: ``document.source`` key of where :func:`save_layers` last wrote a layer, and in which format
LAST_SAVE_KEY = "last_save"
LayerData = tuple[Any, dict[str, Any], str]
#: a Shapes / Points layer's metadata: ``ShapesItem.read_ids``, for the writer
READ_IDS_KEY = "segtool_read_ids"
#: formats whose writer takes a segmentation larger than memory (a ``ChunkedLabels``)
#: as it is (read through its label store, box by box); the others get it as one
#: numpy array
CHUNKED_WRITERS = frozenset({"ome-zarr", "labelbox-v1", "labelbox-ndjson", "coco"})


def napari_progress(items: Iterable[T], total: int, description: str) -> Iterable[T]:
    """A format's ``progress`` callback shown as napari's progress bar."""
    return progress(items, total=total, desc=description)


def layer_data(result: ReadResult) -> list[LayerData]:
    """Layer data tuples for everything a reader returned, in its order."""
    layers: list[LayerData] = []
    for item in result.items:
        if isinstance(item, ImageItem):
            meta: dict[str, Any] = {"name": item.name}
            if item.rgb is not None:
                meta["rgb"] = item.rgb
            if isinstance(item.data, list):  # a pyramid, largest level first
                meta["multiscale"] = True
            first = item.data[0] if isinstance(item.data, list) else item.data
            if item.axis_labels is not None and len(item.axis_labels) == np.ndim(first):
                meta["axis_labels"] = item.axis_labels
            layers.append((item.data, meta, "image"))
        elif isinstance(item, LabelsItem):
            kwargs = segmentation_layer_kwargs(item.document, item.name)
            if item.axis_labels is not None and len(item.axis_labels) == np.ndim(item.data):
                kwargs["axis_labels"] = item.axis_labels  # a stack's planes named them
            layers.append((item.data, kwargs, "labels"))
        elif isinstance(item, ShapesItem):
            layers.append(_shapes_data(item))
    return layers


def claimed_reader(format_name: str, path: str | list[str]):
    """An npe2 reader for ``path`` when the format ``format_name`` claims every file of it,
    ``None`` otherwise (napari then offers them to other readers).

    Every file is read before any layer is returned, so a bad one adds nothing;
    accepting starts the current viewer's session (autosave, pen and keys).
    """
    from napari_segtool._napari.session import start_session_for_current_viewer

    entry = registry.get(format_name)
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    claims = [entry.claim(str(p)) for p in paths]
    if not paths or any(claim is None for claim in claims):
        return None

    def read_claimed(_path: str | list[str]) -> list[LayerData]:
        results = [entry.read(p, claim=c) for p, c in zip(paths, claims, strict=True)]
        viewer = _current_viewer()
        if viewer is not None and any(_holds_chunked(result) for result in results):
            # a segmentation larger than memory is two layers napari cannot build from
            # layer data: every layer is added here, in order; napari is told "no layers"
            for result in results:
                add_to_viewer(viewer, result)
            return [(None,)]
        return [layer for result in results for layer in layer_data(result)]

    start_session_for_current_viewer()
    return read_claimed


def add_to_viewer(viewer: napari.Viewer, result: ReadResult) -> list[Layer]:
    """The layers of ``result`` added to ``viewer`` in its order; labels larger than memory
    (a ``ChunkedLabels``) as one large segmentation (its overview and editor layers, see
    :mod:`.large_segmentation`). Returns the layers added (an editor for a large one).

    The other layers are built before any is added, so a bad one adds nothing.
    """
    built: list[Layer | LabelsItem] = []
    for item, (data, meta, kind) in zip(result.items, layer_data(result), strict=True):
        if isinstance(item, LabelsItem) and is_chunked(item.data):
            built.append(item)
        else:
            built.append(Layer.create(data, meta, kind))
    added: list[Layer] = []
    for layer in built:
        if isinstance(layer, LabelsItem):
            axis_labels = layer.axis_labels
            if axis_labels is not None and len(axis_labels) != len(layer.data.shape):
                axis_labels = None
            added.append(
                open_large_segmentation(
                    viewer, layer.data, layer.document, layer.name, axis_labels=axis_labels
                )
            )
        else:
            viewer.add_layer(layer)
            added.append(layer)
    return added


def _holds_chunked(result: ReadResult) -> bool:
    return any(is_chunked(item.data) for item in result.labels)


def _current_viewer():
    from napari import current_viewer

    return current_viewer()


def axis_labels_of(meta: dict[str, Any], data: Any) -> tuple[str, ...] | None:
    """A writer's layer data axis labels (a stack's planes are named after them)."""
    labels = meta.get("axis_labels")
    return tuple(labels) if labels is not None and len(labels) == np.ndim(data) else None


def _shapes_data(item: ShapesItem) -> LayerData:
    metadata = {READ_IDS_KEY: list(item.read_ids)} if item.read_ids else {}
    if item.kind == "points":
        meta = {"name": item.name, "face_color": item.colors, "features": item.features}
        return np.concatenate(item.coords), {**meta, "metadata": metadata}, "points"
    meta = {
        "metadata": metadata,
        "name": item.name,
        "shape_type": item.shape_types,
        "edge_color": item.colors,
        "face_color": "transparent",
        "features": item.features,
    }
    return list(item.coords), meta, "shapes"


def bound_layer(metadata: dict[str, Any]) -> Labels | None:
    """The layer whose metadata this is, if a live document is bound to it.

    A writer gets layer data tuples whose metadata is the layer's own dict; the
    live document (which may hold edits not yet mirrored) is found through it.
    """
    return next((layer for layer in bound_layers() if layer.metadata is metadata), None)


def layer_pixels(layer: Labels, format_name: str | None = None):
    """The pixels a writer saves for ``layer``: all of them, never a window.

    A layer showing a window of a larger segmentation gives its whole
    ``ChunkedLabels`` (the window's edits written into it): as it is to the
    formats of :data:`CHUNKED_WRITERS`, else as one numpy array (which the
    ``ChunkedLabels`` refuses, naming the layer's size, beyond its limit).
    """
    layer = unwrap(layer)
    pixels = full_labels(layer)
    if not is_windowed(layer):
        return np.asarray(pixels)
    if format_name in CHUNKED_WRITERS:
        return pixels
    try:
        return np.asarray(pixels)
    except MemoryError as error:  # the ChunkedLabels' limit: say which layer and why
        raise ValueError(
            f"{layer.name!r} is too large to be written as one array "
            f"({'x'.join(str(n) for n in pixels.shape)} pixels): {error}; save it as OME-Zarr"
        ) from None


def data_pixels(data: Any, meta: dict[str, Any], format_name: str | None = None):
    """A writer hook's pixels of a labels layer data tuple: :func:`layer_pixels` of its
    bound layer when it shows a window, else ``data`` as a numpy array."""
    layer = bound_layer(meta.get("metadata") or {})
    if layer is not None and is_windowed(layer):
        return layer_pixels(layer, format_name)
    return np.asarray(data[0] if meta.get("multiscale") else data)


def live_document(meta: dict[str, Any]) -> Document | None:
    """The document of a writer's layer data: the live one, else the stored one, else ``None``."""
    metadata = meta.get("metadata") or {}
    if not isinstance(metadata.get(METADATA_KEY), dict):
        return None
    layer = bound_layer(metadata)
    return document_of(layer) if layer is not None else Document.from_dict(metadata[METADATA_KEY])


def after_write(result: WriteResult, saved: Iterable[Labels | None]) -> list[str]:
    """What every writer does once its files are written; the paths written, the main file first.

    The ``saved`` layers (``None`` for layer data without a live layer) are
    saved work now: clean for autosave, their recovery files removed. The user
    is told what was written (``result.summary``) in a napari notification.
    """
    for layer in saved:
        if layer is not None:
            notify_saved(layer)
    if result.summary:
        show_info(result.summary)
    return [str(path) for path in result.written]


def save_layers(
    entry: registry.FileFormat, path: str | Path, layers: Iterable[Layer], **options
) -> WriteResult:
    """Write segmentation layers, and the image layers given along, in ``entry``'s format.

    What File > IO Utilities > Save segmentation as and the close guard's Save
    do, for any registered format. The ids and times the file gives each
    document are kept (saving again reuses them); then :func:`after_write`.
    Raises the format's error (a ``ValueError``) or ``OSError``; nothing is
    marked saved then. ``options`` go to the format's writer.
    """
    labels: list[LabelsItem] = []
    images: list[ImageItem] = []
    saved: list[Labels] = []
    for layer in (unwrap(layer) for layer in layers):
        if is_segmentation_layer(layer):
            document = document_of(layer)
            labels.append(
                LabelsItem(
                    layer_pixels(layer, entry.name), document, layer.name, tuple(layer.axis_labels)
                )
            )
            saved.append(layer)
        elif isinstance(layer, Image):
            pixels = layer.data[0] if layer.multiscale else layer.data
            source = layer.source.path if layer.source is not None else None
            images.append(ImageItem(pixels, layer.name, Path(source) if source else None))
    if not labels:
        raise ValueError(f"{path}: nothing to save (no segmentation layer among the layers)")
    result = entry.write(path, labels, images, **options)
    for layer, source in zip(saved, result.sources, strict=False):
        document = document_of(layer)
        document.source.update(source)
        document.source[LAST_SAVE_KEY] = {"path": str(Path(path).absolute()), "format": entry.name}
        binding_of(layer).sync_metadata()
    after_write(result, saved)
    return result


def open_file(viewer: napari.Viewer, path: str | Path, **options) -> list[Layer]:
    """Open a file of any registered format into ``viewer`` (the dock's Open button).

    Every layer is built before the first is added, so a bad file adds nothing.
    Raises the format's error, or ``UnknownFormatError`` when no format claims it.
    """
    entry, claim = registry.claimed_format(path)
    result = entry.read(path, claim=claim, progress=napari_progress, **options)
    return add_to_viewer(viewer, result)
