"""The COCO npe2 reader and writer: layer data tuples in and out, images beside the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_segtool.formats.coco import CocoError, CocoWarning
from napari_segtool.model.document import Document
from tests.coco_samples import annotated_image, foreign_coco

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


# -- npe2 reader and writer (layer data tuples; no viewer needed) -----------------------------
def _segmentation_tuples(labels, document):
    from napari_segtool._napari.binding import segmentation_layer_kwargs

    return [(labels, segmentation_layer_kwargs(document, "cells segmentation"), "labels")]


def test_round_trip_through_the_npe2_writer_and_reader(tmp_path):
    from napari_segtool._napari.io_coco import get_coco_reader, write_coco

    labels, document = annotated_image()
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    layer_data = [
        (image, {"name": "cells", "rgb": True}, "image"),
        *_segmentation_tuples(labels, document),
    ]
    path = tmp_path / "export.coco.json"
    written = write_coco(str(path), layer_data)
    assert written == [str(path), str(tmp_path / "cells.png")]
    reader = get_coco_reader(str(path))
    assert callable(reader)
    (image_data, image_meta, image_type), (label_data, label_meta, label_type) = reader(str(path))
    assert (image_type, image_meta["name"], image_meta["rgb"]) == ("image", "cells", True)
    np.testing.assert_array_equal(image_data, image)
    assert (label_type, label_meta["name"]) == ("labels", "cells segmentation")
    np.testing.assert_array_equal(label_data, labels)
    imported = Document.from_dict(label_meta["metadata"]["napari_segtool"])
    assert imported.ontology.to_dict() == document.ontology.to_dict()
    assert imported.image_answers == document.image_answers
    assert {i: (d.schema_id, d.feature_id, d.answers) for i, d in imported.instances.items()} == {
        i: (d.schema_id, d.feature_id, d.answers) for i, d in document.instances.items()
    }
    assert imported.source["image_path"] == str(tmp_path / "cells.png")
    assert list(label_meta["features"]["class"]) == [
        "background",
        "Nucleus",
        "Nucleus",
        "Cell",
        "Debris",
    ]


def test_reader_declines_json_that_is_not_coco(tmp_path, reference_dir):
    from napari_segtool._napari.io_coco import get_coco_reader

    assert get_coco_reader(str(reference_dir / "export_v1.fish.json")) is None
    assert get_coco_reader(str(reference_dir / "ontology.fish.json")) is None
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [')
    assert get_coco_reader(str(broken)) is None
    almost = tmp_path / "almost.json"
    almost.write_text('{"images": [], "annotations": []}')
    assert get_coco_reader(str(almost)) is None
    assert get_coco_reader(str(reference_dir / "tank.png")) is None
    assert get_coco_reader(str(tmp_path / "missing.json")) is None


def test_hostile_json_is_declined_or_refused_cleanly(tmp_path):
    from napari_segtool._napari.io_coco import get_coco_reader, read_coco
    from napari_segtool.formats.coco import load_coco

    nested = tmp_path / "nested.json"
    nested.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert get_coco_reader(str(nested)) is None
    with pytest.raises(CocoError, match="nested too deeply"):
        load_coco(nested)
    digits = tmp_path / "digits.json"
    digits.write_text(
        '{"images": [], "annotations": [], "categories": [], "x": ' + "9" * 5000 + "}"
    )
    assert get_coco_reader(str(digits)) is None
    odd_name = foreign_coco()
    odd_name["images"][0]["file_name"] = "bad\x00name.png"
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(odd_name))
    assert [kind for _, _, kind in read_coco(path)] == ["labels"]


def test_bad_file_through_the_reader_raises_and_builds_nothing(tmp_path):
    from napari_segtool._napari.io_coco import get_coco_reader

    coco = foreign_coco()
    coco["annotations"][2]["segmentation"]["size"] = [1, 1]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(coco))
    reader = get_coco_reader(str(path))
    with pytest.raises(CocoError, match=r"bad\.json: annotations\[2\]\.segmentation\.size"):
        reader(str(path))


def test_reader_finds_images_beside_the_json_and_refuses_escapes(tmp_path):
    from PIL import Image as PILImage

    from napari_segtool._napari.io_coco import read_coco

    coco = foreign_coco()
    coco["images"].append({"id": 8, "file_name": "../outside.png", "width": 10, "height": 8})
    coco["images"].append({"id": 9, "file_name": "in_images.png", "width": 10, "height": 8})
    coco["images"].append(
        {"id": 10, "file_name": str(tmp_path / "abs.png"), "width": 10, "height": 8}
    )
    (tmp_path / "data" / "frames").mkdir(parents=True)
    (tmp_path / "data" / "images").mkdir()
    grey = np.arange(80, dtype=np.uint8).reshape(8, 10)
    for target in ("data/frames/f1.jpg", "outside.png", "data/images/in_images.png", "abs.png"):
        PILImage.fromarray(grey).save(tmp_path / target, format="PNG")
    path = tmp_path / "data" / "coco.json"
    path.write_text(json.dumps(coco))
    with pytest.warns(CocoWarning, match="outside the COCO file's folder") as caught:
        layers = read_coco(path)
    assert len([w for w in caught if "outside" in str(w.message)]) == 2
    assert [(meta["name"], kind) for _, meta, kind in layers] == [
        ("f1", "image"),
        ("f1 segmentation", "labels"),
        ("outside segmentation", "labels"),
        ("in_images", "image"),
        ("in_images segmentation", "labels"),
        ("abs segmentation", "labels"),
    ]
    np.testing.assert_array_equal(layers[0][0], grey)
    assert layers[0][1]["rgb"] is False


def test_image_of_the_wrong_size_is_an_error(tmp_path):
    from PIL import Image as PILImage

    from napari_segtool._napari.io_coco import read_coco

    coco = foreign_coco()
    (tmp_path / "frames").mkdir()
    PILImage.fromarray(np.zeros((5, 5), np.uint8)).save(
        tmp_path / "frames" / "f1.jpg", format="PNG"
    )
    path = tmp_path / "c.json"
    path.write_text(json.dumps(coco))
    with pytest.raises(CocoError, match=r"frames/f1\.jpg is 5 x 5 pixels, the file says 10 x 8"):
        read_coco(path)


def test_writer_without_image_layer_writes_only_the_json(tmp_path):
    from napari_segtool._napari.io_coco import write_coco

    labels, document = annotated_image()
    document.source["external_id"] = "scan_01.tif"
    path = tmp_path / "only.coco.json"
    assert write_coco(str(path), _segmentation_tuples(labels, document)) == [str(path)]
    coco = json.loads(path.read_text())
    assert coco["images"][0]["file_name"] == "scan_01.tif"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["only.coco.json"]


def test_plain_labels_layer_exports_every_id_as_object(tmp_path):
    from napari_segtool._napari.io_coco import write_coco

    labels = np.zeros((6, 6), dtype=np.int32)
    labels[1:3, 1:3] = 4
    labels[4, 4] = 6
    path = tmp_path / "plain.coco.json"
    write_coco(str(path), [(labels, {"name": "mask"}, "labels")])
    coco = json.loads(path.read_text())
    assert [c["name"] for c in coco["categories"]] == ["object"]
    assert [a["attributes"]["label_id"] for a in coco["annotations"]] == [4, 6]
    assert coco["images"][0]["file_name"] == "mask.png"


def test_export_to_an_unwritable_place_raises_and_leaves_no_file(tmp_path):
    from napari_segtool._napari.io_coco import write_coco

    labels, document = annotated_image()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        write_coco(str(blocker / "sub" / "x.coco.json"), _segmentation_tuples(labels, document))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_damaged_coco_json_is_claimed_and_the_problem_named(make_napari_viewer, tmp_path):
    damaged = tmp_path / "cells.coco.json"
    damaged.write_text('{"images": [{"id": 1, "file_name": "a.png", "wid')
    viewer = make_napari_viewer()
    with pytest.raises(Exception, match=r"cells\.coco\.json.*not valid JSON") as info:
        viewer.open(str(damaged), plugin="napari-segtool")
    assert "no reader" not in str(info.value).lower()
    assert len(viewer.layers) == 0
