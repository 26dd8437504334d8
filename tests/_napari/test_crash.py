"""SIGKILL in the middle of a write: the previous file is still whole (issue item 5),
and the "done when" scenario: annotate, kill napari, reopen, restore, all back.

Each child is made slow deterministically: a patched write blocks at a known
point after telling the parent (through a marker file) that it got there; the
parent then kills it with SIGKILL, so no cleanup code of the child runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from napari_segtool._napari.autosave import attach_autosave, autosaver_of, check_recovery
from napari_segtool._napari.binding import binding_of, document_of
from napari_segtool._qt.recovery_banner import RecoveryBanner
from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import iter_recovery_files, read_recovery
from tests.autosave_helpers import (
    open_session,
    recovery_folder,  # noqa: F401 - fixture
    write_image,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
REPO = Path(__file__).resolve().parents[2]


def start_child(script: str, *args, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(marker: Path, child: subprocess.Popen, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if child.poll() is not None:
            pytest.fail(f"child exited early ({child.returncode}):\n{child.stdout.read()}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"child never reached {marker.name}:\n{child.communicate()[0]}")
        time.sleep(0.02)
    return marker.read_text()


def kill(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL


# -- a recovery write killed half-way ---------------------------------------------------------
RECOVERY_WRITER = """
    import sys, time
    from pathlib import Path
    import numpy as np
    from napari_segtool import load_default_ontology
    from napari_segtool.formats import recovery
    from napari_segtool.model.document import Document

    folder, marker = Path(sys.argv[1]), Path(sys.argv[2])
    document = Document(ontology=load_default_ontology())
    document.add_instance(2, document.ontology.classes[0].feature_schema_id)
    labels = np.full((512, 512), 2, np.uint32)  # version 2 of the work
    recovery.CHUNK_BYTES = 64 * 1024
    real_write, written = recovery._write_chunk, []

    def slow_write(stream, chunk):
        real_write(stream, chunk)
        written.append(len(chunk))
        if len(written) == 3:  # well inside the pixels, the old file still in place
            marker.write_text("mid-write")
            time.sleep(600)

    recovery._write_chunk = slow_write
    recovery.write_recovery(folder, "work" + recovery.SUFFIX, labels, document.to_dict(),
                            image_path=None, image_hash="ab" * 32, hash_kind="pixels")
"""


def test_recovery_file_survives_sigkill_during_rewrite(tmp_path):
    folder = tmp_path / "recovery"
    labels = np.zeros((512, 512), np.uint32)
    labels[:100, :100] = 1
    from napari_segtool import load_default_ontology
    from napari_segtool.model.document import Document

    document = Document(ontology=load_default_ontology())
    document.add_instance(1, document.ontology.classes[0].feature_schema_id)
    path = recovery.write_recovery(
        folder,
        "work" + recovery.SUFFIX,
        labels,
        document.to_dict(),
        image_path=None,
        image_hash="ab" * 32,
        hash_kind="pixels",
    )
    before = path.read_bytes()

    child = start_child(RECOVERY_WRITER, folder, tmp_path / "marker")
    wait_for(tmp_path / "marker", child)
    leftovers = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert leftovers and leftovers[0].stat().st_size > 0  # really killed mid-write
    kill(child)

    assert path.read_bytes() == before
    saved = read_recovery(path)
    np.testing.assert_array_equal(saved.labels, labels)
    assert [i["label_id"] for i in saved.document["instances"]] == [1]
    assert iter_recovery_files(folder) == [path]  # the torn temp file is never offered
    with pytest.raises(recovery.RecoveryError):
        read_recovery(leftovers[0])
    # ... and pruning clears it once it is old
    os.utime(leftovers[0], (time.time() - 7200,) * 2)
    assert leftovers[0] in recovery.prune(folder)


# -- a generic multi-file export through atomic_path, killed half-way ----------------------------
GENERIC_EXPORT = """
    import json, sys, time
    from pathlib import Path
    from napari_segtool.formats.toolkit.atomic import atomic_path

    folder, marker, version = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    for n in range(5):  # each file of the export replaced atomically, index last
        with atomic_path(folder / f"mask_{n}.bin") as tmp:
            with open(tmp, "wb") as handle:
                handle.write(bytes([version]) * 50_000)
                if version == 2 and n == 2:
                    handle.flush()
                    marker.write_text("mid-export")
                    time.sleep(600)
    with atomic_path(folder / "export.json") as tmp:
        tmp.write_text(json.dumps({"version": version, "masks": 5}))
