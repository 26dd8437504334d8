"""Small synthetic Labelbox v1 exports for batch tests and benchmarks."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from napari_segtool.formats.labelbox_v1 import LabelboxFormatWarning, write_export
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ontology import Ontology

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference"


def fish_ontology() -> Ontology:
    return Ontology.load(REFERENCE / "ontology.fish.json")


def scene(size: int, instances: int, seed: int, ontology: Ontology):
    """A label image of ``instances`` non-overlapping boxes, answered, and an RGB image."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), np.uint32)
    cells = int(np.ceil(np.sqrt(instances)))
    step = size // cells
    classes = ontology.classes
    blurry, fins = classes[0].questions
    yes, no = blurry.options[:2]
    why = yes.questions[0]
    document_instances = []
    for n in range(instances):
        row, col = divmod(n, cells)
        top, left = row * step + 1, col * step + 1
        height, width = rng.integers(max(1, step // 3), step - 1, size=2)
        labels[top : top + height, left : left + width] = n + 1
        cls_ = classes[n % len(classes)]
        answers = {}
        if cls_ is classes[0]:
            answers = (
                {
                    blurry.feature_schema_id: {
                        yes.feature_schema_id: {why.feature_schema_id: "moved"}
                    }
                }
                if n % 2
                else {blurry.feature_schema_id: {no.feature_schema_id: {}}}
            )
            answers[fins.feature_schema_id] = {fins.options[0].feature_schema_id: {}}
        document_instances.append(Instance(n + 1, cls_.feature_schema_id, answers=answers))
    image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    return labels, document_instances, image


def write_batch(
    folder: Path, count: int, *, size: int = 24, instances: int = 4, seed: int = 0
) -> list[Path]:
    """``count`` exports ``folder/export_<n>.json``, each with its image and masks."""
    folder.mkdir(parents=True, exist_ok=True)
    ontology = fish_ontology()
    paths = []
    for n in range(count):
        labels, found, image = scene(size, instances, seed + n, ontology)
        image_path = folder / f"image_{n:04d}.png"
        Image.fromarray(image).save(image_path)
        document = Document(
            ontology=Ontology.from_dict(ontology.to_dict()),
            instances=found,
            source={"image_path": str(image_path), "image_name": image_path.stem},
        )
        path = folder / f"export_{n:04d}.json"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LabelboxFormatWarning)
            write_export(path, [(labels, document)], compress_level=1)
        paths.append(path)
    return paths


def write_rows(path: Path, count: int, *, size: int = 24, instances: int = 4) -> Path:
    """One export ``path`` of ``count`` data rows, each with its image and masks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ontology = fish_ontology()
    rows = []
    for n in range(count):
        labels, found, image = scene(size, instances, n, ontology)
        image_path = path.parent / f"{path.stem}_image_{n:04d}.png"
        Image.fromarray(image).save(image_path)
        source = {"image_path": str(image_path), "image_name": image_path.stem}
        rows.append((labels, Document(ontology=ontology, instances=found, source=source)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        write_export(path, rows, compress_level=1)
    return path
