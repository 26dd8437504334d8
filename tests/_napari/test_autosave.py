"""Autosave in a real viewer: idle timer, background writes, recovery offer and restore."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari import autosave as _autosave
from napari_segtool._napari.autosave import (
    Autosaver,
    attach_autosave,
    autosave_interval,
    autosaver_of,
    check_recovery,
    notify_saved,
    restore_recovery,
    set_autosave_interval,
)
from napari_segtool._napari.binding import binding_of, document_of
from napari_segtool._qt.recovery_banner import RecoveryBanner
from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import RecoveryError, read_recovery
from tests.autosave_helpers import (
    answer_everything,
    open_session,
    paint_instance,
    recovery_folder,  # noqa: F401 - fixture
    write_image,
)


@pytest.fixture
def session(make_napari_viewer, recovery_folder, tmp_path):  # noqa: F811
    viewer = make_napari_viewer()
    image_path = write_image(tmp_path)
    image, layer, binding = open_session(viewer, image_path)
    saver = attach_autosave(binding, viewer=viewer)
    return viewer, layer, binding, saver, image_path


def wait_for_file(qtbot, saver: Autosaver, timeout=5000):
    qtbot.waitUntil(lambda: saver.path is not None and not saver.has_pending, timeout=timeout)
    return saver.path


# -- configuration --------------------------------------------------------------------------------
def test_interval_from_env_and_setter(monkeypatch):
    monkeypatch.setenv(_autosave.INTERVAL_ENV, "12.5")
    set_autosave_interval(None)
    assert autosave_interval() == 12.5
    monkeypatch.setenv(_autosave.INTERVAL_ENV, "soon")
    assert autosave_interval() == _autosave.DEFAULT_INTERVAL
    monkeypatch.delenv(_autosave.INTERVAL_ENV)
    assert autosave_interval() == _autosave.DEFAULT_INTERVAL == 30.0
    set_autosave_interval(3)
    assert autosave_interval() == 3.0
    set_autosave_interval(None)


def test_attach_is_idempotent_and_uses_the_env_folder(session, recovery_folder):  # noqa: F811
    _viewer, layer, binding, saver, _ = session
    assert attach_autosave(binding) is saver is autosaver_of(layer)
    assert saver.folder == recovery_folder
    assert saver.interval == pytest.approx(0.2)
    set_autosave_interval(0.5)
    assert saver.interval == 0.5


# -- the idle timer -------------------------------------------------------------------------------
def test_clean_layer_writes_nothing(session, qtbot, recovery_folder):  # noqa: F811
    _viewer, _layer, _binding, saver, _ = session
    qtbot.wait(500)
    assert not saver.is_dirty and saver.path is None
    assert not recovery_folder.exists() or not list(recovery_folder.iterdir())


def test_edit_then_idle_writes_pixels_document_and_image(session, qtbot):
    _viewer, layer, binding, saver, image_path = session
    first = paint_instance(binding, 0, slice(10, 30), slice(10, 40))
    second = paint_instance(binding, 1, slice(50, 80), slice(60, 120))
    answers = answer_everything(binding)
    assert saver.is_dirty and saver.has_pending
    path = wait_for_file(qtbot, saver)
    saved = read_recovery(path)
    np.testing.assert_array_equal(saved.labels, layer.data)
    assert saved.labels.dtype == layer.data.dtype
    info = saved.info
    assert info.image_path == str(image_path) and info.hash_kind == "file"
    assert info.image_hash == recovery.hash_file(image_path)
    assert info.instance_count == 2 and info.layer_name == layer.name
    restored = {i["label_id"]: i["answers"] for i in saved.document["instances"]}
    assert restored == {first: answers["instances"][first], second: answers["instances"][second]}
    assert saved.document["image_answers"] == answers["image"]
    assert saver.is_dirty  # still not saved through a writer


def test_timer_waits_for_idle_time(session, qtbot):
    _viewer, layer, binding, saver, _ = session
    saver.interval = 0.4
    paint_instance(binding, 0, slice(0, 5), slice(0, 5))
    started = time.monotonic()
    while time.monotonic() - started < 1.0:  # keep editing more often than the interval
        layer.data_setitem((np.array([20]), np.array([int((time.monotonic() - started) * 90)])), 1)
        qtbot.wait(100)
        assert saver.path is None or not saver.path.exists()
    wait_for_file(qtbot, saver)


def test_undo_and_answers_count_as_edits(session, qtbot):
    _viewer, layer, binding, saver, _ = session
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    wait_for_file(qtbot, saver)
    layer.undo()
    assert saver.has_pending
    wait_for_file(qtbot, saver)
    assert read_recovery(saver.path).labels.max() == 0
    binding.document.set_image_answers(
        {binding.document.ontology.questions[2].feature_schema_id: "later"}
    )
    assert saver.has_pending
    wait_for_file(qtbot, saver)


def test_write_runs_off_the_ui_thread_and_painting_goes_on(session, qtbot, monkeypatch):
    _viewer, layer, binding, saver, _ = session
    threads, release = [], threading.Event()
    real_write = recovery.write_recovery

    def slow_write(*args, **kwargs):
        threads.append(threading.current_thread())
        release.wait(5)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(recovery, "write_recovery", slow_write)
    label_id = paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    snapshot = layer.data.copy()
    qtbot.waitUntil(lambda: bool(threads), timeout=3000)  # the worker is blocked in the write
    started = time.perf_counter()
    layer.data_setitem((np.array([50]), np.array([50])), label_id)  # the user paints on
    assert time.perf_counter() - started < 0.5
    assert threads[0] is not threading.main_thread()
    release.set()
    qtbot.waitUntil(lambda: saver.path is not None and saver.path.exists(), timeout=3000)
    # the file holds the snapshot, not the stroke made while writing
    np.testing.assert_array_equal(read_recovery(saver.path).labels, snapshot)
    assert saver.has_pending  # ... which the next autosave picks up
    wait_for_file(qtbot, saver)
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)


def test_failed_write_is_reported_and_retried(session, qtbot, monkeypatch):
    _viewer, _layer, binding, saver, _ = session
    real_write, calls = recovery.write_recovery, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(recovery, "write_recovery", flaky)
    failures = []  # ``failed`` comes from the autosave thread: collect, then look
    saver.failed.connect(failures.append)
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    qtbot.waitUntil(lambda: bool(failures), timeout=3000)
    assert "No space left" in failures[0]
    assert saver.is_dirty and saver.has_pending
    wait_for_file(qtbot, saver)
    assert len(calls) == 2


def test_flush_writes_now(session):
    _viewer, layer, binding, saver, _ = session
    saver.interval = 3600
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    assert saver.flush() is True
    path = saver.path
    np.testing.assert_array_equal(read_recovery(path).labels, layer.data)
    assert not saver.has_pending and saver.is_dirty


def test_flush_reports_a_failed_write(session, monkeypatch):
    _viewer, layer, binding, saver, _ = session
    saver.interval = 3600
    real_write = recovery.write_recovery

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recovery, "write_recovery", full_disk)
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    assert saver.flush() is False
    assert "No space left" in saver.last_error and saver.has_pending
    assert saver.path is None or not saver.path.exists()
    monkeypatch.setattr(recovery, "write_recovery", real_write)
    assert saver.flush() is True
    assert saver.last_error is None
    np.testing.assert_array_equal(read_recovery(saver.path).labels, layer.data)


def test_image_identity_is_hashed_once_per_image_on_the_ui_thread(
    make_napari_viewer,
    recovery_folder,  # noqa: F811
    qtbot,
    monkeypatch,
):
    hashes, lookups = [], []
    real_hash, real_find = recovery.hash_pixels, _autosave._find_image_layer

    def counting_hash(pixels):
        hashes.append(threading.current_thread())
        return real_hash(pixels)

    def recording_find(*args, **kwargs):
        lookups.append(threading.current_thread())
        return real_find(*args, **kwargs)

    monkeypatch.setattr(recovery, "hash_pixels", counting_hash)
    monkeypatch.setattr(_autosave, "_find_image_layer", recording_find)
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")  # no file: the identity is the pixels' hash
    image, layer = viewer.layers["cells"], viewer.layers["cells segmentation"]
    binding = binding_of(layer)
    saver = attach_autosave(binding, viewer=viewer)
    paint_instance(binding, 0, slice(10, 30), slice(10, 40))
    first = read_recovery(wait_for_file(qtbot, saver)).info.image_hash
    paint_instance(binding, 1, slice(40, 50), slice(10, 40))
    wait_for_file(qtbot, saver)
    assert len(hashes) == 1  # two edits, two saves: one hash
    image.data = image.data[::-1].copy()  # a new data object: hashed again
    paint_instance(binding, 0, slice(60, 70), slice(10, 40))
    second = read_recovery(wait_for_file(qtbot, saver)).info.image_hash
    assert len(hashes) == 2 and second != first
    main = threading.main_thread()
    assert lookups and all(thread is main for thread in [*hashes, *lookups])


def test_idle_timer_rearmed_while_it_fires_stays_one_timer(session, qtbot, monkeypatch):
    _viewer, layer, binding, saver, _ = session
    errors = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    saver.interval = 0.05
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    for step in range(150):  # re-arm just before, at and after the timer fires
        time.sleep(0.045 + (step % 3) * 0.005)
        saver._arm()
    wait_for_file(qtbot, saver)
    idle = [t for t in threading.enumerate() if t.name == "segtool-autosave-idle" and t.is_alive()]
    assert errors == [] and len(idle) <= 1
    saver.cancel_idle_timer()


# -- saved through the writer ---------------------------------------------------------------------
def test_notify_saved_cleans_up(session, qtbot, recovery_folder):  # noqa: F811
    _viewer, layer, binding, saver, _ = session
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    path = wait_for_file(qtbot, saver)
    notify_saved(layer)
    assert not saver.is_dirty
    saver.flush()
    assert not path.exists()
    qtbot.wait(400)
    assert not path.exists()  # and no late autosave brings it back


def test_notify_saved_during_a_write_leaves_no_file(session, qtbot, monkeypatch):
    _viewer, layer, binding, saver, _ = session
    started, release = threading.Event(), threading.Event()
    real_write = recovery.write_recovery

    def slow_write(*args, **kwargs):
        started.set()
        release.wait(5)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(recovery, "write_recovery", slow_write)
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    qtbot.waitUntil(started.is_set, timeout=3000)
    notify_saved(layer)  # the export finished while the autosave was still writing
    release.set()
    saver.flush()
    assert saver.path is None or not saver.path.exists()
    assert not saver.is_dirty


def test_labelbox_export_then_notify(session, qtbot, tmp_path):
    """What the writer will do: export, then notify_saved (integration sketch)."""
    io_labelbox = pytest.importorskip("napari_segtool._napari.io_labelbox")
    _viewer, layer, binding, saver, _ = session
    paint_instance(binding, 0, slice(10, 20), slice(10, 20))
    path = wait_for_file(qtbot, saver)
    io_labelbox.export_layer(layer, tmp_path / "export" / "labels.json")
    notify_saved(layer)
    saver.flush()
    assert not path.exists() and not saver.is_dirty
    # reopened later: the saved export is newer than any recovery, nothing is offered
    assert check_recovery(binding) is None


# -- offer and restore ----------------------------------------------------------------------------
def test_same_image_in_a_new_viewer_is_offered_and_restored(
    session, qtbot, make_napari_viewer, tmp_path
):
    viewer, layer, binding, saver, image_path = session
    first = paint_instance(binding, 0, slice(10, 30), slice(10, 40))
    second = paint_instance(binding, 1, slice(50, 80), slice(60, 120))
    binding.document.set_locked(second, True)
    answers = answer_everything(binding)
    path = wait_for_file(qtbot, saver)
    expected_pixels = layer.data.copy()
    expected_document = binding.document.to_dict()
    # its own live file is never offered back to itself
    assert check_recovery(binding) is None

    # "crash": the first session's autosaver no longer counts as live
    saver.disconnect()
    assert layer not in _autosave._autosavers

    other = make_napari_viewer()
    _image, new_layer, new_binding = open_session(other, image_path)
    info = check_recovery(new_binding, other)
    assert info is not None and info.path == path and info.instance_count == 2
    new_saver = attach_autosave(new_binding, viewer=other)
    restored = restore_recovery(new_binding, info)
    assert restored is binding_of(new_layer) and restored is not new_binding
    np.testing.assert_array_equal(new_layer.data, expected_pixels)
    document = document_of(new_layer)
    assert document.to_dict() == expected_document
    assert document.instance(first).answers == answers["instances"][first]
    assert document.image_answers == answers["image"]
    assert document.is_locked(second)
    assert sorted(restored.visible_instance_ids()) == [first, second]
    # the restored layer is unsaved work that keeps going into the same file
    assert new_saver.is_dirty and not new_saver.has_pending and new_saver.path == path
    paint_instance(restored, 2, slice(85, 90), slice(0, 10))
    assert new_saver.has_pending
    wait_for_file(qtbot, new_saver)
    assert read_recovery(path).info.instance_count == 3


def test_a_different_image_is_not_offered(session, qtbot, make_napari_viewer, tmp_path):
    viewer, layer, binding, saver, image_path = session
    paint_instance(binding, 0, slice(10, 30), slice(10, 40))
    wait_for_file(qtbot, saver)
    saver.disconnect()
    assert layer not in _autosave._autosavers
    # same file name, other content (the image was replaced on disk)
    write_image(tmp_path, seed=99)
    other = make_napari_viewer()
    _image, _new_layer, new_binding = open_session(other, image_path)
    assert check_recovery(new_binding, other) is None


def test_image_without_file_uses_its_pixels(make_napari_viewer, recovery_folder, qtbot):  # noqa: F811
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    layer = viewer.layers["cells segmentation"]
    binding = binding_of(layer)
    saver = attach_autosave(binding, viewer=viewer)
    paint_instance(binding, 0, slice(10, 30), slice(10, 40))
    path = wait_for_file(qtbot, saver)
    assert read_recovery(path).info.hash_kind == "pixels"
    saver.disconnect()
    assert layer not in _autosave._autosavers
    other = make_napari_viewer()
    other.open_sample(PLUGIN_NAME, "cells")
    info = check_recovery(binding_of(other.layers["cells segmentation"]), other)
    assert info is not None and info.path == path


def test_restore_refuses_a_bad_file_and_changes_nothing(session, qtbot, tmp_path):
    _viewer, layer, binding, saver, _ = session
    paint_instance(binding, 0, slice(10, 30), slice(10, 40))
    path = wait_for_file(qtbot, saver)
    before_pixels, before_document = layer.data.copy(), binding.document.to_dict()
    data = path.read_bytes()
    broken = tmp_path / ("broken" + recovery.SUFFIX)
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecoveryError, match="broken"):
        restore_recovery(binding, broken)
    # a file for an image of another size
    other = recovery.write_recovery(
        tmp_path,
        "other" + recovery.SUFFIX,
        np.zeros((5, 5), np.uint32),
        binding.document.to_dict(),
        image_path=None,
        image_hash="0" * 64,
    )
    with pytest.raises(RecoveryError, match="shape"):
        restore_recovery(binding, other)
    assert binding_of(layer) is binding
    np.testing.assert_array_equal(layer.data, before_pixels)
    assert binding.document.to_dict() == before_document


# -- the banner -----------------------------------------------------------------------------------
def crashed_session(session, qtbot, make_napari_viewer):
    viewer, layer, binding, saver, image_path = session
    paint_instance(binding, 0, slice(10, 30), slice(10, 40))
    paint_instance(binding, 1, slice(50, 80), slice(60, 120))
    paint_instance(binding, 2, slice(85, 90), slice(0, 10))
    answers = answer_everything(binding)
    wait_for_file(qtbot, saver)
    expected = (layer.data.copy(), binding.document.to_dict(), answers)
    saver.disconnect()
    assert layer not in _autosave._autosavers
    other = make_napari_viewer()
    _image, new_layer, new_binding = open_session(other, image_path)
    attach_autosave(new_binding, viewer=other)
    return other, new_layer, new_binding, expected


def test_banner_offers_and_restores(session, qtbot, make_napari_viewer, tmp_path):
    other, new_layer, new_binding, (pixels, document, _answers) = crashed_session(
        session, qtbot, make_napari_viewer
    )
    banner = RecoveryBanner()
    qtbot.addWidget(banner)
    assert banner.offer_for(new_binding, other)
    assert banner.isVisibleTo(banner.parentWidget() or banner) or not banner.isHidden()
    text = banner.message.text()
    assert "3 instances" in text and "Unsaved work from" in text
    banner.resize(420, banner.sizeHint().height())
    banner.show()
    banner.grab().save(str(tmp_path / "recovery_banner.png"))
    with qtbot.waitSignal(banner.restored, timeout=2000) as blocker:
        banner.restore_button.click()
    assert blocker.args[0] is binding_of(new_layer)
    assert banner.isHidden()
    np.testing.assert_array_equal(new_layer.data, pixels)
    assert document_of(new_layer).to_dict() == document
    assert not banner.offer_for(binding_of(new_layer), other)  # now it is the live file


def test_banner_discard_removes_the_files(session, qtbot, make_napari_viewer, recovery_folder):  # noqa: F811
    other, new_layer, new_binding, _expected = crashed_session(session, qtbot, make_napari_viewer)
    before = new_layer.data.copy()
    banner = RecoveryBanner()
    qtbot.addWidget(banner)
    assert banner.offer_for(new_binding, other)
    with qtbot.waitSignal(banner.discarded, timeout=2000):
        banner.discard_button.click()
    assert banner.isHidden()
    assert list(recovery.iter_recovery_files(recovery_folder)) == []
    np.testing.assert_array_equal(new_layer.data, before)
    assert not banner.offer_for(new_binding, other)


def test_banner_shows_a_damaged_file_without_touching_the_layer(session, qtbot, make_napari_viewer):
    other, new_layer, new_binding, _expected = crashed_session(session, qtbot, make_napari_viewer)
    banner = RecoveryBanner()
    qtbot.addWidget(banner)
    assert banner.offer_for(new_binding, other)
    # damaged between the offer and the click
    path = banner.info.path
    path.write_bytes(path.read_bytes()[:-200])
    with qtbot.waitSignal(banner.failed, timeout=2000):
        banner.restore_button.click()
    assert "Cannot restore" in banner.message.text()
    assert not banner.restore_button.isEnabled()
    assert binding_of(new_layer) is new_binding and new_layer.data.max() == 0


def test_banner_hidden_without_recovery(session, qtbot):
    viewer, _layer, binding, _saver, _ = session
    banner = RecoveryBanner()
    qtbot.addWidget(banner)
    assert not banner.offer_for(binding, viewer)
    assert banner.isHidden()
    assert not banner.offer_for(None)
