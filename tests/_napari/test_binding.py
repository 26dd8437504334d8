"""A document bound to a napari Labels layer: metadata, features and data tuples."""

import json

import numpy as np
import pytest
from napari.layers import Labels

from napari_segtool._napari import compat
from napari_segtool._napari.binding import (
    binding_of,
    document_of,
    is_segmentation_layer,
    segmentation_layer_kwargs,
)
from napari_segtool.model.document import METADATA_KEY, Document
from tests.fish import ids
from tests.napari_input import stroke


def test_document_survives_a_layer_data_tuple_round_trip(fish):
    orange, blue, _, blurry, _ = ids(fish)
    doc = Document(fish)
    data = np.zeros((20, 30), np.uint16)
    layer = Labels(data, **segmentation_layer_kwargs(doc, "seg"))
    live = document_of(layer)
    live.add_instance(
        1, orange, answers={blurry.feature_schema_id: {blurry.options[0].feature_schema_id: {}}}
    )
    live.add_instance(2, blue)
    layer.data[2:5, 2:5] = 1
    layer.data[10:12, 10:20] = 2

    data_out, state, layer_type = layer.as_layer_data_tuple()
    restored = Labels(data_out, **state)
    assert layer_type == "labels"
    assert is_segmentation_layer(restored)
    restored_doc = document_of(restored)
    assert restored_doc.to_dict() == live.to_dict()
    assert restored_doc is not live
    np.testing.assert_array_equal(restored.data, layer.data)
    # napari's status bar reads the class from features
    row = restored.features.set_index("index").loc[2]
    assert row["class"] == "Blue Fish"
    assert "class: Blue Fish" in restored.get_status((11, 15))["value"]


def test_metadata_key_holds_a_plain_dict(fish):
    layer = Labels(np.zeros((4, 4), np.uint8), **segmentation_layer_kwargs(Document(fish), "s"))
    document_of(layer).add_instance(1, fish.classes[0].feature_schema_id)
    json.dumps(layer.metadata[METADATA_KEY])  # JSON-ready
    assert layer.metadata[METADATA_KEY]["instances"][0]["label_id"] == 1


def test_answer_edits_keep_metadata_and_features_exact(fish):
    orange, blue, _, blurry, fins = ids(fish)
    layer = Labels(np.zeros((8, 8), np.uint8), **segmentation_layer_kwargs(Document(fish), "s"))
    live = document_of(layer)
    for label_id, schema_id in ((1, orange), (2, blue), (3, orange)):
        live.add_instance(label_id, schema_id)
    live.set_answers(3, {fins.feature_schema_id: {fins.options[1].feature_schema_id: {}}})
    live.set_locked(2, True)
    assert layer.metadata[METADATA_KEY] == live.to_dict()
    features = layer.features.set_index("index")
    assert features.loc[3, "answers"] == "Visible fins: Tail"
    assert features.loc[1, "answers"] == "none"
    live.set_class(3, blue)  # drops the answers that belonged to the old class
    assert layer.metadata[METADATA_KEY] == live.to_dict()
    assert layer.features.set_index("index").loc[3, "class"] == "Blue Fish"


def test_the_binding_drives_the_workflow_with_real_strokes(fish):
    orange, blue, _, _, _ = ids(fish)
    layer = Labels(np.zeros((40, 40), np.uint8), **segmentation_layer_kwargs(Document(fish), "s"))
    binding = binding_of(layer)
    created, changed = [], []
    binding.instance_created.connect(created.append)
    binding.counts_changed.connect(changed.append)
    first = binding.start_instance(orange)
    assert (layer.selected_label, layer.mode) == (first, "paint")
    layer.brush_size = 5
    layer.paint((10, 10), first)
    assert created == [first] and changed[-1] == frozenset({first})
    assert binding.pixel_counts[first] == np.count_nonzero(layer.data == first)
    second = binding.start_instance(blue)
    layer.paint((30, 30), second)
    assert document_of(layer).instance(second).schema_id == blue
    # removing Orange Fish erases its pixels; undo brings them back unassigned
    binding.remove_class_instances(orange)
    assert first not in document_of(layer) and not np.any(layer.data == first)
    layer.undo()
    assert np.any(layer.data == first)
    assert binding.unassigned_ids() == [first]
    assert created == [first, second]


