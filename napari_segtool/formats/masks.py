"""Instance masks as PNG files: one full-size image per instance.

Labelbox stores every segmentation instance as its own PNG, the size of the
image: RGBA, object ``(255, 255, 255, 255)``, background ``(0, 0, 0, 0)``
(8-bit grey, object 255, is offered as a smaller alternative that the SDK also
reads). Pure: numpy, zlib, Pillow and the label store only.

**Writing fast.** Encoding a mostly empty full-size PNG per instance costs
image pixels x instances. :class:`MaskPngEncoder` builds the PNG itself. The
uncompressed PNG data of a mask is zero bytes (filter byte 0, black
transparent pixels) except the instance's crop in each row it spans, so the
zlib stream in IDAT is a chain of independently decodable pieces, each ending
on a byte boundary with no back-references into the others:

* every run of zero bytes (above the instance's box, between the crop rows,
  below the box) is a hand-built deflate block (:func:`zero_run_deflate`):
  only its length matters, so it costs next to nothing to make;
* every crop row is compressed by zlib, with a full flush after it;
* then an empty final block and the Adler-32 of the whole, combined
  arithmetically from the pieces.

Only the crop rows touch pixels, so the cost is the instance's area (plus a
constant per row), not the image. No full-size raster is ever made, so the
full-size masks of an image larger than memory are written the same way
from each instance's box (a 32,768 x 32,768 RGBA mask is about 4 MB of zero
runs around its crop, deflate's best ratio). :func:`encode_colour_png`
streams a colour PNG (NDJSON's composite masks) likewise, a row block at a
time. The file carries a private ancillary chunk
(``sgRW``, unsafe to copy, so editors that change the pixels drop it) stating
the crop box and the compressed size of each crop row.

**Reading fast, and safely.** :func:`decode_mask_png` uses that chunk only
after checking it: every zero run must be byte for byte the canonical block,
every crop row must decode on its own to exactly one crop row, and the Adler-32
must match. Anything else (any other writer's PNG, an edited file, RGB, grey,
1-bit, palette) goes through Pillow, with the same validation.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_segtool.formats.toolkit.images import (
    ImageBombError,
    ImageError,
    ImageSizeError,
    check_pixel_count,
    decode_image,
    pixel_limit,
)
from napari_segtool.model.label_store import label_store

MASK_MODES = ("RGBA", "L")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LAYOUT_CHUNK = b"sgRW"  # ancillary, private, unsafe to copy
_LAYOUT = struct.Struct(">BIIII")  # version, crop top, left, rows, columns
_LAYOUT_VERSION = 1
_ZLIB_HEADER = b"\x78\x9c"
_FINAL_EMPTY_BLOCK = b"\x03\x00"  # BFINAL=1, fixed Huffman, end-of-block
_SYNC_MARKER = b"\x00\x00\xff\xff"  # empty stored block that ends a sync flush
_ADLER_BASE = 65521
_CHANNELS = {"RGBA": 4, "L": 1}
_COLOUR_TYPE = {"RGBA": 6, "L": 0}


class MaskError(ValueError):
    """A mask that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class SparseMask:
    """One instance's pixels: a boolean crop placed at (``top``, ``left``) in ``shape``."""

    shape: tuple[int, int]
    top: int
    left: int
    crop: np.ndarray

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.crop))

    @property
    def slices(self) -> tuple[slice, slice]:
        height, width = self.crop.shape
        return slice(self.top, self.top + height), slice(self.left, self.left + width)

    def to_full(self) -> np.ndarray:
        full = np.zeros(self.shape, dtype=bool)
        full[self.slices] = self.crop
        return full

    @classmethod
    def from_full(cls, mask: np.ndarray) -> SparseMask:
        mask = np.asarray(mask, dtype=bool)
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            return cls(mask.shape, 0, 0, np.zeros((0, 0), dtype=bool))
        cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
        crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        return cls(mask.shape, int(rows[0]), int(cols[0]), crop.copy())


