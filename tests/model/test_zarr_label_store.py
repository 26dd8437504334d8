"""ChunkedLabelStore gives exactly NumpyLabelStore's results, a chunk at a time."""

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from napari_segtool.model import zarr_label_store as store_module
from napari_segtool.model.chunked_labels import ChunkedLabels
from napari_segtool.model.label_store import LabelStore, NumpyLabelStore, label_store
from napari_segtool.model.zarr_label_store import ChunkedLabelStore
from tests.memory import traced_peak

DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int32, np.int64]


@st.composite
def chunked_cases(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    info = np.iinfo(dtype)
    pool = [0, 0, 0, 1, 2, 3]
    if draw(st.booleans()):  # huge and negative ids: the hashed numbering
        pool += [int(info.max), int(info.max) - 1, int(info.max) // 3]
        if info.min < 0:
            pool += [-1, int(info.min)]
    ndim = draw(st.integers(2, 4))
    shape = tuple(draw(st.integers(0, 9)) for _ in range(ndim))
    chunks = tuple(draw(st.integers(1, 5)) for _ in range(ndim))
    labels = draw(arrays(dtype, shape, elements=st.sampled_from(pool)))
    if labels.size and draw(st.booleans()):  # some chunks all zero (never written / not stored)
        labels[tuple(slice(0, c) for c in chunks)] = 0
    return labels, chunks, draw(st.sampled_from(["chunked", "zarr", "zarr2", "sharded"]))


def make_array(labels: np.ndarray, chunks: tuple[int, ...], kind: str):
    """The labels as a chunked array of ``kind``, all-zero chunks left unwritten."""
    if kind == "chunked":
        array = ChunkedLabels.create(labels.shape, chunks=chunks, dtype=labels.dtype)
        for index in np.ndindex(*array.grid_shape()):
            region = array.chunk_region(index)
            if labels[region].any():
                array[region] = labels[region]
        return array
    options = {"zarr_format": 2} if kind == "zarr2" else {}
    if kind == "sharded":
        options = {"shards": tuple(2 * c for c in chunks)}
    array = zarr.create_array(
        store=zarr.storage.MemoryStore(),
        shape=labels.shape,
        chunks=chunks,
        dtype=labels.dtype,
        fill_value=0,
        **options,
    )
    if labels.size:
        array[...] = labels
    return array


def assert_same_results(store: ChunkedLabelStore, labels: np.ndarray) -> None:
    reference = NumpyLabelStore(labels)
    counts, boxes = store.counts_and_boxes()
    assert list(counts.items()) == list(reference.counts().items())  # same order
    assert list(boxes.items()) == list(reference.bounding_boxes().items())
    assert list(store.counts().items()) == list(counts.items())
    assert list(store.bounding_boxes().items()) == list(boxes.items())
    assert store.ids() == reference.ids()
    chosen = [*list(boxes)[::2], 12345, -7]
    assert store.counts(chosen) == reference.counts(chosen)
    assert store.bounding_boxes(chosen) == reference.bounding_boxes(chosen)
    assert store.counts([]) == {} and store.bounding_boxes([]) == {}
    for label_id, box in list(boxes.items())[:3]:
        np.testing.assert_array_equal(store.region(box), labels[box])
        np.testing.assert_array_equal(
            store.mask_of(label_id, box), reference.mask_of(label_id, box)
        )
        np.testing.assert_array_equal(store.mask_of(label_id), reference.mask_of(label_id))
    for wanted in ([*list(boxes)[:2]], list(boxes)[:1], [0], [0, *list(boxes)[:1]]):
        ours, theirs = store.pixels_of(wanted), reference.pixels_of(wanted)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)  # numpy's nonzero order too


@settings(max_examples=200, deadline=None)
@given(chunked_cases())
def test_chunked_store_matches_the_numpy_store(case):
    labels, chunks, kind = case
    array = make_array(labels, chunks, kind)
    store = label_store(array)
    assert isinstance(store, ChunkedLabelStore) and isinstance(store, LabelStore)
    assert (store.shape, store.dtype, store.ndim) == (labels.shape, labels.dtype, labels.ndim)
    assert_same_results(store, labels)


@settings(max_examples=60, deadline=None)
@given(chunked_cases(), st.integers(1, 6))
def test_merging_the_id_tables_often_gives_the_same_result(case, merge_at):
    labels, chunks, kind = case
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_module, "_MERGE_AT", merge_at)
        assert_same_results(ChunkedLabelStore(make_array(labels, chunks, kind)), labels)


