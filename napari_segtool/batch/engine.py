"""One function over many work items on dask, with a progress bar.

* no scheduler: dask's local scheduler on ``workers`` processes (all cores by
  default; one worker runs in this process);
* ``"local-cluster"``: a :class:`distributed.LocalCluster` on 127.0.0.1 for the run;
* any other scheduler: the address of a running dask.distributed scheduler.

A failing item never stops the run: its :class:`Outcome` carries the error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

LOCAL_CLUSTER = "local-cluster"


@dataclass(frozen=True)
class RunOptions:
    """Where and how the tasks run."""

    #: processes for local runs and ``local-cluster`` (``None``: every core)
    workers: int | None = None
    #: ``None`` (local), ``"local-cluster"``, or a scheduler address (``tcp://host:port``)
    scheduler: str | None = None
    #: no progress bar
    quiet: bool = False


DEFAULT_OPTIONS = RunOptions()


@dataclass(frozen=True)
class Outcome:
    """What one task gave: its value, or the error that stopped it."""

    item: Any
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def guarded(func: Callable[[Any], Any], item: Any) -> Outcome:
    """``func(item)`` as an :class:`Outcome`; the error is kept, not raised."""
    try:
        return Outcome(item, func(item))
    except Exception as err:  # one bad item is reported; the rest of the batch goes on
        known = isinstance(err, ValueError | OSError)  # the formats' errors name the file
        return Outcome(
            item, error=str(err) if known and str(err) else f"{type(err).__name__}: {err}"
        )


class Session:
    """The workers of one command: a process pool or a dask.distributed client, kept open
    across its runs (scanning, then the work) and closed at the end."""

    def __init__(self, options: RunOptions | None = None):
        self.options = options or DEFAULT_OPTIONS
        self._pool = self._client = self._cluster = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._pool is not None:
            self._pool.shutdown()

    def run(self, func: Callable[[Any], Any], items: Sequence[Any], description: str = ""):
        """:func:`guarded` ``func`` over ``items`` (results in the order of ``items``)."""
        items = list(items)
        if not items:
            return []
        bar = progress_bar(len(items), description, self.options.quiet)
        try:
            if self.options.scheduler is None:
                return self._run_local(func, items, bar)
            return self._run_distributed(func, items, bar)
        finally:
            bar.close()

    def _run_local(self, func, items: list[Any], bar) -> list[Outcome]:
        import dask
        from dask.callbacks import Callback

        class _Ticks(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                bar.update(1)

        tasks = [dask.delayed(guarded, pure=False)(func, item) for item in items]
        count = worker_count(self.options.workers)
        if count == 1:
            scheduler: dict[str, Any] = {"scheduler": "sync"}
        else:  # the formats' work holds the GIL (JSON, PNG, Python loops): processes
            if self._pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(count, mp_context=context)
            # one task at a time: a task is a whole image, batching them starves workers
            scheduler = {"scheduler": "processes", "pool": self._pool, "chunksize": 1}
        with _Ticks():
            return list(dask.compute(*tasks, **scheduler))

    def _run_distributed(self, func, items: list[Any], bar) -> list[Outcome]:
        from distributed import Client, LocalCluster, as_completed

        if self._client is None:
            if self.options.scheduler == LOCAL_CLUSTER:
                self._cluster = LocalCluster(
                    host="127.0.0.1",
                    n_workers=worker_count(self.options.workers),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.options.scheduler)
        futures = self._client.map(guarded, [func] * len(items), items, pure=False)
        for _ in as_completed(futures):
            bar.update(1)
        return self._client.gather(futures)


def run(
    func: Callable[[Any], Any],
    items: Sequence[Any],
    options: RunOptions | None = None,
    description: str = "",
) -> list[Outcome]:
    """One :meth:`Session.run` in a session of its own."""
    with Session(options) as session:
        return session.run(func, items, description)


def progress_bar(total: int, description: str, quiet: bool):
    """Counts, rate and time left on stderr (tqdm)."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc=description, unit="task", disable=quiet, file=sys.stderr, smoothing=0.1
    )


def worker_count(workers: int | None) -> int:
    return max(1, workers if workers else (os.cpu_count() or 1))
