"""PNG instance masks: the fast encoder, the verified fast decoder, and Pillow's view."""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from io import BytesIO

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from napari_segtool.formats import masks
from napari_segtool.formats.masks import (
    MaskError,
    MaskPngEncoder,
    SparseMask,
    adler32_combine,
    decode_mask_png,
    encode_mask_png,
    iter_instance_crops,
    read_mask_png,
    zero_run_deflate,
)


def _pillow_pixels(data: bytes) -> tuple[str, np.ndarray]:
    with Image.open(BytesIO(data)) as image:
        return image.mode, np.asarray(image)


def _png_bytes(array: np.ndarray) -> bytes:
    """Pillow picks the mode: bool -> 1-bit, 2 channels -> LA, uint16 -> I;16."""
    out = BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def _disk(shape, centre, radius) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


@pytest.fixture
def no_pillow(monkeypatch):
    """Fail if the decoder falls back to Pillow (the fast path must take our files)."""

    def refuse(*args, **kwargs):
        raise AssertionError("fell back to Pillow")

    monkeypatch.setattr(masks, "_decode_with_pillow", refuse)


# -- the canonical zero-run block ------------------------------------------------
@pytest.mark.parametrize("count", [1, 2, 3, 257, 258, 259, 260, 516, 517, 1033, 16385 * 7 + 3])
def test_zero_run_block_inflates_to_exactly_that_many_zeros(count):
    block = zero_run_deflate(count)
    inflater = zlib.decompressobj(-15)
    out = inflater.decompress(block + b"\x03\x00")  # + an empty final block
    assert out == bytes(count)
    assert inflater.eof and inflater.unused_data == b""
    assert zero_run_deflate(count) == block  # canonical


@given(st.integers(min_value=1, max_value=300_000))
def test_every_zero_run_block_inflates_to_its_count(count):
    inflater = zlib.decompressobj(-15)
    assert inflater.decompress(zero_run_deflate(count) + b"\x03\x00") == bytes(count)
    assert inflater.eof and inflater.unused_data == b""


def test_zero_run_block_reaches_deflates_best_ratio():
    count = 4096 * 16385  # a 4096-wide RGBA mask, 4096 rows
    assert len(zero_run_deflate(count)) < count / 1000


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_adler32_combine_matches_zlib(first, second):
    combined = adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(first + second)


# -- encoding ----------------------------------------------------------------------
MASK_CASES = {
    "disk": _disk((60, 80), (30, 40), 12),
    "cross touching every border": np.zeros((40, 50), bool),
    "1 x 1 image": np.ones((1, 1), bool),
    "single bottom-right pixel": np.zeros((40, 50), bool),
    "ring with a hole": _disk((50, 50), (25, 25), 20) & ~_disk((50, 50), (25, 25), 8),
    "empty": np.zeros((30, 20), bool),
    "full": np.ones((30, 20), bool),
}
MASK_CASES["single bottom-right pixel"][-1, -1] = True
MASK_CASES["cross touching every border"][20, :] = True
MASK_CASES["cross touching every border"][:, 25] = True


@pytest.mark.parametrize("mode", ["RGBA", "L"])
@pytest.mark.parametrize("case", sorted(MASK_CASES))
def test_pillow_decodes_encoded_masks_exactly(case, mode):
    mask = MASK_CASES[case]
    data = encode_mask_png(mask, mode)
    pil_mode, pixels = _pillow_pixels(data)
    assert pil_mode == mode
    assert pixels.shape[:2] == mask.shape
    if mode == "RGBA":
        # object white and opaque, background black and transparent: nothing else
        np.testing.assert_array_equal(pixels[mask], np.full((mask.sum(), 4), 255))
        np.testing.assert_array_equal(pixels[~mask], np.zeros(((~mask).sum(), 4)))
    else:
        np.testing.assert_array_equal(pixels, np.where(mask, 255, 0))


@pytest.mark.parametrize("mode", ["RGBA", "L"])
@pytest.mark.parametrize("case", sorted(MASK_CASES))
def test_own_masks_round_trip_through_the_fast_path(case, mode, no_pillow):
    mask = MASK_CASES[case]
    decoded = decode_mask_png(encode_mask_png(mask, mode), expected_shape=mask.shape)
    np.testing.assert_array_equal(decoded.to_full(), mask)
    assert decoded.area == mask.sum()


@settings(max_examples=60, deadline=None)
@given(
    arrays(bool, st.tuples(st.integers(1, 24), st.integers(1, 24))), st.sampled_from(["RGBA", "L"])
)
def test_any_mask_round_trips_and_pillow_agrees(mask, mode):
    data = encode_mask_png(mask, mode)
    _, pixels = _pillow_pixels(data)
    np.testing.assert_array_equal(pixels[..., 0] if pixels.ndim == 3 else pixels, mask * 255)
    np.testing.assert_array_equal(decode_mask_png(data).to_full(), mask)


