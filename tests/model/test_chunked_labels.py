"""ChunkedLabels: a chunked copy-on-write label array with a pyramid, checked against numpy."""

import itertools
import shutil
import threading

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_segtool.formats.ome_zarr.writer import nearest_level
from napari_segtool.model.chunked_labels import (
    ChunkedLabels,
    OverlayError,
    TooLargeForMemory,
    default_level_shapes,
)
from tests.memory import traced_peak


def touched_chunks(box, chunks):
    """The chunk indices a box (slices) overlaps."""
    ranges = [range(b.start // c, -(-b.stop // c)) for b, c in zip(box, chunks, strict=True)]
    return set(itertools.product(*ranges))


def assert_pyramid(labels, reference):
    for level in labels.levels:
        expected = nearest_level(reference, level.shape)
        np.testing.assert_array_equal(level[...], expected)


@st.composite
def writes(draw, max_ndim=4, max_side=23, min_chunk=1):
    ndim = draw(st.integers(2, max_ndim))
    shape = tuple(draw(st.integers(1, max_side)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(min_chunk, 9)) for _ in range(ndim))
    boxes = []
    for _ in range(draw(st.integers(1, 6))):
        box = []
        for n in shape:
            start = draw(st.integers(0, n - 1))
            box.append(slice(start, draw(st.integers(start + 1, n))))
        boxes.append(tuple(box))
    return shape, chunks, boxes, draw(st.integers(0, 2**31))


@settings(max_examples=150, deadline=None)
@given(writes())
def test_random_writes_match_numpy_and_keep_the_pyramid_nearest(case):
    shape, chunks, boxes, seed = case
    rng = np.random.default_rng(seed)
    labels = ChunkedLabels.create(
        shape, chunks=chunks, level_shapes=default_level_shapes(shape, (4, 4))
    )
    reference = np.zeros(shape, dtype=np.uint32)
    expected_chunks = set()
    for n, box in enumerate(boxes):
        size = tuple(b.stop - b.start for b in box)
        values = n + 1 if n % 2 else rng.integers(0, 5, size=size)  # scalars broadcast
        labels[box] = values
        reference[box] = values
        expected_chunks |= touched_chunks(box, chunks)
    np.testing.assert_array_equal(labels[...], reference)
    assert set(labels.written_chunks()) == expected_chunks  # only the touched chunks exist
    assert labels.dirty_chunks() == expected_chunks
    assert labels.changed_chunk_count == len(expected_chunks)
    assert_pyramid(labels, reference)


@settings(max_examples=60, deadline=None)
@given(writes(max_ndim=3, max_side=14, min_chunk=2), st.integers(2, 9), st.booleans())
def test_random_writes_over_a_zarr_base_match_numpy(case, base_chunk, whole_pyramid):
    shape, chunks, boxes, seed = case
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 3, size=shape).astype(np.uint16)
    pixels[tuple(slice(0, (n + 1) // 2) for n in shape)] = 0  # some base blocks not stored
    level_shapes = default_level_shapes(shape, (4, 4))
    base = []
    for level_shape in level_shapes if whole_pyramid else level_shapes[:1]:
        array = zarr.create_array(
            store=zarr.storage.MemoryStore(),
            shape=level_shape,
            chunks=(base_chunk,) * len(shape),
            dtype=np.uint16,
        )
        array[...] = nearest_level(pixels, level_shape)
        base.append(array)
    before = [np.asarray(level[...]) for level in base]
    labels = ChunkedLabels.create(shape, chunks=chunks, level_shapes=level_shapes, base=base)
    reference = pixels.copy()
    for n, box in enumerate(boxes):
        labels[box] = n + 7
        reference[box] = n + 7
    np.testing.assert_array_equal(labels[...], reference)
    assert_pyramid(labels, reference)
    for level, old in zip(base, before, strict=True):
        np.testing.assert_array_equal(level[...], old)
    for region, block in labels.iter_chunks():
        np.testing.assert_array_equal(block, reference[region])
    assert {
        index
        for index in np.ndindex(*labels.grid_shape())
        if reference[labels.chunk_region(index)].any()
    } <= set(labels.stored_chunks())


def test_a_write_touches_only_the_chunks_of_its_box_at_every_level():
    labels = ChunkedLabels.create((64, 64), chunks=(8, 8))
    assert labels.level_shapes == [(64, 64), (32, 32), (16, 16), (8, 8)]
    labels.write((slice(16, 18), slice(30, 34)), 5)
    assert labels.written_chunks() == [(2, 3), (2, 4)]
    assert labels.written_chunks(1) == [(1, 1), (1, 2)]  # level pixels (8, 15..16)
    assert labels.written_chunks(2) == [(0, 1)]  # (4, 8)
    assert labels.written_chunks(3) == [(0, 0)]  # (2, 4)
    labels.write((slice(18, 19), slice(0, 3)), 6)  # row 18 shows on level 1 only (as row 9)
    assert labels.written_chunks(1) == [(1, 0), (1, 1), (1, 2)]
    assert labels.written_chunks(2) == [(0, 1)] and labels.written_chunks(3) == [(0, 0)]


@pytest.mark.parametrize(
    "key",
    [
        (slice(None),),
        Ellipsis,
        (3,),
        (-1, slice(2, 9)),
        (slice(2, 17, 3), slice(None, None, -2)),
        (Ellipsis, 4),
        (np.int64(5), Ellipsis, slice(-7, None)),
        (slice(9, 2, -1), slice(5, 5)),
        (slice(30, 40), slice(None)),
    ],
)
def test_basic_indexing_reads_like_numpy(key):
    rng = np.random.default_rng(1)
    reference = rng.integers(0, 9, size=(19, 21), dtype=np.uint32)
    labels = ChunkedLabels.create(reference.shape, chunks=(4, 5))
    labels[...] = reference
    np.testing.assert_array_equal(labels[key], reference[key])
    for level in labels.levels[1:]:
        expected = nearest_level(reference, level.shape)
        try:
            wanted = expected[key]
        except IndexError:
            with pytest.raises(IndexError):
                level[key]
            continue
        np.testing.assert_array_equal(level[key], wanted)


def test_stepped_and_reversed_writes_like_numpy():
    labels = ChunkedLabels.create((20, 20), chunks=(3, 7))
    reference = np.zeros((20, 20), np.uint32)
    for key, value in [
        ((slice(1, 19, 4), slice(None, None, -3)), np.arange(7, dtype=np.uint32)),
        ((5, Ellipsis), 9),
        ((slice(None), -2), np.arange(20)),
    ]:
        labels[key] = value
        reference[key] = value
    np.testing.assert_array_equal(labels[...], reference)
    assert_pyramid(labels, reference)


def test_bad_keys_are_refused_clearly():
    labels = ChunkedLabels.create((4, 4), chunks=(2, 2))
    with pytest.raises(IndexError, match="out of bounds"):
        labels[4]
    with pytest.raises(IndexError, match="too many indices"):
        labels[0, 0, 0]
    with pytest.raises(IndexError, match="basic indexing"):
        labels[np.array([0, 1])]
    with pytest.raises(TypeError, match="cannot be written"):
        labels.levels[1][0, 0] = 1


def test_every_level_has_the_array_attributes_napari_reads():
    labels = ChunkedLabels.create((3, 50, 70), chunks=(1, 16, 16), dtype=np.uint16)
    assert [level.shape for level in labels.levels] == [
        (3, 50, 70),
        (3, 25, 35),
        (3, 13, 18),
        (3, 7, 9),
    ]
    for level in labels.levels:
        assert level.dtype == np.uint16 and level.ndim == 3
        assert level.size == np.prod(level.shape)
        assert all(c <= s for c, s in zip(level.chunks, level.shape, strict=True))
        assert np.asarray(level[0, :, :]).shape == level.shape[1:]
        assert np.asarray(level).shape == level.shape


def test_a_huge_array_allocates_nothing_until_written():
    labels, peak = traced_peak(lambda: ChunkedLabels.create((40_000, 40_000), chunks=(1024, 1024)))
    assert peak < 2**20 and labels.stored_chunk_count() == 0  # not the 6 GB of its pixels
    tile, peak = traced_peak(lambda: labels.levels[3][100:356, 200:456])
    assert tile.shape == (256, 256) and not tile.any() and peak < 2**20
    assert labels.stored_chunk_count() == 0  # reading stores nothing
    _, peak = traced_peak(lambda: labels.__setitem__((slice(19_968, 19_978), slice(0, 15)), 3))
    # one 4 MB chunk per level is written, and nothing else
    chunk = 1024 * 1024 * 4
    assert peak < (len(labels.levels) + 1) * chunk
    assert labels.written_chunks() == [(19, 0)]
    assert [len(labels.written_chunks(k)) for k in range(len(labels.levels))] == [1] * 7
    assert labels.levels[-1].shape == (625, 625)
    assert (
        labels[19_970, 10] == 3
        and labels.levels[1][9_986, 5] == 3
        and labels.levels[6][312, 0] == 3
    )


def test_reading_a_huge_array_whole_is_refused_with_a_clear_error():
    labels = ChunkedLabels.create((40_000, 40_000), chunks=(1024, 1024))
    with pytest.raises(TooLargeForMemory, match=r"40000 x 40000 uint32 .* too large .*iter_chunks"):
        np.asarray(labels)
    assert np.asarray(labels.levels[-1]).shape == labels.levels[-1].shape  # small levels read fine
    labels.array_limit = 10
    with pytest.raises(MemoryError):
        np.asarray(labels.levels[-1])


def test_mark_saved_forgets_dirty_chunks_of_every_level():
    labels = ChunkedLabels.create((32, 32), chunks=(8, 8))
    labels[0:2, 0:2] = 1
    assert labels.dirty_chunks() == {(0, 0)} and labels.dirty_chunks(1) == {(0, 0)}
    labels.mark_saved()
    assert labels.changed_chunk_count == 0 and labels.dirty_chunks(2) == set()
    labels[20, 20] = 2
    assert labels.dirty_chunks() == {(2, 2)}
    assert labels.written_chunks() == [(0, 0), (2, 2)]  # saved chunks stay held


def test_chunks_written_during_a_save_stay_dirty():
    labels = ChunkedLabels.create((32, 32), chunks=(8, 8))
    labels[0, 0] = 1
    labels[20, 20] = 2
    point = labels.save_point()  # a save starts, reading these pixels
    labels[0, 2] = 3  # and the user paints meanwhile
    labels.mark_saved(point)
    assert labels.dirty_chunks() == {(0, 0)}  # written after the save read it
    assert labels.dirty_chunks(1) == {(0, 0)}
    labels.mark_saved(labels.save_point())
    assert labels.changed_chunk_count == 0


def test_from_array_writes_only_chunks_holding_labels():
    pixels = np.zeros((3, 40, 40), dtype=np.uint16)
    pixels[1, 30:35, 2:4] = 9
    labels = ChunkedLabels.from_array(pixels, chunks=(1, 16, 16))
    assert labels.dtype == np.uint16 and labels.written_chunks() == [(1, 1, 0), (1, 2, 0)]
    np.testing.assert_array_equal(labels[...], pixels)
    assert_pyramid(labels, pixels)
    dirty = sorted(labels.dirty_chunks())
    assert [region for region, _ in labels.iter_chunks(dirty)] == [
        labels.chunk_region(index) for index in dirty
    ]
    assert [index for index in labels.written_chunks(1)] == sorted(labels.dirty_chunks(1))
    level_chunks = list(labels.iter_chunks(labels.dirty_chunks(1), level=1))
    for region, block in level_chunks:
        np.testing.assert_array_equal(block, labels.levels[1][region])


def base_store(tmp_path, shape=(40, 50), chunks=(16, 16)):
    """A zarr pyramid (nearest levels) with two objects, as an OME-Zarr label group holds."""
    rng = np.random.default_rng(2)
    pixels = np.zeros(shape, dtype=np.uint16)
    pixels[3:9, 4:12] = 7
    pixels[30:38, 40:47] = rng.integers(1, 4, size=(8, 7))
    levels = []
    for k, level_shape in enumerate([shape, (20, 25), (10, 13)]):
        array = zarr.create_array(
            str(tmp_path / f"base{k}"), shape=level_shape, chunks=chunks, dtype=np.uint16
        )
        array[...] = nearest_level(pixels, level_shape)
        levels.append(zarr.open_array(str(tmp_path / f"base{k}"), mode="r"))
    return pixels, levels


def test_the_base_shows_through_and_is_never_written(tmp_path):
    pixels, base = base_store(tmp_path)
    before = [np.asarray(level[...]).copy() for level in base]
    labels = ChunkedLabels.create(pixels.shape, chunks=(8, 8), base=base)
    assert labels.dtype == np.uint16 and labels.level_shapes == [(40, 50), (20, 25), (10, 13)]
    np.testing.assert_array_equal(labels[...], pixels)
    # the base's stored blocks (16 x 16) seen as our 8 x 8 chunks; the rest is never read
    assert labels.stored_chunks() == sorted(
        touched_chunks((slice(0, 16), slice(0, 16)), (8, 8))
        | touched_chunks((slice(16, 40), slice(32, 48)), (8, 8))
    )
    labels[5:7, 0:50] = 2
    labels[30:40, 40:50] = 0
    pixels[5:7, 0:50] = 2
    pixels[30:40, 40:50] = 0
    np.testing.assert_array_equal(labels[...], pixels)
    assert_pyramid(labels, pixels)
    for level, old in zip(base, before, strict=True):
        np.testing.assert_array_equal(level[...], old)
    # the erased chunks are yielded (a writer must see the erasure), zeros included
    chunks = dict((tuple(r.start for r in region), block) for region, block in labels.iter_chunks())
    assert not chunks[(32, 40)].any()


def test_a_base_without_a_pyramid_gives_levels_from_its_level_0(tmp_path):
    pixels, base = base_store(tmp_path)
    labels = ChunkedLabels.create(
        pixels.shape, chunks=(8, 8), level_shapes=[(40, 50), (20, 25), (7, 9)], base=base[:1]
    )
    labels[0:4, 0:4] = 9
    pixels[0:4, 0:4] = 9
    assert_pyramid(labels, pixels)


def test_iter_chunks_streams_only_stored_chunks():
    labels = ChunkedLabels.create((30, 30), chunks=(10, 10))
    assert list(labels.iter_chunks()) == []
    labels[12:14, 25:30] = 4
    labels[0, 0] = 1
    found = [(region, block.copy()) for region, block in labels.iter_chunks()]
    assert [region for region, _ in found] == [
        (slice(0, 10), slice(0, 10)),
        (slice(10, 20), slice(20, 30)),
    ]
    for region, block in found:
        np.testing.assert_array_equal(block, labels[region])


def test_spill_and_recover_round_trip(tmp_path):
    pixels, base = base_store(tmp_path)
    labels = ChunkedLabels.create(pixels.shape, chunks=(8, 8), base=base)
    folder = tmp_path / "overlay"
    labels[1:3, 1:3] = 5
    labels[20:30, 0:20] = 0  # an erasure over the base must survive recovery
    pixels[1:3, 1:3] = 5
    pixels[20:30, 0:20] = 0
    written = len(labels.written_chunks())
    assert labels.spill_to(folder) == written
    assert labels.spill_to(folder) == 0  # nothing changed since
    labels[39, 49] = 6
    pixels[39, 49] = 6
    assert labels.spill_to(folder) == 1  # only the chunk dirty since the last spill
    recovered = ChunkedLabels.recover(folder, base=base)
    np.testing.assert_array_equal(recovered[...], pixels)
    assert_pyramid(recovered, pixels)
    assert recovered.written_chunks() == labels.written_chunks()
    assert recovered.dirty_chunks() == labels.dirty_chunks()  # still unsaved in the real file
    assert recovered.spill_to(folder) == 0  # and already spilled
    recovered[0, 0] = 8
    assert recovered.spill_to(folder) == 1
    assert ChunkedLabels.recover(folder, base=base)[0, 0] == 8


def test_a_first_spill_stopped_between_its_renames_is_recovered(tmp_path):
    labels = ChunkedLabels.create((16, 16), chunks=(4, 4))
    folder = tmp_path / "overlay"
    labels[0, 0] = 1
    labels.spill_to(folder)
    newer = ChunkedLabels.create((16, 16), chunks=(4, 4))
    newer[5, 5] = 2
    newer.spill_to(tmp_path / "other")
    # the old overlay moved aside, the new one complete but not yet renamed in
    folder.rename(tmp_path / ".overlay.previous-0000")
    (tmp_path / "other").rename(tmp_path / ".overlay.writing-0000")
    recovered = ChunkedLabels.recover(folder)
    assert recovered[5, 5] == 2 and recovered[0, 0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overlay"]


def test_a_removed_overlay_folder_is_written_again_whole(tmp_path):
    labels = ChunkedLabels.create((16, 16), chunks=(4, 4))
    labels[0, 0] = 1
    labels.spill_to(tmp_path / "overlay")
    shutil.rmtree(tmp_path / "overlay")
    labels[9, 9] = 2
    assert labels.spill_to(tmp_path / "overlay") == 2
    recovered = ChunkedLabels.recover(tmp_path / "overlay")
    assert recovered[0, 0] == 1 and recovered[9, 9] == 2


def test_spilling_never_replaces_a_folder_that_is_not_an_overlay(tmp_path):
    labels = ChunkedLabels.create((8, 8), chunks=(4, 4))
    labels[0, 0] = 1
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(OverlayError, match="precious: exists and is not a label overlay"):
        labels.spill_to(precious)
    assert (precious / "notes.txt").read_text() == "keep me"
    with pytest.raises(OverlayError, match="precious: not a label overlay"):
        ChunkedLabels.recover(precious)
    assert labels.spill_to(tmp_path / "overlay") == 1  # the failed spill is retried elsewhere


def test_a_background_spill_never_sees_a_half_written_chunk(tmp_path):
    labels = ChunkedLabels.create((64, 64), chunks=(16, 16))
    stop = threading.Event()
    seen_bad = []

    def reader():
        while not stop.is_set():
            for region, block in labels.iter_chunks():
                if len(np.unique(block)) != 1:  # every write fills whole chunks with one value
                    seen_bad.append(region)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for value in range(1, 200):
            labels[0:64, 0:48] = value
            if value % 50 == 0:
                labels.spill_to(tmp_path / "overlay")
    finally:
        stop.set()
        thread.join()
    assert seen_bad == []
    assert ChunkedLabels.recover(tmp_path / "overlay")[0, 0] == 150


def test_spills_from_two_threads_take_turns(tmp_path):
    labels = ChunkedLabels.create((64, 64), chunks=(8, 8))
    labels[...] = 5
    errors = []

    def spill():
        try:
            labels.spill_to(tmp_path / "overlay")
        except Exception as error:  # a race would fail a rename
            errors.append(error)

    threads = [threading.Thread(target=spill) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (ChunkedLabels.recover(tmp_path / "overlay")[...] == 5).all()


def test_release_saved_drops_saved_chunks_and_keeps_those_written_since(tmp_path):
    """After an in-place save the base holds the chunks: memory keeps only what is unsaved."""
    base = zarr.create_array(
        str(tmp_path / "base"), shape=(64, 64), chunks=(16, 16), dtype=np.uint16, fill_value=0
    )
    labels = ChunkedLabels.create((64, 64), chunks=(16, 16), level_shapes=[(64, 64)], base=[base])
    labels[0:4, 0:4] = 3
    labels[20:24, 20:24] = 4
    point = labels.save_point()
    base[0:32, 0:32] = labels[0:32, 0:32]  # what an in-place save writes
    labels[40:44, 40:44] = 5  # painted while the save ran
    labels.mark_saved(point)
    assert labels.release_saved() == 2
    assert labels.written_chunks() == [(2, 2)] and labels.dirty_chunks() == {(2, 2)}
    assert labels[1, 1] == 3 and labels[21, 21] == 4 and labels[41, 41] == 5
    assert (0, 0) in labels.stored_chunks() and (1, 1) in labels.stored_chunks()
