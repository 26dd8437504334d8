"""The synthetic 3-D nuclei stack: the same on every machine, nuclei through several planes."""

from __future__ import annotations

import numpy as np
from skimage.measure import label, regionprops

from napari_segtool.model.sample_image import STACK_SHAPE, nuclei_stack


def test_the_stack_is_deterministic_and_holds_nuclei_through_planes():
    stack = nuclei_stack()
    assert stack.shape == STACK_SHAPE == (32, 256, 256) and stack.dtype == np.uint8
    np.testing.assert_array_equal(stack, nuclei_stack())
    assert not np.array_equal(stack, nuclei_stack(seed=12))
    nuclei = regionprops(label(stack > 90))
    assert len(nuclei) >= 10
    depths = [region.bbox[3] - region.bbox[0] for region in nuclei]
    assert min(depths) >= 4 and max(depths) < STACK_SHAPE[0]  # each spans planes, none all