def test_encoder_rejects_a_mask_of_another_size():
    encoder = MaskPngEncoder((10, 10))
    with pytest.raises(ValueError, match="encoder"):
        encoder.encode(SparseMask.from_full(np.ones((5, 5), bool)))
    with pytest.raises(ValueError, match="mode"):
        MaskPngEncoder((10, 10), mode="RGB")


def test_encoding_cost_follows_the_instance_not_the_image(monkeypatch):
    """zlib sees only the instance's crop rows; the empty rest is canonical zero runs."""
    seen = []
    real = zlib.compressobj

    class Counting:
        def __init__(self, *args):
            self._inner = real(*args)

        def compress(self, data):
            seen.append(len(data))
            return self._inner.compress(data)

        def flush(self, mode):
            return self._inner.flush(mode)

    monkeypatch.setattr(masks.zlib, "compressobj", Counting)
    shape = (2048, 2048)
    mask = np.zeros(shape, bool)
    mask[1000:1010, 500:520] = True
    data = encode_mask_png(mask)
    assert sum(seen) == 10 * 20 * 4  # the crop, RGBA
    assert len(data) < 2048 * (1 + 2048 * 4) / 900  # near deflate's best ratio for the rest


def test_decoding_cost_follows_the_instance_not_the_image(monkeypatch, no_pillow):
    produced = []
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args):
            self._inner = real(*args)

        def decompress(self, data, max_length=0):
            out = self._inner.decompress(data, max_length)
            produced.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self._inner, name)

    mask = np.zeros((2048, 2048), bool)
    mask[100:130, 7:9] = True
    data = encode_mask_png(mask)
    monkeypatch.setattr(masks.zlib, "decompressobj", Counting)
    decoded = decode_mask_png(data)
    assert sum(produced) == 30 * 2 * 4
    assert (decoded.top, decoded.left, decoded.crop.shape) == (100, 7, (30, 2))


# -- instances of a label image ------------------------------------------------------
def test_instance_crops_match_full_comparisons():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 6, size=(40, 30)).astype(np.uint16)
    labels[labels == 4] = 0  # id 4 has no pixels
    found = dict(iter_instance_crops(labels, [1, 2, 3, 4, 5, 9]))
    assert found[4] is None and found[9] is None
    for label_id in (1, 2, 3, 5):
        np.testing.assert_array_equal(found[label_id].to_full(), labels == label_id)
    with pytest.raises(ValueError, match="2-D"):
        list(iter_instance_crops(labels[None], [1]))


