"""Label arrays as writers take them: numpy in memory, or chunked (larger than memory).

A chunked array (say a :class:`~napari_segtool.model.chunked_labels.ChunkedLabels`
or a zarr array) is served by its own label store (see
:mod:`napari_segtool.model.label_store`): writers ask the store for bounding
boxes first, then read each instance's box. :func:`label_array` keeps such an
array as it is, where ``numpy.asarray`` would read it whole.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_segtool.model import label_store as stores
from napari_segtool.model.chunked_labels import ChunkedLabels


def is_chunked(data: Any) -> bool:
    """Whether ``data`` is chunked labels, or a label store other than the in-memory
    fallback serves it."""
    if isinstance(data, np.ndarray):
        return False
    if isinstance(data, ChunkedLabels):
        return True
    return any(
        store is not stores.NumpyLabelStore and store.accepts(data) for store in stores.STORES
    )


def label_array(data: Any) -> Any:
    """``data`` as a numpy array, unless it is chunked (then as it is)."""
    return data if is_chunked(data) else np.asarray(data)
