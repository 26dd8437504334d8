"""The model, format, tool and batch modules import neither Qt, napari nor magicgui."""

import json
import pkgutil
import subprocess
import sys

import napari_segtool.batch
import napari_segtool.formats
import napari_segtool.model
import napari_segtool.tools

PURE_MODULES = [
    "napari_segtool",
    *(
        info.name
        for package in (
            napari_segtool.model,
            napari_segtool.formats,
            napari_segtool.tools,
            napari_segtool.batch,
        )
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
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
    assert "napari_segtool.model.document" in loaded
