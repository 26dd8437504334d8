"""The pen panel mirrors the layer both ways, napari's own keys included."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_segtool._napari.binding import segmentation_layer_kwargs
from napari_segtool._napari.pen import attach_pen
from napari_segtool._qt.pen_panel import PenPanel
from napari_segtool.model.document import Document
from napari_segtool.model.ontology import Ontology
from tests.napari_input import RIGHT, hover, key_press, key_release, press, release, stroke


@pytest.fixture
def viewer_and_layer(make_napari_viewer, reference_dir):
    viewer = make_napari_viewer()
    ontology = Ontology.load(reference_dir / "ontology.fish.json")
    layer = viewer.add_labels(
        np.zeros((40, 50), dtype=np.uint16),
        **segmentation_layer_kwargs(Document(ontology), "tank"),
    )
    return viewer, layer


@pytest.fixture
def panel(qtbot):
    widget = PenPanel()
    qtbot.addWidget(widget)
    return widget


def test_panel_and_layer_follow_each_other(viewer_and_layer, panel, qtbot):
    viewer, layer = viewer_and_layer
    layer.brush_size = 12
    layer.mode = "paint"
    panel.set_layer(layer)
    assert panel.brush_slider.value() == 12
    assert panel.pen_button.isChecked() and not panel.draw_to_back.isChecked()

    # panel -> layer
    panel.brush_slider.setValue(30)
    assert layer.brush_size == 30
    qtbot.mouseClick(panel.erase_button, Qt.MouseButton.LeftButton)
    assert layer.mode == "erase" and panel.erase_button.isChecked()
    qtbot.mouseClick(panel.polygon_button, Qt.MouseButton.LeftButton)
    assert layer.mode == "polygon"
    qtbot.mouseClick(panel.pen_button, Qt.MouseButton.LeftButton)
    assert layer.mode == "paint"
    panel.draw_to_back.setChecked(True)
    assert layer.preserve_labels

    # layer -> panel, through napari's own keys on the canvas
    key_press(viewer, "B")
    key_release(viewer, "B")
    assert not layer.preserve_labels and not panel.draw_to_back.isChecked()
    key_press(viewer, "B")
    key_release(viewer, "B")
    assert panel.draw_to_back.isChecked()
    key_press(viewer, "E")
    key_release(viewer, "E")
    assert panel.erase_button.isChecked() and not panel.pen_button.isChecked()
    key_press(viewer, "F")  # fill: none of the three tools
    key_release(viewer, "F")
    assert not any(b.isChecked() for b in (panel.pen_button, panel.erase_button))
    assert not panel.polygon_button.isChecked()
    layer.brush_size = 150  # beyond the slider: it grows
    assert panel.brush_slider.value() == 150


def test_hold_alt_shows_in_the_panel_and_hints_name_the_keys(viewer_and_layer, panel):
    viewer, layer = viewer_and_layer
    layer.mode = "paint"
    panel.set_layer(layer)
    assert "Shift+click" not in panel.hints.text()  # no pen attached yet
    attach_pen(layer)
    panel.update_hints()
    text = panel.hints.text()
    assert "Shift+click" in text and "hold Alt" in text and "Ctrl+Alt+move" in text
    key_press(viewer, "Alt", modifiers=("Alt",))  # as Qt reports a lone Alt press
    assert panel.erase_button.isChecked()
    key_release(viewer, "Alt")
    assert panel.pen_button.isChecked()


def test_the_encircle_hint_describes_the_gesture_that_fills(viewer_and_layer, panel):
    viewer, layer = viewer_and_layer
    layer.mode = "paint"
    layer.brush_size = 2
    layer.selected_label = 3
    panel.set_layer(layer)
    text = panel.hints.text()
    assert "circle back" not in text
    assert "right-click, then move" in text and "no button held" in text

    # a right-drag, the lasso the old hint suggested, fills nothing
    ring = [(20 + 12 * np.sin(a), 25 + 15 * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 40)]
    stroke(layer, ring, button=RIGHT)
    assert layer.data[20, 25] == 0
    layer.data[:] = 0

    # as the hint says: right-click and let go, move round with no button, back to the circle
    press(layer, ring[0], button=RIGHT)
    release(layer, ring[0], button=RIGHT)
    for point in ring[1:]:
        hover(layer, point)
    assert layer.data[20, 25] == 3  # the middle is filled
    assert layer.data[20, 45] == 0  # outside stays empty


def test_switching_layers_lets_go_of_the_old_one(viewer_and_layer, panel):
    viewer, layer = viewer_and_layer
    other = viewer.add_labels(np.zeros((10, 10), dtype=np.uint8), name="other")
    other.brush_size = 3
    panel.set_layer(layer)
    panel.set_layer(other)
    assert panel.brush_slider.value() == 3
    layer.brush_size = 44  # the old layer no longer drives the panel
    assert panel.brush_slider.value() == 3
    panel.brush_slider.setValue(7)
    assert other.brush_size == 7 and layer.brush_size == 44

    panel.set_layer(None)
    assert not panel.pen_button.isEnabled() and not panel.draw_to_back.isEnabled()
    other.preserve_labels = True
    assert not panel.draw_to_back.isChecked()


def test_panel_renders(viewer_and_layer, panel, tmp_path, qtbot):
    _viewer, layer = viewer_and_layer
    layer.mode = "paint"
    layer.preserve_labels = True
    attach_pen(layer)
    panel.set_layer(layer)
    panel.resize(340, panel.sizeHint().height())
    panel.show()
    qtbot.waitExposed(panel)
    path = tmp_path / "pen_panel.png"
    assert panel.grab().save(str(path))
    assert path.stat().st_size > 1000
