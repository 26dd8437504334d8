"""Labelbox ontology JSON files (the model parses and serialises; this writes the file)."""

from __future__ import annotations

from pathlib import Path

from napari_segtool.formats.toolkit.atomic import atomic_write_text
from napari_segtool.model.ontology import Ontology


def write_ontology(ontology: Ontology, path: str | Path) -> None:
    """Write the ontology JSON atomically (an earlier file stays intact on failure)."""
    ontology.validate()
    atomic_write_text(Path(path), ontology.to_json() + "\n")
