"""Locks and hidden flags in files: one namespaced key, read and written the same by every format.

Labelbox and COCO have no notion of a locked or hidden object, and their
readers (the Labelbox SDK, pycocotools) ignore keys they do not know. So the
flags travel under :data:`FLAGS_KEY` beside the format's own keys, and only
when set (a file without locks carries no extra key):

* an instance's entry (a Labelbox object, a COCO annotation):
  ``"napari_segtool": {"locked": true, "hidden": true}``;
* the entry of its image (a Labelbox data row, a COCO image):
  ``"napari_segtool": {"locked_classes": [schema ids], "hidden_classes": [...]}``.

A data row / image that is one plane of a stack also records the stack there
(``"plane": {...}``, written and read by :mod:`napari_segtool.formats.planes`).

Class flags are kept per image, not in the ontology: the ontology file is
shared by every image of an export, and each image's layer has its own locks.
Reading ignores anything else under the key, and class ids the ontology lacks.
"""

from __future__ import annotations

from typing import Any

from napari_segtool.model.document import Instance
from napari_segtool.model.ontology import Ontology

FLAGS_KEY = "napari_segtool"
_INSTANCE_FLAGS = ("locked", "hidden")
_CLASS_FLAGS = ("locked_classes", "hidden_classes")


def instance_flags(instance: Instance) -> dict[str, Any]:
    """``{FLAGS_KEY: {...}}`` for an instance's entry, or ``{}`` when nothing is set."""
    flags = {name: True for name in _INSTANCE_FLAGS if getattr(instance, name)}
    return {FLAGS_KEY: flags} if flags else {}


def read_instance_flags(instance: Instance, entry: Any) -> Instance:
    """Set ``instance``'s flags from its entry's key (absent or malformed: unset); returns it."""
    flags = entry.get(FLAGS_KEY) if isinstance(entry, dict) else None
    flags = flags if isinstance(flags, dict) else {}
    for name in _INSTANCE_FLAGS:
        setattr(instance, name, flags.get(name) is True)
    return instance


def class_flags(locked_classes: set[str], hidden_classes: set[str]) -> dict[str, Any]:
    """``{FLAGS_KEY: {...}}`` for an image's entry, or ``{}`` when no class is locked or hidden."""
    flags = {
        name: sorted(ids)
        for name, ids in zip(_CLASS_FLAGS, (locked_classes, hidden_classes), strict=True)
        if ids
    }
    return {FLAGS_KEY: flags} if flags else {}


def read_class_flags(entry: Any, ontology: Ontology) -> dict[str, set[str]]:
    """``Document`` keyword arguments ``locked_classes`` and ``hidden_classes`` from an entry."""
    flags = entry.get(FLAGS_KEY) if isinstance(entry, dict) else None
    flags = flags if isinstance(flags, dict) else {}
    known = {c.feature_schema_id for c in ontology.classes}
    read: dict[str, set[str]] = {}
    for name in _CLASS_FLAGS:
        ids = flags.get(name)
        ids = ids if isinstance(ids, list) else []
        read[name] = {i for i in ids if isinstance(i, str) and i in known}
    return read
