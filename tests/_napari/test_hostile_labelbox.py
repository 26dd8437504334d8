"""Hostile Labelbox v1 exports: every bad input is a LabelboxFormatError naming the file
and the problem, or a clean read. Never another exception, never a hang, never a file
read from outside the export's folder, and in napari never a layer added.
"""

from __future__ import annotations

import copy
import json
import os
import struct
import sys
import warnings
import zlib
from io import BytesIO
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from napari_segtool import PLUGIN_NAME
from napari_segtool.formats import labelbox_v1
from napari_segtool.formats.labelbox_v1 import (
    LabelboxFormatError,
    LabelboxFormatWarning,
    read_export,
)
from napari_segtool.formats.masks import PNG_SIGNATURE
from tests.fuzz import assert_unchanged, json_values, viewer_with_a_layer

EXPORT = "export_v1.fish.json"
FEATURES = [
    "cjxtm2d32i9aa07940tifrpuh",
    "cjxtm2kf0i9b207944z3gypsn",
    "cjxtm2spbh8xx0721s18nwqq0",
    "cjxtm3i3ci9cx07940e5t7if8",
]
COUNTS = [450, 341, 250, 10479]
SHAPE = (96, 128)
WRONG_VALUES = [None, 1, -1, 1e308, 10**400, [], {}, "x", "", True, "\x00", ["x"], {"a": 1}]
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names and FIFOs")


# -- helpers --------------------------------------------------------------------------------------
@pytest.fixture
def export(reference_copy) -> Path:
    return reference_copy / EXPORT


@pytest.fixture
def rows(export) -> list:
    return json.loads(export.read_text())


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")  # \uXXXX: surrogates too
    return path