# -- instances of a label image -------------------------------------------------
def iter_instance_crops(
    labels: np.ndarray, label_ids: list[int]
) -> Iterator[tuple[int, SparseMask | None]]:
    """``(label_id, mask or None when it has no pixels)`` for each id, in one pass.

    Bounding boxes come from a single sweep of the label store (O(pixels),
    whatever the ids); each instance then costs only its box.
    """
    store = label_store(labels)
    if store.ndim != 2:
        raise ValueError(f"expected a 2-D label image, got shape {store.shape}")
    wanted = [i for i in label_ids if i > 0]
    boxes = store.bounding_boxes(wanted) if wanted else {}
    shape = (int(store.shape[0]), int(store.shape[1]))
    for label_id in label_ids:
        box = boxes.get(label_id) if label_id > 0 else None
        if box is None:
            yield label_id, None
            continue
        yield label_id, SparseMask(shape, box[0].start, box[1].start, store.mask_of(label_id, box))


# -- canonical deflate block for a run of zero bytes ----------------------------
class _BitWriter:
    """Deflate bit order: fields LSB first, Huffman codes MSB first."""

    def __init__(self) -> None:
        self.value = 0
        self.nbits = 0

    def bits(self, value: int, count: int) -> None:
        self.value |= value << self.nbits
        self.nbits += count

    def code(self, code: int, length: int) -> None:
        self.bits(int(f"{code:0{length}b}"[::-1], 2), length)


# Literal/length code: 285 (length 258) -> "0", literal 0 -> "10", end -> "11";
# distance code 0 (distance 1) -> "0". A 258-byte repeat is two zero bits, which
# is deflate's best ratio (about 1:1032), the same zlib reaches on zeros.
_LIT_ZERO = (0b10, 2)
# Code-length code: 18 (run of zeros) -> "0", 1 -> "10", 2 -> "11"
_CL_ORDER = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
_CL_LENGTHS = {18: 1, 1: 2, 2: 2}
_CL_CODES = {18: (0b0, 1), 1: (0b10, 2), 2: (0b11, 2)}


def _block_head() -> _BitWriter:
    """Block header and Huffman tables, then the first byte as a literal 0."""
    out = _BitWriter()
    out.bits(0, 1)  # BFINAL = 0: more blocks follow
    out.bits(2, 2)  # BTYPE = dynamic Huffman
    out.bits(286 - 257, 5)  # HLIT: literal/length codes 0..285
    out.bits(1 - 1, 5)  # HDIST: one distance code
    out.bits(18 - 4, 4)  # HCLEN: code-length codes up to symbol 1 in _CL_ORDER
    for symbol in _CL_ORDER[:18]:
        out.bits(_CL_LENGTHS.get(symbol, 0), 3)
    # code lengths: literal 0 -> 2, 1..255 -> 0, 256 -> 2, 257..284 -> 0, 285 -> 1;
    # distance 0 -> 1. (symbol, run of zeros or None)
    for symbol, run in ((2, None), (18, 138), (18, 117), (2, None), (18, 28), (1, None), (1, None)):
        out.code(*_CL_CODES[symbol])
        if run is not None:
            out.bits(run - 11, 7)
    out.code(*_LIT_ZERO)
    return out


_HEAD = _block_head()


