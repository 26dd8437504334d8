"""Checking and showing the values a reader finds in a file it does not trust."""

from __future__ import annotations

import re
from typing import Any

_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
#: colours for the classes a reader adds when the file gives none (Labelbox's palette order)
CLASS_PALETTE = (
    "#1E88E5",
    "#43A047",
    "#E53935",
    "#FB8C00",
    "#8E24AA",
    "#00ACC1",
    "#FDD835",
    "#6D4C41",
    "#D81B60",
    "#3949AB",
)


def is_int(value: Any) -> bool:
    """An integer, and not a bool (JSON ``true`` must not pass for the id 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def class_colour(value: Any, index: int) -> str:
    """``value`` when it is a ``#RRGGBB`` colour (upper case), else the palette's ``index``-th."""
    if isinstance(value, str) and _COLOUR.match(value):
        return value.upper()
    return CLASS_PALETTE[index % len(CLASS_PALETTE)]


def shown(value: Any, limit: int = 60) -> str:
    """A value of any type for an error message: its ``repr``, printable and cut short
    (a hostile value may be megabytes long, or an integer of thousands of digits)."""
    if is_int(value) and abs(value) >= 10**limit:
        return "a huge number"
    return _cut(_printable(repr(value)), limit)


def shown_text(value: Any, limit: int = 120) -> str:
    """A name or path from the file for a message: as it is when a string (not quoted),
    printable and cut short."""
    if isinstance(value, str):
        return _cut(_printable(value), limit)
    return shown(value, limit)


def kind_of(value: Any) -> str:
    """What a JSON value is, in words ("an object", "a list", ...)."""
    return {dict: "an object", list: "a list", str: "a string"}.get(
        type(value), type(value).__name__
    )


def _printable(text: str) -> str:
    return text.encode("unicode_escape", "backslashreplace").decode("ascii")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
