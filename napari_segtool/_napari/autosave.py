"""Autosave: unsaved segmentation work goes to a recovery file, off the UI thread.

One :class:`Autosaver` follows one segmentation layer. Every edit (a stroke,
undo/redo, an instance or answer change, an ontology change) marks it dirty and
re-arms an idle timer (one daemon ``threading.Timer`` per autosaver, replaced
under a lock), so a save happens only after ``interval`` seconds without edits.
The save runs on one background thread: it copies the labels, compresses them
and writes the file, so neither the painting nor the copy of a large image
waits on the UI thread. At interpreter exit, pending edits get one last save,
bounded by :data:`EXIT_SAVE_SECONDS`, instead of waiting for their timer. Writes are
atomic: a crash leaves the previous recovery file whole (see
:mod:`napari_segtool.formats.recovery`). No Qt is involved: this works the same
with or without a window.

Why a copy made off the UI thread is safe
    The UI thread may paint while the background thread copies the labels, so
    a copy can hold half a stroke. Every edit bumps a generation number and
    re-arms the idle timer, and a save records the generation it started from:
    a copy that overlapped an edit is therefore followed, once the user is idle
    again, by a save of the finished state (``has_pending`` stays true until
    then). The document is never read off the UI thread: at each edit the UI
    thread freezes the layer's stored document dict (the binding keeps
    ``layer.metadata`` current by replacing its entries, never by growing them
    in place), which costs a copy of two containers of pointers; the background
    thread serialises that frozen dict, which nothing changes any more. The
    same snapshot carries everything else the file needs from napari (the
    image identity, the layer's name, scale and translate, the instance count),
    so the background thread touches no napari object but the labels it copies.
    The image identity is hashed once per image (see :func:`image_identity`).

Threads of the signals
    ``dirty_changed`` is emitted on the UI thread (edits and saves happen
    there). ``saved`` and ``failed`` are emitted on the autosave thread; Qt code
    connects them through ``superqt.ensure_main_thread`` (as
    :class:`napari_segtool._qt.recovery_banner.RecoveryBanner` does).

Big stacks: what changed, not the whole volume
    A label array of :data:`DELTA_MIN_BYTES` or more is kept as a full
    snapshot plus a delta file (see :mod:`napari_segtool.formats.recovery`).
    The binding reports the boxes each stroke, undo and redo changed (from
    napari's history atoms, :attr:`LayerBinding.pixels_changed`); the autosaver
    collects them (merged, on the UI thread: a few tuples per stroke) and an
    autosave writes only those boxes' pixels, read on the autosave thread, with
    the newest document. Once the boxes hold more than :data:`COMPACT_FRACTION`
    of the volume, or when the data was replaced, the autosave thread writes a
    new full snapshot instead (the compaction): it takes the boxes first, so a
    stroke made while it copies lands in the next delta; a snapshot replaced
    under a delta makes that delta inapplicable (its ``snapshot_id`` differs),
    so a kill at any moment leaves the previous state whole. The UI thread
    never copies the volume: a stroke costs it its boxes. The delta carries the
    document's changes since the snapshot (the instances a stroke touched), not
    all of it.

The interval is ``$NAPARI_SEGTOOL_AUTOSAVE_SECONDS`` (default 30 s) or
:func:`set_autosave_interval`. The recovery folder is
:func:`napari_segtool.formats.recovery.recovery_dir` (``$NAPARI_SEGTOOL_RECOVERY_DIR``
overrides it).

Entry points for the rest of the plugin:

- :func:`attach_autosave` (the viewer's session, for each segmentation layer);
- :func:`check_recovery` (the dock: a newer recovery file for this image?);
- :func:`notify_saved` (the writers, after a successful save: not dirty any
  more, recovery files of this work removed);
- :func:`autosaver_of` / :attr:`Autosaver.is_dirty` / :meth:`Autosaver.flush`
  (the close guard).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import threading
import time
import uuid
import weakref
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Image, Labels
from psygnal import Signal

from napari_segtool._napari.binding import (
    LayerBinding,
    bind,
    binding_of,
    is_segmentation_layer,
    unwrap,
)
from napari_segtool._napari.large_segmentation import full_shape, large_segmentation_of
from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import RecoveryInfo
from napari_segtool.model.document import METADATA_KEY, Document, DocumentError

logger = logging.getLogger(__name__)

INTERVAL_ENV = "NAPARI_SEGTOOL_AUTOSAVE_SECONDS"
DEFAULT_INTERVAL = 30.0
#: recovery files older than this, or beyond this many, are pruned
PRUNE_MAX_AGE_DAYS = 30
PRUNE_MAX_FILES = 50
#: at interpreter exit, the last save of pending edits may take this long
EXIT_SAVE_SECONDS = 5.0
#: label arrays this big (bytes) are saved as a snapshot plus deltas; smaller ones whole
DELTA_MIN_BYTES = 32 * 1024**2
#: a delta covering more than this share of the volume is compacted into a new snapshot
COMPACT_FRACTION = 0.25
#: more changed boxes than this are merged into their common box
MAX_BOXES = 256

_autosavers: weakref.WeakKeyDictionary[Labels, Autosaver] = weakref.WeakKeyDictionary()
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_interval_override: float | None = None
_pruned_folders: set[Path] = set()
#: (path, size, mtime_ns) -> sha256; hashing a big image once is enough
_file_hashes: dict[tuple[str, int, int], str] = {}
#: image layer -> (its data object, weakly if it can be, and the pixels' hash)
_pixel_hashes: weakref.WeakKeyDictionary[Image, tuple[Any, str]] = weakref.WeakKeyDictionary()
#: set once the interpreter exits: timers and the pool no longer start saves
_exiting = threading.Event()


# -- configuration --------------------------------------------------------------------
def autosave_interval() -> float:
    """Seconds of idle time after an edit before the autosave runs."""
    if _interval_override is not None:
        return _interval_override
    raw = os.environ.get(INTERVAL_ENV)
    if raw:
        try:
            return max(0.05, float(raw))
        except ValueError:
            logger.warning("%s=%r is not a number; using %s s", INTERVAL_ENV, raw, DEFAULT_INTERVAL)
    return DEFAULT_INTERVAL


def set_autosave_interval(seconds: float | None) -> None:
    """Set the idle time for every autosaver (``None``: back to the env var / default)."""
    global _interval_override
    _interval_override = None if seconds is None else max(0.05, float(seconds))
    for saver in list(_autosavers.values()):
        saver.interval = autosave_interval()


def _pool() -> ThreadPoolExecutor:
    # One worker: writes never race each other, and a discard queued after a
    # write runs after it.
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="segtool-autosave")
        return _executor


def _save_pending_at_exit(timeout: float | None = None) -> None:
    """Give every autosaver with pending edits one last save (interpreter exit).

    atexit runs after the interpreter joined its non-daemon threads (and the
    pool's worker), and the idle timers are daemon threads, so a pending timer
    never delays the exit; the saves run here instead, on one daemon thread
    waited for at most ``timeout`` seconds, so a hung disk cannot hang the exit.
    """
    _exiting.set()
    savers = [saver for saver in list(_autosavers.values()) if not saver._stopped]
    for saver in savers:
        saver.cancel_idle_timer()
    pending = [saver for saver in savers if saver.has_pending]
    if not pending:
        return

    def save_all() -> None:
        for saver in pending:
            with contextlib.suppress(Exception):  # reported through ``failed``
                saver._save()

    worker = threading.Thread(target=save_all, name="segtool-autosave-exit", daemon=True)
    worker.start()
    worker.join(EXIT_SAVE_SECONDS if timeout is None else timeout)


atexit.register(_save_pending_at_exit)


# -- which image ------------------------------------------------------------------------
def image_identity(
    layer: Labels, viewer=None, source: dict[str, Any] | None = None
) -> tuple[str | None, str, str]:
    """``(image_path, image_hash, hash_kind)`` of the image a segmentation layer annotates.

    The file's bytes when ``source["image_path"]`` is a readable file;
    otherwise the pixels of the viewer's image layer named
    ``source["image_name"]``; otherwise (no image to be found) the image name
    and the labels' shape, a weaker key that still keeps images apart.
    ``source`` defaults to the live document's. UI thread only (it reads the
    viewer's layers). Each hash is computed once: a file's until its size or
    mtime changes, an image layer's until its data object is replaced.
    """
    layer = unwrap(layer)
    if source is None:
        source = binding_of(layer).document.source
    path = source.get("image_path") or None
    if path and os.path.isfile(path):
        return path, _hash_file_cached(path), "file"
    image = _find_image_layer(layer, source.get("image_name"), viewer)
    if image is not None:
        return path, _hash_pixels_cached(image), "pixels"
    name = f"{source.get('image_name') or layer.name}|{full_shape(layer)}"
    return path, recovery.hash_pixels(np.frombuffer(name.encode(), np.uint8)), "pixels"


def _hash_file_cached(path: str) -> str:
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    digest = _file_hashes.get(key)
    if digest is None:
        digest = _file_hashes[key] = recovery.hash_file(path)
    return digest


def _hash_pixels_cached(image: Image) -> str:
    data = image.data
    cached = _pixel_hashes.get(image)
    if cached is not None:
        held, digest = cached
        if (held() if isinstance(held, weakref.ref) else held) is data:
            return digest
    pixels = data[-1] if image.multiscale else data
    digest = recovery.hash_pixels(np.asarray(pixels))
    try:
        held = weakref.ref(data)
    except TypeError:  # e.g. a list of scales: holding it is what the layer does anyway
        held = data
    _pixel_hashes[image] = (held, digest)
    return digest


def _find_image_layer(layer: Labels, image_name: str | None, viewer=None) -> Image | None:
    if not image_name:
        return None
    if viewer is None:
        from napari_segtool._napari.session import current_viewer

        viewer = current_viewer()
    if viewer is None:
        return None
    viewer = unwrap(viewer)
    layers = [lay for lay in list(viewer.layers) if isinstance(lay, Image)]
    matches = [lay for lay in layers if lay.name == image_name]
    return matches[0] if matches else None


def frozen_document(binding: LayerBinding) -> dict[str, Any]:
    """The layer's document dict as of now, safe to read later from another thread.

    The binding keeps ``layer.metadata`` equal to ``document.to_dict()`` by
    replacing whole entries (and, in place, only the scalar
    ``source["seconds_to_label"]``), so copying the instance list and the
    source dict freezes it at the cost of a few pointers per instance.
    """
    layer = binding.layer
    stored = layer.metadata.get(METADATA_KEY) if layer is not None else None
    if (
        isinstance(stored, dict)
        and isinstance(stored.get("instances"), list)
        and isinstance(stored.get("source"), dict)
    ):
        return {**stored, "instances": list(stored["instances"]), "source": dict(stored["source"])}
    return binding.document.to_dict()


@dataclass(frozen=True)
class _Snapshot:
    """What a background save needs from napari, taken on the UI thread at an edit."""

    generation: int
    document: dict[str, Any]
    #: ``image_identity``'s result, or the error it raised (reported by the save)
    identity: tuple[str | None, str, str] | Exception
    layer_name: str
    scale: list[float]
    translate: list[float]
    instance_count: int


# -- the autosaver ------------------------------------------------------------------------
class Autosaver:
    """Keeps one segmentation layer's unsaved work in a recovery file."""

    #: a recovery file was written (its path); on the autosave thread
    saved = Signal(object)
    #: an autosave failed (the message); the work is still in the layer. Autosave thread
    failed = Signal(str)
    #: ``is_dirty`` changed; on the UI thread
    dirty_changed = Signal(bool)

    def __init__(
        self,
        binding: LayerBinding,
        folder: str | os.PathLike | None = None,
        interval: float | None = None,
        viewer=None,
    ):
        self._layer_ref = weakref.ref(binding.layer)
        self._viewer_ref = weakref.ref(unwrap(viewer)) if viewer is not None else None
        self.folder = Path(folder) if folder is not None else recovery.recovery_dir()
        self.session = uuid.uuid4().hex[:16]
        self._file_name: str | None = None
        # guards the bookkeeping shared by the UI thread and the autosave thread
        self._lock = threading.Lock()
        self._timer_lock = threading.Lock()
        self._generation = 0  # bumped by every edit
        self._written = 0  # newest generation known to be on disk
        self._snapshot: _Snapshot | None = None  # taken at the newest edit
        self._unsaved = False  # edits not yet saved through a writer
        self._jobs: list[Future] = []  # writes and discards queued or running
        self._stopped = False
        self._idle_timer: threading.Timer | None = None  # guarded by _timer_lock
        self._deadline = 0.0  # when the idle timer saves (monotonic); _timer_lock
        # big stacks (guarded by _lock): the snapshot on disk, the boxes changed since
        # it was copied, and whether the whole array must be written again
        self.delta_min_bytes = DELTA_MIN_BYTES
        self.compact_fraction = COMPACT_FRACTION
        self._snapshot_id: str | None = None
        self._snapshot_document: dict[str, Any] | None = None  # the snapshot's document
        self._boxes: list[tuple[slice, ...]] = []
        self._whole = True
        self._epoch = 0  # bumped when the files on disk stop being this layer's snapshot
        #: full snapshots and deltas written (tests, benchmarks)
        self.snapshots_written = 0
        self.deltas_written = 0
        #: why the newest save failed (``None`` once one succeeds)
        self.last_error: str | None = None
        self.interval = autosave_interval() if interval is None else interval
        self.binding: LayerBinding | None = None
        self._connections: list[tuple[Any, Any]] = []
        self.rebind(binding)

    # -- state -------------------------------------------------------------------------
    @property
    def layer(self) -> Labels | None:
        return self._layer_ref()

    @property
    def is_dirty(self) -> bool:
        """The layer holds edits not saved through a writer (the close guard asks)."""
        return self._unsaved

    @property
    def has_pending(self) -> bool:
        """Some edits are not in the recovery file yet."""
        with self._lock:
            return self._generation > self._written

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self._interval = max(0.05, float(seconds))
        with self._timer_lock:
            waiting = self._idle_timer is not None
        if waiting:
            self._arm(restart=True)  # a save that was waiting waits the new interval

    @property
    def path(self) -> Path | None:
        """This layer's recovery file (once one was written or adopted)."""
        return self.folder / self._file_name if self._file_name else None

    # -- following the layer ---------------------------------------------------------------
    def rebind(self, binding: LayerBinding) -> None:
        """Follow a new binding of the same layer (e.g. after a restore)."""
        for signal, slot in self._connections:
            signal.disconnect(slot)
        document = binding.document
        self._connections = [
            (binding.pixels_changed, self._on_pixels),
            (binding.counts_changed, self._on_counts),
            (document.instance_added, self._on_edit),
            (document.instance_removed, self._on_edit),
            (document.instance_changed, self._on_edit),
            (document.image_answers_changed, self._on_edit),
            (document.ontology_changed, self._on_edit),
        ]
        for signal, slot in self._connections:
            signal.connect(slot)
        self.binding = binding

    def disconnect(self) -> None:
        """Stop following the layer (it left the viewer): its file becomes offerable."""
        self._stopped = True
        self.cancel_idle_timer()
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self._connections = []
        layer = self.layer
        if layer is not None and _autosavers.get(layer) is self:
            del _autosavers[layer]

    def _on_edit(self, *_args) -> None:
        taken = self._snapshot_values()
        with self._lock:
            self._generation += 1
            self._snapshot = _Snapshot(generation=self._generation, **taken)
        self._set_unsaved(True)
        self._arm()  # re-arming it: save only after idle time

    def _on_counts(self, _label_ids) -> None:
        if not self.binding.counting_only:  # a background count is no edit
            self._on_edit()

    def _on_pixels(self, boxes) -> None:
        # UI thread, before the counts change (which is the edit): remember where
        with self._lock:
            if boxes is None:
                self._whole = True
            else:
                self._boxes = merge_boxes(self._boxes, boxes)

    def _snapshot_values(self) -> dict[str, Any]:
        # UI thread: everything napari-side the save needs, except the labels
        binding, layer = self.binding, self.layer
        document = frozen_document(binding)
        source = document.get("source") or {}
        try:
            identity = image_identity(layer, self._viewer(), source)
        except OSError as error:
            identity = error
        ids = {entry.get("label_id") for entry in document.get("instances", [])}
        counts = binding.pixel_counts
        large = large_segmentation_of(layer)
        return {
            "document": document,
            "identity": identity,
            "layer_name": layer.name,
            "scale": [float(s) for s in layer.scale],
            # a window's layer: where the whole segmentation lies, not the window
            "translate": [float(t) for t in getattr(large, "translate", layer.translate)],
            "instance_count": sum(1 for i in ids if counts.get(i, 0) > 0),
        }

    def mark_dirty(self) -> None:
        """Count the current state as an unsaved edit (e.g. after a restore)."""
        self._on_edit()

    def _set_unsaved(self, unsaved: bool) -> None:
        if unsaved != self._unsaved:
            self._unsaved = unsaved
            self.dirty_changed.emit(unsaved)

    # -- the idle timer ----------------------------------------------------------------------
    def _arm(self, restart: bool = False) -> None:
        """(Re)arm the idle timer: the save comes ``interval`` s after the last call.

        A timer already waiting is left alone: it finds the later deadline when it
        fires and waits the rest. So an edit costs the UI thread no thread start
        and no wake-up of another thread (``restart``: start a new one anyway).
        """
        with self._timer_lock:
            if self._stopped or _exiting.is_set():
                if self._idle_timer is not None:
                    self._idle_timer.cancel()
                    self._idle_timer = None
                return
            self._deadline = time.monotonic() + self._interval
            if self._idle_timer is not None and not restart:
                return
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._start_timer(self._interval)

    def _start_timer(self, delay: float) -> None:
        # under _timer_lock. A daemon thread: a pending timer never holds the
        # interpreter's exit (the exit hook saves instead)
        timer = threading.Timer(delay, self._on_idle)
        timer.name, timer.daemon = "segtool-autosave-idle", True
        self._idle_timer = timer
        timer.start()

    def cancel_idle_timer(self) -> None:
        with self._timer_lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None

    def _on_idle(self) -> None:
        # on the idle timer's own thread; a timer replaced or cancelled meanwhile
        # (a flush took over) has nothing left to do
        with self._timer_lock:
            if self._idle_timer is not threading.current_thread():
                return
            remaining = self._deadline - time.monotonic()
            if remaining > 0 and not self._stopped and not _exiting.is_set():
                self._start_timer(remaining)  # edited since it started: wait the rest
                return
            self._idle_timer = None
        if not self._stopped and not _exiting.is_set():
            with contextlib.suppress(RuntimeError):  # the interpreter is shutting down
                self._submit(self._save)

    # -- saving ----------------------------------------------------------------------------
    def save_async(self) -> Future | None:
        """Save now in the background (copy, compress, write); ``None`` if nothing is pending."""
        self.cancel_idle_timer()
        if not self.has_pending:
            return None
        return self._submit(self._save)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Write pending edits now and wait for every queued job (close guard, tests).

        True when every edit is in the recovery file (:attr:`path`); False when
        a save failed (:attr:`last_error` says why) or did not end in ``timeout``.
        """
        if self.has_pending:
            self.save_async()
        with self._lock:
            jobs = list(self._jobs)
        futures.wait(jobs, timeout=timeout)
        with self._lock:
            self._jobs = [job for job in self._jobs if not job.done()]
        return not self.has_pending

    def _submit(self, function, *args) -> Future:
        job = _pool().submit(function, *args)
        with self._lock:
            self._jobs = [*(f for f in self._jobs if not f.done()), job]
        return job

    def _save(self) -> Path | None:
        """The background save (autosave thread): copy, compress, write, report."""
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or snapshot.generation <= self._written:
                return None  # written already, or saved through a writer meanwhile
        layer = self.layer
        if layer is None:
            return None
        try:
            path = self._write(layer, snapshot)
        except Exception as error:
            message = f"Autosave of {snapshot.layer_name!r} failed: {error}"
            logger.warning(message)
            self.last_error = message
            self.failed.emit(message)
            if self.layer is not None:
                self._arm()  # try again after the next idle period
            raise
        with self._lock:
            self._written = max(self._written, snapshot.generation)
        self.last_error = None
        self.saved.emit(path)
        return path

    def _recovery_job(self, layer: Labels, snapshot: _Snapshot) -> dict[str, Any]:
        # autosave thread: from napari only the labels, the rest is the UI thread's snapshot
        if isinstance(snapshot.identity, Exception):
            raise snapshot.identity
        image_path, image_hash, hash_kind = snapshot.identity
        with self._lock:
            if self._file_name is None:
                self._file_name = recovery.recovery_name(
                    snapshot.layer_name, image_hash, self.session
                )
            folder, name = self.folder, self._file_name
        source = snapshot.document.get("source") or {}
        return {
            "folder": folder,
            "name": name,
            "document": snapshot.document,
            "image_path": image_path,
            "image_hash": image_hash,
            "hash_kind": hash_kind,
            "image_name": source.get("image_name"),
            "layer_name": snapshot.layer_name,
            "layer": {"scale": snapshot.scale, "translate": snapshot.translate},
            "instance_count": snapshot.instance_count,
        }

    def _write(self, layer: Labels, snapshot: _Snapshot) -> Path:
        """Autosave thread: the whole labels, or (big stacks) what changed since the snapshot."""
        job = self._recovery_job(layer, snapshot)
        segmentation = large_segmentation_of(layer)
        if segmentation is not None:
            return self._write_overlay(job, segmentation)
        labels = layer.data
        shape, dtype = tuple(labels.shape), np.dtype(labels.dtype)
        if math.prod(shape) * dtype.itemsize < self.delta_min_bytes:
            # a copy: napari keeps painting into layer.data while this writes
            return recovery.write_recovery(**job, labels=np.array(labels, copy=True))
        with self._lock:
            epoch, boxes, whole, snapshot_id, base_document = (
                self._epoch,
                self._boxes,
                self._whole,
                self._snapshot_id,
                self._snapshot_document,
            )
            base = Path(job["folder"]) / job["name"]
            full = (
                whole
                or snapshot_id is None
                or box_volume(boxes) > self.compact_fraction * math.prod(shape)
            )
            if full:  # strokes from now on go to the next delta
                self._boxes, self._whole = [], False
        if not full and not base.exists():  # removed under us (e.g. discarded): start again
            with self._lock:
                self._boxes, self._whole = [], False
            full = True
        if full:
            return self._write_snapshot(job, labels, epoch, boxes, whole)
        regions = [(box, np.array(labels[box], copy=True)) for box in boxes]
        recovery.write_delta(
            job["folder"],
            job["name"],
            snapshot_id,
            regions,
            recovery.document_changes(base_document, job["document"]),
            labels_shape=shape,
            labels_dtype=dtype.name,
            layer_name=job["layer_name"],
            layer=job["layer"],
            instance_count=job["instance_count"],
        )
        self.deltas_written += 1
        return base

    def _write_overlay(self, job, segmentation) -> Path:
        """Autosave thread: a segmentation larger than memory spills its written chunks
        (only those changed since the last spill) to an overlay folder; never its volume.

        The window's edits are in its labels already (written through after each
        stroke, on the UI thread); ``ChunkedLabels.spill_to`` is safe beside those writes.
        """
        with self._lock:
            epoch = self._epoch
        path = recovery.write_overlay_recovery(labels=segmentation.labels, epoch=epoch, **job)
        self.snapshots_written += 1
        return path

    def _write_snapshot(self, job, labels, epoch: int, boxes, whole: bool) -> Path:
        """Autosave thread: a new full snapshot (the compaction); its old delta goes."""
        snapshot_id = uuid.uuid4().hex
        try:
            path = recovery.write_recovery(
                **job, labels=np.array(labels, copy=True), snapshot_id=snapshot_id
            )
        except BaseException:
            with self._lock:  # nothing written: what changed is still to be written
                self._boxes = merge_boxes(boxes, self._boxes)
                self._whole = self._whole or whole or self._snapshot_id is None
            raise
        with self._lock:
            if self._epoch == epoch:
                self._snapshot_id, self._snapshot_document = snapshot_id, job["document"]
        with contextlib.suppress(OSError):
            recovery.delta_path(path).unlink(missing_ok=True)
        self.snapshots_written += 1
        return path

    def _forget_snapshot(self) -> None:
        """The files on disk are not this layer's snapshot any more: write it whole next."""
        with self._lock:
            self._epoch += 1
            self._snapshot_id, self._boxes, self._whole = None, [], True
            self._snapshot_document = None

    def _viewer(self):
        return self._viewer_ref() if self._viewer_ref is not None else None

    # -- after a real save / a decision ------------------------------------------------------
    def mark_saved(self) -> None:
        """The work was saved through a writer: nothing is unsaved, recovery files go."""
        self.cancel_idle_timer()
        with self._lock:
            self._written = self._generation
        self._forget_snapshot()
        self._set_unsaved(False)
        paths = []
        layer = self.layer
        if layer is not None:
            try:
                image_path, image_hash, _kind = image_identity(layer, self._viewer())
            except OSError:
                pass
            else:
                others = live_recovery_paths() - {self.path}
                paths += [
                    info.path
                    for info in recovery.find_recoveries(self.folder, image_path, image_hash)
                    if info.path not in others
                ]
        # queued behind any write in flight, so that write cannot resurrect the file
        self._submit(self._discard, paths)

    def _discard(self, paths: list[Path]) -> None:
        # autosave thread: a write that was running has named this layer's file by now
        own = self.path
        recovery.discard([*paths, own] if own is not None else paths)
        if own is not None:
            recovery.discard_overlay(own.parent, own.name)

    def adopt(self, path: str | os.PathLike) -> None:
        """Write future autosaves over ``path`` (a restored recovery file)."""
        path = Path(path)
        with self._lock:
            self.folder = path.parent
            self._file_name = path.name
        self._forget_snapshot()

    def mark_restored(self, path: str | os.PathLike) -> None:
        """The layer now holds ``path``'s content: unsaved, but already on disk there."""
        self.adopt(path)
        self.cancel_idle_timer()
        with self._lock:
            self._written = self._generation
        self._set_unsaved(True)


