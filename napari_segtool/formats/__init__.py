"""File formats (pure: no Qt, no napari)."""
