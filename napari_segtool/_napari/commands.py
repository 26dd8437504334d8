"""npe2 commands behind napari's menus (thin: they call the glue in :mod:`.binding`)."""

# No ``from __future__ import annotations``: napari builds the "New segmentation
# layer" widget with magicgui from these annotations, so they must be real types.
from pathlib import Path

import napari
from napari.layers import Image, Labels
from napari.utils.notifications import show_info

from napari_segtool import load_default_ontology
from napari_segtool._napari.binding import (
    document_of,
    is_segmentation_layer,
    segmentation_layer_for_image,
)
from napari_segtool._napari.large_segmentation import open_large_segmentation
from napari_segtool._napari.session import session_for
from napari_segtool.model.chunked_labels import ChunkedLabels
from napari_segtool.model.document import METADATA_KEY, Document
from napari_segtool.model.ontology import Ontology


def new_segmentation_layer(viewer: napari.Viewer) -> None:
    """Layers > Annotate: a segmentation layer for the selected image.

    The ontology is the one of the active segmentation layer when there is one
    (so several images share one set of classes), otherwise the default.
    """
    image = _target_image(viewer)
    if image is None:
        show_info("Select an image layer first: the segmentation layer takes its size.")
        return
    active = viewer.layers.selection.active
    ontology = (
        Ontology.from_dict(document_of(active).ontology.to_dict())
        if is_segmentation_layer(active)
        else load_default_ontology()
    )
    add_segmentation_layer(viewer, image, ontology)


def add_segmentation_layer(
    viewer: napari.Viewer, image: Image, ontology: Ontology | None = None
) -> Labels:
    session_for(viewer)  # the new layer gets autosave, pen and keys, dock or not
    data, kwargs, _ = segmentation_layer_for_image(image, ontology or load_default_ontology())
    if isinstance(data, ChunkedLabels):
        # nothing allocated: the layer shows a window of labels kept chunk by chunk
        layer = open_large_segmentation(
            viewer,
            data,
            document_of_kwargs(kwargs),
            kwargs["name"],
            scale=kwargs.get("scale"),
            translate=kwargs.get("translate"),
            axis_labels=kwargs.get("axis_labels"),
            units=kwargs.get("units"),
        )
        viewer.layers.selection.active = layer
        return layer
    layer = viewer.add_labels(data, **kwargs)
    viewer.layers.selection.active = layer
    return layer


def document_of_kwargs(kwargs: dict) -> Document:
    """The document a segmentation layer's keyword arguments carry in their metadata."""
    return Document.from_dict(kwargs["metadata"][METADATA_KEY])


def add_segmentation_layer_from_file(
    viewer: napari.Viewer, image: Image, ontology_file: Path | None = None
) -> None:
    """Widget: a segmentation layer for ``image`` with an ontology JSON (default if empty)."""
    ontology = Ontology.load(ontology_file) if ontology_file else load_default_ontology()
    add_segmentation_layer(viewer, image, ontology)


def _target_image(viewer: napari.Viewer) -> Image | None:
    active = viewer.layers.selection.active
    if isinstance(active, Image):
        return active
    selected = [layer for layer in viewer.layers.selection if isinstance(layer, Image)]
    if selected:
        return selected[0]
    images = [layer for layer in viewer.layers if isinstance(layer, Image)]
    return images[-1] if images else None
