"""Every file the plugin writes gets the user's normal permissions (``0o666 & ~umask``):
Labelbox JSON, masks and ontology, ontology JSON, COCO JSON and its images, recovery files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from napari_segtool import load_default_ontology
from napari_segtool.formats.coco_files import write_coco_file
from napari_segtool.formats.labelbox_v1 import write_export
from napari_segtool.formats.ontology_json import write_ontology
from napari_segtool.formats.recovery import SUFFIX, write_recovery
from napari_segtool.formats.result import ImageItem, LabelsItem
from napari_segtool.formats.toolkit.atomic import atomic_path, atomic_write_text
from napari_segtool.model.document import Document

pytestmark = [
    pytest.mark.skipif(os.name == "nt", reason="POSIX permissions"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]
UMASKS = [0o022, 0o077, 0o002]


@pytest.fixture(params=UMASKS, ids=oct)
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def scene() -> tuple[np.ndarray, Document]:
    document = Document(ontology=load_default_ontology(), source={"image_name": "cells"})
    classes = document.ontology.segmentation_classes
    document.add_instance(1, classes[0].feature_schema_id)
    document.add_instance(2, classes[-1].feature_schema_id)
    labels = np.zeros((30, 40), dtype=np.uint32)
    labels[2:10, 3:12] = 1
    labels[15:25, 20:35] = 2
    return labels, document


def write_every_kind(folder: Path, colour: str = "#123456") -> list[Path]:
    """One file of each kind the plugin writes, through the functions the plugin calls."""
    labels, document = scene()
    document.ontology.classes[0].color = colour
    result = write_export(folder / "cells.json", [(labels, document)])
    masks = sorted(result.mask_dir.iterdir())
    assert masks
    write_ontology(document.ontology, folder / "classes.ontology.json")
    coco = folder / "cells.coco.json"
    pixels = np.full((*labels.shape, 3), int(colour[1:3], 16), dtype=np.uint8)
    item = LabelsItem(labels, document, "cells segmentation")
    written = write_coco_file(coco, [item], [ImageItem(pixels, "cells")])
    assert written.written == (coco, folder / "cells.png")  # the image is saved along
    recovery = write_recovery(
        folder,
        "cells-x-s1" + SUFFIX,
        labels,
        document.to_dict(),
        image_path=None,
        image_hash="ab" * 32,
        hash_kind="pixels",
    )
    ontology = folder / "classes.ontology.json"
    return [result.json_path, result.ontology_path, *masks, ontology, *written.written, recovery]


def test_new_files_of_every_kind_get_the_umask_permissions(tmp_path, umask):
    expected = 0o666 & ~umask
    written = write_every_kind(tmp_path)
    assert {p.name: oct(mode(p)) for p in written} == {p.name: oct(expected) for p in written}
    assert oct(mode(tmp_path / "cells_masks")) == oct(0o777 & ~umask)


def test_replaced_files_get_the_normal_permissions_not_the_old_ones(tmp_path, umask):
    """A save replaces a file with a new one: the umask decides, as for a new file.

    (A file whose bytes would not change is not rewritten: an unchanged mask or
    ontology keeps its file, permissions included.)
    """
    first = write_every_kind(tmp_path)
    for path in first:
        path.chmod(0o600 if umask != 0o077 else 0o644)
    again = write_every_kind(tmp_path, colour="#654321")
    assert {p.name for p in again} >= {p.name for p in first if p.parent == tmp_path}
    expected = 0o666 & ~umask
    assert {p.name: oct(mode(p)) for p in again} == {p.name: oct(expected) for p in again}


def test_atomic_helpers_use_the_umask_and_leave_no_temporary(tmp_path, umask):
    atomic_write_text(tmp_path / "a.txt", "a")
    with atomic_path(tmp_path / "b.bin") as tmp:
        assert oct(mode(tmp)) == oct(0o666 & ~umask)  # before the caller writes a byte
        with open(tmp, "wb") as handle:
            handle.write(b"b")
    assert oct(mode(tmp_path / "a.txt")) == oct(mode(tmp_path / "b.bin")) == oct(0o666 & ~umask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]
