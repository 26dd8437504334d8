"""Bind a :class:`Document` to a napari Labels layer.

The layer is the document on disk and in napari's eyes: its ``metadata``
carries ``Document.to_dict()`` and its ``features`` one row per instance (so
the status bar names the class under the cursor). This module keeps both in
step with the live :class:`Document` and draws every instance in its class
colour.
"""

from __future__ import annotations

import colorsys
import weakref
from typing import Any

import numpy as np
import pandas as pd
from napari.layers import Image, Labels
from napari.utils.colormaps import DirectLabelColormap

from napari_segtool.document import METADATA_KEY, Document, DocumentError
from napari_segtool.ontology import Ontology

_bindings: weakref.WeakKeyDictionary[Labels, LayerBinding] = weakref.WeakKeyDictionary()

TRANSPARENT = np.zeros(4, dtype=np.float32)
#: ids the document does not know yet stay visible, in neutral grey
UNASSIGNED_COLOUR = np.array([0.62, 0.62, 0.62, 1.0], dtype=np.float32)
#: how far successive instances of one class step in lightness, so touching
#: objects of the same class stay distinguishable
_LIGHTNESS_STEPS = (0.0, 0.12, -0.12, 0.22, -0.2, 0.06, -0.06, 0.17)


def is_segmentation_layer(layer: Any) -> bool:
    return isinstance(layer, Labels) and isinstance(layer.metadata.get(METADATA_KEY), dict)


def segmentation_layer_kwargs(document: Document, name: str, **kwargs: Any) -> dict[str, Any]:
    """Layer kwargs for a new segmentation Labels layer carrying ``document``."""
    return {
        "name": name,
        "metadata": {METADATA_KEY: document.to_dict()},
        "features": pd.DataFrame(document.feature_columns()),
        "colormap": build_colormap(document),
        **kwargs,
    }


def segmentation_layer_for_image(
    image: Image, ontology: Ontology, name: str | None = None
) -> tuple[np.ndarray, dict[str, Any], str]:
    """A layer data tuple: empty labels the size of ``image`` (its RGB axis dropped)."""
    shape = image.data.shape[:-1] if image.rgb else image.data.shape
    if hasattr(image.data, "levels") or image.multiscale:
        shape = image.data[0].shape[:-1] if image.rgb else image.data[0].shape
    document = Document(ontology=ontology, source=image_source(image))
    kwargs = segmentation_layer_kwargs(
        document,
        name or f"{image.name} segmentation",
        scale=image.scale[: len(shape)],
        translate=image.translate[: len(shape)],
    )
    dtype = np.uint16 if len(document.ontology.classes) < 60000 else np.uint32
    return np.zeros(shape, dtype=dtype), kwargs, "labels"


def image_source(image: Image) -> dict[str, Any]:
    path = image.source.path if image.source is not None else None
    return {"image_name": image.name, "image_path": str(path) if path else None}


def document_of(layer: Labels) -> Document:
    """The live document of a segmentation layer, bound on first use."""
    binding = _bindings.get(layer)
    if binding is None:
        binding = bind(layer)
    return binding.document


def binding_of(layer: Labels) -> LayerBinding:
    binding = _bindings.get(layer)
    return binding if binding is not None else bind(layer)


def bind(layer: Labels, document: Document | None = None) -> LayerBinding:
    """Attach ``document`` (or the one in the layer's metadata) to ``layer``."""
    if document is None:
        raw = layer.metadata.get(METADATA_KEY)
        if raw is None:
            raise DocumentError(f"layer {layer.name!r} is not a segmentation layer")
        document = Document.from_dict(raw)
    old = _bindings.pop(layer, None)
    if old is not None:
        old.disconnect()
    binding = LayerBinding(layer, document)
    _bindings[layer] = binding
    binding.sync_all()
    return binding


class LayerBinding:
    """Keeps a layer's metadata, features and colours in step with its document."""

    def __init__(self, layer: Labels, document: Document):
        self._layer_ref = weakref.ref(layer)
        self.document = document
        self._connections = [
            (document.instance_added, self._on_instance_event),
            (document.instance_removed, self._on_instance_event),
            (document.instance_changed, self._on_instance_event),
            (document.image_answers_changed, self.sync_metadata),
            (document.ontology_changed, self.sync_all),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)

    @property
    def layer(self) -> Labels | None:
        return self._layer_ref()

    def disconnect(self) -> None:
        for signal, slot in self._connections:
            signal.disconnect(slot)

    def _on_instance_event(self, _label_id: int) -> None:
        self.sync_all()

    def sync_metadata(self) -> None:
        layer = self.layer
        if layer is not None:
            layer.metadata[METADATA_KEY] = self.document.to_dict()

    def sync_all(self) -> None:
        layer = self.layer
        if layer is None:
            return
        self.sync_metadata()
        layer.features = pd.DataFrame(self.document.feature_columns())
        layer.colormap = build_colormap(self.document)


def instance_colours(document: Document) -> dict[int, np.ndarray]:
    """RGBA per label id: the class colour, stepped in lightness per instance."""
    colours: dict[int, np.ndarray] = {}
    counters: dict[str, int] = {}
    for label_id in sorted(document.instances):
        instance = document.instances[label_id]
        cls_ = document.ontology.class_by_id(instance.schema_id)
        if cls_ is None or document.is_hidden(label_id):
            colours[label_id] = TRANSPARENT
            continue
        nth = counters.get(instance.schema_id, 0)
        counters[instance.schema_id] = nth + 1
        colours[label_id] = shade(cls_.color, _LIGHTNESS_STEPS[nth % len(_LIGHTNESS_STEPS)])
    return colours


def shade(hex_colour: str, lightness_step: float) -> np.ndarray:
    red, green, blue = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    lightness = min(0.92, max(0.08, lightness + lightness_step))
    return np.array([*colorsys.hls_to_rgb(hue, lightness, saturation), 1.0], dtype=np.float32)


def build_colormap(document: Document) -> DirectLabelColormap:
    colour_dict: dict[int | None, Any] = {None: UNASSIGNED_COLOUR, 0: TRANSPARENT}
    colour_dict.update(instance_colours(document))
    return DirectLabelColormap(color_dict=colour_dict)