def read_quietly(path: Path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        return read_export(path, **options)


def refused(path: Path, *fragments: str, **options) -> str:
    """The read fails with a LabelboxFormatError naming ``path`` and each fragment."""
    with pytest.raises(LabelboxFormatError) as caught:
        read_quietly(path, **options)
    message = str(caught.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def succeeds_or_refuses(path: Path, **options):
    """Nothing but a LabelboxFormatError naming the file; a success gives sane rows."""
    try:
        result = read_quietly(path, **options)
    except LabelboxFormatError as err:
        assert str(path) in str(err), str(err)
        return None
    assert result
    for row in result:
        assert row.labels.ndim == 2 and row.labels.size > 0
        assert set(np.unique(row.labels)) <= {0, *row.document.instances}
        ids = [i.feature_id for i in row.document.instances.values()]
        assert len(ids) == len(set(ids)) and all(isinstance(i, str) and i for i in ids)
        row.document.ontology.validate()
    all_ids = [i.feature_id for r in result for i in r.document.instances.values()]
    assert len(all_ids) == len(set(all_ids)), "featureIds are unique across the export"
    return result


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(array: np.ndarray, **save) -> bytes:
    out = BytesIO()
    Image.fromarray(array).save(out, format="PNG", **save)
    return out.getvalue()


def header_only_png(width: int, height: int, colour: int = 6, depth: int = 8) -> bytes:
    """A PNG that claims ``width`` x ``height`` but holds next to nothing: a few dozen bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def mask_path(reference_copy: Path, n: int = 0) -> Path:
    return reference_copy / "tank_masks" / f"{FEATURES[n]}.png"


def reference_mask(reference_copy: Path, n: int = 0) -> np.ndarray:
    with Image.open(mask_path(reference_copy, n)) as image:
        return np.asarray(image)[:, :, 0] == 255


# -- malformed and truncated JSON -----------------------------------------------------------------
def test_truncated_at_many_positions_is_a_clear_error(export):
    text = export.read_text()
    cuts = sorted({*range(0, 64), *range(0, len(text) - 2, max(1, len(text) // 250))})
    for cut in cuts:
        export.write_text(text[:cut])
        refused(export, "not valid JSON")


def test_truncated_bytes_inside_a_utf8_character(export, rows):
    rows[0]["Label"]["objects"][0]["title"] = "Рыба"
    data = json.dumps(rows, ensure_ascii=False).encode()
    cut = data.index("Рыба".encode()) + 1  # half of a two-byte character
    export.write_bytes(data[:cut])
    refused(export, "not UTF-8")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "not valid JSON"),
        ("   \n", "not valid JSON"),
        ("[", "not valid JSON"),
        ("[}", "not valid JSON"),
        ("[{'Label': {}}]", "not valid JSON"),
        ('[{"Label": {}},]', "not valid JSON"),
        (b"\xff\xfe[\x00]\x00", "not UTF-8"),
        (b"\x00\x00\x00", "not valid JSON"),
        (b"\xef\xbb\xbf[", "not valid JSON"),
        ("[" * 100_000, "nested too deeply"),
        ("[" + "9" * 5000 + "]", "not valid JSON"),
        ("null", "a JSON list of data rows, not NoneType"),
        ("{}", "a JSON list of data rows, not an object"),
        ('"rows"', "a JSON list of data rows, not a string"),
        ("1e999", "a JSON list of data rows, not float"),
        ("[1]", "row 0: a data row is an object with a 'Label' key"),
        ("[null]", "row 0: a data row is an object with a 'Label' key"),
        ("[[]]", "row 0: a data row is an object with a 'Label' key"),
        ("[{}]", "row 0: a data row is an object with a 'Label' key"),
        ("[]", "no data row could be opened"),
        ('[{"Label": "Skip"}]', "no data row could be opened"),
        ('[{"Label": {"objects": null}}]', "row 0: Label.objects must be a list"),
        ('[{"Label": {"classifications": {}}}]', "row 0: Label.classifications must be a list"),
        ('[{"Label": {"objects": [1]}}]', "row 0: Label.objects[0] must be an object"),
        ('[{"Label": []}]', "row 0: Label must be an object, not a list"),
        ('[{"Label": NaN}]', "row 0: Label must be an object, not float"),
    ],
)
def test_malformed(tmp_path, content, problem):
    path = tmp_path / "export.json"
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    refused(path, problem)


def test_missing_file_and_a_folder_named_like_an_export(tmp_path):
    refused(tmp_path / "missing.json", "cannot read the file")
    (tmp_path / "folder.json").mkdir()
    refused(tmp_path / "folder.json", "cannot read the file")


# -- wrong types in every field -------------------------------------------------------------------
def field_paths(rows) -> list[tuple]:
    """The path of every value in the reference export, leaves and containers alike."""
    found = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                found.append((*path, key))
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                found.append((*path, index))
                walk(value, (*path, index))

    walk(rows, ())
    return found


def at(node, path):
    for step in path:
        node = node[step]
    return node


def test_wrong_type_in_every_field_is_read_or_refused_by_name(export, rows):
    paths = field_paths(rows)
    assert len(paths) > 90  # the walk covers rows, objects, classifications and answers
    outcomes = {"read": 0, "refused": 0}
    for path in paths:
        for value in WRONG_VALUES:
            broken = copy.deepcopy(rows)
            at(broken, path[:-1])[path[-1]] = value
            result = succeeds_or_refuses(write_json(export, broken))
            outcomes["read" if result else "refused"] += 1
    assert outcomes["read"] > 500 and outcomes["refused"] > 50, outcomes


# paths in the reference, with the problem a wrong type there must be reported as
OBJECT = (0, "Label", "objects", 0)
TEXT_ANSWER = (*OBJECT, "classifications", 1, "answer")
RADIO_ANSWER = (*OBJECT, "classifications", 0, "answer")


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ((0, "Label"), 1, "row 0: Label must be an object, not int"),
        ((0, "Label"), [], "row 0: Label must be an object, not a list"),
        ((0, "Label", "objects"), {}, "row 0: Label.objects must be a list"),
        ((0, "Label", "objects"), "x", "row 0: Label.objects must be a list"),
        ((0, "Label", "classifications"), 1, "row 0: Label.classifications must be a list"),
        (OBJECT, None, "row 0: Label.objects[0] must be an object"),
        (OBJECT, [], "row 0: Label.objects[0] must be an object"),
        ((*OBJECT, "instanceURI"), None, "instanceURI must be a non-empty string"),
        ((*OBJECT, "instanceURI"), 1, "instanceURI must be a non-empty string"),
        ((*OBJECT, "instanceURI"), "", "instanceURI must be a non-empty string"),
        ((*OBJECT, "instanceURI"), [], "instanceURI must be a non-empty string"),
        (TEXT_ANSWER, 1, "the text answer to 'Why is it blurry?' is int, not a string"),
        (TEXT_ANSWER, {}, "the text answer to 'Why is it blurry?' is an object, not a string"),
        (RADIO_ANSWER, 1, "the answer to 'Is the fish blurry?' is not an option object"),
        (RADIO_ANSWER, "yes", "the answer to 'Is the fish blurry?' is not an option object"),
    ],
)
def test_wrong_types_that_cannot_be_read_say_where(export, rows, path, value, problem):
    at(rows, path[:-1])[path[-1]] = value
    refused(write_json(export, rows), problem)


@pytest.mark.parametrize(
    "key",
    ["ID", "DataRow ID", "External ID", "Created By", "Project Name", "Dataset Name",
     "Created At", "Updated At", "Seconds to Label", "Agreement", "Reviews", "Skipped"],
)  # fmt: skip
@pytest.mark.parametrize("value", WRONG_VALUES)
def test_data_row_metadata_of_any_type_still_opens(export, rows, key, value):
    rows[0][key] = value
    (row,) = read_quietly(write_json(export, rows))
    assert [int((row.labels == n).sum()) for n in (1, 2, 3, 4)] == COUNTS
    seconds = row.document.source["seconds_to_label"]
    assert isinstance(seconds, float) and np.isfinite(seconds) and seconds >= 0


# -- huge numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [10**400, -(10**400), float("nan"), float("inf"), float("-inf")],
    ids=["10**400", "-10**400", "nan", "inf", "-inf"],
)
def test_numbers_beyond_floats(export, rows, value):
    rows[0]["Seconds to Label"] = value
    rows[0]["Label"]["objects"].append(
        {"featureId": "c" + "b" * 24, "title": "Box",
         "bbox": {"top": value, "left": 1, "height": 2, "width": 3}}
    )  # fmt: skip
    rows[0]["Label"]["objects"].append(
        {"featureId": "c" + "p" * 24, "title": "Spot", "point": {"x": 1, "y": value}}
    )
    with pytest.warns(LabelboxFormatWarning, match="neither a mask nor a known geometry"):
        (row,) = read_export(write_json(export, rows))
    assert row.document.source["seconds_to_label"] == 0.0
    assert row.other_objects == []  # not finite: skipped, and kept for the next save
    assert len(row.document.source["other_objects"]) == 2


def test_the_largest_floats_are_numbers(export, rows):
    rows[0]["Seconds to Label"] = 1e308
    rows[0]["Label"]["objects"].append({"title": "Spot", "point": {"x": -1e308, "y": 1e308}})
    (row,) = read_quietly(write_json(export, rows))
    assert row.document.source["seconds_to_label"] == 1e308
    np.testing.assert_array_equal(row.other_objects[0].coords, [[1e308, -1e308]])


def test_degenerate_geometries_are_skipped_not_drawn(export, rows):
    rows[0]["Label"]["objects"] += [
        {"title": "Outline", "polygon": [{"x": 1, "y": 1}, {"x": 2, "y": 2}]},
        {"title": "Path", "line": [{"x": 1, "y": 1}]},
        {"title": "Empty", "polygon": []},
        {"title": "Odd", "point": [{"x": 1, "y": 1}]},
        {"title": "Text", "bbox": {"top": "1", "left": "a", "height": 1, "width": 1}},
    ]
    with pytest.warns(LabelboxFormatWarning, match=r"5 object\(s\) with neither a mask"):
        (row,) = read_export(write_json(export, rows))
    assert row.other_objects == []


# -- names: unicode and path traversal ------------------------------------------------------------
@POSIX
@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("../outside.png", "points outside the export's folder"),
        ("tank_masks/../../outside.png", "points outside the export's folder"),
        ("%2e%2e/outside.png", "points outside the export's folder"),
        ("..%2foutside.png", "points outside the export's folder"),
        ("%252e%252e/outside.png", "is missing"),  # decoded once only: a name in the folder
        ("ABSOLUTE", "points outside the export's folder"),
        ("FILE_URL", "points outside the export's folder"),
        ("file:///etc/passwd", "points outside the export's folder"),
        ("/dev/zero", "points outside the export's folder"),
        ("/proc/self/environ", "points outside the export's folder"),
        ("..\\..\\outside.png", "is missing"),  # a backslash is a name character here
        ("tank_masks/a\x00.png", "is not a usable file name"),
        ("tank_masks/a%00.png", "is not a usable file name"),
        ("file:///a%00b.png", "is not a usable file name"),
        ("tank_masks/\ud800.png", "is not a usable file name"),
        ("x" * 5000 + ".png", "cannot read the mask"),
        ("a%zz.png", "is missing"),
        ("gs://bucket/mask.png", "unsupported instanceURI scheme"),
        ("ftp://host/mask.png", "unsupported instanceURI scheme"),
        ("https://host.example/mask.png", "masks are not downloaded"),
        (".", "is not a regular file"),
        ("tank_masks", "is not a regular file"),
        ("tank_masks/", "is not a regular file"),
    ],
)
def test_hostile_instance_uris(reference_copy, export, rows, tmp_path, uri, problem):
    outside = tmp_path / "outside.png"
    outside.write_bytes(mask_path(reference_copy).read_bytes())
    uri = {"ABSOLUTE": str(outside), "FILE_URL": outside.as_uri()}.get(uri, uri)
    rows[0]["Label"]["objects"][1]["instanceURI"] = uri
    message = refused(write_json(export, rows), "row 0 object", problem)
    assert FEATURES[1] in message


@POSIX
@pytest.mark.parametrize("target", ["outside file", "outside folder", "loop", "dangling"])
def test_symlinks_leading_out_are_refused(reference_copy, export, rows, tmp_path, target):
    link = reference_copy / "tank_masks" / "link.png"
    outside = tmp_path / "outside.png"
    outside.write_bytes(mask_path(reference_copy).read_bytes())
    if target == "outside file":
        link.symlink_to(outside)
    elif target == "outside folder":
        (reference_copy / "tank_masks" / "up").symlink_to(tmp_path)
        link = reference_copy / "tank_masks" / "up" / "outside.png"
    elif target == "loop":
        link.symlink_to(reference_copy / "tank_masks" / "loop.png")
        (reference_copy / "tank_masks" / "loop.png").symlink_to(link)
    else:
        link.symlink_to(tmp_path / "gone.png")
    rows[0]["Label"]["objects"][1]["instanceURI"] = str(link.relative_to(reference_copy))
    refused(write_json(export, rows), "row 0 object")


@POSIX
def test_a_symlink_inside_the_folder_is_followed(reference_copy, export, rows):
    link = reference_copy / "tank_masks" / "alias.png"
    link.symlink_to(mask_path(reference_copy, 1).name)
    rows[0]["Label"]["objects"][1]["instanceURI"] = "tank_masks/alias.png"
    (row,) = read_quietly(write_json(export, rows))
    assert int((row.labels == 2).sum()) == COUNTS[1]


@POSIX
def test_a_fifo_is_refused_without_blocking(reference_copy, export, rows):
    os.mkfifo(reference_copy / "tank_masks" / "pipe.png")
    rows[0]["Label"]["objects"][1]["instanceURI"] = "tank_masks/pipe.png"
    refused(write_json(export, rows), "is not a regular file")
    os.mkfifo(reference_copy / "pipe image.png")
    rows[0]["Label"]["objects"][1]["instanceURI"] = (
        mask_path(reference_copy, 1).relative_to(reference_copy).as_posix()
    )
    rows[0]["Labeled Data"] = "pipe image.png"
    with pytest.warns(LabelboxFormatWarning, match="pipe image.png was not found"):
        (row,) = read_export(write_json(export, rows))
    assert row.image is None


def test_a_huge_mask_file_is_refused_before_it_is_read(reference_copy, export, monkeypatch):
    monkeypatch.setattr(labelbox_v1.reader, "_MAX_MASK_BYTES", 100)
    refused(export, f"{FEATURES[0]}.png is larger than 100 bytes")


@pytest.mark.parametrize(
    "labeled_data",
    ["x" * 5000, "a\x00b.png", "\ud800.png", "file:///a%00b", "../../../../nowhere.png"],
)
def test_unusable_image_names_open_the_segmentation_alone(export, rows, labeled_data):
    rows[0]["Labeled Data"] = labeled_data
    with pytest.warns(LabelboxFormatWarning, match="was not found"):
        (row,) = read_export(write_json(export, rows))
    assert row.image is None and row.labels.shape == SHAPE


def test_an_image_that_is_not_an_image_is_named(reference_copy, export, rows):
    (reference_copy / "notes.png").write_text("not an image")
    rows[0]["Labeled Data"] = "notes.png"
    refused(write_json(export, rows), "notes.png cannot be decoded")


def test_an_eps_image_is_never_handed_to_ghostscript(reference_copy, export, rows):
    (reference_copy / "tank.eps").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n")
    rows[0]["Labeled Data"] = "tank.eps"
    refused(write_json(export, rows), "tank.eps cannot be decoded")


NAMES = [
    "Рыба",
    "鱼",
    "🐟 fish",
    "\u202eevil\u202c",
    "e\u0301clair",
    "../../etc/passwd",
    "C:\\Windows\\system32",
    "name\x00with nul",
    "x" * 10_000,
    "\ud800",
]


@pytest.mark.parametrize("name", NAMES)
def test_unicode_and_path_like_names_are_data_never_paths(reference_copy, export, rows, name):
    obj = rows[0]["Label"]["objects"][1]
    obj.update(featureId=name, title=name, schemaId="c" + "n" * 24)
    rows[0]["External ID"] = name
    before = sorted(p.relative_to(reference_copy) for p in reference_copy.rglob("*"))
    (row,) = read_quietly(write_json(export, rows))
    instance = row.document.instances[2]
    assert instance.feature_id == name and row.document.class_of(2).name == name
    assert int((row.labels == 2).sum()) == COUNTS[1]
    assert sorted(p.relative_to(reference_copy) for p in reference_copy.rglob("*")) == before


def test_unicode_mask_file_names_are_read(reference_copy, export, rows):
    renamed = reference_copy / "tank_masks" / "маска 鱼 %20.png"
    mask_path(reference_copy, 1).rename(renamed)
    rows[0]["Label"]["objects"][1]["instanceURI"] = "tank_masks/маска 鱼 %20.png"
    (row,) = read_quietly(write_json(export, rows))
    assert int((row.labels == 2).sum()) == COUNTS[1]


# -- masks of the wrong size, dtype, mode, values -------------------------------------------------
def replace_mask(reference_copy, data: bytes, n: int = 0) -> None:
    mask_path(reference_copy, n).write_bytes(data)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda m: np.zeros((10, 10, 4), np.uint8), "the mask is 10 x 10 pixels but the image is"),
        (lambda m: np.zeros((128, 96), np.uint8), "the mask is 96 x 128 pixels but the image is"),
        (lambda m: m.astype(np.uint8) * 128, "not a binary mask"),
        (lambda m: np.where(m, 255, 7).astype(np.uint8), "not a binary mask"),
        (lambda m: m.astype(np.uint16) * 1000, "not a binary mask"),
        (lambda m: np.dstack([m * 255, m * 0, m * 255]).astype(np.uint8), "not a binary mask"),
    ],
)
def test_bad_masks(reference_copy, export, make, problem):
    replace_mask(reference_copy, png_bytes(make(reference_mask(reference_copy))))
    refused(export, f"{FEATURES[0]}.png", problem)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.astype(np.uint16) * 65535,  # 16-bit grey
        lambda m: m.astype(np.uint8),  # 0/1 grey
        lambda m: m,  # 1-bit
        lambda m: np.dstack([m * 255] * 3).astype(np.uint8),  # RGB
        lambda m: np.dstack([m * 255, m * 0 + 255]).astype(np.uint8),  # grey + alpha
        lambda m: np.dstack([m * 255] * 3 + [m * 0 + 255]).astype(np.uint8),  # opaque black
    ],
    ids=["16-bit", "0-1", "1-bit", "RGB", "LA", "RGBA-opaque"],
)
def test_other_mask_encodings_read_pixel_exact(reference_copy, export, make):
    (expected,) = read_quietly(export)
    replace_mask(reference_copy, png_bytes(make(reference_mask(reference_copy))))
    (row,) = read_quietly(export)
    np.testing.assert_array_equal(row.labels, expected.labels)


def test_palette_and_16_bit_rgba_masks(reference_copy, export):
    mask = reference_mask(reference_copy)
    palette = Image.fromarray(mask.astype(np.uint8)).convert("P")
    palette.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    out = BytesIO()
    palette.save(out, format="PNG")
    replace_mask(reference_copy, out.getvalue())
    (expected,) = read_quietly(mask_path(reference_copy).parent.parent / EXPORT)
    (row,) = read_quietly(export)
    assert int((row.labels == 1).sum()) == COUNTS[0]
    # 16 bits per channel RGBA, written by hand (Pillow cannot write it)
    rgba = np.dstack([mask * 65535] * 4).astype(">u2")
    raw = b"".join(b"\x00" + line.tobytes() for line in rgba)
    ihdr = struct.pack(">IIBBBBB", SHAPE[1], SHAPE[0], 16, 6, 0, 0, 0)
    replace_mask(
        reference_copy,
        PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b""),
    )  # fmt: skip
    (row,) = read_quietly(export)
    assert int((row.labels == 1).sum()) == COUNTS[0]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not a PNG file"),
        (b"GIF89a", "not a PNG file"),
        (PNG_SIGNATURE, "truncated or damaged PNG"),
        (PNG_SIGNATURE + b"\x00" * 40, "truncated or damaged PNG"),
        ("JPEG", "not a PNG file"),
        ("CMYK TIFF", "not a PNG file"),
        (header_only_png(128, 96), "cannot decode the PNG"),
        (header_only_png(0, 96), "a PNG has at least one pixel"),
        (header_only_png(128, 0), "a PNG has at least one pixel"),
        (header_only_png(128, 96, colour=5), "cannot decode the PNG"),
        (header_only_png(128, 96, depth=3), "cannot decode the PNG"),
    ],
    ids=["empty", "gif", "signature", "zeros", "jpeg", "cmyk", "no-data", "zero-w", "zero-h",
         "bad-colour", "bad-depth"],
)  # fmt: skip
def test_files_that_are_not_masks(reference_copy, export, data, problem):
    if data == "JPEG":
        data = BytesIO()
        Image.fromarray(np.zeros((96, 128, 3), np.uint8)).save(data, format="JPEG")
        data = data.getvalue()
    elif data == "CMYK TIFF":
        data = BytesIO()
        Image.new("CMYK", (128, 96)).save(data, format="TIFF")
        data = data.getvalue()
    replace_mask(reference_copy, data)
    refused(export, f"{FEATURES[0]}.png", problem)


def test_a_mask_truncated_at_any_byte_is_refused_or_whole(reference_copy, export):
    """Cut anywhere: refused, unless every pixel is still there (only the checksum and
    the end marker gone): then it reads exactly as the whole file."""
    (whole,) = read_quietly(export)
    data = mask_path(reference_copy).read_bytes()
    refusals = 0
    for cut in range(len(data)):
        replace_mask(reference_copy, data[:cut])
        try:
            (row,) = read_quietly(export)
        except LabelboxFormatError as err:
            assert str(export) in str(err) and f"{FEATURES[0]}.png" in str(err)
            refusals += 1
            continue
        np.testing.assert_array_equal(row.labels, whole.labels)
    assert refusals >= len(data) - 40


def test_our_own_fast_path_never_trusts_its_chunk(tmp_path):
    """Written by the writer, then damaged: every bit flip is read exactly or refused."""
    from napari_segtool.formats.masks import MaskError, decode_mask_png, encode_mask_png

    mask = np.zeros((20, 30), bool)
    mask[3:9, 4:17] = True
    data = bytearray(encode_mask_png(mask))
    for position in range(8, len(data)):
        for flip in (0x01, 0x80):
            damaged = (
                bytes(data[:position])
                + bytes([data[position] ^ flip])
                + bytes(data[position + 1 :])
            )
            try:
                sparse = decode_mask_png(damaged, (20, 30))
            except MaskError as err:
                assert "mask" in str(err)
                continue
            assert sparse.to_full().shape == (20, 30)  # a valid PNG that decodes to a binary mask
    # a layout chunk beside an IHDR of the wrong length (CRCs valid): no struct.error
    ihdr = struct.pack(">IIBBBBBB", 30, 20, 8, 0, 0, 0, 0, 0)
    crafted = PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + bytes(data[33:])
    with pytest.raises(MaskError):
        decode_mask_png(crafted, (20, 30))


# -- decompression bombs --------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(100_000, 100_000), (2**31 - 1, 1), (1, 2**31 - 1)])
def test_a_mask_claiming_enormous_dimensions_is_refused_unread(tmp_path, size):
    bomb = header_only_png(*size)
    assert len(bomb) < 100
    (tmp_path / "bomb.png").write_bytes(bomb)
    rows = [{"Labeled Data": "https://example.org/x.png",
             "Label": {"objects": [{"featureId": "c" + "1" * 24, "title": "Cell",
                                    "instanceURI": "bomb.png"}]}}]  # fmt: skip
    refused(write_json(tmp_path / "export.json", rows), "bomb.png", "decompression bomb")


def test_a_real_zlib_bomb_under_a_pixel_limit_is_refused(reference_copy, export):
    # 96 x 128 grey, but the reader is told to accept at most 1000 pixels
    refused(export, "decompression bomb", max_pixels=1000)


def test_an_image_claiming_enormous_dimensions_is_refused(reference_copy, export):
    (reference_copy / "tank.png").write_bytes(header_only_png(100_000, 100_000, colour=2))
    refused(export, "tank.png", "decompression bomb")


def test_a_mask_bigger_than_the_image_is_refused_before_decoding(reference_copy, export):
    replace_mask(reference_copy, header_only_png(2_000, 2_000))
    refused(export, "the mask is 2000 x 2000 pixels but the image is 128 x 96")


# -- duplicate featureIds, unknown schemaIds ------------------------------------------------------
def test_duplicate_feature_ids_in_a_row_and_across_rows(export, rows):
    objects = rows[0]["Label"]["objects"]
    objects[1]["featureId"] = objects[0]["featureId"]
    second = copy.deepcopy(rows[0])
    second["ID"] = "ck0fishlabel0000000000002"
    second["External ID"] = "copy.png"
    rows.append(second)
    with pytest.warns(LabelboxFormatWarning, match="repeats; the later object got a new one"):
        first, again = read_export(write_json(export, rows))
    for row in (first, again):
        assert [int((row.labels == n).sum()) for n in (1, 2, 3, 4)] == COUNTS
    ids = [i.feature_id for r in (first, again) for i in r.document.instances.values()]
    assert len(set(ids)) == 8 and ids[0] == FEATURES[0]


@pytest.mark.parametrize("value", [5, [], {}, "   ", True])
def test_feature_ids_that_are_not_ids_get_new_ones(export, rows, value):
    rows[0]["Label"]["objects"][0]["featureId"] = value
    with pytest.warns(LabelboxFormatWarning, match="is not an id; the object got a new one"):
        (row,) = read_export(write_json(export, rows))
    assert row.document.instances[1].feature_id not in FEATURES


@pytest.mark.parametrize("ontology_beside", [True, False])
def test_unknown_schema_ids(reference_copy, export, rows, ontology_beside):
    if not ontology_beside:
        (reference_copy / "ontology.fish.json").unlink()
    objects = rows[0]["Label"]["objects"]
    objects[2].update(schemaId="c" + "u" * 24, title="Mystery Fish", color="#123456")
    objects[3]["schemaId"] = "c" + "w" * 24  # unknown id, known title: matched by title
    expected = "lacked 1 class" if ontology_beside else "rebuilt the ontology"
    with pytest.warns(LabelboxFormatWarning, match=expected):
        (row,) = read_export(write_json(export, rows))
    classes = {c.name: c for c in row.document.ontology.classes}
    assert classes["Mystery Fish"].feature_schema_id == "c" + "u" * 24
    assert classes["Mystery Fish"].color == "#123456"
    assert row.document.class_of(4).name == "Water"
    assert [int((row.labels == n).sum()) for n in (1, 2, 3, 4)] == COUNTS


def test_an_ontology_beside_that_is_not_an_ontology(reference_copy, export):
    (reference_copy / "ontology.fish.json").write_text("[" * 50_000)
    refused(export, "the ontology beside it is not usable")


# -- property-based fuzzing -----------------------------------------------------------------------
JSON = json_values(
    ["featureId", "schemaId", "title", "value", "color", "instanceURI", "answer", "answers",
     "classifications", "objects", "Label", "bbox", "point", "polygon", "line", "x", "y",
     "top", "left", "height", "width"],
)  # fmt: skip
FIXTURE_OK = HealthCheck.function_scoped_fixture  # each example rewrites the same file


@settings(max_examples=250, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(data=st.data())
def test_fuzz_mutations_of_the_reference_export(export, rows, data):
    broken = copy.deepcopy(rows)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        paths = field_paths(broken)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        owner, key = at(broken, path[:-1]), path[-1]
        action = data.draw(st.sampled_from(["replace", "drop", "duplicate", "wrap"]))
        if action == "replace":
            owner[key] = data.draw(JSON, label="value")
        elif action == "drop":
            del owner[key]
        elif action == "duplicate" and isinstance(owner, list):
            owner.append(copy.deepcopy(owner[key]))
        else:
            owner[key] = [owner[key]]
    text = json.dumps(broken, allow_nan=True)
    if data.draw(st.booleans(), label="truncate"):
        text = text[: data.draw(st.integers(0, len(text)), label="cut")]
    export.write_text(text)
    succeeds_or_refuses(export)


@settings(max_examples=200, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(data=JSON)
def test_fuzz_arbitrary_json_as_the_label(export, rows, data):
    rows[0]["Label"] = data
    succeeds_or_refuses(write_json(export, rows))


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzz_arbitrary_bytes_as_the_export(export, data):
    export.write_bytes(data)
    succeeds_or_refuses(export)


# -- in napari: an error naming the file and the problem, and no layer added ----------------------
def damage_malformed(copy_dir, rows):
    return (copy_dir / EXPORT).read_text()[:-40], "not valid JSON"


def damage_deep(copy_dir, rows):
    # starts like an export (so the sniff picks our reader), then nests without end
    return '[{"Labeled Data": "tank.png", "Label": ' + "[" * 100_000, "nested too deeply"


def damage_traversal(copy_dir, rows):
    rows[0]["Label"]["objects"][3]["instanceURI"] = "%2e%2e/%2e%2e/tank_masks/x.png"
    return rows, "points outside the export's folder"


def damage_nul(copy_dir, rows):
    rows[0]["Label"]["objects"][3]["instanceURI"] = "tank_masks/x\x00.png"
    return rows, "is not a usable file name"


def damage_bomb(copy_dir, rows):
    (copy_dir / "tank_masks" / f"{FEATURES[3]}.png").write_bytes(header_only_png(90_000, 90_000))
    return rows, "decompression bomb"


def damage_non_binary(copy_dir, rows):
    mask = reference_mask(copy_dir, 3)
    (copy_dir / "tank_masks" / f"{FEATURES[3]}.png").write_bytes(
        png_bytes(mask.astype(np.uint16) * 300)
    )
    return rows, "not a binary mask"


def damage_wrong_size(copy_dir, rows):
    (copy_dir / "tank_masks" / f"{FEATURES[3]}.png").write_bytes(
        png_bytes(np.zeros((5, 5), np.uint8))
    )
    return rows, "the mask is 5 x 5 pixels but the image is 128 x 96"


def damage_answer_type(copy_dir, rows):
    rows[0]["Label"]["objects"][0]["classifications"][1]["answer"] = {"text": "x"}
    return rows, "the text answer to 'Why is it blurry?' is an object, not a string"


NAPARI_DAMAGES = [
    damage_malformed,
    damage_deep,
    damage_traversal,
    damage_nul,
    damage_bomb,
    damage_non_binary,
    damage_wrong_size,
    damage_answer_type,
]


def error_chain(error: BaseException) -> list[str]:
    chain = []
    while error is not None:
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    return chain


@pytest.fixture
def damaged(reference_copy, request):
    rows = json.loads((reference_copy / EXPORT).read_text())
    content, problem = request.param(reference_copy, rows)
    export = reference_copy / EXPORT
    if isinstance(content, str):
        export.write_text(content)
    else:
        write_json(export, content)
    return export, problem


def assert_names_file_and_problem(messages: list[str], export: Path, problem: str) -> None:
    assert any(str(export) in m and problem in m for m in messages), messages


@pytest.mark.parametrize("damaged", NAPARI_DAMAGES, indirect=True, ids=lambda f: f.__name__)
def test_viewer_open_adds_nothing(make_napari_viewer, damaged):
    export, problem = damaged
    viewer, labels, pixels = viewer_with_a_layer(make_napari_viewer)
    with pytest.raises(Exception) as caught:  # napari wraps the reader's error
        viewer.open(str(export), plugin=PLUGIN_NAME)
    assert_names_file_and_problem(error_chain(caught.value), export, problem)
    assert_unchanged(viewer, labels, pixels)


@pytest.mark.parametrize("damaged", NAPARI_DAMAGES, indirect=True, ids=lambda f: f.__name__)
def test_file_open_menu_adds_nothing(make_napari_viewer, damaged):
    """File > Open File(s)...: the dialog returns the export, napari picks our reader."""
    from napari._app_model import get_app_model

    export, problem = damaged
    viewer, labels, pixels = viewer_with_a_layer(make_napari_viewer)
    shown = []

    def reader_dialog(dialog):  # napari offers other readers with the error: none is chosen
        from qtpy.QtWidgets import QLabel

        shown.extend(label.text() for label in dialog.findChildren(QLabel))
        return "", False

    with (
        mock.patch("napari._qt.qt_viewer.QFileDialog") as file_dialog,
        mock.patch(
            "napari._qt.dialogs.qt_reader_dialog.QtReaderDialog.get_user_choices",
            reader_dialog,
        ),
        mock.patch("napari._qt.qt_viewer.update_open_history"),
    ):
        file_dialog.return_value.getOpenFileNames.return_value = ([str(export)], "")
        try:
            get_app_model().commands.execute_command("napari.window.file.open_files_dialog")
        except Exception as err:  # no other reader for .json: napari re-raises ours
            messages = error_chain(err)
        else:
            messages = shown
    assert_names_file_and_problem(messages, export, problem)
    assert_unchanged(viewer, labels, pixels)


def test_open_export_adds_nothing_when_a_later_row_is_bad(make_napari_viewer, reference_copy):
    """Two data rows, the second damaged: not even the first row's layers are added."""
    from napari_segtool._napari.io_labelbox import open_export

    export = reference_copy / EXPORT
    rows = json.loads(export.read_text())
    second = copy.deepcopy(rows[0])
    second["External ID"] = "copy.png"
    for obj in second["Label"]["objects"]:
        obj["featureId"] = obj["featureId"][:-1] + "z"
    second["Label"]["objects"][2]["instanceURI"] = "../escape.png"
    write_json(export, [rows[0], second])
    viewer, labels, pixels = viewer_with_a_layer(make_napari_viewer)
    with pytest.raises(LabelboxFormatError) as caught:
        open_export(viewer, export)
    assert_names_file_and_problem([str(caught.value)], export, "row 1 object")
    assert_unchanged(viewer, labels, pixels)
