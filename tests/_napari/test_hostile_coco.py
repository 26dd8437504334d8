"""Hostile COCO files: every bad input is a CocoError naming the file and the problem,
or a clean read. Never another exception, never a hang, never a file read from outside
the JSON's folder, and in napari never a layer added (issue "Nothing lost").
"""

from __future__ import annotations

import copy
import json
import math
import os
import struct
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from napari_segtool import PLUGIN_NAME, load_default_ontology
from napari_segtool._napari.binding import segmentation_layer_kwargs
from napari_segtool._napari.io_coco import get_coco_reader, read_coco, write_coco
from napari_segtool.formats import coco
from napari_segtool.formats.coco import (
    CocoError,
    CocoWarning,
    decompress_counts,
    parse_coco,
    polygon_pixels,
)
from napari_segtool.model.document import Document
from tests.fuzz import assert_unchanged, json_values, viewer_with_a_layer

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation:DeprecationWarning",
    "ignore::napari_segtool.formats.coco.CocoWarning",
)
FIXTURE_OK = HealthCheck.function_scoped_fixture  # the fixtures are only read here
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names, symlinks, FIFOs")

SHAPE = (24, 32)  # height, width of the image our writer exports
WRONG_VALUES = [
    None,
    -1,
    0,
    1e308,
    10**400,
    "x",
    "",
    [],
    {},
    True,
    math.nan,
    ["x"],
    {"a": 1},
]
#: fields the reader does not use: any value must read, with the same pixels
IGNORED_FIELDS = {
    "images": {"attributes"},
    "categories": {"supercategory", "color", "featureSchemaId"},
    "annotations": {"area", "bbox", "iscrowd", "attributes"},
}


# -- a real COCO file, written by our writer ------------------------------------------------------
def exported_labels() -> tuple[np.ndarray, Document]:
    """Three instances of three classes, with answers, one touching the image's edge."""
    labels = np.zeros(SHAPE, dtype=np.uint16)
    labels[2:9, 3:12] = 1
    labels[12:20, 14:26] = 4
    labels[15:17, 18:21] = 0  # a hole
    labels[20:24, 28:32] = 7
    ontology = load_default_ontology()
    document = Document(ontology=ontology, source={"image_name": "cells"})
    for label_id, cls_ in zip((1, 4, 7), ontology.segmentation_classes, strict=False):
        document.add_instance(label_id, cls_.feature_schema_id)
    return labels, document


@pytest.fixture
def written(tmp_path) -> Path:
    """``cells.coco.json`` and ``cells.png`` as File > Save writes them."""
    labels, document = exported_labels()
    pixels = np.random.default_rng(1).integers(0, 255, (*SHAPE, 3), dtype=np.uint8)
    layers = [
        (pixels, {"name": "cells", "rgb": True}, "image"),
        (labels, segmentation_layer_kwargs(document, "cells segmentation"), "labels"),
    ]
    path = tmp_path / "cells.coco.json"
    assert write_coco(str(path), layers) == [str(path), str(tmp_path / "cells.png")]
    return path


@pytest.fixture
def data(written) -> dict:
    return json.loads(written.read_text())


def write_json(path: Path, content) -> Path:
    # allow_nan: NaN and Infinity are what other tools write; \uXXXX keeps lone surrogates
    path.write_text(json.dumps(content, allow_nan=True), encoding="utf-8")
    return path


def read_quietly(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CocoWarning)
        return read_coco(path)


def labels_of(layers) -> list[np.ndarray]:
    return [data for data, _, kind in layers if kind == "labels"]


def same_instances(labels: np.ndarray, expected: np.ndarray) -> bool:
    """The same pixels in the same instances, whatever their ids (``label_id`` may be lost)."""
    pairs = set(zip(labels.ravel().tolist(), expected.ravel().tolist(), strict=True))
    return bool(np.array_equal(labels > 0, expected > 0)) and len(pairs) == len(
        np.unique(labels)
    ) == len(np.unique(expected))


