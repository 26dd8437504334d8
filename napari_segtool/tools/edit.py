"""What a tool proposes: a box of the label array, the pixels of it to write, and the value.

A tool never writes pixels. It describes the edit it would make as a
:class:`ProposedEdit`; the painter (``napari_segtool._napari.painter``)
decides which of those pixels may change (locks, hidden instances, draw to
back) and writes them as one undo step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: the label value that erases (napari's background)
ERASE = 0


@dataclass(frozen=True, eq=False)
class ProposedEdit:
    """Write ``label`` into the pixels of ``mask`` inside the box ``region``.

    ``region`` has one slice per axis of the label array (length-1 slices for
    the axes the tool does not paint along, e.g. the other planes of a
    stack); ``mask`` is a boolean array of the box's shape.

    ``replaces`` restricts the edit to pixels holding one of these labels
    (deleting an instance: its own id; merging: the merged ids; filling under
    existing objects: the background). Such an edit says exactly which pixels
    it targets, so the painter's draw-to-back rule does not narrow it further;
    locks still do. ``None``: any pixel under the mask, as a brush paints.
    """

    region: tuple[slice, ...]
    mask: np.ndarray
    label: int
    replaces: frozenset[int] | None = None

    def __post_init__(self) -> None:
        region = tuple(self.region)
        shape = tuple(s.stop - s.start for s in region)
        if any(s.step not in (None, 1) or s.start < 0 or s.stop < s.start for s in region):
            raise ValueError(f"region {region} must be plain, non-negative slices")
        mask = np.asarray(self.mask, dtype=bool)
        if mask.shape != shape:
            raise ValueError(f"mask shape {mask.shape} does not match region shape {shape}")
        object.__setattr__(self, "region", region)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "label", int(self.label))
        if self.replaces is not None:
            object.__setattr__(self, "replaces", frozenset(int(i) for i in self.replaces))

    @property
    def ndim(self) -> int:
        return len(self.region)

    @property
    def offset(self) -> tuple[int, ...]:
        return tuple(s.start for s in self.region)

    @property
    def pixel_count(self) -> int:
        return int(np.count_nonzero(self.mask))

    def indices(self) -> tuple[np.ndarray, ...]:
        """The pixels of the mask as index arrays into the whole label array."""
        return tuple(i + o for i, o in zip(np.nonzero(self.mask), self.offset, strict=True))

    def full_mask(self, shape: tuple[int, ...]) -> np.ndarray:
        """The mask placed in an array of ``shape`` (for tests and small arrays)."""
        full = np.zeros(shape, dtype=bool)
        full[self.region] = self.mask
        return full

    @classmethod
    def from_indices(
        cls, indices: tuple[np.ndarray, ...], label: int, replaces=None
    ) -> ProposedEdit | None:
        """The edit writing ``label`` at ``indices`` (None when there are none)."""
        arrays = [np.asarray(i, dtype=np.intp).ravel() for i in indices]
        if not arrays or arrays[0].size == 0:
            return None
        low = [int(a.min()) for a in arrays]
        high = [int(a.max()) + 1 for a in arrays]
        mask = np.zeros([h - lo for lo, h in zip(low, high, strict=True)], dtype=bool)
        mask[tuple(a - lo for a, lo in zip(arrays, low, strict=True))] = True
        region = tuple(slice(lo, h) for lo, h in zip(low, high, strict=True))
        return cls(region, mask, label, replaces)

    @classmethod
    def from_mask(cls, mask: np.ndarray, label: int, replaces=None) -> ProposedEdit | None:
        """The edit writing ``label`` where a whole-array ``mask`` is True, cropped to its box."""
        mask = np.asarray(mask, dtype=bool)
        region = bounding_box(mask)
        if region is None:
            return None
        return cls(region, mask[region], label, replaces)


def bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """The smallest box holding every True pixel of ``mask`` (None: there is none)."""
    boxes = ndimage.find_objects(np.asarray(mask, dtype=bool).view(np.uint8))
    return boxes[0] if boxes else None
