"""Instance clean-up in napari: the selected instances, their boxes, one undo step.

The shapes come from :mod:`napari_segtool.tools.cleanup`; the pixels are
written by the painter, every selected instance together as **one undo
step**. Locked and hidden instances are skipped (and said so): they do not
change, and no other instance's clean-up takes their pixels.

Which instances
    The rows selected in the dock's instance table (the same source as
    interpolation, :func:`~napari_segtool._napari.interpolate.selected_instances`);
    without the dock, the instance napari paints with.

Which axes
    A 2-D layer is cleaned in its plane. A stack is cleaned in 3-D by default
    (``volume=True``: the layer's last three axes, which napari displays in
    its 3-D view; fill holes closes a cavity inside a nucleus, pieces are
    connected through slices), or plane by plane (``volume=False``: the two
    displayed axes, each slice on its own). Any axis before those (T of a
    T x Z x Y x X stack) is taken index by index.

Split
    Each extra piece becomes a new instance of the same class with a copy of
    the answers (:meth:`~napari_segtool.model.workflow.InstanceWorkflow.split_instance`),
    the largest piece keeps the id. Undo takes the pieces' pixels back to the
    first id; the new instances stay in the document without pixels, as a
    deleted instance does, so redo restores them whole.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels
from napari.utils.notifications import show_info

from napari_segtool._napari.binding import binding_of
from napari_segtool._napari.compat import unwrap
from napari_segtool._napari.interpolate import selected_instances, viewer_of
from napari_segtool._napari.lock_guard import guard_of
from napari_segtool._napari.painter import PaintResult, paint
from napari_segtool.model.label_store import label_store
from napari_segtool.tools import cleanup
from napari_segtool.tools.cleanup import CleanupOptions
from napari_segtool.tools.edit import ProposedEdit


def cleanup_axes(layer: Labels, volume: bool = True, viewer=None) -> tuple[int, ...]:
    """The axes an operation works in together (see the module's docstring)."""
    layer = unwrap(layer)
    ndim = layer.ndim
    if ndim == 2:
        return (0, 1)
    if volume:
        return tuple(range(ndim - 3, ndim))
    viewer = unwrap(viewer) if viewer is not None else viewer_of(layer)
    if viewer is not None:
        offset = viewer.dims.ndim - ndim
        displayed = [d - offset for d in viewer.dims.displayed if d >= offset]
        if len(displayed) >= 2:
            return tuple(sorted(displayed[-2:]))
    return (ndim - 2, ndim - 1)


def clean_instances(
    layer: Labels,
    label_ids,
    operation: str,
    options: CleanupOptions | None = None,
    *,
    volume: bool = True,
    viewer=None,
) -> PaintResult:
    """Apply ``operation`` to each instance of ``label_ids``, all as one undo step."""
    layer = unwrap(layer)
    if operation not in cleanup.OPERATIONS:
        raise ValueError(f"unknown clean-up operation {operation!r}")
    options = options or CleanupOptions()
    axes = cleanup_axes(layer, volume, viewer)
    guard = guard_of(layer)
    ids = list(dict.fromkeys(int(i) for i in label_ids if int(i) != 0))
    protected = [i for i in ids if guard is not None and guard.is_protected(i)]
    if protected:
        show_info(f"Clean-up skips locked or hidden instance(s) {protected}")
    ids = [i for i in ids if i not in protected]
    if not ids:
        return PaintResult()
    binding_of(layer).check_whole_instances(ids, "clean up")
    data = layer.data
    shape = tuple(data.shape)
    boxes = label_store(data).bounding_boxes(ids)
    reach = cleanup.margin(operation, options)
    binding = binding_of(layer)
    edits: list[ProposedEdit] = []
    for label_id in ids:
        box = boxes.get(label_id)
        if box is None:
            continue
        region = cleanup.window(box, shape, reach, axes)
        values = np.asarray(data[region])
        if operation == cleanup.SPLIT:
            pieces = cleanup.split_pieces(values, label_id, axes)
            if len(pieces) < 2 or label_id not in binding.document:
                continue
            new_ids = binding.workflow.split_instance(label_id, len(pieces) - 1)
            edits += [
                ProposedEdit(region, piece, new_id, replaces=frozenset({label_id}))
                for piece, new_id in zip(pieces[1:], new_ids, strict=True)
            ]
            continue
        new = cleanup.new_shape(values, label_id, operation, options, axes)
        edits += cleanup.cleanup_edits(region, values, label_id, new, options.overwrite)
    return paint(layer, edits)


def clean_selected(
    layer: Labels, operation: str, options: CleanupOptions | None = None, **kwargs
) -> PaintResult:
    """:func:`clean_instances` on the selected instances (the dock's table rows)."""
    layer = unwrap(layer)
    return clean_instances(layer, selected_instances(layer), operation, options, **kwargs)
