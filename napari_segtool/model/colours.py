"""The colour each label id is drawn in: its class colour, stepped by id.

RGBA float arrays, ready for napari's ``DirectLabelColormap``; the key ``None``
is the colour of every id the document does not know.
"""

from __future__ import annotations

import colorsys

import numpy as np

from napari_segtool.model.document import Document

TRANSPARENT = np.zeros(4, dtype=np.float32)
#: ids the document does not know yet stay visible, in neutral grey
UNASSIGNED_COLOUR = np.array([0.62, 0.62, 0.62, 1.0], dtype=np.float32)
#: lightness shifts by label id, so touching objects of one class stay distinguishable
_LIGHTNESS_STEPS = (0.0, 0.14, -0.12, 0.24, -0.2, 0.07, -0.06, 0.18)


def instance_colour(hex_colour: str, label_id: int) -> np.ndarray:
    """The class colour, stepped in lightness by label id."""
    red, green, blue = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    step = _LIGHTNESS_STEPS[label_id % len(_LIGHTNESS_STEPS)]
    lightness = min(0.9, max(0.1, lightness + step))
    return np.array([*colorsys.hls_to_rgb(hue, lightness, saturation), 1.0], dtype=np.float32)


def colour_dict(document: Document) -> dict[int | None, np.ndarray]:
    """Every instance's colour (hidden ones transparent), background and unassigned ids."""
    colours: dict[int | None, np.ndarray] = {None: UNASSIGNED_COLOUR, 0: TRANSPARENT}
    class_colours = {c.feature_schema_id: c.color for c in document.ontology.classes}
    for label_id, instance in document.instances.items():
        hidden = document.is_hidden(label_id) or instance.schema_id not in class_colours
        colours[label_id] = (
            TRANSPARENT if hidden else instance_colour(class_colours[instance.schema_id], label_id)
        )
    return colours


def label_colour(
    document: Document, label_id: int, pending_label_id: int | None, current_class_id: str | None
) -> np.ndarray | None:
    """The colour of one id, or None when it takes the unassigned colour.

    The id handed out for the next instance is drawn in the current class's
    colour before it becomes an instance.
    """
    if label_id in document:
        cls_ = document.class_of(label_id)
        if cls_ is None or document.is_hidden(label_id):
            return TRANSPARENT
        return instance_colour(cls_.color, label_id)
    if label_id == pending_label_id:
        cls_ = document.ontology.class_by_id(current_class_id or "")
        return instance_colour(cls_.color, label_id) if cls_ else None
    return None
