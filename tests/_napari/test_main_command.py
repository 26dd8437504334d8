"""The napari-segtool script: with no command it opens napari; a command runs without it."""

from __future__ import annotations

import subprocess
import sys


def test_without_a_command_the_script_opens_napari_with_the_sample(monkeypatch):
    import napari

    from napari_segtool.__main__ import main

    shown = []
    monkeypatch.setattr(napari, "run", lambda: shown.append(napari.current_viewer()))
    assert main([]) == 0
    (viewer,) = shown
    try:
        assert "cells segmentation" in viewer.layers
    finally:
        viewer.close()


def test_a_batch_command_does_not_load_napari(reference_copy, tmp_path):
    script = (
        "import sys\n"
        "from napari_segtool.__main__ import main\n"
        f"code = main(['validate', {str(reference_copy)!r}, '--quiet', '--workers', '1'])\n"
        "assert 'napari' not in sys.modules and 'qtpy' not in sys.modules\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr  # the reference leaves a required question open
    assert "unanswered" in done.stdout
