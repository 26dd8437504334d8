"""A large segmentation in a viewer without a window (a script): no Qt, no worker, no timer."""

from __future__ import annotations

import numpy as np
from napari.components import ViewerModel

from napari_segtool._napari.binding import binding_of
from napari_segtool._napari.compat import camera
from napari_segtool._napari.large_segmentation import (
    full_labels,
    large_segmentation_of,
    open_large_segmentation,
)
from napari_segtool.model.chunked_labels import ChunkedLabels
from napari_segtool.model.document import Document

ORANGE_FISH = "cjxtjkpjai8t80846iwqaa1d8"


def test_counts_at_once_and_the_window_follows_each_camera_move(fish):
    viewer = ViewerModel()
    labels = ChunkedLabels.create((5000, 5000), chunks=(256, 256), dtype=np.uint32)
    labels.write((slice(4000, 4100), slice(4000, 4100)), 6)
    editor = open_large_segmentation(viewer, labels, Document(fish), "big", window_max=1024)
    segmentation = large_segmentation_of(editor)
    binding = binding_of(editor)
    assert not segmentation.counting and binding.pixel_counts == {6: 100 * 100}
    cam = camera(viewer)
    cam.zoom, cam.center = 2.0, (4050, 4050)  # no debounce without an event loop
    assert segmentation.window[0].start <= 4050 < segmentation.window[0].stop
    label = binding.start_instance(ORANGE_FISH)
    editor.brush_size = 9
    y0, x0 = (s.start for s in segmentation.window)
    editor.paint((4200 - y0, 4200 - x0), label)
    assert full_labels(editor)[4200, 4200] == label
    assert binding.pixel_counts[label] == np.count_nonzero(np.asarray(labels) == label)


def test_the_window_side_comes_from_the_environment(fish, monkeypatch):
    from napari_segtool._napari.large_segmentation import WINDOW_MAX, default_window_max

    monkeypatch.setenv("NAPARI_SEGTOOL_WINDOW_MAX", "512")
    assert default_window_max() == 512
    viewer = ViewerModel()
    labels = ChunkedLabels.create((5000, 5000), chunks=(256, 256), dtype=np.uint32)
    editor = open_large_segmentation(viewer, labels, Document(fish), "big")
    assert max(editor.data.shape) <= 512
    monkeypatch.setenv("NAPARI_SEGTOOL_WINDOW_MAX", "lots")
    assert default_window_max() == WINDOW_MAX