def test_data_moved_swaps_the_pixels_without_a_recount_or_an_edit(fish):
    """What a window over a larger segmentation does when it moves."""
    orange, *_ = ids(fish)
    layer = Labels(np.zeros((40, 40), np.uint8), **segmentation_layer_kwargs(Document(fish), "s"))
    binding = binding_of(layer)
    label = binding.start_instance(orange)
    layer.brush_size = 5
    layer.paint((10, 10), label)
    counts = dict(binding.pixel_counts)
    boxes, changed = [], []
    binding.pixels_changed.connect(boxes.append)
    binding.counts_changed.connect(changed.append)
    other = np.zeros((30, 50), np.uint8)
    other[:5, :5] = 3  # another part of the segmentation: not recounted
    with binding.data_moved():
        layer.data = other
    assert binding.pixel_counts == counts
    assert boxes == [] and changed == []
    # the history pointed into the old pixels: gone, undo changes nothing
    assert compat.history_depths(layer) == (0, 0)
    layer.undo()
    np.testing.assert_array_equal(layer.data, other)
    assert binding.pixel_counts == counts
    # a stroke afterwards is counted as a delta, and undone exactly
    layer.paint((20, 20), label)
    grown = binding.pixel_counts[label]
    assert grown > counts[label]
    layer.undo()
    assert binding.pixel_counts == counts
    # a plain data replacement still recounts
    layer.data = np.zeros((40, 40), np.uint8)
    assert binding.pixel_counts == {}


# -- pixel counts through napari's undo history ---------------------------------------------------
def fresh_counts(layer) -> dict[int, int]:
    values, counts = np.unique(np.asarray(layer.data), return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}


@pytest.fixture
def painted(make_napari_viewer, fish):
    """A viewer's segmentation layer after 110 real brush strokes (11 instances, overlapping)."""
    viewer = make_napari_viewer()
    layer = viewer.add_labels(
        np.zeros((130, 130), np.uint16), **segmentation_layer_kwargs(Document(fish), "s")
    )
    binding = binding_of(layer)
    orange, blue, *_ = ids(fish)
    layer.brush_size = 4
    for n in range(110):
        if n % 10 == 0:
            binding.start_instance(orange if n % 20 else blue)
        row = 5 + n  # each line overlaps the one before: strokes replace other labels
        stroke(layer, [(row, 5 + n % 7), (row, 70 + n % 13)])
    assert binding.pixel_counts == fresh_counts(layer)
    return layer


def test_counts_stay_right_past_napari_s_undo_limit(painted):
    layer, binding = painted, binding_of(painted)
    limit = compat.history_limit(layer)
    assert limit == 100
    assert len(binding._undo_items) == limit  # no more copies than napari keeps
    before_undo = fresh_counts(layer)
    for _ in range(105):  # the last five find napari's history empty
        layer.undo()
    assert np.count_nonzero(layer.data) > 0  # the 10 oldest strokes are beyond undo
    assert binding.pixel_counts == fresh_counts(layer)
    assert compat.history_depths(layer) == (0, limit)
    for _ in range(105):
        layer.redo()
    assert binding.pixel_counts == fresh_counts(layer) == before_undo
    assert len(binding._redo_items) == 0


def test_undo_with_an_empty_napari_history_changes_nothing(painted):
    layer, binding = painted, binding_of(painted)
    # napari drops its history when the layer stops being editable; the binding's copies stay
    layer.editable = False
    layer.editable = True
    assert compat.history_depths(layer) == (0, 0)
    counts = dict(binding.pixel_counts)
    changed = []
    binding.counts_changed.connect(changed.append)
    layer.undo()
    layer.redo()
    assert binding.pixel_counts == counts == fresh_counts(layer)
    assert changed == []
    # the next stroke and its undo are counted as usual
    layer.mode = "paint"
    stroke(layer, [(120, 100), (125, 125)])
    layer.undo()
    assert binding.pixel_counts == counts == fresh_counts(layer)
