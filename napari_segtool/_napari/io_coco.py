"""npe2 reader and writer for COCO instance segmentation, and the dock's export call.

Thin: napari layers and layer data tuples in and out of
:mod:`napari_segtool.formats.coco`, which does the work.

Choosing COCO when saving
-------------------------
The Labelbox v1 writer of this plugin also writes ``.json``. npe2 picks the
writer whose extension matches the *longest* end of the file name, so the COCO
writer claims ``.coco.json``: File > Save Selected Layers as ``cells.coco.json``
writes COCO, ``cells.json`` writes Labelbox v1. In napari's save dialog the COCO
writer is also listed on its own ("Segmentation Tool COCO instance
segmentation (*.coco.json)"); choosing that entry uses it whatever the name.

What gets written
-----------------
The JSON (``file_name`` of each image relative to the JSON's folder), plus
the image files of the *image layers saved along* (select the image and its
segmentation layer, then save): an image that already lies in that folder is
referenced, one elsewhere on disk is copied next to the JSON, one that only
exists in memory (the sample) is written as PNG. Files we write replace older
ones of the same name. Without an image layer only the JSON is written, and
``file_name`` names the image the segmentation was made on.

Reading
-------
The reader declines (returns ``None``) any JSON that is not COCO, so Labelbox
exports and ontologies go to their own reader. Images are loaded when the file
named by ``file_name`` is in the JSON's folder (or its ``images/`` subfolder);
names that point outside that folder (``..``, absolute paths, symlinks leading
out) are refused with a warning, and the segmentation opens alone. Images are
opened in common raster formats only, and their size is checked against the
COCO entry on the header, before any pixel is decoded (a decompression bomb is
refused unread).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from napari.layers import Image, Labels

from napari_segtool._napari import binding as _layer
from napari_segtool._napari.binding import (
    document_of,
    is_segmentation_layer,
    segmentation_layer_kwargs,
    unwrap,
)
from napari_segtool.formats.coco import (
    CocoError,
    CocoImage,
    CocoImageInput,
    CocoWarning,
    build_coco,
    parse_coco,
    read_json_file,
    sniff_coco_file,
    write_coco_json,
)
from napari_segtool.formats.toolkit.atomic import atomic_path
from napari_segtool.model.document import METADATA_KEY, Document, Instance
from napari_segtool.model.label_store import label_store
from napari_segtool.model.ontology import ObjectClass, Ontology

LayerData = tuple[Any, dict[str, Any], str]
COCO_EXTENSION = ".coco.json"
#: the class given to the ids of a plain Labels layer (one without a document)
PLAIN_CLASS = ObjectClass(name="object", color="#9E9E9E", feature_schema_id="napari-segtool-object")
#: folders (inside the JSON's) where the reader looks for ``file_name``
IMAGE_FOLDERS = (".", "images")
#: image formats opened beside a COCO file; others are refused (EPS would run Ghostscript)
IMAGE_FORMATS = ("PNG", "JPEG", "MPO", "TIFF", "BMP", "GIF", "WEBP")


# -- reader -----------------------------------------------------------------------------
def get_coco_reader(path: str | list[str]):
    """npe2 reader hook: a reader for COCO JSON, ``None`` for anything else."""
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not paths or not all(str(p).lower().endswith(".json") for p in paths):
        return None
    parsed = []
    for one in paths:
        if str(one).lower().endswith(COCO_EXTENSION) and Path(one).is_file():
            # our own extension: claim it even when damaged, so the error says what is wrong
            parsed.append((str(one), None))
            continue
        data = sniff_coco_file(one)
        if data is None:
            return None
        parsed.append((str(one), data))

    def read_parsed(_path: str | list[str]) -> list[LayerData]:
        layers: list[LayerData] = []
        for one, data in parsed:
            layers.extend(read_coco(one) if data is None else layer_data_from_coco(one, data))
        return layers

    return read_parsed


def read_coco(path: str | Path) -> list[LayerData]:
    """Layer data tuples of a COCO file: per image, the image (if found) and its segmentation."""
    return layer_data_from_coco(str(path), read_json_file(path))


def layer_data_from_coco(path: str, data: Any) -> list[LayerData]:
    """Everything is parsed and loaded before anything is returned: bad input adds no layer."""
    images, _ = parse_coco(data, path)
    folder = Path(path).resolve().parent
    layers: list[LayerData] = []
    for image in images:
        name = image.document.source["image_name"]
        image_file = find_image_file(folder, image.file_name, path)
        if image_file is not None:
            pixels = _load_image(image_file, image, path)
            image.document.source["image_path"] = str(image_file)
            rgb = pixels.ndim == 3 and pixels.shape[-1] in (3, 4)
            layers.append((pixels, {"name": name, "rgb": rgb}, "image"))
        layers.append(
            (
                image.labels,
                segmentation_layer_kwargs(image.document, f"{name} segmentation"),
                "labels",
            )
        )
    return layers


def find_image_file(folder: Path, file_name: str, source: str) -> Path | None:
    """The image ``file_name`` names, when it lies inside ``folder``; ``None`` otherwise."""
    if not file_name:
        return None
    relative = PurePosixPath(file_name.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts or Path(file_name).is_absolute():
        warnings.warn(
            f"{source}: image {file_name!r} is outside the COCO file's folder; it is not "
            "opened (only the segmentation is)",
            CocoWarning,
            stacklevel=2,
        )
        return None
    for sub in IMAGE_FOLDERS:
        try:
            named = folder / sub / Path(*relative.parts)
            candidate = named.resolve()
            if candidate.is_relative_to(folder) and candidate.is_file():
                return candidate
            if named.is_file():  # a symlink leading out of the folder
                warnings.warn(
                    f"{source}: image {file_name!r} links to a file outside the COCO file's "
                    "folder; it is not opened (only the segmentation is)",
                    CocoWarning,
                    stacklevel=2,
                )
                return None
        except (OSError, ValueError):  # e.g. a NUL byte, a lone surrogate or an over-long name
            return None
    return None


def _load_image(path: Path, image: CocoImage, source: str) -> np.ndarray:
    """The pixels of ``image``'s file; its size is checked before anything is decoded."""
    from PIL import Image as PILImage

    where = f"image {image.image_id}: {image.file_name}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            handle = PILImage.open(path, formats=IMAGE_FORMATS)
        with handle:
            # the header is all that is read so far: a file whose size disagrees with the
            # COCO entry (which is within MAX_PIXELS) is refused before it is decoded
            if handle.size != (image.width, image.height):
                raise CocoError(
                    source,
                    f"{where} is {handle.size[0]} x {handle.size[1]} pixels, the file says "
                    f"{image.width} x {image.height}",
                )
            handle.seek(0)
            if handle.mode in ("P", "PA", "LA", "CMYK", "YCbCr", "1"):
                handle = handle.convert("RGBA" if "A" in handle.mode else "RGB")
            return np.asarray(handle)
    except CocoError:
        raise
    except PILImage.DecompressionBombError as err:
        raise CocoError(
            source, f"{where} is too large to be real, refused as a decompression bomb ({err})"
        ) from None
    except Exception as err:  # a damaged file can make a Pillow plugin raise anything
        raise CocoError(
            source, f"cannot read {where} ({type(err).__name__}: {str(err)[:200]})"
        ) from None


