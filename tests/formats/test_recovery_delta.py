"""Recovery deltas: a snapshot plus the boxes changed since it, read back as one recovery."""

from __future__ import annotations

import json
import os
import time
import zipfile

import numpy as np
import pytest

from napari_segtool import load_default_ontology
from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import (
    SUFFIX,
    RecoveryError,
    delta_path,
    discard,
    prune,
    read_recovery,
    read_recovery_info,
    write_delta,
    write_recovery,
)
from napari_segtool.model.document import Document

HASH = "ab" * 32
NAME = "stack-x-s1" + SUFFIX
SHAPE = (8, 64, 64)


def document(extra_instance: bool = False) -> dict:
    doc = Document(ontology=load_default_ontology(), source={"image_name": "stack"})
    classes = doc.ontology.segmentation_classes
    doc.add_instance(1, classes[0].feature_schema_id)
    if extra_instance:
        doc.add_instance(2, classes[1].feature_schema_id)
    return doc.to_dict()


def snapshot(folder, labels, snapshot_id="aa11bb22cc33dd44"):
    return write_recovery(
        folder,
        NAME,
        labels,
        document(),
        image_path=None,
        image_hash=HASH,
        hash_kind="pixels",
        layer_name="stack",
        snapshot_id=snapshot_id,
        saved_at=1_000_000.0,
    )


def delta(folder, labels, boxes, snapshot_id="aa11bb22cc33dd44", **kwargs):
    kwargs.setdefault("instance_count", 2)
    return write_delta(
        folder,
        NAME,
        snapshot_id,
        [(box, labels[box]) for box in boxes],
        recovery.document_changes(document(), document(extra_instance=True)),
        labels_shape=labels.shape,
        labels_dtype=labels.dtype.name,
        layer_name="stack (edited)",
        saved_at=1_000_100.0,
        **kwargs,
    )


def base_labels() -> np.ndarray:
    labels = np.zeros(SHAPE, dtype=np.uint16)
    labels[1:3, 10:20, 10:20] = 1
    return labels


def test_a_delta_brings_the_snapshot_up_to_date(tmp_path):
    labels = base_labels()
    path = snapshot(tmp_path, labels)
    labels[5, 30:40, 30:50] = 2  # a stroke
    labels[1, 12:14, 12:14] = 0  # an erase
    boxes = [
        (slice(5, 6), slice(30, 40), slice(30, 50)),
        (slice(1, 2), slice(12, 14), slice(12, 14)),
    ]
    written = delta(tmp_path, labels, boxes)
    assert written == delta_path(path) and written.name == "stack-x-s1" + recovery.DELTA_SUFFIX
    restored = read_recovery(path)
    np.testing.assert_array_equal(restored.labels, labels)
    assert set(Document.from_dict(restored.document).instances) == {1, 2}
    info = read_recovery_info(path)
    assert info.saved_at_epoch == 1_000_100.0 and info.instance_count == 2
    assert info.layer_name == "stack (edited)" and info.labels_shape == SHAPE
    # the file holds the boxes' pixels, not the volume's
    with zipfile.ZipFile(written) as archive:
        pixels = archive.getinfo(recovery.PIXELS_MEMBER).file_size
    assert pixels < 200 * 2 + 4 + 256


def test_a_delta_of_another_snapshot_is_ignored(tmp_path):
    labels = base_labels()
    path = snapshot(tmp_path, labels, snapshot_id="1111111111111111")
    changed = labels.copy()
    changed[4] = 1
    delta(tmp_path, changed, [(slice(4, 5), slice(0, 64), slice(0, 64))], snapshot_id="22222222")
    np.testing.assert_array_equal(read_recovery(path).labels, labels)
    assert read_recovery_info(path).saved_at_epoch == 1_000_000.0
    # a snapshot without an id (older files, small images) takes no delta either
    plain = write_recovery(
        tmp_path, NAME, labels, document(), image_path=None, image_hash=HASH, hash_kind="pixels"
    )
    np.testing.assert_array_equal(read_recovery(plain).labels, labels)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m.update(regions=[[[0, 1], [0, 1]]]), "regions"),
        (lambda m: m.update(regions=[[[0, 1], [0, 99], [0, 1]]]), "outside labels"),
        (lambda m: m.update(regions="everything"), "regions: must be list"),
        (lambda m: m.update(format="zip"), "not a napari-segtool-recovery-delta"),
        (lambda m: m.update(version=7), "unsupported delta version"),
        (lambda m: m.update(document_changes={"instances": 3}), "document"),
        (lambda m: m.update(document_changes=None), "document_changes: must be an object"),
        (lambda m: m.update(instance_count=-1), "instance_count"),
    ],
)
def test_a_bad_delta_is_named_in_the_error(tmp_path, change, problem):
    labels = base_labels()
    path = snapshot(tmp_path, labels)
    target = delta(tmp_path, labels, [(slice(0, 1), slice(0, 2), slice(0, 2))])
    with zipfile.ZipFile(target) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    meta = json.loads(members[recovery.META_MEMBER])
    change(meta)
    members[recovery.META_MEMBER] = json.dumps(meta).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(RecoveryError, match=problem) as caught:
        read_recovery(path)
    assert caught.value.path == str(target)


