"""Saving a COCO file another tool wrote, unedited, gives back what that tool wrote.

Every real COCO file of tests/data/realworld is read and written again: per image the
same annotations (ids, category, segmentation, iscrowd, attributes, area, bbox, and
``pycocotools`` pixels) and the same ``info`` and ``licenses``; an edited instance is
written from its pixels, and annotations covered by others survive.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from napari_segtool.formats.coco import (
    CocoImageInput,
    CocoWarning,
    assemble_coco,
    build_coco,
    coco_image_part,
    decode_rle,
    parse_coco,
)
from napari_segtool.formats.coco_files import read_coco_file, write_coco_file
from napari_segtool.formats.result import LabelsItem
from tests.coco_samples import REAL_COCO_FILES, REALWORLD

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
coco_api = pytest.importorskip("pycocotools.coco")

RLE_FILE = REALWORLD / "labelbox-python/coco/rle.json"
SAMPLE = REALWORLD / REAL_COCO_FILES[0]
COMPARED = ("id", "category_id", "segmentation", "iscrowd", "attributes", "area", "bbox")


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def write_back(path: Path, target: Path, edit=None) -> dict:
    """Read ``path``, optionally ``edit(labels_items)``, write ``target``; its JSON."""
    result = quietly(read_coco_file, path)
    items = [LabelsItem(np.array(i.data), i.document, i.name) for i in result.labels]
    if edit is not None:
        edit(items)
    quietly(write_coco_file, target, items)
    return json.loads(target.read_text())


def pycocotools_coco(path: Path):
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
        return coco_api.COCO(str(path))


def by_image(coco: dict) -> dict[str, list[dict]]:
    """Per image (its id, kept on writing), its annotations as compared, in file order."""
    category = {c["id"]: c["name"] for c in coco["categories"]}
    grouped: dict[int, list[dict]] = {i["id"]: [] for i in coco["images"]}
    for a in coco["annotations"]:
        compared = {k: a[k] for k in COMPARED if k in a}
        grouped[a["image_id"]].append(dict(compared, category=category[a["category_id"]]))
    return grouped


@pytest.mark.parametrize("name", REAL_COCO_FILES)
def test_an_unedited_file_is_written_back_as_the_other_tool_wrote_it(tmp_path, name):
    path, target = REALWORLD / name, tmp_path / "again.coco.json"
    original, written = json.loads(path.read_text()), write_back(path, target)
    assert by_image(written) == by_image(original)
    # images are not written along: their names stay those the tool wrote
    names = {i["id"]: PurePosixPath(i["file_name"]).name for i in original["images"]}
    assert {i["id"]: i["file_name"] for i in written["images"]} == names
    for key in ("info", "licenses"):
        if key in original:
            assert written[key] == original[key]
    before, after = pycocotools_coco(path), pycocotools_coco(target)
    for annotation in after.dataset["annotations"]:
        if annotation.get("segmentation") in (None, []):
            continue  # a box only: compared above
        np.testing.assert_array_equal(
            after.annToMask(annotation), before.annToMask(before.anns[annotation["id"]])
        )


def test_a_second_round_trip_changes_nothing(tmp_path):
    first = write_back(RLE_FILE, tmp_path / "first.coco.json")
    second = write_back(tmp_path / "first.coco.json", tmp_path / "second.coco.json")
    assert first["annotations"] == second["annotations"]
    assert first["images"] == second["images"]


def test_covered_annotations_are_kept_said_and_written_back(tmp_path):
    original = json.loads(RLE_FILE.read_text())
    with pytest.warns(CocoWarning, match="kept and written back unchanged"):
        images, _ = parse_coco(original, str(RLE_FILE))
    in_layers = {a for image in images for a in image.label_ids}
    covered = [a for a in original["annotations"] if a["id"] not in in_layers]
    assert len(covered) == 8  # under later annotations: no pixel of their own in the layer
    written = write_back(RLE_FILE, tmp_path / "again.coco.json")
    again = {a["id"]: a for a in written["annotations"]}
    for annotation in covered:
        assert again[annotation["id"]]["segmentation"] == annotation["segmentation"]
        assert again[annotation["id"]]["area"] == annotation["area"]
    # file order is kept: the covered ones stay under what covers them on the next read
    reread, _ = quietly(parse_coco, written, "again")
    for first, second in zip(images, reread, strict=True):
        np.testing.assert_array_equal(first.labels, second.labels)


def test_covered_annotations_stay_when_what_covers_them_is_deleted(tmp_path):
    original = json.loads(RLE_FILE.read_text())
    images, _ = quietly(parse_coco, original)
    in_layers = {a for image in images for a in image.label_ids}
    covered_ids = {a["id"] for a in original["annotations"] if a["id"] not in in_layers}

    def clear_everything(items):
        for item in items:
            item.data[...] = 0

    written = write_back(RLE_FILE, tmp_path / "cleared.coco.json", clear_everything)
    assert {a["id"] for a in written["annotations"]} == covered_ids


def test_an_edited_instance_is_written_from_its_pixels(tmp_path):
    original = json.loads(SAMPLE.read_text())
    images, _ = quietly(parse_coco, original)
    annotation_id, label_id = next(iter(images[0].label_ids.items()))

    def grow(items):
        rows, cols = np.nonzero(items[0].data == label_id)
        items[0].data[rows.min() - 1, cols.min() : cols.max() + 1] = label_id

    written = write_back(SAMPLE, tmp_path / "edited.coco.json", grow)
    again = {a["id"]: a for a in written["annotations"]}
    edited = again[annotation_id]
    assert edited["segmentation"] != next(
        a["segmentation"] for a in original["annotations"] if a["id"] == annotation_id
    )
    mask = decode_rle(edited["segmentation"])
    result = quietly(read_coco_file, SAMPLE)
    expected = result.labels[0].data == label_id
    rows, cols = np.nonzero(expected)
    expected[rows.min() - 1, cols.min() : cols.max() + 1] = True
    np.testing.assert_array_equal(mask, expected)
    assert edited["area"] == int(expected.sum())
    # the others are untouched
    others = {a["id"]: a for a in original["annotations"] if a["id"] != annotation_id}
    for other_id, annotation in others.items():
        if other_id in again and again[other_id]["segmentation"] == annotation["segmentation"]:
            continue
        # only an instance the edit painted over is rewritten
        assert np.any(decode_rle_or_polygon(annotation, mask.shape) & mask)


def decode_rle_or_polygon(annotation: dict, shape: tuple[int, int]) -> np.ndarray:
    from pycocotools import mask as mask_utils

    segm = annotation["segmentation"]
    rles = mask_utils.frPyObjects(segm, *shape) if isinstance(segm, list) else [segm]
    if isinstance(segm, dict) and isinstance(segm["counts"], list):
        rles = [mask_utils.frPyObjects(segm, *shape)]
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def test_documents_of_several_files_merge_info_and_licenses():
    items = quietly(read_coco_file, RLE_FILE).labels[:2]
    first, second = (item.document for item in items)
    first.source["coco_file"] = {"info": {"description": "first"}, "licenses": [{"id": 1}]}
    second.source["coco_file"] = {
        "info": {"description": "second"},
        "licenses": [{"id": 1, "name": "again"}, {"id": 2}],
        "other": 3,
    }
    entries = [
        CocoImageInput(np.asarray(item.data), item.document, f"{n}.png")
        for n, item in enumerate(items)
    ]
    coco = quietly(build_coco, entries)
    assert coco["info"] == {"description": "first"}
    assert coco["licenses"] == [{"id": 1}, {"id": 2}]
    assert coco["other"] == 3
    ids = [a["id"] for a in coco["annotations"]]
    assert len(ids) == len(set(ids))


def test_merging_converted_files_keeps_their_top_level_keys():
    original = json.loads(RLE_FILE.read_text())
    items = quietly(read_coco_file, RLE_FILE).labels[:2]
    another_license = {"id": 99, "name": "another file's", "url": ""}
    items[1].document.source["coco_file"] = {
        "info": {"description": "another file"},
        "licenses": [original["licenses"][0], another_license],
    }
    parts = [
        quietly(coco_image_part, CocoImageInput(np.asarray(item.data), item.document, item.name))
        for item in items
    ]
    merged = quietly(assemble_coco, parts)  # what convert --merge writes
    assert merged["info"] == original["info"]
    assert merged["licenses"] == [*original["licenses"], another_license]