def merge_boxes(boxes: list[tuple[slice, ...]], new) -> list[tuple[slice, ...]]:
    """``boxes`` plus ``new``, overlapping boxes joined; at most :data:`MAX_BOXES` of them.

    Only overlapping ones: joining boxes that merely touch (a stroke on the next
    slice) would write pixels that did not change.
    """
    # a stroke's dabs first among themselves (they mostly join into one box), then
    # that handful into the boxes so far: a long stroke costs no scan per dab
    own: list[tuple[slice, ...]] = []
    for box in new:
        _join(own, tuple(box))
    merged = list(boxes)
    for box in own:
        _join(merged, box)
    if len(merged) > MAX_BOXES:
        merged = [
            tuple(
                slice(min(b[i].start for b in merged), max(b[i].stop for b in merged))
                for i in range(len(merged[0]))
            )
        ]
    return merged


def _join(merged: list[tuple[slice, ...]], box: tuple[slice, ...]) -> None:
    """Add ``box`` to ``merged``, joined with every box it overlaps (in place)."""
    while True:
        # newest first: a stroke's next dab overlaps the box just grown
        joined = next((i for i in range(len(merged) - 1, -1, -1) if _overlap(box, merged[i])), None)
        if joined is None:
            break
        other = merged.pop(joined)
        box = tuple(
            slice(min(a.start, b.start), max(a.stop, b.stop))
            for a, b in zip(box, other, strict=True)
        )
    merged.append(box)


