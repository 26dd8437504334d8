"""npe2 reader and writer for COCO instance segmentation, and the dock's export call.

Thin: napari layers and layer data tuples in and out of the ``coco`` entry of
the format registry (:mod:`napari_segtool.formats.coco_files` does the work).

Choosing COCO when saving: the Labelbox v1 writer of this plugin also writes
``.json``. npe2 picks the writer whose extension matches the *longest* end of
the file name, so the COCO writer claims ``.coco.json``: File > Save Selected
Layers as ``cells.coco.json`` writes COCO, ``cells.json`` writes Labelbox v1.
In napari's save dialog the COCO writer is also listed on its own; choosing
that entry uses it whatever the name. The image layers saved along (select the
image and its segmentation layer) are written beside the JSON.

The reader declines (returns ``None``) any JSON that is not COCO, so Labelbox
exports and ontologies go to their own reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from napari.layers import Image, Labels

from napari_segtool._napari.binding import document_of, is_segmentation_layer, unwrap
from napari_segtool._napari.io_hooks import (
    LayerData,
    after_write,
    axis_labels_of,
    bound_layer,
    claimed_reader,
    data_pixels,
    layer_data,
    layer_pixels,
    live_document,
)
from napari_segtool.formats import registry
from napari_segtool.formats.coco_files import plain_document
from napari_segtool.formats.result import ImageItem, LabelsItem


def get_coco_reader(path: str | list[str]):
    """npe2 reader hook: a reader for COCO JSON, ``None`` for anything else."""
    return claimed_reader("coco", path)


def read_coco(path: str | Path) -> list[LayerData]:
    """Layer data tuples of a COCO file: per image, the image (if found) and its segmentation."""
    return layer_data(registry.get("coco").read(path))


def write_coco(path: str, layers: list[LayerData]) -> list[str]:
    """npe2 writer hook: the labels layers as one COCO file (RLE), images saved along."""
    labels: list[LabelsItem] = []
    images: list[ImageItem] = []
    saved: list[Labels | None] = []
    for data, meta, layer_type in layers:
        name = meta.get("name") or layer_type
        if layer_type == "labels":
            pixels = data_pixels(data, meta, "coco")
            document = live_document(meta) or plain_document(pixels)
            labels.append(LabelsItem(pixels, document, name, axis_labels_of(meta, pixels)))
            saved.append(bound_layer(meta.get("metadata") or {}))
        elif layer_type == "image":
            images.append(ImageItem(data[0] if meta.get("multiscale") else data, name))
    return after_write(registry.get("coco").write(path, labels, images), saved)


def export_coco(
    layers: Sequence[Labels | Image],
    path: str | Path,
    *,
    segmentation: str = "rle",
    tolerance: float = 0.0,
) -> list[str]:
    """Write segmentation layers (and the image layers given along) as one COCO file.

    The dock's export call. ``segmentation`` is ``"rle"`` (exact) or
    ``"polygons"`` (exact at ``tolerance=0``, simplified by ``tolerance``
    pixels otherwise). Returns the paths written, the JSON first. Raises
    :class:`~napari_segtool.formats.coco.CocoError`; warns
    (:class:`~napari_segtool.formats.coco.CocoWarning`) about painted ids
    without a class, which are left out.
    """
    labels: list[LabelsItem] = []
    images: list[ImageItem] = []
    saved: list[Labels] = []
    for layer in (unwrap(layer) for layer in layers):
        if isinstance(layer, Labels):
            document = document_of(layer) if is_segmentation_layer(layer) else None
            data = layer_pixels(layer, "coco")
            labels.append(
                LabelsItem(
                    data, document or plain_document(data), layer.name, tuple(layer.axis_labels)
                )
            )
            saved.append(layer)
        elif isinstance(layer, Image):
            pixels = layer.data[0] if layer.multiscale else layer.data
            source = layer.source.path if layer.source is not None else None
            images.append(ImageItem(pixels, layer.name, Path(source) if source else None))
    result = registry.get("coco").write(
        path, labels, images, segmentation=segmentation, tolerance=tolerance
    )
    return after_write(result, saved)
