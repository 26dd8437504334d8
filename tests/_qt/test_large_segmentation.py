"""A segmentation larger than memory: overview + full-resolution window that follows the camera.

Every test drives real napari operations on the editor (mouse strokes through
napari's callbacks and the pen, fill, undo, camera moves) and checks the
ChunkedLabels behind it, the overview and the binding's counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QCoreApplication, QElapsedTimer

from napari_segtool._napari.autosave import autosaver_of
from napari_segtool._napari.binding import binding_of
from napari_segtool._napari.large_segmentation import (
    OVERVIEW_SUFFIX,
    full_labels,
    is_windowed,
    large_segmentation_of,
    open_large_segmentation,
)
from napari_segtool._qt.large_segmentation import wait_for_workers
from napari_segtool.formats import recovery
from napari_segtool.model.chunked_labels import ChunkedLabels
from napari_segtool.model.document import Document, DocumentError
from tests.napari_input import click, drag_to, press, release, shift_click, stroke

ORANGE_FISH, BLUE_FISH = "cjxtjkpjai8t80846iwqaa1d8", "cjxtjkpjai8t90846yzpbpo7t"
SIZE, CHUNK, WINDOW = 6000, 256, 1024


def wait(ms: int) -> None:
    """Let Qt run ``ms`` milliseconds (the debounce timer fires)."""
    timer = QElapsedTimer()
    timer.start()
    while timer.elapsed() < ms:
        QCoreApplication.processEvents()


def shown(layer) -> set[int]:
    """The label values napari has sliced for display (the visible tile of a multiscale)."""
    return set(np.unique(np.asarray(layer._slice.image.raw)).tolist())


class Large:
    def __init__(self, viewer, labels, editor):
        self.viewer, self.labels, self.editor = viewer, labels, editor
        self.segmentation = large_segmentation_of(editor)
        self.overview = self.segmentation.overview
        self.binding = binding_of(editor)

    def look_at(self, y: float, x: float, zoom: float = 2.0) -> None:
        """Move the camera (as a pan / zoom does) and let the debounce fire."""
        camera = self.viewer.scene.camera
        camera.zoom = zoom
        camera.center = (y, x)
        wait(400)

    def stroke(self, points, **kwargs) -> None:
        stroke(self.editor, points, **kwargs)

    def true_counts(self) -> dict[int, int]:
        values, counts = np.unique(np.asarray(full_labels(self.editor)), return_counts=True)
        return {int(v): int(n) for v, n in zip(values, counts, strict=True) if v}

    def check_counts(self) -> None:
        counts = {k: v for k, v in self.binding.pixel_counts.items() if v}
        assert counts == self.true_counts()


@pytest.fixture
def large(make_napari_viewer, fish) -> Large:
    viewer = make_napari_viewer()
    labels = ChunkedLabels.create((SIZE, SIZE), chunks=(CHUNK, CHUNK), dtype=np.uint32)
    # an object far from where the window starts: counted by the background pass
    labels.write((slice(5000, 5100), slice(5000, 5200)), np.full((100, 200), 7, np.uint32))
    # and one taller than any window
    labels.write((slice(100, 1500), slice(2000, 2010)), np.full((1400, 10), 9, np.uint32))
    document = Document(fish)
    document.add_instance(7, BLUE_FISH)
    document.add_instance(9, BLUE_FISH)
    editor = open_large_segmentation(viewer, labels, document, "big", window_max=WINDOW)
    wait_for_workers()
    large = Large(viewer, labels, editor)
    large.look_at(500, 500)
    return large


def test_the_pair_looks_like_one_layer(large):
    editor, overview = large.editor, large.overview
    assert [layer.name for layer in large.viewer.layers] == ["big" + OVERVIEW_SUFFIX, "big"]
    assert not autosaver_of(editor).is_dirty  # opening (and counting) is no edit
    assert overview.multiscale and not overview.editable
    assert editor.editable and not editor.multiscale
    assert is_windowed(editor) and not is_windowed(overview)
    assert max(editor.data.shape) <= WINDOW
    # same instance colours, kept in step when a colour changes
    assert overview.colormap is editor.colormap
    large.binding.start_instance(ORANGE_FISH)
    assert overview.colormap is editor.colormap
    # zoomed in, the window covers the view: the overview is hidden (it would show
    # through the editor's translucent pixels); zoomed out it shows the rest
    assert large.segmentation.covers_view() and not overview.visible
    large.look_at(3000, 3000, zoom=0.05)
    assert overview.visible
    editor.visible = False
    assert not overview.visible
    overview.visible = True
    assert editor.visible
    editor.opacity = 0.3
    assert overview.opacity == pytest.approx(0.3)
    editor.name = "renamed"
    assert overview.name == "renamed" + OVERVIEW_SUFFIX
    overview.editable = True
    assert not overview.editable
    large.viewer.layers.remove(editor)
    assert list(large.viewer.layers) == []


def test_counts_come_from_the_whole_segmentation_then_from_strokes(large):
    assert large.binding.pixel_counts[7] == 100 * 200
    large.binding.start_instance(ORANGE_FISH)
    label = large.binding.current_label_id
    large.editor.brush_size = 10
    large.stroke([(450, 420), (450, 560)])
    assert large.binding.pixel_counts[label] > 0
    large.check_counts()


def test_a_stroke_is_written_through_and_undo_works_in_the_window(large):
    large.binding.start_instance(ORANGE_FISH)
    label = large.binding.current_label_id
    large.editor.brush_size = 10
    large.stroke([(500, 450), (500, 550)])
    # written into the chunked labels at once: the pyramid and the overview have it
    assert large.labels[500, 500] == label
    levels = large.labels.levels
    assert label in np.asarray(levels[1][240:260, 240:260])
    large.editor.undo()
    assert large.labels[500, 500] == 0
    assert np.count_nonzero(large.editor.data) == 0
    assert label not in large.binding.pixel_counts
    large.editor.redo()
    assert large.labels[500, 500] == label
    large.check_counts()
    # zoomed out (the overview shows) a stroke reaches what napari draws of the overview
    large.look_at(500, 500, zoom=0.3)
    assert large.overview.visible
    second = large.binding.start_instance(ORANGE_FISH)
    large.stroke([(700, 450), (700, 550)])
    assert second in shown(large.overview)
    large.editor.undo()
    assert second not in shown(large.overview)


def test_a_window_move_keeps_counts_and_the_stroke_and_is_no_edit(large):
    segmentation, saver = large.segmentation, autosaver_of(large.editor)
    large.binding.start_instance(ORANGE_FISH)
    label = large.binding.current_label_id
    large.editor.brush_size = 10
    large.stroke([(500, 450), (500, 550)])
    counts = dict(large.binding.pixel_counts)
    generation = saver._generation
    before = segmentation.window
    large.look_at(5050, 5100)
    assert segmentation.window != before
    assert segmentation.window[0].start <= 5050 < segmentation.window[0].stop
    # the editor shows the new place: the object there, at its world position
    y0, x0 = (s.start for s in segmentation.window)
    assert large.editor.translate[0] == y0 and large.editor.translate[1] == x0
    np.testing.assert_array_equal(large.editor.data, large.labels[segmentation.window])
    assert large.editor.data[5050 - y0, 5100 - x0] == 7
    # not a data replacement: counts kept, autosave saw no edit, history cleared
    assert large.binding.pixel_counts == counts
    assert saver._generation == generation
    large.editor.undo()
    assert large.labels[500, 500] == label  # nothing to undo from before the move
    # the overview shows the stroke made in the old window
    assert np.asarray(large.overview.data[0][500, 500]) == label
    large.look_at(3000, 3000, zoom=0.05)
    assert label in shown(large.overview)  # what napari draws of it now
    large.look_at(5050, 5100)
    # painting at the new place counts right
    large.binding.start_instance(ORANGE_FISH)
    second = large.binding.current_label_id
    large.stroke([(5040, 5020), (5040, 5300)])
    assert large.labels[5040, 5100] == second
    large.check_counts()
    # and back: the first stroke is in the editor again
    large.look_at(500, 500)
    y0, x0 = (s.start for s in segmentation.window)
    assert large.editor.data[500 - y0, 500 - x0] == label
    large.check_counts()


def test_zoomed_out_the_window_stays(large):
    window = large.segmentation.window
    large.look_at(3000, 3000, zoom=0.05)
    assert large.segmentation.window == window


def test_locks_and_draw_to_back_hold_on_the_window(large):
    binding = large.binding
    large.look_at(5050, 5100)
    binding.document.set_locked(7, True)
    binding.start_instance(ORANGE_FISH)
    label = binding.current_label_id
    large.editor.brush_size = 20
    large.stroke([(5050, 4950), (5050, 5250)])
    assert large.labels[5050, 5100] == 7  # locked: kept
    assert large.labels[5050, 4960] == label
    binding.document.set_locked(7, False)
    large.editor.preserve_labels = True
    binding.start_instance(ORANGE_FISH)
    third = binding.current_label_id
    large.stroke([(5075, 4950), (5075, 5250)])
    assert large.labels[5075, 5100] == 7  # draw to back: only background painted
    assert large.labels[5075, 5230] == third
    large.check_counts()


def test_full_labels_has_every_edit_and_writers_use_it(large, tmp_path):
    from napari_segtool._napari.io_hooks import layer_pixels

    large.binding.start_instance(ORANGE_FISH)
    label = large.binding.current_label_id
    large.editor.brush_size = 6
    large.stroke([(300, 300), (300, 340)])
    large.look_at(5050, 5100)
    full = full_labels(large.editor)
    assert full is large.labels
    assert full.shape == (SIZE, SIZE)
    assert full[300, 320] == label and full[5050, 5100] == 7
    assert layer_pixels(large.editor, "ome-zarr") is large.labels


def test_whole_instance_edits_need_the_whole_instance_in_the_window(large):
    from napari_segtool._napari.cleanup import clean_instances

    large.look_at(5050, 5100)
    with pytest.raises(DocumentError, match="reach beyond"):
        large.binding.delete_instance(9)
    with pytest.raises(DocumentError, match="reach beyond"):
        clean_instances(large.editor, [9], "fill_holes")
    assert large.labels[800, 2005] == 9
    large.binding.delete_instance(7)  # all of it in the window
    assert not np.asarray(large.labels[5000:5100, 5000:5200]).any()
    assert 7 not in large.binding.pixel_counts
    large.editor.undo()
    assert large.labels[5050, 5100] == 7
    large.check_counts()


def test_autosave_spills_the_overlay_not_the_volume(large, tmp_path):
    saver = autosaver_of(large.editor)
    large.binding.start_instance(ORANGE_FISH)
    label = large.binding.current_label_id
    large.editor.brush_size = 8
    large.stroke([(600, 600), (600, 660)])
    large.look_at(5050, 5100)
    large.stroke([(5020, 5300), (5020, 5400)])
    assert saver.flush()
    assert saver.last_error is None
    folder = saver.folder
    assert not list(folder.glob(f"*{recovery.SUFFIX}"))  # no copy of 36 million pixels
    (meta_path,) = folder.glob(f"*{recovery.OVERLAY_META_SUFFIX}")
    restored, meta = recovery.read_overlay_recovery(meta_path)
    assert meta["labels_shape"] == [SIZE, SIZE] and meta["layer"]["translate"] == [0.0, 0.0]
    assert restored[600, 630] == label and restored[5020, 5350] == label
    assert restored[5050, 5100] == 7  # written by the fixture: part of the overlay too
    # saving discards the recovery
    saver.mark_saved()
    from napari_segtool._napari.autosave import wait_idle

    wait_idle()
    assert not list(folder.glob("*segtool-overlay*"))


def test_the_wand_reads_the_image_under_the_window(large):
    from napari_segtool._napari.wand import wand_of

    image = np.zeros((SIZE, SIZE), np.uint8)
    rows, cols = np.ogrid[5300 - 30 : 5300 + 31, 5500 - 30 : 5500 + 31]
    disk = (rows - 5300) ** 2 + (cols - 5500) ** 2 <= 30**2
    image[5270:5331, 5470:5531][disk] = 200
    large.viewer.add_image(image, name="cells", contrast_limits=(0, 255))
    large.viewer.layers.selection.active = large.editor
    large.look_at(5300, 5500)
    label = large.binding.start_instance(ORANGE_FISH)
    wand = wand_of(large.editor)
    wand.activate()
    click(large.editor, (5300, 5500))
    painted = np.asarray(large.labels[5270:5331, 5470:5531]) == label
    np.testing.assert_array_equal(painted, disk)
    assert large.binding.pixel_counts[label] == int(disk.sum())


def test_strokes_while_counting_are_counted_once_and_written_after(
    make_napari_viewer, fish, monkeypatch
):
    """The count runs off the UI thread; strokes meanwhile stay in the window."""
    from napari_segtool._qt import large_segmentation as qt_side

    queued = []
    monkeypatch.setattr(qt_side, "run_in_worker", lambda *job: queued.append(job))
    viewer = make_napari_viewer()
    labels = ChunkedLabels.create((3000, 3000), chunks=(CHUNK, CHUNK), dtype=np.uint16)
    labels.write((slice(100, 200), slice(100, 300)), np.full((100, 200), 3, np.uint16))
    labels.write((slice(2800, 2900), slice(2800, 2900)), np.full((100, 100), 4, np.uint16))
    document = Document(fish)
    editor = open_large_segmentation(viewer, labels, document, "big", window_max=WINDOW)
    large = Large(viewer, labels, editor)
    assert large.segmentation.counting and len(queued) == 1
    assert large.binding.pixel_counts == {}  # nothing counted yet
    label = large.binding.start_instance(ORANGE_FISH)
    editor.brush_size = 10
    large.stroke([(150, 50), (150, 250)])  # over object 3: takes some of its pixels
    window = large.segmentation.window
    large.look_at(2850, 2850)
    assert large.segmentation.window == window  # no move while counting
    assert labels[150, 150] == 3  # not written yet: the count sees one state
    with pytest.raises(ValueError, match="still being counted"):
        full_labels(editor)  # a save now would miss the stroke
    job, _description, done, _failed = queued.pop()
    steps = []
    done(job(lambda finished, total: steps.append((finished, total))))
    assert steps and steps[-1][0] == steps[-1][1]
    assert labels[150, 150] == label  # written now
    large.check_counts()
    assert large.binding.pixel_counts[4] == 100 * 100
    assert large.segmentation.window != window  # and the window follows again


def test_a_stack_window_follows_the_sliders(make_napari_viewer, fish):
    viewer = make_napari_viewer()
    labels = ChunkedLabels.create((4, 3000, 3000), chunks=(1, CHUNK, CHUNK), dtype=np.uint16)
    labels.write((2, slice(2000, 2100), slice(2000, 2100)), np.full((100, 100), 5, np.uint16))
    editor = open_large_segmentation(viewer, labels, Document(fish), "stack", window_max=WINDOW)
    wait_for_workers()
    large = Large(viewer, labels, editor)
    large.look_at(2050, 2050)
    viewer.dims.set_current_step(0, 2)
    wait(400)
    window = large.segmentation.window
    assert window[0] == slice(2, 3) and window[1].start <= 2050 < window[1].stop
    assert large.binding.pixel_counts[5] == 100 * 100
    label = large.binding.start_instance(ORANGE_FISH)
    editor.brush_size = 6
    large.stroke([(2, 1900, 1900), (2, 1900, 1960)], dims_displayed=(1, 2))
    assert labels[2, 1900, 1930] == label and not labels[1, 1900, 1930]
    viewer.dims.set_current_step(0, 1)
    wait(400)
    assert large.segmentation.window[0] == slice(1, 2)
    large.check_counts()
    assert np.asarray(large.overview.data[0][2, 1900, 1930]) == label


def test_an_autosaved_overlay_is_offered_and_restored_after_a_crash(make_napari_viewer, fish):
    from napari_segtool._napari.autosave import check_recovery, restore_recovery

    def fresh():
        labels = ChunkedLabels.create((3000, 3000), chunks=(CHUNK, CHUNK), dtype=np.uint16)
        labels.write((slice(100, 200), slice(100, 300)), np.full((100, 200), 3, np.uint16))
        document = Document(fish)
        document.add_instance(3, BLUE_FISH)
        return labels, document

    viewer = make_napari_viewer()
    labels, document = fresh()
    editor = open_large_segmentation(viewer, labels, document, "big", window_max=WINDOW)
    wait_for_workers()
    large = Large(viewer, labels, editor)
    large.look_at(2500, 2500)
    label = large.binding.start_instance(ORANGE_FISH)
    editor.brush_size = 8
    large.stroke([(2500, 2400), (2500, 2600)])
    saver = autosaver_of(editor)
    assert saver.flush()
    viewer.layers.remove(editor)  # the window closes: its work stays in the recovery folder

    labels, document = fresh()
    editor = open_large_segmentation(viewer, labels, document, "big", window_max=WINDOW)
    wait_for_workers()
    info = check_recovery(binding_of(editor), viewer)
    assert info is not None and info.labels_shape == (3000, 3000)
    binding = restore_recovery(binding_of(editor), info)
    wait_for_workers()
    assert labels[2500, 2500] == label and labels[150, 150] == 3
    assert binding.document.instance(label).schema_id == ORANGE_FISH
    large = Large(viewer, labels, editor)
    large.check_counts()
    assert not autosaver_of(editor).has_pending  # the restored file holds this work
    # still a windowed layer that follows the camera and writes through
    large.look_at(2500, 2500)
    y0, x0 = (s.start for s in large.segmentation.window)
    assert editor.data[2500 - y0, 2500 - x0] == label
    second = binding.start_instance(ORANGE_FISH)
    large.stroke([(2520, 2400), (2520, 2600)])
    assert labels[2520, 2500] == second
    large.check_counts()


def test_lines_scribble_and_clean_up_work_on_the_window(large):
    from napari_segtool._napari.cleanup import clean_instances
    from napari_segtool._napari.extents import extents_of
    from napari_segtool._napari.scribble import scribbler_of

    image = np.full((SIZE, SIZE), 40, np.uint8)
    rows, cols = np.ogrid[-15:16, -15:16]
    cell = rows**2 + cols**2 < 15**2  # no one-pixel tips: the watershed keeps no such spur
    image[5285:5316, 5485:5516][cell] = 200
    large.viewer.add_image(image, name="cells", contrast_limits=(0, 255))
    large.viewer.layers.selection.active = large.editor
    large.look_at(5300, 5500)
    binding, editor = large.binding, large.editor
    # Shift+click: a straight line from the last painted point
    line = binding.start_instance(ORANGE_FISH)
    editor.brush_size = 3
    click(editor, (5200, 5400))
    shift_click(editor, (5200, 5460))
    assert np.all(np.asarray(large.labels[5200, 5400:5461]) == line)
    # scribble to region: in the cell and round it
    label = binding.start_instance(ORANGE_FISH)
    scribbler = scribbler_of(editor, large.viewer)
    scribbler.start()
    stroke(editor, [(5298, 5495), (5302, 5505)])
    angles = np.linspace(0, 2 * np.pi, 24)
    stroke(
        editor,
        [(5300 + 23 * np.sin(a), 5500 + 23 * np.cos(a)) for a in angles],
        modifiers=("Shift",),
    )
    scribbler.commit()
    scribbler.stop()
    np.testing.assert_array_equal(np.asarray(large.labels[5285:5316, 5485:5516]) == label, cell)
    # clean-up of an instance inside the window: a hole punched and filled again
    editor.mode = "erase"
    editor.brush_size = 3
    stroke(editor, [(5300, 5500), (5300, 5501)])
    assert large.labels[5300, 5500] == 0
    clean_instances(editor, [label], "fill_holes")
    np.testing.assert_array_equal(np.asarray(large.labels[5285:5316, 5485:5516]) == label, cell)
    large.check_counts()
    # the slice ranges follow a move (they are measured in the new window)
    y0 = large.segmentation.window[0].start
    assert extents_of(binding).extent(label)[0][0] == 5286 - y0
    large.look_at(500, 500)
    assert extents_of(binding).extent(label) is None  # not in this window


def test_the_polygon_tool_is_written_through_too(large):
    """napari's polygon tool sends ``paint`` before it writes its pixels."""
    large.look_at(3000, 3000, zoom=0.3)  # the overview shows
    label = large.binding.start_instance(ORANGE_FISH)
    y0, x0 = (s.start for s in large.segmentation.window)
    # the tool's vertices are the editor's data coordinates (its window's pixels)
    large.editor.paint_polygon(np.array([[100, 100], [100, 300], [300, 300], [300, 100]]), label)
    assert large.labels[y0 + 200, x0 + 200] == label  # no flush needed
    assert label in shown(large.overview)
    large.check_counts()


