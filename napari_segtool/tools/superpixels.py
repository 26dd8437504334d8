"""Superpixels: SLIC regions of an image window, assigned whole to an instance.

:func:`compute_superpixels` runs scikit-image's SLIC on a bounded window of
the image (large images are never segmented whole: the window holds at most
:data:`MAX_PIXELS` pixels) and returns :class:`Superpixels`, which knows each
superpixel's bounding box, so assigning a few superpixels costs like a brush
stroke of their size, not like a pass over the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from skimage.segmentation import find_boundaries, slic

from napari_segtool.tools.edit import ProposedEdit

#: the most pixels one SLIC run covers (a window of 1024 x 1024 in 2-D)
MAX_PIXELS = 1024 * 1024
#: SLIC's compactness for images scaled to [0, 1]: shapes follow edges, yet stay compact
COMPACTNESS = 0.1
SIZE_RANGE = (4, 200)
DEFAULT_SIZE = 20


def superpixel_window(
    shape: Sequence[int],
    centre: Sequence[float],
    dims: Sequence[int],
    max_pixels: int = MAX_PIXELS,
) -> tuple[slice, ...]:
    """The box of the label array to segment: around ``centre``, along ``dims``, bounded.

    Along the other axes the box is the centre's plane.
    """
    dims = tuple(sorted(dims))
    side = int(max_pixels ** (1 / len(dims)))
    region = []
    for axis, (n, c) in enumerate(zip(shape, centre, strict=True)):
        c = int(np.clip(round(float(c)), 0, n - 1))
        if axis not in dims:
            region.append(slice(c, c + 1))
            continue
        length = min(n, side)
        start = int(np.clip(c - length // 2, 0, n - length))
        region.append(slice(start, start + length))
    return tuple(region)


@dataclass(eq=False)
class Superpixels:
    """SLIC labels (1, 2, ...) of the window ``region`` of the label array."""

    region: tuple[slice, ...]
    labels: np.ndarray
    #: box of each superpixel inside the window (index = label - 1)
    boxes: list[tuple[slice, ...] | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.boxes:
            self.boxes = ndimage.find_objects(self.labels)

    @property
    def count(self) -> int:
        return len(self.boxes)

    def contains(self, index: Sequence[int]) -> bool:
        """Whether ``index`` of the label array lies in the window."""
        return all(s.start <= int(i) < s.stop for i, s in zip(index, self.region, strict=True))

    def at(self, indices: Iterable[Sequence[int]]) -> set[int]:
        """The superpixels under the given label-array indices (those inside the window)."""
        found = set()
        for index in indices:
            if self.contains(index):
                local = tuple(int(i) - s.start for i, s in zip(index, self.region, strict=True))
                value = int(self.labels[local])
                if value:
                    found.add(value)
        return found

    def under_mask(self, mask_region: tuple[slice, ...], mask: np.ndarray) -> set[int]:
        """The superpixels under a mask placed at ``mask_region`` of the label array."""
        local, clipped = [], []
        for r, w in zip(mask_region, self.region, strict=True):
            start, stop = max(r.start, w.start), min(r.stop, w.stop)
            if stop <= start:
                return set()
            local.append(slice(start - w.start, stop - w.start))
            clipped.append(slice(start - r.start, start - r.start + (stop - start)))
        values = self.labels[tuple(local)][mask[tuple(clipped)]]
        return {int(v) for v in np.unique(values) if v}

    def edit(self, chosen: Iterable[int], label: int, replaces=None) -> ProposedEdit | None:
        """The edit writing ``label`` on the whole of the ``chosen`` superpixels."""
        chosen = sorted({int(c) for c in chosen if 0 < int(c) <= self.count})
        boxes = [self.boxes[c - 1] for c in chosen if self.boxes[c - 1] is not None]
        if not boxes:
            return None
        box = tuple(
            slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes))
            for a in range(self.labels.ndim)
        )
        mask = np.isin(self.labels[box], np.asarray(chosen, dtype=self.labels.dtype))
        full = tuple(
            slice(w.start + b.start, w.start + b.stop)
            for w, b in zip(self.region, box, strict=True)
        )
        return ProposedEdit(full, mask, label, replaces)

    def boundaries(self) -> np.ndarray:
        """The superpixels' boundary pixels in the window (the overlay)."""
        return find_boundaries(self.labels, mode="inner")


def compute_superpixels(
    image: np.ndarray,
    region: tuple[slice, ...],
    dims: Sequence[int],
    size: float,
    *,
    channels: bool = False,
    value_range: tuple[float, float] | None = None,
) -> Superpixels:
    """SLIC superpixels of ``image[region]``, about ``size`` pixels across each.

    ``image`` has the label array's shape (plus a trailing channel axis when
    ``channels``); ``dims`` are the axes of the window segmented together (the
    others have length 1 in ``region``). ``value_range`` scales intensities to
    [0, 1] (default: the window's own range).
    """
    dims = tuple(sorted(dims))
    window = np.asarray(image[region], dtype=np.float32)
    squeeze = tuple(0 if axis not in dims else slice(None) for axis in range(len(region)))
    values = window[squeeze]
    if value_range is None:
        value_range = (float(values.min()), float(values.max()))
    low, high = value_range
    span = high - low if high > low else 1.0
    values = np.clip((values - low) / span, 0, 1)
    pixels = int(np.prod([region[a].stop - region[a].start for a in dims]))
    n_segments = max(1, round(pixels / float(size) ** len(dims)))
    labels = slic(
        values,
        n_segments=n_segments,
        compactness=COMPACTNESS,
        channel_axis=-1 if channels else None,
        start_label=1,
        convert2lab=False,
    )
    shape = tuple(r.stop - r.start for r in region)
    return Superpixels(region, labels.reshape(shape).astype(np.int32, copy=False))
