"""Every writer on chunked labels (ChunkedLabels, read through the chunked label store box
by box) writes exactly what it writes for the same pixels as one numpy array: Labelbox v1
masks and polygons, NDJSON (per-instance and composite masks), COCO RLE and polygons, the
batch measurement table."""

from __future__ import annotations

import copy
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from napari_segtool.batch.measure import measure_labels
from napari_segtool.formats import registry
from napari_segtool.formats.labelbox_v1 import writer as v1_writer
from napari_segtool.formats.result import LabelsItem
from napari_segtool.formats.toolkit.arrays import is_chunked, label_array
from napari_segtool.model import label_store as stores
from napari_segtool.model.chunked_labels import ChunkedLabels
from tests.coco_samples import annotated_image

SHAPE = (1500, 1300)
CHUNKS = (256, 256)


def _scene():
    """Instances across chunk borders, one spanning many chunks, one in two far-apart parts."""
    small, document = annotated_image()
    pixels = np.zeros(SHAPE, np.uint32)
    pixels[230:290, 220:300] = small  # ids 1, 2, 5, 9 over the chunk corner (256, 256)
    pixels[700:1100, 500:1200] = 5  # id 5 again, over 2 x 3 chunks, with a hole
    pixels[800:900, 600:700] = 0
    pixels[50:55, 1250:1290] = 9
    pixels[1400:1450, 10:30] = 9
    pixels[1460:1470, 1200:1210] = 77  # painted, no class
    document.source.update(
        label_id="clabel0000000000000000001",
        data_row_id="cdatarow00000000000000001",
        external_id="cells.png",
        global_key="cells.png",
        created_at="2026-01-01T00:00:00.000+0000",
    )
    chunked = ChunkedLabels.create(SHAPE, chunks=CHUNKS)
    chunked.write((slice(None), slice(None)), pixels)
    chunked.array_limit = 0  # reading it whole would fail the test
    return pixels, chunked, document


@pytest.fixture
def scene():
    return _scene()


