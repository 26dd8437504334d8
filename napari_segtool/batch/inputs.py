"""The files a batch command works on: files, folders (searched below) and globs; and
the data rows / images inside each (the units one task reads)."""

from __future__ import annotations

import glob
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from napari_segtool.formats import registry
from napari_segtool.formats.result import ReadResult


@dataclass(frozen=True)
class InputFile:
    """A file to work on and the folder its output names are relative to."""

    path: Path
    root: Path

    @property
    def relative(self) -> Path:
        return self.path.relative_to(self.root)


#: a file is split into at most this many tasks: each task parses the file's JSON, so
#: a file of 10,000 data rows gives tasks of 40 rows, not 10,000 parses of it
MAX_TASKS_PER_FILE = 256


@dataclass(frozen=True)
class Unit:
    """Data rows / images of a file (or the whole file): what one task reads."""

    path: Path
    format_name: str
    #: positions in the file, ``None`` for the whole file
    indices: tuple[int, ...] | None
    #: how many data rows / images the file holds
    count: int = 1
    #: ``indices`` in the groups read together (the planes of a stack); ``None``: one by one
    together: tuple[tuple[int, ...], ...] | None = None

    def groups(self) -> list[tuple[int, ...]]:
        """What a task reads at a time: one data row / image, or all the planes of a stack."""
        if self.indices is None:
            return []
        return list(self.together) if self.together else [(n,) for n in self.indices]

    def read(self, images: bool = True) -> ReadResult:
        """The unit's result; ``images=False``: without decoding the images where the format
        can (what is counted, not what is shown)."""
        with warnings.catch_warnings():  # collected in the result's notes
            warnings.simplefilter("ignore")
            entry = registry.get(self.format_name)
            options = {} if images or not entry.reads_without_images else {"load_images": False}
            if self.indices is None:
                return entry.read(self.path, **options)
            return entry.read_units(self.path, self.indices, **options)

    def __str__(self) -> str:
        return str(self.path) if self.indices is None else f"{self.path} {list(self.indices)}"


def readable_extensions() -> tuple[str, ...]:
    return tuple(sorted({ext.lower() for entry in registry.formats() for ext in entry.extensions}))


def is_ontology_file(path: Path) -> bool:
    """An ontology beside an export (``x.ontology.json``, ``ontology.json``): not an input."""
    return "ontology" in path.name.lower()


def is_store_folder(path: Path) -> bool:
    """A folder that a registered format reads as one input (an OME-Zarr store)."""
    return path.name.lower().endswith(readable_extensions()) and registry.format_claims(path)


def expand_inputs(arguments: Iterable[str]) -> tuple[list[InputFile], list[tuple[str, str]]]:
    """The files named by ``arguments`` and ``(argument, problem)`` for those naming nothing.

    A folder gives every file below it whose name ends like a registered format's
    files (ontology files aside); a glob (``exports/*.json``, ``**``) the files it
    matches. A file named directly is always an input, whatever it holds.
    """
    found: dict[Path, InputFile] = {}
    missing: list[tuple[str, str]] = []
    endings = readable_extensions()
    for argument in arguments:
        path = Path(argument)
        if path.is_dir() and is_store_folder(path):
            root, candidates = path.parent, [path]
        elif path.is_dir():
            root = path
            stores = [p for p in sorted(path.rglob("*")) if p.is_dir() and is_store_folder(p)]
            candidates = [
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and p.name.lower().endswith(endings)
                and not is_ontology_file(p)
                and not any(p.is_relative_to(store) for store in stores)  # a store's own files
            ]
            candidates += [
                s for s in stores if not any(s != o and s.is_relative_to(o) for o in stores)
            ]
        elif path.is_file():
            root, candidates = path.parent, [path]
        elif glob.has_magic(argument):
            matches = sorted(Path(m) for m in glob.glob(argument, recursive=True))
            candidates = [m for m in matches if m.is_file()]
            root = Path(_static_prefix(argument))
            if not candidates:
                missing.append((argument, "no file matches"))
        else:
            missing.append((argument, "no such file or folder"))
            continue
        for candidate in candidates:
            key = candidate.resolve()
            if key not in found:
                found[key] = InputFile(
                    candidate, root if candidate.is_relative_to(root) else candidate.parent
                )
    return list(found.values()), missing


def _static_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (``exports`` of ``exports/*/x.json``)."""
    parts = Path(pattern).parts
    static = []
    for part in parts:
        if glob.has_magic(part):
            break
        static.append(part)
    return str(Path(*static)) if static else "."


def scan(path: Path) -> list[Unit]:
    """The units of ``path``: one per data row / image when its format reads them one by
    one (a few consecutive ones per unit beyond :data:`MAX_TASKS_PER_FILE`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        entry, claim = registry.claimed_format(path)
        count = entry.count_units(path, claim)
        groups = entry.unit_groups(path, claim) if entry.units is not None else []
    if entry.units is None or count <= 1:
        return [Unit(path, entry.name, None, 1)]
    # the planes of a stack (rows named <image>#z=<k>) stay in one unit, read together
    size = -(-count // MAX_TASKS_PER_FILE)
    units: list[Unit] = []
    batch: list[tuple[int, ...]] = []
    for group in groups:
        batch.append(group)
        if sum(len(g) for g in batch) >= size:
            units.append(_unit(path, entry.name, batch, count))
            batch = []
    if batch:
        units.append(_unit(path, entry.name, batch, count))
    return units


def _unit(path: Path, format_name: str, groups: list[tuple[int, ...]], count: int) -> Unit:
    indices = tuple(n for group in groups for n in group)
    together = tuple(groups) if any(len(group) > 1 for group in groups) else None
    return Unit(path, format_name, indices, count, together)


def named(message: str, path: Path | str) -> str:
    """``message`` with the file's name in front, unless it names the file already."""
    return message if str(path) in message or Path(path).name in message else f"{path}: {message}"
