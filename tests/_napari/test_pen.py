"""The pen: Shift+click straight lines, hold Alt to erase, the moved resize gesture.

Every test drives real input: mouse events through the layer's napari
callbacks, keys through the viewer's canvas. Pixels are compared exactly with
shapes computed here from the geometry (napari's round brush swept along a
segment).
"""

from __future__ import annotations

import numpy as np
import pytest
from napari.settings import get_settings
from PIL import Image, ImageDraw

from napari_segtool._napari import pen as _pen
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.lock_guard import install_lock_guard
from napari_segtool._napari.pen import (
    PEN_RESIZE_MODIFIERS,
    attach_pen,
    pen_of,
    pen_resize_modifiers,
)
from napari_segtool.model.document import Document
from napari_segtool.model.ontology import Ontology
from tests.napari_input import (
    RIGHT,
    click,
    hover,
    key_press,
    key_release,
    press,
    release,
    shift_click,
    stroke,
)

ORANGE, BLUE, WATER = (
    "cjxtjkpjai8t80846iwqaa1d8",
    "cjxtjkpjai8t90846yzpbpo7t",
    "cjxtk7z5qi5s90794v7wvseu6",
)
SHAPE = (60, 80)


def capsule(start, end, brush_size, shape=SHAPE) -> np.ndarray:
    """Pixels whose centre lies within napari's brush radius of segment start-end."""
    a = np.round(np.asarray(start, dtype=float))
    b = np.round(np.asarray(end, dtype=float))
    radius = np.floor(brush_size / 2) + 0.5
    rows, cols = np.indices(shape, dtype=float)
    d = b - a
    length_sq = float(d @ d)
    t = 0.0 if length_sq == 0 else ((rows - a[0]) * d[0] + (cols - a[1]) * d[1]) / length_sq
    t = np.clip(t, 0, 1)
    return (rows - a[0] - t * d[0]) ** 2 + (cols - a[1] - t * d[1]) ** 2 <= radius**2


def polygon(vertices, shape=SHAPE) -> np.ndarray:
    """The polygon as napari rasterises it (PIL, outline included)."""
    image = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(image).polygon([(c, r) for r, c in vertices], outline=1, fill=1)
    return np.array(image, dtype=bool)


@pytest.fixture
def ontology(reference_dir) -> Ontology:
    return Ontology.load(reference_dir / "ontology.fish.json")


@pytest.fixture
def layer(make_napari_viewer, ontology):
    viewer = make_napari_viewer()
    layer = viewer.add_labels(
        np.zeros(SHAPE, dtype=np.uint16),
        **segmentation_layer_kwargs(Document(ontology), "tank"),
    )
    layer.mode = "paint"
    layer.selected_label = 3
    layer.brush_size = 5
    layer.viewer = viewer  # for the key tests
    yield layer
    pen = pen_of(layer)
    if pen is not None:
        pen.detach()


def painted(layer, label=3) -> np.ndarray:
    return np.asarray(layer.data) == label


# -- straight lines -----------------------------------------------------------------------
@pytest.mark.parametrize("brush_size", [1, 4, 7])
@pytest.mark.parametrize("end", [(10, 70), (50, 12), (48, 5)])
def test_shift_click_paints_a_straight_segment_of_brush_width(layer, brush_size, end):
    attach_pen(layer)
    layer.brush_size = brush_size
    click(layer, (8, 6))
    shift_click(layer, end)
    assert np.array_equal(painted(layer), capsule((8, 6), end, brush_size))


def test_lines_continue_as_a_polyline_one_undo_step_per_segment(layer):
    pen = attach_pen(layer)
    click(layer, (8, 6))
    history = len(layer._undo_history)
    shift_click(layer, (8, 70))
    assert len(layer._undo_history) == history + 1
    first = capsule((8, 6), (8, 70), 5)
    assert np.array_equal(painted(layer), first)
    shift_click(layer, (50, 40.4))  # the next segment starts where the last one ended
    assert len(layer._undo_history) == history + 2
    both = first | capsule((8, 70), (50, 40), 5)
    assert np.array_equal(painted(layer), both)
    assert np.allclose(pen.anchor, (50, 40.4))

    layer.undo()
    assert np.array_equal(painted(layer), first)
    layer.undo()
    assert np.array_equal(painted(layer), capsule((8, 6), (8, 6), 5))  # the first click's dab
    layer.redo()
    layer.redo()
    assert np.array_equal(painted(layer), both)


