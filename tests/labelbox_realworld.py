"""The real Labelbox v1 files in ``tests/data/realworld`` and a stand-in for the web they name.

Real exports name their images and masks by web addresses (signed, long expired).
:func:`serve_the_web` answers those addresses from memory, so a read with
downloading allowed runs without the internet: an image of :data:`WEB_SHAPE` for an
image address, for a mask address the mask :func:`web_mask` draws for its featureId.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from napari_segtool.formats import labelbox_v1

REALWORLD = Path(__file__).resolve().parent / "data" / "realworld"
SDK_FIXTURES = REALWORLD / "labelbox-python" / "labelbox_v1"
EMONSON = REALWORLD / "emonson-label_masks"
EMONSON_EXPORT = EMONSON / "export-2020-04-17T19_22_10.412Z.json"
#: every file there that the v1 reader claims
V1_FILES = [p for p in sorted(REALWORLD.rglob("*.json")) if labelbox_v1.is_v1_export(p)]
#: the size of the images the stand-in web serves (the masks' too)
WEB_SHAPE = (90, 120)

_GEOMETRY_KINDS = {"bbox": "Rectangle", "polygon": "Polygon", "line": "Line", "point": "Point"}
_FEATURE_ID = re.compile(r"/masks/feature/([A-Za-z0-9]+)")


def load_rows(path: Path) -> list[dict[str, Any]]:
    """The file's data rows (the SDK's test files hold one row on its own, not in a list)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


def sdk_kind(obj: dict[str, Any]) -> str:
    """The annotation type the Labelbox SDK's v1 converter makes of an image object: its
    geometry's when it has one (``instanceURI`` or not), else a Mask."""
    key = next((k for k in _GEOMETRY_KINDS if k in obj), None)
    return _GEOMETRY_KINDS[key] if key else "Mask"


def kinds_by_feature_id(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {
        obj["featureId"]: sdk_kind(obj)
        for row in rows
        if isinstance(row.get("Label"), dict)
        for obj in row["Label"].get("objects", [])
    }


def kind_counts(rows) -> Counter[str]:
    return Counter(kinds_by_feature_id(rows).values())


def web_mask(feature_id: str) -> np.ndarray:
    """A boolean mask of :data:`WEB_SHAPE` that differs between featureIds."""
    seed = int.from_bytes(hashlib.sha256(feature_id.encode()).digest()[:4], "big")
    rng = np.random.default_rng(seed)
    rows, cols = WEB_SHAPE
    top, left = rng.integers(0, rows // 2), rng.integers(0, cols // 2)
    mask = np.zeros(WEB_SHAPE, bool)
    mask[top : top + rng.integers(3, rows // 2), left : left + rng.integers(3, cols // 2)] = True
    return mask


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def serve_the_web(monkeypatch) -> list[str]:
    """Answer the reader's downloads from memory (never the internet); the addresses asked."""
    asked: list[str] = []

    def urlopen(url, timeout):
        asked.append(url)
        found = _FEATURE_ID.search(url)
        if found:  # Labelbox's mask address: white and opaque where the object is
            mask = web_mask(found.group(1))
            rgba = np.zeros((*WEB_SHAPE, 4), np.uint8)
            rgba[mask] = 255
            return _Response(_png(rgba))
        image = np.full((*WEB_SHAPE, 3), 90, np.uint8)
        return _Response(_png(image))

    monkeypatch.setattr(labelbox_v1.reader.urllib.request, "urlopen", urlopen)
    return asked