def test_pixels_that_do_not_fill_the_regions_are_refused(tmp_path):
    labels = base_labels()
    path = snapshot(tmp_path, labels)
    target = delta(tmp_path, labels, [(slice(0, 1), slice(0, 4), slice(0, 4))])
    with zipfile.ZipFile(target) as archive:
        meta = archive.read(recovery.META_MEMBER)
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr(recovery.META_MEMBER, meta)
        with archive.open(recovery.PIXELS_MEMBER, "w") as stream:
            np.save(stream, np.zeros(3, dtype=np.uint16))
    with pytest.raises(RecoveryError, match="regions' size"):
        read_recovery(path)


def test_write_delta_checks_its_input(tmp_path):
    labels = base_labels()
    with pytest.raises(ValueError, match="outside labels"):
        delta(tmp_path, labels, [(slice(0, 9), slice(0, 1), slice(0, 1))])
    with pytest.raises(ValueError, match="snapshot_id"):
        delta(tmp_path, labels, [], snapshot_id="not hex!")
    with pytest.raises(ValueError, match="do not fit the box"):
        write_delta(
            tmp_path,
            NAME,
            "aa11bb22",
            [((slice(0, 1), slice(0, 2), slice(0, 2)), np.zeros((1, 2, 2), np.uint8))],
            recovery.document_changes(document(), document()),
            labels_shape=SHAPE,
            labels_dtype="uint16",
        )


def test_discard_and_prune_take_the_delta_along(tmp_path):
    labels = base_labels()
    path = snapshot(tmp_path, labels)
    delta(tmp_path, labels, [(slice(0, 1), slice(0, 2), slice(0, 2))])
    discard(path)
    assert list(tmp_path.iterdir()) == []
    # an old snapshot goes with its delta; a delta whose snapshot is gone goes after an hour
    path = snapshot(tmp_path, labels)
    delta(tmp_path, labels, [(slice(0, 1), slice(0, 2), slice(0, 2))])
    orphan = tmp_path / ("lost" + recovery.DELTA_SUFFIX)
    orphan.write_bytes(b"PK")
    assert set(prune(tmp_path, max_age_days=30, now=1_000_000.0 + 40 * 86400)) >= {path}
    assert not delta_path(path).exists() and orphan.exists()
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    assert orphan in prune(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_document_changes_carry_only_what_differs():
    base = document(extra_instance=True)
    current = json.loads(json.dumps(base))
    current["instances"][0]["locked"] = True
    current["instances"].append({**current["instances"][1], "label_id": 9, "feature_id": "x"})
    del current["instances"][1]
    current["source"]["seconds_to_label"] = 12.5
    changes = recovery.document_changes(base, current)
    assert [e["label_id"] for e in changes["instances"]] == [1, 9]
    assert changes["removed"] == [2] and set(changes["entries"]) == {"source"}
    assert "order" not in changes and "ontology" not in changes["entries"]
    assert recovery.apply_document_changes(base, changes) == current
    # a new order is written out
    current["instances"].reverse()
    changes = recovery.document_changes(base, current)
    assert changes["order"] == [9, 1]
    assert recovery.apply_document_changes(base, changes) == current
    with pytest.raises(ValueError, match="order"):
        recovery.apply_document_changes(base, {**changes, "order": [1, 77]})
