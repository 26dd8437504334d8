"""Every tool on 3-D and 4-D segmentation layers, through napari and the dock.

Each test drives real layer operations (mouse strokes through napari's
callbacks and the pen, ``layer.fill``, ``layer.paint_polygon``, the dock's
buttons, undo and redo) and checks after every step that the instance table's
pixel counts equal ``np.unique`` on the data: the counts come from napari's
history atoms (their n-D slice keys), never from a recount.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
from napari_segtool._napari.feedback import feedback_of
from napari_segtool._napari.interpolate import interpolate_instances
from napari_segtool._napari.polygons import shapes_to_instance
from napari_segtool.model.document import Document, DocumentError
from tests.napari_input import click, key_press, key_release, shift_click, stroke

ORANGE_FISH, BLUE_FISH = "cjxtjkpjai8t80846iwqaa1d8", "cjxtjkpjai8t90846yzpbpo7t"
PLANE = 48

#: (shape, the axes the sliders move) of the stacks under test
STACKS = {
    "zyx": ((8, PLANE, PLANE), (0,)),
    "tzyx": ((3, 6, PLANE, PLANE), (0, 1)),
}


class Stack:
    """A viewer with one segmentation stack and the dock, and the checks every step makes."""

    def __init__(self, viewer, layer, dock):
        self.viewer, self.layer, self.dock = viewer, layer, dock
        self.binding = binding_of(layer)
        self.ndim = layer.ndim
        self.displayed = (self.ndim - 2, self.ndim - 1)

    def go_to(self, *plane: int) -> None:
        """Move the sliders to ``plane`` (one index per non-displayed axis)."""
        for axis, index in enumerate(plane):
            self.viewer.dims.set_current_step(axis, index)

    def at(self, *yx: float) -> tuple[float, ...]:
        """The full data coordinate of ``yx`` in the plane the sliders show."""
        step = self.viewer.dims.current_step
        return (*step[: self.ndim - 2], *yx)

    def stroke(self, points, **kwargs) -> None:
        stroke(self.layer, [self.at(*p) for p in points], dims_displayed=self.displayed, **kwargs)

    def click(self, point, **kwargs) -> None:
        click(self.layer, self.at(*point), dims_displayed=self.displayed, **kwargs)

    def shift_click(self, point, **kwargs) -> None:
        shift_click(self.layer, self.at(*point), dims_displayed=self.displayed, **kwargs)

    def data(self) -> np.ndarray:
        return np.asarray(self.layer.data).copy()

    def check_counts(self) -> None:
        """The table and the binding agree with the pixels."""
        values, counts = np.unique(np.asarray(self.layer.data), return_counts=True)
        expected = {int(v): int(c) for v, c in zip(values, counts, strict=True) if v}
        assert self.binding.pixel_counts == expected
        model = self.dock.table_model
        rows = range(model.rowCount())
        table = {model.data(model.index(r, 0)): model.data(model.index(r, 2)) for r in rows}
        assert table == {i: n for i, n in expected.items() if i in self.binding.document}


@pytest.fixture(params=sorted(STACKS))
def stack(request, make_napari_viewer, fish) -> Stack:
    shape, _ = STACKS[request.param]
    viewer = make_napari_viewer()
    layer = viewer.add_labels(
        np.zeros(shape, dtype=np.uint32),
        **segmentation_layer_kwargs(Document(fish), request.param),
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    return Stack(viewer, layer, dock)


def ball(shape, centre, radius) -> np.ndarray:
    """Voxels within ``radius`` of ``centre`` (napari's 3-D brush of radius ``radius``)."""
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    distance = sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True))
    return distance <= radius**2


def last_planes(stack: Stack) -> tuple[int, ...]:
    """The slider positions of the last plane of the stack."""
    return tuple(n - 1 for n in stack.layer.data.shape[: stack.ndim - 2])