def _overlap(a: tuple[slice, ...], b: tuple[slice, ...]) -> bool:
    return all(x.start < y.stop and y.start < x.stop for x, y in zip(a, b, strict=True))


def box_volume(boxes: list[tuple[slice, ...]]) -> int:
    return sum(math.prod(s.stop - s.start for s in box) for box in boxes)


def live_recovery_paths() -> set[Path]:
    return {s.path for s in list(_autosavers.values()) if s.path is not None}


# -- public functions ------------------------------------------------------------------------
def attach_autosave(binding: LayerBinding, viewer=None, folder=None) -> Autosaver:
    """The layer's autosaver, created on first call (it follows later re-binds)."""
    layer = unwrap(binding.layer)
    saver = _autosavers.get(layer)
    if saver is None:
        saver = Autosaver(binding, folder=folder, viewer=viewer)
        _autosavers[layer] = saver
        _prune_once(saver.folder)
    elif saver.binding is not binding:
        saver.rebind(binding)
    return saver


def autosaver_of(layer: Labels) -> Autosaver | None:
    return _autosavers.get(unwrap(layer))


def notify_saved(layer: Labels) -> None:
    """Call after a writer saved ``layer``: it is clean and its recovery files go.

    Safe to call for any layer (a layer without autosaver just has the
    recovery files of its image removed).
    """
    layer = unwrap(layer)
    if not is_segmentation_layer(layer):
        return
    saver = _autosavers.get(layer)
    if saver is not None:
        saver.mark_saved()
        return
    image_path, image_hash, _kind = image_identity(layer)
    folder = recovery.recovery_dir()
    stale = [
        i.path
        for i in recovery.find_recoveries(folder, image_path, image_hash)
        if i.path not in live_recovery_paths()
    ]
    recovery.discard(stale)