def test_a_line_starts_where_the_last_freehand_stroke_ended(layer):
    attach_pen(layer)
    stroke(layer, [(5, 5), (5, 30), (20, 30)])
    before = painted(layer)
    shift_click(layer, (50, 70))
    assert np.array_equal(painted(layer), before | capsule((20, 30), (50, 70), 5))


def test_lines_erase_in_erase_mode(layer):
    attach_pen(layer)
    layer.data_setitem(np.nonzero(np.ones(SHAPE)), 3)
    layer.mode = "erase"
    click(layer, (30, 2))
    shift_click(layer, (10, 77))
    assert np.array_equal(np.asarray(layer.data) == 0, capsule((30, 2), (10, 77), 5))


def test_shift_clicking_the_first_point_closes_and_fills_the_outline(layer):
    attach_pen(layer)
    layer.brush_size = 1
    click(layer, (10, 10))
    shift_click(layer, (10, 60))
    shift_click(layer, (50, 60))
    before_closing = painted(layer)
    history = len(layer._undo_history)
    shift_click(layer, (11, 11))  # within reach of (10, 10): closes the outline
    assert len(layer._undo_history) == history + 1  # segment and fill: one step
    corners = [(10, 10), (10, 60), (50, 60)]
    expected = polygon(corners)
    for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
        expected |= capsule(a, b, 1)
    assert np.array_equal(painted(layer), expected)
    layer.undo()
    assert np.array_equal(painted(layer), before_closing)


def test_lines_respect_draw_to_back(layer):
    attach_pen(layer)
    fish = np.zeros(SHAPE, dtype=bool)
    fish[20:40, 30:50] = True
    layer.data_setitem(np.nonzero(fish), 1)
    layer.preserve_labels = True
    click(layer, (30, 2))
    shift_click(layer, (30, 77))  # straight through the fish
    line = capsule((30, 2), (30, 77), 5)
    assert np.array_equal(np.asarray(layer.data) == 1, fish)
    assert np.array_equal(painted(layer), line & ~fish)


def test_shift_click_without_a_previous_point_is_a_dab_and_right_button_is_napari(layer):
    pen = attach_pen(layer)
    shift_click(layer, (30, 30))
    assert np.array_equal(painted(layer), capsule((30, 30), (30, 30), 5))
    assert np.allclose(pen.anchor, (30, 30))
    # Shift+right-click: napari's encircle starts (its first dab), no line
    press(layer, (30, 60), modifiers=("Shift",), button=RIGHT)
    release(layer, (30, 60), modifiers=("Shift",), button=RIGHT)
    dabs = capsule((30, 30), (30, 30), 5) | capsule((30, 60), (30, 60), 5)
    assert np.array_equal(painted(layer), dabs)
    assert layer._overlays["brush_stroke"].active
    layer._overlays["brush_stroke"].abort(layer)
    # another object starts afresh: its first Shift+click is a dab, not a line
    click(layer, (10, 10))
    layer.selected_label = 4
    assert pen.anchor is None
    shift_click(layer, (10, 50))
    assert np.array_equal(painted(layer, 4), capsule((10, 50), (10, 50), 5))


def test_lines_follow_the_pen_across_mode_changes(layer):
    attach_pen(layer)
    click(layer, (10, 10))
    layer.mode = "fill"
    layer.mode = "erase"
    layer.mode = "paint"  # napari re-installs the mode callbacks from our tables
    shift_click(layer, (10, 50))
    assert np.array_equal(painted(layer), capsule((10, 10), (10, 50), 5))


