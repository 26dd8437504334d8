"""What the Labelbox v1 reader and writer share: errors, constants, progress."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from napari_segtool.formats.toolkit.values import shown_text
from napari_segtool.model.ids import new_cuid

T = TypeVar("T")
#: ``progress(iterable, total, description)`` -> the same items (napari's bar, tqdm, ...)
Progress = Callable[[Iterable[T], int, str], Iterable[T]]
URL_SCHEMES = ("http://", "https://", "gs://", "s3://")
#: how instance outlines go into an export: not at all, beside the masks, or instead of them
POLYGON_MODES = ("none", "alongside", "instead")
DOWNLOAD_SCHEMES = ("http://", "https://")
#: the geometry key of each non-mask v1 object, and what it becomes here
OTHER_TOOLS = {"bbox": "rectangle", "polygon": "polygon", "line": "path", "point": "point"}
_LABELBOX_TOOL = {"bbox": "rectangle", "polygon": "polygon", "line": "line", "point": "point"}


class LabelboxFormatError(ValueError):
    """A v1 export that cannot be read or written; the message names the file."""


class LabelboxFormatWarning(UserWarning):
    """Something in an export was skipped, changed or is incomplete."""


def _warn(message: str) -> None:
    warnings.warn(message, LabelboxFormatWarning, stacklevel=3)


def unique_feature_id(value: Any, seen: set[str], where: str, key: str = "featureId") -> str:
    """``value`` when it is an id not in ``seen`` (ids are unique across an export), else a
    new one with a warning naming ``where``; the id returned is added to ``seen``."""
    if not isinstance(value, str) or not value.strip():
        if value not in (None, ""):
            _warn(f"{where}: {key} {shown_text(value)} is not an id; the object got a new one")
        value = new_cuid()
    elif value in seen:
        _warn(f"{where}: {key} {shown_text(value)} repeats; the later object got a new one")
        value = new_cuid()
    seen.add(value)
    return value


def check_unique_feature_ids(
    parts: Sequence[dict[str, Any]], fail: Callable[[str], Exception], units: str, whole: str
) -> None:
    """Raise ``fail(message)`` when two parts of one file (their ``feature_ids``) share an id."""
    seen: dict[str, int] = {}
    for n, part in enumerate(parts):
        for feature_id in part["feature_ids"]:
            if feature_id in seen:
                raise fail(
                    f"featureId {feature_id} is used twice ({units} {seen[feature_id]} and {n}); "
                    f"{whole} needs unique featureIds"
                )
            seen[feature_id] = n


def _no_progress(items: Iterable[T], total: int, description: str) -> Iterable[T]:
    return items


@contextlib.contextmanager
def _progress_bar(progress: Progress, total: int, description: str) -> Iterator[Callable]:
    """A ``tick()`` that advances the bar; the bar is closed however the block ends."""
    steps = iter(progress(range(total + 1), total, description))
    # a progress iterator counts an item when asked for the next one: ask once now,
    # then once per finished step
    next(steps, None)

    def tick(count: int = 1) -> None:
        for _ in range(count):
            next(steps, None)

    try:
        yield tick
    finally:
        close = getattr(steps, "close", None)  # a generator (tqdm's) closes its bar on close()
        if close is not None:
            close()
