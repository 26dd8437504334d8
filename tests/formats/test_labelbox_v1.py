"""Labelbox v1 export: the pure reader and writer (no napari)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from napari_segtool.formats import labelbox_v1
from napari_segtool.formats.labelbox_v1 import (
    LabelboxFormatError,
    LabelboxFormatWarning,
    is_v1_export,
    read_export,
    write_export,
)
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ids import is_cuid
from napari_segtool.model.ontology import ObjectClass, Ontology, Option, Question, slugify

# exports made up here have no ontology file beside them: that warning is expected
pytestmark = pytest.mark.filterwarnings("ignore:.*rebuilt the ontology from the objects")

# ids in the reference ontology (tests/data/reference/ontology.fish.json)
ORANGE, BLUE, WATER = (
    "cjxtjkpjai8t80846iwqaa1d8",
    "cjxtjkpjai8t90846yzpbpo7t",
    "cjxtk7z5qi5s90794v7wvseu6",
)
BLURRY, YES, NO, WHY = (
    "cjxtjkphehbnj0848wknmg44u",
    "cjxtjkpfwh4y90721uodxps2b",
    "cjxtjkpfwh4y90721uodxps2c",
    "cjxtjkpfwh4y90721uodxps3c",
)
FINS, DORSAL, TAIL = (
    "cjxtjkpfwh4y90721uodxps4d",
    "cjxtjkpfwh4y90721uodxps5e",
    "cjxtjkpfwh4y90721uodxps6f",
)
LIGHTING, DAYLIGHT, ARTIFICIAL, NOTES = (
    "cjxtk7z5qi5s90794v7wvse77",
    "cjxtk7z5qi5s90794v7wvse88",
    "cjxtk7z5qi5s90794v7wvse99",
    "cjxtk7z5qi5s90794v7wvsea0",
)
REFERENCE_FEATURES = [
    "cjxtm2d32i9aa07940tifrpuh",
    "cjxtm2kf0i9b207944z3gypsn",
    "cjxtm2spbh8xx0721s18nwqq0",
    "cjxtm3i3ci9cx07940e5t7if8",
]


@pytest.fixture
def fish_ontology(reference_dir) -> Ontology:
    return Ontology.load(reference_dir / "ontology.fish.json")


@pytest.fixture
def scene(fish_ontology, tmp_path):
    """A 40 x 50 label image with three instances and one without pixels, and its image."""
    labels = np.zeros((40, 50), np.uint32)
    labels[5:15, 5:20] = 1
    labels[20:30, 30:45] = 2
    labels[32:38, 2:48] = 3
    labels[8:12, 16:18] = 0  # a notch
    image_path = tmp_path / "tank.png"
    Image.fromarray(np.full((40, 50, 3), 90, np.uint8)).save(image_path)
    document = Document(
        ontology=fish_ontology,
        instances=[
            Instance(
                1,
                ORANGE,
                answers={
                    BLURRY: {YES: {WHY: "it moved"}},
                    FINS: {DORSAL: {}, TAIL: {}},
                },
            ),
            Instance(2, BLUE),
            Instance(3, WATER),
            Instance(4, ORANGE, answers={BLURRY: {NO: {}}}),  # no pixels
        ],
        image_answers={LIGHTING: {ARTIFICIAL: {}}, NOTES: "murky"},
        source={"image_path": str(image_path), "image_name": "tank"},
    )
    return labels, document


def _write(path, labels, document, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        return write_export(path, [(labels, document)], **options)


def _read(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        return read_export(path, **options)


def _png_pixels(path) -> tuple[str, np.ndarray]:
    with Image.open(path) as image:
        return image.mode, np.asarray(image)


def _save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _instance_uris(export: Path) -> list[str]:
    return [
        obj["instanceURI"]
        for row in json.loads(export.read_text())
        for obj in row["Label"]["objects"]
        if "instanceURI" in obj
    ]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# ==============================================================================
# the reference export (its README states what it holds)
# ==============================================================================
def test_reference_export_gives_the_stated_pixels_and_answers(reference_dir):
    (row,) = _read(reference_dir / "export_v1.fish.json")
    assert row.image.shape == (96, 128, 3)
    assert row.image_path == (reference_dir / "tank.png").absolute()
    document = row.document
    by_feature = {i.feature_id: i for i in document.instances.values()}
    assert list(by_feature) == REFERENCE_FEATURES
    counts = [int((row.labels == by_feature[f].label_id).sum()) for f in REFERENCE_FEATURES]
    assert counts == [450, 341, 250, 10479]
    assert not row.labels[:6].any() and row.labels[6].any()
    assert [document.ontology.class_by_id(by_feature[f].schema_id).name for f in by_feature] == [
        "Orange Fish",
        "Orange Fish",
        "Blue Fish",
        "Water",
    ]
    # the flattened nested answer is back under "Yes"; the checklist under its question
    assert by_feature[REFERENCE_FEATURES[0]].answers == {
        BLURRY: {YES: {WHY: "it moved during the exposure"}},
        FINS: {TAIL: {}},
    }
    assert all(not by_feature[f].answers for f in REFERENCE_FEATURES[1:])
    # the legacy dropdown list shape is accepted
    assert document.image_answers == {
        LIGHTING: {DAYLIGHT: {}},
        NOTES: "two fish overlap near the glass",
    }
    assert [c.color for c in document.ontology.classes] == ["#3F51B5", "#F4511E", "#EF6C00"]
    source = document.source
    assert source["label_id"] == "ck0fishlabel0000000000001"
    assert source["data_row_id"] == "ck0fishdatarow00000000001"
    assert source["seconds_to_label"] == 300.5
    assert source["project_name"] == "Fish tank" and source["dataset_name"] == "Aquarium"
    assert source["v1_extra"]["Agreement"] == -1  # unknown to the model, kept


def test_reference_without_its_ontology_rebuilds_one_from_the_objects(reference_copy):
    (reference_copy / "ontology.fish.json").unlink()
    with pytest.warns(LabelboxFormatWarning, match="rebuilt the ontology from the objects"):
        (row,) = read_export(reference_copy / "export_v1.fish.json")
    ontology = row.document.ontology
    assert [(c.name, c.feature_schema_id, c.color) for c in ontology.classes] == [
        ("Orange Fish", ORANGE, "#3F51B5"),
        ("Blue Fish", BLUE, "#F4511E"),
        ("Water", WATER, "#EF6C00"),
    ]
    orange = ontology.classes[0]
    # without the ontology nothing says "Why is it blurry?" hangs under "Yes"
    assert [(q.name, q.type) for q in orange.questions] == [
        ("Is the fish blurry?", "radio"),
        ("Why is it blurry?", "text"),
        ("Visible fins", "checklist"),
    ]
    assert [(q.name, q.type) for q in ontology.questions] == [
        ("Lighting", "dropdown"),
        ("Notes", "text"),
    ]
    first = row.document.instances[1]
    assert first.answers == {
        BLURRY: {YES: {}},
        WHY: "it moved during the exposure",
        FINS: {TAIL: {}},
    }
    counts = np.bincount(row.labels.ravel())
    assert counts[1:].tolist() == [450, 341, 250, 10479]


def test_an_explicit_ontology_wins_over_the_files(reference_dir, fish_ontology):
    fish_ontology.classes[0].color = "#000000"
    (row,) = _read(reference_dir / "export_v1.fish.json", ontology=fish_ontology)
    assert row.document.ontology.classes[0].color == "#000000"


def test_ontology_file_names_tried(tmp_path):
    export = tmp_path / "a.json"
    export.write_text("[]")
    assert labelbox_v1.ontology_candidates(export) == []
    (tmp_path / "ontology.x.json").write_text("{}")
    assert labelbox_v1.ontology_candidates(export) == [tmp_path / "ontology.x.json"]
    (tmp_path / "other_ontology.json").write_text("{}")
    assert labelbox_v1.ontology_candidates(export) == []  # two guesses: none taken
    (tmp_path / "ontology.json").write_text("{}")
    (tmp_path / "a.ontology.json").write_text("{}")
    assert labelbox_v1.ontology_candidates(export) == [
        tmp_path / "a.ontology.json",
        tmp_path / "ontology.json",
    ]


# ==============================================================================
# writing
# ==============================================================================
def test_written_export_has_the_v1_shape(scene, tmp_path):
    labels, document = scene
    out = tmp_path / "out" / "fish.json"
    result = _write(out, labels, document, seconds_to_label=12.5)
    assert result.written == [
        out,
        tmp_path / "out" / "fish_masks",
        out.with_suffix(".ontology.json"),
    ]
    assert result.mask_count == 3 and result.skipped_empty == [[4]]
    (row,) = json.loads(out.read_text())
    assert list(row)[:10] == [
        "ID",
        "DataRow ID",
        "Labeled Data",
        "External ID",
        "Created By",
        "Project Name",
        "Dataset Name",
        "Created At",
        "Updated At",
        "Seconds to Label",
    ]
    assert {"Agreement", "Reviews", "Has Open Issues", "Skipped", "Label"} <= row.keys()
    assert is_cuid(row["ID"]) and is_cuid(row["DataRow ID"])
    assert row["Labeled Data"] == str(tmp_path / "tank.png")  # outside the folder: absolute
    assert row["External ID"] == "tank.png"
    assert row["Seconds to Label"] == 12.5
    assert row["Created At"].endswith("Z") and row["Created At"] == row["Updated At"]
    objects = row["Label"]["objects"]
    assert [o["featureId"] for o in objects] == [
        document.instances[i].feature_id for i in (1, 2, 3)
    ]
    first = objects[0]
    assert first["schemaId"] == ORANGE and first["title"] == "Orange Fish"
    assert first["value"] == "orange_fish" and first["color"] == "#3F51B5"
    # <featureId>.<start of the PNG's SHA-256>.png: a file name stands for one content
    mask_path = tmp_path / "out" / first["instanceURI"]
    digest = hashlib.sha256(mask_path.read_bytes()).hexdigest()[:10]
    assert first["instanceURI"] == f"fish_masks/{first['featureId']}.{digest}.png"
    # radio answer object, nested text flattened right after it, checklist answers list
    classifications = first["classifications"]
    assert [c["title"] for c in classifications] == [
        "Is the fish blurry?",
        "Why is it blurry?",
        "Visible fins",
    ]
    radio, text, checklist = classifications
    assert radio["answer"]["schemaId"] == YES and radio["answer"]["title"] == "Yes"
    assert radio["answer"]["value"] == "yes"
    assert text["answer"] == "it moved"
    assert [a["title"] for a in checklist["answers"]] == ["Dorsal", "Tail"]
    for entry in [*classifications, radio["answer"], *checklist["answers"]]:
        assert is_cuid(entry["featureId"])
    # image level: dropdown written radio-shaped, text as a string
    lighting, notes = row["Label"]["classifications"]
    assert lighting["answer"] == {
        "featureId": lighting["answer"]["featureId"],
        "schemaId": ARTIFICIAL,
        "title": "Artificial",
        "value": "artificial",
    }
    assert notes["answer"] == "murky"
    assert Ontology.load(out.with_suffix(".ontology.json")) == document.ontology


def test_masks_are_full_size_rgba_white_on_transparent_black(scene, tmp_path):
    labels, document = scene
    out = tmp_path / "fish.json"
    _write(out, labels, document)
    for obj in json.loads(out.read_text())[0]["Label"]["objects"]:
        label_id = next(
            i for i, x in document.instances.items() if x.feature_id == obj["featureId"]
        )
        mode, pixels = _png_pixels(tmp_path / obj["instanceURI"])
        assert mode == "RGBA" and pixels.shape == (40, 50, 4)
        inside = labels == label_id
        np.testing.assert_array_equal(pixels[inside], 255)
        np.testing.assert_array_equal(pixels[~inside], 0)


def test_grey_masks_on_request(scene, tmp_path):
    labels, document = scene
    _write(tmp_path / "fish.json", labels, document, mask_mode="L")
    for path in (tmp_path / "fish_masks").iterdir():
        mode, pixels = _png_pixels(path)
        assert mode == "L" and set(np.unique(pixels)) == {0, 255}
    (row,) = _read(tmp_path / "fish.json")
    np.testing.assert_array_equal(row.labels > 0, labels > 0)


def test_urls_for_masks_and_image(scene, tmp_path):
    labels, document = scene
    out = tmp_path / "fish export.json"
    _write(
        out,
        labels,
        document,
        mask_base_url="https://host.example/exports/",
        image_base_url="https://host.example/img",
    )
    (row,) = json.loads(out.read_text())
    assert row["Labeled Data"] == "https://host.example/img/tank.png"
    uri = row["Label"]["objects"][0]["instanceURI"]
    assert uri.startswith("https://host.example/exports/fish%20export_masks/c")


def test_labeled_data_is_relative_inside_the_folder_and_urls_are_kept(scene, tmp_path):
    labels, document = scene
    _write(tmp_path / "fish.json", labels, document)
    assert json.loads((tmp_path / "fish.json").read_text())[0]["Labeled Data"] == "tank.png"
    document.source = {"labeled_data": "https://cdn.example/tank.png", "external_id": "t1"}
    _write(tmp_path / "fish.json", labels, document)
    (row,) = json.loads((tmp_path / "fish.json").read_text())
    assert row["Labeled Data"] == "https://cdn.example/tank.png" and row["External ID"] == "t1"


def test_ids_and_feature_ids_are_stable_across_saves_and_time_adds_up(scene, tmp_path):
    labels, document = scene
    out = tmp_path / "fish.json"
    first = _write(out, labels, document, seconds_to_label=10)
    before = json.loads(out.read_text())[0]
    document.source.update(first.sources[0])  # what the napari hooks do
    _write(out, labels, document, seconds_to_label=2.5)
    after = json.loads(out.read_text())[0]
    for key in ("ID", "DataRow ID", "Created At", "Labeled Data"):
        assert after[key] == before[key]
    assert after["Seconds to Label"] == 12.5
    strip = json.dumps(after["Label"]) == json.dumps(before["Label"])
    assert strip, "objects, classifications and their featureIds are unchanged"


def test_unanswered_required_questions_warn_with_a_list(scene, tmp_path):
    labels, document = scene
    with pytest.warns(LabelboxFormatWarning, match=r"instance 2 \(Blue Fish\)") as caught:
        document.ontology.classes[1].questions.append(
            Question("text", "Size", required=True, feature_schema_id="c" + "s" * 24)
        )
        write_export(tmp_path / "f.json", [(labels, document)])
    (message,) = [str(w.message) for w in caught if "unanswered" in str(w.message)]
    assert "Size" in message and "instance 4" not in message  # not exported: not listed


def test_resave_removes_masks_of_deleted_instances(scene, tmp_path):
    labels, document = scene
    out = tmp_path / "fish.json"
    _write(out, labels, document)
    gone = document.instances[2].feature_id
    assert len(list((tmp_path / "fish_masks").glob(f"{gone}.*.png"))) == 1
    labels[labels == 2] = 0
    document.remove_instance(2)
    _write(out, labels, document)
    assert sorted(p.name for p in (tmp_path / "fish_masks").iterdir()) == sorted(
        uri.removeprefix("fish_masks/") for uri in _instance_uris(out)
    )
    assert sorted(p.name.split(".")[0] for p in (tmp_path / "fish_masks").iterdir()) == sorted(
        document.instances[i].feature_id for i in (1, 3)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fish.json",
        "fish.ontology.json",
        "fish_masks",
        "tank.png",
    ]


@pytest.mark.parametrize("where", ["while encoding masks", "at the last rename"])
def test_a_failed_save_leaves_the_earlier_export_intact(scene, tmp_path, monkeypatch, where):
    labels, document = scene
    out = tmp_path / "fish.json"
    _write(out, labels, document)
    before = _snapshot(tmp_path)
    labels[labels == 2] = 0
    document.remove_instance(2)
    document.ontology.classes[0].color = "#123456"
    if where == "while encoding masks":
        calls = []
        real = labelbox_v1.writer.MaskPngEncoder.encode

        def flaky(self, mask):
            calls.append(1)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
            return real(self, mask)

        monkeypatch.setattr(labelbox_v1.writer.MaskPngEncoder, "encode", flaky)
    else:

        def refuse(staged, target):
            raise PermissionError(13, "Permission denied", str(target))

        monkeypatch.setattr(labelbox_v1.writer, "_commit", refuse)
    with pytest.raises(OSError):
        _write(out, labels, document)
    assert _snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fish.json",
        "fish.ontology.json",
        "fish_masks",
        "tank.png",
    ], "no temporaries left"


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_an_interrupted_commit_leaves_the_earlier_export_intact(
    scene, tmp_path, monkeypatch, interruption
):
    labels, document = scene
    out = tmp_path / "fish.json"
    _write(out, labels, document)
    before = _snapshot(tmp_path)
    labels[labels == 1] = 0
    labels[20:25, 3:9] = 1  # redrawn: a new mask file
    document.ontology.classes[0].color = "#123456"

    def interrupt(staged, target):
        raise interruption()

    monkeypatch.setattr(labelbox_v1.writer, "_commit", interrupt)
    with pytest.raises(interruption):
        _write(out, labels, document)
    assert _snapshot(tmp_path) == before  # new masks removed, old ontology back, no temporaries


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_written_files_get_the_usual_permissions(scene, tmp_path):
    labels, document = scene
    umask = os.umask(0o022)
    try:
        _write(tmp_path / "fish.json", labels, document)
    finally:
        os.umask(umask)
    written = [tmp_path / "fish.json", tmp_path / "fish.ontology.json"]
    written += list((tmp_path / "fish_masks").iterdir())
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {oct(0o644)}


def test_unchanged_masks_are_not_rewritten(scene, tmp_path):
    labels, document = scene
    out = tmp_path / "fish.json"
    _write(out, labels, document)
    stats = {p.name: p.stat() for p in (tmp_path / "fish_masks").iterdir()}
    labels[labels == 3] = 0
    labels[33:37, 5:40] = 3  # only instance 3 changes
    _write(out, labels, document)
    after = {p.name: p.stat() for p in (tmp_path / "fish_masks").iterdir()}
    kept = stats.keys() & after.keys()
    assert len(kept) == 2 and len(after) == 3
    assert all(after[n].st_ino == stats[n].st_ino for n in kept)
    assert all(after[n].st_mtime_ns == stats[n].st_mtime_ns for n in kept)


# A save that dies at a chosen point, as SIGKILL would: os._exit runs no cleanup code
CRASHING_SAVE = """
import json, os, sys
from pathlib import Path
import numpy as np
from napari_segtool.model.document import Document
from napari_segtool.formats import labelbox_v1
from napari_segtool.formats.toolkit import atomic

