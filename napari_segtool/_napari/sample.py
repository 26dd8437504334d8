"""npe2 sample-data hook: the synthetic cells image plus an empty segmentation layer.

The hook gets no viewer: it starts the session of napari's current viewer (the
one File > Open Sample acts on), so the layer gets autosave, the pen and the keys.
"""

from __future__ import annotations

import numpy as np

from napari_segtool import load_default_ontology
from napari_segtool._napari.binding import segmentation_layer_kwargs
from napari_segtool._napari.session import start_session_for_current_viewer
from napari_segtool.model.document import Document
from napari_segtool.model.sample_image import cells_image

SAMPLE_IMAGE_NAME = "cells"
SAMPLE_LAYER_NAME = "cells segmentation"


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
