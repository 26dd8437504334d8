"""OME-Zarr stores as other tools write them (ome-zarr-py's own writer, NGFF 0.4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def another_tools_store(path: Path, labels: np.ndarray, properties: list[dict]) -> None:
    """A store holding a blank image of ``labels``' shape and the label group ``nuclei``
    with ``labels`` and the ``image-label`` ``properties`` given (no classes of ours)."""
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image, write_labels

    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    write_image(
        np.zeros(labels.shape, np.uint8), root, scale_factors=[2], fmt=FormatV04(), axes="yx"
    )
    write_labels(
        labels,
        root,
        name="nuclei",
        scale_factors=[2],
        fmt=FormatV04(),
        axes="yx",
        scaler=None,
        label_metadata={"properties": properties},
    )