# -- writer -----------------------------------------------------------------------------
@dataclass
class _LabelsToWrite:
    data: np.ndarray
    document: Document
    name: str


@dataclass
class _ImageToWrite:
    data: Any
    name: str
    path: Path | None


def write_coco(path: str, layer_data: list[LayerData]) -> list[str]:
    """npe2 writer hook: the labels layers as one COCO file (RLE), images saved along."""
    labels: list[_LabelsToWrite] = []
    images: list[_ImageToWrite] = []
    for data, meta, layer_type in layer_data:
        name = meta.get("name") or layer_type
        if layer_type == "labels":
            labels.append(_LabelsToWrite(np.asarray(data), _document_from_meta(data, meta), name))
        elif layer_type == "image":
            pixels = data[0] if meta.get("multiscale") else data
            images.append(_ImageToWrite(pixels, name, None))
    return _export(Path(path), labels, images)


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
    labels: list[_LabelsToWrite] = []
    images: list[_ImageToWrite] = []
    for layer in (unwrap(layer) for layer in layers):
        if isinstance(layer, Labels):
            document = document_of(layer) if is_segmentation_layer(layer) else None
            data = np.asarray(layer.data)
            labels.append(_LabelsToWrite(data, document or _plain_document(data), layer.name))
        elif isinstance(layer, Image):
            pixels = layer.data[0] if layer.multiscale else layer.data
            source = layer.source.path if layer.source is not None else None
            images.append(_ImageToWrite(pixels, layer.name, Path(source) if source else None))
    return _export(Path(path), labels, images, segmentation=segmentation, tolerance=tolerance)


