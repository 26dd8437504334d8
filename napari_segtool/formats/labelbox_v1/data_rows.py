"""The fields of a v1 data row: Labeled Data, External ID, times, the keys kept as they are."""

from __future__ import annotations

import math
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from napari_segtool.formats.labelbox_v1.answers import outline_feature_id
from napari_segtool.formats.labelbox_v1.common import URL_SCHEMES
from napari_segtool.formats.toolkit.flags import FLAGS_KEY

#: data-row keys the reader models; every other key is kept in ``source["v1_extra"]``
_MODELLED_KEYS = (
    "ID",
    "DataRow ID",
    "Labeled Data",
    "External ID",
    "Created By",
    "Project Name",
    "Dataset Name",
    "Created At",
    "Updated At",
    "Seconds to Label",
    "Label",
    FLAGS_KEY,  # the class locks: written from the document, never kept stale
)
#: the other keys of a real export, with the values Labelbox gives a fresh label
_DEFAULT_EXTRA = {
    "Agreement": -1,
    "Benchmark Agreement": -1,
    "Benchmark ID": None,
    "Reviews": [],
    "View Label": "",
    "Has Open Issues": 0,
    "Skipped": False,
}


def labeled_data_for(source: dict[str, Any], export_dir: Path, image_base_url: str | None) -> str:
    """``Labeled Data``: base URL + file name, a kept URL, or the image's path."""
    image_path = source.get("image_path")
    kept = source.get("labeled_data")
    if image_base_url:
        name = Path(image_path).name if image_path else _external_id(source)
        return _join_url(image_base_url, name)
    if isinstance(kept, str) and kept.startswith(URL_SCHEMES):
        return kept
    if image_path:
        image = Path(image_path).absolute()
        try:
            return image.relative_to(export_dir.absolute()).as_posix()
        except ValueError:
            return image.as_posix()
    return kept if isinstance(kept, str) else ""


def _external_id(source: dict[str, Any]) -> str:
    if source.get("external_id"):
        return str(source["external_id"])
    if source.get("image_path"):
        return Path(source["image_path"]).name
    return str(source.get("image_name") or "")


def _join_url(base: str, relative: str) -> str:
    return base.rstrip("/") + "/" + urllib.parse.quote(relative)


def _seconds(value: Any) -> float:
    try:
        seconds = float(value or 0.0)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer past 1e308
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def _timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _without_mask_outlines(others: list, mask_objects: list[dict]) -> list:
    """Drop polygon objects that are outlines this writer derived from masks in the row.

    They repeat the masks (and are rewritten from them on the next save), so
    they become no Shapes and are not carried along as separate objects.
    """
    polygons = [o for o in others if isinstance(o, dict) and "polygon" in o]
    if not polygons:
        return others
    outline_ids = {
        outline_feature_id(obj["featureId"], n)
        for obj in mask_objects
        if isinstance(obj.get("featureId"), str)
        for n in range(len(polygons))
    }
    return [o for o in others if not (isinstance(o, dict) and o.get("featureId") in outline_ids)]


def _objects(row: dict[str, Any]) -> list[dict[str, Any]]:
    label = row.get("Label")
    return label.get("objects", []) if isinstance(label, dict) else []


def _display_name(external_id: Any, image_path: Path | None, default: str | None) -> str | None:
    """A layer name: the External ID's file stem, else the image file's stem."""
    if isinstance(external_id, str) and external_id.strip():
        name = external_id.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[0] if "." in name[1:] else name
    return image_path.stem if image_path else default
