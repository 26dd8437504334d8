"""Overlay recoveries: a ChunkedLabels' written chunks and a meta file, never its volume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import RecoveryError
from napari_segtool.model.chunked_labels import ChunkedLabels
from napari_segtool.model.document import Document

NAME = "big-0123456789ab-session" + recovery.SUFFIX


def labels_with_edits() -> ChunkedLabels:
    labels = ChunkedLabels.create((4000, 5000), chunks=(512, 512), dtype=np.uint16)
    labels.write((slice(10, 20), slice(30, 50)), 4)
    labels.write((slice(3000, 3010), slice(4000, 4100)), 9)
    return labels


def write(folder, labels, epoch=0, **extra):
    return recovery.write_overlay_recovery(
        folder,
        NAME,
        labels,
        Document().to_dict(),
        epoch=epoch,
        image_path=None,
        image_hash="ab" * 32,
        hash_kind="pixels",
        layer_name="big",
        instance_count=2,
        **extra,
    )


def test_written_chunks_come_back_and_the_volume_is_never_written(tmp_path):
    labels = labels_with_edits()
    meta_path = write(tmp_path, labels)
    info = recovery.read_overlay_info(meta_path)
    assert info.labels_shape == (4000, 5000) and info.labels_dtype == "uint16"
    assert info.instance_count == 2
    restored, meta = recovery.read_overlay_recovery(meta_path)
    assert restored[15, 40] == 4 and restored[3005, 4050] == 9 and restored[2000, 2000] == 0
    written = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert written < 4000 * 5000 * 2 / 100  # two chunks, compressed
    # the next autosave writes only what changed; an erasure stays erased
    labels.write((slice(10, 20), slice(30, 50)), 0)
    write(tmp_path, labels)
    restored, _ = recovery.read_overlay_recovery(meta_path)
    assert restored[15, 40] == 0 and restored[3005, 4050] == 9
    found = recovery.find_overlay_recoveries(tmp_path, None, "ab" * 32)
    assert [i.path for i in found] == [meta_path]
    assert recovery.find_overlay_recoveries(tmp_path, None, "cd" * 32) == []
    assert recovery.recovery_name_of_overlay(meta_path) == NAME


def test_a_new_epoch_starts_a_new_folder_and_drops_the_old(tmp_path):
    labels = labels_with_edits()
    write(tmp_path, labels, epoch=0)
    meta_path = write(tmp_path, labels, epoch=1)
    folders = sorted(p.name for p in tmp_path.glob(f"*{recovery.OVERLAY_FOLDER_SUFFIX}"))
    assert folders == [NAME[: -len(recovery.SUFFIX)] + ".e1" + recovery.OVERLAY_FOLDER_SUFFIX]
    restored, _ = recovery.read_overlay_recovery(meta_path)
    assert restored[3005, 4050] == 9
    recovery.discard_overlay(tmp_path, NAME)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda meta: meta.update(format="other"), "not a napari-segtool overlay"),
        (lambda meta: meta.update(version=99), "unknown version"),
        (lambda meta: meta.update(overlay="../elsewhere"), "names no overlay folder"),
        (lambda meta: meta.update(labels_dtype="float32"), "dtype"),
        (lambda meta: meta.update(document={"instances": "no"}), "document"),
        (lambda meta: meta.update(labels_shape=[10, 10]), "holds"),
    ],
)
def test_a_bad_meta_file_is_an_error_naming_it(tmp_path, change, problem):
    meta_path = write(tmp_path, labels_with_edits())
    meta = json.loads(meta_path.read_text())
    change(meta)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(RecoveryError, match=problem) as raised:
        recovery.read_overlay_recovery(meta_path)
    assert str(meta_path) in str(raised.value)


def test_a_missing_overlay_folder_is_an_error(tmp_path):
    import shutil

    meta_path = write(tmp_path, labels_with_edits())
    for folder in tmp_path.glob(f"*{recovery.OVERLAY_FOLDER_SUFFIX}"):
        shutil.rmtree(folder)
    with pytest.raises(RecoveryError, match="overlay"):
        recovery.read_overlay_recovery(meta_path)
    meta_path.write_text("{not json")
    with pytest.raises(RecoveryError, match="cannot be read"):
        recovery.read_overlay_info(meta_path)