def zero_run_deflate(count: int) -> bytes:
    """A non-final deflate block for ``count`` zero bytes, ending byte-aligned.

    Canonical: the same ``count`` always gives the same bytes, whatever zlib the
    machine has, so a reader can recognise the block by comparing bytes.
    """
    if count <= 0:
        return b""
    repeats, leftover = divmod(count - 1, 258)
    # ``leftover`` literal zeros, each "10" (written LSB first: the bits 1, 0), then the end
    # code "11" and an empty stored block (BFINAL 0, BTYPE 00) that reaches a byte boundary;
    # in closed form, as every mask's rows call this
    tail_value = _LITERAL_ZEROS_MASK >> (2 * (_MAX_LEFTOVER - leftover)) | (0b11 << 2 * leftover)
    tail_bits = 2 * leftover + 2 + 3
    # each repeat is two zero bits (length code "0", distance code "0")
    offset = _HEAD.nbits + 2 * repeats
    nbits = offset + tail_bits
    value = _HEAD.value | (tail_value << offset)
    return value.to_bytes((nbits + 7) // 8, "little") + _SYNC_MARKER


_MAX_LEFTOVER = 257
#: the bits of 257 literal zeros in a row (0b0101...01)
_LITERAL_ZEROS_MASK = (4**_MAX_LEFTOVER - 1) // 3


def _adler_of_zeros(count: int) -> int:
    return ((count % _ADLER_BASE) << 16) | 1


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of ``a + b`` from the checksums of ``a`` and ``b`` (zlib's formula)."""
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_BASE
    b = (b1 + b2 + (second_length % _ADLER_BASE) * (a1 - 1)) % _ADLER_BASE
    return (b << 16) | a


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@dataclass(frozen=True)
class _Runs:
    """Byte counts of the zero runs around a crop box in the raw PNG data."""

    lead: int  # before the first crop row
    gap: int  # between two crop rows
    trail: int  # after the last crop row

    @classmethod
    def of(cls, size, channels, top, left, rows, cols) -> _Runs:
        height, width = size
        row_bytes = 1 + width * channels
        return cls(
            lead=top * row_bytes + 1 + left * channels,
            gap=(width - cols) * channels + 1,
            trail=(width - left - cols) * channels + (height - top - rows) * row_bytes,
        )


# -- writing --------------------------------------------------------------------
class MaskPngEncoder:
    """Encodes instance masks of one image size; reuse it for all instances.

    ``mode`` is ``"RGBA"`` (Labelbox's own format, the default) or ``"L"``
    (8-bit grey, object 255: a quarter of the bytes). ``compress_level`` is
    zlib's level for the crop rows (run-length strategy, which suits masks).
    ``foreground`` is the object's value in every channel: 255, or 1 for the
    0/1 masks of Labelbox's NDJSON import (``"L"`` only).
    """

    def __init__(
        self,
        shape: tuple[int, int],
        mode: str = "RGBA",
        compress_level: int = 6,
        foreground: int = 255,
    ):
        if mode not in MASK_MODES:
            raise ValueError(f"mask mode must be one of {MASK_MODES}, not {mode!r}")
        if foreground not in (1, 255) or (foreground == 1 and mode != "L"):
            raise ValueError(f"a {mode} mask's object value is 255 (or 1 in L), not {foreground}")
        self.foreground = np.uint8(foreground)
        self.height, self.width = (int(n) for n in shape)
        if self.height <= 0 or self.width <= 0:
            raise ValueError(f"a mask needs a positive size, not {shape}")
        self.mode = mode
        self.channels = _CHANNELS[mode]
        self.compress_level = compress_level
        ihdr = struct.pack(">IIBBBBB", self.width, self.height, 8, _COLOUR_TYPE[mode], 0, 0, 0)
        self._head = PNG_SIGNATURE + _chunk(b"IHDR", ihdr)
        self._tail = _chunk(b"IEND", b"")

    def encode(self, mask: SparseMask) -> bytes:
        if mask.shape != (self.height, self.width):
            raise ValueError(f"mask is {mask.shape}, the encoder {(self.height, self.width)}")
        rows, cols = mask.crop.shape
        if rows == 0 or cols == 0:  # nothing to crop: one zero run
            mask = SparseMask(mask.shape, 0, 0, np.zeros((1, 1), dtype=bool))
            rows = cols = 1
        runs = _Runs.of(mask.shape, self.channels, mask.top, mask.left, rows, cols)
        crop = np.repeat(mask.crop.astype(np.uint8) * self.foreground, self.channels, axis=1)
        row_length = cols * self.channels
        raw = memoryview(np.ascontiguousarray(crop)).cast("B")
        gap_block = zero_run_deflate(runs.gap)
        compressor = zlib.compressobj(self.compress_level, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
        pieces = [_ZLIB_HEADER, zero_run_deflate(runs.lead)]
        lengths = []
        adler = _adler_of_zeros(runs.lead)
        gap_adler = _adler_of_zeros(runs.gap)
        for row in range(rows):
            if row:
                pieces.append(gap_block)
                adler = adler32_combine(adler, gap_adler, runs.gap)
            line = raw[row * row_length : (row + 1) * row_length]
            packed = compressor.compress(line) + compressor.flush(zlib.Z_FULL_FLUSH)
            pieces.append(packed)
            lengths.append(len(packed))
            adler = adler32_combine(adler, zlib.adler32(line), row_length)
        adler = adler32_combine(adler, _adler_of_zeros(runs.trail), runs.trail)
        pieces += [zero_run_deflate(runs.trail), _FINAL_EMPTY_BLOCK, struct.pack(">I", adler)]
        layout = _LAYOUT.pack(_LAYOUT_VERSION, mask.top, mask.left, rows, cols)
        layout += struct.pack(f">{rows}I", *lengths)
        return b"".join(
            (
                self._head,
                _chunk(LAYOUT_CHUNK, layout),
                _chunk(b"IDAT", b"".join(pieces)),
                self._tail,
            )
        )


#: rows of a colour PNG built (and compressed) at a time by :func:`encode_colour_png`
COLOUR_ROW_BLOCK = 256


def encode_colour_png(
    shape: tuple[int, int],
    masks: Sequence[SparseMask],
    colours: Sequence[tuple[int, int, int]],
    compress_level: int = 6,
) -> bytes:
    """An RGB PNG of ``shape``: black, each mask painted in its colour (later ones on top).

    Streamed like :class:`MaskPngEncoder`: the image is never held whole. It
    is made :data:`COLOUR_ROW_BLOCK` rows at a time; a block no mask touches
    is a zero run (:func:`zero_run_deflate`), any other block is built, painted
    from the masks that reach it and compressed by zlib with a full flush (so
    no back-reference crosses into a zero run). Memory is one block plus the
    compressed file; time follows the masks' rows, not the image. The same
    masks always give the same bytes.
    """
    height, width = (int(n) for n in shape)
    if height <= 0 or width <= 0:
        raise ValueError(f"a PNG needs a positive size, not {shape}")
    row_bytes = 1 + 3 * width
    spans = [(m.top, m.top + m.crop.shape[0]) for m in masks]
    compressor = zlib.compressobj(compress_level, zlib.DEFLATED, -15, 9)
    pieces = [_ZLIB_HEADER]
    adler, pending = 1, 0  # checksum so far; zero bytes not yet emitted
    for start in range(0, height, COLOUR_ROW_BLOCK):
        stop = min(height, start + COLOUR_ROW_BLOCK)
        touching = [n for n, (top, bottom) in enumerate(spans) if top < stop and bottom > start]
        if not touching:
            pending += (stop - start) * row_bytes
            continue
        if pending:
            pieces.append(zero_run_deflate(pending))
            adler = adler32_combine(adler, _adler_of_zeros(pending), pending)
            pending = 0
        block = np.zeros((stop - start, row_bytes), dtype=np.uint8)
        pixels = block[:, 1:].reshape(stop - start, width, 3)
        for n in touching:
            mask = masks[n]
            top, bottom = max(start, spans[n][0]), min(stop, spans[n][1])
            crop = mask.crop[top - mask.top : bottom - mask.top]
            window = pixels[top - start : bottom - start, mask.left : mask.left + crop.shape[1]]
            window[crop] = colours[n]
        raw = block.tobytes()
        pieces.append(compressor.compress(raw) + compressor.flush(zlib.Z_FULL_FLUSH))
        adler = adler32_combine(adler, zlib.adler32(raw), len(raw))
    if pending:
        pieces.append(zero_run_deflate(pending))
        adler = adler32_combine(adler, _adler_of_zeros(pending), pending)
    pieces += [_FINAL_EMPTY_BLOCK, struct.pack(">I", adler)]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", ihdr),
            _chunk(b"IDAT", b"".join(pieces)),
            _chunk(b"IEND", b""),
        )
    )


def encode_mask_png(mask: np.ndarray, mode: str = "RGBA", compress_level: int = 6) -> bytes:
    """A full-size boolean mask as PNG bytes (convenience over :class:`MaskPngEncoder`)."""
    mask = np.asarray(mask, dtype=bool)
    return MaskPngEncoder(mask.shape, mode, compress_level).encode(SparseMask.from_full(mask))


# -- reading --------------------------------------------------------------------
def read_mask_png(
    path: str | Path,
    expected_shape: tuple[int, int] | None = None,
    max_pixels: int | None = -1,
) -> SparseMask:
    """Read one mask file; see :func:`decode_mask_png`."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise MaskError(f"{path}: cannot read the mask ({err.strerror or err})") from None
    return decode_mask_png(data, expected_shape, max_pixels, name=str(path))


def decode_mask_png(
    data: bytes,
    expected_shape: tuple[int, int] | None = None,
    max_pixels: int | None = -1,
    name: str = "mask",
) -> SparseMask:
    """The object pixels of a mask PNG, validated.

    Accepted: RGBA or RGB (object pure white, background black; alpha is
    ignored, as the Labelbox SDK ignores it), grey (object 255, or 1 in a 0/1
    mask; the grey of grey + alpha), 1-bit, palette, 16-bit. Raises
    :class:`MaskError` naming ``name`` for a file that is not a PNG, has the
    wrong size (``expected_shape`` is ``(rows, columns)``), holds values that
    are neither object nor background, or has more pixels than ``max_pixels``
    (default: Pillow's decompression-bomb limit, ``Image.MAX_IMAGE_PIXELS``;
    ``None`` disables the check).
    """
    limit = pixel_limit(max_pixels)
    width, height = _read_header(data, name)
    _check_size(name, (height, width), expected_shape, limit)
    fast = _decode_own_layout(data, name)
    if fast is not None:
        return fast
    return _decode_with_pillow(data, name, expected_shape, limit)


def _read_header(data: bytes, name: str) -> tuple[int, int]:
    if not data.startswith(PNG_SIGNATURE):
        raise MaskError(f"{name}: not a PNG file")
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise MaskError(f"{name}: truncated or damaged PNG (no image header)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _check_size(name, shape, expected_shape, limit) -> None:
    height, width = shape
    if width == 0 or height == 0:
        raise MaskError(f"{name}: {width} x {height} pixels: a PNG has at least one pixel")
    try:
        check_pixel_count(width, height, limit)
    except ImageBombError as err:
        raise MaskError(f"{name}: {err}") from None
    if expected_shape is not None and tuple(expected_shape) != (height, width):
        exp_h, exp_w = expected_shape
        raise MaskError(
            f"{name}: the mask is {width} x {height} pixels but the image is {exp_w} x {exp_h}"
        )


def _iter_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """PNG chunks in order; stops early at a damaged chunk (Pillow then reports it)."""
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            return
        if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack(">I", crc)[0]:
            return
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + length


def _decode_own_layout(data: bytes, name: str) -> SparseMask | None:
    """The fast path for this module's own files; ``None`` means "use Pillow"."""
    ihdr = layout = None
    idat: list[bytes] = []
    ended = False
    for kind, body in _iter_chunks(data):
        if kind == b"IHDR":
            ihdr = body
        elif kind == LAYOUT_CHUNK:
            layout = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            ended = True
        elif kind[0:1].isupper():  # a critical chunk this path does not handle
            return None
    if ihdr is None or layout is None or not idat or not ended or len(layout) < _LAYOUT.size:
        return None
    if len(ihdr) != 13:
        return None
    width, height, depth, colour, *methods = struct.unpack(">IIBBBBB", ihdr)
    modes = {v: k for k, v in _COLOUR_TYPE.items()}
    if depth != 8 or colour not in modes or methods != [0, 0, 0]:
        return None
    channels = _CHANNELS[modes[colour]]
    version, top, left, rows, cols = _LAYOUT.unpack(layout[: _LAYOUT.size])
    if (
        version != _LAYOUT_VERSION
        or not (0 < rows <= height - top and 0 < cols <= width - left)
        or len(layout) != _LAYOUT.size + 4 * rows
    ):
        return None
    lengths = struct.unpack(f">{rows}I", layout[_LAYOUT.size :])
    stream = b"".join(idat)
    if len(stream) < 6 or not stream.startswith(b"\x78") or int.from_bytes(stream[:2], "big") % 31:
        return None
    runs = _Runs.of((height, width), channels, top, left, rows, cols)
    view = memoryview(stream)[2:-4]
    lead, gap = zero_run_deflate(runs.lead), zero_run_deflate(runs.gap)
    trail = zero_run_deflate(runs.trail) + _FINAL_EMPTY_BLOCK
    if (
        view[: len(lead)] != lead
        or view[len(view) - len(trail) :] != trail
        or len(lead) + sum(lengths) + (rows - 1) * len(gap) + len(trail) != len(view)
    ):
        return None
    row_length = cols * channels
    crop = bytearray(rows * row_length)
    adler = _adler_of_zeros(runs.lead)
    gap_adler = _adler_of_zeros(runs.gap)
    pos = len(lead)
    for row, length in enumerate(lengths):
        if row:
            if view[pos : pos + len(gap)] != gap:
                return None
            pos += len(gap)
            adler = adler32_combine(adler, gap_adler, runs.gap)
        piece = view[pos : pos + length]
        pos += length
        line = _inflate_piece(piece, row_length)
        if line is None:
            return None
        crop[row * row_length : (row + 1) * row_length] = line
        adler = adler32_combine(adler, zlib.adler32(line), row_length)
    adler = adler32_combine(adler, _adler_of_zeros(runs.trail), runs.trail)
    if adler != struct.unpack(">I", stream[-4:])[0]:
        return None
    pixels = np.frombuffer(crop, dtype=np.uint8).reshape(rows, cols, channels)
    foreground = _foreground(pixels if channels > 1 else pixels[:, :, 0], name, (top, left))
    sparse = SparseMask.from_full(foreground)
    return SparseMask((height, width), top + sparse.top, left + sparse.left, sparse.crop)


def _inflate_piece(piece: memoryview, expected: int) -> bytes | None:
    """Decode one independent piece; ``None`` unless it is exactly ``expected`` bytes
    and ends on a block boundary (a final empty block appended must end the stream)."""
    if piece[-4:] != _SYNC_MARKER:
        return None
    decompressor = zlib.decompressobj(-15)
    try:
        out = decompressor.decompress(bytes(piece) + _FINAL_EMPTY_BLOCK, expected + 1)
    except zlib.error:  # e.g. a back-reference reaching outside the piece
        return None
    if len(out) != expected or not decompressor.eof or decompressor.unused_data:
        return None
    return out


def _decode_with_pillow(data: bytes, name: str, expected_shape, limit) -> SparseMask:
    expected_size = None if expected_shape is None else tuple(expected_shape)[::-1]
    try:
        pixels = decode_image(
            data,
            formats=("PNG",),
            max_pixels=limit,
            expected_size=expected_size,
            convert={"P": "RGBA"},
            modes=("1", "L", "LA", "RGB", "RGBA", "I;16", "I"),
        )
    except ImageSizeError as err:
        (width, height), (exp_w, exp_h) = err.size, err.expected
        raise MaskError(
            f"{name}: the mask is {width} x {height} pixels but the image is {exp_w} x {exp_h}"
            + err.bomb_note
        ) from None
    except ImageBombError as err:
        raise MaskError(f"{name}: refused as a possible decompression bomb ({err})") from None
    except ImageError as err:
        problem = str(err)
        if problem.startswith("unsupported"):
            raise MaskError(f"{name}: {problem}") from None
        raise MaskError(f"{name}: cannot decode the PNG ({problem})") from None
    if pixels.ndim == 3 and pixels.shape[2] == 2:  # grey + alpha: the grey decides
        pixels = pixels[:, :, 0]
    return SparseMask.from_full(_foreground(pixels, name))


def _foreground(pixels: np.ndarray, name: str, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Boolean object pixels; :class:`MaskError` if any pixel is neither object nor background.

    ``origin`` places a crop in the image, so the error names the real pixel.
    """
    if pixels.dtype == bool:
        return pixels
    maximum = np.iinfo(pixels.dtype).max if pixels.dtype.kind in "ui" else 1
    if pixels.ndim == 3:
        red, green, blue = pixels[:, :, 0], pixels[:, :, 1], pixels[:, :, 2]
        foreground = (red == maximum) & (green == maximum) & (blue == maximum)
        valid = foreground | ((red | green | blue) == 0)
        expected = "black background and white object"
    else:
        values = pixels[pixels != 0]
        value = values[0] if values.size else maximum
        if value not in (1, maximum):
            value = maximum
        foreground = pixels == value
        valid = foreground | (pixels == 0)
        expected = f"0 and {maximum} (or 0 and 1)"
    if not valid.all():
        row, col = (int(v) for v in np.argwhere(~valid)[0])
        found = pixels[row, col]
        shown = tuple(int(v) for v in found) if found.ndim else int(found)
        raise MaskError(
            f"{name}: not a binary mask: pixel (row {row + origin[0]}, column "
            f"{col + origin[1]}) is {shown}; expected {expected}"
        )
    return foreground
