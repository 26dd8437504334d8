"""The dock's *Measure* button: the batch measurement table for the current layer.

The layer's pixels, document, image and scale are copied on the UI thread; the
table (:func:`napari_segtool.batch.measure_labels`) is computed in a worker
thread and shown in a dock widget that can save it as CSV or Parquet.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from napari.layers import Image, Labels
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QFileDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_segtool._napari.io_hooks import layer_pixels
from napari_segtool._napari.large_segmentation import full_shape
from napari_segtool.batch.measure import measure_labels, save_table
from napari_segtool.model.document import Document


def layer_snapshot(viewer, layer: Labels, document: Document) -> Callable[[], pd.DataFrame]:
    """What the worker needs, copied now (the user may paint while it runs).

    A window of a larger segmentation is measured whole (``ValueError`` when
    that does not fit one array, or while its first count runs).
    """
    labels = np.array(layer_pixels(layer), copy=True)
    copy = Document.from_dict(document.to_dict())
    image = _image_for(viewer, layer)
    pixels = None if image is None else np.asarray(image.data)
    scale = tuple(float(s) for s in layer.scale)
    units = {str(u) for u in getattr(layer, "units", ())}
    unit = None if units <= {"pixel"} else ", ".join(sorted(units))
    physical = unit is not None or any(s != 1 for s in scale)

    def compute() -> pd.DataFrame:
        return measure_labels(
            labels,
            copy,
            pixels,
            scale=scale if physical else None,
            unit=unit,
            source=str(copy.source.get("export_path") or copy.source.get("image_path") or ""),
            image_name=str(copy.source.get("image_name") or layer.name),
        )

    return compute


def _image_for(viewer, layer: Labels) -> Image | None:
    """The image the labels were drawn on: the same pixel grid (a channel axis allowed)."""
    shape = full_shape(layer)
    for candidate in viewer.layers:
        if isinstance(candidate, Image) and not candidate.multiscale:
            size = tuple(candidate.data.shape)
            if size == shape or (candidate.rgb and size[:-1] == shape):
                return candidate
    return None


class MeasurementTable(QWidget):
    """A measurement table with a Save button."""

    def __init__(self, table: pd.DataFrame, title: str, parent=None):
        super().__init__(parent)
        self.table = table
        self.title = title
        self.view = QTableWidget(len(table), len(table.columns))
        self.view.setHorizontalHeaderLabels([str(c) for c in table.columns])
        for row, values in enumerate(table.itertuples(index=False)):
            for column, value in enumerate(values):
                text = (
                    ""
                    if pd.isna(value)
                    else f"{value:.4g}"
                    if isinstance(value, float)
                    else str(value)
                )
                self.view.setItem(row, column, QTableWidgetItem(text))
        self.save_button = QPushButton("Save table…")
        self.save_button.clicked.connect(self._save_dialog)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(table)} instance(s) of {title}"))
        layout.addWidget(self.view)
        layout.addWidget(self.save_button)

    def save(self, path: str) -> bool:
        try:
            save_table(self.table, path)
        except (ValueError, OSError, ImportError) as err:
            show_error(f"Table not saved: {err}")
            return False
        return True

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save measurements", f"{self.title}.csv", "Table (*.csv *.parquet)"
        )
        if path:
            self.save(path)


class MeasureButton(QPushButton):
    """*Measure*: the table of the dock's layer, computed off the UI thread."""

    def __init__(self, dock, parent=None):
        super().__init__("Measure", parent)
        self.dock = dock
        self.worker = None
        self.setToolTip(
            "One row per instance: area, centroid, bounding box, intensity of the image "
            "below, shape, answers (as napari-segtool measure writes); shown in a table "
            "you can save as CSV or Parquet"
        )
        self.clicked.connect(self.measure)

    def measure(self):
        """Start the worker; the table's dock widget appears when it is done."""
        binding = self.dock.binding
        if binding is None or self.worker is not None:
            return None
        layer = binding.layer
        try:
            compute = layer_snapshot(self.dock.viewer, layer, binding.document)
        except ValueError as error:
            show_error(f"Not measured: {error}")
            return None
        self.setEnabled(False)
        self.setText("Measuring…")
        self.worker = thread_worker(compute)()
        self.worker.returned.connect(lambda table: self._show(table, layer.name))
        self.worker.errored.connect(lambda err: show_error(f"Not measured: {err}"))
        self.worker.finished.connect(self._done)
        self.worker.start()
        return self.worker

    def _show(self, table: pd.DataFrame, name: str) -> None:
        widget = MeasurementTable(table, name)
        self.dock.viewer.window.add_dock_widget(widget, name=f"Measurements: {name}", area="right")
        self.dock.measurement_table = widget

    def _done(self) -> None:
        self.worker = None
        self.setEnabled(True)
        self.setText("Measure")
