"""npe2 sample-data hooks: a synthetic image (2-D cells, a 3-D nuclei stack) plus an
empty segmentation layer over it.

The hook gets no viewer: it starts the session of napari's current viewer (the
one File > Open Sample acts on), so the layer gets autosave, the pen and the keys.
"""

from __future__ import annotations

import numpy as np

from napari_segtool import load_default_ontology
from napari_segtool._napari.binding import segmentation_layer_kwargs
from napari_segtool._napari.session import start_session_for_current_viewer
from napari_segtool.model.document import Document
from napari_segtool.model.sample_image import STACK_SCALE, cells_image, nuclei_stack

SAMPLE_IMAGE_NAME = "cells"
SAMPLE_LAYER_NAME = "cells segmentation"
STACK_IMAGE_NAME = "nuclei"
STACK_LAYER_NAME = "nuclei segmentation"
#: the stack's axes, as the segmentation layer and the table name them
STACK_AXES = ("z", "y", "x")


def make_cells_sample() -> list[tuple]:
    start_session_for_current_viewer()
    image = cells_image()
    document = Document(
        ontology=load_default_ontology(),
        source={"image_name": SAMPLE_IMAGE_NAME, "image_path": None, "external_id": "cells.png"},
    )
    labels = np.zeros(image.shape[:2], dtype=np.uint16)
    return [
        (image, {"name": SAMPLE_IMAGE_NAME, "rgb": True}, "image"),
        (labels, segmentation_layer_kwargs(document, SAMPLE_LAYER_NAME), "labels"),
    ]


def make_nuclei_sample() -> list[tuple]:
    """A 3-D stack of nuclei and a segmentation layer over its three axes."""
    start_session_for_current_viewer()
    stack = nuclei_stack()
    document = Document(
        ontology=load_default_ontology(),
        source={"image_name": STACK_IMAGE_NAME, "image_path": None, "external_id": "nuclei.tif"},
    )
    labels = np.zeros(stack.shape, dtype=np.uint16)
    axes = {"scale": STACK_SCALE, "axis_labels": STACK_AXES}
    return [
        (stack, {"name": STACK_IMAGE_NAME, "colormap": "gray", **axes}, "image"),
        (labels, segmentation_layer_kwargs(document, STACK_LAYER_NAME, **axes), "labels"),
    ]
