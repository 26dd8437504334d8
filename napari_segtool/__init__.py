"""napari-segtool: Labelbox-style image segmentation inside napari."""

from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path

try:
    __version__ = version("napari-segtool")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

PLUGIN_NAME = "napari-segtool"

__all__ = ["PLUGIN_NAME", "default_ontology_path", "load_default_ontology", "session_for"]


def __getattr__(name: str):
    # lazy: the package root stays importable without napari
    if name == "session_for":
        from napari_segtool._napari.session import session_for

        return session_for
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_ontology_path() -> Path:
    """The ontology that ships with the plugin (suits the sample image)."""
    return Path(str(files("napari_segtool") / "resources" / "default_ontology.json"))


def load_default_ontology():
    from napari_segtool.model.ontology import Ontology

    return Ontology.load(default_ontology_path())
