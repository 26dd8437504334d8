"""Recovery files: unsaved annotations kept safe between autosaves and crashes.

Pure (no Qt, no napari). One recovery file is a zip (readable by
``numpy.load`` as an ``.npz``) with two members:

``labels.npy``
    the layer's pixels, exact dtype and shape, deflate-compressed;
``meta.json``
    ``format`` / ``version``, ``saved_at`` (UTC, ISO 8601) and
    ``saved_at_epoch``, ``image_path``, ``image_name``, ``image_hash``,
    ``hash_kind``, ``layer_name``, ``layer`` (scale / translate),
    ``instance_count``, ``labels_shape`` / ``labels_dtype`` and ``document``
    (``Document.to_dict()``).

Big label arrays are kept as a full snapshot plus a **delta file** beside it
(:func:`delta_path`: the same name ending in :data:`DELTA_SUFFIX`): what
changed since the snapshot, as boxes of pixels, and the newest document. The
snapshot's ``meta.json`` has a ``snapshot_id``; a delta applies only to the
snapshot of its ``snapshot_id`` (a delta left over from an older snapshot is
ignored), so replacing the snapshot and then the delta, each atomically,
never mixes two states. A delta is a zip too: ``meta.json`` (``format``
:data:`DELTA_FORMAT_NAME`, ``version``, ``snapshot_id``, ``saved_at`` /
``saved_at_epoch``, ``layer_name``, ``layer``, ``instance_count``,
``document_changes`` (:func:`document_changes`: the instances and other
entries that differ from the snapshot's document, so 5,000 instances are not
rewritten for one stroke), ``regions``: ``[start, stop]`` per axis of each box) and
``pixels.npy`` (the boxes' pixels, C order, one after the other). Readers
see one recovery: :func:`read_recovery_info` and :func:`read_recovery`
return the snapshot with its delta applied.

Which image a file belongs to is ``image_path`` plus ``image_hash``: the
SHA-256 of the image *file's bytes* when the image came from a file
(``hash_kind = "file"``), otherwise of the image's pixel array, its dtype and
shape (``hash_kind = "pixels"``, e.g. the synthetic sample). So an image edited
on disk under the same name is not offered someone else's annotations.

Files are written atomically (:func:`napari_segtool.formats.toolkit.atomic.atomic_path`): a
crash mid-write leaves the previous recovery file whole. The reader trusts
nothing: every field, the zip's declared sizes (decompression bombs), the array
header and the document are checked before any pixel is read, and every
problem is a :class:`RecoveryError` naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import shutil
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from napari_segtool.formats.toolkit.atomic import atomic_path
from napari_segtool.model.document import Document, DocumentError
from napari_segtool.model.label_store import label_store

FORMAT_NAME = "napari-segtool-recovery"
FORMAT_VERSION = 1
SUFFIX = ".segtool-recovery.npz"
#: the delta file of ``<stem>.segtool-recovery.npz`` is ``<stem>.segtool-delta.npz``
DELTA_SUFFIX = ".segtool-delta.npz"
DELTA_FORMAT_NAME = "napari-segtool-recovery-delta"
DELTA_VERSION = 1
PIXELS_MEMBER = "pixels.npy"
#: environment variable that moves the recovery folder (tests point it at tmp)
RECOVERY_DIR_ENV = "NAPARI_SEGTOOL_RECOVERY_DIR"

LABELS_MEMBER = "labels.npy"
META_MEMBER = "meta.json"
#: pixel dtypes a segmentation layer may have
LABEL_DTYPES = ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
#: refuse files whose pixels would need more memory than this (bytes, uncompressed)
DEFAULT_MAX_LABEL_BYTES = 4 * 1024**3
#: the metadata holds the ontology and every answer, but never this much
MAX_META_BYTES = 64 * 1024**2
#: pixels are written in blocks this big (bounded extra memory while writing)
CHUNK_BYTES = 4 * 1024**2
_HASH_BLOCK = 1024**2
_SNAPSHOT_ID = re.compile(r"[0-9a-f]{8,64}")
#: what zipfile / zlib raise on damaged archives (bad CRC, bad deflate stream,
#: unknown compression method, inconsistent directory, ...)
_DAMAGE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    struct.error,
    NotImplementedError,
    ValueError,
)


class RecoveryError(ValueError):
    """A recovery file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class RecoveryInfo:
    """What a recovery file says about itself (read without its pixels)."""

    path: Path
    saved_at: str
    saved_at_epoch: float
    image_path: str | None
    image_name: str | None
    image_hash: str
    hash_kind: str
    layer_name: str
    instance_count: int
    labels_shape: tuple[int, ...]
    labels_dtype: str
    layer: dict[str, Any] = field(default_factory=dict)

    @property
    def saved_at_local(self) -> datetime:
        return datetime.fromtimestamp(self.saved_at_epoch).astimezone()


@dataclass(frozen=True)
class Recovery:
    """A whole recovery file: enough to rebuild the layer exactly."""

    info: RecoveryInfo
    labels: np.ndarray
    document: dict[str, Any]


