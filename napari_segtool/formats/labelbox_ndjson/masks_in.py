"""Composite masks of export v2: one PNG for all mask instances of a label, one colour each.

A composite is decoded once per label, whatever the number of objects using
it. Its colours are packed into one ``uint32`` a pixel (black, and transparent
pixels, are background); the pixels that are not background are then matched against the
objects' colours with one table lookup a pixel, so after the decode the work is
one pass over the pixels, not image pixels x objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_segtool.formats.toolkit.images import ImageSizeError, decode_image

#: Pillow modes turned into four bytes a pixel before packing; others are refused
_TO_FOUR_BYTES = {
    "RGB": "RGBX",
    "P": "RGBA",
    "PA": "RGBA",
    "LA": "RGBA",
    "L": "RGBX",
    "1": "RGBX",
}


class CompositeError(ValueError):
    """A composite mask that cannot be used (the caller names the file and the objects)."""


def pack_colour(rgb: Sequence[int]) -> int:
    """``(r, g, b)`` as the composite's pixels are packed: the bytes R, G, B, 0 read as one
    little-endian ``uint32``."""
    red, green, blue = (int(c) for c in rgb)
    return red | (green << 8) | (blue << 16)


def shown_colour(packed: int) -> str:
    return f"({packed & 255}, {(packed >> 8) & 255}, {packed >> 16})"


def decode_composite(
    data: bytes, size: tuple[int, int] | None, max_pixels: int | None
) -> np.ndarray:
    """The composite's pixels packed by :func:`pack_colour` (``uint32``; 0 is background).

    ``size`` is ``(height, width)`` when the row states it; a PNG of another
    size is refused. Pillow decodes straight to four bytes a pixel, so packing
    is a view, not arithmetic on every pixel.
    """
    expected = (size[1], size[0]) if size is not None else None
    try:
        pixels = decode_image(
            data,
            formats=("PNG",),
            max_pixels=max_pixels,
            expected_size=expected,
            convert=_TO_FOUR_BYTES,
            modes=("RGBX", "RGBA"),
        )
    except ImageSizeError as err:
        raise CompositeError(
            f"{err.size[0]} x {err.size[1]} pixels, but the data row is "
            f"{err.expected[0]} x {err.expected[1]} (media_attributes){err.bomb_note}"
        ) from None
    pixels = np.ascontiguousarray(pixels)
    transparent = pixels[..., 3] == 0  # RGBX pads with 255: nothing is transparent there
    packed = pixels.view("<u4")[..., 0]
    packed &= 0x00FFFFFF
    if transparent.any():
        packed[transparent] = 0
    return packed


@dataclass(frozen=True)
class Painted:
    """What :func:`paint_composite` found: the label image, pixels per object, and pixels no
    object owns."""

    labels: np.ndarray
    #: per colour given, in the order given
    counts: list[int]
    #: pixels that are neither background nor any object's colour
    stray: int
    #: up to a few of the stray colours, packed
    stray_colours: list[int]


def paint_composite(
    packed: np.ndarray, colours: Sequence[int], label_ids: Sequence[int], dtype=np.uint32
) -> Painted:
    """A label image: ``label_ids[i]`` wherever ``packed`` is ``colours[i]``, else 0.

    One lookup per pixel in a table indexed by colour (2^24 entries, of which
    only the pages of the colours used are ever touched), so the cost is one
    pass whatever the number of objects. The colours must differ from each
    other and from 0 (the caller checks).
    """
    table = np.zeros(1 << 24, dtype=dtype)
    table[np.asarray(colours, dtype=np.int64)] = label_ids
    labels = np.take(table, packed)
    top = max(label_ids, default=0)
    owned = labels[labels != 0]  # the instance pixels: counted without a full-size int64 copy
    per_id = np.bincount(owned, minlength=top + 1)
    counts = [int(per_id[i]) for i in label_ids]
    stray = int(np.count_nonzero(packed)) - owned.size
    stray_colours: list[int] = []
    if stray:
        stray_colours = np.unique(packed[(labels == 0) & (packed != 0)])[:5].tolist()
    return Painted(labels, counts, stray, stray_colours)