def check_recovery(binding: LayerBinding, viewer=None) -> RecoveryInfo | None:
    """The newest recovery file for the image of ``binding``'s layer, if it is worth offering.

    Not offered: files of layers open in this session (their autosaves), and
    files older than the layer's last save (``source["updated_at"]``).
    """
    layer = unwrap(binding.layer)
    saver = _autosavers.get(layer)
    folder = saver.folder if saver is not None else recovery.recovery_dir()
    try:
        image_path, image_hash, _kind = image_identity(layer, viewer)
    except OSError as err:
        logger.warning("cannot identify the image of %r: %s", layer.name, err)
        return None
    saved_at = _epoch(binding.document.source.get("updated_at"))
    live = live_recovery_paths()
    if large_segmentation_of(layer) is not None:  # its autosaves are overlays
        live_overlays = {recovery.overlay_paths(p.parent, p.name)[0] for p in live}
        found = recovery.find_overlay_recoveries(
            folder, image_path, image_hash, exclude=live_overlays
        )
        return next((i for i in found if saved_at is None or i.saved_at_epoch > saved_at), None)
    for info in recovery.find_recoveries(folder, image_path, image_hash, exclude=live):
        if saved_at is None or info.saved_at_epoch > saved_at:
            return info
    return None


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.astimezone()
    return when.timestamp()


