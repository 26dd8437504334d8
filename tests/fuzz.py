"""Shared pieces of the hostile-input suites: a JSON fuzzing strategy, viewer checks."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def json_values(keys, *, text_size=12, key_size=6, max_keys=5, max_leaves=20):
    """Any JSON value; objects favour ``keys`` (the format's own field names)."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=text_size),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(sorted(keys)) | st.text(max_size=key_size),
                children,
                max_size=max_keys,
            )
        ),
        max_leaves=max_leaves,
    )


def viewer_with_a_layer(make_napari_viewer):
    """A viewer holding one Labels layer, to check that a refused file changes nothing."""
    viewer = make_napari_viewer()
    labels = viewer.add_labels(np.arange(12, dtype=np.uint8).reshape(3, 4), name="work")
    return viewer, labels, labels.data.copy()


def assert_unchanged(viewer, labels, pixels) -> None:
    assert list(viewer.layers) == [labels]
    np.testing.assert_array_equal(labels.data, pixels)
