"""File > IO Utilities > "Save segmentation as…" and "Open segmentation…" (npe2 menu
``napari/file/io_utilities``), and the save dialog the close guard's *Save* uses.

napari's own File > Save Selected Layers works with this plugin's writers only
when the user picks one of them as the dialog's file type; its default for a
Labels layer ("napari builtins labels") cannot write ``.json`` and fails. These
entries offer only this plugin's formats, one file type per format of the
registry (:mod:`napari_segtool.formats.registry`), so a format added there
shows up here without changes. The chosen file type decides the format; its
extension is added when the name lacks it. A Labelbox NDJSON import is written
with the viewer's NDJSON options (masks inline or as composite PNGs, chosen in
the dock's Files section).
"""

# No ``from __future__ import annotations``: napari injects the viewer by the
# annotation of the command functions, which must be a real type.
from pathlib import Path

import napari
from napari.layers import Image, Labels, Layer
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QFileDialog, QWidget

from napari_segtool._napari.binding import document_of, is_segmentation_layer, unwrap
from napari_segtool._napari.compat import qt_window
from napari_segtool._napari.io_hooks import LAST_SAVE_KEY, open_file, save_layers
from napari_segtool._napari.io_ndjson_writer import NDJSON
from napari_segtool._napari.session import session_for
from napari_segtool.formats import registry
from napari_segtool.formats.registry import FileFormat
from napari_segtool.formats.result import WriteResult

SAVE_TITLE = "Save segmentation as"
OPEN_TITLE = "Open segmentation"


def save_segmentation_as(viewer: napari.Viewer) -> list[str]:
    """File > IO Utilities > Save segmentation as…: the paths written (none if cancelled)."""
    viewer = unwrap(viewer)
    layers = layers_to_save(viewer)
    if not layers:
        show_info(
            "Nothing to save: select the segmentation layer (and, for COCO, its image) first."
        )
        return []
    result = save_with_dialog(viewer, layers)
    return [str(path) for path in result.written] if result is not None else []


def open_segmentation(viewer: napari.Viewer) -> list[Layer]:
    """File > IO Utilities > Open segmentation…: the layers added (none if cancelled or bad)."""
    viewer = unwrap(viewer)
    path, _ = QFileDialog.getOpenFileName(
        qt_window(viewer), OPEN_TITLE, _start_folder(viewer), registry.open_filter()
    )
    if not path:
        return []
    session_for(viewer)  # the layers get autosave, pen and keys as they arrive
    try:
        layers = open_file(viewer, path)
    except (ValueError, OSError) as err:  # every format's error is a ValueError
        show_error(f"Not opened: {err}")
        return []
    kinds = sum(is_segmentation_layer(layer) for layer in layers)
    show_info(f"Opened {Path(path).name}: {kinds} segmentation layer(s), {len(layers)} in all")
    return layers


def layers_to_save(viewer) -> list[Layer]:
    """The selected segmentation layers and images; else the only segmentation layer."""
    selected = [layer for layer in viewer.layers.selection if isinstance(layer, Labels | Image)]
    if any(is_segmentation_layer(layer) for layer in selected):
        return [layer for layer in viewer.layers if layer in selected]  # in layer-list order
    segmentation = [layer for layer in viewer.layers if is_segmentation_layer(layer)]
    return segmentation if len(segmentation) == 1 else []


def save_with_dialog(
    viewer, layers: list[Layer], parent: QWidget | None = None
) -> WriteResult | None:
    """Ask where and in which format, then write; ``None`` if cancelled or not written.

    Success is reported as napari notification (what was written) and in the
    status bar; failure as an error notification, with nothing marked saved.
    """
    target = ask_save_target(parent or qt_window(viewer), layers)
    if target is None:
        return None
    path, entry = target
    options = session_for(viewer).ndjson_options.writer_options() if entry.name == NDJSON else {}
    try:
        result = save_layers(entry, path, layers, **options)
    except (ValueError, OSError) as err:
        show_error(f"Not saved: {err}")
        return None
    viewer.status = result.summary or f"Saved {Path(path).name}"
    return result


def ask_save_target(parent: QWidget | None, layers: list[Layer]) -> tuple[Path, FileFormat] | None:
    """The file dialog: one file type per registered format; the path and the chosen format."""
    entries = registry.formats()
    filters = [entry.file_filter for entry in entries]
    suggested, entry = _suggestion(layers)
    path, chosen = QFileDialog.getSaveFileName(
        parent, SAVE_TITLE, str(suggested), ";;".join(filters), entry.file_filter
    )
    if not path:
        return None
    if chosen in filters:
        entry = entries[filters.index(chosen)]
    return with_extension(Path(path), entry), entry


def with_extension(path: Path, entry: FileFormat) -> Path:
    """``path`` ending in one of ``entry``'s extensions (another format's ending is replaced)."""
    name = path.name
    if any(name.lower().endswith(ext.lower()) for ext in entry.extensions):
        return path
    others = sorted(
        (ext for other in registry.formats() for ext in other.extensions),
        key=len,
        reverse=True,
    )
    for ext in others:
        if name.lower().endswith(ext.lower()) and len(name) > len(ext):
            name = name[: -len(ext)]
            break
    return path.with_name(name + entry.extensions[0])


def _suggestion(layers: list[Layer]) -> tuple[Path, FileFormat]:
    """Where the first segmentation layer was last saved, in that format; else beside its image."""
    document = next(document_of(layer) for layer in layers if is_segmentation_layer(layer))
    source = document.source
    default = registry.formats()[0]
    last = source.get(LAST_SAVE_KEY)
    if isinstance(last, dict) and last.get("path") and last.get("format"):
        try:
            return Path(last["path"]), registry.get(last["format"])
        except registry.UnknownFormatError:
            pass
    if source.get("export_path"):
        path = Path(source["export_path"])
        try:
            return path, registry.writer_for(path)
        except registry.UnknownFormatError:
            return path, default
    image_path = source.get("image_path")
    stem = Path(image_path).stem if image_path else (source.get("image_name") or "labels")
    folder = Path(image_path).parent if image_path else Path.cwd()
    return folder / f"{stem}{default.extensions[0]}", default


def _start_folder(viewer) -> str:
    for layer in viewer.layers:
        if is_segmentation_layer(layer):
            for key in ("export_path", "image_path"):
                value = document_of(layer).source.get(key)
                if value:
                    return str(Path(value).parent)
    return ""
