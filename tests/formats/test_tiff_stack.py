"""TIFF stacks by tifffile's axis letters: channels, RGB samples, names and voxel sizes."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_segtool.formats.tiff_stack import is_tiff, read_tiff_stack, stack_from_axes


def test_an_imagej_hyperstack_names_its_axes_and_voxel_size(tmp_path):
    path = tmp_path / "embryo.tif"
    data = np.arange(2 * 3 * 2 * 8 * 9, dtype=np.uint16).reshape(2, 3, 2, 8, 9)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        metadata={"axes": "TZCYX", "spacing": 1.5, "finterval": 10.0},
        resolution=(2.0, 2.0),
    )
    stack = read_tiff_stack(path)
    np.testing.assert_array_equal(stack.data, data)
    assert stack.axes == "TZCYX" and stack.channel_axis == 2 and not stack.rgb
    assert stack.axis_labels == ("t", "z", "y", "x")
    assert stack.scale == pytest.approx((10.0, 1.5, 0.5, 0.5))


@pytest.mark.parametrize(
    ("shape", "axes", "labels", "channel_axis", "rgb", "shape_after"),
    [
        ((5, 8, 9), "QYX", ("z", "y", "x"), None, False, (5, 8, 9)),
        ((4, 5, 8, 9), "TQYX", ("t", "z", "y", "x"), None, False, (4, 5, 8, 9)),
        ((8, 9, 3), "YXS", ("y", "x"), None, True, (8, 9, 3)),
        ((3, 5, 8, 9), "SZYX", ("z", "y", "x"), None, True, (5, 8, 9, 3)),  # samples last
        ((2, 5, 8, 9), "SZYX", ("z", "y", "x"), 0, False, (2, 5, 8, 9)),  # 2 samples: channels
        ((5, 2, 8, 9), "ZCYX", ("z", "y", "x"), 1, False, (5, 2, 8, 9)),
    ],
)
def test_axis_letters(shape, axes, labels, channel_axis, rgb, shape_after):
    stack = stack_from_axes(np.zeros(shape, np.uint8), axes)
    assert stack.axis_labels == labels
    assert stack.channel_axis == channel_axis and stack.rgb == rgb
    assert stack.data.shape == shape_after
    assert stack.scale == (1.0,) * len(labels)  # no ImageJ metadata: no voxel size


def test_a_file_that_is_not_a_tiff_is_named(tmp_path):
    path = tmp_path / "scan.tif"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"scan\.tif: "):
        read_tiff_stack(path)
    with pytest.raises(ValueError, match=r"missing\.tif: "):
        read_tiff_stack(tmp_path / "missing.tif")
    assert is_tiff("A.TIFF") and is_tiff("b.tif") and not is_tiff("c.png")
