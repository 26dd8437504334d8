"""The recovery banner hears the autosaver, whose signals come from its own thread."""

from __future__ import annotations

import threading

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.autosave import autosaver_of
from napari_segtool._napari.binding import binding_of
from napari_segtool.formats import recovery
from tests.autosave_helpers import (
    paint_instance,
    recovery_folder,  # noqa: F401 - fixture
)


def test_an_autosave_failure_shows_in_the_dock_on_the_main_thread(
    make_napari_viewer,
    recovery_folder,  # noqa: F811
    qtbot,
    monkeypatch,
):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    layer = viewer.layers["cells segmentation"]
    saver = autosaver_of(layer)
    banner = dock.recovery_banner
    assert banner.autosaver is saver and banner.isHidden()
    real_write, calls = recovery.write_recovery, []

    def full_disk(*args, **kwargs):
        calls.append(threading.current_thread())
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real_write(*args, **kwargs)

    shown_on = []
    real_show = banner.show_autosave_failure

    def recording_show(message):
        shown_on.append(threading.current_thread())
        real_show(message)

    monkeypatch.setattr(recovery, "write_recovery", full_disk)
    monkeypatch.setattr(banner, "show_autosave_failure", recording_show)
    paint_instance(binding_of(layer), 0, slice(10, 20), slice(10, 20))
    qtbot.waitUntil(lambda: not banner.autosave_note.isHidden(), timeout=5000)
    assert calls[0] is not threading.main_thread()  # the failure came from the autosave thread
    assert shown_on == [threading.main_thread()]  # ... and was shown on the Qt main thread
    assert "No space left" in banner.autosave_note.text()
    assert banner.isVisibleTo(dock) and not banner.restore_button.isVisibleTo(dock)
    # the retry after the next pause succeeds: the note goes, and so does the banner
    qtbot.waitUntil(lambda: banner.autosave_note.isHidden(), timeout=5000)
    assert banner.isHidden() and saver.path.exists()


def test_the_banner_follows_the_shown_layer_s_autosaver(make_napari_viewer):
    from napari_segtool._napari.commands import new_segmentation_layer

    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    _, dock = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "Segmentation")
    first = viewer.layers["cells segmentation"]
    viewer.layers.selection.active = viewer.layers["cells"]
    new_segmentation_layer(viewer)
    second = viewer.layers[-1]
    assert dock.recovery_banner.autosaver is autosaver_of(second)
    viewer.layers.selection.active = first
    assert dock.recovery_banner.autosaver is autosaver_of(first)
    autosaver_of(second).failed.emit("Autosave of the other layer failed")
    assert dock.recovery_banner.autosave_note.isHidden()  # no longer followed
    autosaver_of(first).failed.emit("Autosave of the shown layer failed")
    assert "shown layer" in dock.recovery_banner.autosave_note.text()