def refused(path: Path, *fragments: str) -> str:
    """``read_coco`` fails with a CocoError naming ``path`` and each fragment."""
    with pytest.raises(CocoError) as caught:
        read_quietly(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def read_or_refused(path: Path):
    """The whole contract: layer data, or a CocoError naming the file. Nothing else."""
    try:
        return read_quietly(path)
    except CocoError as err:
        assert str(err).startswith(f"{path}: "), str(err)
        return None


def hook_never_raises(path: Path):
    """``get_coco_reader`` answers ``None`` or a reader; the reader keeps the contract."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CocoWarning)
        reader = get_coco_reader(str(path))
        if reader is None:
            return None
        try:
            return reader(str(path))
        except CocoError as err:
            assert str(path) in str(err)
            return None


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def header_only_png(width: int, height: int) -> bytes:
    """A tiny PNG that claims ``width`` x ``height`` RGB pixels (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


# -- the file as written reads back (the baseline every hostile case departs from) ----------------
def test_the_file_our_writer_wrote_reads_back(written):
    layers = read_quietly(written)
    assert [kind for _, _, kind in layers] == ["image", "labels"]
    np.testing.assert_array_equal(labels_of(layers)[0], exported_labels()[0])


# -- malformed and truncated JSON -----------------------------------------------------------------
def test_truncated_at_many_positions_is_a_clear_error(written):
    text = written.read_bytes()
    assert len(text) > 500
    for cut in [*range(0, len(text) - 1, max(1, len(text) // 250)), len(text) - 2]:
        written.write_bytes(text[:cut])
        refused(written, "not valid JSON")
        assert hook_never_raises(written) is None  # declined: napari tries other readers


def test_truncated_inside_a_utf8_character(written, data):
    data["categories"][0]["name"] = "Zellkern 细胞核"
    encoded = json.dumps(data, ensure_ascii=False).encode()
    start = encoded.index("细".encode())
    for cut in (start + 1, start + 2):
        written.write_bytes(encoded[:cut])
        refused(written, "not valid JSON")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "not valid JSON"),
        (b"   \n", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xef\xbb\xbf{", "not valid JSON"),
        (b"\xff\xfe{\x00}\x00", "not a COCO file"),  # UTF-16 for {}: json accepts it
        (b"\x00" * 16, "not valid JSON"),
        (b"{'images': []}", "not valid JSON"),
        (b'{"images": [], "annotations": [], "categories": [],}', "not valid JSON"),
        (b'{"images": [], "annotations": [], "categories": [' + b"9" * 5000 + b"]}", "JSON"),
        (b"null", "not a COCO file"),
        (b"[]", "not a COCO file"),
        (b'"images"', "not a COCO file"),
        (b"1e999", "not a COCO file"),
        (b"{}", "not a COCO file"),
        (b'{"images": {}, "annotations": [], "categories": []}', "not a COCO file"),
        (b'{"images": [], "annotations": null, "categories": []}', "not a COCO file"),
    ],
)
def test_malformed(tmp_path, content, problem):
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    refused(path, problem)
    assert hook_never_raises(path) is None


def test_nested_too_deeply(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"images": ' + "[" * 100_000 + "]" * 100_000 + "}")
    refused(path, "nested too deeply")
    assert get_coco_reader(str(path)) is None


def test_an_empty_coco_file_reads_as_nothing(tmp_path):
    path = write_json(tmp_path / "empty.json", {"images": [], "annotations": [], "categories": []})
    assert read_quietly(path) == []


def test_a_folder_and_a_missing_file_named_like_coco(tmp_path):
    (tmp_path / "folder.json").mkdir()
    refused(tmp_path / "folder.json", "not a file")
    refused(tmp_path / "missing.json", "not a file")
    assert get_coco_reader(str(tmp_path / "folder.json")) is None
    assert get_coco_reader(str(tmp_path / "missing.json")) is None


@POSIX
def test_a_fifo_is_declined_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert get_coco_reader(str(fifo)) is None  # opening it would wait for a writer forever
    refused(fifo, "not a file")
    assert time.monotonic() - started < 5


# -- other JSON: declined (None), never raised on -------------------------------------------------
@pytest.mark.parametrize("name", ["export_v1.fish.json", "ontology.fish.json"])
def test_labelbox_exports_and_ontologies_are_declined(reference_dir, name):
    assert get_coco_reader(str(reference_dir / name)) is None


@pytest.mark.parametrize(
    "content",
    [
        {"tools": [], "classifications": []},  # an ontology
        [{"Labeled Data": "x.png", "Label": {"objects": []}}],  # a Labelbox v1 export
        {"images": [], "annotations": []},  # no categories
        {"images": "x", "annotations": [], "categories": []},
        {"images": None, "annotations": None, "categories": None},
        "COCO",
        12,
    ],
)
def test_json_that_is_not_coco_is_declined(tmp_path, content):
    assert get_coco_reader(str(write_json(tmp_path / "other.json", content))) is None


def test_paths_the_hook_is_not_for_are_declined(tmp_path, written):
    assert get_coco_reader(str(tmp_path / "cells.png")) is None
    assert get_coco_reader([]) is None
    assert get_coco_reader([str(written), str(tmp_path / "x.txt")]) is None
    assert get_coco_reader(str(tmp_path / "nul\x00.json")) is None
    assert get_coco_reader(str(tmp_path / "\ud800.json")) is None
    assert callable(get_coco_reader(written))  # a Path works too


# -- wrong types in every field -------------------------------------------------------------------
def entry_fields(data: dict) -> list[tuple[str, int, str]]:
    """(section, index, key) of every key of every image, category and annotation."""
    return [
        (section, index, key)
        for section in ("images", "categories", "annotations")
        for index, entry in enumerate(data[section])
        for key in entry
    ]


def test_wrong_type_in_every_field_is_read_or_refused_by_name(written, data):
    fields = entry_fields(data)
    assert len(fields) > 30  # the walk really covers the written file
    expected = exported_labels()[0]
    refusals = 0
    for section, index, key in fields:
        for value in WRONG_VALUES:
            broken = copy.deepcopy(data)
            broken[section][index][key] = value
            layers = read_or_refused(write_json(written, broken))
            if key in IGNORED_FIELDS[section]:
                assert layers is not None, (section, key, value)
                assert same_instances(labels_of(layers)[0], expected), (section, key, value)
            elif layers is None:
                refusals += 1
    assert refusals > 100


@pytest.mark.parametrize(
    ("section", "key", "value", "problem"),
    [
        ("images", "id", "1", "images[0].id: must be an integer, not '1'"),
        ("images", "id", True, "images[0].id: must be an integer, not True"),
        ("images", "width", 1e308, "images[0].width: must be a positive integer"),
        ("images", "width", -1, "images[0].width: must be a positive integer, not -1"),
        ("images", "height", None, "images[0].height: must be a positive integer, not None"),
        ("images", "file_name", [], "images[0].file_name: must be a string"),
        ("categories", "id", math.nan, "categories[0].id: must be an integer, not nan"),
        ("categories", "name", "  ", "categories[0].name: a category needs a non-empty name"),
        ("categories", "name", {}, "categories[0].name"),
        ("annotations", "id", [], "annotations[0].id: must be an integer, not []"),
        ("annotations", "id", None, "annotations[0].id: must be an integer, not None"),
        ("annotations", "image_id", {}, "annotations[0].image_id: must be an integer, not {}"),
        ("annotations", "image_id", True, "annotations[0].image_id: must be an integer"),
        ("annotations", "image_id", 1.0, "annotations[0].image_id: must be an integer"),
        ("annotations", "category_id", ["x"], "annotations[0].category_id: must be an integer"),
        ("annotations", "category_id", 10**400, "no category has id a huge number"),
        ("annotations", "segmentation", "x", "annotations[0].segmentation: expected an RLE"),
        ("annotations", "segmentation", {}, "annotations[0].segmentation.size"),
    ],
)
def test_wrong_types_that_cannot_be_read_say_where(written, data, section, key, value, problem):
    data[section][0][key] = value
    refused(write_json(written, data), problem)


@pytest.mark.parametrize("segmentation", [None, []])
def test_no_segmentation_is_a_box_when_there_is_one_else_refused(written, data, segmentation):
    data["annotations"][0]["segmentation"] = segmentation
    shapes = [meta for _, meta, kind in read_quietly(write_json(written, data)) if kind == "shapes"]
    assert len(shapes) == 1 and shapes[0]["shape_type"] == ["rectangle"]
    for bbox in ([1, 2, 3], [1, 2, -3, 4], [1, 2, math.inf, 4], "1 2 3 4", None):
        data["annotations"][0]["bbox"] = bbox
        refused(write_json(written, data), "annotations[0].bbox: an annotation without segm")
    del data["annotations"][0]["bbox"]
    refused(write_json(written, data), "annotations[0].segmentation: expected an RLE")


@pytest.mark.parametrize("value", [v for v in WRONG_VALUES if not isinstance(v, dict)])
@pytest.mark.parametrize("section", ["images", "categories", "annotations"])
def test_an_entry_that_is_not_an_object(written, data, section, value):
    data[section][0] = value
    refused(write_json(written, data), f"{section}[0]: expected an object")


@pytest.mark.parametrize("value", [[], "x", 1, True, {"tools": "x"}, {"tools": [{"name": ""}]}])
def test_an_embedded_ontology_that_is_not_one(written, data, value):
    data[coco.ONTOLOGY_KEY] = value
    refused(write_json(written, data), coco.ONTOLOGY_KEY)


def test_without_the_embedded_ontology_the_categories_make_one(written, data):
    data[coco.ONTOLOGY_KEY] = None
    np.testing.assert_array_equal(labels_of(read_quietly(write_json(written, data)))[0],
                                  exported_labels()[0])  # fmt: skip


@pytest.mark.parametrize(
    ("counts", "problem"),
    [
        (None, "must be an RLE string or a list of integers"),
        (7, "must be an RLE string or a list of integers"),
        ({}, "must be an RLE string or a list of integers"),
        ([1.5, 767.5], "must be an RLE string or a list of integers"),
        ([True, 767], "must be an RLE string or a list of integers"),
        (["1", "767"], "must be an RLE string or a list of integers"),
        ([], "cover the 24 x 32 image exactly"),
        ("", "cover the 24 x 32 image exactly"),
        ([10, -2, 760], "the runs must be non-negative"),
        ([0, 10**400], "cover the 24 x 32 image exactly"),
        ("\x7f", "cannot appear in an RLE string"),
        ("é", "cannot appear in an RLE string"),
        ("o", "the RLE string ends in the middle of a number"),
        ("o" * 13 + "0", "longer than 64 bits"),
    ],
)
def test_broken_rle_counts(written, data, counts, problem):
    data["annotations"][0]["segmentation"]["counts"] = counts
    refused(write_json(written, data), "annotations[0].segmentation.counts", problem)


@pytest.mark.parametrize("size", [None, [], [24], [24, 32, 1], [32, 24], [24, 33], ["24", "32"],
                                  [True, 32], {"h": 24}, "24x32", [1e308, 32]])  # fmt: skip
def test_rle_size_that_disagrees_with_the_image(written, data, size):
    data["annotations"][1]["segmentation"]["size"] = size
    refused(write_json(written, data), "annotations[1].segmentation.size",
            "does not match the image's [height, width] [24, 32]")  # fmt: skip


@pytest.mark.parametrize("change", [+1, -1, +1000, -768])
def test_rle_counts_that_over_or_underrun_the_image(written, data, change):
    segmentation = data["annotations"][0]["segmentation"]
    counts = decompress_counts(segmentation["counts"])
    counts[-1] += change
    if counts[-1] < 0:  # an underrun that eats into the last run instead
        counts[-1], counts[-2] = 0, counts[-2] + counts[-1]
    segmentation["counts"] = counts
    refused(write_json(written, data), "annotations[0].segmentation.counts",
            "cover the 24 x 32 image exactly")  # fmt: skip


def test_uncompressed_rle_counts_are_read(written, data):
    for annotation in data["annotations"]:
        segmentation = annotation["segmentation"]
        segmentation["counts"] = decompress_counts(segmentation["counts"])
    np.testing.assert_array_equal(labels_of(read_quietly(write_json(written, data)))[0],
                                  exported_labels()[0])  # fmt: skip


def test_a_long_rle_string_is_refused_quickly(written, data):
    # 8 MB of one endless number: a big-integer decoder would take hours (quadratic)
    data["annotations"][0]["segmentation"]["counts"] = "o" * 8_000_000
    started = time.monotonic()
    refused(write_json(written, data), "longer than 64 bits")
    assert time.monotonic() - started < 10


# -- polygons ------------------------------------------------------------------------------------
SQUARE = [1, 1, 5, 1, 5, 4, 1, 4]


@pytest.mark.parametrize(
    "polygon",
    [
        [],
        [1, 1],
        [1, 1, 5, 1],  # two points (and, to pycocotools, a box)
        [1, 1, 5, 1, 5],  # odd
        [1, 1, 5, 1, 5, math.nan],
        [1, 1, 5, 1, 5, math.inf],
        [1, 1, 5, 1, 5, -math.inf],
        [1, 1, 5, 1, 5, 10**400],
        [1, 1, 5, 1, 5, True],
        [1, 1, 5, 1, 5, "4"],
        [1, 1, 5, 1, 5, None],
        [[1, 1], [5, 1], [5, 4]],
        {"x": [1, 5, 5]},
        "1 1 5 1 5 4",
    ],
)
def test_polygons_that_are_not_polygons(written, data, polygon):
    data["annotations"][0]["segmentation"] = [SQUARE, polygon]
    refused(write_json(written, data), "annotations[0].segmentation[1]: a polygon is a flat list")


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow, no NaN on the way
@pytest.mark.parametrize("without_pycocotools", [False, True])
def test_polygon_vertices_far_outside_the_image_are_clipped_quickly(
    monkeypatch, without_pycocotools
):
    if without_pycocotools:
        monkeypatch.setitem(sys.modules, "pycocotools", None)
    # a strip along the top row, from far left to far right: pycocotools would walk
    # 5e9 points along the long edges (minutes), or overflow its integers at 1e10
    for far in (3e8, 1e10, 1e308):
        started = time.monotonic()
        rows, cols = polygon_pixels([[-far, 0, far, 0, far, 1, -far, 1]], (8, 10))
        assert time.monotonic() - started < 2, far
        assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, c) for c in range(10)]
    # a triangle whose apex is far away: its slanted edges cross the image as before
    rows, cols = polygon_pixels([[0, 0, 4e9, 4e9, 0, 8]], (8, 10))
    mask = np.zeros((8, 10), bool)
    mask[rows, cols] = True
    expected = np.zeros((8, 10), bool)
    for row in range(8):
        expected[row, : min(10, row + 1)] = True  # below the diagonal y = x, above y = 8
    assert np.count_nonzero(mask ^ expected) <= 8  # boundary pixels may go either way
    # entirely outside: nothing
    assert polygon_pixels([[1e9, 1e9, 2e9, 1e9, 2e9, 2e9]], (8, 10))[0].size == 0


def test_rings_reaching_outside_rasterise_exactly_as_pycocotools():
    """Vertices outside the image (near, or thousands of pixels away; rings crossing
    themselves) change no pixel against ``pycocotools``' own rasterisation."""
    from pycocotools import mask as coco_mask

    shape = (8, 10)
    rng = np.random.default_rng(7)
    for n in range(300):
        reach = 50 if n % 2 else 5000
        ring = rng.uniform(-reach, reach, size=(int(rng.integers(3, 9)), 2))
        rows, cols = polygon_pixels([ring.ravel().tolist()], shape)
        ours = np.zeros(shape, bool)
        ours[rows, cols] = True
        rle = coco_mask.frPyObjects([ring.ravel().tolist()], *shape)
        theirs = coco_mask.decode(coco_mask.merge(rle)).astype(bool)
        np.testing.assert_array_equal(ours, theirs, err_msg=str(ring))


def test_polygons_our_writer_writes_read_back_exactly(tmp_path):
    labels, document = exported_labels()
    built = coco.build_coco([coco.CocoImageInput(labels, document, "x.png")],
                            segmentation="polygons")  # fmt: skip
    path = write_json(tmp_path / "poly.json", built)
    np.testing.assert_array_equal(labels_of(read_quietly(path))[0], labels)


# -- ids: duplicates and references to nothing ----------------------------------------------------
def test_duplicate_annotation_ids_are_refused(written, data):
    data["annotations"][2]["id"] = data["annotations"][0]["id"]
    refused(write_json(written, data), "annotations[2].id: annotation id 1 is used twice")


def test_duplicate_image_and_category_ids_are_refused(written, data):
    categories = copy.deepcopy(data)
    categories["categories"][1]["id"] = categories["categories"][0]["id"]
    refused(write_json(written, categories), "categories[1].id: category id 1 is used twice")
    data["images"].append(dict(data["images"][0], file_name="other.png"))
    refused(write_json(written, data), "images[1].id: image id 1 is used twice")


@pytest.mark.parametrize("image_id", [0, 2, -1, 10**400])
def test_annotations_of_unknown_images_are_refused(written, data, image_id):
    data["annotations"][1]["image_id"] = image_id
    refused(write_json(written, data), "annotations[1].image_id: no image has id")


@pytest.mark.parametrize("category_id", [0, 4, -1, 2**63])
def test_annotations_of_unknown_categories_are_refused(written, data, category_id):
    data["annotations"][1]["category_id"] = category_id
    refused(write_json(written, data), "annotations[1].category_id: no category has id")


def test_huge_and_negative_ids_that_agree_are_read(written, data):
    for annotation, annotation_id in zip(data["annotations"], (-5, 0, 10**300), strict=True):
        annotation.update(id=annotation_id, image_id=-(10**30))
    data["images"][0]["id"] = -(10**30)
    data["categories"][0]["id"] = 2**70
    data["annotations"][0]["category_id"] = 2**70
    (labels,) = labels_of(read_quietly(write_json(written, data)))
    np.testing.assert_array_equal(labels, exported_labels()[0])


# -- huge images: refused before anything is allocated --------------------------------------------
@pytest.mark.parametrize(
    ("width", "height"),
    [(10**9, 10**9), (10**9, 24), (32, 10**9), (2**31, 2), (10**400, 1), (1, 10**400)],
)
def test_huge_image_sizes_are_refused_before_allocating(written, data, width, height):
    data["images"][0].update(width=width, height=height)
    # an attempt to allocate (2 bytes a pixel) would be a MemoryError or a swapping machine
    refused(write_json(written, data), "images[0]:", "is more than this reader builds in memory")


def test_the_pixel_limit_is_enforced_exactly(monkeypatch):
    monkeypatch.setattr(coco, "MAX_PIXELS", 100)
    small = {"images": [{"id": 1, "width": 10, "height": 10}], "annotations": [], "categories": []}
    (image,), _ = parse_coco(small, "ok.json")
    assert image.labels.shape == (10, 10)
    small["images"][0]["height"] = 11
    with pytest.raises(CocoError, match=r"10 x 11 pixels is more than .* \(100 pixels\)"):
        parse_coco(small, "big.json")


# -- file names: data, never a way out of the folder ----------------------------------------------
@pytest.fixture
def outside_image(tmp_path) -> Path:
    """A real image next to (not inside) the COCO file's folder: it must never be opened."""
    target = tmp_path / "secret.png"
    Image.fromarray(np.full((*SHAPE, 3), 200, np.uint8)).save(target)
    return target


@pytest.fixture
def inner(tmp_path, written, data) -> tuple[Path, dict]:
    """The written files moved one folder down, so there is an "outside" beside them."""
    folder = tmp_path / "inner"
    (folder / "images").mkdir(parents=True)
    for name in ("cells.png", "cells.coco.json"):
        (tmp_path / name).rename(folder / name)
    return folder / "cells.coco.json", data


@pytest.mark.parametrize(
    "file_name",
    [
        "../secret.png",
        "images/../../secret.png",
        "..\\secret.png",
        "images\\..\\..\\secret.png",
        "/secret.png",
        "//server/share/secret.png",
        "\\\\server\\share\\secret.png",
        "C:\\secret.png",
        "C:secret.png",
        "file:///secret.png",
        "secret.png\x00.png",
        "\x00",
        "\ud800.png",
        "\udcff/../../secret.png",
        "x" * 5000 + ".png",
        "a/" * 2000 + "secret.png",
        ".",
        "..",
        "images",
        "",
    ],
)
def test_hostile_file_names_open_the_segmentation_alone(inner, outside_image, file_name):
    path, data = inner
    data["images"][0]["file_name"] = file_name
    layers = read_quietly(write_json(path, data))
    assert [kind for _, _, kind in layers] == ["labels"]
    np.testing.assert_array_equal(labels_of(layers)[0], exported_labels()[0])
    assert layers[0][1]["metadata"]  # the document came along: the answers are not lost


def test_the_absolute_path_of_an_outside_image_warns(inner, outside_image):
    path, data = inner
    data["images"][0]["file_name"] = str(outside_image)
    with pytest.warns(CocoWarning, match="outside the COCO file's folder"):
        layers = read_coco(write_json(path, data))
    assert [kind for _, _, kind in layers] == ["labels"]


@POSIX
@pytest.mark.parametrize("link_name", ["cells.png", "images/cells.png"])
def test_a_symlink_leading_out_is_not_followed(inner, outside_image, link_name):
    path, data = inner
    (path.parent / "cells.png").unlink()
    (path.parent / link_name).symlink_to(outside_image)
    with pytest.warns(CocoWarning, match="links to a file outside the COCO file's folder"):
        layers = read_coco(path)
    assert [kind for _, _, kind in layers] == ["labels"]


@POSIX
def test_a_symlink_inside_the_folder_is_followed(inner):
    path, data = inner
    (path.parent / "cells.png").rename(path.parent / "images" / "real.png")
    (path.parent / "cells.png").symlink_to(path.parent / "images" / "real.png")
    assert [kind for _, _, kind in read_quietly(path)] == ["image", "labels"]


@POSIX
def test_a_fifo_named_like_the_image_is_not_opened(inner):
    path, _ = inner
    (path.parent / "cells.png").unlink()
    os.mkfifo(path.parent / "cells.png")
    assert [kind for _, _, kind in read_quietly(path)] == ["labels"]


@pytest.mark.parametrize("name", ["Zellkern 细胞核.png", "🐟 fish.png", "e\u0301clair.png",
                                  "\u202eevil\u202c.png", "name with spaces.PNG"])  # fmt: skip
def test_unicode_file_names_beside_the_json_are_opened(inner, name):
    path, data = inner
    (path.parent / "cells.png").rename(path.parent / name)
    data["images"][0]["file_name"] = name
    layers = read_quietly(write_json(path, data))
    assert [(meta["name"], kind) for _, meta, kind in layers] == [
        (Path(name).stem, "image"),
        (f"{Path(name).stem} segmentation", "labels"),
    ]


# -- the image beside the JSON: bombs, lies and garbage -------------------------------------------
def replace_image(written: Path, content: bytes) -> None:
    (written.parent / "cells.png").write_bytes(content)


@pytest.mark.parametrize("size", [(100_000, 100_000), (2**31 - 1, 1), (1, 2**31 - 1)])
def test_an_image_claiming_enormous_dimensions_is_refused_unread(written, size):
    bomb = header_only_png(*size)
    assert len(bomb) < 100
    replace_image(written, bomb)
    message = refused(written, "image 1: cells.png")
    assert "decompression bomb" in message or "the file says 32 x 24" in message


def test_a_real_zlib_bomb_is_refused_before_it_is_decoded(written):
    # 12000 x 12000 grey zeros: 144 MB of pixels in a file of about 150 KB, under
    # Pillow's own bomb limit, so it is the size check against the JSON that refuses it
    side = 12_000
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + side)
    rows = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )
    assert len(bomb) < 1_000_000
    replace_image(written, bomb)
    started = time.monotonic()
    refused(written, "cells.png is 12000 x 12000 pixels, the file says 32 x 24")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "cannot read image 1: cells.png"),
        (b"not an image at all", "cannot read image 1: cells.png"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 32 24\n", "cannot read image 1"),
        (b"\x89PNG\r\n\x1a\n", "cannot read image 1: cells.png"),
    ],
)
def test_files_that_are_not_images(written, content, problem):
    replace_image(written, content)
    refused(written, problem)


