"""Autosave of stacks: a snapshot, then deltas of what strokes changed; exact recovery."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segtool._napari import autosave as _autosave
from napari_segtool._napari.autosave import (
    attach_autosave,
    autosaver_of,
    check_recovery,
    merge_boxes,
    restore_recovery,
)
from napari_segtool._napari.binding import binding_of, document_of
from napari_segtool._napari.commands import add_segmentation_layer
from napari_segtool._qt.recovery_banner import RecoveryBanner
from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import delta_path, read_recovery
from tests.autosave_helpers import answer_everything, recovery_folder  # noqa: F401
from tests.napari_input import stroke

SHAPE = (16, 128, 128)


def image_pixels(shape=SHAPE) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 255, shape, dtype=np.uint8)


def open_stack(viewer, shape=SHAPE):
    image = viewer.add_image(image_pixels(shape), name="stack")
    layer = add_segmentation_layer(viewer, image)
    binding = binding_of(layer)
    saver = attach_autosave(binding, viewer=viewer)
    saver.delta_min_bytes = 0  # this small stack is kept as snapshot + deltas too
    saver.interval = 3600  # saves come from flush(): the test decides when
    return layer, binding, saver


@pytest.fixture
def stack(make_napari_viewer, recovery_folder):  # noqa: F811
    viewer = make_napari_viewer()
    layer, binding, saver = open_stack(viewer)
    layer.viewer = viewer
    return layer, binding, saver


def draw(layer, binding, z, points, size=10, class_index=0, label=None) -> int:
    if label is None:
        schema = binding.document.ontology.segmentation_classes[class_index].feature_schema_id
        label = binding.start_instance(schema)
    else:
        binding.select_instance(label)
    layer.mode, layer.brush_size = "paint", size
    layer.viewer.dims.set_current_step(0, z)
    stroke(layer, [(z, *p) for p in points], dims_displayed=(1, 2))
    return label


def delta_pixels(saver) -> int:
    """How many pixels the delta file holds (from its regions)."""
    import json
    import zipfile

    with zipfile.ZipFile(delta_path(saver.path)) as archive:
        meta = json.loads(archive.read(recovery.META_MEMBER))
    return sum(int(np.prod([b - a for a, b in box])) for box in meta["regions"])


def test_strokes_go_into_deltas_and_recovery_is_exact(stack):
    layer, binding, saver = stack
    first = draw(layer, binding, 3, [(20, 20), (30, 40)])
    assert saver.flush()
    assert (saver.snapshots_written, saver.deltas_written) == (1, 0)
    assert not delta_path(saver.path).exists()
    draw(layer, binding, 9, [(60, 60), (70, 64)], label=first)  # the instance spans slices
    second = draw(layer, binding, 12, [(100, 100)], class_index=1)
    layer.mode = "erase"
    layer.viewer.dims.set_current_step(0, 3)
    stroke(layer, [(3, 25, 30)], dims_displayed=(1, 2))
    binding.document.set_locked(second, True)
    answer_everything(binding)
    assert saver.flush()
    assert (saver.snapshots_written, saver.deltas_written) == (1, 1)
    saved = read_recovery(saver.path)
    np.testing.assert_array_equal(saved.labels, layer.data)
    assert saved.document == binding.document.to_dict()
    # undo and redo are edits with boxes too
    layer.undo()
    layer.undo()
    assert saver.flush()
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)
    layer.redo()
    assert saver.flush()
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)
    assert saver.snapshots_written == 1


def test_the_delta_grows_with_the_stroke_not_the_volume(stack):
    layer, binding, saver = stack
    label = draw(layer, binding, 2, [(10, 10)], size=4)
    assert saver.flush()
    snapshot_bytes = saver.path.stat().st_size
    draw(layer, binding, 5, [(40, 40)], size=6, label=label)
    assert saver.flush()
    small = delta_pixels(saver)
    assert small <= 8 * 8  # the brush's box, not a plane
    draw(layer, binding, 6, [(40, 40), (40, 100)], size=12, label=label)
    assert saver.flush()
    assert delta_pixels(saver) - small <= 14 * 74  # plus the new stroke's box only
    assert delta_pixels(saver) < layer.data.size // 100
    assert delta_path(saver.path).stat().st_size < snapshot_bytes
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)


def test_a_big_delta_is_compacted_into_a_new_snapshot(stack):
    layer, binding, saver = stack
    label = draw(layer, binding, 0, [(5, 5)])
    assert saver.flush()
    first_id = saver._snapshot_id
    draw(layer, binding, 1, [(64, 64)], label=label)
    assert saver.flush() and delta_path(saver.path).exists()
    # a fill of five whole slices: more than a quarter of the volume changed
    layer.mode = "fill"
    for z in range(8, 13):
        layer.viewer.dims.set_current_step(0, z)
        layer.n_edit_dimensions = 2
        stroke(layer, [(z, 120, 3)], dims_displayed=(1, 2))
    assert (layer.data[8:13] == label).all()
    assert saver.flush()
    assert saver.snapshots_written == 2 and saver._snapshot_id != first_id
    assert not delta_path(saver.path).exists()  # the old delta went with the old snapshot
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)
    draw(layer, binding, 14, [(30, 30)], label=label)
    assert saver.flush() and delta_path(saver.path).exists()
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)


def test_a_failed_compaction_loses_nothing(stack, monkeypatch):
    layer, binding, saver = stack
    label = draw(layer, binding, 0, [(5, 5)])
    assert saver.flush()
    real_write = recovery.write_recovery

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    saver.compact_fraction = 0.0  # every save compacts
    monkeypatch.setattr(recovery, "write_recovery", full_disk)
    draw(layer, binding, 4, [(50, 50)], label=label)
    assert saver.flush() is False
    # the previous snapshot still stands on its own
    assert (read_recovery(saver.path).labels[4] == 0).all()
    monkeypatch.setattr(recovery, "write_recovery", real_write)
    assert saver.flush()
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)


def test_a_stroke_while_a_snapshot_is_copied_lands_in_the_next_delta(stack, monkeypatch):
    layer, binding, saver = stack
    label = draw(layer, binding, 0, [(5, 5)])
    real_write = recovery.write_recovery

    def write_then_stroke(*args, **kwargs):
        path = real_write(*args, **kwargs)
        # the user paints after the copy was taken (the boxes were taken before it)
        saver._on_pixels([(slice(7, 8), slice(0, 4), slice(0, 4))])
        return path

    monkeypatch.setattr(recovery, "write_recovery", write_then_stroke)
    layer.data[7, 0:4, 0:4] = label  # what the stroke wrote, after the copy
    assert saver.flush()
    monkeypatch.setattr(recovery, "write_recovery", real_write)
    saver.mark_dirty()
    assert saver.flush() and saver.deltas_written == 1
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)


def test_four_d_time_lapse_and_the_banner_restores_exactly(
    make_napari_viewer,
    recovery_folder,  # noqa: F811
    qtbot,
):
    shape = (3, 4, 64, 64)
    viewer = make_napari_viewer()
    layer, binding, saver = open_stack(viewer, shape)
    schema = binding.document.ontology.segmentation_classes[0].feature_schema_id
    cell = binding.start_instance(schema)
    layer.mode, layer.brush_size = "paint", 8
    for t, z in ((0, 1), (2, 3)):
        viewer.dims.set_current_step(0, t)
        viewer.dims.set_current_step(1, z)
        stroke(layer, [(t, z, 30, 30), (t, z, 34, 40)], dims_displayed=(2, 3))
        assert saver.flush()
    assert (saver.snapshots_written, saver.deltas_written) == (1, 1)
    answers = answer_everything(binding)
    assert saver.flush()
    expected = np.asarray(layer.data).copy()
    expected_document = binding.document.to_dict()
    saver.disconnect()  # the "crash": this session no longer owns the file

    other = make_napari_viewer()
    image = other.add_image(image_pixels(shape), name="stack")
    new_layer = add_segmentation_layer(other, image)
    new_binding = binding_of(new_layer)
    info = check_recovery(new_binding, other)
    assert info is not None and info.instance_count == 1 and info.labels_shape == shape
    banner = RecoveryBanner()
    qtbot.addWidget(banner)
    assert banner.offer_for(new_binding, other)
    banner.restore_button.click()
    np.testing.assert_array_equal(new_layer.data, expected)
    assert document_of(new_layer).to_dict() == expected_document
    assert document_of(new_layer).instance(cell).answers == answers["instances"][cell]
    # the restored work goes on into the same files, as a fresh snapshot
    new_saver = autosaver_of(new_layer)
    new_saver.delta_min_bytes, new_saver.interval = 0, 3600
    new_layer.data_setitem(tuple(np.array([i]) for i in (1, 0, 5, 5)), 1)
    assert new_saver.flush() and new_saver.path == info.path
    np.testing.assert_array_equal(read_recovery(info.path).labels, new_layer.data)


def test_restore_of_a_delta_file_uses_the_snapshot_and_its_delta(stack, make_napari_viewer):
    layer, binding, saver = stack
    label = draw(layer, binding, 2, [(10, 10)])
    assert saver.flush()
    draw(layer, binding, 7, [(90, 90)], label=label)
    assert saver.flush() and delta_path(saver.path).exists()
    expected = np.asarray(layer.data).copy()
    saver.disconnect()
    other = make_napari_viewer()
    new_layer, new_binding, _saver = open_stack(other)
    info = check_recovery(new_binding, other)
    restore_recovery(new_binding, info)
    np.testing.assert_array_equal(new_layer.data, expected)


def test_boxes_are_merged_and_bounded(monkeypatch):
    a = (slice(0, 1), slice(0, 10), slice(0, 10))
    b = (slice(0, 1), slice(5, 20), slice(5, 20))  # overlaps a
    c = (slice(3, 4), slice(0, 2), slice(0, 2))  # apart
    assert merge_boxes([a], [b, c]) == [(slice(0, 1), slice(0, 20), slice(0, 20)), c]
    monkeypatch.setattr(_autosave, "MAX_BOXES", 1)
    assert merge_boxes([a], [c]) == [(slice(0, 4), slice(0, 10), slice(0, 10))]
