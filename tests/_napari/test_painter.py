"""The one painter, through each of its paths: pen lines, the binding's edits, shapes.

Every path keeps locked and hidden pixels, follows draw to back (or, for the
edits that name what they replace, deliberately does not), makes exactly one
undo step that undo and redo replay exactly, and leaves the binding's pixel
counts (what the instance table shows) equal to a fresh count.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from napari.layers import Labels

from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.painter import PaintResult, paint, preview
from napari_segtool._napari.pen import attach_pen, paint_segment, pen_of
from napari_segtool._napari.polygons import shapes_to_instance
from napari_segtool.model.document import Document, DocumentError
from napari_segtool.model.ontology import Ontology
from napari_segtool.tools.edit import ProposedEdit
from napari_segtool.tools.line import brush_radius
from tests.napari_input import click, shift_click

ORANGE, BLUE = "cjxtjkpjai8t80846iwqaa1d8", "cjxtjkpjai8t90846yzpbpo7t"
SHAPE = (60, 80)
LOCKED, HIDDEN, FREE, OTHER = 1, 2, 3, 4


def tank() -> np.ndarray:
    """Four fish: 1 (orange, locked), 2 (blue, hidden), 3 and 4 (orange, free)."""
    data = np.zeros(SHAPE, dtype=np.uint16)
    data[5:20, 5:25] = LOCKED
    yy, xx = np.ogrid[: SHAPE[0], : SHAPE[1]]
    data[(yy - 40) ** 2 + (xx - 20) ** 2 <= 10**2] = HIDDEN
    data[5:20, 40:60] = FREE
    data[35:55, 50:70] = OTHER
    return data


@pytest.fixture
def layer(make_napari_viewer, reference_dir):
    viewer = make_napari_viewer()
    ontology = Ontology.load(reference_dir / "ontology.fish.json")
    document = Document(ontology)
    for label_id, schema_id in ((1, ORANGE), (2, BLUE), (3, ORANGE), (4, ORANGE)):
        document.add_instance(label_id, schema_id)
    layer = viewer.add_labels(tank(), **segmentation_layer_kwargs(document, "tank"))
    binding = binding_of(layer)
    binding.document.set_locked(LOCKED, True)
    binding.document.set_hidden(HIDDEN, True)
    assert binding.lock_guard.protected_ids == {LOCKED, HIDDEN}
    layer.viewer = viewer
    yield layer
    pen = pen_of(layer)
    if pen is not None:
        pen.detach()


def pixels(layer) -> np.ndarray:
    return np.asarray(layer.data).copy()


def assert_counts_right(layer) -> None:
    values, counts = np.unique(np.asarray(layer.data), return_counts=True)
    expected = {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}
    assert binding_of(layer).pixel_counts == expected


def one_undo_step(layer, action):
    """Run ``action``; check it made one undo step that undo and redo replay exactly."""
    before = pixels(layer)
    steps = len(layer._undo_history)
    result = action()
    after = pixels(layer)
    assert len(layer._undo_history) == steps + 1, "not exactly one undo step"
    assert_counts_right(layer)
    layer.undo()
    assert np.array_equal(np.asarray(layer.data), before)
    assert_counts_right(layer)
    layer.redo()
    assert np.array_equal(np.asarray(layer.data), after)
    assert_counts_right(layer)
    return before, after, result


def capsule(start, end, brush_size) -> np.ndarray:
    rows, cols = np.indices(SHAPE, dtype=float)
    a, b = np.asarray(start, float), np.asarray(end, float)
    d = b - a
    t = np.clip(((rows - a[0]) * d[0] + (cols - a[1]) * d[1]) / (d @ d), 0, 1)
    distance_sq = (rows - a[0] - t * d[0]) ** 2 + (cols - a[1] - t * d[1]) ** 2
    return distance_sq <= brush_radius(brush_size) ** 2


# -- pen lines -----------------------------------------------------------------------------------
def test_a_line_across_every_fish_keeps_the_locked_and_hidden_ones(layer):
    attach_pen(layer)
    layer.mode, layer.selected_label, layer.brush_size = "paint", 7, 5
    start = tank()
    protected = (start == LOCKED) | (start == HIDDEN)
    line = capsule((12, 0), (45, 79), 5)
    click(layer, (12, 0))  # the dab the line starts from
    dab = pixels(layer) == 7
    _, after, _ = one_undo_step(layer, lambda: shift_click(layer, (45, 79)))
    assert np.array_equal(after[protected], start[protected])
    assert np.array_equal(after == 7, (line & ~protected) | dab)
    assert binding_of(layer).pixel_counts[7] == ((line & ~protected) | dab).sum()


def test_a_segment_says_how_many_pixels_the_locks_kept(layer):
    start = tank()
    protected = (start == LOCKED) | (start == HIDDEN)
    line = capsule((12, 0), (45, 79), 5)
    layer.brush_size = 5
    _, after, result = one_undo_step(layer, lambda: paint_segment(layer, (12, 0), (45, 79), 7))
    assert np.array_equal(after == 7, line & ~protected)
    assert result == PaintResult(
        changed=int((line & ~protected).sum()), kept_locked=int((line & protected).sum())
    )


def test_shift_click_lines_respect_draw_to_back_and_erase_only_the_selected_label(layer):
    attach_pen(layer)
    layer.mode, layer.brush_size = "paint", 3
    layer.selected_label = 8
    layer.preserve_labels = True
    start = tank()
    click(layer, (12, 30))
    before_line, after_line, _ = one_undo_step(layer, lambda: shift_click(layer, (12, 70)))
    line = capsule((12, 30), (12, 70), 3)
    assert np.array_equal(after_line == 8, (line & (start == 0)) | (before_line == 8))
    assert np.array_equal(after_line[start > 0], start[start > 0])  # FREE kept: drawn behind

    # erasing with draw to back: only the selected label goes, the free fish stays
    layer.mode = "erase"
    click(layer, (12, 30))
    _, after_erase, _ = one_undo_step(layer, lambda: shift_click(layer, (12, 70)))
    assert not (after_erase[line] == 8).any()
    assert np.array_equal(after_erase[start > 0], start[start > 0])


def test_the_painter_counts_what_draw_to_back_kept(layer):
    layer.preserve_labels = True
    edit = ProposedEdit((slice(0, 30), slice(30, 80)), np.ones((30, 50), bool), 9)
    start = tank()
    box = start[0:30, 30:80]
    expected = PaintResult(changed=int((box == 0).sum()), kept_behind=int((box == FREE).sum()))
    assert preview(layer, edit) == expected
    assert np.array_equal(np.asarray(layer.data), start)  # a preview writes nothing
    _, after, result = one_undo_step(layer, lambda: paint(layer, edit))
    assert result == expected and result.refused == expected.kept_behind
    assert np.array_equal(after[0:30, 30:80], np.where(box == 0, 9, box))

    layer.selected_label = FREE  # erase with draw to back: only the selected label
    erase = ProposedEdit((slice(0, 60), slice(0, 80)), np.ones(SHAPE, bool), 0)
    result = paint(layer, erase)
    now = np.asarray(layer.data)
    assert not (now == FREE).any() and (now == 9).sum() == (box == 0).sum()
    assert result.changed == (start == FREE).sum()
    assert result.kept_locked == ((start == LOCKED) | (start == HIDDEN)).sum()
    assert_counts_right(layer)


def test_an_edit_that_changes_nothing_makes_no_undo_step(layer):
    steps = len(layer._undo_history)
    on_locked = ProposedEdit((slice(5, 20), slice(5, 25)), np.ones((15, 20), bool), 9)
    assert paint(layer, on_locked) == PaintResult(kept_locked=300)
    same = ProposedEdit((slice(5, 20), slice(40, 60)), np.ones((15, 20), bool), FREE)
    assert paint(layer, same) == PaintResult()
    assert paint(layer, []) == PaintResult()
    assert len(layer._undo_history) == steps
    assert np.array_equal(np.asarray(layer.data), tank())


def test_edits_that_do_not_fit_are_refused_before_anything_is_written(layer):
    inside = ProposedEdit((slice(0, 2), slice(0, 2)), np.ones((2, 2), bool), 5)
    too_big = ProposedEdit((slice(0, 2), slice(0, 2)), np.ones((2, 2), bool), 70000)
    with pytest.raises(ValueError, match="does not fit"):
        paint(layer, [inside, too_big])
    outside = ProposedEdit((slice(58, 62), slice(0, 2)), np.ones((4, 2), bool), 5)
    with pytest.raises(ValueError, match="outside"):
        paint(layer, outside)
    assert np.array_equal(np.asarray(layer.data), tank())


# -- the binding's edits -------------------------------------------------------------------------
def test_delete_erases_exactly_the_instance_even_with_draw_to_back(layer):
    binding = binding_of(layer)
    layer.preserve_labels = True
    layer.selected_label = OTHER  # draw to back would let only OTHER be erased
    start = tank()
    _, after, result = one_undo_step(layer, lambda: binding.delete_instance(FREE))
    assert np.array_equal(after, np.where(start == FREE, 0, start))
    assert result == PaintResult(changed=int((start == FREE).sum()))
    assert binding.visible_instance_ids() == [LOCKED, HIDDEN, OTHER]
    with pytest.raises(DocumentError, match="locked"):
        binding.delete_instance(LOCKED)
    with pytest.raises(DocumentError, match="hidden"):
        binding.delete_instance(HIDDEN)


def test_merge_repaints_exactly_the_merged_pixels_even_with_draw_to_back(layer):
    binding = binding_of(layer)
    layer.preserve_labels = True
    start = tank()
    _, after, result = one_undo_step(layer, lambda: binding.merge_instances(FREE, [OTHER]))
    assert np.array_equal(after, np.where(start == OTHER, FREE, start))
    assert result.changed == (start == OTHER).sum() and result.refused == 0
    assert binding.pixel_counts[FREE] == ((start == FREE) | (start == OTHER)).sum()
    assert OTHER not in binding.visible_instance_ids()
    with pytest.raises(DocumentError, match="locked"):
        binding.merge_instances(FREE, [LOCKED])


def test_erasing_a_class_keeps_its_hidden_and_locked_pixels(layer):
    binding = binding_of(layer)
    start = tank()
    orange = [LOCKED, FREE, OTHER]  # what removing the orange class erases
    _, after, result = one_undo_step(layer, lambda: binding.erase_instances(orange))
    assert np.array_equal(after == LOCKED, start == LOCKED)
    assert not ((after == FREE) | (after == OTHER)).any()
    assert result == PaintResult(
        changed=int(((start == FREE) | (start == OTHER)).sum()),
        kept_locked=int((start == LOCKED).sum()),
    )
    steps = len(layer._undo_history)
    hidden = int((start == HIDDEN).sum())
    assert binding.erase_instances([HIDDEN]) == PaintResult(kept_locked=hidden)
    assert len(layer._undo_history) == steps


# -- shapes to an instance ------------------------------------------------------------------------
@pytest.mark.parametrize("draw_to_back", [False, True])
def test_shapes_paint_only_background_whatever_draw_to_back_says(layer, draw_to_back):
    shapes = layer.viewer.add_shapes()
    shapes.add_rectangles(np.array([[0.0, 0.0], [59.0, 79.0]]))  # the whole tank
    layer.preserve_labels = draw_to_back
    binding = binding_of(layer)
    start = tank()

    label_id = None

    def convert():
        nonlocal label_id
        label_id = shapes_to_instance(layer, shapes, ORANGE, indices=[0])

    _, after, _ = one_undo_step(layer, convert)
    assert label_id == OTHER + 1
    assert np.array_equal(after, np.where(start == 0, label_id, start))
    assert binding.document.instance(label_id).schema_id == ORANGE
    assert label_id in binding.visible_instance_ids()


# -- n-D ------------------------------------------------------------------------------------------
def test_a_plane_of_a_stack_is_painted_and_undone(make_napari_viewer):
    viewer = make_napari_viewer()
    layer = viewer.add_labels(np.zeros((4, 10, 12), dtype=np.uint8))
    mask = np.zeros((1, 10, 12), dtype=bool)
    mask[0, 2:8, 3:9] = True
    steps = len(layer._undo_history)
    result = paint(layer, ProposedEdit((slice(2, 3), slice(0, 10), slice(0, 12)), mask, 6))
    assert result.changed == 36 and len(layer._undo_history) == steps + 1
    data = np.asarray(layer.data)
    assert np.array_equal(data[2] == 6, mask[0]) and not data[[0, 1, 3]].any()
    layer.undo()
    assert not np.asarray(layer.data).any()


def test_the_painter_works_on_a_plain_labels_layer_without_locks():
    layer = Labels(np.zeros((5, 5), dtype=np.uint8))
    edit = ProposedEdit.from_indices((np.array([0, 4]), np.array([1, 3])), 2)
    assert paint(layer, edit) == PaintResult(changed=2)
    assert np.asarray(layer.data)[0, 1] == 2 and np.asarray(layer.data)[4, 3] == 2


# -- removing a class ------------------------------------------------------------------------------
def assert_document_matches_pixels(layer) -> None:
    """Every painted id is an instance (or a retired, unassigned id); counts are exact."""
    binding = binding_of(layer)
    painted = {int(v) for v in np.unique(np.asarray(layer.data)) if v}
    assert painted <= set(binding.document.instances) | set(binding.unassigned_ids())
    assert_counts_right(layer)


@pytest.mark.parametrize(
    ("schema_id", "protected", "why"),
    [
        (BLUE, HIDDEN, "hidden instance(s) [2]: show them first"),
        (ORANGE, LOCKED, "locked instance(s) [1]: unlock first"),
    ],
)
def test_removing_a_class_with_a_protected_instance_refuses_and_changes_nothing(
    layer, schema_id, protected, why
):
    binding = binding_of(layer)
    before, document_before = pixels(layer), binding.document.to_dict()
    steps = len(layer._undo_history)
    with pytest.raises(DocumentError, match=re.escape(why)):
        binding.remove_class_instances(schema_id)
    assert np.array_equal(pixels(layer), before)
    assert binding.document.to_dict() == document_before
    assert binding.document.instance(protected).schema_id == schema_id
    assert len(layer._undo_history) == steps
    assert_document_matches_pixels(layer)


def test_removing_a_class_once_its_instances_are_shown_erases_and_drops_them(layer):
    binding = binding_of(layer)
    document = binding.document
    document.add_instance(9, BLUE)  # hidden but without pixels: nothing of it can be lost
    document.set_hidden(9, True)
    document.set_hidden(HIDDEN, False)
    binding.remove_class_instances(BLUE)
    assert HIDDEN not in document and 9 not in document
    assert not (pixels(layer) == HIDDEN).any()
    assert_document_matches_pixels(layer)
    layer.undo()  # the pixels come back, unassigned
    assert np.array_equal(pixels(layer) == HIDDEN, tank() == HIDDEN)
    assert HIDDEN in binding.unassigned_ids()
    assert_document_matches_pixels(layer)
