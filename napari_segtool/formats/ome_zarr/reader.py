"""Reading an OME-Zarr store: its image (every level, lazily) and each label group.

ome-zarr-py's ``Reader`` gives the image pyramid as dask arrays and each
label image with its ``colors`` and ``properties``; the label group's
:data:`~.labels.NAMESPACE` attributes restore the document. The labels come
back as a numpy array (the full-resolution level) for painting, unless they
are large (:func:`~napari_segtool.model.chunked_labels.is_large`: a plane of
more than 4096 x 4096 pixels or 1 GiB in all; or ``chunked=True``): then as a
:class:`~napari_segtool.model.chunked_labels.ChunkedLabels` whose ``base`` is
the group's own level arrays, so opening reads no pixel and holds none;
painting keeps only the chunks it touches, and saving back into the group
writes only those (see :mod:`.in_place`).
"""

from __future__ import annotations

import warnings
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Label, Multiscales, Reader

from napari_segtool.formats.ome_zarr import labels as label_meta
from napari_segtool.formats.ome_zarr.store import (
    VERSIONS,
    OmeZarrError,
    StoreClaim,
    claim_store,
    group_attributes,
    metadata_file,
    multiscale_paths,
    ome_attributes,
    recover_interrupted_swaps,
)
from napari_segtool.formats.result import ImageItem, LabelsItem, ReadResult
from napari_segtool.model.chunked_labels import ChunkedLabels, is_large
from napari_segtool.model.document import DocumentError
from napari_segtool.model.ontology import Ontology


class OmeZarrWarning(UserWarning):
    """Something read from an OME-Zarr store that the user should know about."""


def read_result(
    path: str,
    *,
    claim: StoreClaim | None = None,
    chunked: bool | None = None,
    **_options: Any,
) -> ReadResult:
    """The image of the store at ``path`` and its label groups as segmentation layers.

    ``chunked``: ``True`` opens every label group as chunked labels, ``False``
    none (each is read whole into memory), ``None`` the large ones (see the
    module doc).
    """
    claim = claim or claim_store(path)
    if claim is None:
        raise OmeZarrError(f"{path}: not an OME-Zarr store (no zarr group here)")
    root, zarr_format = claim.root, claim.zarr_format
    notes: list[str] = []
    labels_dir = root / "labels"
    for name in recover_interrupted_swaps(labels_dir):
        notes.append(
            f"{labels_dir / name}: put back the label group a stopped save had moved aside"
        )
    multiscale_paths(root, zarr_format)  # a clear error for a malformed image first
    listed = _listed_groups(labels_dir, zarr_format)
    for name in listed:
        multiscale_paths(labels_dir / name, zarr_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ome-zarr-py's version guesses; checked above
        try:
            nodes = list(Reader(parse_url(str(root), mode="r"))())
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise OmeZarrError(f"{root}: cannot be read as OME-Zarr ({err})") from None
    image_node = next((n for n in nodes if n.specs and isinstance(n.specs[0], Multiscales)), None)
    if image_node is None:
        raise OmeZarrError(f"{metadata_file(root, zarr_format)}: no image (multiscales) found")
    items: list[Any] = [_image_item(root, image_node)]
    ontology = None
    by_name = {
        n.metadata.get("name"): n for n in nodes if any(isinstance(s, Label) for s in n.specs)
    }
    for name in listed:
        node = by_name.get(name)
        if node is None or not node.data:
            raise OmeZarrError(f"{labels_dir / name}: listed in labels but not readable")
        folder = labels_dir / name
        image_label = ome_attributes(folder, zarr_format).get("image-label", {})
        namespaced = group_attributes(folder, zarr_format).get(label_meta.NAMESPACE)
        if ontology is None:
            ontology = _default_ontology()
        try:
            document, read_notes = label_meta.document_from_metadata(
                image_label if isinstance(image_label, dict) else {},
                namespaced,
                str(metadata_file(folder, zarr_format)),
                ontology,
            )
        except DocumentError as err:
            raise OmeZarrError(str(err)) from None
        notes += read_notes
        document.source.setdefault("image_name", root.name)
        document.source["image_path"] = str(root)
        document.source[label_meta.STORE_SOURCE] = {
            "path": str(root.absolute()),
            "label_group": name,
            "version": VERSIONS[zarr_format],
        }
        pixels = _labels_of(folder, zarr_format, node.data[0], chunked)
        items.append(LabelsItem(pixels, document, name))
    for note in notes:
        warnings.warn(note, OmeZarrWarning, stacklevel=2)
    return ReadResult(tuple(items), tuple(notes))


def _listed_groups(labels_dir: Path, zarr_format: int) -> list[str]:
    if not labels_dir.is_dir():
        return []
    listed = ome_attributes(labels_dir, zarr_format).get("labels", [])
    if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
        raise OmeZarrError(f"{metadata_file(labels_dir, zarr_format)}: 'labels' must list names")
    return listed


def _image_item(root: Path, node) -> ImageItem:
    """Every level as a dask array; a colour channel axis of 3 or 4 uint8 channels last (RGB)."""
    levels = list(node.data)
    axes = [a.get("name") if isinstance(a, dict) else a for a in node.metadata.get("axes", [])]
    rgb = False
    if "c" in axes:
        c = axes.index("c")
        size = levels[0].shape[c]
        if size in (3, 4) and levels[0].dtype == np.uint8:
            levels = [np.moveaxis(level, c, -1) for level in levels]
            axes = [a for a in axes if a != "c"]  # napari counts no colour axis
            rgb = True
        elif size == 1:
            levels = [level.take(0, axis=c) for level in levels]
            axes.remove("c")
    data: Any = levels if len(levels) > 1 else levels[0]
    labels = tuple(str(a) for a in axes) if axes else None
    return ImageItem(data, root.name.removesuffix(".zarr").removesuffix(".ome"), root, rgb, labels)


def _labels_of(folder: Path, zarr_format: int, level, chunked: bool | None) -> Any:
    if chunked is None:
        chunked = is_large(tuple(level.shape), np.dtype(level.dtype))
    if not chunked:
        return _load_labels(folder, level)
    levels = []
    for path in multiscale_paths(folder, zarr_format):
        try:
            levels.append(zarr.open_array(str(folder / path), mode="r", zarr_format=zarr_format))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise OmeZarrError(
                f"{folder / path}: the label array cannot be opened ({err})"
            ) from None
    first = levels[0]
    if first.dtype.kind not in "ui":
        raise OmeZarrError(f"{folder}: labels must be integers, not {first.dtype}")
    dtype = first.dtype if first.dtype.itemsize >= 2 else np.dtype(np.uint16)
    return ChunkedLabels.create(
        tuple(first.shape),
        chunks=tuple(first.chunks),
        dtype=dtype,
        level_shapes=[tuple(level.shape) for level in levels],
        base=levels,
    )


def _load_labels(folder: Path, level) -> np.ndarray:
    try:
        pixels = np.asarray(level)
    except (OSError, ValueError, KeyError) as err:
        raise OmeZarrError(f"{folder}: the label pixels cannot be read ({err})") from None
    if pixels.dtype.kind not in "ui":
        raise OmeZarrError(f"{folder}: labels must be integers, not {pixels.dtype}")
    if pixels.dtype.itemsize < 2:
        pixels = pixels.astype(np.uint16)  # room for more than 255 instances
    return pixels


def _default_ontology() -> Ontology:
    """The plugin's own ontology: what a label group of another tool gets to be classed with."""
    return Ontology.load(Path(str(files("napari_segtool") / "resources" / "default_ontology.json")))
