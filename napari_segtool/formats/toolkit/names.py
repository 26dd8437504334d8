"""The one rule by which a reader matches a name in a file to a class, question or option.

Names match when they are equal after stripping surrounding white space and
case folding: a COCO category ``"nucleus"``, a Labelbox title ``"NUCLEUS "``
and an ontology class ``"Nucleus"`` are the same class. It is the rule the
ontology itself uses for "two classes may not share a name", so a name that
matches can never be a second class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def name_key(name: str) -> str:
    """What two names must share to be the same name."""
    return name.strip().casefold()


def find_named(
    items: Iterable[T],
    name: Any,
    *,
    name_of: Callable[[T], str] = lambda item: item.name,
) -> T | None:
    """The first of ``items`` called ``name``; ``None`` if none is (or ``name`` is no string)."""
    if not isinstance(name, str):
        return None
    key = name_key(name)
    return next((item for item in items if name_key(name_of(item)) == key), None)


def unique_name(name: str, taken: Iterable[str]) -> str:
    """``name``, or ``"name (2)"``, ``"name (3)"``, ... whichever no name in ``taken`` matches."""
    keys = {name_key(t) for t in taken}
    base = name.strip()
    candidate, n = base, 2
    while name_key(candidate) in keys:
        candidate, n = f"{base} ({n})", n + 1
    return candidate
