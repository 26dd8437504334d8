"""What the lock guard adds to a brush stroke.

A 4096 x 4096 label image holds 1,000 disk-shaped instances; 100 of them are
locked. The same brush stroke (napari's own paint callback driven by mouse
events, crossing the image and dozens of instances, locked ones included) is
timed on one layer with the lock guard installed (counting what it kept, as
for the status bar, which is worked out after the stroke and timed too) and,
in the same run, with it uninstalled (the unguarded layer). Each round
strokes unguarded, guarded and unguarded again, in rotating order; every
stroke is undone (untimed) before the next. Times are CPU time of this
process (``time.process_time``).

The number held to the target (<= 1.10) is the median over rounds of
guarded / unguarded within a round (the two strokes ran next to each other,
under the same machine load). The same statistic for the two unguarded
strokes of a round (ideally 1.000) shows how noisy the machine was.

    python benchmarks/bench_lock_guard.py [--size 4096] [--repeat 31]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
from napari.layers import Labels
from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)

from napari_segtool import load_default_ontology
from napari_segtool._napari.lock_guard import ProtectedLabels, install_lock_guard
from napari_segtool.model.document import Document

INSTANCES = 1000
LOCKED = 100
BRUSH_SIZE = 10


@dataclass
class _Mouse:
    type: str
    position: tuple[float, float]
    is_dragging: bool = False
    modifiers: tuple = ()
    button: int = 1
    dims_displayed: tuple = (0, 1)
    dims_point: tuple | None = None
    view_direction: tuple | None = None
    pos: tuple = (0, 0)
    camera_zoom: float = 1.0
    handled: bool = False


def label_image(size: int, seed: int = 0) -> np.ndarray:
    """``INSTANCES`` disks on a jittered grid, ids 1..INSTANCES."""
    rng = np.random.default_rng(seed)
    data = np.zeros((size, size), dtype=np.uint32)
    per_side = int(np.ceil(np.sqrt(INSTANCES)))
    cell = size // per_side
    label = 0
    for row in range(per_side):
        for col in range(per_side):
            label += 1
            if label > INSTANCES:
                return data
            radius = int(rng.integers(cell // 5, cell // 2 - 2))
            cy = row * cell + cell // 2 + int(rng.integers(-2, 3))
            cx = col * cell + cell // 2 + int(rng.integers(-2, 3))
            y0, y1 = max(cy - radius, 0), min(cy + radius + 1, size)
            x0, x1 = max(cx - radius, 0), min(cx + radius + 1, size)
            yy, xx = np.ogrid[y0:y1, x0:x1]
            disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
            data[y0:y1, x0:x1][disk] = label
    return data


def stroke_path(size: int, moves: int = 150) -> list[tuple[float, float]]:
    """A zigzag from top to bottom: ~2,500 dabs through dozens of instances, locked ones too."""
    t = np.linspace(0, 1, moves)
    rows = 8 + t * (size - 16)
    cols = size / 2 + size / 10 * np.sin(t * 6 * np.pi)
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


def run_stroke(layer: Labels, path, undo: bool = True) -> float:
    events = [ReadOnlyWrapper(_Mouse("mouse_press", path[0]))]
    events += [ReadOnlyWrapper(_Mouse("mouse_move", p, is_dragging=True)) for p in path[1:]]
    events.append(ReadOnlyWrapper(_Mouse("mouse_release", path[-1])))
    start = time.process_time()
    mouse_press_callbacks(layer, events[0])
    for event in events[1:-1]:
        mouse_move_callbacks(layer, event)
    mouse_release_callbacks(layer, events[-1])
    elapsed = time.process_time() - start
    if undo:
        layer.undo()  # untimed: the next stroke starts from the same pixels
    return elapsed


def make_layer(data: np.ndarray) -> Labels:
    layer = Labels(data.copy())
    layer.mode = "paint"
    layer.brush_size = BRUSH_SIZE
    layer.selected_label = INSTANCES + 1
    return layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=31)
    args = parser.parse_args()

    data = label_image(args.size)
    ontology = load_default_ontology()
    schema_id = ontology.classes[0].feature_schema_id
    document = Document(ontology)
    for label_id in range(1, INSTANCES + 1):
        document.add_instance(label_id, schema_id)
    rng = np.random.default_rng(1)
    for label_id in rng.choice(np.arange(1, INSTANCES + 1), LOCKED, replace=False):
        document.set_locked(int(label_id), True)

    # One layer, stroked with the guard installed and uninstalled in turn: both
    # sides paint the same pixels in the same memory (two 64 MB copies can sit
    # differently in caches and pages, which showed up as +-10 % on its own).
    layer = make_layer(data)
    path = stroke_path(args.size)

    def stroke_with_guard(guarded: bool, undo: bool = True) -> float:
        guard = install_lock_guard(layer, document) if guarded else None
        if guarded and guard is None:
            raise SystemExit("the lock guard could not be installed")
        try:
            if guard is None:
                return run_stroke(layer, path, undo=undo)
            guard.start_tally()  # as a session does: what was kept goes to the status bar
            elapsed = run_stroke(layer, path, undo=undo)
            start = time.process_time()
            tally = guard.take_tally()
            assert sum(tally.kept.values()) > 0  # the stroke crossed locked instances
            return elapsed + time.process_time() - start
        finally:
            if guard is not None:
                guard.uninstall()

    # warm-up (imports, caches), then rounds in rotating order
    stroke_with_guard(False)
    stroke_with_guard(True)
    arms = ("unguarded", "guarded", "unguarded again")
    times: dict[str, list[float]] = {arm: [] for arm in arms}
    for repeat in range(args.repeat):
        shift = repeat % len(arms)
        for arm in arms[shift:] + arms[:shift]:
            times[arm].append(stroke_with_guard(arm == "guarded"))

    # and the guard did its job: one more guarded stroke, kept this time
    locked_before = ProtectedLabels(document.locked_label_ids()).mask(data)
    assert locked_before.any()
    stroke_with_guard(True, undo=False)
    after = np.asarray(layer.data)
    intact = np.array_equal(after[locked_before], data[locked_before])
    painted = int((after == INSTANCES + 1).sum())

    def paired(numerator: str, denominator: str) -> float:
        pairs = zip(times[numerator], times[denominator], strict=True)
        return statistics.median(n / d for n, d in pairs)

    print(
        f"{args.size} x {args.size}, {INSTANCES} instances ({LOCKED} locked), "
        f"brush {BRUSH_SIZE}, {len(path)} mouse moves per stroke, {args.repeat} rounds"
    )
    for arm in arms:
        print(
            f"{arm + ' stroke:':24s} median {statistics.median(times[arm]) * 1e3:7.1f} ms, "
            f"fastest {min(times[arm]) * 1e3:7.1f} ms (CPU time)"
        )
    print(f"guarded stroke painted {painted} pixels; locked pixels intact: {intact}")
    print(f"ratio guarded / unguarded: {paired('guarded', 'unguarded'):.3f} (target <= 1.10)")
    print(f"noise, unguarded again / unguarded: {paired('unguarded again', 'unguarded'):.3f}")


if __name__ == "__main__":
    main()
