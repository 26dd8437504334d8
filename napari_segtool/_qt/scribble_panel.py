"""The dock's scribble-to-region controls: on / off, foreground or background, method.

The panel holds no state: it drives the layer's
:class:`~napari_segtool._napari.scribble.Scribbler` and follows its
``changed`` signal (the R key, Enter and Esc on the canvas change it too).
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from napari_segtool._napari.scribble import Scribbler, scribbler_of
from napari_segtool.tools import scribble
from napari_segtool.tools.registry import tool

METHOD_NAMES = {scribble.WATERSHED: "Watershed", scribble.RANDOM_WALKER: "Random walker"}


class ScribblePanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._scribbler: Scribbler | None = None
        entry = tool("scribble")
        self.scribble_button = QPushButton(f"{entry.label} ({entry.key.upper()})")
        self.scribble_button.setToolTip(entry.tooltip)
        self.scribble_button.setCheckable(True)
        self.foreground_button = QPushButton("Foreground")
        self.foreground_button.setToolTip("Scribble inside the object")
        self.background_button = QPushButton("Background")
        self.background_button.setToolTip("Scribble round the object (or hold Shift)")
        for button in (self.foreground_button, self.background_button):
            button.setCheckable(True)
        self.method = QComboBox()
        for method, name in METHOD_NAMES.items():
            self.method.addItem(name, method)
        self.method.setToolTip(
            "Watershed on the image gradient (fast, follows edges) or random walker "
            "(smoother, for faint edges)"
        )
        self.apply_button = QPushButton("Apply (Enter)")
        self.apply_button.setToolTip("Paint the previewed region into the current instance")
        self.cancel_button = QPushButton("Cancel (Esc)")
        self.cancel_button.setToolTip("Drop the scribbles")
        for control in self._controls():
            control.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the canvas
        self.scribble_button.clicked.connect(self._toggle)
        self.foreground_button.clicked.connect(lambda: self._set_background(False))
        self.background_button.clicked.connect(lambda: self._set_background(True))
        self.method.currentIndexChanged.connect(self._set_method)
        self.apply_button.clicked.connect(lambda: self._scribbler and self._scribbler.commit())
        self.cancel_button.clicked.connect(lambda: self._scribbler and self._scribbler.cancel())

        top = QHBoxLayout()
        top.addWidget(self.scribble_button)
        top.addWidget(self.foreground_button)
        top.addWidget(self.background_button)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Grow by"))
        bottom.addWidget(self.method, 1)
        bottom.addWidget(self.apply_button)
        bottom.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(bottom)
        self.set_layer(None)

    def _controls(self):
        return (
            self.scribble_button,
            self.foreground_button,
            self.background_button,
            self.method,
            self.apply_button,
            self.cancel_button,
        )

    @property
    def scribbler(self) -> Scribbler | None:
        return self._scribbler

    def set_layer(self, layer, viewer=None) -> None:
        if self._scribbler is not None:
            self._scribbler.changed.disconnect(self._refresh)
        self._scribbler = scribbler_of(layer, viewer) if layer is not None else None
        if self._scribbler is not None:
            self._scribbler.changed.connect(self._refresh)
        self._refresh()

    def _refresh(self) -> None:
        scribbler = self._scribbler
        active = scribbler is not None and scribbler.active
        self.scribble_button.setEnabled(scribbler is not None)
        self.scribble_button.setChecked(active)
        for control in (self.foreground_button, self.background_button, self.method):
            control.setEnabled(active)
        background = scribbler is not None and scribbler.background
        self.foreground_button.setChecked(not background)
        self.background_button.setChecked(background)
        if scribbler is not None:
            self.method.blockSignals(True)
            self.method.setCurrentIndex(self.method.findData(scribbler.method))
            self.method.blockSignals(False)
        has_region = active and scribbler.region is not None and bool(scribbler.region.any())
        self.apply_button.setEnabled(has_region)
        self.cancel_button.setEnabled(active and scribbler.has_scribbles)

    def _toggle(self) -> None:
        if self._scribbler is not None:
            self._scribbler.toggle()
        self._refresh()

    def _set_background(self, background: bool) -> None:
        if self._scribbler is not None:
            self._scribbler.background = background
        self._refresh()

    def _set_method(self, _index: int) -> None:
        scribbler = self._scribbler
        if scribbler is not None:
            scribbler.method = self.method.currentData()
            if scribbler.has_scribbles:
                scribbler.update_preview()
