"""The file formats the plugin reads and writes: one entry per format.

The npe2 hooks (``napari_segtool._napari.io_*``), the dock's Files section and
a batch tool find formats here. Adding a format is one module (a claim, a
reader returning a :class:`~.result.ReadResult`, a writer returning a
:class:`~.result.WriteResult`) and one :class:`FileFormat` in :data:`_BUILT_IN`
(plus its lines in ``napari.yaml`` for napari's own menus).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_segtool.formats import coco_files, labelbox_ndjson, labelbox_v1, ome_zarr, planes
from napari_segtool.formats.result import ImageItem, LabelsItem, ReadResult, WriteResult


class UnknownFormatError(ValueError):
    """No registered format reads this file (or has this name)."""


@dataclass(frozen=True)
class FileFormat:
    """One format: how to recognise, read and write its files."""

    #: the registry key ("labelbox-v1")
    name: str
    #: what the user is shown ("Labelbox v1 export")
    display_name: str
    #: the endings the writer claims, most specific first (".coco.json")
    extensions: tuple[str, ...]
    #: ``claim(path)``: ``None`` unless the file is in this format, else something the
    #: reader may reuse (the parsed data); cheap, and never raises for a file it declines
    claim: Callable[[str], Any]
    #: ``read(path, *, claim=None, **options) -> ReadResult``
    reader: Callable[..., ReadResult]
    #: ``write(path, labels, images, **options) -> WriteResult``
    writer: Callable[..., WriteResult]
    #: ``units(path, claim) -> int``: how many data rows / images the file holds, read
    #: alone or a few together by ``read(path, units=[k, ...])`` (batch tools' tasks);
    #: ``None``: the file is read whole
    units: Callable[[str, Any], int] | None = None
    #: ``write_part(path, labels_item, image_item_or_None, **options) -> dict``: what one
    #: label image contributes to the file ``path`` (plain values, no pixels; files of its
    #: own, such as masks, written beside ``path``); ``None``: written whole
    write_part: Callable[..., dict[str, Any]] | None = None
    #: ``assemble(path, parts, **options) -> [written paths]``: the file from its parts, in
    #: their order, written atomically
    assemble: Callable[..., list[Path]] | None = None
    #: ``prepare(path)``: checks and folders needed before parts of ``path`` are written
    prepare: Callable[[Path], None] | None = None
    #: ``unit_names(path, claim) -> [name per unit]``: what each data row / image is called
    #: (``External ID``, ``file_name``), so that the planes of a stack are read together
    unit_names: Callable[[str, Any], list[Any]] | None = None
    #: the reader takes ``load_images=False``: labels and documents without decoding the images
    reads_without_images: bool = False

    def can_read(self, path: str | Path) -> bool:
        return self.claim(str(path)) is not None

    def read(self, path: str | Path, *, claim: Any = None, **options) -> ReadResult:
        """Everything in the file; the format's error (naming the file) if it is damaged."""
        return self.reader(str(path), claim=claim, **options)

    def count_units(self, path: str | Path, claim: Any = None) -> int:
        """How many separately readable data rows / images ``path`` holds (1 if not split)."""
        return 1 if self.units is None else self.units(str(path), claim)

    def unit_groups(self, path: str | Path, claim: Any = None) -> list[tuple[int, ...]]:
        """The units of ``path`` in groups that are read together: the data rows / images
        that are planes of one stack (see :mod:`.planes`), every other one alone."""
        if self.unit_names is None:
            return [(n,) for n in range(self.count_units(path, claim))]
        return planes.unit_groups(self.unit_names(str(path), claim))

    def read_units(
        self, path: str | Path, units: Sequence[int], *, claim: Any = None, **options
    ) -> ReadResult:
        """Data rows / images ``units`` (positions) of ``path``; the whole file when the
        format is not split."""
        if self.units is None:
            return self.read(path, claim=claim, **options)
        return self.read(path, claim=claim, units=list(units), **options)

    def write(
        self,
        path: str | Path,
        labels: Sequence[LabelsItem],
        images: Sequence[ImageItem] = (),
        **options,
    ) -> WriteResult:
        """Write the label images with their documents (and the images given along)."""
        return self.writer(Path(path), list(labels), list(images), **options)

    @property
    def file_filter(self) -> str:
        """A file-dialog filter: ``"Labelbox v1 export (*.json)"``."""
        return f"{self.display_name} ({' '.join('*' + e for e in self.extensions)})"


def _read_labelbox(path: str, *, claim: Any = None, units=None, **options) -> ReadResult:
    if units is not None:
        options["rows"] = units
    return labelbox_v1.read_result(path, **options)


def _count_labelbox_rows(path: str, claim: Any = None) -> int:
    return labelbox_v1.count_rows(path)


def _labelbox_row_part(path: Path, item: LabelsItem, image, *, now: str, **options) -> dict:
    parts = [
        labelbox_v1.write_row_part(path, plane.data, plane.document, now=now, **options)
        for plane in planes.split_items([item]).items
    ]
    return _joined_part(
        parts, rows=_concat, masks=_union, mask_count=sum, unanswered=_concat, ontology=_first
    )


def _ndjson_row_part(path: Path, item: LabelsItem, image, *, now: str = "", **options) -> dict:
    parts = [
        labelbox_ndjson.write_row_part(path, plane.data, plane.document, **options)
        for plane in planes.split_items([item]).items
    ]
    return _joined_part(parts, lines=_concat, masks=_union, mask_count=sum)