# -- where and which ---------------------------------------------------------------
def recovery_dir() -> Path:
    """The user's recovery folder (``$NAPARI_SEGTOOL_RECOVERY_DIR`` wins)."""
    override = os.environ.get(RECOVERY_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("napari-segtool", appauthor=False)) / "recovery"


def hash_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (read in blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def hash_pixels(array: Any) -> str:
    """SHA-256 of an in-memory image: dtype, shape and C-order bytes."""
    array = np.ascontiguousarray(np.asarray(array))
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(memoryview(array.reshape(-1)).cast("B"))
    return digest.hexdigest()


def recovery_name(layer_name: str, image_hash: str, session: str) -> str:
    """A file name that is safe whatever the layer is called (no separators, no dots)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", layer_name).strip("_")[:40] or "layer"
    token = re.sub(r"[^A-Za-z0-9]+", "", session)[:32] or "session"
    return f"{slug}-{image_hash[:12]}-{token}{SUFFIX}"


# -- writing -------------------------------------------------------------------------
def _meta(
    format_name: str,
    version: int,
    saved_at: float | None,
    labels: Any,
    *,
    image_path: str | None,
    image_name: str | None,
    image_hash: str,
    hash_kind: str,
    layer_name: str,
    layer: dict[str, Any] | None,
    instance_count: int,
) -> dict[str, Any]:
    """The fields every recovery file's metadata starts with, in the order they are written."""
    when = time.time() if saved_at is None else saved_at
    return {
        "format": format_name,
        "version": version,
        "saved_at": datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds"),
        "saved_at_epoch": when,
        "image_path": image_path,
        "image_name": image_name,
        "image_hash": image_hash,
        "hash_kind": hash_kind,
        "layer_name": layer_name,
        "layer": layer or {},
        "instance_count": instance_count,
        "labels_shape": [int(n) for n in labels.shape],
        "labels_dtype": np.dtype(labels.dtype).name,
    }


def write_recovery(
    folder: str | os.PathLike,
    name: str,
    labels: np.ndarray,
    document: dict[str, Any],
    *,
    image_path: str | None,
    image_hash: str,
    hash_kind: str = "file",
    image_name: str | None = None,
    layer_name: str = "",
    layer: dict[str, Any] | None = None,
    instance_count: int | None = None,
    saved_at: float | None = None,
    snapshot_id: str | None = None,
) -> Path:
    """Write (or atomically replace) ``folder / name``; returns its path.

    ``labels`` must not change while this runs (pass a copy when writing off
    the UI thread). ``instance_count`` defaults to the document's instances
    that have pixels. ``snapshot_id`` (hex digits): the id a later delta file
    names (:func:`write_delta`); a delta of another snapshot no longer applies.
    """
    target = Path(folder) / name
    if Path(name).name != name or not name.endswith(SUFFIX):
        raise ValueError(f"recovery file name must be a plain '*{SUFFIX}' name, not {name!r}")
    labels = np.ascontiguousarray(labels)
    if labels.dtype.name not in LABEL_DTYPES:
        raise ValueError(f"labels of dtype {labels.dtype} cannot be recovered")
    if instance_count is None:
        ids = {i.get("label_id") for i in document.get("instances", [])}
        instance_count = len(ids & set(label_store(labels).ids())) if ids else 0
    meta = _meta(
        FORMAT_NAME,
        FORMAT_VERSION,
        saved_at,
        labels,
        image_path=image_path,
        image_name=image_name,
        image_hash=image_hash,
        hash_kind=hash_kind,
        layer_name=layer_name,
        layer=layer,
        instance_count=instance_count,
    )
    meta["document"] = document
    if snapshot_id is not None:
        if not _SNAPSHOT_ID.fullmatch(snapshot_id):
            raise ValueError(f"snapshot_id must be 8 to 64 hex digits, not {snapshot_id!r}")
        meta["snapshot_id"] = snapshot_id
    meta_bytes = json.dumps(meta, ensure_ascii=False, allow_nan=False).encode("utf-8")
    # Level 1: label images are long runs of equal values, so fast deflate
    # already shrinks them ~50-100x; higher levels cost seconds for little.
    with (
        atomic_path(target) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
    ):
        archive.writestr(META_MEMBER, meta_bytes)
        with archive.open(LABELS_MEMBER, "w", force_zip64=True) as stream:
            np.lib.format.write_array_header_2_0(
                stream, np.lib.format.header_data_from_array_1_0(labels)
            )
            flat = labels.reshape(-1)
            step = max(1, CHUNK_BYTES // labels.itemsize)
            for start in range(0, flat.size, step):
                _write_chunk(stream, memoryview(flat[start : start + step]).cast("B"))
    return target


def _write_chunk(stream, chunk) -> None:
    """One block of pixels (a seam the crash test slows down)."""
    stream.write(chunk)


def delta_path(path: str | os.PathLike) -> Path:
    """The delta file that goes with the recovery file ``path``."""
    path = Path(path)
    stem = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name
    return path.with_name(stem + DELTA_SUFFIX)


def write_delta(
    folder: str | os.PathLike,
    name: str,
    snapshot_id: str,
    regions: list[tuple[tuple[slice, ...], np.ndarray]],
    changes: dict[str, Any],
    *,
    labels_shape: tuple[int, ...],
    labels_dtype: str,
    layer_name: str = "",
    layer: dict[str, Any] | None = None,
    instance_count: int = 0,
    saved_at: float | None = None,
) -> Path:
    """Write (or atomically replace) the delta file of recovery file ``folder / name``.

    ``regions``: boxes of the label array (plain slices, one per axis) and
    their pixels now, everything that changed since snapshot ``snapshot_id``
    was copied; ``changes``: :func:`document_changes` from the snapshot's
    document to the current one. The bytes written are those of the boxes and
    of the changed instances, not of the array. Returns the delta's path.
    """
    if Path(name).name != name or not name.endswith(SUFFIX):
        raise ValueError(f"recovery file name must be a plain '*{SUFFIX}' name, not {name!r}")
    if not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise ValueError(f"snapshot_id must be 8 to 64 hex digits, not {snapshot_id!r}")
    dtype = np.dtype(labels_dtype)
    boxes, blocks = [], []
    for box, pixels in regions:
        box = _check_box(box, labels_shape)
        pixels = np.asarray(pixels)
        if pixels.shape != tuple(b - a for a, b in box) or pixels.dtype != dtype:
            raise ValueError(f"pixels {pixels.shape} {pixels.dtype} do not fit the box {box}")
        boxes.append([list(a_b) for a_b in box])
        blocks.append(np.ascontiguousarray(pixels).reshape(-1))
    when = time.time() if saved_at is None else saved_at
    meta = {
        "format": DELTA_FORMAT_NAME,
        "version": DELTA_VERSION,
        "snapshot_id": snapshot_id,
        "saved_at": datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds"),
        "saved_at_epoch": when,
        "layer_name": layer_name,
        "layer": layer or {},
        "instance_count": instance_count,
        "regions": boxes,
        "document_changes": changes,
    }
    meta_bytes = json.dumps(meta, ensure_ascii=False, allow_nan=False).encode("utf-8")
    flat = np.concatenate(blocks) if blocks else np.zeros(0, dtype=dtype)
    target = delta_path(Path(folder) / name)
    with (
        atomic_path(target) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
    ):
        archive.writestr(META_MEMBER, meta_bytes)
        with archive.open(PIXELS_MEMBER, "w", force_zip64=True) as stream:
            np.lib.format.write_array_header_2_0(
                stream, np.lib.format.header_data_from_array_1_0(flat)
            )
            step = max(1, CHUNK_BYTES // flat.itemsize)
            for start in range(0, flat.size, step):
                _write_chunk(stream, memoryview(flat[start : start + step]).cast("B"))
    return target


def document_changes(base: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """What turns document dict ``base`` into ``current`` (see :func:`apply_document_changes`).

    ``instances``: the entries that are new or differ; ``removed``: label ids
    gone; ``entries``: other top-level entries that differ; ``order``: the
    label ids in order, only when removing and appending does not give it.
    """
    old = {entry.get("label_id"): entry for entry in base.get("instances", [])}
    now = current.get("instances", [])
    # the binding replaces an entry when it changes: most compare by identity
    changed = [
        e for e in now if old.get(e.get("label_id")) is not e and old.get(e.get("label_id")) != e
    ]
    ids = [e.get("label_id") for e in now]
    present = set(ids)
    removed = [i for i in old if i not in present]
    changes: dict[str, Any] = {
        "instances": changed,
        "removed": removed,
        "entries": {k: v for k, v in current.items() if k != "instances" and base.get(k) != v},
        "dropped": [k for k in base if k != "instances" and k not in current],
    }
    kept = [i for i in old if i in present]
    known = set(old)
    if kept + [i for i in ids if i not in known] != ids:
        changes["order"] = ids
    return changes


def apply_document_changes(base: dict[str, Any], changes: Any) -> dict[str, Any]:
    """``base`` with :func:`document_changes` applied; ``ValueError`` if they are malformed."""
    if not isinstance(changes, dict):
        raise ValueError("document_changes: must be an object")
    changed, removed = changes.get("instances"), changes.get("removed")
    entries, dropped = changes.get("entries"), changes.get("dropped")
    if not isinstance(changed, list) or not all(isinstance(e, dict) for e in changed):
        raise ValueError("document_changes.instances: must be a list of objects")
    if not isinstance(removed, list) or not isinstance(dropped, list):
        raise ValueError("document_changes.removed / dropped: must be lists")
    if not isinstance(entries, dict) or "instances" in entries:
        raise ValueError("document_changes.entries: must be an object without instances")
    instances = base.get("instances", [])
    if not isinstance(instances, list) or not all(isinstance(e, dict) for e in instances):
        raise ValueError("the snapshot's instances must be a list of objects")
    by_id = {entry.get("label_id"): entry for entry in instances}
    gone = set(removed)
    for entry in changed:
        by_id[entry.get("label_id")] = entry
    order = changes.get("order")
    if order is None:
        order = [i for i in by_id if i not in gone]
    elif not isinstance(order, list) or set(order) - set(by_id) or set(order) & gone:
        raise ValueError("document_changes.order: must list the instances' label ids")
    document = {k: v for k, v in base.items() if k not in set(map(str, dropped))}
    document.update(entries)
    document["instances"] = [by_id[i] for i in order]
    return document


def _check_box(box, shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    if len(box) != len(shape):
        raise ValueError(f"box {box} does not have one slice per axis of {shape}")
    pairs = []
    for part, size in zip(box, shape, strict=True):
        start, stop = (part.start, part.stop) if isinstance(part, slice) else part
        if getattr(part, "step", None) not in (None, 1):
            raise ValueError(f"box {box} must be plain slices")
        if not (0 <= start < stop <= size):
            raise ValueError(f"box {box} lies outside labels of shape {shape}")
        pairs.append((int(start), int(stop)))
    return tuple(pairs)


# -- reading -------------------------------------------------------------------------
def read_recovery_info(
    path: str | os.PathLike, max_label_bytes: int = DEFAULT_MAX_LABEL_BYTES
) -> RecoveryInfo:
    """The metadata of a recovery file, checked; the pixels are not read."""
    path = Path(path)
    with _open_archive(path) as archive:
        info, document, snapshot_id = _read_meta(path, archive, max_label_bytes)
    delta = _read_delta_meta(path, info, snapshot_id, document)
    return delta[0] if delta is not None else info


def read_recovery(
    path: str | os.PathLike, max_label_bytes: int = DEFAULT_MAX_LABEL_BYTES
) -> Recovery:
    """Read and check a whole recovery file, or raise :class:`RecoveryError`."""
    path = Path(path)
    with _open_archive(path) as archive:
        info, document, snapshot_id = _read_meta(path, archive, max_label_bytes)
        labels = _read_labels(path, archive, info)
    delta = _read_delta_meta(path, info, snapshot_id, document)
    if delta is not None:
        info, document, boxes = delta
        source = delta_path(path)
        with _open_archive(source) as archive:
            pixels = _read_array(
                source,
                archive,
                PIXELS_MEMBER,
                np.dtype(info.labels_dtype),
                (sum(math.prod(b - a for a, b in box) for box in boxes),),
            )
        offset = 0
        for box in boxes:
            shape = tuple(b - a for a, b in box)
            size = math.prod(shape)
            labels[tuple(slice(a, b) for a, b in box)] = pixels[offset : offset + size].reshape(
                shape
            )
            offset += size
    return Recovery(info=info, labels=labels, document=document)


def _read_delta_meta(
    path: Path, info: RecoveryInfo, snapshot_id: str | None, base_document: dict[str, Any]
) -> tuple[RecoveryInfo, dict[str, Any], list[tuple[tuple[int, int], ...]]] | None:
    """The delta of snapshot ``snapshot_id``, checked: (info as of the delta, document, boxes).

    ``None`` when the snapshot has no id, there is no delta file, or the delta
    belongs to another snapshot (left over from before the snapshot was replaced).
    """
    source = delta_path(path)
    if snapshot_id is None or not source.exists():
        return None
    with _open_archive(source) as archive:
        member = _member(source, archive, META_MEMBER)
        if member.file_size > MAX_META_BYTES:
            raise RecoveryError(
                source, f"{META_MEMBER} is {member.file_size} bytes (limit {MAX_META_BYTES})"
            )
        try:
            meta = json.loads(archive.read(member).decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise RecoveryError(source, f"{META_MEMBER} is not valid JSON ({err})") from None
        if not isinstance(meta, dict) or meta.get("format") != DELTA_FORMAT_NAME:
            raise RecoveryError(source, f"not a {DELTA_FORMAT_NAME} file")
        if meta.get("version") != DELTA_VERSION or isinstance(meta.get("version"), bool):
            raise RecoveryError(source, f"unsupported delta version {meta.get('version')!r}")
        if meta.get("snapshot_id") != snapshot_id:
            return None  # a delta of an older snapshot: the snapshot has it all
        epoch = _field(source, meta, "saved_at_epoch", (int, float))
        if not math.isfinite(epoch) or not 0 <= epoch < 1e11:
            raise RecoveryError(source, f"saved_at_epoch: not a plausible time ({epoch!r})")
        saved_at = _field(source, meta, "saved_at", str)
        count = _field(source, meta, "instance_count", int)
        if not 0 <= count < 2**63:
            raise RecoveryError(source, f"instance_count: out of range ({count})")
        layer = meta.get("layer", {})
        if not isinstance(layer, dict):
            raise RecoveryError(source, "layer: must be an object")
        regions = _field(source, meta, "regions", list)
        try:
            boxes = [
                _check_box([tuple(pair) for pair in box], info.labels_shape)
                for box in regions
                if isinstance(box, list)
                and all(isinstance(p, list) and len(p) == 2 for p in box)
                and all(isinstance(v, int) and not isinstance(v, bool) for p in box for v in p)
            ]
        except ValueError as err:
            raise RecoveryError(source, f"regions: {err}") from None
        if len(boxes) != len(regions):
            raise RecoveryError(source, "regions: each must be [start, stop] per axis")
        total = sum(math.prod(b - a for a, b in box) for box in boxes)
        if total > math.prod(info.labels_shape) * 8:
            raise RecoveryError(source, f"regions: {total} pixels, more than the labels hold")
        try:
            document = apply_document_changes(base_document, meta.get("document_changes"))
            parsed = Document.from_dict(document)
        except (DocumentError, ValueError) as err:
            raise RecoveryError(source, f"document: {err}") from None
        except Exception as err:  # a hostile document must not escape as a crash
            raise RecoveryError(
                source, f"document: unusable ({type(err).__name__}: {err})"
            ) from None
        too_big = [i for i in parsed.instances if i > np.iinfo(info.labels_dtype).max]
        if too_big:
            raise RecoveryError(
                source,
                f"document: label id {too_big[0]} does not fit the {info.labels_dtype} pixels",
            )
    updated = replace(
        info,
        saved_at=saved_at,
        saved_at_epoch=float(epoch),
        layer_name=_field(source, meta, "layer_name", str),
        instance_count=count,
        layer=layer,
    )
    return updated, document, boxes


@contextlib.contextmanager
def _open_archive(path: Path):
    if path.is_symlink():
        raise RecoveryError(path, "is a symbolic link; recovery files are plain files")
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise RecoveryError(path, "file not found") from None
    except OSError as err:
        raise RecoveryError(path, f"cannot read file ({err.strerror or err})") from None
    except _DAMAGE as err:
        raise RecoveryError(path, f"not a recovery file (damaged or truncated: {err})") from None
    try:
        yield archive
    except RecoveryError:
        raise
    except (OSError, *_DAMAGE) as err:
        raise RecoveryError(path, f"damaged or truncated data ({err})") from None
    finally:
        archive.close()


def _member(path: Path, archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    infos = [i for i in archive.infolist() if i.filename == name]
    if len(infos) != 1:
        problem = "is missing" if not infos else "appears more than once"
        raise RecoveryError(path, f"member {name!r} {problem}")
    return infos[0]


def _read_meta(
    path: Path, archive: zipfile.ZipFile, max_label_bytes: int
) -> tuple[RecoveryInfo, dict[str, Any], str | None]:
    member = _member(path, archive, META_MEMBER)
    # The declared size bounds what zipfile will inflate, so a bomb is refused here.
    if member.file_size > MAX_META_BYTES:
        raise RecoveryError(
            path, f"{META_MEMBER} is {member.file_size} bytes (limit {MAX_META_BYTES})"
        )
    raw = archive.read(member)
    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise RecoveryError(path, f"{META_MEMBER} is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise RecoveryError(path, f"{META_MEMBER} must be an object, not {type(meta).__name__}")
    if meta.get("format") != FORMAT_NAME:
        raise RecoveryError(path, f"format is {meta.get('format')!r}, not {FORMAT_NAME!r}")
    version = meta.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise RecoveryError(
            path, f"unsupported recovery version {version!r} (this plugin reads {FORMAT_VERSION})"
        )
    epoch = _field(path, meta, "saved_at_epoch", (int, float))
    if not math.isfinite(epoch) or not 0 <= epoch < 1e11:
        raise RecoveryError(path, f"saved_at_epoch: not a plausible time ({epoch!r})")
    image_hash = _field(path, meta, "image_hash", str)
    if not re.fullmatch(r"[0-9a-f]{64}", image_hash):
        raise RecoveryError(path, "image_hash: must be 64 hex digits (SHA-256)")
    hash_kind = _field(path, meta, "hash_kind", str)
    if hash_kind not in ("file", "pixels"):
        raise RecoveryError(path, f"hash_kind: must be 'file' or 'pixels', not {hash_kind!r}")
    count = _field(path, meta, "instance_count", int)
    if not 0 <= count < 2**63:
        raise RecoveryError(path, f"instance_count: out of range ({count})")
    shape = _field(path, meta, "labels_shape", list)
    if not 2 <= len(shape) <= 5 or not all(
        isinstance(n, int) and not isinstance(n, bool) and 0 < n < 2**40 for n in shape
    ):
        raise RecoveryError(path, f"labels_shape: must be 2 to 5 positive sizes, not {shape!r}")
    dtype = _field(path, meta, "labels_dtype", str)
    if dtype not in LABEL_DTYPES:
        raise RecoveryError(path, f"labels_dtype: {dtype!r} is not a label dtype")
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if nbytes > max_label_bytes:
        raise RecoveryError(
            path, f"labels would take {nbytes} bytes in memory (limit {max_label_bytes})"
        )
    layer = meta.get("layer", {})
    if not isinstance(layer, dict):
        raise RecoveryError(path, "layer: must be an object")
    document = meta.get("document")
    try:
        parsed = Document.from_dict(document)
    except DocumentError as err:
        raise RecoveryError(path, f"document: {err}") from None
    except Exception as err:  # a hostile document must not escape as a crash
        raise RecoveryError(path, f"document: unusable ({type(err).__name__}: {err})") from None
    too_big = [i for i in parsed.instances if i > np.iinfo(dtype).max]
    if too_big:
        raise RecoveryError(
            path, f"document: label id {too_big[0]} does not fit the {dtype} pixels"
        )
    saved_at = _field(path, meta, "saved_at", str)
    try:
        datetime.fromisoformat(saved_at)
    except ValueError:
        raise RecoveryError(path, f"saved_at: not an ISO 8601 time ({saved_at!r:.40})") from None
    info = RecoveryInfo(
        path=path,
        saved_at=saved_at,
        saved_at_epoch=float(epoch),
        image_path=_field(path, meta, "image_path", str, optional=True),
        image_name=_field(path, meta, "image_name", str, optional=True),
        image_hash=image_hash,
        hash_kind=hash_kind,
        layer_name=_field(path, meta, "layer_name", str),
        instance_count=count,
        labels_shape=tuple(shape),
        labels_dtype=dtype,
        layer=layer,
    )
    snapshot_id = _field(path, meta, "snapshot_id", str, optional=True)
    if snapshot_id is not None and not _SNAPSHOT_ID.fullmatch(snapshot_id):
        raise RecoveryError(path, "snapshot_id: must be 8 to 64 hex digits")
    return info, document, snapshot_id


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def _field(path: Path, meta: dict, key: str, kind, optional: bool = False):
    value = meta.get(key)
    if value is None and optional:
        return None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) or not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise RecoveryError(path, f"{key}: must be {expected}, not {value!r:.80}")
    return value


def _read_labels(path: Path, archive: zipfile.ZipFile, info: RecoveryInfo) -> np.ndarray:
    return _read_array(path, archive, LABELS_MEMBER, np.dtype(info.labels_dtype), info.labels_shape)


def _read_array(
    path: Path, archive: zipfile.ZipFile, name: str, dtype: np.dtype, shape: tuple[int, ...]
) -> np.ndarray:
    """Member ``name``, an ``.npy`` that must hold exactly ``dtype`` and ``shape``."""
    member = _member(path, archive, name)
    expected = math.prod(shape) * dtype.itemsize
    # header (<= a few hundred bytes) + pixels; anything bigger is not ours
    if member.file_size > expected + 4096:
        raise RecoveryError(
            path, f"{name} declares {member.file_size} bytes, expected about {expected}"
        )
    with archive.open(member) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                found, fortran, header_dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                found, fortran, header_dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except (ValueError, SyntaxError, EOFError) as err:
            raise RecoveryError(path, f"{name}: bad array header ({err})") from None
        if header_dtype.hasobject or header_dtype != dtype or fortran:
            raise RecoveryError(
                path,
                f"{name}: holds {header_dtype}{' (Fortran order)' if fortran else ''}, "
                f"metadata says {dtype}",
            )
        if tuple(found) != tuple(shape):
            what = "labels_shape" if name == LABELS_MEMBER else "the regions' size"
            raise RecoveryError(path, f"{name}: shape {tuple(found)} != {what} {tuple(shape)}")
        buffer = io.BytesIO()
        while block := stream.read(CHUNK_BYTES):
            buffer.write(block)
            if buffer.tell() > expected:
                break
    data = buffer.getbuffer()
    if len(data) != expected:
        raise RecoveryError(
            path, f"{name}: {len(data)} bytes of pixels, expected {expected} (truncated?)"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


# -- finding and tidying ---------------------------------------------------------------
def iter_recovery_files(folder: str | os.PathLike) -> list[Path]:
    """Recovery files in ``folder`` (plain files only: symlinks are ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    names = (p for p in folder.iterdir() if p.name.endswith(SUFFIX))
    return sorted(p for p in names if p.is_file() and not p.is_symlink())


def find_recoveries(
    folder: str | os.PathLike,
    image_path: str | None,
    image_hash: str,
    *,
    exclude: set[Path] | frozenset[Path] = frozenset(),
) -> list[RecoveryInfo]:
    """Readable recovery files for this image (same path and hash), newest first.

    Damaged files are skipped (a later :func:`prune` removes them).
    """
    wanted_path = _normal_path(image_path)
    found = []
    for path in iter_recovery_files(folder):
        if path in exclude:
            continue
        try:
            info = read_recovery_info(path)
        except RecoveryError:
            continue
        if info.image_hash == image_hash and _normal_path(info.image_path) == wanted_path:
            found.append(info)
    return sorted(found, key=lambda i: i.saved_at_epoch, reverse=True)


def discard(paths: Path | list[Path] | list[RecoveryInfo] | RecoveryInfo) -> None:
    """Delete recovery files (missing ones are fine)."""
    if not isinstance(paths, list):
        paths = [paths]
    for item in paths:
        path = item.path if isinstance(item, RecoveryInfo) else Path(item)
        if path.name.endswith(SUFFIX) and not path.is_symlink():
            path.unlink(missing_ok=True)
            delta = delta_path(path)
            if not delta.is_symlink():
                delta.unlink(missing_ok=True)


def prune(
    folder: str | os.PathLike,
    max_age_days: float = 30,
    max_files: int = 50,
    *,
    keep: set[Path] | frozenset[Path] = frozenset(),
    now: float | None = None,
) -> list[Path]:
    """Delete recovery files older than ``max_age_days``, damaged ones, and all
    but the newest ``max_files``, plus temp files that crashed writes left (after
    an hour); ``keep`` is never touched. Returns what went."""
    now = time.time() if now is None else now
    dated: list[tuple[float, Path]] = []
    removed: list[Path] = []
    for path in iter_recovery_files(folder):
        if path in keep:
            continue
        try:
            epoch = read_recovery_info(path).saved_at_epoch
        except RecoveryError:
            # A damaged file can still be a write in progress elsewhere: give it an hour.
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > 3600:
                    removed.append(path)
            continue
        if now - epoch > max_age_days * 86400:
            removed.append(path)
        else:
            dated.append((epoch, path))
    dated.sort(reverse=True)
    removed.extend(path for _epoch, path in dated[max(0, max_files - len(keep)) :])
    # temp files of writes that a crash interrupted (see toolkit.atomic.atomic_path),
    # and deltas whose recovery file is gone
    folder = Path(folder)
    leftovers = (
        [
            *folder.glob(f".*{SUFFIX}.*.tmp"),
            *folder.glob(f".*{DELTA_SUFFIX}.*.tmp"),
            *(
                delta
                for delta in folder.glob(f"*{DELTA_SUFFIX}")
                if not delta.with_name(delta.name[: -len(DELTA_SUFFIX)] + SUFFIX).exists()
            ),
        ]
        if folder.is_dir()
        else []
    )
    for path in leftovers:
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink() and now - path.stat().st_mtime > 3600:
                removed.append(path)
    for path in removed:
        path.unlink(missing_ok=True)
        delta = delta_path(path)
        if path.name.endswith(SUFFIX) and not delta.is_symlink():
            delta.unlink(missing_ok=True)
    return removed


def _normal_path(path: str | None) -> str | None:
    if not path:
        return None
    return os.path.normcase(os.path.abspath(path))


# -- segmentations larger than memory: an overlay folder and its meta file ----------------
#: ``<stem>.segtool-overlay.json`` beside ``<stem>.e<epoch>.segtool-overlay`` (a zarr folder
#: written by ``ChunkedLabels.spill_to``: the written chunks only, never the whole volume)
OVERLAY_META_SUFFIX = ".segtool-overlay.json"
OVERLAY_FOLDER_SUFFIX = ".segtool-overlay"
OVERLAY_FORMAT_NAME = "napari-segtool-overlay-recovery"
OVERLAY_FORMAT_VERSION = 1


def overlay_paths(folder: str | os.PathLike, name: str, epoch: int = 0) -> tuple[Path, Path]:
    """The meta file and the overlay folder that stand for recovery file ``name``.

    ``epoch`` starts a new folder (after a save its old one is gone, and a
    spill to a new folder writes every written chunk again).
    """
    if Path(name).name != name or not name.endswith(SUFFIX):
        raise ValueError(f"recovery file name must be a plain '*{SUFFIX}' name, not {name!r}")
    stem = name[: -len(SUFFIX)]
    folder = Path(folder)
    return (
        folder / f"{stem}{OVERLAY_META_SUFFIX}",
        folder / f"{stem}.e{epoch}{OVERLAY_FOLDER_SUFFIX}",
    )


def write_overlay_recovery(
    folder: str | os.PathLike,
    name: str,
    labels: Any,
    document: dict[str, Any],
    *,
    epoch: int = 0,
    image_path: str | None,
    image_hash: str,
    hash_kind: str = "file",
    image_name: str | None = None,
    layer_name: str = "",
    layer: dict[str, Any] | None = None,
    instance_count: int = 0,
    saved_at: float | None = None,
) -> Path:
    """Recovery of a ``ChunkedLabels``: its written chunks spilled to the overlay folder
    (only those changed since the last spill there), then the meta file replaced
    atomically. Returns the meta file's path."""
    meta_path, overlay = overlay_paths(folder, name, epoch)
    overlay.parent.mkdir(parents=True, exist_ok=True)
    labels.spill_to(overlay)
    meta = _meta(
        OVERLAY_FORMAT_NAME,
        OVERLAY_FORMAT_VERSION,
        saved_at,
        labels,
        image_path=image_path,
        image_name=image_name,
        image_hash=image_hash,
        hash_kind=hash_kind,
        layer_name=layer_name,
        layer=layer,
        instance_count=instance_count,
    )
    meta["overlay"] = overlay.name
    meta["document"] = document
    text = json.dumps(meta, ensure_ascii=False, allow_nan=False)
    with atomic_path(meta_path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    for old in Path(folder).glob(f"{name[: -len(SUFFIX)]}.e*{OVERLAY_FOLDER_SUFFIX}"):
        if old != overlay and old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
    return meta_path


def _overlay_meta(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_META_BYTES:
            raise RecoveryError(path, "the recovery metadata is too large")
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecoveryError(path, f"cannot be read ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != OVERLAY_FORMAT_NAME:
        raise RecoveryError(path, "is not a napari-segtool overlay recovery")
    if meta.get("version") != OVERLAY_FORMAT_VERSION:
        raise RecoveryError(path, f"unknown version {meta.get('version')!r}")
    overlay = meta.get("overlay")
    if not isinstance(overlay, str) or Path(overlay).name != overlay or not overlay:
        raise RecoveryError(path, "names no overlay folder beside it")
    shape = meta.get("labels_shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise RecoveryError(path, f"labels_shape {shape!r} is not a shape")
    if meta.get("labels_dtype") not in LABEL_DTYPES:
        raise RecoveryError(path, f"labels of dtype {meta.get('labels_dtype')!r}")
    try:
        Document.from_dict(meta.get("document"))
    except DocumentError as error:
        raise RecoveryError(path, f"document: {error}") from None
    return meta


def read_overlay_info(path: str | os.PathLike) -> RecoveryInfo:
    """What an overlay recovery says about itself, checked (its chunks are not read)."""
    path = Path(path)
    meta = _overlay_meta(path)
    try:
        return RecoveryInfo(
            path=path,
            saved_at=str(meta["saved_at"]),
            saved_at_epoch=float(meta["saved_at_epoch"]),
            image_path=meta.get("image_path"),
            image_name=meta.get("image_name"),
            image_hash=str(meta["image_hash"]),
            hash_kind=str(meta.get("hash_kind", "file")),
            layer_name=str(meta.get("layer_name", "")),
            instance_count=int(meta.get("instance_count", 0)),
            labels_shape=tuple(meta["labels_shape"]),
            labels_dtype=str(meta["labels_dtype"]),
            layer=dict(meta.get("layer") or {}),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RecoveryError(path, f"bad field ({error})") from None


def read_overlay_recovery(path: str | os.PathLike, base: Any = None) -> tuple[Any, dict[str, Any]]:
    """``(ChunkedLabels, meta)`` of an overlay recovery, over ``base`` (the base it had:
    the label levels of the store the segmentation was opened from, or ``None``: the
    overlay's chunks over zeros). Raises :class:`RecoveryError` naming the file."""
    from napari_segtool.model.chunked_labels import ChunkedLabels, OverlayError

    path = Path(path)
    meta = _overlay_meta(path)
    try:
        labels = ChunkedLabels.recover(path.parent / meta["overlay"], base=base)
    except OverlayError as error:
        raise RecoveryError(path, str(error)) from None
    if list(labels.shape) != meta["labels_shape"]:
        expected = meta["labels_shape"]
        raise RecoveryError(path, f"holds {tuple(labels.shape)} pixels, not {expected}")
    return labels, meta


def find_overlay_recoveries(
    folder: str | os.PathLike,
    image_path: str | None,
    image_hash: str,
    *,
    exclude: set[Path] | frozenset[Path] = frozenset(),
) -> list[RecoveryInfo]:
    """Readable overlay recoveries for this image (same path and hash), newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    wanted = _normal_path(image_path)
    found = []
    for path in folder.glob(f"*{OVERLAY_META_SUFFIX}"):
        if path in exclude or path.is_symlink():
            continue
        try:
            info = read_overlay_info(path)
        except RecoveryError:
            continue
        if info.image_hash == image_hash and _normal_path(info.image_path) == wanted:
            found.append(info)
    return sorted(found, key=lambda i: i.saved_at_epoch, reverse=True)


def recovery_name_of_overlay(path: str | os.PathLike) -> str:
    """The recovery file name an overlay meta file stands for (what an autosaver adopts)."""
    name = Path(path).name
    if not name.endswith(OVERLAY_META_SUFFIX):
        raise ValueError(f"{path}: not an overlay recovery ('*{OVERLAY_META_SUFFIX}')")
    return name[: -len(OVERLAY_META_SUFFIX)] + SUFFIX


def discard_overlay(folder: str | os.PathLike, name: str) -> None:
    """Delete the overlay recovery that stands for recovery file ``name`` (missing is fine)."""
    meta_path, _overlay = overlay_paths(folder, name)
    meta_path.unlink(missing_ok=True)
    for old in Path(folder).glob(f"{name[: -len(SUFFIX)]}.e*{OVERLAY_FOLDER_SUFFIX}"):
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