out, scene, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
labels = np.load(scene / "labels.npy")
document = Document.from_dict(json.loads((scene / "document.json").read_text()))

def crash(*args, **kwargs):
    os._exit(70)

if point == "mid-masks":  # the first new mask renamed in, the second still a temporary
    real_write_temp, calls = atomic.write_temporary, []

    def write_temp_then_crash(*args, **kwargs):
        temp = real_write_temp(*args, **kwargs)
        calls.append(temp)
        if len(calls) == 2:
            crash()
        return temp

    atomic.write_temporary = write_temp_then_crash
elif point == "commit":  # every new mask and the new ontology on disk, the JSON not yet
    labelbox_v1.writer._commit = crash
elif point == "prune":  # the new JSON committed, the old masks not yet deleted
    labelbox_v1.save_files._MaskFiles.prune = crash
labelbox_v1.write_export(out, [(labels, document)])
"""


@pytest.mark.skipif(os.name == "nt", reason="POSIX file semantics")
@pytest.mark.parametrize("point", ["mid-masks", "commit", "prune"])
def test_a_save_killed_at_any_point_leaves_a_whole_export(scene, tmp_path, point):
    import subprocess
    import sys

    labels, document = scene
    out = tmp_path / "fish.json"
    _write(out, labels, document)
    (old,) = _read(out)
    before = _snapshot(tmp_path)
    # the next version: instance 1 redrawn, 2 deleted, 3 moved, Water gone from the ontology
    new_labels = labels.copy()
    new_labels[new_labels == 1] = 0
    new_labels[new_labels == 2] = 0
    new_labels[20:26, 3:9] = 1
    new_labels[new_labels == 3] = 0
    new_labels[33:37, 4:46] = 3
    document.remove_instance(2)
    document.instances[3].schema_id = BLUE
    ontology = Ontology.from_dict(document.ontology.to_dict())
    ontology.classes = [c for c in ontology.classes if c.feature_schema_id != WATER]
    ontology.classes[0].color = "#123456"
    document.set_ontology(ontology)
    scene_dir = tmp_path.parent / f"{tmp_path.name}-scene"
    scene_dir.mkdir()
    np.save(scene_dir / "labels.npy", new_labels)
    (scene_dir / "document.json").write_text(json.dumps(document.to_dict()))

    child = subprocess.run(
        [sys.executable, "-c", CRASHING_SAVE, str(out), str(scene_dir), point],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 70, child.stderr
    after = _snapshot(tmp_path)
    if point == "prune":  # committed: the new export, whole
        (row,) = _read(out)
        by_feature = {i.feature_id: i.label_id for i in row.document.instances.values()}
        assert len(by_feature) == 2  # instance 4 has no pixels
        for instance in [document.instances[1], document.instances[3]]:
            label_id = by_feature[instance.feature_id]
            np.testing.assert_array_equal(row.labels == label_id, new_labels == instance.label_id)
        assert row.document.ontology == ontology
    else:  # not committed: the old JSON and every mask it names, byte for byte
        unchanged = {name: after.get(name) for name in before if name != "fish.ontology.json"}
        assert unchanged == {n: d for n, d in before.items() if n != "fish.ontology.json"}
        if point == "commit":
            # the new ontology beside the old JSON: the reader adds the class it lacks
            assert Ontology.load(tmp_path / "fish.ontology.json") == ontology
            with pytest.warns(LabelboxFormatWarning, match=r"lacked 1 class\(s\)"):
                (row,) = read_export(out)
        else:
            assert after["fish.ontology.json"] == before["fish.ontology.json"]
            (row,) = _read(out)
        np.testing.assert_array_equal(row.labels, old.labels)
        assert [
            (i.feature_id, i.schema_id, i.answers) for i in row.document.instances.values()
        ] == [(i.feature_id, i.schema_id, i.answers) for i in old.document.instances.values()]
        extra = after.keys() - before.keys()
        # extra: only new masks no JSON names yet, and the unfinished JSON (hidden)
        masks_extra = {n for n in extra if n.startswith("fish_masks/") and n.endswith(".png")}
        assert masks_extra and not masks_extra & {f"{u}" for u in _instance_uris(out)}
        assert all(n.startswith(".fish.json.") for n in extra - masks_extra), extra
    # the next save succeeds and leaves exactly the export: no leftovers
    _write(out, new_labels, document)
    assert sorted(_snapshot(tmp_path)) == sorted(
        ["fish.json", "fish.ontology.json", "tank.png", *_instance_uris(out)]
    )


def test_a_mask_folder_holding_other_files_is_not_replaced(scene, tmp_path):
    labels, document = scene
    (tmp_path / "fish_masks").mkdir()
    (tmp_path / "fish_masks" / "notes.txt").write_text("mine")
    with pytest.raises(LabelboxFormatError, match=r"fish_masks: the mask folder also holds notes"):
        _write(tmp_path / "fish.json", labels, document)
    assert not (tmp_path / "fish.json").exists()
    assert (tmp_path / "fish_masks" / "notes.txt").read_text() == "mine"


def test_bad_rows_are_refused(scene, tmp_path):
    labels, document = scene
    with pytest.raises(LabelboxFormatError, match="2-D"):
        _write(tmp_path / "f.json", labels[None], document)
    twin = Document.from_dict(document.to_dict())
    with pytest.raises(LabelboxFormatError, match=r"featureId .* is used twice"):
        write_export(tmp_path / "f.json", [(labels, document), (labels, twin)])
    assert list(tmp_path.glob("f*")) == []


def test_feature_ids_unfit_for_file_names_are_hashed(scene, tmp_path):
    labels, document = scene
    document.instances[1].feature_id = "../../etc/passwd"
    _write(tmp_path / "f.json", labels, document)
    uris = [
        o["instanceURI"]
        for o in json.loads((tmp_path / "f.json").read_text())[0]["Label"]["objects"]
    ]
    assert all(uri.startswith("f_masks/") and ".." not in uri for uri in uris)
    (row,) = _read(tmp_path / "f.json")
    assert row.document.instances[1].feature_id == "../../etc/passwd"


def test_several_data_rows_write_and_read_back(scene, fish_ontology, tmp_path):
    labels, document = scene
    other_labels = np.zeros((20, 30), np.uint16)
    other_labels[2:9, 3:8] = 7
    other = Document(
        ontology=fish_ontology,
        instances=[Instance(7, BLUE)],
        source={"external_id": "second.png", "labeled_data": "https://x.example/second.png"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        write_export(tmp_path / "two.json", [(labels, document), (other_labels, other)])
    rows = _read(tmp_path / "two.json")
    assert [r.name for r in rows] == ["tank", "second"]
    assert rows[0].image is not None and rows[1].image is None  # a URL is not downloaded
    np.testing.assert_array_equal(rows[1].labels > 0, other_labels > 0)
    assert rows[1].labels.shape == (20, 30)
    assert rows[0].document.ontology is not rows[1].document.ontology


# ==============================================================================
# real-export quirks
# ==============================================================================
def _export(folder: Path, objects, classifications=(), **row) -> Path:
    data = {
        "ID": "ck0fishlabel0000000000009",
        "DataRow ID": "ck0fishdatarow00000000009",
        "Labeled Data": "https://example.org/image.png",
        "External ID": "image.png",
        "Label": {"objects": list(objects), "classifications": list(classifications)},
        **row,
    }
    path = folder / "export.json"
    path.write_text(json.dumps([data]))
    return path


def _mask_object(feature_id, uri, title="Cell", schema_id="c" + "a" * 24, **extra):
    return {
        "featureId": feature_id,
        "schemaId": schema_id,
        "title": title,
        "value": title.lower(),
        "color": "#00FF00",
        "instanceURI": uri,
        **extra,
    }


def test_masks_in_rgb_grey_and_1_bit_are_read(tmp_path):
    mask = np.zeros((12, 16), bool)
    mask[2:6, 3:9] = True
    white = mask.astype(np.uint8) * 255
    _save_png(tmp_path / "m" / "rgb.png", np.dstack([white] * 3))
    _save_png(tmp_path / "m" / "grey.png", white)
    _save_png(tmp_path / "m" / "bit.png", mask)
    objects = [
        _mask_object("c" + str(n) * 24, f"m/{name}.png", schema_id="c" + "a" * 24)
        for n, name in enumerate(["rgb", "grey", "bit"])
    ]
    # each later mask covers the earlier one: the later object wins
    with pytest.warns(LabelboxFormatWarning, match="c2{24} over c1{24}"):
        (row,) = read_export(_export(tmp_path, objects))
    np.testing.assert_array_equal(row.labels, np.where(mask, 3, 0))


def test_overlap_warning_names_both_objects(tmp_path):
    first, second = np.zeros((10, 10), np.uint8), np.zeros((10, 10), np.uint8)
    first[0:5, 0:5], second[3:8, 3:8] = 255, 255
    _save_png(tmp_path / "a.png", first)
    _save_png(tmp_path / "b.png", second)
    objects = [_mask_object("c" + "1" * 24, "a.png"), _mask_object("c" + "2" * 24, "b.png")]
    with pytest.warns(LabelboxFormatWarning, match=r"later object wins: c2{24} over c1{24}"):
        (row,) = read_export(_export(tmp_path, objects))
    assert row.labels[4, 4] == 2 and row.labels[0, 0] == 1 and row.labels[7, 7] == 2


def test_unknown_keys_legacy_dropdown_and_wrapped_checklists(tmp_path):
    _save_png(tmp_path / "a.png", np.eye(8, dtype=np.uint8) * 255)
    checklist = {
        "featureId": "c" + "f" * 24,
        "schemaId": "c" + "q" * 24,
        "title": "Traits",
        "value": "traits",
        "answers": [[{"schemaId": "c" + "o" * 24, "title": "Round", "value": "round"}]],
    }
    dropdown = {
        "schemaId": "c" + "d" * 24,
        "title": "Stain",
        "answer": [{"schemaId": "c" + "e" * 24, "title": "DAPI", "value": "dapi"}],
    }
    obj = _mask_object("c" + "1" * 24, "a.png", classifications=[checklist], someFutureKey=1)
    path = _export(tmp_path, [obj], [dropdown], **{"Data Split": "train", "Global Key": "g"})
    (row,) = _read(path)
    ontology = row.document.ontology
    traits = ontology.classes[0].questions[0]
    assert (traits.type, [o.label for o in traits.options]) == ("checklist", ["Round"])
    assert row.document.instances[1].answers == {"c" + "q" * 24: {"c" + "o" * 24: {}}}
    assert row.document.image_answers == {"c" + "d" * 24: {"c" + "e" * 24: {}}}
    assert row.document.source["v1_extra"] == {"Data Split": "train", "Global Key": "g"}
    # written back: the unknown data-row keys survive a re-save
    write_export(tmp_path / "again.json", [(row.labels, row.document)])
    (again,) = json.loads((tmp_path / "again.json").read_text())
    assert again["Data Split"] == "train" and again["Global Key"] == "g"


def test_objects_of_other_tools_become_shapes_and_survive_a_resave(tmp_path):
    _save_png(tmp_path / "a.png", np.eye(10, dtype=np.uint8) * 255)
    box = {"top": 1, "left": 2, "height": 3, "width": 4}
    outline = [{"x": 1, "y": 1}, {"x": 5, "y": 1}, {"x": 5, "y": 4}]
    others = [
        {"featureId": "c" + "b" * 24, "schemaId": "c" + "x" * 24, "title": "Box", "bbox": box},
        {"featureId": "c" + "p" * 24, "title": "Outline", "color": "#00FF00", "polygon": outline},
        {
            "featureId": "c" + "l" * 24,
            "title": "Path",
            "line": [{"x": 0, "y": 0}, {"x": 9, "y": 9}],
        },
        {"featureId": "c" + "t" * 24, "title": "Spot", "point": {"x": 7, "y": 3}},
        {"featureId": "c" + "u" * 24, "title": "Mystery", "ellipse": {}},
    ]
    path = _export(tmp_path, [_mask_object("c" + "1" * 24, "a.png"), *others])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (row,) = read_export(path)
    messages = [str(w.message) for w in caught]
    assert any(
        "4 object(s) of other tools (1 bbox, 1 line, 1 point, 1 polygon)" in m for m in messages
    )
    assert any("1 object(s) with neither a mask nor a known geometry" in m for m in messages)
    kinds = {o.feature_id[1]: (o.kind, o.coords.tolist()) for o in row.other_objects}
    assert kinds == {
        "b": ("rectangle", [[1, 2], [1, 6], [4, 6], [4, 2]]),
        "p": ("polygon", [[1, 1], [1, 5], [4, 5]]),
        "l": ("path", [[0, 0], [9, 9]]),
        "t": ("point", [[3, 7]]),
    }
    assert {c.name: c.tool for c in row.document.ontology.classes} == {
        "Cell": "raster-segmentation",
        "Box": "rectangle",
        "Outline": "polygon",
        "Path": "line",
        "Spot": "point",
    }
    assert len(row.document.instances) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        write_export(tmp_path / "again.json", [(row.labels, row.document)])
    written = json.loads((tmp_path / "again.json").read_text())[0]["Label"]["objects"]
    assert written[1:] == others  # unchanged


def test_nested_answers_inside_the_answer_object_are_accepted(tmp_path, fish_ontology):
    """Some exports nest sub-answers in the chosen answer instead of flattening them."""
    _save_png(tmp_path / "a.png", np.eye(8, dtype=np.uint8) * 255)
    (tmp_path / "ontology.json").write_text(fish_ontology.to_json())
    radio = {
        "schemaId": BLURRY,
        "title": "Is the fish blurry?",
        "answer": {
            "schemaId": YES,
            "title": "Yes",
            "classifications": [{"schemaId": WHY, "title": "Why is it blurry?", "answer": "fast"}],
        },
    }
    obj = _mask_object("c" + "1" * 24, "a.png", title="Orange Fish", schema_id=ORANGE)
    obj["classifications"] = [radio]
    (row,) = _read(_export(tmp_path, [obj]))
    assert row.document.instances[1].answers == {BLURRY: {YES: {WHY: "fast"}}}


def test_answers_under_an_option_not_chosen_are_dropped_with_a_warning(tmp_path, fish_ontology):
    _save_png(tmp_path / "a.png", np.eye(8, dtype=np.uint8) * 255)
    (tmp_path / "ontology.json").write_text(fish_ontology.to_json())
    obj = _mask_object("c" + "1" * 24, "a.png", title="Orange Fish", schema_id=ORANGE)
    obj["classifications"] = [
        {"schemaId": BLURRY, "title": "Is the fish blurry?", "answer": {"schemaId": NO}},
        {"schemaId": WHY, "title": "Why is it blurry?", "answer": "orphan"},
    ]
    with pytest.warns(LabelboxFormatWarning, match="not chosen: Why is it blurry"):
        (row,) = read_export(_export(tmp_path, [obj]))
    assert row.document.instances[1].answers == {BLURRY: {NO: {}}}


def test_a_row_without_image_or_masks_is_skipped(tmp_path):
    path = _export(tmp_path, [])
    with pytest.raises(LabelboxFormatError, match="no data row could be opened"):
        _read(path)


def test_a_missing_local_image_opens_the_segmentation_alone(tmp_path):
    _save_png(tmp_path / "a.png", np.eye(8, dtype=np.uint8) * 255)
    path = _export(
        tmp_path, [_mask_object("c" + "1" * 24, "a.png")], **{"Labeled Data": "gone.png"}
    )
    with pytest.warns(LabelboxFormatWarning, match="gone.png was not found"):
        (row,) = read_export(path)
    assert row.image is None and row.labels.shape == (8, 8)


# ==============================================================================
# bad input: a clear error naming the file, and nothing returned
# ==============================================================================
def test_sniffing_accepts_v1_and_declines_other_json(tmp_path, reference_dir):
    assert is_v1_export(reference_dir / "export_v1.fish.json")
    cases = {
        "coco.json": {"images": [], "annotations": [], "categories": []},
        "ontology.json": {"tools": [], "classifications": []},
        "numbers.json": [1, 2, 3],
        "labels.json": [{"Label": "cat"}],
    }
    for name, data in cases.items():
        (tmp_path / name).write_text(json.dumps(data))
        assert not is_v1_export(tmp_path / name), name
    (tmp_path / "export.txt").write_text('[{"DataRow ID": 1}]')
    assert not is_v1_export(tmp_path / "export.txt")
    assert not is_v1_export(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text((reference_dir / "export_v1.fish.json").read_text()[:500])
    assert is_v1_export(broken), "a damaged export still reaches our reader, for a clear error"


def test_malformed_json_names_the_file_and_the_place(tmp_path, reference_dir):
    broken = tmp_path / "broken.json"
    broken.write_text((reference_dir / "export_v1.fish.json").read_text()[:500])
    with pytest.raises(LabelboxFormatError, match=r"broken\.json: not valid JSON \(.* line \d+"):
        read_export(broken)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({"a": 1}, "a v1 export is a JSON list of data rows, not an object"),
        ([{"ID": "x"}], "row 0: a data row is an object with a 'Label' key"),
        ([{"Label": {"objects": {}}}], "row 0: Label.objects must be a list"),
        ([{"Label": 3}], "row 0: Label must be an object, not int"),
    ],
)
def test_wrong_structure_is_named(tmp_path, content, problem):
    path = tmp_path / "e.json"
    path.write_text(json.dumps(content))
    with pytest.raises(LabelboxFormatError) as info:
        read_export(path)
    assert str(info.value) == f"{path}: {problem}"


def test_missing_mask(tmp_path):
    path = _export(tmp_path, [_mask_object("c" + "1" * 24, "masks/none.png")])
    with pytest.raises(
        LabelboxFormatError,
        match=r"export\.json: row 0 object c1+: the mask .*none\.png is missing",
    ):
        read_export(path)


def test_mask_of_the_wrong_size(reference_copy):
    mask = reference_copy / "tank_masks" / f"{REFERENCE_FEATURES[2]}.png"
    _save_png(mask, np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(
        LabelboxFormatError, match="the mask is 10 x 10 pixels but the image is 128 x 96"
    ):
        read_export(reference_copy / "export_v1.fish.json")


def test_non_binary_mask(reference_copy):
    mask = reference_copy / "tank_masks" / f"{REFERENCE_FEATURES[0]}.png"
    pixels = _png_pixels(mask)[1].copy()
    pixels[50, 60] = (200, 200, 200, 255)
    _save_png(mask, pixels)
    with pytest.raises(
        LabelboxFormatError, match=r"not a binary mask: pixel \(row 50, column 60\)"
    ):
        read_export(reference_copy / "export_v1.fish.json")


@pytest.mark.parametrize("escape", ["../outside.png", "absolute", "symlink"])
def test_instance_uri_escaping_the_folder_is_refused(tmp_path, escape):
    folder = tmp_path / "export"
    folder.mkdir()
    outside = tmp_path / "outside.png"
    _save_png(outside, np.eye(8, dtype=np.uint8) * 255)
    uri = {"../outside.png": "../outside.png", "absolute": str(outside), "symlink": "link.png"}[
        escape
    ]
    if escape == "symlink":
        os.symlink(outside, folder / "link.png")
    path = _export(folder, [_mask_object("c" + "1" * 24, uri)])
    with pytest.raises(
        LabelboxFormatError, match=r"points outside the export's folder .*; refused"
    ):
        read_export(path)


def test_http_instance_uri_is_not_downloaded_unless_enabled(tmp_path, monkeypatch):
    uri = "https://storage.example/mask.png"
    path = _export(tmp_path, [_mask_object("c" + "1" * 24, uri)])
    fetched = []

    class Response(BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout):
        fetched.append(url)
        out = BytesIO()
        Image.fromarray(np.eye(6, dtype=np.uint8) * 255).save(out, format="PNG")
        return Response(out.getvalue())

    monkeypatch.setattr(labelbox_v1.reader.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(LabelboxFormatError, match="is a web address; masks are not downloaded"):
        read_export(path)
    assert fetched == []
    (row,) = _read(path, allow_download=True)
    assert uri in fetched
    np.testing.assert_array_equal(row.labels, np.eye(6, dtype=np.uint32))


def test_an_image_too_large_to_be_real_is_refused(tmp_path, reference_copy, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the tank is 12288 pixels
    with pytest.raises(LabelboxFormatError, match=r"tank\.png is too large to be real"):
        read_export(reference_copy / "export_v1.fish.json")
    with pytest.raises(LabelboxFormatError, match="decompression bomb"):
        read_export(reference_copy / "export_v1.fish.json", max_pixels=5000)


def test_a_bomb_mask_without_an_image_is_refused(tmp_path):
    import struct

    from napari_segtool.formats import masks

    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 6, 0, 0, 0)
    (tmp_path / "bomb.png").write_bytes(
        masks.PNG_SIGNATURE + masks._chunk(b"IHDR", ihdr) + masks._chunk(b"IEND", b"")
    )
    path = _export(tmp_path, [_mask_object("c" + "1" * 24, "bomb.png")])
    with pytest.raises(LabelboxFormatError, match=r"bomb\.png: 60000 x 60000 pixels is more than"):
        read_export(path)


def test_an_unusable_ontology_beside_the_export_is_named(reference_copy):
    (reference_copy / "ontology.fish.json").write_text('{"tools": [{"name": ""}]}')
    with pytest.raises(
        LabelboxFormatError, match=r"ontology beside it is not usable: .*ontology\.fish\.json"
    ):
        read_export(reference_copy / "export_v1.fish.json")


# ==============================================================================
# round trip, property-based
# ==============================================================================
_names = st.text("abcdefgh ", min_size=1, max_size=6).map(str.strip).filter(bool)


@st.composite
def questions(draw, depth: int, allow_dropdown: bool) -> list[Question]:
    names = draw(st.lists(_names, min_size=0, max_size=3, unique_by=str.casefold))
    out = []
    types = ["radio", "checklist", "text"] + (["dropdown"] if allow_dropdown else [])
    for name in names:
        qtype = draw(st.sampled_from(types))
        options = []
        if qtype != "text":
            labels = draw(st.lists(_names, min_size=1, max_size=3, unique_by=slugify))
            for label in labels:
                nested = (
                    draw(questions(depth - 1, False)) if depth > 0 and qtype != "dropdown" else []
                )
                options.append(Option(label=label, questions=nested))
        out.append(Question(qtype, name, required=draw(st.booleans()), options=options))
    return out


@st.composite
def answers_for(draw, qs: list[Question]) -> dict:
    out = {}
    for question in qs:
        if not draw(st.booleans()):
            continue
        if question.type == "text":
            out[question.feature_schema_id] = draw(st.text(min_size=1, max_size=8))
            continue
        count = len(question.options) if question.type == "checklist" else 1
        chosen = draw(
            st.lists(
                st.sampled_from(question.options),
                min_size=1,
                max_size=count,
                unique_by=lambda o: o.feature_schema_id,
            )
        )
        out[question.feature_schema_id] = {
            o.feature_schema_id: draw(answers_for(o.questions)) for o in chosen
        }
    return out


@st.composite
def scenes(draw):
    class_names = draw(st.lists(_names, min_size=1, max_size=3, unique_by=str.casefold))
    ontology = Ontology(
        classes=[
            ObjectClass(name, color=draw(st.sampled_from(["#FF0000", "#00AA00", "#123ABC"])),
                        questions=draw(questions(1, True)))
            for name in class_names
        ],
        questions=draw(questions(1, True)),
    )  # fmt: skip
    height, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    ids = draw(st.lists(st.integers(1, 300), min_size=0, max_size=6, unique=True))
    pixels = draw(
        st.lists(st.sampled_from([0, *ids]), min_size=height * width, max_size=height * width)
    )
    labels = np.array(pixels, dtype=np.uint32).reshape(height, width)
    instances = []
    for label_id in ids:
        cls_ = draw(st.sampled_from(ontology.classes))
        instances.append(
            Instance(label_id, cls_.feature_schema_id, answers=draw(answers_for(cls_.questions)))
        )
    document = Document(
        ontology=ontology,
        instances=instances,
        image_answers=draw(answers_for(ontology.questions)),
        source={"external_id": "random.png", "labeled_data": "https://example.org/random.png"},
    )
    return labels, document, draw(st.sampled_from(["RGBA", "L"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_round_trip_keeps_pixels_classes_answers_and_feature_ids(scene_):
    labels, document, mode = scene_
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "round.json"
        if not labels.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LabelboxFormatWarning)
                write_export(out, [(labels, document)], mask_mode=mode)
            with pytest.raises(LabelboxFormatError, match="no data row could be opened"):
                _read(out)  # a URL image and no masks: the size is unknown
            return
        _write(out, labels, document, mask_mode=mode)
        (row,) = _read(out)
        shutil.rmtree(folder, ignore_errors=True)
    read_doc = row.document
    assert read_doc.ontology == document.ontology
    painted = [i for i in sorted(document.instances) if (labels == i).any()]
    by_feature = {i.feature_id: i for i in read_doc.instances.values()}
    assert sorted(by_feature) == sorted(document.instances[i].feature_id for i in painted)
    for label_id in painted:
        original = document.instances[label_id]
        again = by_feature[original.feature_id]
        np.testing.assert_array_equal(row.labels == again.label_id, labels == label_id)
        assert again.schema_id == original.schema_id
        assert again.answers == original.answers
    assert (row.labels > 0).sum() == np.isin(labels, painted).sum()
    assert read_doc.image_answers == document.image_answers


@pytest.mark.parametrize("mode", ["alongside", "instead"])
def test_instances_can_be_exported_as_labelbox_polygons(tmp_path, mode):
    from napari_segtool.formats.labelbox_v1 import outline_feature_id, read_export, write_export
    from napari_segtool.model.ontology import ObjectClass, Ontology

    ontology = Ontology(classes=[ObjectClass("Fish", color="#112233")])
    fish = ontology.classes[0].feature_schema_id
    labels = np.zeros((20, 30), np.uint16)
    labels[2:6, 3:9] = 1  # one square
    labels[10:12, 2:4] = 2  # two components of instance 2
    labels[15:18, 20:25] = 2
    document = Document(ontology)
    document.add_instance(1, fish)
    document.add_instance(2, fish)
    path = tmp_path / "fish.json"
    result = write_export(path, [(labels, document)], polygons=mode)
    objects = json.loads(path.read_text())[0]["Label"]["objects"]
    outlines = [o for o in objects if "polygon" in o]
    assert len(outlines) == 3
    square = next(
        o
        for o in outlines
        if o["featureId"] == outline_feature_id(document.instance(1).feature_id, 0)
    )
    corners = {(p["x"], p["y"]) for p in square["polygon"]}
    assert corners == {(3, 2), (9, 2), (9, 6), (3, 6)}  # pixel corners, x = column
    assert all(o["schemaId"] == fish and o["title"] == "Fish" for o in outlines)
    with_masks = [o for o in objects if "instanceURI" in o]
    assert len(with_masks) == (2 if mode == "alongside" else 0)
    assert result.mask_count == len(with_masks)

    if mode == "alongside":
        # reading back: derived outlines are no extra objects, and saves do not pile them up
        (row,) = read_export(path)
        assert not row.document.source.get("other_objects") and not row.other_objects
        write_export(path, [(row.labels, row.document)], polygons=mode)
        again = json.loads(path.read_text())[0]["Label"]["objects"]
        assert len([o for o in again if "polygon" in o]) == 3
