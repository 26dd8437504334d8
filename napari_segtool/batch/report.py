"""What the batch commands print at the end: one summary, failures by name, losses once."""

from __future__ import annotations

from collections import Counter

from napari_segtool.batch.convert import ConvertReport
from napari_segtool.batch.validate import ValidateReport
from napari_segtool.formats import registry

#: names of files listed per line of a summary before "and N more"
SHOWN_FILES = 3


def _files(sources: list[str]) -> str:
    unique = list(dict.fromkeys(sources))
    shown = ", ".join(unique[:SHOWN_FILES])
    more = len(unique) - SHOWN_FILES
    return shown + (f" and {more} more" if more > 0 else "")


def convert_lines(report: ConvertReport, out_dir: str, verbose: bool = False) -> list[str]:
    target = registry.get(report.target).display_name
    sources = {output.source for output in report.outputs}
    written = {path for output in report.outputs for path in output.written}
    lines = [
        f"Converted {len(sources)} input file(s) to {target} in {out_dir}: "
        f"{len(written)} file(s) and folder(s) written; {len(report.failures)} failed."
    ]
    lines += [f"FAILED {failure}" for failure in report.failures]
    lines += [
        f"PARTIAL {output.written[0]}: {output.units - output.failed_units} of {output.units} "
        f"data row(s) / image(s) of {output.source} converted"
        for output in report.outputs
        if output.failed_units
    ]
    losses = report.losses()
    if losses:
        lines.append(f"Not kept ({target} cannot hold them):")
        for kind, (count, files) in sorted(losses.items()):
            lines.append(f"  {count} {kind} from {len(set(files))} file(s): {_files(files)}")
    notes = Counter(note for output in report.outputs for note in output.notes)
    if notes and verbose:
        lines.append("Notes:")
        lines += [f"  {note}" + (f" (x{n})" if n > 1 else "") for note, n in notes.items()]
    elif notes:
        lines.append(f"{sum(notes.values())} note(s) from the readers and writers (--verbose).")
    return lines


def validate_lines(report: ValidateReport, verbose: bool = False) -> list[str]:
    shown = report.issues if verbose else report.problems
    lines = [issue.line() for issue in shown]
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.counts().items()))
    verdict = "clean" if report.clean else f"{len(report.problems)} problem(s): {counts}"
    lines.append(f"Checked {report.files} file(s), {report.units} data row(s)/image(s): {verdict}.")
    return lines
