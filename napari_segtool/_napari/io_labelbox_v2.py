"""npe2 reader for Labelbox NDJSON (export v2 and annotation imports): layer data out of the
``labelbox-ndjson`` entry of the format registry (:mod:`napari_segtool.formats.labelbox_ndjson`
does the work).

Other NDJSON (other tools' files) is declined, so napari offers it to other readers.
File > Open never downloads; the dock's Files section has a box for web masks
(see :func:`napari_segtool._napari.io_hooks.open_file`).
"""

from __future__ import annotations

from napari_segtool._napari.io_hooks import LayerData, layer_data, napari_progress
from napari_segtool._napari.session import start_session_for_current_viewer
from napari_segtool.formats import registry

LABELBOX_NDJSON = "labelbox-ndjson"


def get_reader(path: str | list[str]):
    """npe2 reader hook: our reader for an export v2 or import file, ``None`` for anything else."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    if not registry.get(LABELBOX_NDJSON).can_read(path):
        return None
    start_session_for_current_viewer()  # the layers get autosave, pen and keys
    return read_labelbox_v2


def read_labelbox_v2(path: str | list[str]) -> list[LayerData]:
    """Per data row: its image (when local), per label its segmentation layer with the
    document, and Shapes / Points for other tools. Raises before returning, so a bad file
    adds nothing."""
    if isinstance(path, list):
        (path,) = path
    entry = registry.get(LABELBOX_NDJSON)
    return layer_data(entry.read(path, progress=napari_progress))