def test_instance_crops_of_a_huge_id_in_a_tiny_image_need_no_per_id_table():
    labels = np.zeros((4, 4), dtype=np.uint32)
    labels[1:3, 2] = 60_000_000
    tracemalloc.start()
    try:
        found = dict(iter_instance_crops(labels, [60_000_000, 5]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20  # find_objects' table up to 60,000,000 takes hundreds of MB
    assert found[5] is None
    np.testing.assert_array_equal(found[60_000_000].to_full(), labels == 60_000_000)


# -- reading other writers' masks -----------------------------------------------------
def _foreign_variants(mask: np.ndarray) -> dict[str, bytes]:
    white = mask.astype(np.uint8) * 255
    rgba = np.dstack([white, white, white, white])
    palette = Image.fromarray(white).convert("P")
    out = BytesIO()
    palette.save(out, format="PNG")
    return {
        "RGBA": _png_bytes(rgba),
        "RGB": _png_bytes(rgba[..., :3].copy()),
        "grey": _png_bytes(white),
        "grey 0/1": _png_bytes(mask.astype(np.uint8)),
        "grey + alpha": _png_bytes(np.dstack([white, white])),
        "1-bit": _png_bytes(mask),
        "16-bit grey": _png_bytes(mask.astype(np.uint16) * 65535),
        "palette": out.getvalue(),
        # the SDK reads only RGB: an opaque black background is still background
        "RGBA opaque background": _png_bytes(
            np.dstack([white, white, white, np.full_like(white, 255)])
        ),
    }


@pytest.mark.parametrize("variant", sorted(_foreign_variants(np.zeros((2, 2), bool))))
def test_reads_masks_from_other_writers(variant):
    mask = _disk((30, 40), (12, 20), 7)
    data = _foreign_variants(mask)[variant]
    np.testing.assert_array_equal(decode_mask_png(data, expected_shape=(30, 40)).to_full(), mask)


def test_a_file_whose_layout_chunk_lies_is_decoded_by_pillow_correctly():
    """Our chunk is a hint, never trusted: parts that do not verify go to Pillow."""
    real, other = np.zeros((20, 20), bool), np.zeros((20, 20), bool)
    real[2:5, 2:5] = True
    other[10:12, 10:12] = True
    good, lying = encode_mask_png(real), encode_mask_png(other)
    real_layout, fake_layout = (_chunk_of(data, b"sgRW") for data in (good, lying))
    forged = good.replace(real_layout, fake_layout)
    np.testing.assert_array_equal(decode_mask_png(forged).to_full(), real)


def _chunk_of(data: bytes, kind: bytes) -> bytes:
    start = data.index(kind) - 4
    (length,) = struct.unpack(">I", data[start : start + 4])
    return data[start : start + 12 + length]


# -- bad masks ---------------------------------------------------------------------------
def test_non_binary_rgb_mask_is_refused_naming_the_pixel():
    pixels = np.zeros((10, 12, 3), np.uint8)
    pixels[2:4, 2:4] = 255
    pixels[7, 5] = (128, 128, 128)
    with pytest.raises(MaskError, match=r"m\.png: not a binary mask: pixel \(row 7, column 5\)"):
        decode_mask_png(_png_bytes(pixels), name="m.png")


def test_coloured_pixels_are_not_binary():
    pixels = np.zeros((10, 12, 4), np.uint8)
    pixels[1, 1] = (255, 0, 0, 255)
    with pytest.raises(MaskError, match=r"\(255, 0, 0, 255\)"):
        decode_mask_png(_png_bytes(pixels))


def test_grey_mask_with_three_values_is_refused():
    pixels = np.zeros((10, 12), np.uint8)
    pixels[1, 1], pixels[2, 2] = 255, 128
    with pytest.raises(MaskError, match="not a binary mask"):
        decode_mask_png(_png_bytes(pixels))


def test_wrong_size_names_both_sizes():
    data = encode_mask_png(np.ones((10, 12), bool))
    with pytest.raises(MaskError, match="the mask is 12 x 10 pixels but the image is 13 x 10"):
        decode_mask_png(data, expected_shape=(10, 13))


def test_not_a_png_and_truncated_png(tmp_path):
    with pytest.raises(MaskError, match="not a PNG"):
        decode_mask_png(b"GIF89a...")
    data = _png_bytes(np.zeros((50, 50), np.uint8) + 255 * np.eye(50, dtype=np.uint8))
    with pytest.raises(MaskError, match="cannot decode"):
        decode_mask_png(data[: len(data) // 2])
    with pytest.raises(MaskError, match="cannot read the mask"):
        read_mask_png(tmp_path / "missing.png")


def test_a_huge_header_is_refused_before_decoding():
    """A tiny file claiming 100000 x 100000 pixels is a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 6, 0, 0, 0)
    bomb = masks.PNG_SIGNATURE + masks._chunk(b"IHDR", ihdr) + masks._chunk(b"IEND", b"")
    with pytest.raises(MaskError, match="decompression bomb"):
        decode_mask_png(bomb)
    small = encode_mask_png(np.ones((20, 20), bool))
    with pytest.raises(MaskError, match="decompression bomb"):
        decode_mask_png(small, max_pixels=100)
    assert decode_mask_png(small, max_pixels=None).area == 400


def test_pillow_decompression_bomb_limit_is_honoured(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    with pytest.raises(MaskError, match="decompression bomb"):
        decode_mask_png(_png_bytes(np.zeros((10, 10), np.uint8)))


def test_zero_one_masks_for_labelbox_import():
    full = np.zeros((30, 40), bool)
    full[5:9, 10:31] = True
    encoder = MaskPngEncoder(full.shape, "L", foreground=1)
    data = encoder.encode(SparseMask.from_full(full))
    pixels = np.asarray(Image.open(BytesIO(data)))
    assert pixels.dtype == np.uint8 and pixels.max() == 1
    np.testing.assert_array_equal(pixels.astype(bool), full)
    np.testing.assert_array_equal(decode_mask_png(data, full.shape).to_full(), full)
    with pytest.raises(ValueError, match="255"):
        MaskPngEncoder(full.shape, "RGBA", foreground=1)


def test_a_colour_png_is_streamed_from_crops_and_decodes_to_the_painted_image():
    shape = (700, 300)  # three row blocks, the middle one untouched
    rng = np.random.default_rng(5)
    first = masks.SparseMask(shape, 10, 20, rng.random((200, 100)) > 0.5)
    second = masks.SparseMask(shape, 150, 50, np.ones((120, 40), bool))  # over the first
    third = masks.SparseMask(shape, 600, 250, np.ones((100, 50), bool))  # the last row
    colours = [(255, 0, 0), (1, 2, 3), (0, 128, 255)]
    png = masks.encode_colour_png(shape, [first, second, third], colours)
    expected = np.zeros((*shape, 3), np.uint8)
    for mask, colour in zip((first, second, third), colours, strict=True):
        expected[mask.slices][mask.crop] = colour
    decoded = np.asarray(Image.open(BytesIO(png)))
    np.testing.assert_array_equal(decoded, expected)
    assert png == masks.encode_colour_png(shape, [first, second, third], colours)
    # rows no mask reaches are one zero run: deflate's best ratio (about 1:1032)
    assert len(masks.encode_colour_png((20_000, 300), [], [])) < 20_000 * 901 // 1000
