"""ProposedEdit: a box of the label array, a mask of it and the value to write."""

from __future__ import annotations

import numpy as np
import pytest

from napari_segtool.tools.edit import ERASE, ProposedEdit, bounding_box


def test_an_edit_checks_its_mask_against_its_box():
    edit = ProposedEdit((slice(2, 4), slice(1, 4)), np.ones((2, 3)), 5)
    assert edit.mask.dtype == bool and edit.pixel_count == 6
    assert edit.offset == (2, 1) and edit.ndim == 2 and edit.replaces is None
    with pytest.raises(ValueError, match="does not match"):
        ProposedEdit((slice(2, 4), slice(1, 4)), np.ones((3, 3)), 5)
    with pytest.raises(ValueError, match="plain, non-negative"):
        ProposedEdit((slice(0, 4, 2),), np.ones(2), 5)
    with pytest.raises(ValueError, match="plain, non-negative"):
        ProposedEdit((slice(-1, 1),), np.ones(2), 5)
    assert ProposedEdit((slice(0, 1),), [True], ERASE, replaces=[3, 4]).replaces == {3, 4}


def test_from_indices_and_from_mask_crop_to_the_pixels():
    full = np.zeros((6, 7), dtype=bool)
    full[1, 5] = full[4, 2] = full[3, 3] = True
    edit = ProposedEdit.from_mask(full, 9)
    assert edit.region == (slice(1, 5), slice(2, 6))
    assert np.array_equal(edit.full_mask(full.shape), full)
    again = ProposedEdit.from_indices(np.nonzero(full), 9, replaces={0})
    assert again.region == edit.region and np.array_equal(again.mask, edit.mask)
    assert again.replaces == {0}
    assert [tuple(i) for i in zip(*edit.indices(), strict=True)] == [(1, 5), (3, 3), (4, 2)]
    assert ProposedEdit.from_mask(np.zeros((3, 3)), 1) is None
    assert ProposedEdit.from_indices((np.array([], int), np.array([], int)), 1) is None


def test_bounding_box_of_an_n_d_mask():
    mask = np.zeros((3, 5, 6), dtype=bool)
    mask[1, 2:4, 1] = mask[1, 3, 4] = True
    assert bounding_box(mask) == (slice(1, 2), slice(2, 4), slice(1, 5))
    assert bounding_box(np.zeros((2, 2), dtype=bool)) is None