# -- every tool, counts after every step, undo and redo exact ------------------------------------
def test_every_tool_on_several_slices_keeps_the_table_exact_and_undo_redo_exact(stack):
    layer, binding = stack.layer, stack.binding
    layer.mode = "paint"
    history = [stack.data()]
    boxes: list = []  # what the binding says changed (from the atoms' n-D slice keys)
    binding.pixels_changed.connect(boxes.extend)

    def covered(before, after):
        """Every changed voxel lies in a box the binding reported."""
        inside = np.zeros(before.shape, dtype=bool)
        for box in boxes:
            inside[box] = True
        boxes.clear()
        assert not ((before != after) & ~inside).any()

    def step():
        stack.check_counts()
        history.append(stack.data())
        covered(history[-2], history[-1])

    orange = binding.start_instance(ORANGE_FISH)
    layer.brush_size = 7
    # freehand on three planes: one instance across slices
    planes = [(0,) * (stack.ndim - 2), (1,) * (stack.ndim - 2), last_planes(stack)]
    for plane in planes:
        stack.go_to(*plane)
        stack.stroke([(10, 10), (10, 20), (14, 24)])
        assert (np.asarray(layer.data)[plane] == orange).any()
        step()
    assert binding.visible_instance_ids() == [orange]

    # 3-D brush: a ball through the neighbouring planes of the current one
    blue = binding.start_instance(BLUE_FISH)
    stack.go_to(*(1,) * (stack.ndim - 2))
    layer.n_edit_dimensions = 3
    layer.brush_size = 5
    stack.click((30, 30))
    volume = np.asarray(layer.data)[(1,) * (stack.ndim - 3)]
    expected = ball(volume.shape, (1, 30, 30), 2.5)
    np.testing.assert_array_equal(volume == blue, expected)
    assert (np.asarray(layer.data) == blue).sum() == expected.sum()  # other times untouched
    step()

    # a straight segment (Shift+click) in the current plane, then the 3-D line
    layer.n_edit_dimensions = 2
    stack.go_to(*planes[2])
    stack.click((40, 5))
    step()
    stack.shift_click((40, 40))
    assert (np.asarray(layer.data)[planes[2]][40, 5:41] == blue).all()
    step()
    layer.n_edit_dimensions = 3
    stack.shift_click((5, 40))  # a tube: the slice below gets it too
    neighbour = (*planes[2][:-1], planes[2][-1] - 1)
    assert (np.asarray(layer.data)[neighbour][5:41, 40] == blue).all()
    step()
    layer.n_edit_dimensions = 2

    # the pen's closed outline (Shift+click back on the first point) fills in its plane
    stack.go_to(*planes[1])
    fish = binding.start_instance(ORANGE_FISH)
    layer.brush_size = 1
    stack.click((20, 36))
    step()
    for corner in ((20, 44), (28, 44), (28, 36), (20, 36)):
        stack.shift_click(corner)  # each segment is one undo step
        step()
    assert (np.asarray(layer.data)[planes[1]][20:29, 36:45] == fish).all()
    assert (np.asarray(layer.data) == fish).sum() == 81

    # napari's polygon tool (paint_polygon) in the current plane
    stack.go_to(*planes[0])
    layer.paint_polygon([stack.at(*p) for p in ((30, 2), (30, 8), (36, 8), (36, 2))], fish)
    assert (np.asarray(layer.data)[planes[0]][30:37, 2:9] == fish).all()
    step()

    # fill in the plane, then in 3-D (the background of the whole volume)
    water = binding.start_instance(BLUE_FISH)
    layer.fill(stack.at(0, PLANE - 1), water)
    plane_data = np.asarray(layer.data)[planes[0]]
    assert not (plane_data == 0).any() and (np.asarray(layer.data) == 0).any()
    step()
    layer.undo()
    history.pop()
    stack.check_counts()
    boxes.clear()
    layer.n_edit_dimensions = 3
    layer.fill(stack.at(0, PLANE - 1), water)
    volume = np.asarray(layer.data)[planes[0][:-1]] if stack.ndim == 4 else np.asarray(layer.data)
    assert not (volume == 0).any()
    step()
    layer.n_edit_dimensions = 2

    # hold-Alt erase: the same stroke erases while Alt is held
    stack.go_to(*planes[0])
    layer.selected_label = orange
    layer.brush_size = 9
    key_press(stack.viewer, "Alt")
    assert layer.mode == "erase"
    stack.stroke([(10, 10), (14, 24)])
    key_release(stack.viewer, "Alt")
    assert layer.mode == "paint"
    assert not (np.asarray(layer.data)[planes[0]][10, 10:25] == orange).any()
    step()

    # undo everything, step by step, then redo it all: exact at every step
    for later, expected in zip(reversed(history[1:]), reversed(history[:-1]), strict=True):
        layer.undo()
        np.testing.assert_array_equal(layer.data, expected)
        stack.check_counts()
        covered(later, expected)
    for earlier, expected in pairwise(history):
        layer.redo()
        np.testing.assert_array_equal(layer.data, expected)
        stack.check_counts()
        covered(earlier, expected)


