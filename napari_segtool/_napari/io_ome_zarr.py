"""npe2 reader and writer for OME-Zarr, the dock's save call, and the large tissue sample.

Thin: the ``ome-zarr`` entry of the format registry
(:mod:`napari_segtool.formats.ome_zarr`) does the work. napari-ome-zarr also
reads ``.zarr`` folders; File > Open offers both, and ``viewer.open(path,
plugin="napari-segtool")`` picks this one (classes and answers come back).

Saving (File > Save Selected Layers as ``cells.ome.zarr``, or the dock's
*Save OME-Zarr…*): into the store the image came from, only the label group
is added or replaced; elsewhere a new store holds the image and its labels.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from napari.layers import Image, Labels, Layer

from napari_segtool import load_default_ontology
from napari_segtool._napari import compat
from napari_segtool._napari.binding import document_of, is_segmentation_layer, unwrap
from napari_segtool._napari.io_hooks import (
    LayerData,
    after_write,
    axis_labels_of,
    bound_layer,
    claimed_reader,
    data_pixels,
    layer_data,
    live_document,
    save_layers,
)
from napari_segtool._napari.large_segmentation import (
    QT_SUPPORT,
    full_shape,
    open_large_segmentation,
)
from napari_segtool._napari.session import start_session_for_current_viewer
from napari_segtool.formats import registry
from napari_segtool.formats.coco_files import plain_document
from napari_segtool.formats.ome_zarr import tissue
from napari_segtool.formats.ome_zarr.labels import STORE_SOURCE
from napari_segtool.formats.result import ImageItem, LabelsItem, WriteResult
from napari_segtool.model.chunked_labels import ChunkedLabels, is_large
from napari_segtool.model.document import Document

FORMAT = "ome-zarr"
#: the sample's side in pixels; the environment variable makes it smaller (tests) or larger
SAMPLE_SIZE_ENV = "NAPARI_SEGTOOL_TISSUE_SIZE"
SAMPLE_LAYER_NAME = "tissue segmentation"


def get_reader(path: str | list[str]):
    """npe2 reader hook: a reader for an OME-Zarr folder, ``None`` for anything else."""
    return claimed_reader(FORMAT, path)


def write_ome_zarr(path: str, layers: list[LayerData]) -> list[str]:
    """npe2 writer hook: the labels layers as label groups of an OME-Zarr (see the module doc)."""
    labels: list[LabelsItem] = []
    images: list[ImageItem] = []
    saved: list[Labels | None] = []
    for data, meta, layer_type in layers:
        name = meta.get("name") or layer_type
        if layer_type == "labels":
            pixels = data_pixels(data, meta, FORMAT)
            document = live_document(meta) or plain_document(pixels)
            labels.append(LabelsItem(pixels, document, name, axis_labels_of(meta, pixels)))
            saved.append(bound_layer(meta.get("metadata") or {}))
        elif layer_type == "image":
            images.append(ImageItem(data[0] if meta.get("multiscale") else data, name))
    result = registry.get(FORMAT).write(path, labels, images)
    _keep_sources(saved, result, path)
    return after_write(result, saved)


def _keep_sources(saved: list[Labels | None], result: WriteResult, path: str) -> None:
    """The label group each layer went to: saving again replaces that group."""
    for layer, source in zip(saved, result.sources, strict=False):
        if layer is not None and is_segmentation_layer(layer):
            document_of(layer).source.update(source)


def image_for(viewer, layer: Labels) -> Image | None:
    """The image a segmentation layer annotates: the one it names, else one of its shape."""
    document = document_of(layer)
    images = [item for item in viewer.layers if isinstance(item, Image)]
    named = [image for image in images if image.name == document.source.get("image_name")]
    shape = full_shape(layer)
    fitting = [
        image
        for image in images
        if tuple((image.data[0] if image.multiscale else image.data).shape)[: len(shape)] == shape
        or tuple(image.level_shapes[0][-len(shape) :]) == shape
    ]
    return (named or fitting or [None])[0]


def default_path(layer: Labels) -> str:
    """Where the dock offers to save: the store the layer came from, else beside its image."""
    source = document_of(layer).source
    store = source.get(STORE_SOURCE)
    if isinstance(store, dict) and store.get("path"):
        return str(store["path"])
    image_path = source.get("image_path")
    stem = Path(image_path).stem if image_path else (source.get("image_name") or layer.name)
    folder = Path(image_path).parent if image_path else Path.cwd()
    return str(folder / f"{stem}.ome.zarr")


def save_ome_zarr(viewer, layer: Labels, path: str | Path) -> WriteResult:
    """The dock's *Save OME-Zarr…*: the layer (and its image, for a new store) to ``path``."""
    layer = unwrap(layer)
    layers: list[Layer] = [layer]
    image = image_for(viewer, layer)
    if image is not None:
        layers.append(image)
    return save_layers(registry.get(FORMAT), path, layers)


