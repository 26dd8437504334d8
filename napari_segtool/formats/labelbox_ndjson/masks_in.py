"""Composite masks of export v2: one PNG for all mask instances of a label, one colour each.

A composite is decoded once per label, whatever the number of objects using
it. Its colours are packed as ``0xRRGGBB`` (black, and transparent pixels, are
background); the pixels that are not background are then matched against the
objects' colours with one sorted lookup, so after the decode the work is
proportional to the instance pixels, not to image pixels x objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_segtool.formats.toolkit.images import ImageSizeError, decode_image

#: Pillow modes turned into RGB(A) before packing; others are refused
_TO_RGB = {"P": "RGBA", "PA": "RGBA", "LA": "RGBA", "L": "RGB", "1": "RGB"}


class CompositeError(ValueError):
    """A composite mask that cannot be used (the caller names the file and the objects)."""


def pack_colour(rgb: Sequence[int]) -> int:
    red, green, blue = (int(c) for c in rgb)
    return (red << 16) | (green << 8) | blue


def shown_colour(packed: int) -> str:
    return f"({packed >> 16}, {(packed >> 8) & 255}, {packed & 255})"


def decode_composite(
    data: bytes, size: tuple[int, int] | None, max_pixels: int | None
) -> np.ndarray:
    """The composite's pixels as packed ``0xRRGGBB`` (``uint32``; 0 is background).

    ``size`` is ``(height, width)`` when the row states it; a PNG of another
    size is refused.
    """
    expected = (size[1], size[0]) if size is not None else None
    try:
        pixels = decode_image(
            data,
            formats=("PNG",),
            max_pixels=max_pixels,
            expected_size=expected,
            convert=_TO_RGB,
            modes=("RGB", "RGBA"),
        )
    except ImageSizeError as err:
        raise CompositeError(
            f"{err.size[0]} x {err.size[1]} pixels, but the data row is "
            f"{err.expected[0]} x {err.expected[1]} (media_attributes){err.bomb_note}"
        ) from None
    packed = pixels[..., 0].astype(np.uint32) << 16
    packed |= pixels[..., 1].astype(np.uint32) << 8
    packed |= pixels[..., 2]
    if pixels.shape[-1] == 4:
        packed[pixels[..., 3] == 0] = 0
    return packed


@dataclass(frozen=True)
class Painted:
    """What :func:`paint_composite` found: pixels per object, and pixels no object owns."""

    #: per colour given, in the order given
    counts: list[int]
    #: pixels that are neither background nor any object's colour
    stray: int
    #: up to a few of the stray colours, packed
    stray_colours: list[int]


def paint_composite(
    packed: np.ndarray, colours: Sequence[int], label_ids: Sequence[int], labels: np.ndarray
) -> Painted:
    """Write ``label_ids[i]`` into ``labels`` wherever ``packed`` is ``colours[i]``.

    The colours must differ from each other and from 0 (the caller checks).
    """
    flat = packed.ravel()
    where = np.flatnonzero(flat)
    values = flat[where]
    table = np.asarray(colours, dtype=np.uint32)
    order = np.argsort(table)
    ordered = table[order]
    slot = np.searchsorted(ordered, values)
    np.minimum(slot, len(ordered) - 1, out=slot)
    hit = ordered[slot] == values
    owner = order[slot[hit]]
    ids = np.asarray(label_ids, dtype=labels.dtype)
    labels.reshape(-1)[where[hit]] = ids[owner]
    counts = np.bincount(owner, minlength=len(table)).tolist()
    stray_values = values[~hit]
    stray_colours = np.unique(stray_values[:100_000])[:5].tolist() if stray_values.size else []
    return Painted(counts, int(stray_values.size), stray_colours)
