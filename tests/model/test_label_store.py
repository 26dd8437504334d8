"""The label store: boxes, counts and ids of any label array, checked against brute force."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from napari_segtool.model import label_store as store_module
from napari_segtool.model.label_store import (
    LabelStore,
    NumpyLabelStore,
    focus_point,
    label_store,
)

DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int64]
#: a table entry per id up to 60,000,000 would need hundreds of MB
MEMORY_LIMIT = 50 * 2**20


def reference(labels: np.ndarray) -> tuple[dict, dict]:
    """Boxes and counts the slow, obvious way: one comparison per id."""
    boxes, counts = {}, {}
    for value in np.unique(labels).tolist():
        if value == 0:
            continue
        where = np.nonzero(labels == value)
        boxes[value] = tuple(slice(int(i.min()), int(i.max()) + 1) for i in where)
        counts[value] = int(where[0].size)
    return boxes, counts


@st.composite
def label_arrays(draw, min_dims=2, max_dims=4):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    info = np.iinfo(dtype)
    # small ids (find_objects straight on the ids) mixed, or not, with huge and negative ones
    pool = [0, 0, 1, 2, 3]
    if draw(st.booleans()):
        pool += [int(info.max), int(info.max) - 1, int(info.max) // 3]
        if info.min < 0:
            pool += [-1, int(info.min)]
    shape = draw(array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=7))
    return draw(arrays(dtype, shape, elements=st.sampled_from(pool)))


@settings(max_examples=300, deadline=None)
@given(label_arrays())
def test_boxes_counts_and_ids_match_brute_force(labels):
    boxes, counts = reference(labels)
    store = label_store(labels)
    assert store.bounding_boxes() == boxes
    assert store.counts() == counts
    assert store.ids() == sorted(counts)
    assert list(store.bounding_boxes()) == sorted(boxes)  # increasing id order


@settings(max_examples=200, deadline=None)
@given(label_arrays(), st.integers(1, 9))
def test_hashing_and_counting_by_small_blocks_give_the_same_result(labels, block):
    # ids first seen in later blocks, and blocks that see few of them, merge into one numbering
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_module, "_BLOCK", block)
        store = label_store(labels)
        assert (store.bounding_boxes(), store.counts()) == reference(labels)


@settings(max_examples=150, deadline=None)
@given(label_arrays(), st.lists(st.integers(-(2**63), 2**64 - 1), max_size=4))
def test_chosen_ids_are_the_present_ones_among_them(labels, extra):
    boxes, counts = reference(labels)
    chosen = list(boxes)[::2] + extra
    store = label_store(labels)
    assert store.bounding_boxes(chosen) == {i: b for i, b in boxes.items() if i in chosen}
    assert store.counts(chosen) == {i: c for i, c in counts.items() if i in chosen}
    assert store.bounding_boxes([]) == {} and store.counts([]) == {}


@pytest.mark.parametrize("ndim", [2, 3, 4, 5])
def test_every_dimension_count_and_region(ndim):
    rng = np.random.default_rng(ndim)
    labels = rng.choice([0, 0, 0, 4, 9, 70_000], size=(5,) * ndim).astype(np.uint32)
    store = label_store(labels)
    assert (store.shape, store.dtype, store.ndim) == (labels.shape, labels.dtype, ndim)
    boxes, counts = reference(labels)
    assert store.bounding_boxes() == boxes and store.counts() == counts
    for label_id, box in store.bounding_boxes().items():
        assert len(box) == ndim
        np.testing.assert_array_equal(store.region(box), labels[box])
        np.testing.assert_array_equal(store.mask_of(label_id, box), labels[box] == label_id)
    np.testing.assert_array_equal(store.mask_of(9), labels == 9)
    np.testing.assert_array_equal(
        np.stack(store.pixels_of([4, 70_000])), np.stack(np.nonzero(np.isin(labels, [4, 70_000])))
    )
    np.testing.assert_array_equal(np.stack(store.pixels_of([9])), np.stack(np.nonzero(labels == 9)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0, 0), (0, 5), (3, 0, 4), (6, 6), (2, 3, 4, 5)])
def test_empty_and_all_zero_arrays(dtype, shape):
    store = label_store(np.zeros(shape, dtype=dtype))
    assert store.bounding_boxes() == {} and store.counts() == {} and store.ids() == []
    assert store.bounding_boxes([1, 2]) == {} and store.counts([1]) == {}
    assert all(index.size == 0 for index in store.pixels_of([1]))


def _peak_bytes(work) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dtype", [np.uint32, np.int64, np.uint64])
def test_huge_id_in_a_tiny_image_costs_next_to_nothing(dtype):
    labels = np.zeros((4, 4), dtype=dtype)
    labels[1:3, 2] = 60_000_000
    labels[3, 0] = 7
    store = label_store(labels)
    boxes, peak = _peak_bytes(store.bounding_boxes)
    assert boxes == {7: (slice(3, 4), slice(0, 1)), 60_000_000: (slice(1, 3), slice(2, 3))}
    assert peak < MEMORY_LIMIT
    counts, peak = _peak_bytes(store.counts)
    assert counts == {7: 1, 60_000_000: 2} and peak < MEMORY_LIMIT
    chosen, peak = _peak_bytes(lambda: store.bounding_boxes([60_000_000]))
    assert chosen == {60_000_000: (slice(1, 3), slice(2, 3))} and peak < MEMORY_LIMIT


@pytest.mark.parametrize(
    ("dtype", "ids"),
    [
        (np.int64, [2**63 - 1, 2**63 - 2, -(2**63), 1]),
        (np.uint64, [2**64 - 1, 2**63 - 1, 2**63, 1]),
    ],
)
def test_ids_at_the_ends_of_64_bit_integers(dtype, ids):
    labels = np.zeros((30, 40), dtype=dtype)
    for n, label_id in enumerate(ids):
        labels[n * 7 : n * 7 + 3, n : n + 5 + n] = label_id
    store = label_store(labels)
    (boxes, peak), expected = _peak_bytes(store.bounding_boxes), reference(labels)[0]
    assert boxes == expected and sorted(boxes) == sorted(ids) and peak < MEMORY_LIMIT
    assert store.counts() == {i: 3 * (5 + n) for n, i in enumerate(ids)}


def test_huge_ids_among_many_pixels_take_less_memory_than_the_labels_themselves():
    rng = np.random.default_rng(3)
    labels = rng.integers(2**40, 2**40 + 50, size=(2048, 2048)).astype(np.int64)
    labels[::2] = 0
    store = label_store(labels)
    boxes, peak = _peak_bytes(store.bounding_boxes)
    # 4 bytes a pixel of compact ids and one block's hash table (a sort-based
    # numbering, np.unique(return_inverse=True), peaks above 5 x the labels)
    assert peak < 1.25 * labels.nbytes
    counts, peak = _peak_bytes(store.counts)
    assert peak < 1.25 * labels.nbytes
    assert (boxes, counts) == reference(labels)


def test_store_accepts_array_likes_bool_and_big_endian_and_refuses_floats():
    nested = [[0, 3], [3, 0]]
    assert label_store(nested).counts() == {3: 2}
    assert label_store(np.array(nested, dtype=">u2")).bounding_boxes() == {
        3: (slice(0, 2), slice(0, 2))
    }
    assert label_store(np.array(nested, dtype=bool)).counts() == {1: 2}
    with pytest.raises(ValueError, match="integer"):
        label_store(np.zeros((2, 2), dtype=float))


def test_a_store_is_returned_as_is_and_satisfies_the_interface():
    store = label_store(np.zeros((2, 2), dtype=np.uint8))
    assert isinstance(store, NumpyLabelStore) and isinstance(store, LabelStore)
    assert label_store(store) is store


def test_a_registered_store_serves_the_arrays_it_accepts(monkeypatch):
    class Chunked:
        """Stands in for a chunked array type a future store would handle."""

        def __init__(self, blocks):
            self.blocks = blocks

    class ChunkedLabelStore(NumpyLabelStore):
        @staticmethod
        def accepts(array):
            return isinstance(array, Chunked)

        def __init__(self, array):
            super().__init__(np.concatenate(array.blocks))

    monkeypatch.setattr(store_module, "STORES", (ChunkedLabelStore, NumpyLabelStore))
    store = label_store(Chunked([np.array([[0, 5]]), np.array([[5, 0]])]))
    assert isinstance(store, ChunkedLabelStore)
    assert store.bounding_boxes() == {5: (slice(0, 2), slice(0, 2))}
    assert type(label_store(np.zeros((2, 2), dtype=np.uint8))) is NumpyLabelStore


# -- where to look at an instance (the dock's Centre) ------------------------------------
def test_focus_point_is_the_middle_slice_and_the_centre_there():
    stack = np.zeros((10, 20, 30), dtype=np.uint16)
    stack[3:8, 4:9, 10:21] = 5  # slices 3..7: the middle is 5
    point = focus_point(NumpyLabelStore(stack), 5, displayed=(1, 2))
    assert point == (5.0, 6.0, 15.0)
    assert focus_point(NumpyLabelStore(stack), 6, displayed=(1, 2)) is None


def test_focus_point_lands_on_a_slice_that_holds_a_gapped_instance():
    stack = np.zeros((12, 8, 8), dtype=np.uint8)
    stack[1, 2:4, 2:4] = 3
    stack[9, 5, 6] = 3  # the box's middle (slice 5) holds nothing
    z, y, x = focus_point(NumpyLabelStore(stack), 3, displayed=(1, 2))
    assert stack[int(z)].any() and (z, y, x) in {(1.0, 2.5, 2.5), (9.0, 5.0, 6.0)}


def test_focus_point_in_four_dimensions_and_with_other_displayed_axes():
    movie = np.zeros((4, 6, 10, 10), dtype=np.uint32)  # t, z, y, x
    movie[2, 1:4, 5:7, 0:2] = 9
    assert focus_point(NumpyLabelStore(movie), 9, displayed=(2, 3)) == (2.0, 2.0, 5.5, 0.5)
    # an orthogonal view (z, x on screen): the slider axes are t and y
    assert focus_point(NumpyLabelStore(movie), 9, displayed=(1, 3)) == (2.0, 2.0, 5.0, 0.5)
    # everything displayed (a 2-D image): the centroid
    image = np.zeros((5, 5), dtype=np.uint8)
    image[1:4, 2] = 1
    assert focus_point(NumpyLabelStore(image), 1, displayed=(0, 1)) == (2.0, 2.0)


def test_focus_point_reads_only_the_instance_box(monkeypatch):
    stack = np.zeros((6, 50, 50), dtype=np.uint8)
    stack[2:5, 10:12, 10:12] = 4
    store = NumpyLabelStore(stack)
    regions = []
    original = store.mask_of

    def mask_of(label_id, bbox=None):
        regions.append(bbox)
        return original(label_id, bbox)

    monkeypatch.setattr(store, "mask_of", mask_of)
    focus_point(store, 4, displayed=(1, 2))
    assert regions == [(slice(2, 5), slice(10, 12), slice(10, 12))]
