"""``napari-segtool convert --to ome-zarr``: a Labelbox export becomes an OME-Zarr store whose
label group holds every instance, class and answer of the export."""

from __future__ import annotations

import warnings

import numpy as np

from napari_segtool.__main__ import main
from napari_segtool.formats import registry


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return registry.format_for(path).read(path)


def test_convert_a_labelbox_export_to_ome_zarr(reference_copy, tmp_path, capsys):
    source = reference_copy / "export_v1.fish.json"
    out = tmp_path / "out"
    args = ["convert", str(source), "--to", "ome-zarr", "--out", str(out), "--quiet"]
    assert main([*args, "--workers", "1"]) == 0
    assert "Not kept" not in capsys.readouterr().out  # read back: nothing lost
    store = out / "export_v1.fish.ome.zarr"
    assert registry.format_for(store).name == "ome-zarr"
    (original,) = _read(source).labels
    result = _read(store)
    (item,) = result.labels
    assert result.images and np.shape(result.images[0].data)[:2] == original.data.shape
    np.testing.assert_array_equal(item.data, original.data)
    assert {k: i.to_dict() for k, i in item.document.instances.items()} == {
        k: i.to_dict() for k, i in original.document.instances.items()
    }
    assert item.document.image_answers == original.document.image_answers
    # and back out: the store is one input (its own JSON files are not taken as inputs)
    again = tmp_path / "again"
    assert main(["convert", str(out), "--to", "coco", "--out", str(again), "--quiet"]) == 0
    assert sorted(p.name for p in again.iterdir()) == ["export_v1.fish.coco.json", "tank.png"]
    (coco,) = _read(again / "export_v1.fish.coco.json").labels
    np.testing.assert_array_equal(coco.data, original.data)
