"""compat owns every private napari access, and checks each feature once.

The scan reads the package's source (AST, so docstrings do not count) and
fails if a private napari name is used anywhere but ``_napari/compat.py``.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest
from napari.components import LayerList, ViewerModel
from napari.layers import Image, Labels, Shapes

import napari_segtool
from napari_segtool._napari import compat
from napari_segtool._napari.binding import (
    CountsFromScratchWarning,
    binding_of,
    segmentation_layer_kwargs,
)
from napari_segtool._napari.compat import NapariCompatError, NapariCompatWarning
from napari_segtool._napari.painter import paint
from napari_segtool._napari.pen import PenUnavailableWarning, attach_pen
from napari_segtool.model.document import Document
from napari_segtool.model.ontology import Ontology
from napari_segtool.tools.edit import ProposedEdit

PACKAGE = Path(napari_segtool.__file__).parent
COMPAT = PACKAGE / "_napari" / "compat.py"
#: attributes the plugin itself puts on napari objects
OWN_PREFIX = "_segtool"
_LOOKUPS = {"getattr", "setattr", "hasattr", "delattr"}
_DICT_METHODS = {"get", "pop", "setdefault"}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and not name.startswith(OWN_PREFIX)


def napari_private_names() -> set[str]:
    """Private attribute names of the napari objects the plugin meets."""
    objects = [
        Labels(np.zeros((2, 2), dtype=np.uint8)),
        Image(np.zeros((2, 2))),
        Shapes(),
        ViewerModel(),
        LayerList(),
    ]
    names = set()
    for obj in objects:
        names.update(dir(obj))
        names.update(vars(obj))
    from napari._qt.qt_main_window import Window

    names.update(dir(Window))
    names.add("_qt_window")  # set in Window.__init__, which needs a display
    return {name for name in names if _is_private(name)}


def own_private_names(trees: list[ast.AST]) -> set[str]:
    """Private names the package defines itself (its functions, attributes, modules)."""
    names = {path.stem for path in PACKAGE.rglob("*.py")}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[-1])
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return {name for name in names if _is_private(name)}


def private_napari_uses(tree: ast.AST, own: set[str], napari_names: set[str]) -> list[str]:
    """Where ``tree`` touches a private napari name: imports, attributes, string look-ups."""

    def foreign(name: str) -> bool:
        return _is_private(name) and (name in napari_names or name not in own)

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "napari" and any(_is_private(p) for p in parts):
                found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "napari" and any(_is_private(p) for p in parts):
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and foreign(node.attr):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and node.args:
            key = _looked_up_name(node)
            if key is not None and foreign(key):
                found.append(f"line {node.lineno}: {key!r} looked up by name")
        elif isinstance(node, ast.Constant) and node.value in napari_names:
            # a name kept in a constant and looked up later
            found.append(f"line {node.lineno}: {node.value!r} spelled out")
    return found


def _looked_up_name(call: ast.Call) -> str | None:
    """The attribute name a ``getattr(obj, "name")`` or ``obj.__dict__.get("name")`` reads."""
    func = call.func
    if isinstance(func, ast.Name) and func.id in _LOOKUPS and len(call.args) > 1:
        key = call.args[1]
    elif isinstance(func, ast.Attribute) and func.attr in _DICT_METHODS:
        key = call.args[0]
    else:
        return None
    return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None


def scan_package() -> dict[str, list[str]]:
    sources = {path: path.read_text(encoding="utf-8") for path in sorted(PACKAGE.rglob("*.py"))}
    trees = {path: ast.parse(text, filename=str(path)) for path, text in sources.items()}
    own = own_private_names([tree for path, tree in trees.items() if path != COMPAT])
    napari_names = napari_private_names()
    report = {}
    for path, tree in trees.items():
        if path == COMPAT:
            continue
        uses = private_napari_uses(tree, own, napari_names)
        if uses:
            report[str(path.relative_to(PACKAGE))] = uses
    return report


# -- the scan ----------------------------------------------------------------------------------
def test_no_private_napari_access_outside_compat():
    report = scan_package()
    assert report == {}, (
        "private napari names used outside napari_segtool/_napari/compat.py (add a function "
        f"there and call it): {report}"
    )


@pytest.mark.parametrize(
    "source",
    [
        "layer._paint_region_with_mask(key, mask, 1, [0, 1])",
        "type(layer)._drag_modes['paint']",
        "layer._preserve_labels = False",
        "window = getattr(viewer.window, '_qt_window', None)",
        "layer.__dict__.pop('_move_modes', None)",
        "from napari.layers.labels._labels_utils import mouse_event_to_labels_coordinate",
        "import napari.utils._proxies",
        "from napari._app_model import get_app_model",
        "HOOK = '_apply_mask_to_data'",
    ],
)
def test_the_scan_finds_private_napari_access(source):
    assert private_napari_uses(ast.parse(source), set(), napari_private_names()) != []


def test_a_napari_name_is_found_even_when_the_package_uses_it_too():
    tree = ast.parse("layer._preserve_labels")
    assert private_napari_uses(tree, {"_preserve_labels"}, napari_private_names()) != []


def test_the_scan_lets_the_package_s_own_names_pass():
    source = (
        "class A:\n"
        "    def __init__(self):\n"
        "        self._layer_ref = None\n"
        "    def _helper(self, other):\n"
        "        return other._layer_ref, getattr(other, '_layer_ref'), self._drag_modes\n"
        "viewer.window._segtool_close_guard = 1\n"
        "obj.__wrapped__\n"
    )
    tree = ast.parse(source)
    assert private_napari_uses(tree, own_private_names([tree]), napari_private_names()) == []


# -- the checks ------------------------------------------------------------------------------------
def test_every_feature_works_with_this_napari():
    compat.forget_checks()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NapariCompatWarning)
        for feature in compat.FEATURES:
            assert compat.problem(feature) is None, feature
    assert compat.is_tested_version(compat.napari_version())
    with pytest.raises(ValueError, match="unknown feature"):
        compat.problem("time travel")


def test_versions_outside_the_tested_range_warn_once(monkeypatch):
    assert compat.is_tested_version("0.9.2") and compat.is_tested_version("0.9.5.dev3+g1")
    assert not compat.is_tested_version("0.9.1") and not compat.is_tested_version("0.10.0rc1")
    assert not compat.is_tested_version("1.0") and not compat.is_tested_version("unknown")
    monkeypatch.setattr(compat, "napari_version", lambda: "0.11.0")
    monkeypatch.setattr(compat, "_version_checked", False)
    expected = "tested with napari>=0.9.2,<0.10, not napari 0.11"
    with pytest.warns(NapariCompatWarning, match=expected):
        compat.check_version()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compat.check_version()  # once per process


class _MovedRegionWrites(Labels):
    """A napari whose masked paint path changed its signature."""

    def _paint_region_with_mask(self, slice_key, mask, label, dims, *, refresh=True, extra=0):
        raise AssertionError("never called")


class _MovedModeTables(Labels):
    """A napari that no longer keeps per-mode callback tables."""

    _drag_modes = None


def test_a_changed_paint_path_is_named_and_nothing_is_painted():
    layer = _MovedRegionWrites(np.zeros((5, 5), dtype=np.uint8))
    assert "_paint_region_with_mask" in compat.problem(compat.REGION_WRITES, _MovedRegionWrites)
    edit = ProposedEdit((slice(0, 2), slice(0, 2)), np.ones((2, 2)), 3)
    with pytest.raises(NapariCompatError, match="region writes"):
        paint(layer, edit)
    assert not np.asarray(layer.data).any()


def test_the_pen_switches_itself_off_when_napari_s_tables_moved():
    layer = _MovedModeTables(np.zeros((5, 5), dtype=np.uint8))
    drag = list(layer.mouse_drag_callbacks)
    with pytest.warns(PenUnavailableWarning, match="_drag_modes"):
        pen = attach_pen(layer)
    assert not pen.attached and layer.mouse_drag_callbacks == drag
    layer = _MovedRegionWrites(np.zeros((5, 5), dtype=np.uint8))
    with pytest.warns(PenUnavailableWarning, match="_paint_region_with_mask"):
        assert not attach_pen(layer).attached


def test_a_probe_that_sees_napari_misbehave_reports_it(monkeypatch):
    class IgnoresItsMask(Labels):
        def _paint_region_with_mask(self, slice_key, mask, new_label, dims_to_paint, refresh=True):
            return super()._paint_region_with_mask(
                slice_key, np.ones_like(mask), new_label, dims_to_paint, refresh
            )

    assert "exactly its mask" in compat.problem(compat.REGION_WRITES, IgnoresItsMask)


class _UndoSendsPaint(Labels):
    """A napari whose undo announces the step it undid as a paint event."""

    def undo(self):
        item = self._undo_history[-1] if self._undo_history else None
        super().undo()
        if item is not None:
            self.events.paint(value=item)


def test_a_changed_undo_history_is_named_and_counts_are_kept_from_scratch(reference_dir):
    assert "paint events" in compat.problem(compat.UNDO_HISTORY, _UndoSendsPaint)
    ontology = Ontology.load(reference_dir / "ontology.fish.json")
    layer = _UndoSendsPaint(
        np.zeros((20, 20), np.uint8), **segmentation_layer_kwargs(Document(ontology), "s")
    )
    with pytest.warns(CountsFromScratchWarning, match="undo history"):
        binding = binding_of(layer)
    label = binding.start_instance(ontology.classes[0].feature_schema_id)
    layer.brush_size = 5
    layer.paint((5, 5), label)
    layer.paint((7, 7), label + 1)
    layer.undo()
    assert binding.pixel_counts == {label: int(np.count_nonzero(layer.data == label))}
    layer.undo()
    layer.undo()  # nothing left to undo
    assert binding.pixel_counts == {}


def test_qt_window_and_unwrap(make_napari_viewer):
    viewer = make_napari_viewer()
    window = compat.qt_window(viewer)
    assert window is not None and window.isWindow()
    assert compat.qt_window(ViewerModel()) is None
    layer = viewer.add_labels(np.zeros((3, 3), dtype=np.uint8))
    assert compat.unwrap(layer) is layer

    class Proxy:
        __wrapped__ = layer

    assert compat.unwrap(Proxy()) is layer


def test_instance_colours_remember_single_labels_and_match_napari(reference_dir):
    """The binding's colormap: napari's textures, each painted label converted once."""
    from napari.utils.colormaps import DirectLabelColormap

    ontology = Ontology.load(reference_dir / "ontology.fish.json")
    layer = Labels(
        np.zeros((8, 20, 20), np.uint32), **segmentation_layer_kwargs(Document(ontology), "s")
    )
    binding = binding_of(layer)
    label = binding.start_instance(ontology.classes[0].feature_schema_id)
    colormap = layer.colormap
    assert isinstance(colormap, DirectLabelColormap) and type(colormap) is not DirectLabelColormap
    layer.brush_size = 5
    layer.paint((3, 5, 5), label)
    napari_own = DirectLabelColormap(color_dict=dict(colormap.color_dict))
    for value in (0, label, label + 1):
        one = np.array([value], dtype=np.uint32)
        for _ in range(2):
            np.testing.assert_array_equal(
                colormap._data_to_texture(one), napari_own._data_to_texture(one)
            )
    plane = np.asarray(layer.data[3])
    np.testing.assert_array_equal(
        colormap._data_to_texture(plane), napari_own._data_to_texture(plane)
    )


def test_a_changed_texture_conversion_gives_napari_s_own_colormap(monkeypatch):
    from napari.utils.colormaps import DirectLabelColormap

    def moved(self, values, selection=None):
        return values

    monkeypatch.setattr(DirectLabelColormap, "_data_to_texture", moved)
    compat.forget_checks()
    try:
        assert "is not (self, values)" in compat.problem(compat.LABEL_TEXTURES)
        assert (
            type(compat.instance_colormap({None: "transparent", 1: "red"})) is DirectLabelColormap
        )
    finally:
        monkeypatch.undo()
        compat.forget_checks()
    assert compat.problem(compat.LABEL_TEXTURES) is None
