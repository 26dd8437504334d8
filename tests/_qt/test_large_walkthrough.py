"""A new user on a large OME-Zarr, start to finish, with the dock's real widgets.

Open a tissue image past the large-image size (lazily), make its
segmentation (chunked, nothing allocated), zoom in far from the origin and
annotate at full resolution with classes and answers, save into the store
(the first save streams the group, the next writes only the changed chunks),
reopen with napari-ome-zarr (the labels in their colours) and with this
plugin (every class and answer back).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from napari.layers import Image, Labels

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of, document_of
from napari_segtool._napari.commands import new_segmentation_layer
from napari_segtool._napari.large_segmentation import full_labels, is_windowed
from napari_segtool._qt.large_segmentation import wait_for_workers
from napari_segtool.formats.ome_zarr import tissue
from napari_segtool.model.chunked_labels import is_large
from napari_segtool.model.colours import instance_colour
from tests._qt.test_file_menu import answer_save_dialog
from tests._qt.test_large_segmentation import wait
from tests._qt.test_walkthrough import (
    click,
    click_radio,
    click_tree_class,
    field_of,
    tick,
)
from tests.napari_input import stroke

SIDE = 4800  # past 4096 x 4096: a large image


def look(viewer, name: str) -> None:
    """``SEGTOOL_WALKTHROUGH_SHOTS=<folder>`` keeps a grab of the window, for a look."""
    folder = os.environ.get("SEGTOOL_WALKTHROUGH_SHOTS")
    if folder:
        from PIL import Image as PILImage

        Path(folder).mkdir(parents=True, exist_ok=True)
        shot = viewer.screenshot(canvas_only=False, flash=False)
        PILImage.fromarray(shot).save(Path(folder) / f"large-{name}.png")


def open_quietly(viewer, path, plugin):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ome-zarr-py's notes on the store's version
        viewer.open(str(path), plugin=plugin)
    wait(50)
    wait_for_workers()


def look_at(viewer, y: float, x: float, zoom: float) -> None:
    viewer.scene.camera.zoom = zoom
    viewer.scene.camera.center = (y, x)
    wait(400)  # the window follows the camera once it is still


def paint_at(editor, y: int, x: int) -> None:
    """A short drag centred on the full-resolution pixel (y, x), in world coordinates."""
    scale = np.asarray(editor.scale)
    stroke(editor, [((y - 6) * scale[0], x * scale[1]), ((y + 6) * scale[0], x * scale[1])])


def test_a_new_user_annotates_a_large_ome_zarr_and_reads_it_back(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = tissue.tissue_store(size=SIDE)
    viewer = make_napari_viewer(show=True)
    open_quietly(viewer, store, PLUGIN_NAME)
    (image,) = viewer.layers
    assert isinstance(image, Image) and image.multiscale
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")

    # Layers > New segmentation layer: a large one, nothing allocated
    viewer.layers.selection.active = image
    new_segmentation_layer(viewer)
    wait_for_workers()
    editor = viewer.layers.selection.active
    assert is_windowed(editor) and is_large(full_labels(editor).shape)
    labels = full_labels(editor)
    assert labels.stored_chunk_count() == 0
    document = document_of(editor)

    # far from the origin, at full resolution: the window is there
    far = (SIDE - 700, SIDE - 900)
    look_at(viewer, *far, zoom=2)
    window = editor.translate
    assert window[0] > 0 and window[1] > 0  # the window moved off the origin
    panel = dock.questions_panel

    # a nucleus, with its required answer given in the form
    click_tree_class(dock, "Nucleus")
    nucleus = editor.selected_label
    editor.brush_size = 10
    paint_at(editor, *far)
    assert labels[far] == nucleus  # at full resolution, in the large labels
    click_radio(field_of(panel, "Which phase is this nucleus in?"), "Interphase")
    # a cell beside it, with a comment
    click_tree_class(dock, "Cell")
    cell = editor.selected_label
    paint_at(editor, far[0] + 60, far[1] + 60)
    touching = field_of(panel, "What does the cell touch?")
    another = next(o for o in touching.question.options if o.label == "Another cell")
    tick(touching.checkboxes[another.feature_schema_id].native)
    assert document.instance(nucleus).answers and document.instance(cell).answers
    look(viewer, "1-annotated")
    answers = {i: inst.to_dict() for i, inst in document.instances.items()}

    # the dock's Save OME-Zarr… into the store the image came from
    answer_save_dialog(monkeypatch, store)
    click(dock.ome_zarr_button)
    assert "Saved" in dock.file_status.text()
    group = store / "labels" / editor.name.replace(" ", "_")
    assert group.is_dir() or any((store / "labels").iterdir())
    # one more nucleus and a second save: only the changed chunks are written
    click_tree_class(dock, "Nucleus")
    third = editor.selected_label
    paint_at(editor, far[0] + 200, far[1] - 150)
    click_radio(field_of(panel, "Which phase is this nucleus in?"), "Mitosis")
    answers = {i: inst.to_dict() for i, inst in document.instances.items()}
    click(dock.ome_zarr_button)
    assert "changed chunk(s) written" in dock.file_status.text()
    counts = dict(binding_of(editor).pixel_counts)
    assert {nucleus, cell, third} <= {i for i, n in counts.items() if n}

    # napari-ome-zarr shows the labels in their colours
    viewer.layers.clear()
    open_quietly(viewer, store, "napari-ome-zarr")
    (theirs,) = [layer for layer in viewer.layers if isinstance(layer, Labels)]
    theirs.visible = True  # napari-ome-zarr opens label images hidden
    look_at(viewer, *far, zoom=2)
    # napari draws them at full resolution there (the slice of its own multiscale layer)
    assert theirs.data_level == 0 and {nucleus, cell} <= set(np.unique(theirs._slice.image.raw))
    look(viewer, "2-napari-ome-zarr")
    level0 = theirs.data[0] if theirs.multiscale else theirs.data
    for label_id, (y, x) in {
        nucleus: far,
        cell: (far[0] + 60, far[1] + 60),
        third: (far[0] + 200, far[1] - 150),
    }.items():
        assert int(np.asarray(level0[y, x])) == label_id
        instance = document.instance(label_id)
        colour = instance_colour(document.ontology.class_by_id(instance.schema_id).color, label_id)
        np.testing.assert_allclose(theirs.colormap.map(label_id), colour, atol=1 / 255)

    # this plugin gives back every class and answer, as a large segmentation again
    viewer.layers.clear()
    open_quietly(viewer, store, PLUGIN_NAME)
    (again,) = [layer for layer in viewer.layers if is_windowed(layer)]
    read = document_of(again)
    look_at(viewer, *far, zoom=2)
    look(viewer, "3-reopened")
    assert {i: inst.to_dict() for i, inst in read.instances.items()} == answers
    assert {i: n for i, n in binding_of(again).pixel_counts.items() if n} == {
        i: n for i, n in counts.items() if n
    }
