"""Scribble to region: foreground and background scribbles grow an instance.

The user scribbles inside an object (foreground) and around it (background)
on one plane. :func:`grow_region` finds the object between them by seeded
watershed on the image's gradient (the Sobel magnitude; a colour or
multichannel image uses the largest gradient of its channels) or by
scikit-image's random walker on the intensities.

Bounded work: only a window round the scribbles is computed
(:func:`scribble_window`: their box plus a margin), and the window's edge
counts as background, so the region never leaves the window. Scribbling
round the object with background strokes keeps it where it is meant to be.

:func:`region_edit` places the region in the label array as a
:class:`~napari_segtool.tools.edit.ProposedEdit` without ``replaces``: the
painter applies locks and draw to back to it as to a brush stroke.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from skimage import draw, filters, segmentation

from napari_segtool.tools.edit import ProposedEdit

WATERSHED = "watershed"
RANDOM_WALKER = "random_walker"
METHODS = (WATERSHED, RANDOM_WALKER)
#: pixels of context round the scribbles' box (at least), and as a share of its size
MARGIN_PIXELS = 16
MARGIN_SHARE = 0.25
FOREGROUND, BACKGROUND = 1, 2


def stamp_segment(
    mask: np.ndarray, start: Sequence[float], end: Sequence[float], radius: float
) -> None:
    """Draw a segment of ``radius`` (a disk at every pixel of it) into the 2-D ``mask``."""
    (r0, c0), (r1, c1) = (np.rint(start).astype(int), np.rint(end).astype(int))
    rows, cols = draw.line(r0, c0, r1, c1)
    radius = max(float(radius), 0.5)
    reach = int(np.ceil(radius))
    offsets = np.mgrid[-reach : reach + 1, -reach : reach + 1].reshape(2, -1)
    offsets = offsets[:, (offsets**2).sum(axis=0) <= radius**2]
    rr = (rows[:, None] + offsets[0][None, :]).ravel()
    cc = (cols[:, None] + offsets[1][None, :]).ravel()
    inside = (rr >= 0) & (rr < mask.shape[0]) & (cc >= 0) & (cc < mask.shape[1])
    mask[rr[inside], cc[inside]] = True


def scribble_window(
    scribbles: np.ndarray, shape: Sequence[int] | None = None
) -> tuple[slice, slice] | None:
    """The plane window to compute in: the scribbles' box plus a margin (None: no scribble)."""
    rows = np.flatnonzero(scribbles.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(scribbles.any(axis=0))
    shape = tuple(shape) if shape is not None else scribbles.shape
    out = []
    for low, high, n in ((rows[0], rows[-1] + 1, shape[0]), (cols[0], cols[-1] + 1, shape[1])):
        pad = max(MARGIN_PIXELS, int(MARGIN_SHARE * (high - low)))
        out.append(slice(max(0, int(low) - pad), min(int(n), int(high) + pad)))
    return tuple(out)


def _as_channels(image: np.ndarray) -> np.ndarray:
    """A window of the image as float channels-last ``(rows, cols, channels)``."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"a plane of the image must be 2-D (with channels), not {image.shape}")
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def gradient(image: np.ndarray) -> np.ndarray:
    """Sobel magnitude of a plane; the largest over channels (RGB or multichannel, last axis)."""
    channels = _as_channels(image)
    return np.max([filters.sobel(channels[..., c]) for c in range(channels.shape[-1])], axis=0)


def grow_region(
    image: np.ndarray,
    foreground: np.ndarray,
    background: np.ndarray,
    method: str = WATERSHED,
) -> np.ndarray:
    """The object the scribbles mark in this window of the image (a boolean mask).

    ``image``: the window's pixels (2-D, or 2-D plus a last channel axis);
    ``foreground`` / ``background``: the scribbles in it. The window's edge is
    background as well; a background scribble wins where it crosses a
    foreground one.
    """
    foreground = np.asarray(foreground, dtype=bool)
    background = np.asarray(background, dtype=bool)
    if foreground.shape != image.shape[:2] or background.shape != foreground.shape:
        raise ValueError(
            f"scribbles {foreground.shape} / {background.shape} do not match the image "
            f"window {image.shape[:2]}"
        )
    markers = np.zeros(foreground.shape, dtype=np.int32)
    markers[foreground] = FOREGROUND
    edge = np.zeros_like(foreground)
    edge[[0, -1], :] = edge[:, [0, -1]] = True
    markers[(background | edge) & ~foreground] = BACKGROUND
    markers[background] = BACKGROUND
    if not (markers == FOREGROUND).any():
        return np.zeros(foreground.shape, dtype=bool)
    if method == WATERSHED:
        regions = segmentation.watershed(gradient(image), markers)
    elif method == RANDOM_WALKER:
        channels = _as_channels(image)
        # the direct solver: exact, and on windows of cell size faster than conjugate gradients
        regions = segmentation.random_walker(
            channels, markers, beta=130, mode="bf", channel_axis=-1
        )
    else:
        raise ValueError(f"unknown scribble method {method!r}; known: {', '.join(METHODS)}")
    return regions == FOREGROUND


def region_edit(
    region_mask: np.ndarray,
    window: tuple[slice, slice],
    plane_index: Sequence[int | None],
    label: int,
) -> ProposedEdit | None:
    """Place a window's region in the label array: ``plane_index`` has one entry per axis,
    ``None`` for the two plane axes (in order) and the slice index for every other."""
    if not np.asarray(region_mask).any():
        return None
    plane_axes = [a for a, i in enumerate(plane_index) if i is None]
    if len(plane_axes) != 2:
        raise ValueError(f"plane index {tuple(plane_index)} must leave exactly two plane axes")
    region = []
    windows = iter(window)
    for index in plane_index:
        region.append(next(windows) if index is None else slice(int(index), int(index) + 1))
    shape = tuple(s.stop - s.start for s in region)
    return ProposedEdit(tuple(region), np.asarray(region_mask, dtype=bool).reshape(shape), label)
