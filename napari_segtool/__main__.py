"""``napari-segtool`` / ``python -m napari_segtool``: napari ready to annotate, or, with a
command first (``convert``, ``validate``, ``measure``), batch work without the GUI."""

from __future__ import annotations

import argparse
import json
import sys

from napari_segtool import PLUGIN_NAME

#: subcommands that run without napari (napari_segtool.batch)
COMMANDS = ("convert", "validate", "measure")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        return batch_main(argv)
    parser = argparse.ArgumentParser(
        prog="napari-segtool",
        description="Open napari with the segmentation plugin, its sample image and "
        "a default ontology, ready to annotate. Batch commands (no GUI): "
        + ", ".join(COMMANDS)
        + " (napari-segtool COMMAND --help).",
    )
    parser.add_argument("paths", nargs="*", help="images or exports to open instead of the sample")
    args = parser.parse_args(argv)

    import napari

    viewer = napari.Viewer(title="napari-segtool")
    try:
        open_viewer(viewer, args.paths)
    except ValueError as err:  # a file that cannot be read, named in the message
        viewer.close()
        print(f"napari-segtool: {err}", file=sys.stderr)
        return 2
    napari.run()
    return 0


def open_viewer(viewer, paths: list[str]) -> None:
    """Fill ``viewer``: the given files, or the sample; then the plugin's dock."""
    from napari_segtool._napari.binding import is_segmentation_layer
    from napari_segtool._napari.commands import new_segmentation_layer
    from napari_segtool._napari.session import session_for
    from napari_segtool._napari.stack_image import open_tiff_stack
    from napari_segtool.formats.tiff_stack import is_tiff

    session_for(viewer)  # autosave, close guard, pen and keys for every segmentation layer
    if paths:
        # TIFFs by their axes (channels split, time and Z named); anything else by any
        # reader: images, Labelbox or COCO exports
        for path in paths:
            if is_tiff(path):
                open_tiff_stack(viewer, path)
        others = [path for path in paths if not is_tiff(path)]
        if others:
            viewer.open(others, plugin=None)
        if not any(is_segmentation_layer(layer) for layer in viewer.layers):
            new_segmentation_layer(viewer)
    else:
        viewer.open_sample(PLUGIN_NAME, "cells")
    for widget_name in DOCK_WIDGETS:
        viewer.window.add_plugin_dock_widget(PLUGIN_NAME, widget_name)


#: dock widgets the main command opens
DOCK_WIDGETS: tuple[str, ...] = ("Segmentation",)


# -- batch commands ---------------------------------------------------------------------
def batch_parser() -> argparse.ArgumentParser:
    from napari_segtool.batch.convert import writable_formats

    parser = argparse.ArgumentParser(prog="napari-segtool", description="Batch work on exports.")
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders, globs")
        run = command.add_argument_group("where it runs")
        run.add_argument("--workers", type=int, help="local processes (default: every core)")
        run.add_argument(
            "--scheduler",
            metavar="ADDRESS",
            help="a dask.distributed scheduler (tcp://host:port), or local-cluster",
        )
        run.add_argument("--quiet", action="store_true", help="no progress bar")
        return command

    convert = add("convert", "Convert exports to another format (one output per input).")
    convert.add_argument("--to", required=True, choices=writable_formats(), help="target format")
    convert.add_argument("--out", required=True, metavar="DIR", help="output folder")
    convert.add_argument("--merge", action="store_true", help="all inputs into one COCO file")
    convert.add_argument("--name", default="merged", help="the merged file's name (--merge)")
    convert.add_argument("--verbose", action="store_true", help="list the readers' notes")
    validate = add("validate", "Check exports: exit status 0 only when everything is clean.")
    validate.add_argument("--json", action="store_true", help="a machine-readable report")
    validate.add_argument("--verbose", action="store_true", help="notes too, not only problems")
    measure = add("measure", "One table row per instance (regionprops, answers).")
    measure.add_argument("--out", required=True, metavar="TABLE", help="table.csv or .parquet")
    measure.add_argument(
        "--pixel-size",
        type=lambda text: tuple(float(v) for v in text.split(",")),
        help="physical size of a pixel per axis (0.5 or 2,0.5,0.5), for areas in units",
    )
    measure.add_argument("--unit", help="the pixel size's unit (µm)")
    return parser


def batch_main(argv: list[str]) -> int:
    from napari_segtool.batch import convert, measure, report, validate
    from napari_segtool.batch.engine import RunOptions

    args = batch_parser().parse_args(argv)
    if args.workers is not None and args.workers < 1:
        print("napari-segtool: --workers must be at least 1", file=sys.stderr)
        return 2
    options = RunOptions(workers=args.workers, scheduler=args.scheduler, quiet=args.quiet)
    try:
        if args.command == "convert":
            done = convert(
                args.inputs, args.to, args.out, options, merge=args.merge, merged_name=args.name
            )
            print("\n".join(report.convert_lines(done, args.out, args.verbose)))
            return 1 if done.failures else 0
        if args.command == "validate":
            checked = validate(args.inputs, options)
            if args.json:
                print(json.dumps(checked.to_dict(), indent=2, ensure_ascii=False))
            else:
                print("\n".join(report.validate_lines(checked, args.verbose)))
            return 0 if checked.clean else 1
        table, failures = measure(
            args.inputs, args.out, options, scale=args.pixel_size, unit=args.unit
        )
        for failure in failures:
            print(f"FAILED {failure}")
        print(f"Measured {len(table)} instance(s) into {args.out}; {len(failures)} failed.")
        return 1 if failures else 0
    except (ValueError, OSError) as err:
        print(f"napari-segtool {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
