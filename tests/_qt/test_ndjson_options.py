"""The NDJSON mask choice in the dock's Files section, used by every way of saving."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of
from napari_segtool.formats import registry
from tests._qt.test_dock import paint_instance, sample  # noqa: F401 (fixture)
from tests._qt.test_file_menu import answer_save_dialog, file_menu_action

BASE_URL = "https://storage.example.org/cells/"

pytestmark = pytest.mark.filterwarnings("ignore:.*unanswered required questions")


def mask_lines(path) -> list[dict]:
    return [line for line in map(json.loads, path.read_text().splitlines()) if "mask" in line]


def choose_composite(dock, base_url: str = BASE_URL) -> None:
    dock.ndjson_masks.setCurrentIndex(dock.ndjson_masks.findText("Composite PNG files"))
    dock.ndjson_base_url.setText(base_url)


def assert_composite(path, layer, label_ids) -> None:
    """Every instance's ``instanceURI`` starts with the base URL and names a PNG beside the
    file whose pixels of its ``colorRGB`` are exactly the instance."""
    lines = mask_lines(path)
    assert len(lines) == len(label_ids)
    for line, label_id in zip(lines, label_ids, strict=True):
        uri = line["mask"]["instanceURI"]
        assert uri.startswith(BASE_URL) and "png" not in line["mask"]
        png = next(path.parent.glob(f"*_masks/{uri.rsplit('/', 1)[-1]}"))
        pixels = np.asarray(Image.open(png).convert("RGB"))
        np.testing.assert_array_equal(
            (pixels == line["mask"]["colorRGB"]).all(axis=-1), layer.data == label_id
        )


def test_the_default_is_inline_pngs_and_hides_the_base_url(sample, tmp_path):  # noqa: F811
    _viewer, dock, layer = sample
    paint_instance(dock, layer, "Nucleus", (50, 50))
    assert dock.ndjson_masks.currentText() == "Inline PNG"
    assert not dock.ndjson_url_row.isVisibleTo(dock)
    assert dock.save_export(tmp_path / "cells.ndjson")
    (line,) = mask_lines(tmp_path / "cells.ndjson")
    assert set(line["mask"]) == {"png"}
    assert not list(tmp_path.glob("*_masks"))


def test_composite_with_a_base_url_from_the_dock_save(sample, tmp_path):  # noqa: F811
    _viewer, dock, layer = sample
    ids = [
        paint_instance(dock, layer, "Nucleus", (50, 50)),
        paint_instance(dock, layer, "Cell", (150, 150)),
    ]
    choose_composite(dock)
    assert dock.ndjson_url_row.isVisibleTo(dock)
    assert dock.session.ndjson_options.masks == "composite"
    assert dock.save_export(tmp_path / "cells.ndjson")
    assert_composite(tmp_path / "cells.ndjson", layer, ids)
    # back to inline: the base URL row hides and the next save is self-contained again
    dock.ndjson_masks.setCurrentIndex(0)
    assert not dock.ndjson_url_row.isVisibleTo(dock)
    assert dock.save_export(tmp_path / "again.ndjson")
    assert all("png" in line["mask"] for line in mask_lines(tmp_path / "again.ndjson"))


def test_save_segmentation_as_uses_the_same_choice(sample, tmp_path, monkeypatch):  # noqa: F811
    viewer, dock, layer = sample
    ids = [paint_instance(dock, layer, "Nucleus", (50, 50))]
    choose_composite(dock)
    ndjson = registry.get("labelbox-ndjson")
    answer_save_dialog(monkeypatch, tmp_path / "cells", ndjson.file_filter)
    file_menu_action(viewer, "Save segmentation as").trigger()
    assert_composite(tmp_path / "cells.ndjson", layer, ids)
    assert document_of(layer).source["ndjson_path"] == str(tmp_path / "cells.ndjson")


def test_save_selected_layers_as_ndjson_uses_it_too(sample, tmp_path):  # noqa: F811
    viewer, dock, layer = sample
    ids = [paint_instance(dock, layer, "Cell", (150, 150))]
    choose_composite(dock)
    viewer.layers.selection = {layer}
    viewer.layers.save(str(tmp_path / "cells.ndjson"), selected=True, plugin=PLUGIN_NAME)
    assert_composite(tmp_path / "cells.ndjson", layer, ids)
