"""Stacks in 2-D formats: a 3-D to 5-D label image written one plane per data row / image.

Labelbox v1, Labelbox NDJSON and COCO hold 2-D images only. A stack (Z, Y, X),
(T, Y, X), (T, Z, Y, X), ... is written as one data row (one COCO image) per
plane of its leading axes, named ``<image>#<axis>=<index>[,<axis>=<index>...]``
in ``External ID`` / the global key / ``file_name``: ``cells.tif#z=12``,
``cells.tif#t=3,z=12``.

**Axis names**: the layer's axis labels when every leading one is a name
(letters, digits, ``_``, starting with a letter; lower-cased, all different),
else ``z`` for one leading axis, ``t,z`` for two, ``t,c,z`` for three.

**Identity**: an instance keeps its featureId, class and answers on every plane
it touches (the answers are the instance's, written once per plane row);
image-level answers belong to the stack and are written on every plane row.

**Empty planes** (no instance pixels) are not written, unless no plane has any:
then the first plane is written alone, so the stack's answers are kept. Every
plane row records the stack under the namespaced key ``napari_segtool``
(``{"plane": {"axes": [...], "index": [...], "stack_shape": [...]}}``, beside the
locks of :mod:`.toolkit.flags`), so the stack is rebuilt with its exact shape;
rows without the key (the key was dropped on the way) are rebuilt from their
names, as deep as the last plane written.

**Reading**: rows whose name carries a plane suffix are joined back into one
label stack per image name: each featureId one label id across its planes,
classes and answers restored, the stack's image opened (a TIFF read whole) when
the reader finds it. Ordinary rows beside them are left as they are. A row that
records a plane but whose name does not say a well-formed one, or that
contradicts its record, is an error naming the row; a name that looks like a
plane suffix but is malformed, with no record, is warned about and the row is
read as an ordinary 2-D row.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from napari_segtool.formats.result import ImageItem, Item, LabelsItem
from napari_segtool.formats.toolkit.arrays import is_chunked
from napari_segtool.formats.toolkit.flags import FLAGS_KEY, class_flags
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ids import new_cuid
from napari_segtool.model.label_store import label_store
from napari_segtool.model.ontology import Ontology

SEPARATOR = "#"
#: the key of the plane record under :data:`~.toolkit.flags.FLAGS_KEY`
PLANE_KEY = "plane"
#: the document source key of a plane read or to be written (see :class:`Plane`)
SOURCE_KEY = "plane"
#: the stack's per-plane source values (data row ids, ...), by plane suffix
PLANES_SOURCE = "planes"
_AXIS = re.compile(r"[a-z][a-z0-9_]*")
_DEFAULT_AXES = {1: ("z",), 2: ("t", "z"), 3: ("t", "c", "z")}
#: source values that belong to one plane row, never to the stack or another plane
_PER_PLANE = frozenset(
    (
        "data_row_id",
        "data_row_id_generated",
        "label_id",
        "global_key",
        "external_id",
        "coco_image_id",
        "coco_originals",
        "coco_covered",
        "coco_boxes",
        "coco_image",
        "import_answer_uuids",
        "other_objects",
        "rows_before",
        "rows_after",
        "created_at",
        "updated_at",
        "seconds_to_label",
        "labeled_data",
        "v1_extra",
        "row_data",
        "media_attributes",
        "v2_other_objects",
    )
)


class PlaneError(ValueError):
    """Plane rows that cannot be joined into a stack (the message names the row)."""


class PlaneWarning(UserWarning):
    """A name that looks like a plane suffix but is not one; the row is read as 2-D."""


@dataclass(frozen=True)
class Plane:
    """One plane of a stack, as a row names and records it."""

    #: the stack's image name (what comes before ``#``)
    base: str
    axes: tuple[str, ...]
    index: tuple[int, ...]
    #: the stack's whole shape when the row records it
    stack_shape: tuple[int, ...] | None = None

    @property
    def suffix(self) -> str:
        return ",".join(f"{a}={i}" for a, i in zip(self.axes, self.index, strict=True))

    @property
    def name(self) -> str:
        return f"{self.base}{SEPARATOR}{self.suffix}"

    def record(self) -> dict[str, Any]:
        """The row's ``napari_segtool`` entry for this plane."""
        record: dict[str, Any] = {"axes": list(self.axes), "index": list(self.index)}
        if self.stack_shape is not None:
            record["stack_shape"] = list(self.stack_shape)
        return {PLANE_KEY: record}

    def to_source(self) -> dict[str, Any]:
        return {"base": self.base, **self.record()[PLANE_KEY]}

    @classmethod
    def from_source(cls, value: Any) -> Plane | None:
        if not isinstance(value, dict):
            return None
        shape = value.get("stack_shape")
        try:
            return cls(
                str(value["base"]),
                tuple(str(a) for a in value["axes"]),
                tuple(int(i) for i in value["index"]),
                tuple(int(n) for n in shape) if shape else None,
            )
        except (KeyError, TypeError, ValueError):  # not a plane this module recorded
            return None


