"""The toolkit's image decoding, shared by the Labelbox, mask and COCO readers."""

from __future__ import annotations

import json
import struct
import time
import zlib
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from napari_segtool.formats.coco import CocoError, encode_rle
from napari_segtool.formats.coco_files import read_coco_file
from napari_segtool.formats.toolkit.images import (
    ImageBombError,
    ImageError,
    ImageSizeError,
    decode_image,
)


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    out = BytesIO()
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(out, format="PNG")
    return out.getvalue()


def header_only_png(width: int, height: int) -> bytes:
    """A tiny PNG that claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(body, zlib.crc32(kind))
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def test_decodes_bytes_and_paths_and_converts_to_displayable_modes(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8)
    np.testing.assert_array_equal(decode_image(png(grey)), grey)
    (tmp_path / "g.png").write_bytes(png(grey))
    np.testing.assert_array_equal(decode_image(tmp_path / "g.png"), grey)
    assert decode_image(png(grey, "P")).shape == (6, 8, 4)  # palette -> RGBA
    assert decode_image(png(grey > 20, "1")).dtype == np.uint8  # 1-bit -> grey


@pytest.mark.parametrize("kind", ["TIFF", "BMP", "GIF", "WEBP", "JPEG"])
def test_every_allowed_format_opens(kind):
    grey = np.full((6, 8), 7, dtype=np.uint8)
    out = BytesIO()
    Image.fromarray(grey).save(out, format=kind, **({"lossless": True} if kind == "WEBP" else {}))
    decoded = decode_image(out.getvalue())
    assert decoded.shape[:2] == (6, 8)


def test_eps_is_never_handed_to_ghostscript():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"
    with pytest.raises(ImageError, match="UnidentifiedImageError"):
        decode_image(eps)


def test_a_bomb_header_is_refused_unread_and_pillows_limit_is_restored():
    limit = Image.MAX_IMAGE_PIXELS
    started = time.monotonic()
    with pytest.raises(ImageBombError, match="decompression bomb"):
        decode_image(header_only_png(100_000, 100_000))
    assert time.monotonic() - started < 2
    assert limit == Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageBombError):
        decode_image(png(np.zeros((10, 10), np.uint8)), max_pixels=99)
    assert decode_image(png(np.zeros((10, 10), np.uint8)), max_pixels=None).shape == (10, 10)


def test_pillows_limit_is_off_only_while_the_header_is_read(monkeypatch):
    """Other threads keep Pillow's bomb check while this module decodes pixels."""
    from PIL import ImageFile

    limit, seen_while_decoding = Image.MAX_IMAGE_PIXELS, []
    real_load = ImageFile.ImageFile.load

    def load(image):
        seen_while_decoding.append(Image.MAX_IMAGE_PIXELS)
        return real_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    decode_image(png(np.zeros((6, 8), np.uint8), "P"))  # decoded, then converted
    assert seen_while_decoding and set(seen_while_decoding) == {limit}


def test_pillows_own_check_while_decoding_is_a_bomb_error(monkeypatch):
    out = BytesIO()
    Image.fromarray(np.zeros((10, 15), np.uint8)).save(out, format="TIFF")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # TIFF checks again on load
    with pytest.raises(ImageBombError, match="decompression bomb"):
        decode_image(out.getvalue(), max_pixels=None)


def test_the_stated_size_is_checked_before_the_limit():
    with pytest.raises(ImageSizeError, match="100000 x 100000 pixels, expected 8 x 6") as caught:
        decode_image(header_only_png(100_000, 100_000), expected_size=(8, 6))
    assert "decompression bomb" in caught.value.bomb_note
    with pytest.raises(ImageSizeError) as caught:
        decode_image(png(np.zeros((6, 9), np.uint8)), expected_size=(8, 6))
    assert caught.value.bomb_note == ""


def test_damaged_files_become_image_errors():
    data = png(np.zeros((6, 8), np.uint8))
    for cut in (0, 8, 20, 33):  # empty, signature only, in the header, in the pixels
        with pytest.raises(ImageError):
            decode_image(data[:cut])


def test_coco_images_obey_the_same_pixel_limit_as_labelbox_images(tmp_path, monkeypatch):
    """Pillow's limit is a hard limit for COCO too (it used to stop only at twice the limit)."""
    mask = np.zeros((10, 15), bool)
    mask[2:5, 3:9] = True
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "width": 15, "height": 10}],
        "categories": [{"id": 1, "name": "cell"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": encode_rle(mask)}
        ],
    }
    (tmp_path / "a.png").write_bytes(png(np.zeros((10, 15), np.uint8)))
    path = tmp_path / "a.coco.json"
    path.write_text(json.dumps(coco))
    assert [item.name for item in read_coco_file(path).images] == ["a"]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 150 pixels: between 1x and 2x
    with pytest.raises(CocoError, match=r"a\.png is too large to be real"):
        read_coco_file(path)
    assert [item.name for item in read_coco_file(path, max_pixels=None).images] == ["a"]
