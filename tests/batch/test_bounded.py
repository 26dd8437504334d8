"""``convert`` holds one image at a time per task: the peak memory of a one-worker run (in
this process) does not grow with the rows of an export, and a failed row leaves the rest."""

from __future__ import annotations

import json
import tracemalloc
import warnings

import pytest

from napari_segtool.__main__ import main
from napari_segtool.batch import RunOptions, convert
from napari_segtool.formats import registry
from tests.batch.exports import write_rows

SIZE = 384  # one label image: 384 x 384 x 4 bytes = 576 KiB


def _peak(export, target, out) -> int:
    tracemalloc.start()
    try:
        report = convert([str(export)], target, out, RunOptions(workers=1, quiet=True))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert not report.failures


@pytest.mark.parametrize("target", ["coco", "labelbox-v1", "labelbox-ndjson"])
def test_peak_memory_of_a_conversion_does_not_grow_with_the_rows(tmp_path, target):
    few = write_rows(tmp_path / "few" / "few.json", 2, size=SIZE, instances=6)
    many = write_rows(tmp_path / "many" / "many.json", 10, size=SIZE, instances=6)
    _peak(few, target, tmp_path / "warm")  # first imports and caches are not the bound
    peak_few = _peak(few, target, tmp_path / "out_few")
    peak_many = _peak(many, target, tmp_path / "out_many")
    one_image = SIZE * SIZE * 4
    # holding the rows at once would add 8 label images (and their RGB images)
    assert peak_many < peak_few + 2 * one_image, (peak_few, peak_many)


def _without_times(rows):
    return [{k: v for k, v in row.items() if k != "Updated At"} for row in rows]


def test_a_many_row_export_converts_to_what_the_single_file_writers_write(tmp_path):
    export = write_rows(tmp_path / "in" / "rows.json", 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = registry.format_for(export).read(export)
    for target in ("labelbox-v1", "labelbox-ndjson", "coco"):
        entry = registry.get(target)
        out = tmp_path / target
        report = convert([str(export)], target, out, RunOptions(workers=1, quiet=True))
        assert not report.failures
        single = tmp_path / f"single-{target}" / f"rows{entry.extensions[0]}"
        single.parent.mkdir()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entry.write(single, result.labels, result.images)
        batch = out / single.name
        if target == "labelbox-v1":
            assert _without_times(json.loads(batch.read_text())) == _without_times(
                json.loads(single.read_text())
            )
            masks = sorted(p.name for p in (out / "rows_masks").iterdir())
            assert masks == sorted(p.name for p in (single.parent / "rows_masks").iterdir())
            assert len(masks) == 5 * 4
        elif target == "coco":
            assert {k: v for k, v in json.loads(batch.read_text()).items() if k != "info"} == {
                k: v for k, v in json.loads(single.read_text()).items() if k != "info"
            }
        else:
            assert batch.read_text() == single.read_text()


def test_a_failed_row_is_reported_and_the_rest_of_its_file_converts(tmp_path, capsys):
    export = write_rows(tmp_path / "in" / "rows.json", 4)
    broken = json.loads(export.read_text())[2]["Label"]["objects"][0]["instanceURI"]
    (export.parent / broken).unlink()
    out = tmp_path / "out"
    code = main(["convert", str(export), "--to", "coco", "--out", str(out), "--quiet"])
    assert code == 1
    printed = capsys.readouterr().out
    assert f"FAILED {export} [2]" in printed
    assert f"PARTIAL {out / 'rows.coco.json'}: 3 of 4 data row(s)" in printed
    coco = json.loads((out / "rows.coco.json").read_text())
    assert len(coco["images"]) == 3
    assert [a["id"] for a in coco["annotations"]] == list(range(1, 3 * 4 + 1))
