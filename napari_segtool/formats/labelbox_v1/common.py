"""What the Labelbox v1 reader and writer share: errors, constants, progress."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

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
