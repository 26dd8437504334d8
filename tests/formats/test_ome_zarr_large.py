"""OME-Zarr label groups larger than memory: opened as ChunkedLabels over the group's own
arrays, streamed into new groups, saved in place chunk by chunk (and what a stopped save
leaves), read back by ome-zarr-py and by the plugin."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import zarr
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.io import parse_url
from ome_zarr.reader import Label, Reader

from napari_segtool.formats import registry
from napari_segtool.formats.ome_zarr import OmeZarrError, in_place
from napari_segtool.formats.ome_zarr import reader as ome_reader
from napari_segtool.formats.ome_zarr.labels import STORE_SOURCE
from napari_segtool.formats.ome_zarr.store import multiscale_paths
from napari_segtool.formats.result import ImageItem, LabelsItem
from napari_segtool.model.chunked_labels import ChunkedLabels
from tests.coco_samples import annotated_image
from tests.ome_zarr_samples import LARGE_CHUNK, LARGE_SIDE, image_store, large_store

FORMATS = {"0.4": FormatV04(), "0.5": FormatV05()}
#: past the reader's threshold (4096 x 4096 pixels a plane) with 1024 x 1024 chunks
SIDE, CHUNK = LARGE_SIDE, LARGE_CHUNK
ENTRY = registry.get("ome-zarr")


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def _image_store(path, shape=(SIDE, SIDE), version="0.5", chunk=CHUNK):
    return image_store(path, shape, version, chunk)


def _saved_store(tmp_path, version="0.5"):
    store = tmp_path / "large.ome.zarr"
    document, placed, result = large_store(store, version)
    return store, document, placed, result


def _same_document(read, document) -> None:
    assert read.ontology.to_dict() == document.ontology.to_dict()
    assert read.image_answers == document.image_answers
    assert {k: i.to_dict() for k, i in read.instances.items()} == {
        k: i.to_dict() for k, i in document.instances.items()
    }


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_a_large_group_opens_as_chunked_labels_over_its_own_arrays(tmp_path, version):
    store, document, placed, written = _saved_store(tmp_path, version)
    assert written.details[0].in_place is False  # a new group: streamed whole
    (item,) = _quiet(ENTRY.read, store).labels
    labels = item.data
    assert isinstance(labels, ChunkedLabels)
    assert labels.shape == (SIDE, SIDE) and labels.chunks == (CHUNK, CHUNK)
    assert labels.written_chunks() == []  # nothing read up front, nothing held
    base = in_place.base_of(labels)
    group = store / "labels" / "seg"
    paths = multiscale_paths(group, FORMATS[version].zarr_format)
    assert [in_place.array_folder(a) for a in base] == [(group / p).resolve() for p in paths]
    assert labels.level_shapes == [tuple(a.shape) for a in base]
    for (y, x), pixels in placed.items():
        window = (slice(y, y + pixels.shape[0]), slice(x, x + pixels.shape[1]))
        np.testing.assert_array_equal(labels[window], pixels)
    assert labels[0:1000, 0:1000].max() == 0
    _same_document(item.document, document)
    assert item.document.source[STORE_SOURCE]["label_group"] == "seg"


def test_a_small_group_still_opens_in_memory_and_chunked_can_be_asked_for(tmp_path):
    store = _image_store(tmp_path / "small.ome.zarr", shape=(300, 400), chunk=128)
    small, document = annotated_image()
    pixels = np.zeros((300, 400), np.uint16)
    pixels[10:70, 20:100] = small
    _quiet(ENTRY.write, store, [LabelsItem(pixels, document, "seg")])
    (item,) = _quiet(ENTRY.read, store).labels
    assert isinstance(item.data, np.ndarray)
    (item,) = _quiet(ENTRY.read, store, chunked=True).labels
    assert isinstance(item.data, ChunkedLabels)
    np.testing.assert_array_equal(item.data[:, :], pixels)
    assert ome_reader.is_large((SIDE, SIDE), np.dtype(np.uint32))
    assert not ome_reader.is_large((4096, 4096), np.dtype(np.uint32))


def _group_files(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in ("zarr.json", ".zattrs", ".zarray", ".zgroup")
    }


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_chunked_labels_stream_into_the_same_chunk_files_as_numpy_labels(tmp_path, version):
    shape = (700, 900)
    small, document = annotated_image()
    pixels = np.zeros(shape, np.uint32)
    pixels[240:300, 230:310] = small
    pixels[650:700, 850:900] = small[:50, :50]
    chunked = ChunkedLabels.create(shape, chunks=(256, 256))
    chunked.write((slice(None), slice(None)), pixels)
    stores = []
    for name, data in (("numpy", pixels), ("chunked", chunked)):
        store = _image_store(tmp_path / f"{name}.ome.zarr", shape, version, chunk=256)
        _quiet(ENTRY.write, store, [LabelsItem(data, document, "seg")])
        stores.append(store / "labels" / "seg")
    numpy_files, chunked_files = (_group_files(folder) for folder in stores)
    assert numpy_files and numpy_files == chunked_files
    first, second = (zarr.open_group(str(folder), mode="r").attrs.asdict() for folder in stores)
    assert first == second


def _chunks_under(y, x, side=40):
    rows = range(y // CHUNK, (y + side - 1) // CHUNK + 1)
    cols = range(x // CHUNK, (x + side - 1) // CHUNK + 1)
    return {(r, c) for r in rows for c in cols}


def _chunk_parts(y, x, side=40):
    """The parts of the stroke box at ``(y, x)`` that lie in one chunk each (local slices)."""
    cuts_y = sorted({0, side, *(c * CHUNK - y for c in range(1, SIDE // CHUNK + 1))})
    cuts_x = sorted({0, side, *(c * CHUNK - x for c in range(1, SIDE // CHUNK + 1))})
    cuts_y = [c for c in cuts_y if 0 <= c <= side]
    cuts_x = [c for c in cuts_x if 0 <= c <= side]
    return [
        (slice(a, b), slice(c, d))
        for a, b in itertools.pairwise(cuts_y)
        for c, d in itertools.pairwise(cuts_x)
    ]


def _paint(labels, strokes):
    for y, x, value in strokes:
        labels.write((slice(y, y + 40), slice(x, x + 40)), value)


#: (row, column, label value): two inside one chunk, one across four chunks, one erasing
STROKES = [(300, 300, 2), (2100, 4200, 9), (CHUNK * 3 - 20, CHUNK * 2 - 20, 5), (1010, 2040, 0)]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_painting_and_saving_in_place_writes_only_the_changed_chunks(tmp_path, version):
    store, document, placed, _ = _saved_store(tmp_path, version)
    (item,) = _quiet(ENTRY.read, store).labels
    labels = item.data
    _paint(labels, STROKES)
    item.document.instances[2].answers.clear()
    expected = {k: labels.dirty_chunks(level=k) for k in range(len(labels.levels))}
    assert expected[0] == set().union(*(_chunks_under(y, x) for y, x, _ in STROKES))
    before = {p: p.stat().st_mtime_ns for p in (store / "labels" / "seg").rglob("*") if p.is_file()}
    result = _quiet(ENTRY.write, store, [item])
    (saved,) = result.details
    assert saved.in_place is True
    assert saved.chunks_written == sum(len(chunks) for chunks in expected.values())
    assert "changed chunk(s) written" in result.summary
    assert all(not labels.dirty_chunks(level=k) for k in expected)  # saved
    # the group holds them now: memory keeps no saved chunk, the same object reads them back
    assert all(not labels.written_chunks(level=k) for k in expected)
    for y, x, value in STROKES:
        assert labels[y + 20, x + 20] == value
    changed = [p for p, t in before.items() if not p.exists() or p.stat().st_mtime_ns != t]
    # of the files there before, only changed chunks and the group's metadata were touched
    chunk_files = [p for p in changed if p.name not in in_place.METADATA_KEYS]
    assert 0 < len(chunk_files) <= saved.chunks_written
    assert {p.name for p in changed if p.name in in_place.METADATA_KEYS} <= {
        "zarr.json",
        ".zattrs",
        ".zgroup",  # zarr v2 writes it along with the attributes (same content)
    }
    assert all(
        p.parent != store / "labels" / "seg" or p.name in in_place.METADATA_KEYS for p in changed
    )
    assert not list((store / "labels").rglob("*.tmp"))

    truth = np.zeros((SIDE, SIDE), np.uint32)
    for (y, x), pixels in placed.items():
        truth[y : y + pixels.shape[0], x : x + pixels.shape[1]] = pixels
    for y, x, value in STROKES:
        truth[y : y + 40, x : x + 40] = value
    (reopened,) = _quiet(ENTRY.read, store).labels
    for y, x in [(0, 0), (1000, 2000), (2048, 4096), (2 * CHUNK, CHUNK), (5 * CHUNK, 5 * CHUNK)]:
        window = (slice(y, y + CHUNK), slice(x, x + CHUNK))
        np.testing.assert_array_equal(reopened.data[window], truth[window])
    _same_document(reopened.document, item.document)
    assert reopened.document.instances[2].answers == {}
    # every level of the pyramid agrees with level 0 by the nearest-neighbour rule
    for k, level in enumerate(reopened.data.levels[1:], start=1):
        step = SIDE // level.shape[0] if SIDE % level.shape[0] == 0 else None
        rows = (np.arange(level.shape[0]) * SIDE) // level.shape[0]
        cols = (np.arange(level.shape[1]) * SIDE) // level.shape[1]
        np.testing.assert_array_equal(level[:, :], truth[np.ix_(rows, cols)], err_msg=f"{k} {step}")

    # ome-zarr-py reads the same pixels and the same properties
    nodes = _quiet(lambda: list(Reader(parse_url(str(store), mode="r"))()))
    (node,) = [n for n in nodes if any(isinstance(s, Label) for s in n.specs)]
    region = (slice(2 * CHUNK - 64, 2 * CHUNK + 64), slice(4096 - 64, 4096 + 300))
    np.testing.assert_array_equal(np.asarray(node.data[0][region]), truth[region])
    properties = node.metadata["properties"]
    assert {v: p["class_schema_id"] for v, p in properties.items()} == {
        i: inst.schema_id for i, inst in item.document.instances.items()
    }
    assert properties[2]["answers"] == {} and properties[1]["answers"]


def test_a_save_stopped_after_some_chunks_leaves_a_readable_group(tmp_path, monkeypatch):
    store, document, placed, _ = _saved_store(tmp_path)
    (item,) = _quiet(ENTRY.read, store).labels
    labels = item.data
    old = {(y, x): labels[y : y + 40, x : x + 40].copy() for y, x, _ in STROKES}
    _paint(labels, STROKES)
    item.document.instances[5].answers.clear()
    written = []
    original = in_place.AtomicLocalStore._put_atomic

    def failing(self, key, value):
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        original(self, key, value)
        written.append(key)

    monkeypatch.setattr(in_place.AtomicLocalStore, "_put_atomic", failing)
    with pytest.raises(OSError, match="No space"):
        _quiet(ENTRY.write, store, [item])
    assert labels.dirty_chunks()  # not marked saved: the next save writes them all again

    (stopped,) = _quiet(ENTRY.read, store).labels  # the group opens
    for y, x, value in STROKES:
        pixels = stopped.data[y : y + 40, x : x + 40]
        # each chunk old or new, never a torn file
        for part in _chunk_parts(y, x):
            assert np.all(pixels[part] == value) or np.array_equal(pixels[part], old[(y, x)][part])
    # the metadata is written last: still the previous save's
    assert stopped.document.instances[5].answers == document.instances[5].answers != {}

    monkeypatch.setattr(in_place.AtomicLocalStore, "_put_atomic", original)
    result = _quiet(ENTRY.write, store, [item])
    assert result.details[0].in_place
    (again,) = _quiet(ENTRY.read, store).labels
    for y, x, value in STROKES:
        np.testing.assert_array_equal(again.data[y : y + 40, x : x + 40], value)
    assert again.document.instances[5].answers == {}


def test_values_the_group_cannot_hold_are_refused_before_writing(tmp_path):
    store = _image_store(tmp_path / "bytes.ome.zarr")
    small, document = annotated_image()
    narrow = ChunkedLabels.create((SIDE, SIDE), chunks=(CHUNK, CHUNK), dtype=np.uint8)
    narrow.write((slice(0, 60), slice(0, 80)), small.astype(np.uint8))
    _quiet(ENTRY.write, store, [LabelsItem(narrow, document, "seg")])
    assert zarr.open_array(str(store / "labels" / "seg" / "s0"), mode="r").dtype == np.uint8
    (item,) = _quiet(ENTRY.read, store).labels
    assert item.data.dtype == np.uint16  # room for more instances than 255
    item.data.write((slice(3000, 3010), slice(3000, 3010)), 300)
    files = _group_files(store / "labels" / "seg")
    with pytest.raises(OmeZarrError, match=r"stores uint8.*label value 300.*nothing was written"):
        _quiet(ENTRY.write, store, [item])
    assert _group_files(store / "labels" / "seg") == files


def test_chunked_labels_saved_into_another_store_are_streamed_whole(tmp_path):
    store, document, placed, _ = _saved_store(tmp_path)
    (item,) = _quiet(ENTRY.read, store).labels
    item.data.write((slice(10, 20), slice(10, 20)), 5)
    other = _image_store(tmp_path / "other.ome.zarr")
    moved = LabelsItem(item.data, item.document, "seg")
    item.document.source.pop(STORE_SOURCE)
    (written,) = _quiet(ENTRY.write, other, [moved]).details
    assert written.in_place is False
    (copy,) = _quiet(ENTRY.read, other).labels
    for (y, x), pixels in placed.items():
        window = (slice(y, y + pixels.shape[0]), slice(x, x + pixels.shape[1]))
        np.testing.assert_array_equal(copy.data[window], item.data[window])
    np.testing.assert_array_equal(copy.data[10:20, 10:20], 5)
    # like Save As: the labels now read from the store saved to, and hold nothing in memory
    assert not item.data.dirty_chunks() and not item.data.written_chunks()
    assert in_place.is_read_from(item.data, other / "labels" / "seg", 3)
    np.testing.assert_array_equal(item.data[10:20, 10:20], 5)
    # the next save there writes only the stroke made since, in place
    item.data.write((slice(30, 40), slice(30, 40)), 9)
    (again,) = _quiet(ENTRY.write, other, [moved]).details
    assert again.in_place and again.chunks_written == len(item.data.levels)
    (first,) = _quiet(ENTRY.read, store).labels
    assert first.data[15, 15] == 0  # the group read first is left as it was


def test_a_group_the_labels_read_from_is_not_rewritten_under_them(tmp_path):
    store, document, placed, _ = _saved_store(tmp_path)
    group = store / "labels" / "seg"
    (first,) = multiscale_paths(group, 3)[:1]
    level0 = zarr.open_array(str(group / first), mode="r")
    over_level0 = ChunkedLabels.create(level0.shape, base=[level0])  # its own pyramid
    over_level0.write((slice(0, 10), slice(0, 10)), 5)
    files = _group_files(group)
    with pytest.raises(OmeZarrError, match="read their unchanged pixels from this group"):
        _quiet(ENTRY.write, store, [LabelsItem(over_level0, document, "seg")])
    assert _group_files(group) == files


def test_chunked_labels_saved_as_a_new_store_stream_with_its_image(tmp_path):
    store, document, placed, _ = _saved_store(tmp_path)
    result = _quiet(ENTRY.read, store)
    (item,) = result.labels
    item.data.write((slice(4000, 4010), slice(10, 20)), 2)
    item.document.source.pop(STORE_SOURCE)
    (image,) = result.images
    level0 = ImageItem(image.data[0], image.name)
    copy = tmp_path / "copy.ome.zarr"
    (written,) = _quiet(ENTRY.write, copy, [item], [level0]).details
    assert written.in_place is False and written.chunks_written > 0
    reread = _quiet(ENTRY.read, copy)
    (labels,) = reread.labels
    assert isinstance(labels.data, ChunkedLabels)
    np.testing.assert_array_equal(labels.data[4000:4010, 10:20], 2)
    for (y, x), pixels in placed.items():
        window = (slice(y, y + pixels.shape[0]), slice(x, x + pixels.shape[1]))
        np.testing.assert_array_equal(labels.data[window], pixels)
    _same_document(labels.document, item.document)


def test_a_chunk_painted_while_saving_stays_unsaved(tmp_path, monkeypatch):
    store, document, placed, _ = _saved_store(tmp_path)
    (item,) = _quiet(ENTRY.read, store).labels
    labels = item.data
    labels.write((slice(10, 20), slice(10, 20)), 2)
    original = in_place.AtomicLocalStore._put_atomic
    painted = []

    def painting(self, key, value):  # a stroke lands while the save writes its chunks
        if not painted:
            labels.write((slice(5000, 5010), slice(10, 20)), 5)
            painted.append(key)
        original(self, key, value)

    monkeypatch.setattr(in_place.AtomicLocalStore, "_put_atomic", painting)
    _quiet(ENTRY.write, store, [item])
    assert labels.dirty_chunks() == {(5000 // CHUNK, 0)}
    monkeypatch.setattr(in_place.AtomicLocalStore, "_put_atomic", original)
    (group,) = _quiet(ENTRY.write, store, [item]).details
    assert group.in_place and not labels.dirty_chunks()
    (reopened,) = _quiet(ENTRY.read, store).labels
    np.testing.assert_array_equal(reopened.data[5000:5010, 10:20], 5)
    np.testing.assert_array_equal(reopened.data[10:20, 10:20], 2)