def test_measure_measures_the_whole_segmentation(large):
    from napari_segtool._qt.measure_panel import layer_snapshot

    large.look_at(500, 500)
    table = layer_snapshot(large.viewer, large.editor, large.binding.document)()
    areas = dict(zip(table["label_id"], table["area"], strict=True))
    assert areas[7] == 100 * 200 and areas[9] == 1400 * 10  # neither is in the window


def test_the_window_waits_for_a_stroke_to_end(large):
    label = large.binding.start_instance(ORANGE_FISH)
    large.editor.brush_size = 6
    window = large.segmentation.window
    press(large.editor, (500, 450))
    drag_to(large.editor, (500, 480))
    large.look_at(5050, 5100)  # a wheel zoom while the button is down
    assert large.segmentation.window == window
    drag_to(large.editor, (500, 500))
    release(large.editor, (500, 500))
    wait(400)
    assert large.segmentation.window != window
    assert large.labels[500, 490] == label
    large.check_counts()


def test_deleting_the_overview_asks_for_the_unsaved_editor(large):
    from napari_segtool._napari.close_guard import dirty_layers

    large.binding.start_instance(ORANGE_FISH)
    large.editor.brush_size = 6
    large.stroke([(300, 300), (300, 340)])
    assert dirty_layers([large.overview]) == [large.editor]
    assert dirty_layers([large.overview, large.editor]) == [large.editor]


