"""Locks and hidden flags survive a save and a reopen in every format that can hold them."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from napari_segtool.formats import registry
from napari_segtool.formats.result import LabelsItem
from napari_segtool.formats.toolkit.flags import FLAGS_KEY, read_class_flags
from napari_segtool.model.document import Document, Instance
from tests.coco_samples import annotated_image

FORMATS = [entry.name for entry in registry.formats() if entry.name in ("labelbox-v1", "coco")]


def flagged_document() -> tuple[np.ndarray, Document]:
    """The COCO sample: an instance locked, one hidden, one both; a class locked, one hidden."""
    labels, document = annotated_image()
    first, second, third, *_ = sorted(document.instances)
    document.set_locked(first, True)
    document.set_hidden(second, True)
    document.set_locked(third, True)
    document.set_hidden(third, True)
    classes = [c.feature_schema_id for c in document.ontology.classes]
    document.set_class_locked(classes[0], True)
    document.set_class_hidden(classes[1], True)
    return labels, document


def save_and_reopen(name: str, path, labels, document) -> Document:
    entry = registry.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unanswered required questions
        entry.write(path, [LabelsItem(labels, document, "cells")])
        (item,) = registry.format_for(path).read(path).labels
    np.testing.assert_array_equal(item.data > 0, labels > 0)
    return item.document


def flags_by_feature(document: Document) -> dict[str, tuple[bool, bool]]:
    return {i.feature_id: (i.locked, i.hidden) for i in document.instances.values()}


@pytest.mark.parametrize("name", FORMATS)
def test_instance_and_class_flags_come_back(name, tmp_path):
    labels, document = flagged_document()
    path = tmp_path / f"cells{registry.get(name).extensions[0]}"
    again = save_and_reopen(name, path, labels, document)
    assert flags_by_feature(again) == flags_by_feature(document)
    assert sum(locked or hidden for locked, hidden in flags_by_feature(again).values()) == 3
    assert again.locked_classes == document.locked_classes != set()
    assert again.hidden_classes == document.hidden_classes != set()


@pytest.mark.parametrize("name", FORMATS)
def test_a_file_without_flags_has_no_extra_key_and_unlocking_is_saved_too(name, tmp_path):
    labels, document = flagged_document()
    path = tmp_path / f"cells{registry.get(name).extensions[0]}"
    again = save_and_reopen(name, path, labels, document)
    for instance in again.instances.values():
        again.set_locked(instance.label_id, False)
        again.set_hidden(instance.label_id, False)
    for schema_id in set(again.locked_classes) | set(again.hidden_classes):
        again.set_class_locked(schema_id, False)
        again.set_class_hidden(schema_id, False)
    (item,) = registry.format_for(path).read(path).labels
    third = save_and_reopen(name, path, item.data, again)
    assert FLAGS_KEY not in path.read_text()
    assert not any(locked or hidden for locked, hidden in flags_by_feature(third).values())
    assert third.locked_classes == third.hidden_classes == set()


def test_malformed_or_unknown_flags_are_ignored():
    _labels, document = annotated_image()
    known = document.ontology.classes[0].feature_schema_id
    entry = {FLAGS_KEY: {"locked_classes": [known, "not a class", 7], "hidden_classes": "x"}}
    assert read_class_flags(entry, document.ontology) == {
        "locked_classes": {known},
        "hidden_classes": set(),
    }
    assert read_class_flags({FLAGS_KEY: None}, document.ontology) == {
        "locked_classes": set(),
        "hidden_classes": set(),
    }


def test_coco_flags_sit_beside_the_attributes_and_pycocotools_reads_the_file(tmp_path):
    pycocotools_coco = pytest.importorskip("pycocotools.coco")
    labels, document = flagged_document()
    path = tmp_path / "cells.coco.json"
    registry.get("coco").write(path, [LabelsItem(labels, document, "cells")])
    coco = json.loads(path.read_text())
    flagged = [a for a in coco["annotations"] if FLAGS_KEY in a]
    assert len(flagged) == 3 and all(FLAGS_KEY not in a["attributes"] for a in flagged)
    assert set(coco["images"][0][FLAGS_KEY]) == {"locked_classes", "hidden_classes"}
    loaded = pycocotools_coco.COCO(str(path))
    assert len(loaded.getAnnIds()) == len(coco["annotations"])


def test_labelbox_flags_are_on_the_objects_and_the_data_row(tmp_path):
    labels, document = flagged_document()
    path = tmp_path / "cells.json"
    save_and_reopen("labelbox-v1", path, labels, document)
    (row,) = json.loads(path.read_text())
    flagged = {o["featureId"]: o[FLAGS_KEY] for o in row["Label"]["objects"] if FLAGS_KEY in o}
    expected = {
        i.feature_id: {k: True for k in ("locked", "hidden") if getattr(i, k)}
        for i in document.instances.values()
        if i.locked or i.hidden
    }
    assert flagged == expected
    assert row[FLAGS_KEY] == {
        "locked_classes": sorted(document.locked_classes),
        "hidden_classes": sorted(document.hidden_classes),
    }
    # the ontology file beside the export stays a plain Labelbox ontology
    assert FLAGS_KEY not in path.with_suffix(".ontology.json").read_text()


def test_an_instance_entry_without_the_key_is_unlocked():
    from napari_segtool.formats.toolkit.flags import read_instance_flags

    instance = Instance(1, "c", locked=True, hidden=True)
    assert read_instance_flags(instance, {"featureId": "x"}) is instance
    assert (instance.locked, instance.hidden) == (False, False)
