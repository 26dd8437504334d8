"""Recovery files: format, finding, pruning, and a reader that trusts nothing."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_segtool import load_default_ontology
from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import (
    SUFFIX,
    RecoveryError,
    find_recoveries,
    hash_file,
    hash_pixels,
    prune,
    read_recovery,
    read_recovery_info,
    recovery_dir,
    recovery_name,
    write_recovery,
)
from napari_segtool.model.document import Document

FIXTURE_OK = HealthCheck.function_scoped_fixture  # the fixtures are read-only here

HASH = "ab" * 32
OTHER_HASH = "cd" * 32


def make_document() -> Document:
    document = Document(ontology=load_default_ontology(), source={"image_name": "cells"})
    classes = document.ontology.segmentation_classes
    document.add_instance(1, classes[0].feature_schema_id)
    document.add_instance(7, classes[-1].feature_schema_id)
    return document


def make_labels(shape=(60, 80), dtype=np.uint32) -> np.ndarray:
    labels = np.zeros(shape, dtype=dtype)
    labels[5:20, 5:30] = 1
    labels[30:50, 40:70] = 7
    return labels


def write(folder, name="cells-x-s1" + SUFFIX, labels=None, document=None, **kwargs):
    kwargs.setdefault("image_path", None)
    kwargs.setdefault("image_hash", HASH)
    kwargs.setdefault("hash_kind", "pixels")
    kwargs.setdefault("layer_name", "cells segmentation")
    return write_recovery(
        folder,
        name,
        make_labels() if labels is None else labels,
        (document or make_document()).to_dict(),
        **kwargs,
    )


def rewrite(path, meta=None, labels_bytes=None, extra=()):
    """Rebuild a recovery zip with some members replaced (hostile files)."""
    with zipfile.ZipFile(path) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    if meta is not None:
        members[recovery.META_MEMBER] = (
            meta if isinstance(meta, bytes) else json.dumps(meta).encode()
        )
    if labels_bytes is not None:
        members[recovery.LABELS_MEMBER] = labels_bytes
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [*members.items(), *extra]:
            archive.writestr(name, data)
    return path


def meta_of(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(recovery.META_MEMBER))


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


# -- the format -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int64])
def test_round_trip_is_exact(tmp_path, dtype):
    labels = make_labels(dtype=dtype)
    document = make_document()
    path = write(tmp_path, labels=labels, document=document, layer={"scale": [2.0, 2.0]})
    saved = read_recovery(path)
    assert saved.labels.dtype == labels.dtype
    np.testing.assert_array_equal(saved.labels, labels)
    assert Document.from_dict(saved.document).to_dict() == document.to_dict()
    info = saved.info
    assert (info.image_hash, info.hash_kind, info.image_path) == (HASH, "pixels", None)
    assert info.layer_name == "cells segmentation"
    assert info.instance_count == 2
    assert info.labels_shape == labels.shape
    assert info.layer == {"scale": [2.0, 2.0]}
    assert abs(info.saved_at_epoch - time.time()) < 60


def test_file_is_compressed_and_an_npz(tmp_path):
    labels = np.zeros((1000, 1000), np.uint32)
    labels[100:200, 100:200] = 1
    path = write(tmp_path, labels=labels)
    assert path.stat().st_size < labels.nbytes / 50
    with np.load(path) as npz:  # plain numpy can read the pixels
        np.testing.assert_array_equal(npz["labels"], labels)


def test_large_3d_labels_are_written_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(recovery, "CHUNK_BYTES", 1000)
    chunks = []
    original = recovery._write_chunk
    monkeypatch.setattr(
        recovery, "_write_chunk", lambda s, c: (chunks.append(len(c)), original(s, c))
    )
    labels = np.arange(4 * 30 * 40, dtype=np.uint16).reshape(4, 30, 40)
    path = write(tmp_path, labels=labels, document=Document(ontology=load_default_ontology()))
    assert len(chunks) > 5 and max(chunks) <= 1000
    np.testing.assert_array_equal(read_recovery(path).labels, labels)


def test_instance_count_counts_instances_with_pixels(tmp_path):
    document = make_document()
    document.add_instance(9, document.ontology.segmentation_classes[0].feature_schema_id)
    path = write(tmp_path, document=document)  # id 9 has no pixels
    assert read_recovery_info(path).instance_count == 2


def test_rewrite_replaces_atomically(tmp_path):
    path = write(tmp_path)
    labels = make_labels()
    labels[0, 0] = 7
    write(tmp_path, labels=labels)
    assert read_recovery(path).labels[0, 0] == 7
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_names_are_safe_whatever_the_layer_is_called():
    for layer_name in ["../../etc/passwd", "a/b\\c", "..", "", "é€🐟 " * 30, "x\x00y"]:
        name = recovery_name(layer_name, HASH, "../sess")
        assert "/" not in name and "\\" not in name and "\x00" not in name
        assert name.endswith(SUFFIX) and not name.startswith(".")
        assert len(name) < 120


def test_write_refuses_names_with_folders_and_odd_dtypes(tmp_path):
    with pytest.raises(ValueError, match="plain"):
        write(tmp_path, name="../escape" + SUFFIX)
    with pytest.raises(ValueError, match="dtype"):
        write(tmp_path, labels=np.zeros((4, 4), np.float32))


def test_hashes():
    assert hash_pixels(np.zeros((2, 3), np.uint8)) != hash_pixels(np.zeros((3, 2), np.uint8))
    assert hash_pixels(np.zeros((2, 3), np.uint8)) != hash_pixels(np.zeros((2, 3), np.uint16))
    assert hash_pixels(np.arange(6).reshape(2, 3).T) == hash_pixels(
        np.ascontiguousarray(np.arange(6).reshape(2, 3).T)
    )


def test_hash_file_is_sha256_of_the_bytes(tmp_path):
    import hashlib

    target = tmp_path / "img.png"
    target.write_bytes(b"\x89PNG" + bytes(range(256)) * 5000)
    assert hash_file(target) == hashlib.sha256(target.read_bytes()).hexdigest()


def test_recovery_dir_env_override_and_platformdirs_default(monkeypatch, tmp_path):
    monkeypatch.setenv(recovery.RECOVERY_DIR_ENV, str(tmp_path / "rec"))
    assert recovery_dir() == tmp_path / "rec"
    monkeypatch.delenv(recovery.RECOVERY_DIR_ENV)
    import platformdirs

    expected = platformdirs.user_data_dir("napari-segtool", appauthor=False)
    assert recovery_dir() == __import__("pathlib").Path(expected) / "recovery"


# -- finding, discarding, pruning -----------------------------------------------------------------
def test_find_matches_path_and_hash_newest_first(tmp_path):
    image = str(tmp_path / "img.png")
    old = write(tmp_path, "a" + SUFFIX, image_path=image, hash_kind="file", saved_at=1000.0)
    new = write(tmp_path, "b" + SUFFIX, image_path=image, hash_kind="file", saved_at=2000.0)
    write(tmp_path, "c" + SUFFIX, image_path=image, image_hash=OTHER_HASH, hash_kind="file")
    write(tmp_path, "d" + SUFFIX, image_path=str(tmp_path / "other.png"), hash_kind="file")
    (tmp_path / ("e" + SUFFIX)).write_bytes(b"garbage")  # damaged: skipped
    found = find_recoveries(tmp_path, image, HASH)
    assert [i.path for i in found] == [new, old]
    assert find_recoveries(tmp_path, image, HASH, exclude={new})[0].path == old
    assert find_recoveries(tmp_path / "missing", image, HASH) == []


def test_find_ignores_symlinks(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = write(outside)
    folder = tmp_path / "rec"
    folder.mkdir()
    (folder / ("link" + SUFFIX)).symlink_to(target)
    assert find_recoveries(folder, None, HASH) == []
    with pytest.raises(RecoveryError, match="symbolic link"):
        read_recovery(folder / ("link" + SUFFIX))
    recovery.discard(folder / ("link" + SUFFIX))  # never follows it
    assert target.exists()


def test_discard(tmp_path):
    a = write(tmp_path, "a" + SUFFIX)
    b = write(tmp_path, "b" + SUFFIX)
    other = tmp_path / "keep.txt"
    other.write_text("not ours")
    recovery.discard([a, read_recovery_info(b), tmp_path / ("missing" + SUFFIX), other])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_prune_by_age_count_and_damage(tmp_path):
    now = time.time()
    paths = [
        write(tmp_path, f"f{n}" + SUFFIX, saved_at=now - n * 86400) for n in range(6)
    ]  # 0..5 days old
    ancient = write(tmp_path, "ancient" + SUFFIX, saved_at=now - 90 * 86400)
    damaged_old = tmp_path / ("damaged" + SUFFIX)
    damaged_old.write_bytes(b"PK\x03\x04 truncated")
    os.utime(damaged_old, (now - 7200, now - 7200))
    damaged_fresh = tmp_path / ("inflight" + SUFFIX)
    damaged_fresh.write_bytes(b"PK")
    crashed_tmp = tmp_path / f".f0{SUFFIX}.x1y2.tmp"
    crashed_tmp.write_bytes(b"PK half")
    os.utime(crashed_tmp, (now - 7200, now - 7200))
    writing_tmp = tmp_path / f".f1{SUFFIX}.x3y4.tmp"
    writing_tmp.write_bytes(b"PK")
    removed = prune(tmp_path, max_age_days=30, max_files=3, keep={paths[5]}, now=now)
    left = {p.name for p in tmp_path.iterdir()} - {writing_tmp.name}
    assert ancient in removed and damaged_old in removed and crashed_tmp in removed
    assert writing_tmp.exists()
    # the kept file counts towards max_files; the two newest others stay
    assert left == {paths[0].name, paths[1].name, paths[5].name, damaged_fresh.name}


# -- hostile files (issue item 4) -----------------------------------------------------------------
@pytest.fixture
def good(tmp_path):
    return write(tmp_path)


def assert_refused(path, *fragments):
    with pytest.raises(RecoveryError) as caught:
        read_recovery(path)
    message = str(caught.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_missing_file(tmp_path):
    assert_refused(tmp_path / ("nope" + SUFFIX), "not found")


@pytest.mark.parametrize("cut", [0, 1, 10, 100, -100, -22, -1])
def test_truncated_file(good, cut):
    data = good.read_bytes()
    good.write_bytes(data[:cut] if cut > 0 else data[: len(data) + cut] if cut else b"")
    assert_refused(good)


def test_not_a_zip(good):
    good.write_text('{"format": "napari-segtool-recovery"}')
    assert_refused(good, "not a recovery file")


def test_missing_and_duplicate_members(tmp_path, good):
    with zipfile.ZipFile(good) as archive:
        meta = archive.read(recovery.META_MEMBER)
        labels = archive.read(recovery.LABELS_MEMBER)
    only_meta = tmp_path / ("m" + SUFFIX)
    with zipfile.ZipFile(only_meta, "w") as archive:
        archive.writestr(recovery.META_MEMBER, meta)
    assert_refused(only_meta, "labels.npy", "missing")
    with zipfile.ZipFile(only_meta, "w") as archive:
        archive.writestr(recovery.LABELS_MEMBER, labels)
    assert_refused(only_meta, "meta.json", "missing")
    with pytest.warns(UserWarning, match="Duplicate"):
        rewrite(good, extra=[(recovery.META_MEMBER, meta)])
    assert_refused(good, "more than once")


@pytest.mark.parametrize(
    "raw, problem",
    [
        (b"", "not valid JSON"),
        (b'{"format": "napari-segtool-recovery", "version": ', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[1, 2, 3]", "must be an object"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'{"format": NaN}', "not valid JSON"),
        (b'{"version": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_malformed_meta_json(good, raw, problem):
    rewrite(good, meta=raw)
    assert_refused(good, problem)


def mutate(meta, key, value):
    meta = dict(meta)
    if value is DELETE:
        del meta[key]
    else:
        meta[key] = value
    return meta


DELETE = object()
WRONG_VALUES = [DELETE, None, True, 1.5, -1, "x", [], {}, 10**30, "💥" * 10]
FIELDS = [
    "format",
    "version",
    "saved_at",
    "saved_at_epoch",
    "image_hash",
    "hash_kind",
    "layer_name",
    "instance_count",
    "labels_shape",
    "labels_dtype",
    "layer",
    "document",
]


@pytest.mark.parametrize("key", FIELDS)
def test_wrong_type_in_every_field(good, key):
    original = meta_of(good)
    for value in WRONG_VALUES:
        if (
            (key == "layer" and value in (DELETE, {}))
            or (key == "layer_name" and isinstance(value, str))
            or (key == "saved_at_epoch" and value == 1.5)
            or (key == "document" and value == {})  # an empty document is valid
        ):
            continue  # valid values of these fields
        rewrite(good, meta=mutate(original, key, value))
        message = assert_refused(good)
        assert key in message or "format" in message or "version" in message, (value, message)


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("version", 2, "unsupported recovery version 2"),
        ("format", "something-else", "format"),
        ("image_hash", "../../etc/passwd", "64 hex"),
        ("hash_kind", "md5", "hash_kind"),
        ("saved_at_epoch", 1e300, "plausible"),
        ("instance_count", 2**70, "out of range"),
        ("labels_shape", [10**12, 10**12], "labels_shape"),
        ("labels_shape", [100000, 100000, 1000], "limit"),
        ("labels_shape", [60], "labels_shape"),
        ("labels_shape", [60, 0], "labels_shape"),
        ("labels_shape", [60, -80], "labels_shape"),
        ("labels_shape", [60.0, 80.0], "labels_shape"),
        ("labels_dtype", "float32", "not a label dtype"),
        ("labels_dtype", "object", "not a label dtype"),
        ("labels_dtype", "uint16", "declares"),
        ("labels_dtype", "uint64", "metadata says uint64"),
        ("labels_shape", [80, 60], "shape"),
        ("image_path", 42, "image_path"),
        ("image_name", ["x"], "image_name"),
    ],
)
def test_bad_values(good, key, value, problem):
    rewrite(good, meta=mutate(meta_of(good), key, value))
    assert_refused(good, problem)


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda d: d["instances"][0].update(schema_id="c" * 25), "unknown class id"),
        (lambda d: d["instances"].append(dict(d["instances"][0])), "used twice"),
        (lambda d: d["instances"][0].update(label_id=-3), "positive integer"),
        (lambda d: d["instances"][0].update(label_id=10**40), "does not fit"),
        (lambda d: d["instances"][0].update(label_id=2**32), "does not fit"),
        (lambda d: d.update(version=99), "unsupported document version"),
        (lambda d: d.update(locked_classes=5), "document"),
        (lambda d: d.update(hidden_classes=[{}]), "document"),
        (lambda d: d["ontology"]["tools"][0].update(color=7), "color"),
        (lambda d: d["ontology"].update(tools="nope"), "tools"),
        (lambda d: d.update(instances={"1": {}}), "instances"),
    ],
)
def test_bad_documents(good, change, problem):
    meta = meta_of(good)
    change(meta["document"])
    rewrite(good, meta=meta)
    assert_refused(good, "document", problem)


def test_unicode_everywhere_is_fine(tmp_path):
    document = make_document()
    document.source["image_name"] = "ryby 🐟 \u202e gnp.exe"
    path = write(
        tmp_path,
        document=document,
        image_path="/données/🐟/../img.png",
        image_name="\u0000\u202e",
        layer_name="слой 🐠",
    )
    info = read_recovery_info(path)
    assert info.layer_name == "слой 🐠" and info.image_name == "\u0000\u202e"


@pytest.mark.parametrize(
    "array, problem",
    [
        (np.zeros((60, 80), np.float32), "float32"),
        (np.zeros((60, 80), np.float64), "declares"),
        (np.zeros((60, 80), np.uint16), "uint16"),
        (np.asfortranarray(np.zeros((60, 80), np.uint32)), "Fortran"),
        (np.zeros((80, 60), np.uint32), "shape"),
        (np.zeros((60, 80, 1), np.uint32), "shape"),
        (np.array([{"evil": 1}] * 4800, dtype=object).reshape(60, 80), "object"),
        (np.zeros((60, 80), ">u4"), ">u4"),
    ],
)
def test_pixels_of_wrong_dtype_shape_or_order(good, array, problem):
    rewrite(good, labels_bytes=npy_bytes(array))
    assert_refused(good, problem)


def test_pixels_truncated_or_padded(good):
    data = npy_bytes(np.zeros((60, 80), np.uint32))
    rewrite(good, labels_bytes=data[:-10])
    assert_refused(good, "truncated")
    rewrite(good, labels_bytes=data + b"\0" * 64)
    assert_refused(good, "expected")
    rewrite(good, labels_bytes=b"\x93NUMPY\x09\x00garbage")
    assert_refused(good, "bad array header")
    rewrite(good, labels_bytes=b"not npy at all")
    assert_refused(good, "bad array header")


def test_decompression_bombs_are_refused_before_inflating(tmp_path, monkeypatch):
    # 64 MB of zeros deflate to ~64 kB: the reader must trust the declared sizes,
    # which bound what zipfile inflates, and refuse before reading.
    bomb = b"\0" * (64 * 1024**2)
    big_meta = rewrite(write(tmp_path, "m" + SUFFIX), meta=b" " * (recovery.MAX_META_BYTES + 1))
    big_pixels = rewrite(
        write(tmp_path, "p" + SUFFIX),
        labels_bytes=npy_bytes(np.zeros((60, 80), np.uint32))[:128] + bomb,
    )
    assert big_pixels.stat().st_size < 1024**2
    inflated = []
    real_read = zipfile.ZipExtFile.read
    monkeypatch.setattr(
        zipfile.ZipExtFile, "read", lambda self, n=-1: inflated.append(n) or real_read(self, n)
    )
    assert_refused(big_meta, "meta.json", "limit")
    assert inflated == []  # refused from the zip directory alone
    monkeypatch.undo()
    assert_refused(big_pixels, "declares")


def test_memory_limit_is_a_parameter(good):
    with pytest.raises(RecoveryError, match="limit 1000"):
        read_recovery(good, max_label_bytes=1000)


# -- fuzzing --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory):
    return write(tmp_path_factory.mktemp("fuzz")).read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(data=st.data())
def test_fuzz_corrupted_bytes(tmp_path, good_bytes, data):
    """Flip, cut or splice bytes anywhere: a RecoveryError or a correct result, nothing else."""
    raw = bytearray(good_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path / ("fuzz" + SUFFIX)
    path.write_bytes(bytes(raw))
    try:
        saved = read_recovery(path)
    except RecoveryError as err:
        assert str(path) in str(err)
    else:  # zip CRCs make silent corruption of the pixels impossible
        assert saved.labels.shape == (60, 80)
        np.testing.assert_array_equal(saved.labels, make_labels())


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[FIXTURE_OK])
@given(key=st.sampled_from([*FIELDS, "image_path", "image_name"]), value=JSON_VALUES)
def test_fuzz_meta_fields(good, key, value):
    meta = meta_of(good) if not hasattr(good, "_meta") else good._meta
    rewrite(good, meta=mutate(meta, key, value))
    try:
        read_recovery(good)
    except RecoveryError:
        pass
    finally:
        rewrite(good, meta=meta)


def test_recovery_module_is_pure():
    """Like tests/test_purity.py: the format module loads neither Qt nor napari."""
    import subprocess
    import sys

    script = "import sys, napari_segtool.formats.recovery; print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = {name.strip("'").split(".")[0] for name in out.stdout.strip("[]\n").split(", ")}
    assert not loaded & {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "vispy"}
