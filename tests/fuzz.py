"""Hypothesis strategies shared by the hostile-input suites."""

from __future__ import annotations

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
