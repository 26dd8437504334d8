"""The dock's Measure button: the batch table of the current layer, from a worker thread."""

from __future__ import annotations

import numpy as np
import pandas as pd
from skimage.measure import regionprops_table

from tests._qt.test_dock import paint_instance, sample  # noqa: F401  (fixture)


def test_measure_button_shows_and_saves_the_layer_table(sample, qtbot, tmp_path):  # noqa: F811
    viewer, dock, layer = sample
    a = paint_instance(dock, layer, "Nucleus", (60, 60), radius=6)
    b = paint_instance(dock, layer, "Cell", (200, 220), radius=8)
    image = viewer.layers["cells"]
    layer.scale = image.scale = (0.5, 0.5)

    worker = dock.measure_button.measure()
    assert worker is not None and not dock.measure_button.isEnabled()
    qtbot.waitUntil(lambda: dock.measurement_table is not None, timeout=20000)
    qtbot.waitUntil(lambda: dock.measure_button.isEnabled(), timeout=5000)
    table = dock.measurement_table.table
    whole = regionprops_table(
        np.asarray(layer.data),
        np.asarray(image.data),
        properties=("label", "area", "intensity_mean"),
    )
    assert table["label_id"].tolist() == whole["label"].tolist() == [a, b]
    assert table["class"].tolist() == ["Nucleus", "Cell"]
    np.testing.assert_allclose(table["area"], whole["area"])
    np.testing.assert_allclose(table["area [unit²]"], whole["area"] * 0.25)
    channel = "intensity_mean" if "intensity_mean" in whole else "intensity_mean-0"
    np.testing.assert_allclose(table[channel], whole[channel])
    assert dock.measurement_table.view.rowCount() == 2

    target = tmp_path / "cells.csv"
    assert dock.measurement_table.save(str(target))
    saved = pd.read_csv(target, keep_default_na=False)
    assert saved.columns.tolist() == table.columns.tolist()
    assert saved["featureId"].tolist() == table["featureId"].tolist()
    np.testing.assert_allclose(saved["area [unit²]"], table["area [unit²]"])
