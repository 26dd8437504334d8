"""Safe image decoding for every reader: a file from the outside is checked before it is decoded.

* Only common raster formats are opened (:data:`IMAGE_FORMATS`): Pillow would
  hand an EPS file to Ghostscript, and rarer plugins are more attack surface.
* The size in the header is checked before any pixel is decoded: against the
  size the file that names the image states (``expected_size``), then against
  a pixel limit (Pillow's decompression-bomb limit unless the caller gives
  another), so a tiny file that claims 10^10 pixels costs nothing.
* Whatever a damaged file makes a Pillow plugin raise becomes an
  :class:`ImageError`; the caller names the file in its own error.

Pillow's own bomb check, in ``Image.open``, reads the process-wide
``Image.MAX_IMAGE_PIXELS``. It is switched off (under a lock) for the
``Image.open`` call only, because the check here replaces it and must come
after the comparison with the stated size; the pixels are decoded with it back
in force, so other threads never lose their check for longer than a header read.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

#: the formats images are opened in (no EPS: it runs Ghostscript)
IMAGE_FORMATS = ("PNG", "JPEG", "MPO", "TIFF", "BMP", "GIF", "WEBP")
#: conversions to what napari shows as grey, RGB or RGBA
DISPLAY_MODES: Mapping[str, str] = {
    "P": "RGBA",
    "PA": "RGBA",
    "LA": "RGBA",
    "1": "L",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
}
#: ``max_pixels`` value meaning "Pillow's decompression-bomb limit"
PILLOW_LIMIT = -1
_PILLOW_GLOBALS = threading.Lock()


class ImageError(ValueError):
    """An image that cannot be used; the message says why (the caller adds the file name)."""


class ImageBombError(ImageError):
    """More pixels than the limit: refused as a possible decompression bomb, unread."""


class ImageSizeError(ImageError):
    """The image is not the size the file naming it states."""

    def __init__(self, size: tuple[int, int], expected: tuple[int, int], limit: int | None):
        self.size, self.expected = size, expected
        #: what to add when the size is also beyond the pixel limit ("" when it is not)
        self.bomb_note = ""
        if limit is not None and size[0] * size[1] > limit:
            self.bomb_note = (
                f" (and more than the limit of {limit} pixels: refused as a possible "
                "decompression bomb)"
            )
        super().__init__(
            f"{size[0]} x {size[1]} pixels, expected {expected[0]} x {expected[1]}" + self.bomb_note
        )


def pixel_limit(max_pixels: int | None = PILLOW_LIMIT) -> int | None:
    """The limit ``max_pixels`` stands for (``None``: no limit)."""
    return Image.MAX_IMAGE_PIXELS if max_pixels == PILLOW_LIMIT else max_pixels


def check_pixel_count(width: int, height: int, max_pixels: int | None = PILLOW_LIMIT) -> None:
    """:class:`ImageBombError` when ``width x height`` is more than the limit."""
    limit = pixel_limit(max_pixels)
    if limit is not None and width * height > limit:
        raise ImageBombError(
            f"{width} x {height} pixels is more than the limit of {limit} "
            "(refused as a possible decompression bomb)"
        )


def decode_image(
    source: bytes | str | Path,
    *,
    formats: Sequence[str] = IMAGE_FORMATS,
    max_pixels: int | None = PILLOW_LIMIT,
    expected_size: tuple[int, int] | None = None,
    convert: Mapping[str, str] = DISPLAY_MODES,
    modes: Sequence[str] | None = None,
) -> np.ndarray:
    """The first frame of an image file (its bytes or its path) as an array, checked first.

    ``expected_size`` is ``(width, height)``. ``convert`` maps Pillow modes to
    the modes they are converted to; after that, a mode not in ``modes`` (when
    given) is refused. Raises :class:`ImageSizeError`, :class:`ImageBombError`
    or :class:`ImageError`.

    A ``max_pixels`` above Pillow's limit raises the header check only: where a
    Pillow plugin checks again while decoding (TIFF), Pillow's limit still holds.
    """
    stream = BytesIO(source) if isinstance(source, bytes) else Path(source)
    limit = pixel_limit(max_pixels)  # read before Pillow's own limit is switched off
    Image.init()  # every plugin registered
    # only the formats this Pillow has openers for: Image.open fails on the first unknown
    # one (Pillow 13 opens MPO through the JPEG opener and has no "MPO" opener)
    allowed = [name for name in formats if name in Image.OPEN]
    try:
        with _opened_unchecked(stream, allowed) as image:
            width, height = image.size
            if expected_size is not None and (width, height) != tuple(expected_size):
                raise ImageSizeError((width, height), tuple(expected_size), limit)
            check_pixel_count(width, height, limit)
            image.seek(0)
            if image.mode in convert:
                image = image.convert(convert[image.mode])
            if modes is not None and image.mode not in modes:
                raise ImageError(f"unsupported {'/'.join(formats)} mode {image.mode}")
            return np.asarray(image).copy()
    except ImageError:
        raise
    except Image.DecompressionBombError as err:  # Pillow's own limit, checked while decoding
        raise ImageBombError(str(err)) from None
    except Exception as err:  # a damaged file can make a Pillow plugin raise anything
        raise ImageError(f"{type(err).__name__}: {err}") from None


def _opened_unchecked(stream: BytesIO | Path, formats: list[str]) -> Image.Image:
    """``Image.open`` without Pillow's bomb check, which is restored as soon as it returns."""
    with _PILLOW_GLOBALS:
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # the caller's checks replace Pillow's
        try:
            return Image.open(stream, formats=formats)
        finally:
            Image.MAX_IMAGE_PIXELS = previous
