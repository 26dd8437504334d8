"""Real COCO files other tools wrote (tests/data/realworld, SOURCES.md names each origin).

Pixels are checked against ``pycocotools`` (``COCO.annToMask``), the reference every
COCO user has; round trips through our writer keep what those tools wrote.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from napari_segtool.formats.coco import (
    ONTOLOGY_KEY,
    RESERVED_ATTRIBUTES,
    CocoError,
    CocoWarning,
    parse_coco,
)
from napari_segtool.formats.coco_files import read_coco_file, write_coco_file
from napari_segtool.formats.result import LabelsItem
from tests.coco_samples import REAL_COCO_FILES, REALWORLD

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation:DeprecationWarning", "ignore::UserWarning"
)
coco_api = pytest.importorskip("pycocotools.coco")

CVAT = REALWORLD / "cvat-SakibAhmedShuva/annotations/instances_default.json"
FIRE_SMOKE = REALWORLD / "cvat-yomvol-fire-smoke/annotations/val_instances_default.json"


def pycocotools_coco(path: Path):
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
        return coco_api.COCO(str(path))


def has_segmentation(annotation: dict) -> bool:
    return annotation.get("segmentation") not in (None, [])


def read_quietly(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_coco_file(path)


def test_every_realworld_coco_file_is_listed():
    """A COCO file added to the test data is checked here too (panoptic apart)."""
    found = {
        str(p.relative_to(REALWORLD))
        for p in REALWORLD.rglob("*.json")
        if isinstance(data := json.loads(p.read_text()), dict) and "annotations" in data
    }
    assert found == {*REAL_COCO_FILES, "labelbox-python/coco/panoptic.json"}


@pytest.mark.parametrize("name", REAL_COCO_FILES)
def test_every_annotation_has_exactly_the_pixels_pycocotools_gives(name):
    path = REALWORLD / name
    reference = pycocotools_coco(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images, _ = parse_coco(json.loads(path.read_text()), str(path))
    masks = boxes = 0
    for image in images:
        annotations = reference.imgToAnns[image.image_id]
        # crowd regions first, beneath the objects
        with_pixels = sorted(
            (a for a in annotations if has_segmentation(a)), key=lambda a: not a["iscrowd"]
        )
        kept = image.document.source.get("coco_boxes", [])
        assert [b["annotation"]["id"] for b in kept] == [
            a["id"] for a in annotations if not has_segmentation(a)
        ]
        boxes += len(kept)
        if not with_pixels:
            assert not image.document.instances
            continue
        # painted in that order, the later annotation winning where they overlap
        expected = np.zeros((image.height, image.width), np.int64)
        for annotation in with_pixels:
            mask = reference.annToMask(annotation).astype(bool)
            expected[mask] = image.label_ids.get(annotation["id"], -1)
            masks += 1
        np.testing.assert_array_equal(image.labels, expected)
        for annotation in with_pixels:
            label_id = image.label_ids.get(annotation["id"])
            if label_id is not None:
                instance = image.document.instances[label_id]
                assert instance.crowd == (annotation["iscrowd"] == 1)
    assert masks + boxes == len(reference.dataset["annotations"])


def test_panoptic_coco_says_it_is_not_supported():
    path = REALWORLD / "labelbox-python/coco/panoptic.json"
    with pytest.raises(CocoError, match=r"panoptic COCO .* is not supported") as caught:
        read_coco_file(path)
    assert str(caught.value).startswith(str(path))


# -- attributes ---------------------------------------------------------------------------
def round_trip(path: Path, target: Path, *, keep_images=None) -> tuple[dict, dict, list[str]]:
    """The original JSON, the JSON our writer writes after reading it, and the read's notes."""
    result = read_quietly(path)
    labels = result.labels if keep_images is None else result.labels[:keep_images]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_coco_file(target, [LabelsItem(i.data, i.document, i.name) for i in labels])
    return json.loads(path.read_text()), json.loads(target.read_text()), list(result.notes)


def without_ours(attributes: dict) -> dict:
    return {k: v for k, v in attributes.items() if k not in RESERVED_ATTRIBUTES}


def test_cvat_attributes_survive_a_round_trip_and_are_named_once(tmp_path):
    original, written, notes = round_trip(CVAT, tmp_path / "again.coco.json")
    before = sorted(json.dumps(a["attributes"], sort_keys=True) for a in original["annotations"])
    after = sorted(
        json.dumps(without_ours(a["attributes"]), sort_keys=True) for a in written["annotations"]
    )
    assert after == before
    free = [note for note in notes if "free values" in note]
    assert len(free) == 1
    for name in ("occluded", "Severity", "Recommendation", "Damage location"):
        assert name in free[0]


