"""Canvas shortcuts of the instance workflow, bound on the layer instance.

napari's Labels layer owns the bare digits 1-7 and E, P, F, L, Z, M, X, B,
[ ]; Alt is its brush-size modifier. So:

- ``Ctrl+1`` ... ``Ctrl+9`` pick class 1-9 and start a new instance of it;
- ``N`` starts another instance of the current class.

(napari advises against Shift with non-letter keys, hence Ctrl.) The keys
come from the tool registry (:mod:`napari_segtool.tools.registry`).
"""

from __future__ import annotations

from napari_segtool._napari.binding import LayerBinding
from napari_segtool.tools.registry import tool

NEW_INSTANCE_KEY = tool("new_instance").key
CLASS_KEYS = tool("pick_class").keys


def install_instance_keys(binding: LayerBinding) -> None:
    layer = binding.layer
    if layer is None:
        return

    def new_instance(_layer=None):
        binding.start_instance()

    new_instance.__doc__ = tool("new_instance").tooltip
    layer.bind_key(NEW_INSTANCE_KEY, new_instance, overwrite=True)
    for position, key in enumerate(CLASS_KEYS):
        layer.bind_key(key, _class_picker(binding, position), overwrite=True)


def _class_picker(binding: LayerBinding, position: int):
    def pick_class(_layer=None):
        classes = binding.document.ontology.segmentation_classes
        if position < len(classes):
            binding.start_instance(classes[position].feature_schema_id)

    pick_class.__doc__ = tool("pick_class").tooltip.format(position=position + 1)
    return pick_class
