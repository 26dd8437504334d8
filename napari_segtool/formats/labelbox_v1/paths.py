"""Where the files of a Labelbox export are: mask folder, ontology beside it, and the rule
for the files it references (inside the export's folder only)."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from pathlib import Path

from napari_segtool.formats.toolkit.values import shown_text


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


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


class PathRefusedError(ValueError):
    """A file reference that is refused or unusable (the caller adds the file and the object)."""


def has_scheme(reference: str) -> bool:
    """Whether ``reference`` is a URL (``https://``, ``gs://``, ``file://``, ...)."""
    return bool(_SCHEME.match(reference))


def local_path(folder: Path, reference: str, unquoted: bool = False) -> Path:
    """The file a local reference names, relative to ``folder`` unless absolute or ``file://``.

    A reference that names no file as it is, but contains ``%``, is tried once
    percent-decoded. May raise OSError / ValueError for odd names.
    """
    if reference.startswith("file://"):
        parsed = urllib.parse.urlparse(reference)
        return Path(urllib.request.url2pathname(parsed.path))
    path = Path(reference)
    path = path if path.is_absolute() else folder / path
    if not unquoted and "%" in reference and not path.exists():  # percent-encoded once
        return local_path(folder, urllib.parse.unquote(reference), unquoted=True)
    return path


def contained_path(folder: Path, reference: str, field: str = "instanceURI") -> Path:
    """The resolved file ``reference`` names; refused unless it lies in ``folder`` or below.

    ``..``, absolute paths and ``file://`` URIs outside the folder, and symlinks
    leading out are refused with :class:`PathRefusedError` (``field`` names the
    reference in the message).
    """
    if has_scheme(reference) and not reference.startswith("file://"):
        raise PathRefusedError(f"unsupported {field} scheme in {reference}")
    root = folder.resolve()
    try:
        resolved = local_path(folder, reference).resolve()
    except (OSError, ValueError, RuntimeError) as err:  # long name, NUL, surrogate, loop
        raise PathRefusedError(
            f"{field} {shown_text(reference)} is not a usable file name ({err})"
        ) from None
    if not resolved.is_relative_to(root):
        raise PathRefusedError(
            f"{field} {reference} points outside the export's folder {root}; refused"
        )
    return resolved
