"""COCO encoding and decoding: RLE like pycocotools, answers as attributes, parsing."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from napari_segtool import load_default_ontology
from napari_segtool.formats.coco import (
    ONTOLOGY_KEY,
    CocoError,
    CocoImageInput,
    CocoWarning,
    answers_from_readable,
    build_coco,
    compress_counts,
    decode_rle,
    decompress_counts,
    encode_rle,
    parse_coco,
    polygon_pixels,
    readable_answers,
    rle_counts,
    write_coco_json,
)
from napari_segtool.model.document import Document
from tests.coco_samples import (
    APPEARANCE,
    BRIGHT,
    CELL,
    DAUGHTERS,
    DEBRIS,
    FRAGMENTED,
    MITOSIS,
    NUCLEUS,
    PHASE,
    STAGE,
    TELOPHASE,
    annotated_image,
    foreign_coco,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def mask_utils():
    return pytest.importorskip("pycocotools.mask")


# -- RLE --------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 30), st.integers(1, 30))))
def test_rle_is_byte_for_byte_what_pycocotools_writes(mask):
    reference = mask_utils().encode(np.asfortranarray(mask.astype(np.uint8)))
    ours = encode_rle(mask)
    assert ours == {"size": list(mask.shape), "counts": reference["counts"].decode("ascii")}
    np.testing.assert_array_equal(decode_rle(ours), mask)
    np.testing.assert_array_equal(mask_utils().decode(ours).astype(bool), mask)


@settings(max_examples=200, deadline=None)
@given(
    arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 20),
)
def test_rle_of_a_crop_equals_rle_of_the_full_mask(crop, top, left, bottom, right):
    full = np.pad(crop, ((top, bottom), (left, right)))
    assert rle_counts(crop, (top, left), full.shape) == rle_counts(full, (0, 0), full.shape)


def test_rle_runs_join_across_columns_when_the_crop_spans_the_full_height():
    mask = np.zeros((4, 3), dtype=bool)
    mask[2:, 0] = True
    mask[:, 1] = True
    mask[:1, 2] = True  # one run from (2, 0) down to (0, 2)
    assert rle_counts(mask, (0, 0), mask.shape) == [2, 7, 3]
    assert rle_counts(np.ones((2, 2), bool), (0, 0), (2, 2)) == [0, 4]
    assert rle_counts(np.zeros((0, 0), bool), (0, 0), (2, 3)) == [6]


def test_compressed_counts_round_trip_large_and_shrinking_runs():
    counts = [0, 5_000_000, 3, 1, 1_000_000, 2, 7]
    assert decompress_counts(compress_counts(counts)) == counts


@pytest.mark.parametrize("text", ["o", "1o", "\x7f0", " "])
def test_broken_rle_strings_are_refused(text):
    with pytest.raises(ValueError):
        decompress_counts(text)


# -- answers ------------------------------------------------------------------------------
def test_answers_become_readable_attributes_and_back():
    ontology = load_default_ontology()
    nucleus = ontology.class_by_id(NUCLEUS)
    answers = {
        PHASE: {MITOSIS: {STAGE: {TELOPHASE: {DAUGHTERS: "two"}}}},
        APPEARANCE: {BRIGHT: {}, FRAGMENTED: {}},
    }
    readable = readable_answers(nucleus.questions, answers)
    assert readable == {
        "Cell cycle phase": "Mitosis",
        "Cell cycle phase > Mitosis > Mitotic stage": "Telophase",
        "Cell cycle phase > Mitosis > Mitotic stage > Telophase > Daughter nuclei": "two",
        "Appearance": ["Bright", "Fragmented"],
    }
    assert answers_from_readable(nucleus.questions, readable) == answers
    # unknown keys and options are dropped, not guessed
    assert answers_from_readable(nucleus.questions, {"Appearance": ["Shiny"], "Size": "big"}) == {}


# -- export ---------------------------------------------------------------------------------
def test_export_layout_categories_images_and_annotations():
    labels, document = annotated_image()
    coco = build_coco([CocoImageInput(labels, document, "cells.png")])
    assert [c["name"] for c in coco["categories"]] == ["Nucleus", "Cell", "Debris"]
    assert coco["categories"][1] == {
        "id": 2,
        "name": "Cell",
        "supercategory": "object",
        "featureSchemaId": CELL,
        "color": "#43A047",
    }
    assert coco["images"] == [
        {
            "id": 1,
            "file_name": "cells.png",
            "width": 80,
            "height": 60,
            "attributes": {"Focus quality": "Good", "Notes": "ok"},
        }
    ]
    by_label = {a["attributes"]["label_id"]: a for a in coco["annotations"]}
    assert sorted(by_label) == [1, 2, 5, 9]
    square = by_label[2]
    assert square["category_id"] == 1 and square["image_id"] == 1 and square["iscrowd"] == 0
    assert square["bbox"] == [40.0, 5.0, 8.0, 7.0]
    assert square["area"] == 56
    assert square["attributes"] == {
        "Appearance": ["Bright", "Fragmented"],
        "label_id": 2,
        "featureId": document.instances[2].feature_id,
    }
    assert by_label[5]["attributes"]["Comment"] == "big"
    assert by_label[9]["bbox"] == [65.0, 50.0, 15.0, 9.0]
    assert by_label[9]["area"] == 25 + 15
    for annotation in coco["annotations"]:
        label_id = annotation["attributes"]["label_id"]
        np.testing.assert_array_equal(decode_rle(annotation["segmentation"]), labels == label_id)
    assert coco[ONTOLOGY_KEY] == document.ontology.to_dict()


def test_painted_ids_without_class_are_left_out_with_a_warning():
    labels, document = annotated_image()
    labels[0:3, 0:3] = 12
    with pytest.warns(CocoWarning, match=r"label ids \[12\] have no class"):
        coco = build_coco([CocoImageInput(labels, document, "cells.png")])
    assert 12 not in {a["attributes"]["label_id"] for a in coco["annotations"]}


def test_instances_without_pixels_are_not_exported():
    labels, document = annotated_image()
    document.add_instance(30, DEBRIS)
    coco = build_coco([CocoImageInput(labels, document, "cells.png")])
    assert 30 not in {a["attributes"]["label_id"] for a in coco["annotations"]}


def test_bad_segmentation_kind_is_refused():
    labels, document = annotated_image()
    with pytest.raises(CocoError, match="segmentation must be one of"):
        build_coco([CocoImageInput(labels, document, "x.png")], segmentation="mask")


@pytest.mark.parametrize("segmentation", ["rle", "polygons"])
def test_pycocotools_loads_our_file_and_its_masks_are_our_pixels(tmp_path, segmentation):
    coco_module = pytest.importorskip("pycocotools.coco")
    labels, document = annotated_image()
    path = tmp_path / "cells.coco.json"
    write_coco_json(
        path, build_coco([CocoImageInput(labels, document, "cells.png")], segmentation=segmentation)
    )
    api = coco_module.COCO(str(path))
    assert api.getCatIds(catNms=["Cell"]) == [2]
    assert api.getImgIds() == [1]
    annotations = api.loadAnns(api.getAnnIds(imgIds=[1]))
    assert len(annotations) == 4
    for annotation in annotations:
        expected = labels == annotation["attributes"]["label_id"]
        np.testing.assert_array_equal(api.annToMask(annotation).astype(bool), expected)
        rle = api.annToRLE(annotation)
        assert mask_utils().area(rle) == annotation["area"] == expected.sum()
        assert mask_utils().toBbox(rle).tolist() == annotation["bbox"]
    if segmentation == "polygons":
        cell = next(a for a in annotations if a["attributes"]["label_id"] == 5)
        assert len(cell["segmentation"]) == 1  # the hole rides on a keyhole bridge
        debris = next(a for a in annotations if a["attributes"]["label_id"] == 9)
        assert len(debris["segmentation"]) == 2


def test_simplified_polygons_are_close(tmp_path):
    labels, document = annotated_image()
    coco = build_coco(
        [CocoImageInput(labels, document, "cells.png")], segmentation="polygons", tolerance=0.5
    )
    cell = next(a for a in coco["annotations"] if a["attributes"]["label_id"] == 5)
    exact = build_coco([CocoImageInput(labels, document, "c.png")], segmentation="polygons")
    exact_cell = next(a for a in exact["annotations"] if a["attributes"]["label_id"] == 5)
    assert len(cell["segmentation"][0]) < len(exact_cell["segmentation"][0])
    rows, cols = polygon_pixels(cell["segmentation"], labels.shape)
    mask = np.zeros(labels.shape, bool)
    mask[rows, cols] = True
    assert np.count_nonzero(mask & (labels == 5)) / np.count_nonzero(mask | (labels == 5)) > 0.95


def test_several_images_share_categories_and_conflicting_classes_are_refused():
    first, document = annotated_image()
    second = np.zeros((10, 10), dtype=np.uint8)
    second[2:4, 2:4] = 3
    other = Document(ontology=load_default_ontology())
    other.add_instance(3, CELL)
    coco = build_coco(
        [CocoImageInput(first, document, "a.png"), CocoImageInput(second, other, "b.png")]
    )
    assert [i["file_name"] for i in coco["images"]] == ["a.png", "b.png"]
    last = coco["annotations"][-1]
    assert (last["image_id"], last["category_id"], last["area"]) == (2, 2, 4)
    assert len(coco["categories"]) == 3
    # a different class (new id) with a taken name cannot share the file
    clash = Document(ontology=load_default_ontology())
    clash.ontology.classes[0].feature_schema_id = "cdifferentidxxxxxxxxxxxxx"
    with pytest.raises(CocoError, match="both named 'Nucleus'"):
        build_coco([CocoImageInput(first, document, "a.png"), CocoImageInput(second, clash, "b")])


# -- import -------------------------------------------------------------------------------------
def test_parse_rebuilds_pixels_documents_and_ontology():
    labels, document = annotated_image()
    coco = json.loads(json.dumps(build_coco([CocoImageInput(labels, document, "cells.png")])))
    (image,), ontology = parse_coco(coco, "x.coco.json")
    assert ontology.to_dict() == document.ontology.to_dict()
    np.testing.assert_array_equal(image.labels, labels)
    assert image.labels.dtype == np.uint16
    assert (image.width, image.height, image.file_name) == (80, 60, "cells.png")
    imported = image.document
    assert imported.image_answers == document.image_answers
    assert sorted(imported.instances) == [1, 2, 5, 9]
    for label_id, instance in document.instances.items():
        other = imported.instances[label_id]
        assert (other.schema_id, other.feature_id, other.answers) == (
            instance.schema_id,
            instance.feature_id,
            instance.answers,
        )
    assert imported.source["external_id"] == "cells.png"
    assert imported.source["image_name"] == "cells"


def test_foreign_coco_gets_an_ontology_from_its_categories():
    (image,), ontology = parse_coco(foreign_coco(), "foreign.json")
    car, person = ontology.classes
    assert (car.name, car.tool) == ("car", "raster-segmentation")
    assert car.color.startswith("#") and len(car.color) == 7
    assert (person.name, person.color, person.feature_schema_id) == (
        "person",
        "#123ABC",
        "cperson00000000000000000a",
    )
    expected = np.zeros((8, 10), dtype=np.uint16)
    expected[0:2, 0:3] = 1
    expected[1:3, 4:7] = 2
    expected[6, 0:2] = 3
    np.testing.assert_array_equal(image.labels, expected)
    assert image.label_ids == {100: 1, 101: 2, 102: 3}
    assert {i: d.schema_id for i, d in image.document.instances.items()} == {
        1: car.feature_schema_id,
        2: person.feature_schema_id,
        3: person.feature_schema_id,
    }
    assert image.document.source["image_name"] == "f1"


def test_polygons_rasterise_the_same_without_pycocotools(monkeypatch):
    labels, document = annotated_image()
    coco = build_coco([CocoImageInput(labels, document, "c.png")], segmentation="polygons")
    with_library = parse_coco(coco)[0][0].labels
    monkeypatch.setitem(sys.modules, "pycocotools", None)
    without = parse_coco(coco)[0][0].labels
    np.testing.assert_array_equal(without, labels)
    np.testing.assert_array_equal(with_library, labels)


@pytest.mark.parametrize("segmentation", ["rle", "polygons"])
def test_crowd_instances_are_written_as_crowd_rle_and_read_back_as_crowd(segmentation):
    labels, document = annotated_image()
    crowd = sorted(document.instances)[0]
    document.instances[crowd].crowd = True
    coco = build_coco([CocoImageInput(labels, document, "c.png")], segmentation=segmentation)
    (saved,) = [a for a in coco["annotations"] if a["iscrowd"] == 1]
    assert saved["attributes"]["label_id"] == crowd
    assert isinstance(saved["segmentation"]["counts"], list)
    assert all(a["iscrowd"] == 0 for a in coco["annotations"] if a is not saved)
    mask = mask_utils().decode(mask_utils().frPyObjects(saved["segmentation"], *labels.shape))
    np.testing.assert_array_equal(mask.astype(bool), labels == crowd)
    (image,), _ = parse_coco(coco)
    np.testing.assert_array_equal(image.labels, labels)
    assert [i.label_id for i in image.document.instances.values() if i.crowd] == [crowd]


def test_overlapping_annotations_later_wins_with_a_warning():
    coco = foreign_coco()
    # a second car over the first one's right half
    coco["annotations"].append(
        {"id": 103, "image_id": 7, "category_id": 3, "segmentation": [[2, 0, 4, 0, 4, 1, 2, 1]]}
    )
    with pytest.warns(CocoWarning, match=r"annotations \[103\] overlap earlier ones"):
        (image,), _ = parse_coco(coco, "over.json")
    assert image.labels[0, 2] == 4 and image.labels[0, 3] == 4
    assert image.labels[1, 2] == 1


def test_annotation_covered_entirely_is_dropped_with_a_warning():
    coco = foreign_coco()
    coco["annotations"].append(
        {"id": 104, "image_id": 7, "category_id": 3, "segmentation": [[0, 0, 3, 0, 3, 2, 0, 2]]}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (image,), _ = parse_coco(coco, "cover.json")
    messages = " ".join(str(w.message) for w in caught)
    assert "[100] are empty or entirely covered" in messages
    assert 1 not in image.document.instances
    assert image.label_ids[104] == 4


def test_label_ids_from_attributes_are_kept_and_clashes_renumbered():
    coco = foreign_coco()
    for annotation, label_id in zip(coco["annotations"], [40, 40, "x"], strict=True):
        annotation["attributes"] = {"label_id": label_id}
    (image,), _ = parse_coco(coco)
    assert image.label_ids == {100: 40, 101: 41, 102: 42}


BAD_FILES = [
    (lambda c: c.update(images="nope"), "not a COCO file"),
    (lambda c: c["images"][0].update(width=0), r"images\[0\]\.width: must be a positive integer"),
    (
        lambda c: c["images"].append(dict(c["images"][0])),
        r"images\[1\]\.id: image id 7 is used twice",
    ),
    (lambda c: c["categories"][0].pop("name"), r"categories\[0\]\.name"),
    (lambda c: c["annotations"][0].update(image_id=99), r"annotations\[0\]\.image_id: no image"),
    (lambda c: c["annotations"][0].update(category_id=9), r"annotations\[0\]\.category_id"),
    (
        lambda c: c["annotations"][0].update(segmentation=[[1, 2, 3]]),
        r"annotations\[0\]\.segmentation\[0\]: a polygon",
    ),
    (
        lambda c: c["annotations"][1]["segmentation"].update(size=[9, 10]),
        r"annotations\[1\]\.segmentation\.size",
    ),
    (
        lambda c: c["annotations"][1]["segmentation"].update(counts="0"),
        r"annotations\[1\]\.segmentation\.counts: the runs",
    ),
    (
        lambda c: c["annotations"][1]["segmentation"].update(counts="1o"),
        r"annotations\[1\]\.segmentation\.counts: the RLE string ends",
    ),
    (lambda c: c["annotations"][2].update(segmentation=None), "expected an RLE object"),
    (lambda c: c.update({ONTOLOGY_KEY: {"tools": [{"name": ""}]}}), ONTOLOGY_KEY),
]


BAD_FILES += [
    (
        lambda c: c["images"][0].update(width=1 << 20, height=1 << 20),
        r"images\[0\]: 1048576 x 1048576 pixels is more than",
    ),
    (
        lambda c: c.update({ONTOLOGY_KEY: _nested_ontology(3000)}),
        f"{ONTOLOGY_KEY}: nested too deeply",
    ),
]


def _nested_ontology(depth: int) -> dict:
    question: dict = {"type": "text", "name": "leaf"}
    for _ in range(depth):
        question = {
            "type": "radio",
            "name": "q",
            "options": [{"label": "o", "options": [question]}],
        }
    return {"tools": [{"tool": "raster-segmentation", "name": "x", "classifications": [question]}]}


@pytest.mark.parametrize(("mutate", "problem"), BAD_FILES)
def test_bad_files_raise_one_clear_error_naming_the_file(mutate, problem):
    coco = foreign_coco()
    mutate(coco)
    with pytest.raises(CocoError, match=problem) as caught:
        parse_coco(coco, "bad.coco.json")
    assert str(caught.value).startswith("bad.coco.json: ")


def test_format_modules_work_without_pycocotools():
    script = (
        "import sys\n"
        "sys.modules['pycocotools'] = None\n"
        "import numpy as np\n"
        "from napari_segtool.formats import coco, polygons\n"
        "labels = np.zeros((5, 6), np.uint8); labels[1:3, 2:5] = 1\n"
        "doc = coco.Document(); doc.ontology.classes.append(coco.ObjectClass('thing'))\n"
        "doc.add_instance(1, doc.ontology.classes[0].feature_schema_id)\n"
        "for kind in ('rle', 'polygons'):\n"
        "    entry = coco.CocoImageInput(labels, doc, 'a.png')\n"
        "    data = coco.build_coco([entry], segmentation=kind)\n"
        "    (image,), _ = coco.parse_coco(data)\n"
        "    assert (image.labels == labels).all()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_coco_json_written_atomically(tmp_path, monkeypatch):
    labels, document = annotated_image()
    path = tmp_path / "a.coco.json"
    path.write_text("previous")

    def explode(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(json, "dumps", explode)
    with pytest.raises(RuntimeError):
        write_coco_json(path, build_coco([CocoImageInput(labels, document, "a.png")]))
    assert path.read_text() == "previous"
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["a.coco.json"]
