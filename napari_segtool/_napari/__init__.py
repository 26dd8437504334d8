"""napari glue without Qt: sessions, bindings, the painter, the pen, keys, autosave, npe2 hooks."""