def _files(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _write_both(tmp_path, format_name, file_name, scene, **options):
    pixels, chunked, document = scene
    written = {}
    for name, data in (("numpy", pixels), ("chunked", chunked)):
        folder = tmp_path / name
        folder.mkdir()
        item = LabelsItem(data, copy.deepcopy(document), "cells segmentation")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            registry.get(format_name).write(folder / file_name, [item], **options)
        written[name] = _files(folder)
    return written["numpy"], written["chunked"]


def test_chunked_labels_are_served_by_the_chunked_store_and_never_read_whole(scene):
    pixels, chunked, _ = scene
    assert is_chunked(chunked) and not is_chunked(pixels)
    assert label_array(chunked) is chunked
    assert not isinstance(stores.label_store(chunked), stores.NumpyLabelStore)
    with pytest.raises(MemoryError):
        np.asarray(chunked)


@pytest.mark.parametrize("polygons", ["none", "alongside"])
def test_labelbox_v1_masks_and_polygons_are_the_same(tmp_path, scene, monkeypatch, polygons):
    monkeypatch.setattr(v1_writer, "_timestamp", lambda: "2026-02-03T04:05:06.000+0000")
    numpy_files, chunked_files = _write_both(
        tmp_path, "labelbox-v1", "export.json", scene, polygons=polygons
    )
    masks = [name for name in numpy_files if name.endswith(".png")]
    assert len(masks) == 4  # one full-size PNG per instance with a class
    assert numpy_files == chunked_files


@pytest.mark.parametrize("masks", ["png", "composite"])
def test_labelbox_ndjson_is_the_same(tmp_path, scene, masks):
    numpy_files, chunked_files = _write_both(
        tmp_path, "labelbox-ndjson", "import.ndjson", scene, masks=masks
    )
    assert numpy_files == chunked_files
    lines = [json.loads(line) for line in numpy_files["import.ndjson"].splitlines()]
    assert sum("mask" in line for line in lines) == 4


@pytest.mark.parametrize("segmentation", ["rle", "polygons"])
def test_coco_is_the_same(tmp_path, scene, segmentation):
    numpy_files, chunked_files = _write_both(
        tmp_path, "coco", "cells.coco.json", scene, segmentation=segmentation
    )
    first, second = (json.loads(files["cells.coco.json"]) for files in (numpy_files, chunked_files))
    for coco in (first, second):
        coco.get("info", {}).pop("date_created", None)
    assert first == second
    assert len(first["annotations"]) == 4


def test_the_batch_measurement_table_is_the_same(scene):
    pixels, chunked, document = scene
    image = np.random.default_rng(1).integers(0, 255, (*SHAPE, 3), dtype=np.uint8)
    expected = measure_labels(pixels, document, image, scale=(0.5, 0.5), unit="µm")
    found = measure_labels(chunked, document, image, scale=(0.5, 0.5), unit="µm")
    pd.testing.assert_frame_equal(found, expected)
    assert list(found["label_id"]) == [1, 2, 5, 9]
    alone = measure_labels(chunked, document)
    pd.testing.assert_frame_equal(alone, measure_labels(pixels, document))


def _stack():
    small, document = annotated_image()
    pixels = np.zeros((3, 300, 400), np.uint32)
    pixels[0, 10:70, 20:100] = small
    pixels[2, 200:260, 300:380] = small
    chunked = ChunkedLabels.create(pixels.shape, chunks=(1, 128, 128))
    chunked.write((slice(None),) * 3, pixels)
    document.source.update(
        label_id="clabel0000000000000000002", data_row_id="cdatarow00000000000000002"
    )
    return pixels, chunked, document


def _numbered_ids(data: bytes) -> str:
    found: dict[str, str] = {}
    return re.sub(
        r"c[a-z0-9]{24}", lambda m: found.setdefault(m[0], f"id{len(found)}"), data.decode()
    )


def test_a_chunked_stack_is_written_plane_by_plane_like_a_numpy_one(tmp_path, monkeypatch):
    monkeypatch.setattr(v1_writer, "_timestamp", lambda: "2026-02-03T04:05:06.000+0000")
    numpy_files, chunked_files = _write_both(tmp_path, "labelbox-v1", "export.json", _stack())
    # each plane is a data row with ids made for it: compared in order of appearance
    texts = [_numbered_ids(files.pop("export.json")) for files in (numpy_files, chunked_files)]
    assert texts[0] == texts[1] and len(json.loads(texts[0])) == 2  # the planes with instances
    assert numpy_files.keys() == chunked_files.keys()
    assert sorted(numpy_files.values()) == sorted(chunked_files.values())  # the masks


def test_a_chunked_stack_with_planes_too_large_for_memory_is_refused(tmp_path, monkeypatch):
    from napari_segtool.formats import planes

    monkeypatch.setattr(planes, "PLANE_LIMIT", 1000)
    _, chunked, document = _stack()
    with pytest.raises(ValueError, match=r"'?big stack'?: its planes are 300 x 400.*OME-Zarr"):
        registry.get("coco").write(
            tmp_path / "stack.coco.json", [LabelsItem(chunked, document, "big stack")]
        )


def test_coco_names_an_image_too_large_to_encode_beside_it(tmp_path, scene, monkeypatch):
    from napari_segtool.formats import coco_files
    from napari_segtool.formats.coco import CocoWarning
    from napari_segtool.formats.result import ImageItem

    monkeypatch.setattr(coco_files, "IMAGE_COPY_LIMIT", 1000)
    pixels, chunked, document = scene
    image = ImageItem([np.zeros(SHAPE, np.uint8), np.zeros((750, 650), np.uint8)], "cells")
    document.source.pop("external_id")
    with pytest.warns(CocoWarning, match="too large to be encoded beside the file"):
        registry.get("coco").write(
            tmp_path / "cells.coco.json", [LabelsItem(chunked, document, "cells")], [image]
        )
    assert [p.name for p in tmp_path.iterdir()] == ["cells.coco.json"]
