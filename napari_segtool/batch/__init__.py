"""Batch work without the GUI: convert, validate and measure many exports on dask.

Pure (no napari, no Qt). Formats come from :mod:`napari_segtool.formats.registry`,
so a registered format is converted, checked and measured with no change here.
Work is split per data row / image where the format can read one at a time
(:attr:`~napari_segtool.formats.registry.FileFormat.units`), else per file; each
task holds one such unit in memory. :mod:`.engine` runs the tasks on dask.
"""

from napari_segtool.batch.convert import ConvertReport, convert
from napari_segtool.batch.engine import Outcome, RunOptions
from napari_segtool.batch.measure import measure, measure_labels
from napari_segtool.batch.validate import ValidateReport, validate

__all__ = [
    "ConvertReport",
    "Outcome",
    "RunOptions",
    "ValidateReport",
    "convert",
    "measure",
    "measure_labels",
    "validate",
]
