"""The plugin installs, npe2 finds it, and its sample, commands and menus work."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import venv
from importlib.metadata import distributions
from pathlib import Path

import numpy as np
import pytest
from npe2 import PluginManager, PluginManifest

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of, is_segmentation_layer

ROOT = Path(__file__).resolve().parents[2]


def _manifest_location():
    """Where npe2 reads the manifest: the package's folder, as its entry point says."""
    from importlib.util import find_spec
    from pathlib import Path

    (folder,) = find_spec("napari_segtool").submodule_search_locations
    return Path(folder) / "napari.yaml"


def test_manifest_validates_and_is_found_from_the_editable_install():
    # (a source checkout may also hold a build's egg-info; the installed dist-info is the one)
    urls = [
        json.loads(d.read_text("direct_url.json") or "{}") for d in distributions(name=PLUGIN_NAME)
    ]
    assert any(u.get("dir_info", {}).get("editable") for u in urls), (
        "tests need the editable install"
    )
    manifest = PluginManifest.from_distribution(PLUGIN_NAME)
    assert manifest.name == PLUGIN_NAME
    assert _manifest_location().resolve() == (ROOT / "napari.yaml").resolve()
    pm = PluginManager()
    pm.discover()
    assert PLUGIN_NAME in pm._manifests
    result = subprocess.run(
        [str(Path(sys.executable).with_name("npe2")), "validate", PLUGIN_NAME],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_npe2_finds_the_manifest(tmp_path):
    wheel_dir = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
        check=True,
    )
    (wheel,) = wheel_dir.glob("napari_segtool-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    # npe2 alone reads and validates manifests; the wheel's own deps are not needed for that.
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "npe2==0.10.*", "--no-deps", str(wheel)],
        check=True,
        env=pip_env,
    )
    npe2_deps = [
        "PyYAML",
        "pydantic>=2",
        "pydantic-extra-types",
        "tomli-w",
        "typer",
        "rich",
        "psygnal",
        "build",
        "platformdirs",
        "app-model",
    ]
    subprocess.run([python, "-m", "pip", "install", "-q", *npe2_deps], check=True, env=pip_env)
    listing = subprocess.run(
        [env_dir / "bin" / "npe2", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    names = [p["name"] for p in json.loads(listing.stdout)]
    assert PLUGIN_NAME in names
    validate = subprocess.run(
        [env_dir / "bin" / "npe2", "validate", PLUGIN_NAME],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    located = subprocess.run(
        [
            python,
            "-c",
            f"import npe2; npe2.PluginManifest.from_distribution({PLUGIN_NAME!r})\n"
            + inspect.getsource(_manifest_location)
            + "print(_manifest_location())",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    manifest_file = Path(located.stdout.strip())
    assert manifest_file.is_relative_to(env_dir), "manifest must come from the installed wheel"
    assert manifest_file.read_text() == (ROOT / "napari.yaml").read_text()


def test_sample_opens_with_image_and_segmentation_layer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample(PLUGIN_NAME, "cells")
    assert [layer.name for layer in viewer.layers] == ["cells", "cells segmentation"]
    image, labels = viewer.layers
    assert image.rgb and image.data.shape == (384, 512, 3)
    assert labels.data.shape == (384, 512) and not labels.data.any()
    assert is_segmentation_layer(labels)
    ontology = document_of(labels).ontology
    assert [c.name for c in ontology.classes] == ["Nucleus", "Cell", "Debris"]
    assert ontology.questions


def test_sample_image_is_made_offline_and_deterministic():
    from napari_segtool.model.sample_image import cells_image

    first, second = cells_image(), cells_image()
    np.testing.assert_array_equal(first, second)
    assert first.std() > 10, "the sample has structure worth annotating"


def test_new_segmentation_layer_command_from_the_annotate_menu(make_napari_viewer):
    from napari._app_model import get_app_model

    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((30, 40, 3), np.uint8), rgb=True, name="rgb", scale=(2, 2))
    app = get_app_model()
    command_id = f"{PLUGIN_NAME}.new_segmentation_layer"
    menu_commands = [
        item.command.id
        for item in app.menus.get_menu("napari/layers/annotate")
        if hasattr(item, "command")
    ]
    assert command_id in menu_commands
    viewer.layers.selection.active = image
    app.commands.execute_command(command_id).result()
    labels = viewer.layers[-1]
    assert labels.name == "rgb segmentation"
    assert labels.data.shape == (30, 40)
    assert tuple(labels.scale) == (2, 2)
    assert is_segmentation_layer(labels)
    assert viewer.layers.selection.active is labels


def test_main_command_opens_sample_ready_to_annotate(make_napari_viewer):
    from napari_segtool.__main__ import DOCK_WIDGETS, open_viewer

    viewer = make_napari_viewer()
    open_viewer(viewer, [])
    assert [type(layer).__name__ for layer in viewer.layers] == ["Image", "Labels"]
    for widget_name in DOCK_WIDGETS:
        assert any(widget_name in key for key in viewer.window._dock_widgets)


def test_main_command_makes_a_segmentation_layer_for_an_opened_image(make_napari_viewer, tmp_path):
    from PIL import Image as PILImage

    from napari_segtool.__main__ import open_viewer

    path = tmp_path / "photo.png"
    PILImage.fromarray(np.zeros((40, 50, 3), np.uint8)).save(path)
    viewer = make_napari_viewer()
    open_viewer(viewer, [str(path)])
    labels = viewer.layers[-1]
    assert is_segmentation_layer(labels) and labels.data.shape == (40, 50)
    assert document_of(labels).source["image_path"] == str(path)


def test_main_command_opens_a_labelbox_export(make_napari_viewer, reference_copy):
    from napari_segtool.__main__ import open_viewer

    viewer = make_napari_viewer()
    open_viewer(viewer, [str(reference_copy / "export_v1.fish.json")])
    segmentation = [layer for layer in viewer.layers if is_segmentation_layer(layer)]
    assert len(segmentation) == 1, "the export's own layer, no extra empty one"
    assert len(document_of(segmentation[0])) == 4