def _joined_part(parts: list[dict], **how: Callable) -> dict:
    """The part of a stack from the parts of its planes (rows written one per plane)."""
    if len(parts) == 1:
        return parts[0]
    joined = {key: combine([part[key] for part in parts]) for key, combine in how.items()}
    joined["feature_ids"] = list(dict.fromkeys(f for part in parts for f in part["feature_ids"]))
    return joined


def _concat(values: list[list]) -> list:
    return [value for values_ in values for value in values_]


def _union(values: list[list]) -> list:
    return sorted({value for values_ in values for value in values_})


def _first(values: list) -> Any:
    return values[0]


def _labelbox_unit_names(path: str, claim: Any = None) -> list[Any]:
    return labelbox_v1.row_names(path)


def _ndjson_unit_names(path: str, claim: Any = None) -> list[Any]:
    return labelbox_ndjson.row_names(path)


def _coco_image_part(path: Path, item: LabelsItem, image, *, now: str = "", **options) -> dict:
    return coco_files.write_image_part(path, item, image, **options)


def _claim_labelbox(path: str) -> bool | None:
    return True if labelbox_v1.is_v1_export(path) else None


def _read_labelbox_ndjson(path: str, *, claim: Any = None, units=None, **options) -> ReadResult:
    if units is not None:
        options["rows"] = units
    return labelbox_ndjson.read_result(path, **options)


def _count_labelbox_ndjson_rows(path: str, claim: Any = None) -> int:
    return labelbox_ndjson.count_rows(path)


def _claim_labelbox_ndjson(path: str) -> bool | None:
    return True if labelbox_ndjson.is_labelbox_ndjson(path) else None


_BUILT_IN = (
    FileFormat(
        name="labelbox-v1",
        display_name="Labelbox v1 export",
        extensions=(".json",),
        claim=_claim_labelbox,
        reader=_read_labelbox,
        writer=labelbox_v1.write_items,
        units=_count_labelbox_rows,
        write_part=_labelbox_row_part,
        assemble=labelbox_v1.assemble_export,
        prepare=labelbox_v1.prepare_export,
        unit_names=_labelbox_unit_names,
    ),
    FileFormat(
        name="coco",
        display_name="COCO instance segmentation",
        extensions=(coco_files.COCO_EXTENSION,),
        claim=coco_files.claim_coco,
        reader=coco_files.read_coco_file,
        writer=coco_files.write_coco_file,
        units=coco_files.count_images,
        write_part=_coco_image_part,
        assemble=coco_files.assemble_coco_file,
        unit_names=coco_files.image_names,
        reads_without_images=True,
    ),
    FileFormat(
        name="labelbox-ndjson",
        display_name="Labelbox NDJSON",
        extensions=labelbox_ndjson.NDJSON_EXTENSIONS,
        claim=_claim_labelbox_ndjson,
        reader=_read_labelbox_ndjson,
        writer=labelbox_ndjson.write_items,
        units=_count_labelbox_ndjson_rows,
        write_part=_ndjson_row_part,
        assemble=labelbox_ndjson.assemble_ndjson,
        unit_names=_ndjson_unit_names,
    ),
    FileFormat(
        name="ome-zarr",
        display_name="OME-Zarr",
        extensions=ome_zarr.EXTENSIONS,
        claim=ome_zarr.claim_store,
        reader=ome_zarr.read_result,
        writer=ome_zarr.write_items,
    ),
)
_FORMATS: dict[str, FileFormat] = {entry.name: entry for entry in _BUILT_IN}


def register(entry: FileFormat) -> None:
    """Add a format (or replace the one of the same name)."""
    _FORMATS[entry.name] = entry


def formats() -> list[FileFormat]:
    """Every format, in registration order."""
    return list(_FORMATS.values())


def get(name: str) -> FileFormat:
    try:
        return _FORMATS[name]
    except KeyError:
        raise UnknownFormatError(f"no file format named {name!r}") from None


def format_for(path: str | Path) -> FileFormat:
    """The format that claims ``path`` (the first to, in registration order)."""
    return claimed_format(path)[0]


def format_claims(path: str | Path) -> bool:
    """Whether some registered format reads ``path``."""
    return any(entry.claim(str(path)) is not None for entry in _FORMATS.values())


def claimed_format(path: str | Path) -> tuple[FileFormat, Any]:
    """The format that claims ``path`` and its claim, to hand to its reader (no second parse)."""
    for entry in _FORMATS.values():
        claim = entry.claim(str(path))
        if claim is not None:
            return entry, claim
    names = ", ".join(entry.display_name for entry in _FORMATS.values())
    raise UnknownFormatError(f"{path}: not a file this plugin reads ({names})")


def writer_for(path: str | Path) -> FileFormat:
    """The format whose extension is the longest end of ``path`` (as npe2 chooses)."""
    name = str(path).lower()
    ends = [
        (len(ext), entry)
        for entry in _FORMATS.values()
        for ext in entry.extensions
        if name.endswith(ext.lower())
    ]
    if not ends:
        raise UnknownFormatError(f"{path}: no format writes files named like this")
    return max(ends, key=lambda end: end[0])[1]


def open_filter() -> str:
    """A file-dialog filter for opening: every readable format, then each on its own."""
    patterns = sorted({"*" + ext for entry in _FORMATS.values() for ext in entry.extensions})
    every = f"Segmentation files ({' '.join(patterns)})"
    return ";;".join([every, *(entry.file_filter for entry in _FORMATS.values())])