# -- hold Alt to erase, Ctrl+Alt to resize ------------------------------------------------------
def test_holding_alt_erases_until_released(layer):
    attach_pen(layer)
    viewer = layer.viewer
    layer.data_setitem(np.nonzero(np.ones(SHAPE)), 3)
    key_press(viewer, "Alt")
    assert layer.mode == "erase"
    stroke(layer, [(10, 5), (10, 70)], modifiers=("Alt",))
    assert np.array_equal(np.asarray(layer.data) == 0, capsule((10, 5), (10, 70), 5))
    shift_click(layer, (50, 70), modifiers=("Alt",))  # an erasing line
    assert np.array_equal(
        np.asarray(layer.data) == 0,
        capsule((10, 5), (10, 70), 5) | capsule((10, 70), (50, 70), 5),
    )
    key_release(viewer, "Alt")
    assert layer.mode == "paint"
    stroke(layer, [(10, 5), (10, 70), (50, 70)])  # paints again over both erased lines
    assert (np.asarray(layer.data) == 3).all()

    layer.mode = "fill"  # Alt only switches the brush
    key_press(viewer, "Alt")
    assert layer.mode == "fill"
    key_release(viewer, "Alt")
    assert layer.mode == "fill"


def test_alt_moves_do_not_resize_ctrl_alt_does_and_detach_restores_napari(layer):
    setting = get_settings().application.brush_size_on_mouse_move_modifiers
    assert pen_resize_modifiers() == PEN_RESIZE_MODIFIERS  # napari's default is Alt
    napari_drag = list(layer.mouse_drag_callbacks)
    napari_move = list(layer.mouse_move_callbacks)
    pen = attach_pen(layer)

    hover(layer, (30, 30), modifiers=("Alt",), pos=(100, 100))
    hover(layer, (30, 30), modifiers=("Alt",), pos=(130, 100))
    assert layer.brush_size == 5 and layer.cursor == "circle"
    hover(layer, (30, 30), modifiers=("Control", "Alt"), pos=(100, 100))
    assert layer.cursor == "circle_frozen"  # napari's "resizing, do not paint"
    hover(layer, (30, 30), modifiers=("Control", "Alt"), pos=(112, 100))
    assert layer.brush_size == 17
    hover(layer, (30, 30), pos=(112, 100))
    assert layer.cursor == "circle"
    assert get_settings().application.brush_size_on_mouse_move_modifiers == setting

    pen.detach()
    assert get_settings().application.brush_size_on_mouse_move_modifiers == setting
    assert layer.mouse_drag_callbacks == napari_drag
    assert layer.mouse_move_callbacks == napari_move
    assert "_drag_modes" not in vars(layer) and "_move_modes" not in vars(layer)
    assert not layer.keymap
    hover(layer, (30, 30), modifiers=("Alt",), pos=(100, 100))
    hover(layer, (30, 30), modifiers=("Alt",), pos=(103, 100))
    assert layer.brush_size == 20  # napari's own Alt gesture is back
    hover(layer, (30, 30), pos=(103, 100))
    key_press(layer.viewer, "Alt")
    assert layer.mode == "paint"  # Alt no longer erases
    key_release(layer.viewer, "Alt")


def test_the_users_own_resize_modifiers_are_kept_unless_they_are_alt(monkeypatch):
    monkeypatch.setattr(_pen, "napari_resize_modifiers", lambda: ("Control",))
    assert pen_resize_modifiers() == ("Control",)
    monkeypatch.setattr(_pen, "napari_resize_modifiers", lambda: ("Control", "Shift"))
    assert pen_resize_modifiers() == ("Control", "Shift")
    monkeypatch.setattr(_pen, "napari_resize_modifiers", lambda: ("Alt",))
    assert pen_resize_modifiers() == ("Control", "Alt")
    assert _pen.describe_modifiers(("Control", "Alt")) == "Ctrl+Alt"


def test_attaching_twice_replaces_the_pen(layer):
    first = attach_pen(layer)
    second = attach_pen(layer)
    assert not first.attached and second.attached and pen_of(layer) is second
    assert layer.mouse_drag_callbacks.count(second._drag_callback) == 1
    second.erase = True
    assert layer.mode == "erase" and second.erase
    second.erase = False
    assert layer.mode == "paint"


