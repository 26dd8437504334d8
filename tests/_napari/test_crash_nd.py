"""SIGKILL while a stack's delta or its compaction is written: the previous state comes back whole.

A child process annotates a 3-D segmentation layer whose autosaver keeps a
snapshot plus deltas, autosaves, then edits again and hangs half-way through
the next write (a delta, or a compaction into a new snapshot); the parent
kills it with SIGKILL and reads the recovery files back.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import iter_recovery_files, read_recovery
from tests._napari.test_crash import kill, start_child, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

STACK_SESSION = """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from napari.layers import Labels
    from napari_segtool import load_default_ontology
    from napari_segtool._napari.autosave import Autosaver
    from napari_segtool._napari.binding import bind
    from napari_segtool._napari.painter import paint
    from napari_segtool.formats import recovery
    from napari_segtool.model.document import Document
    from napari_segtool.tools.edit import ProposedEdit

    folder, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    document = Document(load_default_ontology(), source={"image_name": "stack"})
    layer = Labels(np.zeros((12, 256, 256), np.uint32), name="stack")
    binding = bind(layer, document)
    saver = Autosaver(binding, folder=folder, interval=3600)
    saver.delta_min_bytes = 0
    schema = document.ontology.segmentation_classes[0].feature_schema_id

    def stroke(z, rows, cols):
        label = binding.start_instance(schema)
        mask = np.ones((1, rows.stop - rows.start, cols.stop - cols.start), bool)
        paint(layer, ProposedEdit((slice(z, z + 1), rows, cols), mask, label))

    stroke(2, slice(10, 60), slice(10, 90))
    assert saver.flush()  # the snapshot
    stroke(7, slice(100, 140), slice(30, 200))
    assert saver.flush()  # its first delta
    assert saver.snapshots_written == 1 and saver.deltas_written == 1
    np.save(out / "expected.npy", layer.data)
    (out / "expected.json").write_text(json.dumps(binding.document.to_dict()))

    if mode == "compaction":
        saver.compact_fraction = 0.0  # the next save rewrites the snapshot
    real_write, chunks = recovery._write_chunk, []
    recovery.CHUNK_BYTES = 4096

    def hang(stream, chunk):
        real_write(stream, chunk)
        chunks.append(1)
        if len(chunks) == 2:
            (out / "marker").write_text("mid-write")
            time.sleep(600)

    recovery._write_chunk = hang
    stroke(9, slice(0, 256), slice(0, 256))  # a whole slice: more than two chunks
    saver.save_async()
    time.sleep(600)
"""


@pytest.mark.parametrize("mode", ["delta", "compaction"])
def test_sigkill_mid_write_leaves_snapshot_and_delta_whole(tmp_path, mode):
    folder, out = tmp_path / "recovery", tmp_path / "child"
    out.mkdir()
    child = start_child(STACK_SESSION, folder, out, mode)
    wait_for(out / "marker", child, timeout=90)
    kill(child)
    torn = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert torn  # the write really was cut off
    suffix = recovery.DELTA_SUFFIX if mode == "delta" else recovery.SUFFIX
    assert all(suffix in p.name for p in torn)
    (path,) = iter_recovery_files(folder)
    assert recovery.delta_path(path).exists()
    saved = read_recovery(path)
    np.testing.assert_array_equal(saved.labels, np.load(out / "expected.npy"))
    assert saved.document == json.loads((out / "expected.json").read_text())