"""


def test_generic_export_survives_sigkill(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    first = start_child(GENERIC_EXPORT, folder, tmp_path / "unused", 1)
    assert first.wait(60) == 0, first.stdout.read()
    child = start_child(GENERIC_EXPORT, folder, tmp_path / "marker", 2)
    wait_for(tmp_path / "marker", child)
    kill(child)
    index = json.loads((folder / "export.json").read_text())
    assert index == {"version": 1, "masks": 5}
    # every file is either wholly old or wholly new, never torn
    for n in range(5):
        data = (folder / f"mask_{n}.bin").read_bytes()
        assert len(data) == 50_000 and len(set(data)) == 1


# -- the Labelbox export, killed while encoding masks --------------------------------------------
LABELBOX_EXPORT = """
    import sys, time
    from pathlib import Path
    import numpy as np
    from napari.layers import Labels
    from napari_segtool import load_default_ontology
    from napari_segtool._napari.io_labelbox import export_layer
    from napari_segtool._napari.binding import segmentation_layer_kwargs
    from napari_segtool.model.document import Document
    from napari_segtool.formats import labelbox_v1

    target, marker, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    document = Document(ontology=load_default_ontology(),
                        source={"image_name": "cells", "image_path": None})
    cls = document.ontology.segmentation_classes[0].feature_schema_id
    labels = np.zeros((64, 64), np.uint16)
    for n in range(1, count + 1):
        document.add_instance(n, cls, feature_id=f"c{n:024d}")
        labels[n * 4 : n * 4 + 3, 5 : 20 + count] = n  # each version draws them differently
    layer = Labels(labels, **segmentation_layer_kwargs(document, "cells segmentation"))
    if marker.name == "commit":  # between moving the new masks in and the new JSON
        real_commit = labelbox_v1.writer._commit

        def slow_commit(staged, final):
            marker.write_text("mid-swap")
            time.sleep(600)

        labelbox_v1.writer._commit = slow_commit
    elif marker.name != "none":
        real_encode, done = labelbox_v1.writer.MaskPngEncoder.encode, []

        def slow_encode(self, mask):
            done.append(1)
            if len(done) == 3:
                marker.write_text("mid-export")
                time.sleep(600)
            return real_encode(self, mask)

        labelbox_v1.writer.MaskPngEncoder.encode = slow_encode
    export_layer(layer, target)
"""


def _files(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _named_masks(export: Path) -> set[Path]:
    rows = json.loads(export.read_text())
    return {Path(o["instanceURI"]) for row in rows for o in row["Label"]["objects"]}


def check_killed_save_left_old_export(target: Path, before: dict[Path, bytes]) -> None:
    """The old export is whole; anything extra is an unnamed PNG the next save removes."""
    after = _files(target.parent)
    assert {path: after.get(path) for path in before} == before  # nothing old touched
    named = _named_masks(target)
    assert named <= before.keys()
    extra = after.keys() - before.keys()
    for path in extra:
        in_masks = path.parent == Path("labels_masks") and path.suffix == ".png"
        json_temp = path.parent == Path(".") and path.name.startswith(".labels.json.")
        assert in_masks or json_temp, path
        assert path not in named


def check_next_save_cleans_up(target: Path, tmp_path: Path) -> None:
    again = start_child(LABELBOX_EXPORT, target, tmp_path / "none", 4)
    assert again.wait(120) == 0, again.stdout.read()
    names = {p.relative_to(target.parent) for p in target.parent.rglob("*") if p.is_file()}
    assert names == _named_masks(target) | {Path("labels.json"), Path("labels.ontology.json")}


def test_labelbox_export_survives_sigkill(tmp_path):
    pytest.importorskip("napari_segtool._napari.io_labelbox")
    from napari_segtool.formats.labelbox_v1 import read_export

    target = tmp_path / "export" / "labels.json"
    first = start_child(LABELBOX_EXPORT, target, tmp_path / "none", 4)
    assert first.wait(120) == 0, first.stdout.read()
    before = _files(target.parent)
    (old,) = read_export(target)
    child = start_child(LABELBOX_EXPORT, target, tmp_path / "marker", 8)
    wait_for(tmp_path / "marker", child, timeout=120)
    kill(child)
    check_killed_save_left_old_export(target, before)
    (row,) = read_export(target)
    assert sorted(row.document.instances) == [1, 2, 3, 4]
    assert set(np.unique(row.labels)) == {0, 1, 2, 3, 4}
    np.testing.assert_array_equal(row.labels, old.labels)
    check_next_save_cleans_up(target, tmp_path)


# -- the autosave of a running napari, killed during its background write ------------------------
NAPARI_SESSION = """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    import napari
    from qtpy.QtCore import QTimer
    from superqt.utils import ensure_main_thread
    from napari_segtool.formats import recovery
    from napari_segtool._napari.autosave import attach_autosave
    from tests.autosave_helpers import answer_everything, open_session, paint_instance

    image_path, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    viewer = napari.Viewer(title="napari-segtool (child)")
    _image, layer, binding = open_session(viewer, image_path)
    saver = attach_autosave(binding, viewer=viewer)

    def annotate_first():
        paint_instance(binding, 0, slice(10, 30), slice(10, 40))
        paint_instance(binding, 1, slice(50, 80), slice(60, 120))
        paint_instance(binding, 0, slice(40, 48), slice(5, 25))
        paint_instance(binding, 2, slice(85, 90), slice(0, 10))
        binding.document.set_locked(3, True)
        answers = answer_everything(binding)
        np.save(out / "expected.npy", layer.data)
        (out / "expected.json").write_text(json.dumps(
            {"document": binding.document.to_dict(), "layer_name": layer.name}))

    def on_saved(path):
        if not (out / "expected.json").exists() or saver.has_pending:
            return  # an idle save while the annotation was still being made (a loaded machine)
        if mode == "idle" or (out / "second").exists():
            (out / "saved").write_text(str(path))
            return
        # first autosave done: edit again and make the next write hang half-way
        (out / "second").write_text("")
        real_write, chunks = recovery._write_chunk, []
        recovery.CHUNK_BYTES = 4096

        def hang(stream, chunk):
            real_write(stream, chunk)
            chunks.append(1)
            if len(chunks) == 2:
                (out / "saved").write_text("mid-write")
                time.sleep(600)

        recovery._write_chunk = hang
        paint_instance(binding, 1, slice(0, 5), slice(100, 128))

    saver.saved.connect(ensure_main_thread(on_saved))  # emitted on the autosave thread
    QTimer.singleShot(0, annotate_first)
    napari.run()