def _prune_once(folder: Path) -> None:
    if folder in _pruned_folders:
        return
    _pruned_folders.add(folder)
    keep = frozenset(live_recovery_paths())
    _pool().submit(
        recovery.prune, folder, PRUNE_MAX_AGE_DAYS, PRUNE_MAX_FILES, keep=keep
    ).add_done_callback(_log_failure)


def _log_failure(future: Future) -> None:
    if future.exception() is not None:
        logger.warning("pruning recovery files failed: %s", future.exception())


def wait_idle(timeout: float = 30.0) -> None:
    """Block until every queued autosave / discard / prune has run (tests, shutdown)."""
    _pool().submit(lambda: None).result(timeout=timeout)


def restore_recovery(binding: LayerBinding, info: RecoveryInfo | os.PathLike | str) -> LayerBinding:
    """Replace the layer's pixels and document with a recovery file's; returns the new binding.

    Everything is read and checked before the layer is touched, so a bad file
    raises :class:`~napari_segtool.formats.recovery.RecoveryError` and changes nothing.
    Napari's undo history of the layer starts afresh (the data is replaced).
    """
    path = info.path if isinstance(info, RecoveryInfo) else Path(info)
    layer = unwrap(binding.layer)
    segmentation = large_segmentation_of(layer)
    if segmentation is not None:
        return _restore_overlay(layer, segmentation, path)
    saved = recovery.read_recovery(path)
    if tuple(layer.data.shape) != saved.info.labels_shape:
        raise recovery.RecoveryError(
            path,
            f"holds labels of shape {saved.info.labels_shape}, the layer {layer.name!r} "
            f"has {tuple(layer.data.shape)}",
        )
    try:
        document = Document.from_dict(saved.document)
    except DocumentError as err:  # read_recovery checked it; belt and braces
        raise recovery.RecoveryError(path, f"document: {err}") from None
    saver = _autosavers.get(layer)
    new_binding = bind(layer, document)
    if saver is not None:
        saver.rebind(new_binding)
    layer.data = saved.labels
    layer.metadata[METADATA_KEY] = document.to_dict()
    new_binding.sync_all()
    if saver is not None:
        saver.mark_restored(path)
    return new_binding


def _restore_overlay(layer: Labels, segmentation, path: Path) -> LayerBinding:
    """A windowed layer's recovery: the overlay's chunks written over its labels.

    Checked before anything changes (a bad file raises ``RecoveryError``). The
    window is reloaded (napari's undo history starts afresh) and the labels are
    counted again.
    """
    recovered, meta = recovery.read_overlay_recovery(path)
    labels = segmentation.labels
    if tuple(recovered.shape) != tuple(labels.shape) or recovered.dtype != labels.dtype:
        raise recovery.RecoveryError(
            path,
            f"holds {recovered.dtype} labels of shape {tuple(recovered.shape)}, the layer "
            f"{layer.name!r} has {labels.dtype} of {tuple(labels.shape)}",
        )
    document = Document.from_dict(meta["document"])
    saver = _autosavers.get(layer)
    new_binding = bind(layer, document)
    if saver is not None:
        saver.rebind(new_binding)
    segmentation.restore(recovered, new_binding)
    layer.metadata[METADATA_KEY] = document.to_dict()
    new_binding.sync_all()
    if saver is not None:
        saver.mark_restored(path.parent / recovery.recovery_name_of_overlay(path))
    return new_binding