def test_attributes_matching_a_question_become_answers_the_rest_stay(tmp_path):
    data = json.loads(CVAT.read_text())
    severities = ["high", "low"]  # the real file leaves them empty: fill them in as a user would
    for n, annotation in enumerate(data["annotations"]):
        annotation["attributes"]["Severity"] = severities[n % 2]
    data[ONTOLOGY_KEY] = {
        "tools": [
            {
                "tool": "raster-segmentation",
                "name": category["name"],
                "classifications": [
                    {
                        "type": "radio",
                        "name": "severity",  # names match whatever their case
                        "options": [{"label": s, "value": s} for s in severities],
                    }
                ],
            }
            for category in data["categories"]
        ]
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, _ = parse_coco(data, "cvat.json")
    (free,) = [str(w.message) for w in caught if "free values" in str(w.message)]
    assert "Severity" not in free and "occluded" in free
    instances = [i for image in images for i in image.document.instances.values()]
    assert len(instances) == len(data["annotations"])
    assert all(len(i.answers) == 1 for i in instances)
    assert all("Severity" not in i.extra["attributes"] for i in instances)
    assert all("occluded" in i.extra["attributes"] for i in instances)
    # and written back as the same attributes
    labels = [LabelsItem(i.labels, i.document, str(i.image_id)) for i in images]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_coco_file(tmp_path / "again.coco.json", labels)
    written = json.loads((tmp_path / "again.coco.json").read_text())["annotations"]
    # the answered one under its question's name, the free ones as they were
    expected = [
        {
            **{k: v for k, v in a["attributes"].items() if k != "Severity"},
            "severity": a["attributes"]["Severity"],
        }
        for a in data["annotations"]
    ]
    after = sorted(json.dumps(without_ours(a["attributes"]), sort_keys=True) for a in written)
    assert after == sorted(json.dumps(a, sort_keys=True) for a in expected)


def test_other_keys_of_annotations_images_and_categories_survive(tmp_path):
    path = REALWORLD / "datumaro/coco_person_keypoints/annotations/person_keypoints_val.json"
    original, written, _ = round_trip(path, tmp_path / "again.coco.json")
    by_crowd = {a["iscrowd"]: a for a in written["annotations"]}  # one of each
    for annotation in original["annotations"]:
        again = by_crowd[annotation["iscrowd"]]
        assert again["keypoints"] == annotation["keypoints"]
        assert again["num_keypoints"] == annotation["num_keypoints"]
        assert without_ours(again.get("attributes", {})) == annotation.get("attributes", {})
    for image, again in zip(original["images"], written["images"], strict=True):
        assert {k: again[k] for k in image if k != "id"} == {
            k: v for k, v in image.items() if k != "id"
        }
    for category, again in zip(original["categories"], written["categories"], strict=True):
        assert again["skeleton"] == category["skeleton"]
        assert again["supercategory"] == category["supercategory"]


# -- crowd --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "cocoapi/PythonAPI/extra/samples/instances_val2017_1img-sample.json",
        "labelbox-python/coco/rle.json",
        "datumaro/coco_instances/annotations/instances_val.json",
    ],
)
def test_crowd_regions_survive_a_round_trip_as_crowd_rle(tmp_path, name):
    target = tmp_path / "again.coco.json"
    result = read_quietly(REALWORLD / name)
    crowd_instances = [i for labels in result.labels for i in labels.document.instances.values()
                       if i.crowd]  # fmt: skip
    original, written, _ = round_trip(REALWORLD / name, target)
    crowds = {a["id"]: a for a in original["annotations"] if a["iscrowd"]}
    # a crowd region entirely under the objects it holds has no pixel of its own left
    assert crowd_instances and len(crowd_instances) >= len(crowds) - 1
    # unedited, every crowd region (covered ones too) is written back as it was read
    written_crowds = {a["id"]: a for a in written["annotations"] if a["iscrowd"]}
    assert written_crowds.keys() == crowds.keys()
    assert all(isinstance(a["segmentation"]["counts"], list) for a in written_crowds.values())
    before, after = pycocotools_coco(REALWORLD / name), pycocotools_coco(target)
    for annotation_id, again in written_crowds.items():
        assert again["segmentation"] == crowds[annotation_id]["segmentation"]
        np.testing.assert_array_equal(
            after.annToMask(again), before.annToMask(crowds[annotation_id])
        )


# -- boxes ----------------------------------------------------------------------------------
def test_cvat_detections_open_as_rectangles_with_their_attributes():
    result = read_quietly(FIRE_SMOKE)
    data = json.loads(FIRE_SMOKE.read_text())
    assert len(result.shapes) == len({a["image_id"] for a in data["annotations"]})
    assert sum(len(s.coords) for s in result.shapes) == len(data["annotations"]) == 2002
    first = data["annotations"][0]
    shapes = next(s for s in result.shapes if first["id"] in s.features["annotation id"])
    row = shapes.features["annotation id"].index(first["id"])
    x, y, width, height = first["bbox"]
    np.testing.assert_allclose(
        shapes.coords[row], [[y, x], [y, x + width], [y + height, x + width], [y + height, x]]
    )
    assert set(shapes.shape_types) == {"rectangle"}
    category = next(c for c in data["categories"] if c["id"] == first["category_id"])
    assert shapes.features["class"][row] == category["name"]
    assert shapes.features["occluded"][row] == first["attributes"]["occluded"]
    assert shapes.features["rotation"][row] == first["attributes"]["rotation"]
    assert len(result.labels) == len(data["images"])  # an empty segmentation for each


