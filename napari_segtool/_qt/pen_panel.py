"""The pen's controls in the dock: pen / erase / polygon, brush size, draw to back,
and the assist tools (magic wand, superpixels) with their settings.

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
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from napari_segtool._napari.pen import describe_modifiers, pen_of, pen_resize_modifiers
from napari_segtool._napari.superpixels import SuperpixelJob, SuperpixelTool, superpixels_of
from napari_segtool._napari.wand import TOLERANCE_RANGE, wand_of
from napari_segtool.tools.registry import ToolKind, tools
from napari_segtool.tools.superpixels import SIZE_RANGE

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

        self._build_assist_tools()

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
        layout.addLayout(self._assist_layout())
        layout.addWidget(self.hints)
        self.set_layer(None)

    # -- assist tools (wand, superpixels) -------------------------------------------
    def _build_assist_tools(self) -> None:
        #: where the tools look for the image (the dock's viewer; None: napari's current)
        self.viewer = None
        self._workers: set = set()
        self.canvas_tool_buttons: dict[str, QPushButton] = {}
        for entry in tools(ToolKind.CANVAS):
            button = QPushButton(entry.label)
            button.setToolTip(entry.tooltip)
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.toggled.connect(lambda on, name=entry.name: self._set_canvas_tool(name, on))
            self.canvas_tool_buttons[entry.name] = button

        self.tolerance_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.tolerance_slider.setRange(*TOLERANCE_RANGE)
        self.tolerance_slider.setDecimals(0)
        self.tolerance_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.tolerance_slider.setToolTip(
            "Wand tolerance, % of the image's contrast range; drag on the image to change it"
        )
        self.tolerance_slider.valueChanged.connect(self._set_tolerance)
        self.wand_3d = QCheckBox("3-D")
        self.wand_3d.setToolTip("The wand fills the connected volume, not only this plane")
        self.wand_3d.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.wand_3d.toggled.connect(self._set_wand_3d)

        self.superpixel_size = QLabeledSlider(Qt.Orientation.Horizontal)
        self.superpixel_size.setRange(*SIZE_RANGE)
        self.superpixel_size.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.superpixel_size.setToolTip("Superpixel size in pixels (across)")
        self.superpixel_size.setTracking(False)  # one computation when the slider is let go
        self.superpixel_size.valueChanged.connect(self._set_superpixel_size)
        self.superpixel_progress = QProgressBar()
        self.superpixel_progress.setRange(0, 0)  # SLIC reports no steps: a busy bar
        self.superpixel_progress.setFormat("computing superpixels")
        self.superpixel_progress.setTextVisible(True)
        self.superpixel_progress.setMaximumHeight(14)
        self.superpixel_progress.setVisible(False)

    def _assist_layout(self) -> QVBoxLayout:
        buttons = QHBoxLayout()
        for button in self.canvas_tool_buttons.values():
            buttons.addWidget(button)
        wand = QHBoxLayout()
        wand.addWidget(QLabel("Tolerance"))
        wand.addWidget(self.tolerance_slider, 1)
        wand.addWidget(self.wand_3d)
        size = QHBoxLayout()
        size.addWidget(QLabel("Superpixel"))
        size.addWidget(self.superpixel_size, 1)
        layout = QVBoxLayout()
        layout.addLayout(buttons)
        layout.addLayout(wand)
        layout.addLayout(size)
        layout.addWidget(self.superpixel_progress)
        return layout

    @property
    def wand_button(self) -> QPushButton:
        return self.canvas_tool_buttons["wand"]

    @property
    def superpixels_button(self) -> QPushButton:
        return self.canvas_tool_buttons["superpixels"]

    def _canvas_tool(self, name: str, layer: Labels | None = None):
        layer = layer if layer is not None else self._layer
        if layer is None:
            return None
        make = wand_of if name == "wand" else superpixels_of
        return make(layer, self.viewer)

    def _follow_canvas_tools(self, old: Labels | None, new: Labels | None) -> None:
        if old is not None:
            wand, superpixels = (
                self._canvas_tool("wand", old),
                self._canvas_tool("superpixels", old),
            )
            wand.active_changed.disconnect(self._on_canvas_tools)
            wand.tolerance_changed.disconnect(self._on_tolerance)
            superpixels.active_changed.disconnect(self._on_canvas_tools)
            superpixels.busy_changed.disconnect(self._on_superpixels_busy)
            superpixels.size_changed.disconnect(self._on_superpixel_size)
            if superpixels.runner is self._run_superpixels:
                superpixels.runner = None
        for control in (
            *self.canvas_tool_buttons.values(),
            self.tolerance_slider,
            self.wand_3d,
            self.superpixel_size,
        ):
            control.setEnabled(new is not None)
        if new is not None:
            wand, superpixels = (
                self._canvas_tool("wand", new),
                self._canvas_tool("superpixels", new),
            )
            wand.active_changed.connect(self._on_canvas_tools)
            wand.tolerance_changed.connect(self._on_tolerance)
            superpixels.active_changed.connect(self._on_canvas_tools)
            superpixels.busy_changed.connect(self._on_superpixels_busy)
            superpixels.size_changed.connect(self._on_superpixel_size)
            superpixels.runner = self._run_superpixels
        self._on_canvas_tools()
        self._on_tolerance()
        self._on_superpixel_size()
        self._on_superpixels_busy()

    def _on_canvas_tools(self, _active=None) -> None:
        for name, button in self.canvas_tool_buttons.items():
            tool_ = self._canvas_tool(name)
            button.blockSignals(True)
            button.setChecked(tool_ is not None and tool_.active)
            button.blockSignals(False)

    def _on_tolerance(self, _value=None) -> None:
        wand = self._canvas_tool("wand")
        if wand is None:
            return
        self.tolerance_slider.blockSignals(True)
        self.tolerance_slider.setValue(wand.tolerance)
        self.tolerance_slider.blockSignals(False)
        self.wand_3d.blockSignals(True)
        self.wand_3d.setChecked(wand.three_d)
        self.wand_3d.blockSignals(False)

    def _on_superpixel_size(self, _value=None) -> None:
        superpixels = self._canvas_tool("superpixels")
        if superpixels is None:
            return
        self.superpixel_size.blockSignals(True)
        self.superpixel_size.setValue(superpixels.size)
        self.superpixel_size.blockSignals(False)

    def _on_superpixels_busy(self, _busy=None) -> None:
        superpixels = self._canvas_tool("superpixels")
        self.superpixel_progress.setVisible(
            superpixels is not None and superpixels.pending is not None
        )

    def _set_canvas_tool(self, name: str, on: bool) -> None:
        tool_ = self._canvas_tool(name)
        if tool_ is not None:
            tool_.set_active(on)
        self._on_canvas_tools()  # napari may refuse (a locked / invisible layer)

    def _set_tolerance(self, value: float) -> None:
        wand = self._canvas_tool("wand")
        if wand is not None:
            wand.tolerance = value

    def _set_wand_3d(self, checked: bool) -> None:
        wand = self._canvas_tool("wand")
        if wand is not None:
            wand.three_d = checked

    def _set_superpixel_size(self, size: int) -> None:
        superpixels = self._canvas_tool("superpixels")
        if superpixels is not None:
            superpixels.size = size

    def _run_superpixels(self, tool_: SuperpixelTool, job: SuperpixelJob) -> None:
        """Compute off the main thread; the result comes back on it."""
        from napari.qt.threading import create_worker

        worker = create_worker(job.run, _start_thread=False)
        worker.returned.connect(lambda result: tool_.install(job, result))
        worker.errored.connect(lambda error: tool_.failed(job, error))
        worker.finished.connect(lambda: self._workers.discard(worker))
        self._workers.add(worker)
        worker.start()

    def wait_for_superpixels(self, timeout_ms: int = 60000) -> None:
        """Block until every computation started here is delivered (scripts, tests)."""
        from qtpy.QtCore import QCoreApplication, QElapsedTimer

        timer = QElapsedTimer()
        timer.start()
        while self._workers and timer.elapsed() < timeout_ms:
            QCoreApplication.processEvents()

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
        self._follow_canvas_tools(old, layer)
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
        canvas = " / ".join(f"<b>{t.key.upper()}</b>" for t in tools(ToolKind.CANVAS))
        canvas_names = " / ".join(t.label.lower() for t in tools(ToolKind.CANVAS))
        lines.append(f"{canvas}: {canvas_names} (Shift adds, Alt removes)")
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
