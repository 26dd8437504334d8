"""One table row per instance: where it is, how big, how bright, and its answers.

scikit-image's ``regionprops_table`` measures every instance on its own
bounding box (it finds them all in one pass), so the cost follows the
instances' size; the batch commands hold one image and its labels per task.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_segtool.batch import engine
from napari_segtool.batch.inputs import Unit, expand_inputs, named, scan
from napari_segtool.formats.result import ImageItem, LabelsItem, ReadResult
from napari_segtool.formats.toolkit.arrays import is_chunked, label_array
from napari_segtool.formats.toolkit.atomic import atomic_path
from napari_segtool.model.answers import walk_answers
from napari_segtool.model.document import Document
from napari_segtool.model.label_store import label_store

#: separator of nested question names in answer columns ("Species/Count")
ANSWER_SEPARATOR = "/"
#: prefix of image-level answer columns
IMAGE_ANSWER_PREFIX = "image" + ANSWER_SEPARATOR
TABLE_SUFFIXES = (".csv", ".parquet")
_SHAPE_2D = ("perimeter", "eccentricity", "solidity")
_INTENSITY = ("intensity_mean", "intensity_min", "intensity_max")


def measure_labels(
    labels: np.ndarray,
    document: Document,
    image: Any = None,
    *,
    scale: Sequence[float] | None = None,
    unit: str | None = None,
    source: str = "",
    image_name: str = "",
) -> pd.DataFrame:
    """The table of one label image: one row per instance of ``document`` with pixels.

    Columns: ``source``, ``image``, ``class``, ``featureId``, ``label_id``,
    ``area`` (``volume`` for 3-D) in pixels and, with ``scale`` (pixel size per
    axis), in ``unit`` too; ``centroid-k`` and ``bbox-k`` (pixels, scikit-image's
    layout); ``intensity_mean/min/max`` (``-c`` per channel) when ``image`` has the
    labels' shape (plus a channel axis); ``perimeter``, ``eccentricity`` and
    ``solidity`` for 2-D; then one column per answered question
    (``question/sub-question``, image-level ones under ``image/``).
    """
    from skimage.measure import regionprops_table

    labels = label_array(labels)
    ndim = labels.ndim
    intensity = _intensity_image(image, tuple(labels.shape))
    properties = ["label", "area", "centroid", "bbox"]
    if ndim == 2:
        properties += _SHAPE_2D
    if intensity is not None:
        properties += _INTENSITY
    if ndim in (2, 3) and is_chunked(labels):
        values = _properties_by_box(labels, list(document.instances), intensity, properties)
    elif ndim in (2, 3):
        values = regionprops_table(
            labels,
            intensity_image=None if intensity is None else np.asarray(intensity),
            properties=properties,
        )
    else:  # a time series of volumes (T, Z, Y, X) and deeper: scikit-image stops at 3-D
        if intensity is not None and not is_chunked(labels):
            intensity = np.asarray(intensity)
        values = _properties_nd(labels, intensity)
    table = pd.DataFrame(values).rename(columns={"label": "label_id"})
    # painted ids without a class are no instance
    table = table[table["label_id"].isin(list(document.instances))].reset_index(drop=True)
    if ndim != 2:
        table = table.rename(columns={"area": "volume"})
    size = "area" if ndim == 2 else "volume"
    if scale is not None:
        # the spatial axes: a time series' voxels count once per time point
        pixel = float(np.prod(np.asarray(scale, dtype=float)[-min(ndim, 3) :]))
        table[f"{size} [{unit or 'unit'}{'²' if ndim == 2 else '³'}]"] = table[size] * pixel
    image_columns = _answer_columns(document.ontology.questions, document.image_answers)
    described = []
    for label_id in table["label_id"].tolist():
        instance = document.instances[label_id]
        cls_ = document.ontology.class_by_id(instance.schema_id)
        row = {
            "source": source,
            "image": image_name,
            "class": cls_.name if cls_ else "",
            "featureId": instance.feature_id,
        }
        row.update(_answer_columns(cls_.questions if cls_ else [], instance.answers))
        row.update({IMAGE_ANSWER_PREFIX + k: v for k, v in image_columns.items()})
        described.append(row)
    info = pd.DataFrame(described, index=table.index, columns=_columns_of(described))
    return _ordered(pd.concat([info, table], axis=1))


def _columns_of(rows: list[dict[str, Any]]) -> list[str]:
    columns = ["source", "image", "class", "featureId"]
    for row in rows:
        columns += [c for c in row if c not in columns]
    return columns


def measure_result(
    result: ReadResult,
    source: str,
    scale: Sequence[float] | None = None,
    unit: str | None = None,
) -> pd.DataFrame:
    """:func:`measure_labels` for every label image of a reader's result."""
    tables = []
    for item in result.labels:
        image = _image_for(item, result.images)
        item_scale = scale if scale is not None else getattr(image, "scale", None)
        item_unit = unit if unit is not None else getattr(image, "unit", None)
        tables.append(
            measure_labels(
                item.data,
                item.document,
                None if image is None else image.data,
                scale=item_scale,
                unit=item_unit,
                source=source,
                image_name=item.document.source.get("image_name") or image_name_of(item),
            )
        )
    return combine(tables)


