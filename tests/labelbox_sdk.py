"""The real Labelbox SDK, each version in its own cached virtual environment.

The SDK pins libraries napari's environment must not share, so each version
the tests consume with lives in its own environment, created once and cached:
inside the repository's ``.venv/`` folder when there is one, otherwise in the
user cache folder. The folder name carries a hash of the requirement list, so
changing the list builds a fresh one. ``SEGTOOL_SDK_VENV`` (4.0.0) and
``SEGTOOL_SDK7_VENV`` (7.x) name prepared folders instead.

``python tests/labelbox_sdk.py`` builds both and prints their interpreters.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SdkEnvironment:
    """One SDK version and what it needs beside it."""

    requirements: tuple[str, ...]
    #: the environment variable naming a prepared environment instead
    override: str

    def folder(self) -> Path:
        prepared = os.environ.get(self.override)
        if prepared:
            return Path(prepared)
        key_text = "\n".join(
            [f"python{sys.version_info[0]}.{sys.version_info[1]}", *self.requirements]
        )
        key = hashlib.sha256(key_text.encode()).hexdigest()[:12]
        repo_venv = ROOT / ".venv"
        if repo_venv.is_dir():
            return repo_venv / f"labelbox-sdk-{key}"
        import platformdirs

        return Path(platformdirs.user_cache_dir("napari-segtool")) / f"labelbox-sdk-{key}"

    def ensure(self) -> Path:
        """The SDK's Python, building its environment first if needed (minutes, once)."""
        env_dir = self.folder()
        stamp = env_dir / "segtool-requirements.txt"
        wanted = "\n".join(self.requirements) + "\n"
        if stamp.is_file() and stamp.read_text() == wanted:
            return _python_in(env_dir)
        # Build beside the target and rename at the end, so an interrupted install
        # never looks complete and two test runs do not share a half-built folder.
        building = env_dir.with_name(f"{env_dir.name}.building-{os.getpid()}")
        shutil.rmtree(building, ignore_errors=True)
        building.parent.mkdir(parents=True, exist_ok=True)
        try:
            venv.create(building, with_pip=True)
            result = subprocess.run(
                [_python_in(building), "-m", "pip", "install", "-q", *self.requirements],
                capture_output=True,
                text=True,
                env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            )
            if result.returncode != 0:
                pytest.fail(
                    f"could not install {self.requirements[0]} for the interop test (set "
                    f"{self.override} to a prepared environment):\n{result.stderr[-3000:]}"
                )
            (building / stamp.name).write_text(wanted)
            shutil.rmtree(env_dir, ignore_errors=True)
            try:
                building.rename(env_dir)
            except OSError:
                if not stamp.is_file():  # nobody else finished it
                    raise
        finally:
            shutil.rmtree(building, ignore_errors=True)
        return _python_in(env_dir)


def _python_in(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


#: the newest SDK with the v1 converter. DESIGN.md's recipe: the ``[data]`` extra
#: pins numpy<2, so list the converter's needs
SDK4 = SdkEnvironment(
    requirements=(
        "labelbox==4.0.0",
        "packaging",
        "pillow",
        "opencv-python-headless",
        "shapely",
        "pyproj",
        "pygeotile",
        "imagesize",
        "numpy>=2",
    ),
    override="SEGTOOL_SDK_VENV",
)

#: the SDK Labelbox users have today: the NDJSON annotation import
SDK7 = SdkEnvironment(requirements=("labelbox[data]==7.17.0",), override="SEGTOOL_SDK7_VENV")


def run_in_sdk(python: Path, script_text: str, folder: Path, *args) -> str:
    """Run ``script_text`` with the SDK's Python; its standard output (fails the test on error)."""
    script = folder / "check_with_sdk.py"
    script.write_text(script_text)
    result = subprocess.run(
        [python, script, *map(str, args)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


if __name__ == "__main__":
    for environment in (SDK4, SDK7):
        print(environment.ensure())
