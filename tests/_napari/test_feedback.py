"""Status-bar feedback without a window: what locks and draw to back kept, counted once."""

from __future__ import annotations

import numpy as np
from napari.components import ViewerModel
from napari.layers import Labels

from napari_segtool._napari.binding import document_of, segmentation_layer_kwargs
from napari_segtool._napari.feedback import feedback_of
from napari_segtool._napari.lock_guard import guard_of
from napari_segtool._napari.session import session_for
from napari_segtool.model.document import Document

NUCLEUS = 1


def tank(fish):
    viewer = ViewerModel()
    session_for(viewer)
    data = np.zeros((40, 60), dtype=np.uint16)
    data[10:20, 10:20] = NUCLEUS
    document = Document(fish)
    document.add_instance(NUCLEUS, fish.classes[0].feature_schema_id)
    layer = viewer.add_labels(data, **segmentation_layer_kwargs(document, "tank"))
    return viewer, layer


def _stroke(layer) -> None:
    """One stroke of overlapping brush dabs across the square."""
    layer.brush_size = 9
    with layer.block_history():
        for column in range(5, 26, 2):
            layer.paint((15, column), 7)


def _covered_square_pixels(layer) -> int:
    """How many square pixels the same stroke covers on an unguarded copy."""
    plain = Labels(np.asarray(layer.data).copy())
    _stroke(plain)
    return int((np.asarray(plain.data)[10:20, 10:20] == 7).sum())


def test_overlapping_dabs_count_each_kept_pixel_once(fish):
    viewer, layer = tank(fish)
    document_of(layer).set_locked(NUCLEUS, True)
    covered = _covered_square_pixels(layer)
    _stroke(layer)
    name = fish.classes[0].name
    message = feedback_of(layer).last_message
    kept = int(message.split("kept ")[1].split(" ")[0])
    assert message.startswith("Stroke clipped: kept ")
    assert f"of locked {name} #{NUCLEUS}" in message
    assert kept == covered  # each pixel once, however many dabs touched it
    assert (np.asarray(layer.data)[10:20, 10:20] == NUCLEUS).all()
    assert viewer.status == message
    assert not guard_of(layer).tally  # reported: counting starts afresh


def test_painting_with_a_locked_id_is_refused_by_every_path(fish):
    viewer, layer = tank(fish)
    document_of(layer).set_locked(NUCLEUS, True)
    before = np.asarray(layer.data).copy()
    layer.paint((30, 40), NUCLEUS)
    layer.fill((35, 5), NUCLEUS)
    layer.paint_polygon([(0, 30), (0, 59), (39, 59)], NUCLEUS)
    layer.data_setitem((np.array([30, 31]), np.array([50, 51])), NUCLEUS)
    np.testing.assert_array_equal(np.asarray(layer.data), before)
    assert "is locked: nothing painted" in feedback_of(layer).last_message
    # other ids still paint around it
    layer.data_setitem((np.array([30, 31]), np.array([50, 51])), 5)
    assert (np.asarray(layer.data) == 5).sum() == 2


def test_draw_to_back_says_how_many_labelled_pixels_it_kept(fish):
    viewer, layer = tank(fish)
    covered = _covered_square_pixels(layer)
    layer.preserve_labels = True
    _stroke(layer)
    message = feedback_of(layer).last_message
    assert message.startswith("Stroke clipped: kept ")
    assert message.endswith("labelled pixels (draw to back)")
    assert int(message.split("kept ")[1].split(" ")[0]) == covered
    assert (np.asarray(layer.data)[10:20, 10:20] == NUCLEUS).all()
