from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "reference"


@pytest.fixture(autouse=True)
def private_recovery_dir(tmp_path_factory, monkeypatch):
    """Autosaves of every test go to a temporary folder, never the user's data folder."""
    folder = tmp_path_factory.mktemp("recovery")
    monkeypatch.setenv("NAPARI_SEGTOOL_RECOVERY_DIR", str(folder))
    return folder


@pytest.fixture
def reference_dir() -> Path:
    return REFERENCE


@pytest.fixture
def fish():
    """The reference fish ontology (tests/data/reference/ontology.fish.json)."""
    from napari_segtool.model.ontology import Ontology

    return Ontology.load(REFERENCE / "ontology.fish.json")


@pytest.fixture
def reference_copy(tmp_path) -> Path:
    """A writable copy of the reference export folder."""
    target = tmp_path / "reference"
    shutil.copytree(REFERENCE, target)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


@pytest.fixture
def restore_registry():
    """Formats a test registers are gone after it."""
    from napari_segtool.formats import registry

    before = registry.formats()
    yield
    registry._FORMATS.clear()
    registry._FORMATS.update({entry.name: entry for entry in before})