def image_name_of(item: LabelsItem) -> str:
    return item.name.removesuffix(" segmentation")


def combine(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One table from many: columns in their order of first appearance."""
    tables = [t for t in tables if len(t.columns)]
    if not tables:
        return _ordered(pd.DataFrame())
    return _ordered(pd.concat(tables, ignore_index=True, sort=False))


def save_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` as CSV or Parquet (by the name's ending), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(
            f"{path}: a table is saved as .csv or .parquet, not {suffix or 'no ending'}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
    return path


# -- the batch command ------------------------------------------------------------------
class _MeasureUnit:
    """A picklable task: the table of one unit."""

    def __init__(self, scale, unit):
        self.scale, self.unit = scale, unit

    def __call__(self, unit: Unit) -> pd.DataFrame:
        return measure_result(unit.read(), str(unit.path), self.scale, self.unit)


def measure(
    inputs: Sequence[str],
    out: str | Path,
    options: engine.RunOptions = engine.DEFAULT_OPTIONS,
    *,
    scale: Sequence[float] | None = None,
    unit: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Measure every instance of every input and save the table to ``out``.

    Returns the table and the failures (one line each, naming the file).
    """
    if Path(out).suffix.lower() not in TABLE_SUFFIXES:
        raise ValueError(f"{out}: a table is saved as .csv or .parquet")
    files, missing = expand_inputs(inputs)
    failures = [f"{argument}: {problem}" for argument, problem in missing]
    with engine.Session(options) as session:
        scanned = session.run(scan, [f.path for f in files], "Scanning")
        units: list[Unit] = []
        for outcome in scanned:
            if outcome.ok:
                units.extend(outcome.value)
            else:
                failures.append(named(outcome.error, outcome.item))
        measured = session.run(_MeasureUnit(scale, unit), units, "Measuring")
    tables = []
    for outcome in measured:
        if outcome.ok:
            tables.append(outcome.value)
        else:
            failures.append(named(outcome.error, outcome.item.path))
    table = combine(tables)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save_table(table, out)
    return table, failures


# -- helpers ----------------------------------------------------------------------------
def _properties_by_box(
    labels: Any, label_ids: list[int], intensity: Any, properties: list[str]
) -> dict[str, list]:
    """``regionprops_table``'s columns for a chunked label array, each instance measured
    on its own bounding box (read alone), placed by ``offset`` so that its coordinates
    are computed exactly as on the whole image."""
    from skimage.measure import regionprops

    store = label_store(labels)
    wanted = [i for i in label_ids if i > 0]
    boxes = store.bounding_boxes(wanted) if wanted else {}
    columns: dict[str, list] = {}
    for label_id, box in boxes.items():
        crop = np.where(store.mask_of(label_id, box), label_id, 0)
        pixels = None if intensity is None else np.asarray(intensity[box])
        starts = [b.start for b in box]
        (region,) = regionprops(crop, intensity_image=pixels, offset=starts)
        for name in properties:
            value = region[name]
            if name == "bbox":  # scikit-image places coordinates, not the box
                value = tuple(v + starts[k % len(starts)] for k, v in enumerate(value))
            if np.ndim(value) == 0:
                columns.setdefault(name, []).append(value)
                continue
            for k, v in enumerate(np.ravel(value)):
                columns.setdefault(f"{name}-{k}", []).append(v)
    if not boxes:  # the whole-image table's columns, empty
        from skimage.measure import regionprops_table

        empty = np.zeros((1,) * labels.ndim, dtype=np.int32)
        shape = (
            None
            if intensity is None
            else (1,) * labels.ndim + tuple(np.shape(intensity))[labels.ndim :]
        )
        return regionprops_table(
            empty,
            intensity_image=None if shape is None else np.zeros(shape),
            properties=properties,
        )
    return columns


def _properties_nd(labels: np.ndarray, intensity: np.ndarray | None) -> dict[str, list]:
    """``regionprops_table``'s columns (label, area, centroid, bbox, intensities) for
    labels of any number of axes, each instance measured on its bounding box."""
    store = label_store(labels)
    ids = [i for i in store.ids() if i != 0]
    boxes = store.bounding_boxes(ids)
    ndim = labels.ndim
    values: dict[str, list] = {"label": ids, "area": []}
    values.update({f"centroid-{k}": [] for k in range(ndim)})
    values.update({f"bbox-{k}": [] for k in range(2 * ndim)})
    channels = None if intensity is None or intensity.ndim == ndim else intensity.shape[-1]
    names = [
        name if channels is None else f"{name}-{c}"
        for name in _INTENSITY
        for c in range(channels or 1)
    ]
    if intensity is not None:
        values.update({name: [] for name in names})
    for label_id in ids:
        box = boxes[label_id]
        where = np.nonzero(store.mask_of(label_id, box))
        values["area"].append(len(where[0]))
        for k in range(ndim):
            values[f"centroid-{k}"].append(float(where[k].mean()) + box[k].start)
            values[f"bbox-{k}"].append(box[k].start)
            values[f"bbox-{k + ndim}"].append(box[k].stop)
        if intensity is not None:
            pixels = np.asarray(intensity[box])[where].astype(float)
            pixels = pixels.reshape(len(where[0]), -1)
            stats = (pixels.mean(axis=0), pixels.min(axis=0), pixels.max(axis=0))
            for n, column in enumerate(names):
                values[column].append(float(stats[n // (channels or 1)][n % (channels or 1)]))
    return values


def _intensity_image(image: Any, shape: tuple[int, ...]):
    if image is None:
        return None
    if isinstance(image, list | tuple):  # a pyramid (OME-Zarr): its full resolution
        image = image[0]
    image_shape = tuple(np.shape(image))
    if image_shape == shape or (len(image_shape) == len(shape) + 1 and image_shape[:-1] == shape):
        return image
    return None


def _image_for(item: LabelsItem, images: Sequence[ImageItem]) -> ImageItem | None:
    wanted = item.document.source.get("image_name")
    for image in images:
        if image.name in (wanted, image_name_of(item)):
            return image
    return images[0] if len(images) == 1 else None


def _answer_columns(questions, answers) -> dict[str, str]:
    columns: dict[str, str] = {}
    for step in walk_answers(questions, answers):
        if not step.answered:
            continue
        name = ANSWER_SEPARATOR.join([*(q.name for q, _ in step.parents), step.question.name])
        value = step.text if step.text is not None else "; ".join(o.label for o in step.options)
        columns[name] = f"{columns[name]}; {value}" if name in columns else value
    return columns


_FIRST = ("source", "image", "class", "featureId", "label_id", "area", "volume")


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in _FIRST if c in table.columns]
    first += [c for c in table.columns if c.startswith(("area [", "volume ["))]
    return table[first + [c for c in table.columns if c not in first]]