# -- locks and hidden instances: every tool, every slice ------------------------------------------
def _draw_locked_and_neighbour(stack: Stack) -> tuple[int, int]:
    """A locked instance through every plane of a volume, and a free one beside it."""
    layer, binding = stack.layer, stack.binding
    layer.mode = "paint"
    locked = binding.start_instance(ORANGE_FISH)
    layer.brush_size = 9
    for plane in np.ndindex(*layer.data.shape[: stack.ndim - 2]):
        stack.go_to(*plane)
        stack.stroke([(20, 14), (20, 30)])
    free = binding.start_instance(BLUE_FISH)
    stack.go_to(*(0,) * (stack.ndim - 2))
    stack.stroke([(36, 36)])
    binding.document.set_locked(locked, True)
    return locked, free


@pytest.mark.parametrize("protection", ["locked", "hidden"])
def test_protected_voxels_are_untouched_by_every_tool_on_every_slice(stack, protection):
    layer, binding, document = stack.layer, stack.binding, stack.binding.document
    protected, free = _draw_locked_and_neighbour(stack)
    if protection == "hidden":
        document.set_locked(protected, False)
        document.set_hidden(protected, True)
    kept = np.asarray(layer.data) == protected
    assert kept.sum() == binding.pixel_counts[protected]
    middle = tuple(n // 2 for n in layer.data.shape[: stack.ndim - 2])

    def untouched():
        np.testing.assert_array_equal(np.asarray(layer.data) == protected, kept)
        stack.check_counts()

    painter = binding.start_instance(BLUE_FISH)
    layer.brush_size = 15
    for plane in (middle, last_planes(stack)):
        stack.go_to(*plane)
        stack.stroke([(20, 4), (20, 44)])  # brush across it
        untouched()
        assert (np.asarray(layer.data)[plane] == painter).any()  # the rest was painted
    layer.n_edit_dimensions = 3  # 3-D brush through it
    stack.stroke([(20, 10), (20, 34)])
    untouched()
    layer.n_edit_dimensions = 2
    stack.click((10, 2))  # a line straight through it
    stack.shift_click((30, 44))
    untouched()
    layer.n_edit_dimensions = 3
    stack.shift_click((10, 2))
    untouched()
    layer.n_edit_dimensions = 2
    layer.paint_polygon([stack.at(*p) for p in ((0, 0), (0, 47), (47, 47), (47, 0))], painter)
    untouched()  # polygon over the whole plane
    for dims in (2, 3):
        layer.n_edit_dimensions = dims
        layer.fill(stack.at(20, 20), painter)  # fill on it
        untouched()
        layer.contiguous = False
        layer.fill(stack.at(2, 2), free)  # fill every voxel of a label but it
        untouched()
        layer.contiguous = True
    layer.n_edit_dimensions = 2
    layer.mode = "erase"  # the eraser over it, in the plane and in 3-D
    stack.stroke([(20, 4), (20, 44)])
    untouched()
    layer.n_edit_dimensions = 3
    stack.stroke([(20, 4), (20, 44)])
    untouched()
    layer.n_edit_dimensions = 2
    layer.mode = "paint"
    key_press(stack.viewer, "Alt")  # hold-Alt erase
    stack.stroke([(20, 4), (20, 44)])
    key_release(stack.viewer, "Alt")
    untouched()
    # a script's data_setitem over every slice of it
    layer.data_setitem(np.nonzero(kept | (np.asarray(layer.data) == 0)), painter)
    untouched()
    # painting *with* the protected id grows it nowhere
    layer.selected_label = protected
    stack.stroke([(40, 4), (40, 44)])
    layer.fill(stack.at(45, 45), protected)
    untouched()

    # interpolating an instance drawn on the first and last plane through it
    layer.mode = "paint"
    across = binding.start_instance(BLUE_FISH)
    layer.brush_size = 11
    first = (0,) * (stack.ndim - 2)
    last = (*first[:-1], layer.data.shape[stack.ndim - 3] - 1)
    for plane in (first, last):
        stack.go_to(*plane)
        layer.paint(stack.at(20, 22), across)
    interpolate_instances(layer, [across], stack.viewer)
    untouched()
    assert (np.asarray(layer.data)[(*first[:-1], 2)] == across).any()

    # the dock's delete, merge and class change refuse it
    with pytest.raises(DocumentError):
        binding.delete_instance(protected)
    with pytest.raises(DocumentError):
        binding.change_class(protected, BLUE_FISH)
    untouched()


def test_the_status_bar_counts_each_kept_voxel_of_a_3d_stroke_once(stack):
    layer, binding = stack.layer, stack.binding
    protected, _free = _draw_locked_and_neighbour(stack)
    plane = (1,) * (stack.ndim - 2)
    stack.go_to(*plane)
    layer.selected_label = binding.start_instance(BLUE_FISH)
    layer.n_edit_dimensions = 3
    layer.brush_size = 7
    points = [(20, x) for x in range(8, 34, 3)]  # overlapping balls across it
    before = stack.data()
    stack.stroke(points)
    covered = np.zeros(before.shape, dtype=bool)
    volume = (*plane[:-1], slice(None))
    for y, x in points:
        covered[volume] |= ball(before.shape[-3:], (plane[-1], y, x), 3.5)
    expected = int((covered & (before == protected)).sum())
    message = feedback_of(layer).last_message
    assert message.startswith(f"Stroke clipped: kept {expected} pixels of locked ")
    np.testing.assert_array_equal(np.asarray(layer.data) == protected, before == protected)
    stack.check_counts()


# -- draw to back ---------------------------------------------------------------------------------
def test_draw_to_back_in_3d_paints_only_background_voxels(stack):
    layer, binding = stack.layer, stack.binding
    layer.mode = "paint"
    front = binding.start_instance(ORANGE_FISH)
    layer.brush_size = 11
    layer.n_edit_dimensions = 3
    stack.go_to(*(1,) * (stack.ndim - 2))
    stack.stroke([(24, 16), (24, 32)])
    before = stack.data()
    stack.check_counts()

    stack.dock.pen_panel.draw_to_back.setChecked(True)
    assert layer.preserve_labels
    back = binding.start_instance(BLUE_FISH)
    layer.brush_size = 21
    stack.stroke([(24, 10), (24, 38)])  # 3-D brush over it
    data = np.asarray(layer.data)
    np.testing.assert_array_equal(data == front, before == front)
    assert (data == back).any()
    stack.check_counts()
    layer.n_edit_dimensions = 2
    stack.click((5, 5))
    stack.shift_click((40, 40))  # a line over it
    np.testing.assert_array_equal(np.asarray(layer.data) == front, before == front)
    stack.check_counts()
    layer.n_edit_dimensions = 3
    layer.contiguous = False  # the 3-D strokes cut the background in two
    layer.fill(stack.at(47, 0), back)  # every background voxel of the volume
    data = np.asarray(layer.data)
    np.testing.assert_array_equal(data == front, before == front)
    volume = data[(1,) * (stack.ndim - 3)]
    assert not (volume == 0).any()
    stack.check_counts()
    # erasing with draw to back removes only the selected instance
    layer.mode = "erase"
    layer.brush_size = 47
    stack.stroke([(24, 24)])
    data = np.asarray(layer.data)
    np.testing.assert_array_equal(data == front, before == front)
    assert not (volume == back)[ball(volume.shape, (1, 24, 24), 23.5)].any()
    stack.check_counts()


# -- the dock's delete, merge and class change across slices ------------------------------------
def test_delete_merge_and_class_change_act_on_every_slice(stack):
    layer, binding, dock = stack.layer, stack.binding, stack.dock
    layer.mode = "paint"
    layer.brush_size = 7
    ids = []
    planes = list(np.ndindex(*layer.data.shape[: stack.ndim - 2]))
    for n in range(3):
        ids.append(binding.start_instance(ORANGE_FISH))
        for plane in planes[n::2]:
            stack.go_to(*plane)
            stack.stroke([(8 + 14 * n, 8), (8 + 14 * n, 30)])
    stack.check_counts()
    start = stack.data()

    dock.select_rows(ids[1:])
    dock.merge_button.click()  # ids[2] joins ids[1] on every slice
    merged = stack.data()
    np.testing.assert_array_equal(merged == ids[1], (start == ids[1]) | (start == ids[2]))
    assert not (merged == ids[2]).any()
    stack.check_counts()

    dock.select_rows([ids[0]])
    dock.change_class_of_selected(BLUE_FISH)
    assert binding.document.instance(ids[0]).schema_id == BLUE_FISH
    dock.select_rows([ids[0]])
    dock.delete_button.click()  # every slice of it
    deleted = stack.data()
    assert not (deleted == ids[0]).any()
    np.testing.assert_array_equal(deleted == ids[1], merged == ids[1])
    stack.check_counts()

    layer.undo()
    np.testing.assert_array_equal(layer.data, merged)
    stack.check_counts()
    layer.undo()
    np.testing.assert_array_equal(layer.data, start)
    stack.check_counts()
    layer.redo()
    layer.redo()
    np.testing.assert_array_equal(layer.data, deleted)
    stack.check_counts()


# -- shapes to an instance, slice by slice ----------------------------------------------------
def test_shapes_on_two_slices_become_one_instance_across_them(stack):
    layer = stack.layer
    corners = ((9.5, 9.5), (9.5, 19.5), (19.5, 19.5), (19.5, 9.5))
    first, last = (0,) * (stack.ndim - 2), last_planes(stack)
    squares = []
    for plane in (first, last):
        stack.go_to(*plane)
        squares.append(np.array([stack.at(*p) for p in corners]))
    squares[1] = squares[1] + np.r_[np.zeros(stack.ndim - 2), 20, 20]
    shapes = stack.viewer.add_shapes(squares, shape_type="polygon")
    label_id = shapes_to_instance(layer, shapes, ORANGE_FISH, [0, 1])
    data = np.asarray(layer.data)
    assert (data[first][10:20, 10:20] == label_id).all()
    assert (data[last][30:40, 30:40] == label_id).all()
    assert (data == label_id).sum() == 200
    stack.check_counts()
    layer.undo()  # both slices: one step
    assert not np.asarray(layer.data).any()
    stack.check_counts()
    slanted = squares[0].copy()
    slanted[0, 0] = 1  # one corner on another slice
    shapes.add_polygons([slanted])
    with pytest.raises(ValueError, match="one slice"):
        shapes_to_instance(layer, shapes, ORANGE_FISH, [2])


def test_tools_paint_the_plane_on_screen_when_the_axes_are_rolled(make_napari_viewer, fish):
    """Viewing Z x X (sliders on Y): the brush, a line and fill stay in that plane."""
    viewer = make_napari_viewer()
    layer = viewer.add_labels(
        np.zeros((12, 30, 40), dtype=np.uint32),
        **segmentation_layer_kwargs(Document(fish), "rolled"),
    )
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    stack = Stack(viewer, layer, dock)
    stack.displayed = (0, 2)
    viewer.dims.order = (1, 0, 2)
    viewer.dims.set_current_step(1, 7)
    binding = stack.binding
    layer.mode = "paint"
    label = binding.start_instance(ORANGE_FISH)
    layer.brush_size = 3

    def at(z, x):
        return (z, 7, x)

    steps = [stack.data()]
    stroke(layer, [at(2, 5), at(9, 5)], dims_displayed=(0, 2))
    steps.append(stack.data())
    click(layer, at(2, 20), dims_displayed=(0, 2))
    steps.append(stack.data())
    shift_click(layer, at(9, 30), dims_displayed=(0, 2))
    steps.append(stack.data())
    data = np.asarray(layer.data)
    assert (data[:, 7, :] == label).sum() == (data == label).sum()  # all in slice y = 7
    assert (data[2:10, 7, 5] == label).all() and data[9, 7, 30] == label
    stack.check_counts()
    layer.fill(at(0, 39), binding.start_instance(BLUE_FISH))
    steps.append(stack.data())
    data = np.asarray(layer.data)
    assert not (data[:, 7, :] == 0).any() and not data[:, 6, :].any()
    stack.check_counts()
    for expected in reversed(steps[:-1]):
        layer.undo()
        np.testing.assert_array_equal(layer.data, expected)
        stack.check_counts()
