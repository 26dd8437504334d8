"""The pen's controls in the dock: pen / erase / polygon, brush size, draw to back.

Every control mirrors a property of the napari layer and follows it back
(napari's keys P, E, 3, B, [ ] and the pen's hold-Alt change the layer, and
the panel shows it), so the panel never holds state of its own. The tool
buttons and the hints come from the tool registry
(:mod:`napari_segtool.tools.registry`).
"""

from __future__ import annotations

from napari.layers import Labels
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledSlider

from napari_segtool._napari.pen import describe_modifiers, pen_of, pen_resize_modifiers
from napari_segtool.tools.registry import ToolKind, tools

#: the layer modes the tool buttons stand for (registry order)
TOOLS = tuple(t.name for t in tools(ToolKind.MODE))
BRUSH_RANGE = (1, 100)


class PenPanel(QWidget):
    """Pen tools for one Labels layer; ``set_layer(None)`` leaves it idle."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layer: Labels | None = None

        #: one checkable button per napari mode of the registry, by mode name
        self.tool_buttons: dict[str, QPushButton] = {}
        self.tool_group = QButtonGroup(self)
        for entry in tools(ToolKind.MODE):
            button = QPushButton(entry.label)
            button.setToolTip(entry.tooltip)
            self.tool_buttons[entry.name] = button
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the canvas
            self.tool_group.addButton(button)
            button.clicked.connect(lambda _checked=False, mode=entry.name: self._set_mode(mode))

        self.brush_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setRange(*BRUSH_RANGE)
        self.brush_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.brush_slider.setToolTip("Brush size in pixels ([ and ])")
        self.brush_slider.valueChanged.connect(self._set_brush_size)

        self.draw_to_back = QCheckBox("Draw to back")
        self.draw_to_back.setToolTip(
            "Paint only unlabelled pixels; the eraser removes only the selected object (B)"
        )
        self.draw_to_back.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.draw_to_back.toggled.connect(self._set_draw_to_back)

        self.hints = QLabel()
        self.hints.setWordWrap(True)
        self.hints.setTextFormat(Qt.TextFormat.RichText)
        font = self.hints.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)  # hints, not controls
        self.hints.setFont(font)

        tool_row = QHBoxLayout()
        for button in self._tool_buttons():
            tool_row.addWidget(button)
        brush = QHBoxLayout()
        brush.addWidget(QLabel("Brush"))
        brush.addWidget(self.brush_slider, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tool_row)
        layout.addLayout(brush)
        layout.addWidget(self.draw_to_back)
        layout.addWidget(self.hints)
        self.set_layer(None)

    def _tool_buttons(self) -> tuple[QPushButton, ...]:
        return tuple(self.tool_buttons.values())

    @property
    def pen_button(self) -> QPushButton:
        return self.tool_buttons["paint"]

    @property
    def erase_button(self) -> QPushButton:
        return self.tool_buttons["erase"]

    @property
    def polygon_button(self) -> QPushButton:
        return self.tool_buttons["polygon"]

    # -- following a layer ---------------------------------------------------------
    @property
    def layer(self) -> Labels | None:
        return self._layer

    def set_layer(self, layer: Labels | None) -> None:
        """Show and edit ``layer``'s pen settings (None: disable the panel)."""
        old = self._layer
        if old is not None:
            old.events.mode.disconnect(self._on_mode)
            old.events.brush_size.disconnect(self._on_brush_size)
            old.events.preserve_labels.disconnect(self._on_preserve_labels)
        self._layer = layer
        for control in (*self._tool_buttons(), self.brush_slider, self.draw_to_back):
            control.setEnabled(layer is not None)
        if layer is not None:
            layer.events.mode.connect(self._on_mode)
            layer.events.brush_size.connect(self._on_brush_size)
            layer.events.preserve_labels.connect(self._on_preserve_labels)
        self._on_mode()
        self._on_brush_size()
        self._on_preserve_labels()
        self.update_hints()

    def update_hints(self) -> None:
        """The keys, as they work on the current layer (call after attaching a pen)."""
        layer = self._layer
        lines = []
        if layer is not None and pen_of(layer) is not None:
            lines += [_hint(t) for t in tools(ToolKind.PEN_GESTURE)]
            lines.append(f"<b>{describe_modifiers(pen_resize_modifiers())}+move</b>: brush size")
        lines += [_hint(t) for t in tools(ToolKind.NAPARI_GESTURE)]
        modes = " / ".join(f"<b>{t.key}</b>" for t in tools(ToolKind.MODE))
        names = " / ".join(t.label.split()[0].lower() for t in tools(ToolKind.MODE))
        lines.append(f"<b>B</b>: draw to back &nbsp; {modes}: {names}")
        self.hints.setText("<br>".join(lines))

    # -- layer -> panel --------------------------------------------------------------
    def _on_mode(self, _event=None) -> None:
        mode = str(self._layer.mode) if self._layer is not None else None
        # an exclusive group cannot show "none checked" (fill, pick, pan ...)
        self.tool_group.setExclusive(False)
        for tool, button in zip(TOOLS, self._tool_buttons(), strict=True):
            button.setChecked(tool == mode)
        self.tool_group.setExclusive(True)

    def _on_brush_size(self, _event=None) -> None:
        if self._layer is None:
            return
        size = max(BRUSH_RANGE[0], int(self._layer.brush_size))
        if size > self.brush_slider.maximum():
            self.brush_slider.setMaximum(size)
        self.brush_slider.blockSignals(True)
        self.brush_slider.setValue(size)
        self.brush_slider.blockSignals(False)

    def _on_preserve_labels(self, _event=None) -> None:
        checked = self._layer is not None and bool(self._layer.preserve_labels)
        self.draw_to_back.blockSignals(True)
        self.draw_to_back.setChecked(checked)
        self.draw_to_back.blockSignals(False)

    # -- panel -> layer --------------------------------------------------------------
    def _set_mode(self, mode: str) -> None:
        if self._layer is not None:
            self._layer.mode = mode
        self._on_mode()  # napari may refuse (a locked / invisible layer stays pan_zoom)

    def _set_brush_size(self, size: int) -> None:
        if self._layer is not None and self._layer.brush_size != size:
            self._layer.brush_size = size

    def _set_draw_to_back(self, checked: bool) -> None:
        if self._layer is not None and self._layer.preserve_labels != checked:
            self._layer.preserve_labels = checked


def _hint(entry) -> str:
    return f"<b>{entry.label}</b>: {entry.tooltip}"
