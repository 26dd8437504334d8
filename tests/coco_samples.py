"""COCO test data shared by the format tests and the npe2 reader/writer tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage.draw import disk

from napari_segtool import load_default_ontology
from napari_segtool.formats.coco import encode_rle, rle_counts
from napari_segtool.model.document import Document

# ids of the default ontology (napari_segtool/resources/default_ontology.json)
NUCLEUS, CELL, DEBRIS = (
    "cmwyxgl5fc9cc007bnhhn8z23",
    "cmwyxgl5fc9cq007bfarvfhco",
    "cmwyxgl5fc9cv007b16pvmhj5",
)
PHASE, MITOSIS, STAGE, TELOPHASE, DAUGHTERS = (
    "cmwyxgl5fc9cl007beazvtspe",
    "cmwyxgl5fc9ck007baowrzrp2",
    "cmwyxgl5fc9cj007b5t1kwsmy",
    "cmwyxgl5fc9ci007bax015kl9",
    "cmwyxgl5fc9ch007babarl4gm",
)
APPEARANCE, BRIGHT, FRAGMENTED = (
    "cmwyxgl5fc9cp007b8rri06fd",
    "cmwyxgl5fc9cm007bjighvck7",
    "cmwyxgl5fc9cn007b1youuufg",
)
COMMENT = "cmwyxgl5fc9cu007brq3qtdvr"
FOCUS, GOOD, NOTES = (
    "cmwyxgl5gc9cz007bgokdnnjg",
    "cmwyxgl5fc9cw007bklxxgyvv",
    "cmwyxgl5gc9d4007bu0ypjzcu",
)


def annotated_image() -> tuple[np.ndarray, Document]:
    """60 x 80 labels: two nuclei (nested answers), a cell with a hole, two-part debris."""
    labels = np.zeros((60, 80), dtype=np.uint16)
    labels[disk((15, 15), 9)] = 1
    labels[5:12, 40:48] = 2
    labels[disk((40, 40), 14)] = 5
    labels[disk((40, 40), 5)] = 0
    labels[50:55, 65:70] = 9
    labels[56:59, 75:80] = 9  # touches the right edge of the image
    document = Document(ontology=load_default_ontology(), source={"image_name": "cells"})
    document.add_instance(
        1,
        NUCLEUS,
        answers={PHASE: {MITOSIS: {STAGE: {TELOPHASE: {DAUGHTERS: "two, both round"}}}}},
    )
    document.add_instance(2, NUCLEUS, answers={APPEARANCE: {BRIGHT: {}, FRAGMENTED: {}}})
    document.add_instance(5, CELL, answers={COMMENT: "big"})
    document.add_instance(9, DEBRIS)
    document.set_image_answers({FOCUS: {GOOD: {}}, NOTES: "ok"})
    return labels, document


def foreign_coco() -> dict:
    """COCO as another tool writes it: no ontology, polygons, plain and crowd RLE."""
    rle = encode_rle(np.pad(np.ones((2, 3), bool), ((1, 5), (4, 3))))  # rows 1-2, cols 4-6
    counts = rle_counts(np.ones((1, 2), bool), (6, 0), (8, 10))  # row 6, cols 0-1
    return {
        "images": [{"id": 7, "file_name": "frames/f1.jpg", "width": 10, "height": 8}],
        "categories": [
            {"id": 3, "name": "car", "supercategory": "vehicle"},
            {
                "id": 4,
                "name": "person",
                "color": "#123abc",
                "featureSchemaId": "cperson00000000000000000a",
            },
        ],
        "annotations": [
            {
                "id": 100,
                "image_id": 7,
                "category_id": 3,
                "segmentation": [[0, 0, 3, 0, 3, 2, 0, 2]],
                "iscrowd": 0,
                "area": 6,
                "bbox": [0, 0, 3, 2],
            },
            {"id": 101, "image_id": 7, "category_id": 4, "segmentation": rle, "iscrowd": 0},
            {
                "id": 102,
                "image_id": 7,
                "category_id": 4,
                "segmentation": {"size": [8, 10], "counts": counts},
                "iscrowd": 1,
            },
        ],
    }


#: the real COCO files of other tools in the test data (panoptic ones apart)
REALWORLD = Path(__file__).parent / "data" / "realworld"
REAL_COCO_FILES = [
    "cocoapi/PythonAPI/extra/samples/instances_val2017_1img-sample.json",
    "cocoapi/annotations/stuff_examples.json",
    "labelbox-python/coco/instances.json",
    "labelbox-python/coco/rle.json",
    "datumaro/coco_instances/annotations/instances_train.json",
    "datumaro/coco_instances/annotations/instances_val.json",
    "datumaro/coco_person_keypoints/annotations/person_keypoints_val.json",
    "datumaro/coco_roboflow/val/_annotations.coco.json",
    "cvat-SakibAhmedShuva/annotations/instances_default.json",
    "cvat-yomvol-fire-smoke/annotations/val_instances_default.json",
]