@pytest.mark.parametrize(
    ("dtype", "ids"),
    [
        (np.int64, [2**63 - 1, -(2**63), 1, -5]),
        (np.uint64, [2**64 - 1, 2**63, 60_000_000, 1]),
    ],
)
def test_ids_at_the_ends_of_64_bit_integers_across_chunks(dtype, ids):
    labels = np.zeros((30, 40), dtype=dtype)
    for n, label_id in enumerate(ids):
        labels[n * 7 : n * 7 + 9, n : n + 25] = label_id  # each id spans several chunks
    for kind in ("chunked", "zarr"):
        assert_same_results(ChunkedLabelStore(make_array(labels, (4, 6), kind)), labels)


def test_a_base_backed_array_counts_base_and_overlay_pixels(tmp_path):
    base = zarr.create_array(str(tmp_path / "base"), shape=(50, 60), chunks=(16, 16), dtype="u2")
    base[2:20, 3:9] = 4
    base[40:50, 50:60] = 9
    labels = ChunkedLabels.create((50, 60), chunks=(10, 10), base=[base])
    labels[15:25, 0:5] = 7
    labels[45:50, 55:60] = 0
    assert_same_results(ChunkedLabelStore(labels), labels[...])


def test_a_non_zero_fill_value_is_counted_in_chunks_never_written():
    array = zarr.create_array(
        store=zarr.storage.MemoryStore(), shape=(12, 12), chunks=(5, 5), dtype="u4", fill_value=3
    )
    array[0:2, 0:2] = 8
    assert_same_results(ChunkedLabelStore(array), np.asarray(array[...]))


def test_chunks_never_written_are_skipped_with_progress_per_chunk_read():
    labels = ChunkedLabels.create((40_000, 40_000), chunks=(1024, 1024))
    labels[100:110, 200:230] = 5
    labels[30_720:31_000, 39_990:40_000] = 2**31
    calls = []
    counts, boxes = label_store(labels).counts_and_boxes(
        lambda done, total: calls.append((done, total))
    )
    assert calls == [(1, 2), (2, 2)]  # two chunks of 1,600 read
    assert counts == {5: 300, 2**31: 2_800}
    assert boxes == {
        5: (slice(100, 110), slice(200, 230)),
        2**31: (slice(30_720, 31_000), slice(39_990, 40_000)),
    }


def test_blocks_not_stored_in_a_zarr_array_are_never_read():
    for options in ({}, {"shards": (4096, 4096)}, {"zarr_format": 2}):
        array = zarr.create_array(
            store=zarr.storage.MemoryStore(),
            shape=(40_000, 40_000),
            chunks=(1024, 1024),
            dtype="u4",
            **options,
        )
        array[5000:5010, 0:3] = 4
        calls = []
        store = ChunkedLabelStore(array)
        counts, boxes = store.counts_and_boxes(lambda *c, seen=calls: seen.append(c))
        read = 16 if "shards" in options else 1  # the inner chunks of the one stored shard
        assert calls[-1] == (read, read), options
        assert counts == {4: 30} and boxes == {4: (slice(5000, 5010), slice(0, 3))}


def test_a_large_zarr_array_is_read_in_one_chunk_of_memory():
    array = zarr.create_array(
        store=zarr.storage.MemoryStore(), shape=(4096, 4096), chunks=(512, 512), dtype="u4"
    )
    rng = np.random.default_rng(0)
    for n in range(1, 200):
        row, col = rng.integers(0, 4000, 2)
        array[row : row + 90, col : col + 90] = n * 1_000_003  # sparse ids: hashed per chunk
    counts, peak = traced_peak(lambda: ChunkedLabelStore(array).counts_and_boxes()[0])
    # the numpy store's cost for one chunk held in memory (the chunk itself included)
    _, one_chunk = traced_peak(lambda: _numpy_counts_and_boxes(np.asarray(array[0:512, 512:1024])))
    assert peak < 1.5 * one_chunk  # the array is 64 times bigger
    assert sum(counts.values()) == np.count_nonzero(array[...])


def _numpy_counts_and_boxes(pixels):
    store = NumpyLabelStore(pixels)
    return store.counts(), store.bounding_boxes()


def test_accepts_only_chunked_arrays():
    assert ChunkedLabelStore.accepts(ChunkedLabels.create((4, 4)))
    assert ChunkedLabelStore.accepts(zarr.zeros((4, 4), dtype="u1"))
    assert not ChunkedLabelStore.accepts(np.zeros((4, 4)))
    assert isinstance(label_store(np.zeros((4, 4), np.uint8)), NumpyLabelStore)


def test_float_zarr_arrays_are_refused():
    with pytest.raises(ValueError, match="expected integer labels, got float32"):
        label_store(zarr.zeros((4, 4), dtype="f4"))
