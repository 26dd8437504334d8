"""The per-viewer session: every segmentation layer gets binding, pen, keys and autosave,
whoever added it, with the dock never opened."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.utils.key_bindings import coerce_keybinding

import napari_segtool
from napari_segtool import PLUGIN_NAME, load_default_ontology
from napari_segtool._napari.autosave import Autosaver, autosaver_of, frozen_document
from napari_segtool._napari.binding import (
    binding_of,
    is_segmentation_layer,
    segmentation_layer_kwargs,
)
from napari_segtool._napari.close_guard import layer_guard_of
from napari_segtool._napari.keys import NEW_INSTANCE_KEY
from napari_segtool._napari.pen import pen_of
from napari_segtool._napari.session import session_for, session_of
from napari_segtool.formats.recovery import iter_recovery_files, read_recovery
from napari_segtool.model.document import Document
from tests.autosave_helpers import (
    answer_everything,
    paint_instance,
    recovery_folder,  # noqa: F401 - fixture
)

REPO = Path(__file__).resolve().parents[2]


def segmentation_layer(viewer, name="script segmentation", shape=(40, 50)):
    document = Document(ontology=load_default_ontology(), source={"image_name": name})
    return viewer.add_labels(
        np.zeros(shape, np.uint16), **segmentation_layer_kwargs(document, name)
    )


def assert_services_running(viewer, layer) -> Autosaver:
    """Binding, lock guard, pen, keys and autosave are on ``layer``."""
    session = session_of(viewer)
    assert session is not None and session.services(layer) is not None
    binding = binding_of(layer)
    assert binding.lock_guard is not None
    assert pen_of(layer) is not None and pen_of(layer).attached
    new_instance = layer.keymap.get(coerce_keybinding(NEW_INSTANCE_KEY))
    assert new_instance is not None
    layer.mode = "pan_zoom"
    new_instance(layer)  # N: an id for the next instance of the current class, ready to paint
    assert layer.mode == "paint" and binding.pending_label_id == layer.selected_label
    saver = autosaver_of(layer)
    assert saver is not None and saver.binding is binding
    return saver


def wait_for_recovery(qtbot, saver: Autosaver) -> Path:
    qtbot.waitUntil(lambda: saver.path is not None and not saver.has_pending, timeout=5000)
    return saver.path


# -- whoever adds the layer ---------------------------------------------------------------
def test_file_open_of_a_labelbox_export_gets_autosave_and_pen(
    make_napari_viewer,
    reference_copy,
    recovery_folder,  # noqa: F811
    qtbot,
):
    viewer = make_napari_viewer()
    viewer.open(str(reference_copy / "export_v1.fish.json"), plugin=PLUGIN_NAME)
    layer = next(layer for layer in viewer.layers if is_segmentation_layer(layer))
    saver = assert_services_running(viewer, layer)
    paint_instance(binding_of(layer), 0, slice(0, 5), slice(0, 5))
    path = wait_for_recovery(qtbot, saver)
    np.testing.assert_array_equal(read_recovery(path).labels, layer.data)
    assert path.parent == recovery_folder


def test_the_sample_gets_autosave_and_pen(make_napari_viewer, recovery_folder, qtbot):  # noqa: F811
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    layer = viewer.layers["cells segmentation"]
    saver = assert_services_running(viewer, layer)
    paint_instance(binding_of(layer), 1, slice(10, 30), slice(10, 30))
    path = wait_for_recovery(qtbot, saver)
    assert read_recovery(path).info.instance_count == 1


def test_a_script_layer_after_session_for(make_napari_viewer, recovery_folder, qtbot):  # noqa: F811
    viewer = make_napari_viewer()
    session = napari_segtool.session_for(viewer)  # the public, lazily exported entry
    assert session is session_for(viewer)
    layer = segmentation_layer(viewer)
    saver = assert_services_running(viewer, layer)
    paint_instance(binding_of(layer), 0, slice(0, 10), slice(0, 10))
    wait_for_recovery(qtbot, saver)


def test_layers_already_there_are_started_and_plain_labels_are_left_alone(make_napari_viewer):
    viewer = make_napari_viewer()
    layer = segmentation_layer(viewer)
    plain = viewer.add_labels(np.zeros((5, 5), np.uint8), name="plain")
    assert session_of(viewer) is None and autosaver_of(layer) is None
    session = session_for(viewer)
    assert_services_running(viewer, layer)
    assert session.services(plain) is None and pen_of(plain) is None


def test_session_for_is_idempotent_through_napari_s_proxy(make_napari_viewer):
    from napari.utils._proxies import PublicOnlyProxy

    viewer = make_napari_viewer()
    session = session_for(viewer)
    assert session_for(PublicOnlyProxy(viewer)) is session
    assert layer_guard_of(viewer) is session.layer_guard
    assert session.window_guard is not None  # the viewer has a Qt window


def test_new_segmentation_layer_command_starts_the_session(make_napari_viewer):
    from napari_segtool._napari.commands import new_segmentation_layer

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((20, 30)), name="image")
    new_segmentation_layer(viewer)
    assert_services_running(viewer, viewer.layers[-1])


# -- leaving the viewer -------------------------------------------------------------------
def test_a_removed_layer_keeps_its_work_and_loses_pen_keys_and_autosave(
    make_napari_viewer,
    recovery_folder,  # noqa: F811
):
    viewer = make_napari_viewer()
    session = session_for(viewer)
    layer = segmentation_layer(viewer)
    saver = assert_services_running(viewer, layer)
    saver.interval = 3600
    paint_instance(binding_of(layer), 0, slice(0, 10), slice(0, 10))
    pixels = layer.data.copy()
    viewer.layers.remove(layer)
    (path,) = iter_recovery_files(recovery_folder)
    np.testing.assert_array_equal(read_recovery(path).labels, pixels)
    assert session.services(layer) is None and autosaver_of(layer) is None
    assert pen_of(layer) is None
    assert layer.keymap.get(coerce_keybinding(NEW_INSTANCE_KEY)) is None
    viewer.layers.append(layer)  # back again: services again
    assert_services_running(viewer, layer)


# -- headless: no window, no Qt -----------------------------------------------------------
def test_headless_viewer_has_a_layer_guard_without_anyone_to_ask(recovery_folder):  # noqa: F811
    viewer = ViewerModel()
    session = session_for(viewer)
    assert session.window_guard is None
    layer = segmentation_layer(viewer)
    saver = autosaver_of(layer)
    saver.interval = 3600
    paint_instance(binding_of(layer), 0, slice(0, 10), slice(0, 10))
    viewer.layers.selection = {layer}
    viewer.layers.remove_selected()  # nobody to ask: it goes, the work is kept
    assert layer not in viewer.layers
    (path,) = iter_recovery_files(recovery_folder)
    np.testing.assert_array_equal(read_recovery(path).labels, layer.data)


HEADLESS = """
    import json, sys, time
    import numpy as np
    from napari.components import ViewerModel

    GUI = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt", "magicgui", "vispy")
    gui = lambda: {m for m in sys.modules if m.split(".")[0] in GUI}
    napari_own = gui()  # napari.components itself loads a little magicgui
    from napari_segtool import load_default_ontology, session_for
    from napari_segtool._napari.autosave import autosaver_of
    from napari_segtool._napari.binding import binding_of, segmentation_layer_kwargs
    from napari_segtool.model.document import Document
    from tests.autosave_helpers import paint_instance

    viewer = ViewerModel()
    session_for(viewer)
    document = Document(ontology=load_default_ontology(), source={"image_name": "x"})
    layer = viewer.add_labels(np.zeros((30, 30), np.uint16),
                              **segmentation_layer_kwargs(document, "x segmentation"))
    saver = autosaver_of(layer)
    paint_instance(binding_of(layer), 0, slice(0, 10), slice(0, 10))
    deadline = time.monotonic() + 20
    while saver.has_pending and time.monotonic() < deadline:
        time.sleep(0.05)  # no event loop of any kind: the idle timer is psygnal's
    paint_instance(binding_of(layer), 1, slice(20, 25), slice(20, 25))  # pending at exit
    qt = sorted(m for m in sys.modules if m.split(".")[0] in GUI[:5])
    ours = sorted(gui() - napari_own)
    print(json.dumps({"written": str(saver.path), "pending": saver.has_pending, "qt": qt,
                      "added": ours}))
