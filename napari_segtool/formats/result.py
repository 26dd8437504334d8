"""What every reader returns and every writer takes: images, label arrays with their
documents, other shapes and points, and notes.

The npe2 hooks turn a :class:`ReadResult` into napari layer data in one place
(``napari_segtool._napari.io_hooks``); a batch tool can use it as it is.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_segtool.model.document import Document


@dataclass(frozen=True)
class ImageItem:
    """An image read beside the annotations (or given to a writer to save along)."""

    data: Any
    name: str
    #: the file it came from (or is to be copied from), when it is one
    path: Path | None = None
    #: whether the last axis is colour; ``None`` lets the viewer decide
    rgb: bool | None = None
    #: the axis labels of the layer (a stack's, when it has the labels' axes)
    axis_labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LabelsItem:
    """A label image and the document that says what each id is."""

    data: np.ndarray
    document: Document
    name: str
    #: the layer's axis labels (a stack's plane names use them, see :mod:`.planes`)
    axis_labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ShapesItem:
    """Objects of other tools (boxes, polygons, lines; or points), coordinates (row, column)."""

    kind: str  # "shapes" or "points"
    name: str
    coords: list[np.ndarray]
    #: per object: "rectangle", "polygon", "path" (shapes) or "point"
    shape_types: list[str]
    colors: list[str]
    #: one column per feature, one value per object
    features: dict[str, list[Any]] = field(default_factory=dict)
    #: the ids (``featureId``) of the objects as read; given back to a writer, those no
    #: longer in ``features`` count as deleted
    read_ids: tuple[str, ...] = ()


Item = ImageItem | LabelsItem | ShapesItem


@dataclass(frozen=True)
class ReadResult:
    """Everything one file holds, in the order a viewer shows it (image, then its labels, ...)."""

    items: tuple[Item, ...] = ()
    #: what the reader skipped, changed or completed (also issued as warnings)
    notes: tuple[str, ...] = ()

    @property
    def images(self) -> list[ImageItem]:
        return [item for item in self.items if isinstance(item, ImageItem)]

    @property
    def labels(self) -> list[LabelsItem]:
        return [item for item in self.items if isinstance(item, LabelsItem)]

    @property
    def shapes(self) -> list[ShapesItem]:
        return [item for item in self.items if isinstance(item, ShapesItem)]


@dataclass(frozen=True)
class WriteResult:
    """What a writer wrote."""

    #: every file and folder written, the main file first
    written: tuple[Path, ...]
    #: per labels item: its document's ``source`` after the write (ids, times, paths): keep it
    sources: tuple[dict[str, Any], ...] = ()
    #: a line for the user ("Saved 3 mask(s) to cells.json")
    summary: str = ""
    notes: tuple[str, ...] = ()
    #: the format's own report (e.g. the Labelbox writer's ``ExportResult``)
    details: Any = None


@contextlib.contextmanager
def collected_notes(category: type[Warning], notes: list[str]) -> Iterator[None]:
    """Append the ``category`` warnings issued in the block to ``notes``, and issue them still."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category)
        yield
    for warning in caught:
        if issubclass(warning.category, category):
            notes.append(str(warning.message))
    for warning in caught:  # issued again outside, where the caller's filters decide
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