def plane_axes(ndim: int, axis_labels: Sequence[str] | None = None) -> tuple[str, ...]:
    """The names of a ``ndim``-D label image's plane axes (all but the last two)."""
    count = ndim - 2
    if count < 1:
        return ()
    if axis_labels is not None and len(axis_labels) == ndim:
        names = tuple(str(label).strip().lower() for label in axis_labels[:count])
        if all(_AXIS.fullmatch(n) for n in names) and len(set(names)) == count:
            return names
    if count in _DEFAULT_AXES:
        return _DEFAULT_AXES[count]
    return tuple(f"a{n}" for n in range(count))


def split_name(name: Any) -> tuple[str, str] | None:
    """``(base, suffix)`` when ``name`` ends in ``#<something with '='>``, else ``None``."""
    if not isinstance(name, str) or SEPARATOR not in name:
        return None
    base, _, suffix = name.rpartition(SEPARATOR)
    return (base, suffix) if "=" in suffix else None


def parse_suffix(suffix: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """``"t=3,z=12"`` -> ``(("t", "z"), (3, 12))``; ``ValueError`` saying what is wrong."""
    axes: list[str] = []
    index: list[int] = []
    for part in suffix.split(","):
        axis, equals, number = part.partition("=")
        axis = axis.strip()
        number = number.strip()
        if not equals or not _AXIS.fullmatch(axis):
            raise ValueError(f"{part!r} is not <axis>=<index> (axis: a lower-case name)")
        if not number.isdigit() or not number.isascii():
            raise ValueError(f"{part!r}: the index must be a whole number from 0")
        if axis in axes:
            raise ValueError(f"axis {axis!r} is named twice")
        axes.append(axis)
        index.append(int(number))
    return tuple(axes), tuple(index)


def plane_of(name: Any, entry: Any, where: str) -> Plane | None:
    """The plane a row is (from its name and its ``napari_segtool`` record), or ``None``.

    ``where`` names the row in messages. Raises :class:`PlaneError` when the row
    records a plane its name does not say; warns (:class:`PlaneWarning`) and
    returns ``None`` for a malformed suffix without a record.
    """
    flags = entry.get(FLAGS_KEY) if isinstance(entry, dict) else None
    record = flags.get(PLANE_KEY) if isinstance(flags, dict) else None
    split = split_name(name)
    if split is None:
        if record is not None:
            raise PlaneError(
                f"{where}: records a plane of a stack but its name {name!r} has no "
                "'#<axis>=<index>' suffix"
            )
        return None
    base, suffix = split
    try:
        axes, index = parse_suffix(suffix)
    except ValueError as err:
        if record is not None:
            raise PlaneError(f"{where}: plane suffix {suffix!r} of {name!r}: {err}") from None
        warnings.warn(
            f"{where}: {name!r} looks like a plane of a stack but its suffix is malformed "
            f"({err}); read as an ordinary 2-D image",
            PlaneWarning,
            stacklevel=2,
        )
        return None
    stack_shape = None
    if record is not None:
        stack_shape = _checked_record(record, axes, index, where, name)
    return Plane(base, axes, index, stack_shape)


def _checked_record(record: Any, axes, index, where: str, name: str) -> tuple[int, ...] | None:
    if not isinstance(record, dict):
        raise PlaneError(f"{where}: the plane record of {name!r} must be an object")
    if "axes" in record and list(record["axes"]) != list(axes):
        raise PlaneError(
            f"{where}: {name!r} names the axes {list(axes)}, its record {record['axes']}"
        )
    if "index" in record and record["index"] != list(index):
        raise PlaneError(
            f"{where}: {name!r} is plane {list(index)}, its record says {record['index']}"
        )
    shape = record.get("stack_shape")
    if shape is None:
        return None
    if (
        not isinstance(shape, list)
        or len(shape) != len(axes) + 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    ):
        raise PlaneError(
            f"{where}: the stack shape {shape!r} of {name!r} is not {len(axes) + 2} positive "
            "whole numbers"
        )
    if any(i >= n for i, n in zip(index, shape, strict=False)):
        raise PlaneError(f"{where}: {name!r} lies outside its stack of shape {shape}")
    return tuple(shape)


# -- writing -------------------------------------------------------------------------------
def stack_base(document: Document, fallback: str) -> str:
    """The image name a stack's plane names start with."""
    source = document.source
    image_path = source.get("image_path")
    for value in (source.get("external_id"), image_path, source.get("image_name")):
        if isinstance(value, str) and value.strip():
            name = Path(value.replace("\\", "/")).name if value == image_path else value
            split = split_name(name)
            return split[0] if split else name
    return fallback


@dataclass(frozen=True)
class Split:
    """Label items with every stack replaced by its planes, and where each came from."""

    items: list[LabelsItem]
    #: per item: the position of the labels item it came from
    owners: list[int]

    def count_once(self, per_item: Sequence[Sequence[Any]]) -> int:
        """How many entries ``per_item`` (one list per item written) holds, those its
        planes repeat counted once per stack (an instance's unanswered question)."""
        return len(
            {
                (owner, entry)
                for owner, entries in zip(self.owners, per_item, strict=True)
                for entry in entries
            }
        )

    def owner_sources(self, sources: Sequence[dict[str, Any]], originals) -> tuple[dict, ...]:
        """One source per original item from the sources of the items written."""
        merged: list[dict[str, Any]] = []
        for position, original in enumerate(originals):
            written = [s for s, o in zip(sources, self.owners, strict=False) if o == position]
            if np.ndim(original.data) <= 2 or not written:
                merged.extend(written[:1] or [dict(original.document.source)])
                continue
            merged.append(stack_source(original.document.source, written))
        return tuple(merged)


def split_items(items: Sequence[LabelsItem], *, base: Callable | None = None) -> Split:
    """Every stack among ``items`` replaced by its plane items (2-D items as they are).

    ``base(item)`` chooses a stack's image name (default: :func:`stack_base`).
    """
    out: list[LabelsItem] = []
    owners: list[int] = []
    for position, item in enumerate(items):
        if np.ndim(item.data) <= 2:
            out.append(item)
            owners.append(position)
            continue
        name = base(item) if base is not None else stack_base(item.document, item.name)
        for plane_item in iter_planes(item, name):
            out.append(plane_item)
            owners.append(position)
    return Split(out, owners)


def iter_planes(item: LabelsItem, base: str) -> Iterator[LabelsItem]:
    """The plane items of a stack (see the module doc for which planes are written)."""
    data = item.data
    shape = tuple(int(n) for n in np.shape(data))
    axes = plane_axes(len(shape), item.axis_labels)
    document = item.document
    token = new_cuid()  # the planes of this stack, and no other, may repeat featureIds
    present = []
    _check_plane_size(item, shape)
    for index in np.ndindex(*shape[:-2]):
        ids = [i for i in label_store(np.asarray(data[index])).ids() if i in document.instances]
        if ids:
            present.append((index, ids))
    for index, ids in present or [((0,) * (len(shape) - 2), [])]:
        plane = Plane(base, axes, tuple(int(i) for i in index), shape)
        document_of_plane = plane_document(document, plane, ids, token)
        yield LabelsItem(np.asarray(data[index]), document_of_plane, item.name)


#: a plane of a chunked stack is read into memory (one at a time) up to this many bytes
PLANE_LIMIT = 1 << 30


def _check_plane_size(item: LabelsItem, shape: tuple[int, ...]) -> None:
    """A chunked stack's planes are written one numpy plane at a time: refuse planes that
    would not fit, naming the layer (a 2-D chunked image is written box by box instead)."""
    if not is_chunked(item.data):
        return
    plane_bytes = int(np.prod(shape[-2:])) * np.dtype(item.data.dtype).itemsize
    if plane_bytes > PLANE_LIMIT:
        raise PlaneError(
            f"{item.name}: its planes are {shape[-2]} x {shape[-1]} pixels "
            f"({plane_bytes / 2**30:.1f} GiB each), more than the {PLANE_LIMIT / 2**30:.0f} GiB "
            "a plane of a stack may take in memory; save it as OME-Zarr"
        )


def plane_document(document: Document, plane: Plane, ids: Sequence[int], token: str) -> Document:
    """The document of one plane: the stack's instances on it (same featureIds), the stack's
    image answers and class flags, the plane's own source values."""
    source = {k: v for k, v in document.source.items() if k not in _PER_PLANE}
    source.pop(PLANES_SOURCE, None)
    planes = document.source.get(PLANES_SOURCE)
    own = planes.get(plane.suffix) if isinstance(planes, dict) else None
    source.update(copy.deepcopy(own) if isinstance(own, dict) else {})
    stack_key = document.source.get("global_key")
    if stack_key and "global_key" not in (own or {}):
        source["global_key"] = f"{stack_key}{SEPARATOR}{plane.suffix}"
    source["external_id"] = plane.name
    source[SOURCE_KEY] = {**plane.to_source(), "token": token}
    instances = [copy.deepcopy(document.instances[i]) for i in ids]
    return Document(
        ontology=document.ontology,
        instances=instances,
        image_answers=copy.deepcopy(document.image_answers),
        source=source,
        locked_classes=set(document.locked_classes),
        hidden_classes=set(document.hidden_classes),
    )


def plane_flags(document: Document) -> dict[str, Any]:
    """The plane record for a row's ``napari_segtool`` entry, ``{}`` for a 2-D image."""
    plane = Plane.from_source(document.source.get(SOURCE_KEY))
    return plane.record() if plane is not None else {}


def row_flags(document: Document) -> dict[str, Any]:
    """A data row's / image's ``napari_segtool`` entry: class locks and, for a plane of a
    stack, the plane record; ``{}`` when there is neither."""
    flags = dict(class_flags(document.locked_classes, document.hidden_classes).get(FLAGS_KEY, {}))
    flags.update(plane_flags(document))
    return {FLAGS_KEY: flags} if flags else {}


def same_stack_key(document: Document, position: int) -> Any:
    """Rows with the same key may share featureIds: the planes of one stack."""
    value = document.source.get(SOURCE_KEY)
    token = value.get("token") if isinstance(value, dict) else None
    return ("stack", token) if token else ("row", position)


def stack_source(stack: dict[str, Any], written: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A stack's source after its planes were written: the stack's own values, and what
    each plane row was given (its ids) kept by plane suffix for the next save."""
    merged = {k: v for k, v in stack.items() if k not in _PER_PLANE}
    planes = dict(stack.get(PLANES_SOURCE) or {})
    for source in written:
        plane = Plane.from_source(source.get(SOURCE_KEY))
        if plane is None:
            continue
        planes[plane.suffix] = {k: v for k, v in source.items() if k in _PER_PLANE}
        for key, value in source.items():  # what the writer adds to every row (paths)
            if key not in _PER_PLANE and key != SOURCE_KEY and key not in merged:
                merged[key] = value
    merged[PLANES_SOURCE] = planes
    if "global_key" in stack:
        merged["global_key"] = stack["global_key"]
    if "external_id" in stack:
        merged["external_id"] = stack["external_id"]
    return merged


# -- reading -------------------------------------------------------------------------------
def unit_groups(names: Sequence[Any]) -> list[tuple[int, ...]]:
    """The positions of a file's data rows / images (their names given) in groups read
    together: the planes of one stack in one group (at its first plane's place), every
    other row alone."""
    groups: dict[Any, list[int]] = {}
    for position, name in enumerate(names):
        split = split_name(name)
        key: Any = ("row", position)
        if split is not None:
            try:
                axes, _ = parse_suffix(split[1])
                key = ("stack", split[0], axes)
            except ValueError:
                pass  # read as an ordinary row (its reader says why)
        groups.setdefault(key, []).append(position)
    return [tuple(group) for group in groups.values()]


#: ``load(base, plane_sources) -> ImageItem | None``: the stack's image, if found
ImageLoader = Callable[[str, Sequence[dict[str, Any]]], "ImageItem | None"]


def join_planes(items: Sequence[Item], load_image: ImageLoader | None = None) -> list[Item]:
    """``items`` with the plane rows of each stack replaced by the stack's image and labels.

    Raises :class:`PlaneError` (naming the rows) when planes cannot form one stack.
    """
    groups: dict[tuple, list[LabelsItem]] = {}
    kept: list[Item | tuple] = []
    for item in items:
        plane = (
            Plane.from_source(item.document.source.get(SOURCE_KEY))
            if isinstance(item, LabelsItem)
            else None
        )
        if plane is None:
            kept.append(item)
            continue
        # several projects' labels of one plane are several stacks
        key = (plane.base, plane.axes, item.document.source.get("project_id"))
        if key not in groups:
            groups[key] = []
            kept.append(key)
        groups[key].append(item)
    joined: list[Item] = []
    for entry in kept:
        if isinstance(entry, tuple):
            joined.extend(_join_stack(entry[0], groups[entry], load_image))
        else:
            joined.append(entry)
    return joined


def _join_stack(base: str, planes: list[LabelsItem], load_image) -> list[Item]:
    refs = [Plane.from_source(item.document.source[SOURCE_KEY]) for item in planes]
    axes = refs[0].axes
    plane_shape = tuple(int(n) for n in np.shape(planes[0].data))
    shapes = {ref.stack_shape for ref in refs if ref.stack_shape is not None}
    if len(shapes) > 1:
        raise PlaneError(f"the planes of {base!r} record different stack shapes: {sorted(shapes)}")
    if shapes:
        shape = shapes.pop()
    else:
        lead = [max(ref.index[k] for ref in refs) + 1 for k in range(len(axes))]
        shape = (*lead, *plane_shape)
    seen: dict[tuple[int, ...], str] = {}
    for item, ref in zip(planes, refs, strict=True):
        if tuple(np.shape(item.data)) != shape[-2:]:
            raise PlaneError(
                f"{ref.name}: the plane is {np.shape(item.data)}, the stack's planes are "
                f"{shape[-2:]}"
            )
        if ref.index in seen:
            raise PlaneError(f"{ref.name}: the plane appears twice in the file")
        seen[ref.index] = ref.name
    dtype = np.result_type(np.uint32, *(np.asarray(item.data).dtype for item in planes))
    labels = np.zeros(shape, dtype=dtype)
    stack_ids: dict[str, int] = {}
    instances: dict[int, Instance] = {}
    differing: list[str] = []
    for item, ref in zip(planes, refs, strict=True):
        document = item.document
        mapping: dict[int, int] = {}
        for label_id, instance in document.instances.items():
            stack_id = stack_ids.get(instance.feature_id)
            if stack_id is None:
                stack_id = stack_ids[instance.feature_id] = len(stack_ids) + 1
                instances[stack_id] = replace(copy.deepcopy(instance), label_id=stack_id)
            else:
                known = instances[stack_id]
                if (known.schema_id, known.answers) != (instance.schema_id, instance.answers):
                    differing.append(instance.feature_id)
                known.locked |= instance.locked
                known.hidden |= instance.hidden
            mapping[label_id] = stack_id
        _paint_plane(labels[ref.index], np.asarray(item.data), mapping)
    if differing:
        warnings.warn(
            f"{base}: {len(differing)} instance(s) have another class or answers on a later "
            f"plane (kept those of their first plane): {', '.join(differing[:10])}",
            PlaneWarning,
            stacklevel=3,
        )
    documents = [item.document for item in planes]
    image_answers = next((d.image_answers for d in documents if d.image_answers), {})
    source = _joined_source(base, documents, refs)
    image = load_image(base, [d.source for d in documents]) if load_image else None
    if image is not None and not _fits(np.shape(image.data), shape, image.rgb):
        warnings.warn(
            f"{base}: the image is {np.shape(image.data)}, the stack {shape}; the segmentation "
            "opens without it",
            PlaneWarning,
            stacklevel=3,
        )
        image = None
    if image is not None and image.path is not None:
        source["image_path"] = str(image.path)
    axis_labels = (*axes, "y", "x")
    if image is not None and np.ndim(image.data) == len(shape):
        image = replace(image, axis_labels=axis_labels)  # the same sliders for both
    document = Document(
        ontology=Ontology.from_dict(documents[0].ontology.to_dict()),
        instances=list(instances.values()),
        image_answers=copy.deepcopy(image_answers),
        source=source,
        locked_classes=set().union(*(d.locked_classes for d in documents)),
        hidden_classes=set().union(*(d.hidden_classes for d in documents)),
    )
    name = source["image_name"]
    stack = LabelsItem(labels, document, f"{name} segmentation", axis_labels=axis_labels)
    return ([image] if image is not None else []) + [stack]


def _paint_plane(target: np.ndarray, plane: np.ndarray, mapping: dict[int, int]) -> None:
    if not mapping:
        return
    keys = np.array(sorted(mapping), dtype=np.int64)
    values = np.array([mapping[k] for k in sorted(mapping)], dtype=target.dtype)
    painted = plane != 0
    found = plane[painted].astype(np.int64)
    position = np.clip(np.searchsorted(keys, found), 0, len(keys) - 1)
    known = keys[position] == found
    target[painted] = np.where(known, values[position], 0)


def _fits(image_shape: tuple[int, ...], shape: tuple[int, ...], rgb: bool | None) -> bool:
    """The image is the stack, maybe with a colour axis last or a channel axis among them."""
    if tuple(image_shape) == shape:
        return True
    if len(image_shape) != len(shape) + 1:
        return False
    return any(
        tuple(image_shape[:k]) + tuple(image_shape[k + 1 :]) == shape
        for k in range(len(image_shape))
    )


def _joined_source(base: str, documents: Sequence[Document], refs: Sequence[Plane]) -> dict:
    first = documents[0].source
    source = {k: v for k, v in first.items() if k not in _PER_PLANE and k != SOURCE_KEY}
    source["planes"] = {
        ref.suffix: {k: v for k, v in d.source.items() if k in _PER_PLANE}
        for d, ref in zip(documents, refs, strict=True)
    }
    source["external_id"] = base
    stem = Path(base.replace("\\", "/")).name
    source["image_name"] = stem.rsplit(".", 1)[0] if "." in stem[1:] else stem
    source["image_path"] = None
    keys = [d.source.get("global_key") for d in documents]
    if all(isinstance(k, str) and split_name(k) for k in keys):
        source["global_key"] = split_name(keys[0])[0]
    return source


def read_stack_image(path: Path, name: str) -> ImageItem:
    """A stack's image file read whole: TIFF (every page) with tifffile, else Pillow."""
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        data = tifffile.imread(path)
    else:
        from PIL import Image

        with Image.open(path) as image:
            data = np.asarray(image)
    return ImageItem(data, name, path)
