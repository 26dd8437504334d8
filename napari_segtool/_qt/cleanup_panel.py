"""The dock's instance clean-up: one button per operation, on the selected table rows.

The operations and their tooltips come from the tool registry; the work is
:func:`napari_segtool._napari.cleanup.clean_selected` (one undo step, locks
and draw to back hold).
"""

from __future__ import annotations

from napari.utils.notifications import show_warning
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_segtool._napari.cleanup import clean_selected
from napari_segtool.model.document import DocumentError
from napari_segtool.tools.cleanup import OPERATIONS, CleanupOptions
from napari_segtool.tools.registry import tool

BUTTONS_PER_ROW = 4


class CleanupPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layer = None
        self._viewer = None
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for n, operation in enumerate(OPERATIONS):
            entry = tool(f"cleanup_{operation}")
            button = QPushButton(entry.label)
            button.setToolTip(entry.tooltip)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _checked=False, op=operation: self.run(op))
            self.buttons[operation] = button
            grid.addWidget(button, n // BUTTONS_PER_ROW, n % BUTTONS_PER_ROW)
        self.radius = _spin(0, 50, 2, "Smoothing radius (pixels)")
        self.distance = _spin(0, 200, 2, "Grow / shrink distance (pixels)")
        self.min_size = _spin(0, 10_000_000, 50, "Remove pieces smaller than this (pixels)")
        self.overwrite = QCheckBox("Overwrite neighbours")
        self.overwrite.setToolTip(
            "Grow into other instances too (not locked or hidden ones; Draw to back still "
            "keeps them)"
        )
        self.volume = QCheckBox("In 3-D")
        self.volume.setChecked(True)
        self.volume.setToolTip(
            "Stacks: clean each instance as a volume (holes and pieces through slices); "
            "off: each slice on its own"
        )
        for control in (self.overwrite, self.volume):
            control.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        options = QHBoxLayout()
        for name, control in (("Radius", self.radius), ("N", self.distance)):
            options.addWidget(QLabel(name))
            options.addWidget(control)
        options.addWidget(QLabel("Min size"))
        options.addWidget(self.min_size)
        flags = QHBoxLayout()
        flags.addWidget(self.overwrite)
        flags.addWidget(self.volume)
        flags.addStretch()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid)
        layout.addLayout(options)
        layout.addLayout(flags)
        self.set_layer(None)

    def options(self) -> CleanupOptions:
        return CleanupOptions(
            radius=self.radius.value(),
            distance=self.distance.value(),
            min_size=self.min_size.value(),
            overwrite=self.overwrite.isChecked(),
        )

    def set_layer(self, layer, viewer=None) -> None:
        self._layer, self._viewer = layer, viewer
        self.set_selected(0)
        self.volume.setEnabled(layer is not None and layer.ndim >= 3)

    def set_selected(self, count: int) -> None:
        """How many instances are selected: the buttons act on them."""
        for button in self.buttons.values():
            button.setEnabled(self._layer is not None and count > 0)

    def run(self, operation: str):
        if self._layer is None:
            return None
        try:
            return clean_selected(
                self._layer,
                operation,
                self.options(),
                volume=self.volume.isChecked(),
                viewer=self._viewer,
            )
        except (DocumentError, ValueError) as error:
            show_warning(str(error))
            return None


def _spin(low: int, high: int, value: int, tooltip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tooltip)
    return spin
