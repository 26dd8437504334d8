"""Where the files of a Labelbox v1 export are: mask folder, ontology beside it."""

from __future__ import annotations

from pathlib import Path


def mask_dir_for(json_path: str | Path) -> Path:
    """``dir/name.json`` -> ``dir/name_masks``."""
    json_path = Path(json_path)
    return json_path.with_name(f"{json_path.stem}_masks")


def ontology_path_for(json_path: str | Path) -> Path:
    """``dir/name.json`` -> ``dir/name.ontology.json`` (what the writer writes)."""
    json_path = Path(json_path)
    return json_path.with_name(f"{json_path.stem}.ontology.json")


def ontology_candidates(json_path: str | Path) -> list[Path]:
    """Ontology files the reader tries beside an export, in order.

    ``<name>.ontology.json``, then ``ontology.json``, then the only file in the
    folder whose name matches ``*ontology*.json`` (such as
    ``ontology.fish.json``), if there is exactly one.
    """
    json_path = Path(json_path)
    named = [ontology_path_for(json_path), json_path.with_name("ontology.json")]
    found = [p for p in named if p.is_file()]
    if found:
        return found
    others = sorted(
        p
        for p in json_path.parent.glob("*ontology*.json")
        if p.is_file() and p.resolve() != json_path.resolve()
    )
    return others if len(others) == 1 else []
