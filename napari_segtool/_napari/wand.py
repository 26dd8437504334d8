"""The magic wand on a Labels layer: click, drag to tune the tolerance, release to commit.

A press on the image floods the connected region of similar intensity around
the pixel (:mod:`napari_segtool.tools.wand`) and outlines it on a helper
layer; dragging right raises the tolerance, left lowers it, and the outline
follows live (as Label Studio's wand does); the release commits the region to
the current instance (``layer.selected_label``) through the painter, so the
class colour, locks, hidden instances and draw to back hold and the commit is
one undo step.

Modifiers follow Photoshop's selection tools:

- plain click: **replace**: the current instance's pixels in the flooded
  plane (or volume, in 3-D) become exactly the region;
- **Shift**: add the region to the instance;
- **Alt**: remove the region from the instance.

The tolerance is a percentage of the image's contrast range (colour distance
on RGB and multichannel images). The wand floods the displayed plane, or the
volume when the layer edits in 3-D (``n_edit_dimensions`` 3) or
:attr:`Wand.three_d` is on.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels
from psygnal import Signal

from napari_segtool._napari import compat
from napari_segtool._napari.binding import binding_of, is_segmentation_layer
from napari_segtool._napari.canvas_tool import CanvasTool, event_index, tool_on
from napari_segtool._napari.painter import PaintResult, paint
from napari_segtool.tools.edit import ERASE, ProposedEdit
from napari_segtool.tools.wand import WandSeed, outline

DEFAULT_TOLERANCE = 10.0
TOLERANCE_RANGE = (0.0, 100.0)
#: percent of tolerance per canvas pixel dragged
TOLERANCE_PER_PIXEL = 0.25
REPLACE, ADD, REMOVE = "replace", "add", "remove"
PREVIEW = "wand preview"


class Wand(CanvasTool):
    name = "wand"
    tolerance_changed = Signal(float)
    #: what the last release did
    committed = Signal(object)

    def __init__(self, layer: Labels, viewer=None):
        super().__init__(layer, viewer)
        self._tolerance = DEFAULT_TOLERANCE
        #: flood the volume (three axes) even when the layer edits planes
        self.three_d = False
        #: the press being dragged: its seed and the region shown now
        self.seed: WandSeed | None = None
        self.proposed: ProposedEdit | None = None

    @property
    def tolerance(self) -> float:
        return self._tolerance

    @tolerance.setter
    def tolerance(self, value: float) -> None:
        value = float(np.clip(value, *TOLERANCE_RANGE))
        if value != self._tolerance:
            self._tolerance = value
            self.tolerance_changed.emit(value)

    def flood_dims(self, layer: Labels) -> list[int]:
        dims = compat.dims_to_paint(layer)
        if self.three_d and len(dims) < 3 <= layer.ndim:
            dims = sorted(compat.dims_order(layer)[-3:])
        return dims

    def _on_drag(self, layer: Labels, event):
        if event.button != 1:
            return
        index = event_index(layer, event)
        if index is None:
            return
        image = self.image_or_warning()
        if image is None:
            return
        operation = _operation(event.modifiers)
        dims = self.flood_dims(layer)
        self.seed = WandSeed(image, index, dims, channels=image.channels)
        start_x, start_tolerance = float(event.pos[0]), self.tolerance
        self._show(layer, self.tolerance)
        yield
        while event.type == "mouse_move":
            self.tolerance = start_tolerance + (event.pos[0] - start_x) * TOLERANCE_PER_PIXEL
            self._show(layer, self.tolerance)
            yield
        result = self.commit(layer, operation)
        self.committed.emit(result)

    def _show(self, layer: Labels, tolerance: float) -> None:
        self.proposed = self.seed.edit(tolerance / 100.0, 1)
        window = self.seed.window
        data = np.zeros([s.stop - s.start for s in window], dtype=np.uint8)
        local = tuple(
            slice(r.start - w.start, r.stop - w.start)
            for r, w in zip(self.proposed.region, window, strict=True)
        )
        plane_axes = compat.dims_order(layer)[-2:]
        data[local] = outline(self.proposed.mask, plane_axes)
        self.show_overlay(PREVIEW, window, data, "yellow")

    def commit(self, layer: Labels, operation: str = REPLACE) -> PaintResult:
        """Write the region shown now to the current instance (one undo step)."""
        proposed, seed = self.proposed, self.seed
        self.proposed = self.seed = None
        self.conceal_overlay(PREVIEW)
        label = int(layer.selected_label)
        if proposed is None or label == ERASE:
            return PaintResult()
        if operation == REMOVE:
            edits = [ProposedEdit(proposed.region, proposed.mask, ERASE, {label})]
        else:
            edits = [ProposedEdit(proposed.region, proposed.mask, label)]
            if operation == REPLACE:
                edits.insert(0, _instance_in_window(layer, label, seed))
        return paint(layer, edits)

    def _on_activate(self) -> None:
        # the preview layer is made now, so a click only updates it
        layer = self.layer
        blank_region = tuple(slice(0, 1) for _ in range(layer.ndim))
        if self.show_overlay(PREVIEW, blank_region, np.zeros((1,) * layer.ndim), "yellow"):
            self.conceal_overlay(PREVIEW)

    def _on_deactivate(self) -> None:
        self.proposed = self.seed = None


def _operation(modifiers) -> str:
    if "Alt" in modifiers:
        return REMOVE
    if "Shift" in modifiers:
        return ADD
    return REPLACE


def _instance_in_window(layer: Labels, label: int, seed: WandSeed) -> ProposedEdit | None:
    """The erase of ``label``'s pixels in the seed's plane (or volume): replace's first half."""
    if is_segmentation_layer(layer):
        binding = binding_of(layer)
        if not binding.pixel_counts.get(label):
            return None
        indices = binding.instance_pixels([label])
    else:
        indices = np.nonzero(np.asarray(layer.data) == label)
    keep = np.ones(len(indices[0]), dtype=bool)
    for axis, (positions, position) in enumerate(zip(indices, seed.seed, strict=True)):
        if axis not in seed.dims:
            keep &= positions == position
    return ProposedEdit.from_indices(tuple(i[keep] for i in indices), ERASE, {label})


def wand_of(layer: Labels, viewer=None) -> Wand:
    """The layer's wand (made on first use; off until activated)."""
    return tool_on(layer, Wand, viewer)
