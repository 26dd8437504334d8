"""COCO files on disk: the JSON and the images beside it (read and write).

:mod:`.coco` turns COCO dicts into label images and documents and back; this
module adds the file system.

Writing
-------
The JSON (``file_name`` of each image relative to the JSON's folder), plus
the images *given along*: an image that already lies in that folder is
referenced, one elsewhere on disk is copied next to the JSON, one that only
exists in memory (the sample) is written as PNG. Files written replace older
ones of the same name. Without an image only the JSON is written, and
``file_name`` names the image the segmentation was made on.

Reading
-------
Images are loaded when the file named by ``file_name`` is found in the usual
places (:func:`image_folders`: beside the JSON, ``images/``, ``../images/``,
with ``file_name``'s own sub-path or its last part); names that point out
(``..``, absolute paths, symlinks leading out) are refused with a warning, and
the segmentation opens alone. Images not found are named in one warning.
Box-only annotations come as a Shapes item per image (:func:`box_shapes`).
Images are decoded by the toolkit
(:mod:`.toolkit.images`): common raster formats only, and their size is checked
against the COCO entry on the header, before any pixel is decoded (a
decompression bomb is refused unread).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from napari_segtool.formats.coco import (
    BOXES_SOURCE,
    CocoError,
    CocoImage,
    CocoImageInput,
    CocoWarning,
    assemble_coco,
    build_coco,
    coco_image_part,
    parse_coco,
    read_json_file,
    sniff_coco_file,
    write_coco_json,
)
from napari_segtool.formats.planes import SOURCE_KEY as PLANE_SOURCE
from napari_segtool.formats.planes import (
    PlaneError,
    PlaneWarning,
    iter_planes,
    join_planes,
    read_stack_image,
)
from napari_segtool.formats.result import (
    ImageItem,
    Item,
    LabelsItem,
    ReadResult,
    ShapesItem,
    WriteResult,
    collected_notes,
)
from napari_segtool.formats.toolkit.arrays import label_array
from napari_segtool.formats.toolkit.atomic import atomic_path
from napari_segtool.formats.toolkit.images import (
    PILLOW_LIMIT,
    ImageBombError,
    ImageError,
    ImageSizeError,
    decode_image,
)
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ids import new_cuid
from napari_segtool.model.label_store import label_store
from napari_segtool.model.ontology import ObjectClass, Ontology

COCO_EXTENSION = ".coco.json"
#: the class given to the ids of a plain label image (one without a document)
PLAIN_CLASS = ObjectClass(name="object", color="#9E9E9E", feature_schema_id="napari-segtool-object")
#: what :func:`claim_coco` answers for a ``.coco.json`` file: ours, read it when asked
OWN_EXTENSION = "own extension"
#: ending of an image encoded for a COCO file that is not assembled yet
_STAGED_IMAGE = ".saving.png"


# -- reading ------------------------------------------------------------------------------
def claim_coco(path: str | Path) -> Any:
    """``None`` unless ``path`` is COCO JSON; else what :func:`read_coco_file` reuses.

    A file with our own extension is claimed unread, even when damaged, so the
    error says what is wrong; any other ``.json`` is parsed (a Labelbox export,
    a list, is declined after its first bytes) and its parsed data returned.
    """
    name = str(path)
    if not name.lower().endswith(".json"):
        return None
    if name.lower().endswith(COCO_EXTENSION) and Path(name).is_file():
        return OWN_EXTENSION
    return sniff_coco_file(name)


def read_coco_file(
    path: str | Path,
    *,
    claim: Any = None,
    max_pixels: int | None = PILLOW_LIMIT,
    units: Collection[int] | None = None,
    load_images: bool = True,
    **_options,
) -> ReadResult:
    """Per COCO image: the image (when found), its labels and document, and its boxes.

    ``claim`` is what :func:`claim_coco` returned (the parsed data, saving a
    second parse). ``units`` reads only the images at those positions of the
    ``images`` list (see :func:`count_images`). Everything is parsed and loaded before anything is
    returned; :class:`~.coco.CocoError` names the file and the problem.
    ``load_images=False`` neither looks for nor decodes the images (the labels and
    documents only: a batch command reading back what it wrote).
    """
    path = str(path)
    data = claim if isinstance(claim, dict) else read_json_file(path)
    notes: list[str] = []
    items: list[Item] = []
    with collected_notes(CocoWarning, notes), collected_notes(PlaneWarning, notes):
        images, _ = parse_coco(data, path, only_images=None if units is None else set(units))
        json_file = Path(path).resolve()
        missing: list[str] = []
        for image in images:
            name = image.document.source["image_name"]
            if PLANE_SOURCE in image.document.source:  # a stack's image is opened once
                items.append(LabelsItem(image.labels, image.document, f"{name} segmentation"))
                continue
            image_file = find_image_file(json_file, image.file_name, path) if load_images else None
            if image_file is not None:
                pixels = load_image(image_file, image, path, max_pixels)
                image.document.source["image_path"] = str(image_file)
                rgb = pixels.ndim == 3 and pixels.shape[-1] in (3, 4)
                items.append(ImageItem(pixels, name, image_file, rgb))
            elif load_images and image.file_name and not _refused(image.file_name):
                missing.append(image.file_name)
            items.append(LabelsItem(image.labels, image.document, f"{name} segmentation"))
            boxes = box_shapes(image.document, f"{name} boxes")
            if boxes is not None:
                items.append(boxes)
        try:
            items = join_planes(
                items, _StackImages(json_file, path, missing) if load_images else _no_stack_image
            )
        except PlaneError as err:
            raise CocoError(path, str(err)) from None
        if missing:
            warnings.warn(
                f"{path}: {len(missing)} image(s) not found beside the COCO file, in images/ "
                f"or ../images/: {_listed(missing)}; their segmentation opens without them",
                CocoWarning,
                stacklevel=2,
            )
    return ReadResult(tuple(items), tuple(notes))


def _no_stack_image(_base: str, _sources) -> None:
    return None


class _StackImages:
    """The image of a stack written one COCO image per plane: the file named before ``#``
    in the usual places (a TIFF is read whole)."""

    def __init__(self, json_file: Path, source: str, missing: list[str]):
        self.json_file, self.source, self.missing = json_file, source, missing

    def __call__(self, base: str, sources) -> ImageItem | None:
        found = find_image_file(self.json_file, base, self.source)
        if found is None:
            if not _refused(base):
                self.missing.append(base)
            return None
        try:
            return read_stack_image(found, sources[0].get("image_name") or found.stem)
        except (OSError, ValueError) as err:
            raise CocoError(self.source, f"cannot read the stack image {base} ({err})") from None


def count_images(path: str | Path, claim: Any = None) -> int:
    """How many images the COCO file lists (positions for :func:`read_coco_file`'s ``units``)."""
    data = claim if isinstance(claim, dict) else read_json_file(path)
    images = data.get("images") if isinstance(data, dict) else None
    return len(images) if isinstance(images, list) else 1


def image_names(path: str | Path, claim: Any = None) -> list[Any]:
    """The ``file_name`` of every image, in :func:`count_images` order (the planes of a
    stack are named ``<image>#z=<k>``)."""
    data = claim if isinstance(claim, dict) else read_json_file(path)
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        return [None]
    return [image.get("file_name") if isinstance(image, dict) else None for image in images]


def box_shapes(document: Document, name: str) -> ShapesItem | None:
    """The box-only annotations a document was read with, as rectangles (``None`` if none).

    Features: the class, the COCO annotation id and one column per attribute.
    """
    kept = document.source.get(BOXES_SOURCE) or []
    coords, colors, classes, ids, attributes = [], [], [], [], []
    for box in kept:
        x, y, width, height = (float(v) for v in box["annotation"]["bbox"])
        coords.append(np.array([[y, x], [y, x + width], [y + height, x + width], [y + height, x]]))
        cls_ = document.ontology.class_by_id(box["schema_id"])
        classes.append(cls_.name if cls_ else "")
        colors.append(cls_.color if cls_ else PLAIN_CLASS.color)
        ids.append(box["annotation"].get("id"))
        values = box["annotation"].get("attributes")
        attributes.append(values if isinstance(values, dict) else {})
    if not coords:
        return None
    features: dict[str, list[Any]] = {"class": classes, "annotation id": ids}
    for key in dict.fromkeys(k for values in attributes for k in values):
        if key not in features:
            features[key] = [values.get(key) for values in attributes]
    return ShapesItem(
        kind="shapes",
        name=name,
        coords=coords,
        shape_types=["rectangle"] * len(coords),
        colors=colors,
        features=features,
    )


def _refused(file_name: str) -> bool:
    """Names never looked up (they point out of the folders searched); warned about apart."""
    relative = PurePosixPath(file_name.replace("\\", "/"))
    return relative.is_absolute() or ".." in relative.parts or Path(file_name).is_absolute()


def _listed(names: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def image_folders(json_file: Path) -> list[tuple[Path, Path]]:
    """Where the images of a COCO file are looked for, in order: ``(folder, root)``.

    Beside the JSON, its ``images/`` folder, and the ``images/`` beside the
    JSON's folder (CVAT and datumaro write ``annotations/*.json`` next to
    ``images/``); in each, datumaro's subset folder too (``images/train`` for
    ``instances_train.json``). An image found must lie inside its ``root``
    (the JSON's folder, or that ``../images/``), links included.
    """
    folder = json_file.parent
    stem = json_file.name.removesuffix(".json").removesuffix(".coco")
    subset = stem.rsplit("_", 1)[-1] if "_" in stem else ""
    roots = [(folder, folder), (folder / "images", folder), (folder.parent / "images",) * 2]
    found: list[tuple[Path, Path]] = []
    for base, root in roots:
        for candidate in (base, base / subset) if subset else (base,):
            if all(candidate != known for known, _ in found):
                found.append((candidate, root))
    return found


def find_image_file(json_file: Path, file_name: str, source: str) -> Path | None:
    """The image ``file_name`` names, in one of the usual places; ``None`` otherwise.

    ``file_name`` is looked up with its own sub-path, then by its last part,
    in each of :func:`image_folders`; a name pointing out (``..``, absolute)
    or a link leading out of its root is refused with a warning.
    """
    if not file_name:
        return None
    relative = PurePosixPath(file_name.replace("\\", "/"))
    if _refused(file_name):
        warnings.warn(
            f"{source}: image {file_name!r} is outside the COCO file's folder; it is not "
            "opened (only the segmentation is)",
            CocoWarning,
            stacklevel=2,
        )
        return None
    names = [relative] if len(relative.parts) <= 1 else [relative, PurePosixPath(relative.name)]
    for base, root in image_folders(json_file):
        for name in names:
            try:
                named = base / Path(*name.parts)
                if not named.is_file():
                    continue
                candidate = named.resolve()
                if candidate.is_relative_to(root.resolve()):
                    return candidate
                warnings.warn(
                    f"{source}: image {file_name!r} links to a file outside the COCO file's "
                    "folder; it is not opened (only the segmentation is)",
                    CocoWarning,
                    stacklevel=2,
                )
                return None
            except (OSError, ValueError):  # e.g. a NUL byte, a lone surrogate, an over-long name
                return None
    return None


def load_image(
    path: Path, image: CocoImage, source: str, max_pixels: int | None = PILLOW_LIMIT
) -> np.ndarray:
    """The pixels of ``image``'s file; its size is checked before anything is decoded."""
    where = f"image {image.image_id}: {image.file_name}"
    try:
        return decode_image(path, max_pixels=max_pixels, expected_size=(image.width, image.height))
    except ImageSizeError as err:
        (width, height), (exp_w, exp_h) = err.size, err.expected
        raise CocoError(
            source,
            f"{where} is {width} x {height} pixels, the file says {exp_w} x {exp_h}"
            + err.bomb_note,
        ) from None
    except ImageBombError as err:
        raise CocoError(
            source, f"{where} is too large to be real, refused as a decompression bomb ({err})"
        ) from None
    except ImageError as err:
        raise CocoError(source, f"cannot read {where} ({str(err)[:200]})") from None


# -- writing ------------------------------------------------------------------------------
def write_coco_file(
    path: str | Path,
    labels: Sequence[LabelsItem],
    images: Sequence[ImageItem] = (),
    *,
    segmentation: str = "rle",
    tolerance: float = 0.0,
    **_options,
) -> WriteResult:
    """The label images as one COCO file, the images given along saved beside it.

    ``segmentation`` is ``"rle"`` (exact) or ``"polygons"`` (exact at
    ``tolerance=0``, simplified by ``tolerance`` pixels otherwise). A labels
    item's image is the one its document names (``source["image_name"]``), or
    the only one given. Raises :class:`~.coco.CocoError`; warns
    (:class:`~.coco.CocoWarning`) about painted ids without a class, which are
    left out.
    """
    path = Path(path)
    if not labels:
        raise CocoError(str(path), "nothing to export: select at least one Labels layer")
    folder = path.resolve().parent
    pairs = pair_images(labels, images)
    used_names: set[str] = set()
    entries: list[CocoImageInput] = []
    to_write: list[tuple[ImageItem, Path]] = []
    for entry, image in zip(labels, pairs, strict=True):
        file_name, source_file, target = _file_name(entry, image, folder, used_names)
        used_names.add(file_name.casefold())
        if image is not None and target is not None:
            to_write.append((ImageItem(image.data, image.name, source_file), target))
        entries.extend(_inputs(entry, file_name))
    notes: list[str] = []
    with collected_notes(CocoWarning, notes):
        try:
            coco = build_coco(entries, segmentation=segmentation, tolerance=tolerance)
        except CocoError as err:
            raise CocoError(str(path), err.problem) from None
        written = [path]
        for image, target in to_write:
            if _write_image(image, target, str(path)):
                written.append(target)
    write_coco_json(path, coco)
    return WriteResult(
        written=tuple(written),
        sources=tuple(dict(entry.document.source) for entry in labels),
        summary=f"Wrote COCO {path.name}",
        notes=tuple(notes),
    )


def _inputs(entry: LabelsItem, file_name: str) -> list[CocoImageInput]:
    """The COCO images of a labels item: itself, or one per plane of a stack (see
    :mod:`.planes`), named ``<file_name>#z=<k>``."""
    if np.ndim(entry.data) <= 2:
        return [CocoImageInput(label_array(entry.data), entry.document, file_name)]
    return [
        CocoImageInput(plane.data, plane.document, plane.document.source["external_id"])
        for plane in iter_planes(entry, file_name)
    ]


def plain_document(data: np.ndarray) -> Document:
    """A document for a label image made outside this plugin: every id is an "object"."""
    ontology = Ontology(classes=[ObjectClass.from_dict(PLAIN_CLASS.to_dict(), "tools")])
    ids = [i for i in label_store(data).ids() if i > 0]
    instances = [Instance(i, PLAIN_CLASS.feature_schema_id) for i in ids]
    return Document(ontology=ontology, instances=instances)


def pair_images(
    labels: Sequence[LabelsItem], images: Sequence[ImageItem]
) -> list[ImageItem | None]:
    """Each labels item's image: the image its document names, or the only one."""
    by_name = {image.name: image for image in images}
    pairs: list[ImageItem | None] = []
    for entry in labels:
        wanted = entry.document.source.get("image_name")
        image = by_name.get(wanted) if wanted else None
        if image is None and len(images) == 1 and len(labels) == 1:
            image = images[0]
        pairs.append(image)
    return pairs


def _file_name(
    entry: LabelsItem, image: ImageItem | None, folder: Path, used: set[str]
) -> tuple[str, Path | None, Path | None]:
    """``file_name`` for the COCO entry, the image's file on disk, and where to write it.

    The last is ``None`` when nothing is to be written.
    """
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
        return on_disk.relative_to(folder).as_posix(), on_disk, None
    if on_disk is not None:
        name = _unique(_safe_name(on_disk.name), used)
        return name, on_disk, (folder / name if image is not None else None)
    external = PurePosixPath(str(source.get("external_id") or "").replace("\\", "/")).name
    if image is None:
        # nothing written: name the image the segmentation was made on
        remembered = Path(str(source.get("image_path") or "")).name
        if external and external.isprintable() and external.strip(" .") == external:
            # nothing is written under this name: kept as the other tool wrote it
            return _unique(external, used), None, None
        name = external or remembered or f"{source.get('image_name') or entry.name}.png"
        return _unique(_safe_name(name), used), None, None
    stem = Path(external.partition("#")[0]).stem or image.name
    ending = ".tif" if np.ndim(entry.data) > 2 else ".png"  # a stack's image is a TIFF
    name = _unique(_safe_name(f"{stem}{ending}"), used)
    return name, None, folder / name


def planned_image(
    entry: LabelsItem, image: ImageItem | None, folder: Path
) -> tuple[str, Path | None, Path | None]:
    """What :func:`write_coco_file` would do with ``entry``'s image in ``folder``:
    ``file_name``, the image's file on disk, and where it would be copied (``None``: nowhere).

    For tools that write the JSON themselves (a merge of many files).
    """
    return _file_name(entry, image, folder, set())


def write_image_part(
    path: str | Path,
    entry: LabelsItem,
    image: ImageItem | None,
    *,
    segmentation: str = "rle",
    tolerance: float = 0.0,
) -> dict[str, Any]:
    """What :func:`write_coco_file` would write to ``path`` for one labels item, as a part
    for :func:`assemble_coco_file` (plain values, no pixels).

    An image known only by its pixels is encoded here, under a staged name beside
    ``path`` that the assembly moves into place; one on disk is copied there.
    """
    path = Path(path)
    folder = path.resolve().parent
    name, on_disk, target = _file_name(entry, image, folder, set())
    staged = None
    if image is not None and target is not None and on_disk is None:
        folder.mkdir(parents=True, exist_ok=True)
        ending = Path(name).suffix + _STAGED_IMAGE  # a stack's image stays a TIFF
        staged = folder / f".{path.name}.{new_cuid()}{ending}"
        if not _write_image(ImageItem(image.data, image.name, None), staged, str(path)):
            staged = None
    inputs = _inputs(entry, name)
    planes = [
        coco_image_part(plane, segmentation=segmentation, tolerance=tolerance) for plane in inputs
    ]
    part = planes[0] if np.ndim(entry.data) <= 2 else {"image": {"file_name": name}}
    if np.ndim(entry.data) > 2:  # a stack: one COCO image per plane, named after its image
        part["planes"] = planes
        part["suffixes"] = [plane.file_name.removeprefix(name) for plane in inputs]
    part["name_fixed"] = on_disk is not None and target is None and on_disk.is_relative_to(folder)
    part["image_copy"] = str(on_disk) if target is not None and on_disk is not None else None
    part["image_staged"] = str(staged) if staged is not None else None
    return part


def assemble_coco_file(path: str | Path, parts: Sequence[dict[str, Any]]) -> list[Path]:
    """Write the COCO file of :func:`write_image_part` results (in their order): image
    names made unique as :func:`write_coco_file` makes them, images put beside it, the
    JSON last and atomically. Returns the files written."""
    path = Path(path)
    if not parts:
        raise CocoError(str(path), "nothing to export: no label image")
    folder = path.resolve().parent
    used: set[str] = set()
    named = []
    images = []  # (file name on disk, part)
    for part in parts:
        name = part["image"]["file_name"]
        if not part["name_fixed"]:
            name = _unique(name, used)
        used.add(name.casefold())
        images.append((name, part))
        if "planes" in part:  # a stack's planes, named after its image
            for plane, suffix in zip(part["planes"], part["suffixes"], strict=True):
                named.append({**plane, "image": {**plane["image"], "file_name": name + suffix}})
        else:
            named.append({**part, "image": {**part["image"], "file_name": name}})
    try:
        coco = assemble_coco(named)
    except CocoError as err:
        raise CocoError(str(path), err.problem) from None
    written = [path]
    for name, part in images:
        target = folder / name
        if part["image_staged"] is not None:
            os.replace(part["image_staged"], target)
            written.append(target)
        elif part["image_copy"] is not None and Path(part["image_copy"]).resolve() != target:
            with atomic_path(target) as tmp:
                shutil.copyfile(part["image_copy"], tmp)
            written.append(target)
    write_coco_json(path, coco)
    return written


def discard_image_part(part: dict[str, Any]) -> None:
    """Remove what :func:`write_image_part` staged (the file was not assembled)."""
    if part.get("image_staged"):
        Path(part["image_staged"]).unlink(missing_ok=True)


def unique_file_name(name: str, used: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3`` ... when ``used`` (casefolded) holds it."""
    return _unique(name, used)


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_. " else "_" for c in name).strip(" .")
    return cleaned or "image.png"


def _unique(name: str, used: set[str]) -> str:
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, n = name, 2
    while candidate.casefold() in used:
        candidate, n = f"{stem}-{n}{suffix}", n + 1
    return candidate


#: an image with no file of its own is encoded beside the COCO file up to this many values
#: (a larger one, such as the image of an OME-Zarr store, is named only)
IMAGE_COPY_LIMIT = 1 << 28


def _write_image(image: ImageItem, target: Path, source: str) -> bool:
    """Copy the image's file, or encode its pixels as PNG; ``False`` if it cannot be."""
    if image.path is not None and image.path.is_file():
        if image.path.resolve() == target.resolve():
            return False
        with atomic_path(target) as tmp:
            shutil.copyfile(image.path, tmp)
        return True
    from PIL import Image as PILImage

    data = image.data[0] if isinstance(image.data, list | tuple) else image.data  # a pyramid
    if int(np.prod(np.shape(data))) > IMAGE_COPY_LIMIT:
        warnings.warn(
            f"{source}: image layer {image.name!r} (shape {tuple(np.shape(data))}) is too large "
            "to be encoded beside the file; only its name is written",
            CocoWarning,
            stacklevel=3,
        )
        return False
    pixels = np.asarray(data)
    if target.suffix == ".tif" or target.name.endswith(".tif" + _STAGED_IMAGE):
        import tifffile

        with atomic_path(target) as tmp:
            rgb = pixels.ndim >= 3 and pixels.shape[-1] in (3, 4) and pixels.dtype == np.uint8
            tifffile.imwrite(tmp, pixels, photometric="rgb" if rgb else "minisblack")
        return True
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