"""


def crashed_child(tmp_path, mode: str) -> tuple[Path, np.ndarray, dict]:
    image_path = write_image(tmp_path)
    out = tmp_path / "child"
    out.mkdir()
    child = start_child(NAPARI_SESSION, image_path, out, mode)
    wait_for(out / "saved", child, timeout=90)
    kill(child)  # no close event, no atexit, no flush: only what is on disk counts
    expected = json.loads((out / "expected.json").read_text())
    return image_path, np.load(out / "expected.npy"), expected


def test_done_when_sigkilled_napari_is_restored(
    tmp_path,
    recovery_folder,  # noqa: F811 - the fixture
    make_napari_viewer,
    qtbot,
):
    """Annotate, SIGKILL napari, start again, open the same image, restore: all back."""
    image_path, pixels, expected = crashed_child(tmp_path, "idle")
    viewer = make_napari_viewer()
    _image, layer, binding = open_session(viewer, image_path)
    attach_autosave(binding, viewer=viewer)
    banner = RecoveryBanner()
    qtbot.addWidget(banner)
    assert banner.offer_for(binding, viewer)
    assert "4 instances" in banner.message.text()
    banner.restore_button.click()
    check_restored(layer, pixels, expected)
    assert autosaver_of(layer).is_dirty  # still to be saved for real


def test_sigkill_during_an_autosave_keeps_the_previous_one(
    tmp_path,
    recovery_folder,  # noqa: F811 - the fixture
    make_napari_viewer,
):
    image_path, pixels, expected = crashed_child(tmp_path, "mid-write")
    torn = [p for p in recovery_folder.iterdir() if p.name.endswith(".tmp")]
    assert torn  # the second autosave really was cut off
    viewer = make_napari_viewer()
    _image, layer, binding = open_session(viewer, image_path)
    info = check_recovery(binding, viewer)
    assert info is not None and info.instance_count == 4
    from napari_segtool._napari.autosave import restore_recovery

    restore_recovery(binding, info)
    check_restored(layer, pixels, expected)  # the first autosave, whole


def check_restored(layer, pixels, expected) -> None:
    np.testing.assert_array_equal(layer.data, pixels)
    document = document_of(layer)
    assert document.to_dict() == expected["document"]
    binding = binding_of(layer)
    assert binding.visible_instance_ids() == [1, 2, 3, 4]
    for instance in expected["document"]["instances"]:
        assert document.instance(instance["label_id"]).answers == instance["answers"]
    assert document.is_locked(3)


def test_labelbox_export_survives_sigkill_while_swapping_in(tmp_path):
    """Killed at the commit itself: the new masks are on disk, the JSON is still the old."""
    pytest.importorskip("napari_segtool._napari.io_labelbox")
    from napari_segtool.formats.labelbox_v1 import read_export

    target = tmp_path / "export" / "labels.json"
    first = start_child(LABELBOX_EXPORT, target, tmp_path / "none", 4)
    assert first.wait(120) == 0, first.stdout.read()
    (before,) = read_export(target)
    files = _files(target.parent)
    child = start_child(LABELBOX_EXPORT, target, tmp_path / "commit", 8)
    wait_for(tmp_path / "commit", child, timeout=120)
    kill(child)
    check_killed_save_left_old_export(target, files)
    (row,) = read_export(target)
    assert sorted(row.document.instances) == [1, 2, 3, 4]
    np.testing.assert_array_equal(row.labels, before.labels)
    check_next_save_cleans_up(target, tmp_path)
