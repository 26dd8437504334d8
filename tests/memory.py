"""Peak traced memory of a piece of work, for tests that bound what it allocates."""

from __future__ import annotations

import tracemalloc


def traced_peak(work):
    """``(work(), peak bytes tracemalloc saw while it ran)``."""
    tracemalloc.start()
    try:
        return work(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
