"""A large OME-Zarr through napari: ``viewer.open(path, plugin="napari-segtool")`` shows its
label group as one large segmentation (overview + editor window over ChunkedLabels read from
the group), a stroke on the editor is saved back into the group as its changed chunks only."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from qtpy.QtCore import QCoreApplication, QElapsedTimer

from napari_segtool._napari.binding import binding_of, document_of
from napari_segtool._napari.io_hooks import open_file
from napari_segtool._napari.io_ome_zarr import save_ome_zarr
from napari_segtool._napari.large_segmentation import (
    OVERVIEW_SUFFIX,
    full_labels,
    is_windowed,
    large_segmentation_of,
)
from napari_segtool._qt.large_segmentation import wait_for_workers
from napari_segtool.formats import registry
from napari_segtool.formats.ome_zarr import in_place
from napari_segtool.model.chunked_labels import ChunkedLabels
from napari_segtool.model.label_store import label_store
from tests.coco_samples import NUCLEUS
from tests.napari_input import stroke
from tests.ome_zarr_samples import large_store

#: where the first test leaves its screenshot (to look at)
SCREENSHOT = Path(os.environ.get("SEGTOOL_SCREENSHOTS", "/tmp")) / "large_ome_zarr.png"


def wait(ms: int) -> None:
    timer = QElapsedTimer()
    timer.start()
    while timer.elapsed() < ms:
        QCoreApplication.processEvents()


def _open(viewer, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        added = viewer.open(str(path), plugin="napari-segtool")
    wait_for_workers()
    return added


def test_viewer_open_shows_a_large_group_as_overview_and_editor(make_napari_viewer, tmp_path):
    path = tmp_path / "large.ome.zarr"
    document, placed, _ = large_store(path)
    viewer = make_napari_viewer(show=True)  # the canvas renders only when shown
    _open(viewer, path)
    assert [layer.name for layer in viewer.layers] == ["large", "seg" + OVERVIEW_SUFFIX, "seg"]
    editor = viewer.layers["seg"]
    assert is_windowed(editor)
    labels = full_labels(editor)
    assert isinstance(labels, ChunkedLabels)
    assert in_place.array_folder(in_place.base_of(labels)[0]).is_relative_to(
        (path / "labels" / "seg").resolve()
    )
    read = document_of(editor)
    assert {i: inst.schema_id for i, inst in read.instances.items()} == {
        i: inst.schema_id for i, inst in document.instances.items()
    }
    assert read.instances[1].answers == document.instances[1].answers
    # the counts of the whole segmentation, not of the window
    (y, x), small = next(iter(placed.items()))
    assert binding_of(editor).pixel_counts[5] == label_store(labels).counts([5])[5]
    assert large_segmentation_of(editor).overview is viewer.layers["seg" + OVERVIEW_SUFFIX]
    viewer.layers.selection.active = editor
    viewer.camera.center = (y + 30, x + 40)
    viewer.camera.zoom = 4
    wait(400)  # the window follows the camera (debounced)
    assert (
        large_segmentation_of(editor).window[0].start
        <= y
        < large_segmentation_of(editor).window[0].stop
    )
    screenshot = viewer.screenshot(canvas_only=False, flash=False)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.fromarray(screenshot).save(SCREENSHOT)
    # the instances drawn in their colours over the (black) image
    assert len(np.unique(screenshot.reshape(-1, 4), axis=0)) > 3


def test_a_stroke_is_saved_into_the_group_as_its_changed_chunks(make_napari_viewer, tmp_path):
    path = tmp_path / "large.ome.zarr"
    large_store(path)
    viewer = make_napari_viewer()
    (editor,) = open_file(viewer, path)[1:]  # the dock's Open: the image, then the editor
    wait_for_workers()
    assert editor.name == "seg" and is_windowed(editor)
    binding = binding_of(editor)
    binding.start_instance(NUCLEUS)
    label = binding.current_label_id
    editor.brush_size = 6
    origin = np.asarray(editor.translate)
    stroke(editor, [(origin[0] + 300, origin[1] + 300), (origin[0] + 300, origin[1] + 340)])
    labels = full_labels(editor)
    dirty = sum(len(labels.dirty_chunks(level=k)) for k in range(len(labels.levels)))
    assert labels[int(origin[0]) + 300, int(origin[1]) + 320] == label
    result = save_ome_zarr(viewer, editor, path)
    (group,) = result.details
    assert group.in_place and group.chunks_written == dirty > 0
    assert not labels.dirty_chunks()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (reopened,) = registry.get("ome-zarr").read(path).labels
    y, x = int(origin[0]) + 300, int(origin[1]) + 320
    assert reopened.data[y, x] == label
    assert reopened.document.instances[label].schema_id == NUCLEUS
