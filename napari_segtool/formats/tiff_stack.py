"""Multi-page and hyperstack TIFF images, with their axes (pure: tifffile and numpy).

tifffile names each axis of a file's first series with a letter (``T`` time,
``Z`` depth, ``C`` channel, ``Y``, ``X``, ``S`` samples of an RGB pixel, ``Q``
/ ``I`` a plain run of pages). :func:`read_tiff_stack` turns that into what an
image layer needs: the channel axis to split on, whether the samples are RGB,
one label per remaining axis and, for ImageJ hyperstacks, the pixel size
(``spacing`` for Z, ``finterval`` for T, the resolution tags for Y and X).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TIFF_SUFFIXES = (".tif", ".tiff")

#: tifffile's letters for an unnamed run of pages: a multi-page TIFF is read as a Z stack
_PAGE_RUN_AXES = "QI"


@dataclass(frozen=True)
class TiffStack:
    """An image read from a TIFF: the array and how its axes map onto a layer."""

    data: np.ndarray
    #: tifffile's axis letters of ``data``, one per axis (``"TZCYX"``)
    axes: str
    #: the axis holding channels (one image layer each), or None
    channel_axis: int | None = None
    #: the last axis holds RGB(A) samples
    rgb: bool = False
    #: one label per layer axis (``data``'s axes without the channel and RGB ones)
    axis_labels: tuple[str, ...] = ()
    #: size of a pixel per layer axis (1 where the file does not say)
    scale: tuple[float, ...] = field(default=())


def is_tiff(path: str | Path) -> bool:
    return str(path).lower().endswith(TIFF_SUFFIXES)


def read_tiff_stack(path: str | Path) -> TiffStack:
    """Read the first series of a TIFF; :class:`ValueError` names the file if it cannot."""
    import tifffile

    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ValueError(f"{path}: the TIFF holds no image")
            series = tif.series[0]
            data = series.asarray()
            axes = series.axes
            imagej = tif.imagej_metadata or {}
            resolution = _pixel_size_from_resolution(series.pages[0]) if imagej else None
    except (tifffile.TiffFileError, OSError, KeyError, IndexError) as err:
        raise ValueError(f"{path}: not a readable TIFF image ({err})") from err
    if len(axes) != data.ndim:
        raise ValueError(f"{path}: tifffile named {len(axes)} axes for a {data.ndim}-D image")
    return stack_from_axes(data, axes, imagej, resolution)


def stack_from_axes(
    data: np.ndarray,
    axes: str,
    imagej: dict | None = None,
    resolution: tuple[float, float] | None = None,
) -> TiffStack:
    """How ``data`` with tifffile's ``axes`` letters opens as an image layer."""
    axes = axes.upper()
    if "S" in axes:
        samples = axes.index("S")
        if data.shape[samples] in (3, 4):
            data = np.moveaxis(data, samples, -1)
            axes = axes.replace("S", "") + "S"
        else:
            axes = axes.replace("S", "C") if "C" not in axes else axes
    rgb = axes.endswith("S")
    channel_axis = axes.index("C") if "C" in axes else None
    layer_axes = [a for a in axes if a not in "CS"]
    labels = tuple(_axis_label(a, layer_axes) for a in layer_axes)
    sizes = _pixel_sizes(imagej or {}, resolution)
    scale = tuple(float(sizes.get(a, 1.0)) for a in layer_axes)
    return TiffStack(data, axes, channel_axis, rgb, labels, scale)


def _axis_label(letter: str, layer_axes: list[str]) -> str:
    if letter in _PAGE_RUN_AXES and "Z" not in layer_axes:
        return "z"
    return letter.lower()


def _pixel_sizes(imagej: dict, resolution: tuple[float, float] | None) -> dict[str, float]:
    sizes: dict[str, float] = {}
    for letter, key in (("Z", "spacing"), ("T", "finterval")):
        value = imagej.get(key)
        if isinstance(value, int | float) and value > 0:
            sizes[letter] = float(value)
    if resolution is not None:
        sizes["Y"], sizes["X"] = resolution
    return sizes


def _pixel_size_from_resolution(page) -> tuple[float, float] | None:
    """(y, x) size of a pixel from ImageJ's resolution tags (pixels per unit)."""
    sizes = []
    for name in ("YResolution", "XResolution"):
        tag = page.tags.get(name)
        if tag is None:
            return None
        numerator, denominator = tag.value
        if numerator <= 0 or denominator <= 0:
            return None
        sizes.append(denominator / numerator)
    if sizes == [1.0, 1.0]:
        return None
    return sizes[0], sizes[1]