def _export(
    path: Path,
    labels: list[_LabelsToWrite],
    images: list[_ImageToWrite],
    *,
    segmentation: str = "rle",
    tolerance: float = 0.0,
) -> list[str]:
    if not labels:
        raise CocoError(str(path), "nothing to export: select at least one Labels layer")
    folder = path.resolve().parent
    pairs = _pair_images(labels, images)
    used_names: set[str] = set()
    entries: list[CocoImageInput] = []
    to_write: list[tuple[_ImageToWrite, Path]] = []
    for entry, image in zip(labels, pairs, strict=True):
        file_name, target = _file_name(entry, image, folder, used_names)
        used_names.add(file_name.casefold())
        if image is not None and target is not None:
            to_write.append((image, target))
        entries.append(CocoImageInput(entry.data, entry.document, file_name))
    try:
        coco = build_coco(entries, segmentation=segmentation, tolerance=tolerance)
    except CocoError as err:
        raise CocoError(str(path), err.problem) from None
    written = [str(path)]
    for image, target in to_write:
        if _write_image(image, target, str(path)):
            written.append(str(target))
    write_coco_json(path, coco)
    return written


def _document_from_meta(data: Any, meta: dict[str, Any]) -> Document:
    metadata = meta.get("metadata") or {}
    raw = metadata.get(METADATA_KEY)
    if not isinstance(raw, dict):
        return _plain_document(np.asarray(data))
    # the live document of the layer whose metadata this is, when one is bound
    layer = next((lyr for lyr in list(_layer._bindings) if lyr.metadata is metadata), None)
    return document_of(layer) if layer is not None else Document.from_dict(raw)


def _plain_document(data: np.ndarray) -> Document:
    """A document for a Labels layer made outside this plugin: every id is an "object"."""
    ontology = Ontology(classes=[ObjectClass.from_dict(PLAIN_CLASS.to_dict(), "tools")])
    ids = [i for i in label_store(data).ids() if i > 0]
    instances = [Instance(i, PLAIN_CLASS.feature_schema_id) for i in ids]
    return Document(ontology=ontology, instances=instances)


def _pair_images(
    labels: list[_LabelsToWrite], images: list[_ImageToWrite]
) -> list[_ImageToWrite | None]:
    """Each labels layer's image: the image layer its document names, or the only one."""
    by_name = {image.name: image for image in images}
    pairs: list[_ImageToWrite | None] = []
    for entry in labels:
        wanted = entry.document.source.get("image_name")
        image = by_name.get(wanted) if wanted else None
        if image is None and len(images) == 1 and len(labels) == 1:
            image = images[0]
        pairs.append(image)
    return pairs


def _file_name(
    entry: _LabelsToWrite, image: _ImageToWrite | None, folder: Path, used: set[str]
) -> tuple[str, Path | None]:
    """``file_name`` for the COCO entry, and where to write the image (``None``: don't)."""
    source = entry.document.source
    on_disk = next(
        (
            Path(p).resolve()
            for p in (image.path if image else None, source.get("image_path"))
            if p and Path(p).is_file()
        ),
        None,
    )
    if on_disk is not None and on_disk.is_relative_to(folder):
        return on_disk.relative_to(folder).as_posix(), None
    if on_disk is not None:
        name = _unique(_safe_name(on_disk.name), used)
        if image is not None:
            image.path = on_disk
        return name, (folder / name if image is not None else None)
    external = PurePosixPath(str(source.get("external_id") or "").replace("\\", "/")).name
    if image is None:
        # nothing written: name the image the segmentation was made on
        remembered = Path(str(source.get("image_path") or "")).name
        name = external or remembered or f"{source.get('image_name') or entry.name}.png"
        return _unique(_safe_name(name), used), None
    stem = Path(external).stem or image.name
    name = _unique(_safe_name(f"{stem}.png"), used)
    return name, folder / name


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_. " else "_" for c in name).strip(" .")
    return cleaned or "image.png"


def _unique(name: str, used: set[str]) -> str:
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, n = name, 2
    while candidate.casefold() in used:
        candidate, n = f"{stem}-{n}{suffix}", n + 1
    return candidate


def _write_image(image: _ImageToWrite, target: Path, source: str) -> bool:
    """Copy the image's file, or encode its pixels as PNG; ``False`` if it cannot be."""
    if image.path is not None and image.path.is_file():
        if image.path.resolve() == target.resolve():
            return False
        with atomic_path(target) as tmp:
            shutil.copyfile(image.path, tmp)
        return True
    from PIL import Image as PILImage

    pixels = np.asarray(image.data)
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    lossless = (pixels.dtype == np.uint8 and (pixels.ndim == 2 or pixels.shape[-1] in (3, 4))) or (
        pixels.dtype == np.uint16 and pixels.ndim == 2
    )
    if not lossless or pixels.ndim not in (2, 3):
        warnings.warn(
            f"{source}: image layer {image.name!r} ({pixels.dtype}, shape {pixels.shape}) "
            "cannot be saved as PNG without loss; only its name is written",
            CocoWarning,
            stacklevel=3,
        )
        return False
    with atomic_path(target) as tmp:
        PILImage.fromarray(np.ascontiguousarray(pixels)).save(tmp, format="PNG")
    return True
