"""The magic wand: the connected region of similar intensity around a seed pixel.

A pixel joins the region when its distance to the seed's value is at most the
tolerance and it connects to the seed through such pixels (scikit-image's
``flood`` on the distance image). The distance is the absolute difference on
grey images and the Euclidean distance between the channel vectors on RGB and
multichannel images.

The work is bounded by the region, not the image: :class:`WandSeed` floods a
window around the seed and doubles it only while the region touches a window
side that is not the image border, so a typical cell on a 4096 x 4096 image
costs a few windows of its own size. A seed keeps its last window and distance
image, so changing the tolerance (the wand's drag) refloods without growing
from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.segmentation import flood

from napari_segtool.tools.edit import ProposedEdit

#: the first window reaches this many pixels from the seed along each flooded axis
START_REACH = 32


class WandSeed:
    """The wand's click: an image, a seed pixel and the axes the region may spread along.

    ``image`` has the label array's shape, plus one trailing axis of channels
    when ``channels`` is true (RGB, or channels stacked last). ``seed`` is an
    index into the label array; ``dims`` are the axes flooded (the displayed
    plane, or three axes for a 3-D wand); along the other axes the region stays
    in the seed's plane.
    """

    def __init__(
        self,
        image: np.ndarray,
        seed: Sequence[int],
        dims: Sequence[int],
        *,
        channels: bool = False,
        start_reach: int = START_REACH,
    ):
        self.image = image
        self.channels = channels
        self.shape = tuple(image.shape[:-1] if channels else image.shape)
        self.seed = tuple(int(s) for s in seed)
        self.dims = tuple(sorted(int(d) for d in dims))
        if len(self.seed) != len(self.shape):
            raise ValueError(f"seed {self.seed} has not one index per axis of {self.shape}")
        if any(not 0 <= s < n for s, n in zip(self.seed, self.shape, strict=True)):
            raise ValueError(f"seed {self.seed} lies outside the image's {self.shape} pixels")
        self.seed_value = np.asarray(image[self.seed], dtype=np.float64)
        self._reach = max(1, int(start_reach))
        self._region: tuple[slice, ...] | None = None
        self._distance: np.ndarray | None = None

    @property
    def window(self) -> tuple[slice, ...] | None:
        """The box of the label array flooded so far (None before the first flood)."""
        return self._region

    def _window(self, reach: int) -> tuple[slice, ...]:
        region = []
        for axis, (s, n) in enumerate(zip(self.seed, self.shape, strict=True)):
            if axis in self.dims:
                region.append(slice(max(0, s - reach), min(n, s + reach + 1)))
            else:
                region.append(slice(s, s + 1))
        return tuple(region)

    def _distance_in(self, region: tuple[slice, ...]) -> np.ndarray:
        values = np.asarray(self.image[region], dtype=np.float64)
        if self.channels:
            return np.sqrt(((values - self.seed_value) ** 2).sum(axis=-1))
        return np.abs(values - self.seed_value)

    def region(self, tolerance: float) -> ProposedEdit:
        """The region at ``tolerance`` (image units) as an edit of label 1, cropped to its box.

        The caller gives the edit its label (:meth:`edit`).
        """
        return self.edit(tolerance, 1)

    def edit(self, tolerance: float, label: int, replaces=None) -> ProposedEdit:
        """The edit writing ``label`` on the region at ``tolerance``."""
        tolerance = max(0.0, float(tolerance))
        while True:
            if self._region is None or self._distance is None:
                self._region = self._window(self._reach)
                self._distance = self._distance_in(self._region)
            mask = self._flood(tolerance)
            grow = self._touches_open_side(mask)
            if not grow:
                break
            self._reach *= 2
            self._region = None
        box, cropped = _crop(mask, self._region)
        return ProposedEdit(box, cropped, label, replaces)

    def _flood(self, tolerance: float) -> np.ndarray:
        distance = self._distance
        squeezed = tuple(0 if i not in self.dims else slice(None) for i in range(len(self.shape)))
        plane = distance[squeezed]
        seed = tuple(self.seed[i] - self._region[i].start for i in self.dims)
        filled = flood(plane, seed, tolerance=tolerance)
        return filled.reshape(distance.shape)

    def _touches_open_side(self, mask: np.ndarray) -> bool:
        """Whether the region reaches a window side that is not the image border."""
        for axis in self.dims:
            window = self._region[axis]
            if window.start > 0 and mask.take(0, axis=axis).any():
                return True
            if window.stop < self.shape[axis] and mask.take(-1, axis=axis).any():
                return True
        return False


def _crop(mask: np.ndarray, region: tuple[slice, ...]) -> tuple[tuple[slice, ...], np.ndarray]:
    box = []
    for axis in range(mask.ndim):
        other = tuple(i for i in range(mask.ndim) if i != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    box = tuple(box)
    full = tuple(
        slice(r.start + b.start, r.start + b.stop) for r, b in zip(region, box, strict=True)
    )
    return full, mask[box]


def wand_edit(
    image: np.ndarray,
    seed: Sequence[int],
    tolerance: float,
    label: int,
    dims: Sequence[int],
    *,
    channels: bool = False,
    replaces=None,
) -> ProposedEdit:
    """One wand click: the edit writing ``label`` on the region around ``seed``."""
    return WandSeed(image, seed, dims, channels=channels).edit(tolerance, label, replaces)


def flood_full(
    image: np.ndarray, seed: Sequence[int], tolerance: float, *, channels: bool = False
) -> np.ndarray:
    """The same region flooded on the whole image at once (the benchmark's baseline)."""
    seed = tuple(int(s) for s in seed)
    values = np.asarray(image, dtype=np.float64)
    seed_value = values[seed]
    if channels:
        distance = np.sqrt(((values - seed_value) ** 2).sum(axis=-1))
    else:
        distance = np.abs(values - seed_value)
    return flood(distance, seed, tolerance=float(tolerance))


def outline(mask: np.ndarray, plane_axes: Sequence[int]) -> np.ndarray:
    """The region's inner boundary in each plane of ``plane_axes`` (the wand's preview)."""
    structure = np.zeros((3,) * mask.ndim, dtype=bool)
    centre = (1,) * mask.ndim
    structure[centre] = True
    for axis in plane_axes:
        for step in (0, 2):
            index = list(centre)
            index[axis] = step
            structure[tuple(index)] = True
    inner = ndimage.binary_erosion(mask, structure=structure, border_value=0)
    return mask & ~inner
