"""Canvas shortcuts of the instance workflow, bound on the layer instance.

napari's Labels layer owns the bare digits 1-7 and E, P, F, L, Z, M, X, B,
[ ]; Alt is its brush-size modifier. So:

- ``Ctrl+1`` ... ``Ctrl+9`` pick class 1-9 and start a new instance of it;
- ``N`` starts another instance of the current class;
- ``I`` interpolates the selected instances between the slices they are drawn
  on (:mod:`napari_segtool._napari.interpolate`);
- ``R`` turns scribble to region on and off (:mod:`napari_segtool._napari.scribble`).
- ``W`` and ``S`` toggle the magic wand and the superpixel tool
  (:mod:`~napari_segtool._napari.wand`, :mod:`~napari_segtool._napari.superpixels`).

(napari advises against Shift with non-letter keys, hence Ctrl.) The keys
come from the tool registry (:mod:`napari_segtool.tools.registry`). They find
the layer's binding when pressed, so they follow a re-bind (e.g. a restore).
"""

from __future__ import annotations

import weakref

from napari.layers import Labels

from napari_segtool._napari.binding import LayerBinding, binding_of
from napari_segtool._napari.interpolate import interpolate_selected, viewer_of
from napari_segtool._napari.scribble import SCRIBBLE_KEY, scribbler_of
from napari_segtool._napari.superpixels import superpixels_of
from napari_segtool._napari.wand import wand_of
from napari_segtool.tools.registry import tool

NEW_INSTANCE_KEY = tool("new_instance").key
INTERPOLATE_KEY = tool("interpolate").key
CANVAS_TOOL_KEYS = {name: tool(name).key for name in ("wand", "superpixels")}
CLASS_KEYS = tool("pick_class").keys
_MARK = "_segtool_instance_key"


def install_instance_keys(binding: LayerBinding) -> None:
    layer = binding.layer
    if layer is None:
        return
    layer_ref = weakref.ref(layer)

    def new_instance(_layer=None):
        layer = layer_ref()
        if layer is not None:
            binding_of(layer).start_instance()

    new_instance.__doc__ = tool("new_instance").tooltip
    setattr(new_instance, _MARK, True)
    layer.bind_key(NEW_INSTANCE_KEY, new_instance, overwrite=True)

    def interpolate(_layer=None):
        layer = layer_ref()
        if layer is not None:
            interpolate_selected(layer)

    interpolate.__doc__ = tool("interpolate").tooltip
    setattr(interpolate, _MARK, True)
    layer.bind_key(INTERPOLATE_KEY, interpolate, overwrite=True)

    def scribble(_layer=None):
        layer = layer_ref()
        if layer is not None:
            scribbler_of(layer, viewer_of(layer)).toggle()

    scribble.__doc__ = tool("scribble").tooltip
    setattr(scribble, _MARK, True)
    layer.bind_key(SCRIBBLE_KEY, scribble, overwrite=True)
    for position, key in enumerate(CLASS_KEYS):
        layer.bind_key(key, _class_picker(layer_ref, position), overwrite=True)
    for name, key in CANVAS_TOOL_KEYS.items():
        layer.bind_key(key, _canvas_tool_toggle(layer_ref, name), overwrite=True)


def remove_instance_keys(layer: Labels) -> None:
    """Take this module's keys off ``layer`` (keys others bound stay)."""
    for key in (
        NEW_INSTANCE_KEY,
        INTERPOLATE_KEY,
        SCRIBBLE_KEY,
        *CLASS_KEYS,
        *CANVAS_TOOL_KEYS.values(),
    ):
        if getattr(layer.keymap.get(_key(key)), _MARK, False):
            layer.bind_key(key, None)


def _class_picker(layer_ref, position: int):
    def pick_class(_layer=None):
        layer = layer_ref()
        if layer is None:
            return
        binding = binding_of(layer)
        classes = binding.document.ontology.segmentation_classes
        if position < len(classes):
            binding.start_instance(classes[position].feature_schema_id)

    pick_class.__doc__ = tool("pick_class").tooltip.format(position=position + 1)
    setattr(pick_class, _MARK, True)
    return pick_class


def _canvas_tool_toggle(layer_ref, name: str):
    def toggle_canvas_tool(_layer=None):
        layer = layer_ref()
        if layer is None:
            return
        (wand_of if name == "wand" else superpixels_of)(layer).toggle()

    toggle_canvas_tool.__doc__ = tool(name).tooltip
    setattr(toggle_canvas_tool, _MARK, True)
    return toggle_canvas_tool


def _key(name: str):
    from napari.utils.key_bindings import coerce_keybinding

    return coerce_keybinding(name)