"""


def test_headless_session_autosaves_loads_no_qt_and_exits_promptly(tmp_path):
    env = {
        "NAPARI_SEGTOOL_RECOVERY_DIR": str(tmp_path / "recovery"),
        "NAPARI_SEGTOOL_AUTOSAVE_SECONDS": "0.3",
    }
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(HEADLESS)],
        cwd=REPO,
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["qt"] == [] and result["added"] == []
    assert Path(result["written"]).exists() and result["pending"]
    assert time.monotonic() - started < 60
    # the edit still pending at exit got its final save
    assert (read_recovery(Path(result["written"])).labels[20:25, 20:25] != 0).all()


def test_exit_saves_pending_edits_without_waiting_for_the_idle_timer(tmp_path):
    script = HEADLESS.replace("time.monotonic() + 20", "time.monotonic()")
    env = {
        "NAPARI_SEGTOOL_RECOVERY_DIR": str(tmp_path / "recovery"),
        "NAPARI_SEGTOOL_AUTOSAVE_SECONDS": "600",
    }
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=300,  # without the cancel at exit this would take 600 s
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["pending"]
    (path,) = iter_recovery_files(tmp_path / "recovery")  # written at exit, not by the timer
    labels = read_recovery(path).labels
    assert (labels[0:10, 0:10] != 0).all() and (labels[20:25, 20:25] != 0).all()


# -- consistency of the background copy ---------------------------------------------------
def test_the_labels_are_copied_on_the_autosave_thread(make_napari_viewer, recovery_folder, qtbot):  # noqa: F811
    viewer = make_napari_viewer()
    session_for(viewer)
    layer = segmentation_layer(viewer)
    saver = autosaver_of(layer)
    threads = []
    real_job = Autosaver._recovery_job

    def recording_job(self, *args):
        threads.append(threading.current_thread())
        return real_job(self, *args)

    saver._recovery_job = recording_job.__get__(saver)
    paint_instance(binding_of(layer), 0, slice(0, 10), slice(0, 10))
    wait_for_recovery(qtbot, saver)
    assert threads and all(t is not threading.main_thread() for t in threads)


def test_an_edit_during_the_copy_is_followed_by_a_consistent_save(
    make_napari_viewer,
    recovery_folder,  # noqa: F811
    qtbot,
):
    viewer = make_napari_viewer()
    session_for(viewer)
    layer = segmentation_layer(viewer)
    binding = binding_of(layer)
    saver = autosaver_of(layer)
    copying, release = threading.Event(), threading.Event()
    real_job = Autosaver._recovery_job

    def slow_copy(self, *args):
        if not copying.is_set():
            copying.set()
            release.wait(5)  # the UI thread edits meanwhile
        return real_job(self, *args)

    saver._recovery_job = slow_copy.__get__(saver)
    paint_instance(binding, 0, slice(0, 10), slice(0, 10))
    qtbot.waitUntil(copying.is_set, timeout=3000)
    second = paint_instance(binding, 1, slice(20, 30), slice(20, 30))
    answers = answer_everything(binding)
    release.set()
    path = wait_for_recovery(qtbot, saver)
    saved = read_recovery(path)
    np.testing.assert_array_equal(saved.labels, layer.data)
    assert saved.document == binding.document.to_dict()
    assert {i["label_id"]: i["answers"] for i in saved.document["instances"]}[second] == (
        answers["instances"][second]
    )


def test_the_frozen_document_does_not_follow_later_edits(make_napari_viewer):
    viewer = make_napari_viewer()
    session_for(viewer)
    layer = segmentation_layer(viewer)
    binding = binding_of(layer)
    label = paint_instance(binding, 0, slice(0, 10), slice(0, 10))
    frozen = frozen_document(binding)
    expected = json.loads(json.dumps(binding.document.to_dict()))
    assert frozen == expected
    answer_everything(binding)
    paint_instance(binding, 1, slice(20, 30), slice(20, 30))
    binding.document.set_locked(label, True)
    assert json.loads(json.dumps(frozen)) == expected
    assert frozen_document(binding) == binding.document.to_dict()


@pytest.mark.parametrize("seconds", [0.3])
def test_interval_change_keeps_a_waiting_save(
    make_napari_viewer,
    recovery_folder,  # noqa: F811
    qtbot,
    seconds,
):
    viewer = make_napari_viewer()
    session_for(viewer)
    layer = segmentation_layer(viewer)
    saver = autosaver_of(layer)
    saver.interval = 3600
    paint_instance(binding_of(layer), 0, slice(0, 10), slice(0, 10))
    saver.interval = seconds
    wait_for_recovery(qtbot, saver)
