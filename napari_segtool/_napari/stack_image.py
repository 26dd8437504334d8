"""Open a TIFF stack as image layers with its axes (the main command's reader for TIFFs).

napari's own TIFF reader gives one layer over every axis, channels included;
here tifffile's axis letters split the channels into layers, mark RGB samples
and name the other axes, so the segmentation layer gets the time and spatial
axes only.
"""

from __future__ import annotations

from pathlib import Path

from napari.layers import Image

from napari_segtool._napari import compat
from napari_segtool.formats.tiff_stack import read_tiff_stack


def open_tiff_stack(viewer, path: str | Path) -> list[Image]:
    """Add the image layer(s) of a TIFF to ``viewer`` (one per channel)."""
    stack = read_tiff_stack(path)
    kwargs = {
        "name": Path(path).stem,
        "rgb": stack.rgb,
        "axis_labels": stack.axis_labels,
        "scale": stack.scale,
    }
    if stack.channel_axis is not None:
        kwargs["channel_axis"] = stack.channel_axis
    with compat.opened_from(str(path)):
        added = viewer.add_image(stack.data, **kwargs)
    return added if isinstance(added, list) else [added]
