"""The files of one crash-safe save: content-named masks beside the old ones, the ontology swapped
with an undo, leftovers swept.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path

from napari_segtool.formats.toolkit import atomic

_SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
#: suffix of a file staged beside its target during a save (swept after a killed one)
_STAGED = ".saving"
#: a staged mask ends in .png too, so a killed save never blocks the next (see the writer)
_STAGED_MASK = ".saving.png"


class _MaskFiles:
    """The mask folder during one save: new files go in beside the old ones.

    A file's name stands for its content (see :func:`mask_file_name`), so
    nothing the current JSON names is ever overwritten or deleted before the
    new JSON is in place.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.made_folder = not folder.exists()
        folder.mkdir(exist_ok=True)
        #: files of this save that did not exist before it (removed if it fails)
        self.created: list[Path] = []
        #: every file name the new JSON names
        self.named: set[str] = set()

    def put(self, feature_id: str, png: bytes) -> str:
        name = mask_file_name(feature_id, png)
        target = self.folder / name
        self.named.add(name)
        existed = target.exists()
        # same name, same content: the digest says so (the size catches a damaged file)
        if existed and target.is_file() and target.stat().st_size == len(png):
            return name
        atomic.atomic_write_bytes(target, png, _STAGED_MASK)
        if not existed:
            self.created.append(target)
        return name

    def keep(self, names: set[str]) -> None:
        """Files already in the folder that the new JSON names too (kept by :meth:`prune`)."""
        self.named |= names

    def sync(self) -> None:
        """Make the new files durable before any JSON can name them."""
        atomic.fsync_dir(self.folder)
        if self.made_folder:
            atomic.fsync_dir(self.folder.parent)

    def discard(self) -> None:
        """The save failed before its commit: remove what it added."""
        for path in self.created:
            path.unlink(missing_ok=True)
        if self.made_folder:
            with contextlib.suppress(OSError):
                self.folder.rmdir()

    def prune(self) -> None:
        """After the commit: delete the PNGs the new JSON does not name."""
        for path in self.folder.iterdir():
            if path.suffix == ".png" and path.name not in self.named and not path.is_dir():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


class _OntologySwap:
    """Replaces the ontology file before the commit; puts the old one back if it fails."""

    def __init__(self, path: Path | None):
        self.path = path
        self.old: bytes | None = None
        self.replaced = False

    def replace(self, data: bytes) -> None:
        if self.path is None:
            return
        self.old = self.path.read_bytes() if self.path.exists() else None
        if data == self.old:
            return
        self.replaced = True
        atomic.atomic_write_bytes(self.path, data, _STAGED)

    def undo(self) -> None:
        if not self.replaced:
            return
        if self.old is None:
            self.path.unlink(missing_ok=True)
            return
        atomic.atomic_write_bytes(self.path, self.old, _STAGED)


def _remove_stale_temporaries(json_path: Path, ontology_path: Path | None) -> None:
    """Temporary JSON / ontology files left beside the export by a killed save."""
    for target in (json_path, ontology_path):
        if target is None:
            continue
        pattern = re.compile(rf"\.{re.escape(target.name)}\.[A-Za-z0-9_]+{re.escape(_STAGED)}")
        for path in target.parent.iterdir():
            if pattern.fullmatch(path.name) and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def mask_file_name(feature_id: str, png: bytes) -> str:
    """``<featureId>.<digest>.png``: the digest is the start of the PNG's SHA-256.

    A featureId unfit for a file name is replaced by a hash of it.
    """
    digest = hashlib.sha256(png).hexdigest()[:10]
    if _SAFE_FILE_NAME.match(feature_id):
        return f"{feature_id}.{digest}.png"
    return f"m{hashlib.sha256(feature_id.encode()).hexdigest()[:24]}.{digest}.png"