# -- the new user's tank ------------------------------------------------------------------------
def test_two_fish_one_locked_water_drawn_to_back_then_erased(layer):
    """Draw two fish, lock one, Water with draw to back, scribble everywhere, erase across."""
    viewer = layer.viewer
    binding = binding_of(layer)
    document = binding.document
    install_lock_guard(layer, document)
    attach_pen(layer)

    orange = binding.start_instance(ORANGE)
    layer.brush_size = 9
    stroke(layer, [(15, 12), (15, 30), (25, 30), (25, 12)])
    blue = binding.start_instance(BLUE)
    click(layer, (40, 50))
    shift_click(layer, (45, 70))  # a straight-edged fish
    assert document.instance(orange).schema_id == ORANGE
    assert document.instance(blue).schema_id == BLUE
    document.set_locked(orange, True)
    fish = np.asarray(layer.data).copy()
    assert (fish == orange).sum() > 100 and (fish == blue).sum() > 100

    water = binding.start_instance(WATER)
    key_press(viewer, "B")  # napari's own draw-to-back key
    key_release(viewer, "B")
    assert layer.preserve_labels
    layer.brush_size = 15
    scribble = [(row, col) for row in range(0, 64, 8) for col in ((0, 79) if row % 16 else (79, 0))]
    stroke(layer, scribble)
    after_scribble = np.asarray(layer.data)
    assert np.array_equal(after_scribble[fish > 0], fish[fish > 0])  # pixel for pixel
    assert (after_scribble[fish == 0] == water).all()  # the water fills the rest

    layer.mode = "erase"
    stroke(layer, [(0, 0), (59, 79)])
    click(layer, (59, 0))
    shift_click(layer, (0, 79))
    after_erase = np.asarray(layer.data)
    assert np.array_equal(after_erase[fish > 0], fish[fish > 0])  # both fish intact
    erased = after_erase == 0
    assert erased.sum() > 300 and not (erased & (fish > 0)).any()
    assert (after_erase[(fish == 0) & ~erased] == water).all()

    # without draw to back the eraser takes the unlocked fish, never the locked one
    layer.preserve_labels = False
    stroke(layer, [(0, 0), (59, 79)])
    shift_click(layer, (0, 79))
    final = np.asarray(layer.data)
    assert np.array_equal(final == orange, fish == orange)
    assert (final == blue).sum() < (fish == blue).sum()
    # the binding's pixel counts (read from napari's history) saw only real changes
    values, counts = np.unique(final, return_counts=True)
    expected = {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}
    assert binding.pixel_counts == expected


def test_lines_in_a_volume_follow_napari_s_edit_dimensions():
    from napari.layers import Labels

    volume = Labels(np.zeros((7, 30, 30), dtype=np.uint8))
    volume.mode = "paint"
    volume.selected_label = 2
    volume.brush_size = 3
    pen = attach_pen(volume)
    click(volume, (3, 5, 5))
    shift_click(volume, (3, 20, 25))  # 2D editing: the line stays in plane 3
    plane = capsule((5, 5), (20, 25), 3, shape=(30, 30))
    assert np.array_equal(np.asarray(volume.data)[3] == 2, plane)
    assert np.count_nonzero(np.asarray(volume.data)) == plane.sum()

    volume.n_edit_dimensions = 3  # 3D editing: a ball swept along the line
    volume.selected_label = 4
    click(volume, (1, 5, 25))
    shift_click(volume, (5, 25, 5))
    z, y, x = np.indices((7, 30, 30), dtype=float)
    a, b = np.array([1, 5, 25.0]), np.array([5, 25, 5.0])
    d = b - a
    t = np.clip(((z - a[0]) * d[0] + (y - a[1]) * d[1] + (x - a[2]) * d[2]) / (d @ d), 0, 1)
    ball = (z - a[0] - t * d[0]) ** 2 + (y - a[1] - t * d[1]) ** 2 + (x - a[2] - t * d[2]) ** 2
    assert np.array_equal(np.asarray(volume.data) == 4, ball <= 1.5**2)
    pen.detach()
