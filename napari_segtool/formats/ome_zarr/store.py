"""Finding, checking and opening OME-Zarr stores on disk (local folders).

A store is claimed by its zarr markers alone (cheap, never raises); what is
wrong inside it (a malformed ``.zattrs`` / ``zarr.json``, a level whose array
is missing) is raised by :func:`check_group` as :class:`OmeZarrError` naming
the file.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ome_zarr.format import Format, FormatV04, FormatV05

EXTENSIONS = (".ome.zarr", ".zarr")
#: NGFF version per zarr format
VERSIONS = {2: "0.4", 3: "0.5"}
#: a label group being written, and the one it replaces while the two are swapped
WRITING_TAG = ".writing-"
PREVIOUS_TAG = ".previous-"


class OmeZarrError(ValueError):
    """An OME-Zarr store that cannot be read or written; names the file and the problem."""


@dataclass(frozen=True)
class StoreClaim:
    root: Path
    zarr_format: int


def zarr_format_of(folder: Path) -> int | None:
    """2 or 3 when ``folder`` is a zarr group, else ``None``."""
    if (folder / "zarr.json").is_file():
        return 3
    if (folder / ".zgroup").is_file() or (folder / ".zattrs").is_file():
        return 2
    return None


def claim_store(path: str) -> StoreClaim | None:
    """The store at ``path`` when it is a zarr group folder (its content is checked on reading)."""
    folder = Path(path)
    try:
        if not folder.is_dir():
            return None
        zarr_format = zarr_format_of(folder)
    except OSError:
        return None
    return None if zarr_format is None else StoreClaim(folder, zarr_format)


def ngff_format(version: str) -> Format:
    if version == "0.4":
        return FormatV04()
    if version == "0.5":
        return FormatV05()
    raise OmeZarrError(f"OME-NGFF {version!r} is not written here (0.4 or 0.5)")


def metadata_file(folder: Path, zarr_format: int) -> Path:
    return folder / ("zarr.json" if zarr_format == 3 else ".zattrs")


def read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise OmeZarrError(f"{file}: not readable JSON ({err})") from None
    if not isinstance(data, dict):
        raise OmeZarrError(f"{file}: must hold a JSON object, not {type(data).__name__}")
    return data


def group_attributes(folder: Path, zarr_format: int) -> dict[str, Any]:
    """The group's attributes (zarr v3: ``zarr.json``'s ``attributes``), checked as JSON."""
    data = read_json(metadata_file(folder, zarr_format))
    if zarr_format == 3:
        attributes = data.get("attributes", {})
        if not isinstance(attributes, dict):
            raise OmeZarrError(f"{metadata_file(folder, 3)}: attributes must be an object")
        return attributes
    return data


def ome_attributes(folder: Path, zarr_format: int) -> dict[str, Any]:
    """The NGFF metadata of a group (0.5 keeps it under ``ome``)."""
    attributes = group_attributes(folder, zarr_format)
    if zarr_format == 3:
        ome = attributes.get("ome", {})
        if not isinstance(ome, dict):
            raise OmeZarrError(f"{metadata_file(folder, 3)}: 'ome' must be an object")
        return ome
    return attributes


def multiscale_paths(folder: Path, zarr_format: int) -> list[str]:
    """The dataset paths of the group's first multiscale, every one checked to be an array."""
    file = metadata_file(folder, zarr_format)
    multiscales = ome_attributes(folder, zarr_format).get("multiscales")
    if not isinstance(multiscales, list) or not multiscales or not isinstance(multiscales[0], dict):
        raise OmeZarrError(f"{file}: no 'multiscales' list (not an OME-Zarr image)")
    datasets = multiscales[0].get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise OmeZarrError(f"{file}: 'multiscales' has no datasets")
    paths = []
    for n, dataset in enumerate(datasets):
        path = dataset.get("path") if isinstance(dataset, dict) else None
        if not isinstance(path, str) or not path:
            raise OmeZarrError(f"{file}: datasets[{n}] has no path")
        array = folder / path
        marker = array / ("zarr.json" if zarr_format == 3 else ".zarray")
        if not marker.is_file():
            raise OmeZarrError(f"{array}: the array of level {n} is missing ({marker.name})")
        read_json(marker)
        paths.append(path)
    return paths


def recover_interrupted_swaps(labels_dir: Path) -> list[str]:
    """Put back label groups a save was stopped in the middle of replacing; drop its leftovers.

    A save renames the old group aside (``.<name>.previous-…``) and its new one
    (``.<name>.writing-…``) into place. Stopped between the two, the old group
    is renamed back; a new group that never reached its place is removed.
    Returns the names of the groups put back.
    """
    restored: list[str] = []
    try:
        entries = list(os.scandir(labels_dir))
    except OSError:
        return restored
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or not entry.is_dir():
            continue
        if PREVIOUS_TAG in name:
            group = name[1:].rsplit(PREVIOUS_TAG, 1)[0]
            target = labels_dir / group
            if target.exists():
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.replace(entry.path, target)
                restored.append(group)
        elif WRITING_TAG in name:
            shutil.rmtree(entry.path, ignore_errors=True)
    return restored