def test_one_array_of_a_segmentation_too_large_for_it_is_refused(large):
    from napari_segtool._napari.io_hooks import CHUNKED_WRITERS, layer_pixels

    large.labels.array_limit = 1024  # bytes: stands for a segmentation of many GB
    with pytest.raises(ValueError, match="too large to be written as one array"):
        layer_pixels(large.editor)  # a writer that wants one array
    for name in CHUNKED_WRITERS:  # every format's writer reads it box by box
        assert layer_pixels(large.editor, name) is large.labels


def test_a_new_segmentation_of_a_large_image_is_windowed_and_allocates_nothing(
    make_napari_viewer,
):
    """Layers > New segmentation layer on a 40,000 x 40,000 image (lazy, like a large
    OME-Zarr): labels chunked like the image, nothing stored until painted."""
    import dask.array as da

    from napari_segtool._napari.commands import add_segmentation_layer

    viewer = make_napari_viewer()
    side = 40_000
    levels = [da.zeros((side // 2**k,) * 2, np.uint8, chunks=512) for k in range(4)]
    image = viewer.add_image(levels, multiscale=True, name="slide", scale=(0.5, 0.5))
    editor = add_segmentation_layer(viewer, image)
    wait_for_workers()
    assert is_windowed(editor) and editor.name == "slide segmentation"
    labels = full_labels(editor)
    assert isinstance(labels, ChunkedLabels) and labels.shape == (side, side)
    assert labels.chunks == (512, 512)
    assert labels.level_shapes == [tuple(level.shape) for level in levels]
    assert sum(labels.stored_chunk_count(level=k) for k in range(4)) == 0
    assert tuple(editor.scale) == (0.5, 0.5)
    assert max(editor.data.shape) <= 4096  # the window, not the image
    assert viewer.layers.selection.active is editor
    assert [layer.name for layer in viewer.layers] == [
        "slide",
        "slide segmentation" + OVERVIEW_SUFFIX,
        "slide segmentation",
    ]


def test_the_large_tissue_sample_opens_windowed_and_saves_into_its_store(
    make_napari_viewer, tmp_path, monkeypatch
):
    """File > Open Sample > Tissue past the large-image size: chunked labels over the image's
    levels, one stroke, the dock's save into the sample's own store, reopened with classes."""
    from napari_segtool import PLUGIN_NAME
    from napari_segtool._napari.binding import document_of
    from napari_segtool._napari.io_ome_zarr import SAMPLE_LAYER_NAME, save_ome_zarr
    from napari_segtool.formats import registry

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("NAPARI_SEGTOOL_TISSUE_SIZE", "4200")
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "tissue")
    wait(50)  # the segmentation follows the image in
    wait_for_workers()
    image, overview, editor = viewer.layers
    assert image.multiscale and editor.name == SAMPLE_LAYER_NAME and is_windowed(editor)
    assert overview is large_segmentation_of(editor).overview
    labels = full_labels(editor)
    assert labels.level_shapes == [tuple(shape) for shape in image.level_shapes]
    assert labels.stored_chunk_count() == 0 and labels.dtype == np.uint16
    assert viewer.layers.selection.active is editor
    binding = binding_of(editor)
    schema = document_of(editor).ontology.segmentation_classes[0].feature_schema_id
    binding.start_instance(schema)
    label = binding.current_label_id
    origin = np.asarray(editor.translate)
    editor.brush_size = 8
    stroke(editor, [(origin[0] + 100, origin[1] + 100), (origin[0] + 100, origin[1] + 160)])
    assert labels[int(origin[0]) + 100, int(origin[1]) + 130] == label
    store = document_of(editor).source["ome_zarr"]["path"]
    result = save_ome_zarr(viewer, editor, store)
    assert str(result.written[0]).endswith(".ome.zarr")
    (read,) = registry.get("ome-zarr").read(store).labels
    assert read.name == "tissue_segmentation"
    assert read.data[int(origin[0]) + 100, int(origin[1]) + 130] == label
    assert read.document.instances[label].schema_id == schema