def make_tissue_sample() -> list[LayerData]:
    """npe2 sample: a large synthetic tissue OME-Zarr (made on first use) and a segmentation layer.

    The image opens lazily (every level a dask array). Its segmentation is a
    large one (:mod:`.large_segmentation`: chunked labels like the image's
    chunks and levels, shown as an overview and a full-resolution window)
    when the image is large, which the default 20,000 x 20,000 is; nothing is
    allocated until painted. A small sample (tests) gets a plain ``uint16``
    layer. Saving puts the labels into the sample's own store.
    """
    start_session_for_current_viewer()
    size = int(os.environ.get(SAMPLE_SIZE_ENV, tissue.DEFAULT_SIZE))
    store = tissue.tissue_store(size=size)
    result = registry.get(FORMAT).read(store)
    (image,) = result.images
    document = Document(
        ontology=load_default_ontology(),
        source={"image_name": image.name, "image_path": str(store)},
    )
    document.source[STORE_SOURCE] = {
        "path": str(store),
        "label_group": "tissue_segmentation",
        "version": "0.5",
    }
    levels = image.data if isinstance(image.data, list) else [image.data]
    viewer = _current_viewer()
    if viewer is not None and is_large(levels[0].shape, np.uint16):
        # napari builds no windowed layer from layer data: it follows the image in
        _add_after(viewer, image.name, lambda: _large_tissue_segmentation(viewer, levels, document))
        return layer_data(result)
    labels = np.zeros(levels[0].shape, dtype=np.uint16)
    return [
        *layer_data(result),
        *layer_data_for_labels(labels, document),
    ]


def _large_tissue_segmentation(viewer, levels, document: Document) -> Labels:
    labels = ChunkedLabels.create(
        levels[0].shape,
        chunks=tuple(int(c[0]) for c in levels[0].chunks),
        dtype=np.uint16,
        level_shapes=[tuple(level.shape) for level in levels],
    )
    editor = open_large_segmentation(viewer, labels, document, SAMPLE_LAYER_NAME)
    viewer.layers.selection.active = editor
    return editor


def _add_after(viewer, name: str, add: Callable[[], object]) -> None:
    """Run ``add`` once, right after napari inserts the layer named ``name``."""
    events = viewer.layers.events.inserted

    def on_inserted(event) -> None:
        if event.value.name == name:
            events.disconnect(on_inserted)
            # after napari has made the image active, so that the segmentation ends active
            qt = importlib.import_module(QT_SUPPORT) if compat.qt_window(viewer) else None
            qt.call_soon(add) if qt is not None else add()

    events.connect(on_inserted)


def _current_viewer():
    from napari import current_viewer

    return current_viewer()


def layer_data_for_labels(labels: np.ndarray, document: Document) -> list[LayerData]:
    from napari_segtool.formats.result import ReadResult

    return layer_data(ReadResult((LabelsItem(labels, document, SAMPLE_LAYER_NAME),)))
