"""The model and format modules import neither Qt, napari nor magicgui."""

import json
import pkgutil
import subprocess
import sys

import napari_segtool.formats

PURE_MODULES = [
    "napari_segtool",
    "napari_segtool.ids",
    "napari_segtool.ontology",
    "napari_segtool.document",
    "napari_segtool.sample",
    "napari_segtool._atomic",
    "napari_segtool.recovery",
    "napari_segtool.formats",
    *(
        f"napari_segtool.formats.{info.name}"
        for info in pkgutil.iter_modules(napari_segtool.formats.__path__)
    ),
]
FORBIDDEN = (
    "napari",
    "qtpy",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
    "magicgui",
    "superqt",
    "vispy",
)


def test_model_and_format_modules_do_not_load_qt_or_napari():
    script = (
        "import importlib, json, sys\n"
        f"for name in {PURE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    leaked = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)
    assert leaked == []
    assert "napari_segtool.document" in loaded
