"""``napari-segtool`` / ``python -m napari_segtool``: napari ready to annotate."""

from __future__ import annotations

import argparse
import sys

from napari_segtool import PLUGIN_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="napari-segtool",
        description="Open napari with the segmentation plugin, its sample image and "
        "a default ontology, ready to annotate.",
    )
    parser.add_argument("paths", nargs="*", help="images or exports to open instead of the sample")
    args = parser.parse_args(argv)

    import napari

    viewer = napari.Viewer(title="napari-segtool")
    open_viewer(viewer, args.paths)
    napari.run()
    return 0


def open_viewer(viewer, paths: list[str]) -> None:
    """Fill ``viewer``: the given files, or the sample; then the plugin's dock."""
    from napari_segtool._napari.binding import is_segmentation_layer
    from napari_segtool._napari.commands import new_segmentation_layer
    from napari_segtool._napari.session import session_for

    session_for(viewer)  # autosave, close guard, pen and keys for every segmentation layer
    if paths:
        viewer.open(paths, plugin=None)  # any reader: images, Labelbox or COCO exports
        if not any(is_segmentation_layer(layer) for layer in viewer.layers):
            new_segmentation_layer(viewer)
    else:
        viewer.open_sample(PLUGIN_NAME, "cells")
    for widget_name in DOCK_WIDGETS:
        viewer.window.add_plugin_dock_widget(PLUGIN_NAME, widget_name)


#: dock widgets the main command opens
DOCK_WIDGETS: tuple[str, ...] = ("Segmentation",)

if __name__ == "__main__":
    sys.exit(main())
