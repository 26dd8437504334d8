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


#: a label plane past the reader's threshold (4096 x 4096 pixels) in 1024 x 1024 chunks
LARGE_SIDE, LARGE_CHUNK = 6000, 1024


def image_store(path: Path, shape=(LARGE_SIDE, LARGE_SIDE), version="0.5", chunk=LARGE_CHUNK):
    """An OME-Zarr holding a blank ``uint8`` image of ``shape`` (made lazily, chunk by chunk)."""
    import dask.array as da
    import zarr
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image

    fmt = FormatV04() if version == "0.4" else FormatV05()
    root = zarr.open_group(str(path), mode="w", zarr_format=fmt.zarr_format)
    factors, side = [], max(shape)
    while side // 2 ** len(factors) > chunk:
        factors.append(2 ** (len(factors) + 1))
    write_image(
        da.zeros(shape, np.uint8, chunks=chunk),
        root,
        scale_factors=factors,
        fmt=fmt,
        axes="yx",
        storage_options={"chunks": (chunk, chunk)},
    )
    return path


def large_scene():
    """A ``ChunkedLabels`` of LARGE_SIDE x LARGE_SIDE holding the sample instances (ids 1, 2,
    5, 9, classes and answers) across chunk borders and in the far corner; its document and
    ``{(row, column): pixels placed there}``."""
    from napari_segtool.model.chunked_labels import ChunkedLabels
    from tests.coco_samples import annotated_image

    small, document = annotated_image()
    labels = ChunkedLabels.create((LARGE_SIDE, LARGE_SIDE), chunks=(LARGE_CHUNK, LARGE_CHUNK))
    placed = {(1000, 2030): small, (5900, 5900): small[:100, :100]}
    for (y, x), pixels in placed.items():
        labels.write((slice(y, y + pixels.shape[0]), slice(x, x + pixels.shape[1])), pixels)
    return labels, document, placed


def large_store(path: Path, version="0.5", name="seg"):
    """:func:`image_store` with :func:`large_scene` saved as its label group ``name``;
    returns the document and the placed pixels."""
    import warnings

    from napari_segtool.formats import registry
    from napari_segtool.formats.result import LabelsItem

    image_store(path, version=version)
    labels, document, placed = large_scene()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = registry.get("ome-zarr").write(path, [LabelsItem(labels, document, name)])
    return document, placed, result