def test_boxes_beside_masks_and_their_round_trip(tmp_path):
    target = tmp_path / "again.coco.json"
    original, written, _ = round_trip(FIRE_SMOKE, target, keep_images=3)
    kept_images = {i["id"] for i in original["images"][:3]}
    before = [a for a in original["annotations"] if a["image_id"] in kept_images]
    assert before and len(written["annotations"]) == len(before)
    strip = ("id", "image_id", "category_id")
    names = {c["id"]: c["name"] for c in original["categories"]}
    written_names = {c["id"]: c["name"] for c in written["categories"]}
    assert sorted(
        json.dumps({**{k: v for k, v in a.items() if k not in strip}, "c": names[a["category_id"]]})
        for a in before
    ) == sorted(
        json.dumps(
            {**{k: v for k, v in a.items() if k not in strip}, "c": written_names[a["category_id"]]}
        )
        for a in written["annotations"]
    )
    # and pycocotools reads what we wrote
    assert len(pycocotools_coco(target).getAnnIds()) == len(before)


def test_a_box_and_masks_in_one_file(tmp_path):
    path = REALWORLD / "datumaro/coco_instances/annotations/instances_train.json"
    result = read_quietly(path)
    assert [len(s.coords) for s in result.shapes] == [1]
    original, written, _ = round_trip(path, tmp_path / "again.coco.json")
    assert written["annotations"][0]["bbox"] == original["annotations"][0]["bbox"]
    assert written["annotations"][0]["segmentation"] == []


# -- images --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("cvat-SakibAhmedShuva/annotations/instances_default.json", 6),  # ../images/
        ("datumaro/coco_instances/annotations/instances_train.json", 1),  # ../images/train/
        ("datumaro/coco_instances/annotations/instances_val.json", 1),  # ../images/val/
        ("datumaro/coco_roboflow/val/_annotations.coco.json", 1),  # beside the JSON
        ("labelbox-python/coco/instances.json", 10),  # images/
    ],
)
def test_images_are_found_in_the_usual_layouts(name, count):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read_coco_file(REALWORLD / name)
    assert not [w for w in caught if "not found" in str(w.message)]
    assert len(result.images) == count
    for image, labels in zip(result.images, result.labels, strict=True):
        assert image.data.shape[:2] == labels.data.shape
        assert labels.document.source["image_path"] == str(image.path)


def test_missing_images_give_one_warning_naming_them(tmp_path):
    folder = tmp_path / "annotations"
    folder.mkdir()
    shutil.copy(CVAT, folder / CVAT.name)
    (tmp_path / "images").mkdir()
    kept = sorted((CVAT.parent.parent / "images").iterdir())[:2]
    for image in kept:
        shutil.copy(image, tmp_path / "images" / image.name)
    with pytest.warns(CocoWarning) as caught:
        result = read_coco_file(folder / CVAT.name)
    missing = [str(w.message) for w in caught if "not found" in str(w.message)]
    assert len(missing) == 1
    names = [i["file_name"] for i in json.loads(CVAT.read_text())["images"]]
    for name in names:
        assert (name in missing[0]) == (name not in [p.name for p in kept])
    assert len(result.images) == 2 and len(result.labels) == len(names)


@pytest.mark.parametrize(
    ("file_name", "where"),
    [
        ("val/b.jpg", "images/val/b.jpg"),  # CVAT with subsets: the name's own sub-path
        ("val/b.jpg", "annotations/b.jpg"),  # by its last part, beside the JSON
        ("b.jpg", "images/b.jpg"),
        ("b.jpg", "annotations/images/b.jpg"),
    ],
)
def test_file_names_with_and_without_sub_paths_are_found(tmp_path, file_name, where):
    source = REALWORLD / "datumaro/coco_instances"
    data = json.loads((source / "annotations/instances_val.json").read_text())
    data["images"][0]["file_name"] = file_name
    json_file = tmp_path / "annotations" / "instances.json"
    json_file.parent.mkdir()
    json_file.write_text(json.dumps(data))
    (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "images/val/b.jpg", tmp_path / where)
    (image,) = read_quietly(json_file).images
    assert image.path == (tmp_path / where).resolve()


@pytest.mark.parametrize("name", REAL_COCO_FILES)
def test_reading_without_images_gives_the_same_labels_and_documents(name):
    path = REALWORLD / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = read_coco_file(path)
        bare = read_coco_file(path, load_images=False)
    assert not bare.images and not [n for n in bare.notes if "not found" in n]
    assert len(bare.labels) == len(full.labels)
    for ours, theirs in zip(bare.labels, full.labels, strict=True):
        np.testing.assert_array_equal(np.asarray(ours.data), np.asarray(theirs.data))
        assert ours.document.instances.keys() == theirs.document.instances.keys()
        for label_id, instance in theirs.document.instances.items():
            assert ours.document.class_of(label_id).name == theirs.document.class_of(label_id).name
            assert ours.document.instances[label_id].answers == instance.answers