def test_an_image_truncated_at_any_byte_is_refused_or_whole(written):
    image = (written.parent / "cells.png").read_bytes()
    for cut in range(0, len(image), max(1, len(image) // 60)):
        replace_image(written, image[:cut])
        layers = read_or_refused(written)
        assert layers is None or [kind for _, _, kind in layers] == ["image", "labels"]


def test_an_image_of_the_wrong_size_is_named(written):
    replace_image(written, header_only_png(24, 32))  # rotated
    refused(written, "image 1: cells.png is 24 x 32 pixels, the file says 32 x 24")


# -- property-based fuzzing -----------------------------------------------------------------------
JSON = json_values(
    ["id", "size", "counts", "image_id", "category_id", "name"],
    text_size=8,
    key_size=5,
    max_keys=4,
    max_leaves=12,
)


def json_paths(node, path=()):
    """Every (container path, key) in a JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key
            yield from json_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield path, index
            yield from json_paths(value, (*path, index))


def at(node, path):
    for step in path:
        node = node[step]
    return node


@settings(max_examples=250, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(draw=st.data())
def test_fuzz_mutations_of_a_written_file(written, data, draw):
    """Near-valid files: replace, drop or duplicate anything, anywhere; maybe truncate."""
    broken = copy.deepcopy(data)
    broken.pop(coco.ONTOLOGY_KEY)  # keeps the walk on COCO's own structure
    for _ in range(draw.draw(st.integers(1, 4))):
        path, key = draw.draw(st.sampled_from(list(json_paths(broken))))
        owner = at(broken, path)
        action = draw.draw(st.sampled_from(["replace", "drop", "duplicate", "number"]))
        if action == "replace":
            owner[key] = draw.draw(JSON)
        elif action == "number":
            owner[key] = draw.draw(st.sampled_from([-1, 0, 1, 2, 24, 32, 768, 10**400, 1e308]))
        elif action == "drop":
            del owner[key]
        elif isinstance(owner, list):
            owner.append(copy.deepcopy(owner[key]))
    text = json.dumps(broken, allow_nan=True)
    if draw.draw(st.booleans()):
        text = text[: draw.draw(st.integers(0, len(text)))]
    written.write_text(text, encoding="utf-8")
    read_or_refused(written)
    hook_never_raises(written)


@settings(max_examples=300, deadline=None)
@given(content=JSON)
def test_fuzz_parse_arbitrary_json(content):
    for candidate in (content, {"images": [content], "annotations": [], "categories": []}):
        try:
            parse_coco(candidate, "fuzz.json")
        except CocoError as err:
            assert str(err).startswith("fuzz.json: ")


@settings(max_examples=200, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzz_arbitrary_bytes_as_the_file(tmp_path, content):
    path = tmp_path / "fuzz.json"
    path.write_bytes(content)
    read_or_refused(path)
    hook_never_raises(path)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_fuzz_rle_strings(text):
    try:
        counts = decompress_counts(text)
    except ValueError:
        return
    assert all(isinstance(c, int) and abs(c) < 2**65 for c in counts)


# -- in napari: an error naming the file and the problem, and no layer added ----------------------
def damage_wrong_type(path, data):
    data["annotations"][1]["image_id"] = []
    return data, "annotations[1].image_id: must be an integer"


def damage_size(path, data):
    data["annotations"][0]["segmentation"]["size"] = [32, 24]
    return data, "annotations[0].segmentation.size"


def damage_overrun(path, data):
    segmentation = data["annotations"][2]["segmentation"]
    segmentation["counts"] = [*decompress_counts(segmentation["counts"]), 5]
    return data, "cover the 24 x 32 image exactly"


def damage_nan_polygon(path, data):
    data["annotations"][2]["segmentation"] = [[1, 1, 5, 1, 5, math.nan]]
    return data, "annotations[2].segmentation[0]: a polygon"


def damage_short_polygon(path, data):
    data["annotations"][2]["segmentation"] = [[1, 1, 5, 1]]
    return data, "annotations[2].segmentation[0]: a polygon"


def damage_duplicate_id(path, data):
    data["annotations"][2]["id"] = data["annotations"][1]["id"]
    return data, "annotation id 2 is used twice"


def damage_unknown_category(path, data):
    data["annotations"][2]["category_id"] = 42
    return data, "annotations[2].category_id: no category has id 42"


def damage_huge_image(path, data):
    data["images"][0]["width"] = 10**9
    return data, "is more than this reader builds in memory"


def damage_bomb(path, data):
    (path.parent / "cells.png").write_bytes(header_only_png(100_000, 100_000))
    return data, "decompression bomb"


def damage_image_size(path, data):
    (path.parent / "cells.png").write_bytes(header_only_png(30, 24))
    return data, "cells.png is 30 x 24 pixels, the file says 32 x 24"


NAPARI_DAMAGES = [
    damage_wrong_type,
    damage_size,
    damage_overrun,
    damage_nan_polygon,
    damage_short_polygon,
    damage_duplicate_id,
    damage_unknown_category,
    damage_huge_image,
    damage_bomb,
    damage_image_size,
]


def error_chain(error: BaseException | None) -> list[str]:
    chain = []
    while error is not None:
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    return chain


@pytest.mark.parametrize("damage", NAPARI_DAMAGES, ids=lambda f: f.__name__)
def test_viewer_open_adds_nothing(make_napari_viewer, written, data, damage):
    content, problem = damage(written, data)
    write_json(written, content)
    viewer, labels, pixels = viewer_with_a_layer(make_napari_viewer)
    with pytest.raises(Exception) as caught:  # napari wraps the reader's CocoError
        viewer.open(str(written), plugin=PLUGIN_NAME)
    messages = error_chain(caught.value)
    assert any(str(written) in m and problem in m for m in messages), messages
    assert_unchanged(viewer, labels, pixels)


def test_viewer_open_of_a_truncated_file_adds_nothing(make_napari_viewer, written):
    written.write_bytes(written.read_bytes()[:300])
    viewer, labels, pixels = viewer_with_a_layer(make_napari_viewer)
    with pytest.raises(Exception) as caught:  # every reader of ours declines broken JSON
        viewer.open(str(written), plugin=PLUGIN_NAME)
    assert any(str(written) in m for m in error_chain(caught.value))
    assert_unchanged(viewer, labels, pixels)


def test_viewer_opens_hostile_names_with_the_segmentation_alone(make_napari_viewer, written, data):
    data["images"][0]["file_name"] = "../\ud800\x00.png"
    write_json(written, data)
    viewer, labels, _ = viewer_with_a_layer(make_napari_viewer)
    added = viewer.open(str(written), plugin=PLUGIN_NAME)
    assert [layer.name for layer in added] == ["\ud800\x00 segmentation"]
    assert list(viewer.layers) == [labels, *added]
    np.testing.assert_array_equal(added[0].data, exported_labels()[0])
