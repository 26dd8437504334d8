"""Qt side of large segmentations: a debounce timer and a worker thread with a progress bar.

Loaded by name from :mod:`napari_segtool._napari.large_segmentation` for a
viewer that has a Qt window: the window follows the camera once the camera
has been still for a moment, and the first count of a large segmentation runs
off the UI thread while napari's progress bar (the activity dock) shows how
many chunks are done.
"""

from __future__ import annotations

from collections.abc import Callable

from napari.qt.threading import create_worker
from napari.utils import progress
from qtpy.QtCore import QObject, QTimer, Signal

#: workers still running (held so that Qt does not free them under the thread)
_workers: set = set()


def debouncer(seconds: float) -> Callable[[Callable[[], None]], None]:
    """A scheduler that runs the last callback given once ``seconds`` passed without calls."""
    timer = QTimer()
    timer.setSingleShot(True)
    timer.setInterval(max(0, int(seconds * 1000)))
    wanted: list[Callable[[], None]] = []

    def fire() -> None:
        if wanted:
            callback = wanted.pop()
            wanted.clear()
            callback()  # may schedule itself again

    timer.timeout.connect(fire)

    def schedule(callback: Callable[[], None]) -> None:
        wanted[:] = [callback]
        timer.start()  # restarts a running timer

    schedule.timer = timer  # held with the scheduler
    return schedule


def call_soon(callback: Callable[[], None]) -> None:
    """Run ``callback`` on the UI thread once the current event is handled."""
    QTimer.singleShot(0, callback)


class _Progress(QObject):
    """Carries ``(done, total)`` from the worker thread to the progress bar on the UI thread."""

    step = Signal(int, int)


def run_in_worker(job, description: str, done, failed) -> None:
    """Run ``job(progress)`` on a worker thread; ``done`` / ``failed`` on the UI thread."""
    bar = progress(total=0, desc=description)
    relay = _Progress()

    def on_step(finished: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = finished
        bar.refresh()

    relay.step.connect(on_step)
    worker = create_worker(job, relay.step.emit, _start_thread=False)

    def finish() -> None:
        bar.close()
        relay.deleteLater()
        _workers.discard(worker)

    worker.returned.connect(lambda result: (finish(), done(result)))
    worker.errored.connect(lambda error: (finish(), failed(error)))
    _workers.add(worker)
    worker.start()


def wait_for_workers(timeout_ms: int = 60000) -> None:
    """Block until every count started here is delivered (scripts, tests)."""
    from qtpy.QtCore import QCoreApplication, QElapsedTimer

    timer = QElapsedTimer()
    timer.start()
    while _workers and timer.elapsed() < timeout_ms:
        QCoreApplication.processEvents()
