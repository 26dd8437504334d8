"""The batch commands on the reference files and on a generated batch, checked against the
single-file readers and writers and against scikit-image on the full arrays."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from skimage.measure import regionprops_table

from napari_segtool.__main__ import batch_parser, main
from napari_segtool.batch import measure_labels
from napari_segtool.batch.inputs import scan
from napari_segtool.formats import coco_files, labelbox_v1, registry
from napari_segtool.formats.registry import FileFormat


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return registry.format_for(path).read(path)


def _without_dates(coco: dict) -> dict:
    return {key: value for key, value in coco.items() if key != "info"}


def test_convert_reference_equals_the_single_file_writer(reference_copy, tmp_path):
    out = tmp_path / "out"
    assert (
        main(
            [
                "convert",
                str(reference_copy),
                "--to",
                "coco",
                "--out",
                str(out),
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    single = tmp_path / "single" / "export_v1.fish.coco.json"
    single.parent.mkdir()
    result = _read(reference_copy / "export_v1.fish.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coco_files.write_coco_file(single, result.labels, result.images)
    batch = json.loads((out / "export_v1.fish.coco.json").read_text())
    assert _without_dates(batch) == _without_dates(json.loads(single.read_text()))
    assert (out / "tank.png").read_bytes() == (reference_copy / "tank.png").read_bytes()


def test_convert_lists_what_the_target_cannot_hold_once(reference_copy, tmp_path, capsys):
    """Boxes and points of other tools: a v1 export keeps them, COCO has no place for them."""
    export = reference_copy / "export_v1.fish.json"
    rows = json.loads(export.read_text())
    fish_object = rows[0]["Label"]["objects"][0]
    extra = {key: fish_object[key] for key in ("schemaId", "title", "value", "color")}
    rows[0]["Label"]["objects"] += [
        dict(
            extra,
            featureId="ck0box000000000000000001",
            bbox={"top": 1, "left": 2, "height": 3, "width": 4},
        ),
        dict(extra, featureId="ck0point0000000000000001", point={"x": 3, "y": 4}),
    ]
    export.write_text(json.dumps(rows))
    copy = reference_copy / "again.json"
    shutil.copy(export, copy)
    shutil.copy(reference_copy / "ontology.fish.json", reference_copy / "again.ontology.json")
    out = str(tmp_path / "coco")
    assert (
        main(
            [
                "convert",
                str(export),
                str(copy),
                "--to",
                "coco",
                "--out",
                out,
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert printed.count("objects of other tools") == 1
    assert f"4 objects of other tools from 2 file(s): {export}, {copy}" in printed
    out = str(tmp_path / "v1")
    assert (
        main(
            [
                "convert",
                str(export),
                "--to",
                "labelbox-v1",
                "--out",
                out,
                "--quiet",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert "Not kept" not in capsys.readouterr().out


def registry_data(relative):
    from tests.conftest import DATA

    return DATA / relative


def test_generated_batch_round_trips_through_coco(batch, tmp_path):
    out = tmp_path / "coco"
    code = main(
        ["convert", str(batch), "--to", "coco", "--out", str(out), "--workers", "2", "--quiet"]
    )
    assert code == 0
    exports = sorted(batch.glob("export_????.json"))
    assert len(sorted(out.glob("*.coco.json"))) == len(exports) == 120
    for export in exports[::15]:
        original = _read(export).labels[0]
        back = _read(out / f"{export.stem}.coco.json").labels[0]
        assert np.array_equal(original.data, back.data)
        assert [
            (i.feature_id, i.schema_id, i.answers) for i in original.document.instances.values()
        ] == [(i.feature_id, i.schema_id, i.answers) for i in back.document.instances.values()]


def test_merge_equals_one_coco_file_of_every_row_and_pycocotools_reads_it(batch, tmp_path):
    from pycocotools.coco import COCO

    out = tmp_path / "merged"
    exports = sorted(batch.glob("export_????.json"))[:40]
    code = main(
        [
            "convert",
            *map(str, exports),
            "--to",
            "coco",
            "--out",
            str(out),
            "--merge",
            "--quiet",
            "--workers",
            "1",
        ]
    )
    assert code == 0
    merged = out / "merged.coco.json"
    results = [_read(p) for p in exports]
    single = tmp_path / "single" / "all.coco.json"
    single.parent.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coco_files.write_coco_file(
            single, [r.labels[0] for r in results], [r.images[0] for r in results]
        )
    assert _without_dates(json.loads(merged.read_text())) == _without_dates(
        json.loads(single.read_text())
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coco = COCO(str(merged))
    for image_id, result in zip(sorted(coco.imgs), results, strict=True):
        labels = result.labels[0]
        painted = np.zeros_like(labels.data)
        for annotation in coco.loadAnns(coco.getAnnIds(imgIds=[image_id])):
            painted[coco.annToMask(annotation) > 0] = annotation["attributes"]["label_id"]
        assert np.array_equal(painted, labels.data)


def test_measure_equals_regionprops_table_on_the_full_arrays(batch, tmp_path):
    table_path = tmp_path / "table.parquet"
    exports = sorted(batch.glob("export_????.json"))
    assert main(["measure", str(batch), "--out", str(table_path), "--quiet", "--workers", "1"]) == 0
    table = pd.read_parquet(table_path)
    assert len(table) == 4 * len(exports)
    props = ("label", "area", "centroid", "bbox", "perimeter", "eccentricity", "solidity")
    props += ("intensity_mean", "intensity_min", "intensity_max")
    for export in exports[::25]:
        result = _read(export)
        whole = pd.DataFrame(
            regionprops_table(result.labels[0].data, result.images[0].data, properties=props)
        )
        rows = table[table["source"] == str(export)].sort_values("label_id").reset_index()
        assert rows["label_id"].tolist() == whole["label"].tolist()
        for column in whole.columns.drop("label"):
            np.testing.assert_allclose(rows[column], whole[column], err_msg=column)
        document = result.labels[0].document
        assert rows["featureId"].tolist() == [
            document.instances[i].feature_id for i in whole["label"]
        ]


def test_measure_columns_answers_units_and_stacks(fish):
    from napari_segtool.model.document import Document
    from tests.batch.exports import scene

    labels, instances, image = scene(32, 4, 1, fish)
    document = Document(ontology=fish, instances=instances)
    table = measure_labels(labels, document, image, scale=(0.5, 0.25), unit="µm", source="s")
    assert table["area [µm²]"].tolist() == pytest.approx((table["area"] * 0.125).tolist())
    blurry = fish.classes[0].questions[0]
    why = blurry.options[0].questions[0]
    assert f"{blurry.name}/{why.name}" in table.columns
    assert table.loc[table["label_id"] == 1, blurry.name].item() == "No"
    assert table.loc[table["label_id"] == 4, f"{blurry.name}/{why.name}"].item() == "moved"
    stack = np.stack([labels, labels, np.zeros_like(labels)])
    volume = measure_labels(stack, document, scale=(2, 0.5, 0.5), unit="µm")
    assert "perimeter" not in volume.columns
    assert volume["volume"].tolist() == (table["area"] * 2).tolist()
    assert volume["volume [µm³]"].tolist() == pytest.approx((volume["volume"] * 0.5).tolist())


def test_one_file_with_many_rows_is_read_one_row_per_task(reference_copy, tmp_path):
    export = reference_copy / "export_v1.fish.json"
    rows = json.loads(export.read_text())
    three = [dict(rows[0], ID=f"ck0fishlabel000000000000{n}") for n in range(3)]
    export.write_text(json.dumps(three))
    units = scan(export)
    assert [u.indices for u in units] == [(0,), (1,), (2,)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = labelbox_v1.read_export(export)
    for unit, row in zip(units, whole, strict=True):
        alone = unit.read().labels[0]
        assert np.array_equal(alone.data, row.labels)
        assert alone.document.ontology.to_dict() == row.document.ontology.to_dict()
    coco_units = scan(registry_data("realworld/labelbox-python/coco/instances.json"))
    assert len(coco_units) > 1 and len(coco_units[1].read().labels) == 1


def test_a_file_of_many_rows_is_split_into_a_bounded_number_of_tasks(tmp_path, monkeypatch):
    from napari_segtool.batch import inputs

    monkeypatch.setattr(inputs, "MAX_TASKS_PER_FILE", 4)
    export = tmp_path / "many.json"
    export.write_text(json.dumps([{"Label": {}, "Labeled Data": ""} for _ in range(10)]))
    units = scan(export)
    assert [u.indices for u in units] == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9,)]


def test_bad_inputs_are_named_and_the_rest_completes(batch, tmp_path, capsys):
    folder = tmp_path / "mixed"
    for export in sorted(batch.glob("export_000[0-4].json")):
        stem = export.stem
        shutil.copy(export, folder / export.name) if folder.exists() else (
            folder.mkdir(),
            shutil.copy(export, folder / export.name),
        )
        shutil.copy(batch / f"{stem}.ontology.json", folder)
        shutil.copytree(batch / f"{stem}_masks", folder / f"{stem}_masks")
        shutil.copy(batch / f"image_{stem[-4:]}.png", folder)
    truncated = folder / "export_0001.json"
    truncated.write_text(truncated.read_text()[:300])
    missing_mask = next((folder / "export_0002_masks").iterdir())
    missing_mask.unlink()
    foreign = folder / "notes.json"
    foreign.write_text('{"hello": "world"}')

    out = tmp_path / "out"
    assert (
        main(
            ["convert", str(folder), "--to", "coco", "--out", str(out), "--quiet", "--workers", "1"]
        )
        == 1
    )
    printed = capsys.readouterr().out
    for bad in (truncated, folder / "export_0002.json", foreign):
        assert f"FAILED {bad}" in printed
    assert sorted(p.name for p in out.glob("*.coco.json")) == [
        "export_0000.coco.json",
        "export_0003.coco.json",
        "export_0004.coco.json",
    ]
    assert (
        main(["measure", str(folder), "--out", str(out / "t.csv"), "--quiet", "--workers", "1"])
        == 1
    )
    printed = capsys.readouterr().out
    assert str(truncated) in printed and str(foreign) in printed
    assert len(pd.read_csv(out / "t.csv")) == 3 * 4

    assert main(["validate", str(folder), "--json", "--quiet", "--workers", "1"]) == 1
    report = json.loads(capsys.readouterr().out)
    kinds = {(issue["path"], issue["kind"]) for issue in report["issues"]}
    assert (str(truncated), "unreadable") in kinds
    assert (str(folder / "export_0002.json"), "missing-mask") in kinds
    assert (str(foreign), "foreign-file") in kinds
    assert str(missing_mask) in json.dumps(report)


def test_validate_finds_sizes_classes_answers_and_overlaps(reference_copy, capsys):
    export = reference_copy / "export_v1.fish.json"
    rows = json.loads(export.read_text())
    objects = rows[0]["Label"]["objects"]
    objects[1]["instanceURI"] = objects[0]["instanceURI"]  # two objects, one mask: overlap
    objects[2]["schemaId"] = "ck0unknownclass0000000001"
    objects[2]["title"] = "Shark"
    export.write_text(json.dumps(rows))
    assert main(["validate", str(reference_copy), "--json", "--quiet", "--workers", "1"]) == 1
    kinds = {issue["kind"] for issue in json.loads(capsys.readouterr().out)["issues"]}
    assert {"overlap", "unknown-class", "unanswered"} <= kinds

    mask = reference_copy / objects[0]["instanceURI"]
    from PIL import Image

    Image.new("RGBA", (7, 5)).save(mask)
    assert main(["validate", str(export), "--quiet", "--workers", "1"]) == 1
    assert "wrong-size" in capsys.readouterr().out


def test_validate_is_clean_on_a_clean_batch(batch, capsys):
    assert main(["validate", str(batch), "--quiet", "--workers", "2"]) == 0
    assert "clean" in capsys.readouterr().out


def test_to_choices_come_from_the_registry(restore_registry):
    coco = registry.get("coco")
    registry.register(FileFormat("toy", "Toy", (".toy",), lambda p: None, coco.reader, coco.writer))
    to = next(
        a
        for a in batch_parser()._subparsers._group_actions[0].choices["convert"]._actions
        if a.dest == "to"
    )
    assert list(to.choices) == [entry.name for entry in registry.formats()]
    assert "toy" in to.choices


def test_convert_to_an_ndjson_import_reads_it_back_for_losses(reference_copy, tmp_path, capsys):
    out = tmp_path / "ndjson"
    args = ["convert", str(reference_copy), "--to", "labelbox-ndjson", "--out", str(out)]
    assert main([*args, "--quiet", "--workers", "1"]) == 0
    assert "Not kept" not in capsys.readouterr().out  # read back: nothing lost
    # a box of another tool goes into the import and is found again when it is read back
    export = reference_copy / "export_v2.fish.ndjson"
    row = json.loads(export.read_text())
    (project,) = row["projects"].values()
    project["labels"][0]["annotations"]["objects"].append(
        {
            "feature_id": "ck0box",
            "name": "Box",
            "bounding_box": {"top": 1, "left": 2, "height": 3, "width": 4},
        }
    )
    export.write_text(json.dumps(row) + "\n")
    assert main([*args, "--quiet", "--workers", "1"]) == 0
    assert "Not kept" not in capsys.readouterr().out
    lines = [json.loads(x) for x in (out / "export_v2.fish.ndjson").read_text().splitlines()]
    assert {"top": 1, "left": 2, "height": 3, "width": 4} in [x.get("bbox") for x in lines]
    single = tmp_path / "single.ndjson"
    result = _read(reference_copy / "export_v1.fish.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry.get("labelbox-ndjson").write(single, result.labels, result.images)
    batch_lines = (out / "export_v1.fish.ndjson").read_text().splitlines()
    assert len(batch_lines) == len(single.read_text().splitlines()) > 0
