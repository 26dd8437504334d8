"""The lock guard: locked (and hidden) pixels survive every napari tool, undo stays exact.

The first tests pin the private napari hook the guard wraps: if napari
changes ``Labels._apply_mask_to_data`` (or stops routing its tools through
it), they fail with a message saying what moved.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from napari.layers import Labels

from napari_segtool._napari import compat
from napari_segtool._napari.binding import document_of, segmentation_layer_kwargs
from napari_segtool._napari.compat import HOOK_NAME, HOOK_PARAMETERS
from napari_segtool._napari.lock_guard import (
    LockGuardUnavailableWarning,
    ProtectedLabels,
    guard_of,
    hook_problem,
    install_lock_guard,
)
from napari_segtool._napari.pen import attach_pen
from napari_segtool.model.document import Document
from napari_segtool.model.ontology import Ontology
from tests.napari_input import RIGHT, click, hover, press, release, shift_click, stroke

ORANGE, BLUE, WATER = (
    "cjxtjkpjai8t80846iwqaa1d8",
    "cjxtjkpjai8t90846yzpbpo7t",
    "cjxtk7z5qi5s90794v7wvseu6",
)


@pytest.fixture
def ontology(reference_dir) -> Ontology:
    return Ontology.load(reference_dir / "ontology.fish.json")


def tank(ontology: Ontology) -> tuple[np.ndarray, Document]:
    """A 60 x 80 tank: orange fish 1 (square), blue fish 2 (disk)."""
    data = np.zeros((60, 80), dtype=np.uint16)
    data[10:30, 10:30] = 1
    yy, xx = np.ogrid[:60, :80]
    data[(yy - 42) ** 2 + (xx - 55) ** 2 <= 12**2] = 2
    document = Document(ontology)
    document.add_instance(1, ORANGE)
    document.add_instance(2, BLUE)
    return data, document


def add_tank(viewer, ontology) -> Labels:
    data, document = tank(ontology)
    layer = viewer.add_labels(data, **segmentation_layer_kwargs(document, "tank"))
    layer.brush_size = 5
    return layer


# -- the private hook -----------------------------------------------------------------
def test_napari_hook_is_the_one_the_guard_was_written_for():
    parameters = tuple(inspect.signature(getattr(Labels, HOOK_NAME)).parameters)
    assert parameters == HOOK_PARAMETERS, (
        f"napari changed Labels.{HOOK_NAME}{parameters}: the lock guard wraps it and must "
        "be revisited (napari_segtool/_napari/compat.py)"
    )
    # every mask tool reaches the hook through _paint_region_with_mask
    for tool in ("paint", "fill", "paint_polygon"):
        assert "_paint_region_with_mask" in getattr(Labels, tool).__code__.co_names, (
            f"Labels.{tool} no longer paints through _paint_region_with_mask"
        )
    assert HOOK_NAME in Labels._paint_region_with_mask.__code__.co_names, (
        f"Labels._paint_region_with_mask no longer calls {HOOK_NAME}: locks would be bypassed"
    )
    compat.forget_checks()
    assert hook_problem(Labels) is None


def test_a_changed_hook_disables_locks_with_a_clear_warning(monkeypatch, ontology):
    def changed(self, data, mask, new_label, volume_slice, extra):  # a new napari
        raise AssertionError("never called")

    monkeypatch.setattr(Labels, HOOK_NAME, changed)
    monkeypatch.setattr(compat, "_problems", {})
    data, document = tank(ontology)
    layer = Labels(data.copy())
    with pytest.warns(LockGuardUnavailableWarning, match="locks are OFF"):
        assert install_lock_guard(layer, document) is None
    assert HOOK_NAME not in layer.__dict__
    assert "data_setitem" not in layer.__dict__


def test_a_hook_that_misbehaves_fails_the_probe(monkeypatch):
    original = Labels._apply_mask_to_data

    def ignores_its_mask(self, data, mask, new_label, volume_slice):
        return original(self, data, np.ones_like(mask), new_label, volume_slice)

    monkeypatch.setattr(Labels, HOOK_NAME, ignores_its_mask)
    monkeypatch.setattr(compat, "_problems", {})
    assert "protected pixels changed" in hook_problem(Labels)


# -- the lookup ---------------------------------------------------------------------------
def test_protected_labels_lookup_handles_any_integer_dtype():
    protected = ProtectedLabels([3, 7])
    for dtype in (np.uint8, np.int8, np.uint16, np.int32, np.uint32, np.int64, np.uint64):
        values = np.array([0, 3, 4, 7, 8, 100], dtype=dtype)
        assert protected.mask(values).tolist() == [False, True, False, True, False, False]
    assert protected.mask(np.array([-7, -3, 3], dtype=np.int16)).tolist() == [False, False, True]
    huge = ProtectedLabels([5, 2**40])  # beyond the look-up table: np.isin
    values = np.array([5, 2**40, 2**40 + 1, 0], dtype=np.uint64)
    assert huge.mask(values).tolist() == [True, True, False, False]
    assert not ProtectedLabels().mask(values).any()


# -- every tool ---------------------------------------------------------------------------
def test_locked_pixels_survive_every_tool_and_undo_redo_is_exact(make_napari_viewer, ontology):
    viewer = make_napari_viewer()
    layer = add_tank(viewer, ontology)
    document = document_of(layer)
    guard = install_lock_guard(layer, document)
    attach_pen(layer)
    document.set_locked(1, True)  # an instance lock
    document.set_class_locked(BLUE, True)  # a class lock
    assert guard.protected_ids == {1, 2}
    start = np.asarray(layer.data).copy()
    fish = start > 0

    def fish_intact():
        now = np.asarray(layer.data)
        assert np.array_equal(now[fish], start[fish]), "a locked pixel changed"
        return now

    snapshots = [start.copy()]

    def step(description):
        now = fish_intact()
        assert not np.array_equal(now, snapshots[-1]), f"{description} changed nothing"
        snapshots.append(now.copy())

    layer.mode = "paint"
    layer.selected_label = 3
    stroke(layer, [(20, 2), (20, 78), (45, 78), (45, 2)])  # through both fish
    step("the brush")

    shift_click(layer, (5, 5))  # a line from (45, 2) straight across the orange fish
    step("a straight line")

    layer.mode = "erase"
    stroke(layer, [(15, 0), (50, 79)])
    step("the eraser")
    shift_click(layer, (45, 0))  # from (50, 79) back along the painted band
    step("an erasing line")

    layer.selected_label = 4
    layer.fill((15, 15), 4)  # on the locked orange fish: nothing may happen
    assert np.array_equal(np.asarray(layer.data), snapshots[-1])
    layer.fill((2, 40), 4)  # the background around the fish
    step("fill")
    layer.contiguous = False
    layer.fill((58, 2), 5)
    step("non-contiguous fill")

    layer.paint_polygon([(0, 0), (0, 79), (59, 79), (59, 0)], 6)  # the whole tank
    step("polygon")

    layer.mode = "paint"
    layer.selected_label = 7
    press(layer, (42, 30), button=RIGHT)  # napari's right-click encircle
    release(layer, (42, 30), button=RIGHT)
    for angle in np.linspace(0, 2 * np.pi, 40):
        hover(layer, (42 + 17 * np.sin(angle), 55 - 25 * np.cos(angle)))
    step("right-click encircle")

    layer.data_setitem((np.array([15, 42, 0]), np.array([15, 55, 0])), 8)
    now = fish_intact()
    assert now[0, 0] == 8
    snapshots.append(now.copy())

    for expected in reversed(snapshots[:-1]):
        layer.undo()
        assert np.array_equal(np.asarray(layer.data), expected)
    for expected in snapshots[1:]:
        layer.redo()
        assert np.array_equal(np.asarray(layer.data), expected)


def test_unlocking_makes_pixels_editable_and_hidden_instances_are_protected(ontology):
    data, document = tank(ontology)
    layer = Labels(data.copy())
    guard = install_lock_guard(layer, document)
    assert guard.protected_ids == frozenset()

    document.set_hidden(2, True)  # hidden: protected while hidden
    document.set_class_locked(ORANGE, True)
    assert guard.protected_ids == {1, 2}
    document.add_instance(3, ORANGE)  # a new instance of a locked class
    assert guard.is_protected(3)

    layer.paint_polygon([(0, 0), (0, 79), (59, 79), (59, 0)], 9)
    assert np.array_equal(np.asarray(layer.data)[data > 0], data[data > 0])

    document.set_class_locked(ORANGE, False)
    document.set_hidden(2, False)
    assert guard.protected_ids == frozenset()
    layer.paint_polygon([(0, 0), (0, 79), (59, 79), (59, 0)], 9)
    assert (np.asarray(layer.data) == 9).all()

    document.set_class_hidden(BLUE, True)
    assert guard.protected_ids == {2}
    document.remove_instance(2)
    assert guard.protected_ids == frozenset()


def test_hidden_protection_can_be_turned_off(ontology):
    data, document = tank(ontology)
    layer = Labels(data.copy())
    document.set_hidden(2, True)
    guard = install_lock_guard(layer, document, protect_hidden=False)
    assert guard.protected_ids == frozenset()


def test_plugin_operations_skip_locked_pixels(ontology):
    data, document = tank(ontology)
    layer = Labels(data.copy())
    guard = install_lock_guard(layer, document)
    document.set_locked(1, True)

    assert guard.writable_mask(np.array([0, 1, 2])).tolist() == [True, False, True]
    rows, cols = np.nonzero(np.asarray(layer.data) > 0)  # "delete all fish"
    kept_rows, kept_cols = guard.unlocked_indices((rows, cols))
    assert set(np.asarray(layer.data)[kept_rows, kept_cols].tolist()) == {2}

    # data_setitem (the dock's path) drops locked pixels even when called blindly
    layer.data_setitem((rows, cols), 0)
    assert np.array_equal(np.asarray(layer.data) == 1, data == 1)
    assert not (np.asarray(layer.data) == 2).any()
    values = np.where(data[rows, cols] == 1, 5, 6)  # an array of new values
    layer.data_setitem((rows, cols), values)
    assert np.array_equal(np.asarray(layer.data) == 1, data == 1)
    assert np.array_equal(np.asarray(layer.data) == 6, data == 2)
    layer.undo()
    layer.undo()
    assert np.array_equal(np.asarray(layer.data), data)


def test_locks_hold_when_painting_one_plane_of_a_volume(ontology):
    volume = np.zeros((3, 20, 20), dtype=np.uint8)
    volume[1, 5:15, 5:15] = 1
    document = Document(ontology)
    document.add_instance(1, ORANGE)
    document.set_locked(1, True)
    layer = Labels(volume.copy())
    install_lock_guard(layer, document)
    layer.brush_size = 30
    layer.paint((1, 10, 10), 2)  # napari paints the displayed 2D plane
    painted = np.asarray(layer.data)
    assert np.array_equal(painted[1] == 1, volume[1] == 1)
    assert (painted[1][volume[1] == 0] == 2).all()
    assert not painted[0].any() and not painted[2].any()


def test_uninstall_gives_napari_its_hook_back(ontology):
    data, document = tank(ontology)
    layer = Labels(data.copy())
    guard = install_lock_guard(layer, document)
    assert guard_of(layer) is guard
    again = install_lock_guard(layer, document)  # replaces, never stacks
    assert not guard.installed and guard_of(layer) is again
    again.uninstall()
    assert HOOK_NAME not in layer.__dict__ and "data_setitem" not in layer.__dict__
    assert guard_of(layer) is None
    document.set_locked(1, True)  # no longer listened to
    layer.paint_polygon([(0, 0), (0, 79), (59, 79), (59, 0)], 9)
    assert (np.asarray(layer.data) == 9).all()


def test_a_wrapper_installed_after_the_guard_is_not_removed(ontology):
    data, document = tank(ontology)
    layer = Labels(data.copy())
    guard = install_lock_guard(layer, document)
    document.set_locked(1, True)
    guarded = layer._apply_mask_to_data
    calls = []

    def someone_elses(*args):
        calls.append(1)
        return guarded(*args)

    layer._apply_mask_to_data = someone_elses
    guard.uninstall()
    assert layer._apply_mask_to_data is someone_elses
    layer.paint_polygon([(0, 0), (0, 79), (59, 79), (59, 0)], 9)
    assert calls and (np.asarray(layer.data) == 9).all()  # our part passes through


def test_shift_click_lines_and_clicks_need_no_viewer(ontology):
    data, document = tank(ontology)
    layer = Labels(data.copy())
    install_lock_guard(layer, document)
    document.set_locked(2, True)
    attach_pen(layer)
    layer.mode = "paint"
    layer.selected_label = 3
    layer.brush_size = 3
    click(layer, (42, 0))
    shift_click(layer, (42, 79))  # straight through the locked blue fish
    after = np.asarray(layer.data)
    assert np.array_equal(after == 2, data == 2)
    assert (after[42, :] == np.where(data[42, :] == 2, 2, 3)).all()
