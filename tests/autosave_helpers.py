"""Shared set-up for the autosave, recovery, close-guard and crash tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from napari_segtool._napari.autosave import INTERVAL_ENV, set_autosave_interval, wait_idle
from napari_segtool._napari.binding import binding_of
from napari_segtool._napari.commands import add_segmentation_layer
from napari_segtool.formats import recovery
from napari_segtool.model.sample_image import cells_image

IMAGE_SHAPE = (96, 128)


@pytest.fixture
def recovery_folder(tmp_path, monkeypatch) -> Path:
    """A private recovery folder, so no test ever touches the user's data dir."""
    folder = tmp_path / "recovery"
    monkeypatch.setenv(recovery.RECOVERY_DIR_ENV, str(folder))
    monkeypatch.setenv(INTERVAL_ENV, "0.2")
    set_autosave_interval(None)
    yield folder
    wait_idle()
    set_autosave_interval(None)


def write_image(folder: Path, name: str = "cells.png", seed: int = 7) -> Path:
    path = folder / name
    PILImage.fromarray(cells_image(seed=seed, shape=IMAGE_SHAPE)).save(path)
    return path


def open_session(viewer, image_path: Path):
    """The image from its file plus a fresh segmentation layer, as a user opens them."""
    (image,) = viewer.open(str(image_path))
    layer = add_segmentation_layer(viewer, image)
    return image, layer, binding_of(layer)


def paint_instance(binding, class_index: int, rows: slice, cols: slice) -> int:
    """One instance of a class, painted as one undoable napari step."""
    classes = binding.document.ontology.segmentation_classes
    label_id = binding.start_instance(classes[class_index].feature_schema_id)
    layer = binding.layer
    region = np.zeros(layer.data.shape, bool)
    region[rows, cols] = True
    layer.data_setitem(np.nonzero(region), label_id)
    return label_id


def answer_everything(binding) -> dict:
    """Answer the first option of every top-level question of every instance and the image."""
    document = binding.document

    def first_answers(questions):
        answers = {}
        for question in questions:
            if question.type == "text":
                answers[question.feature_schema_id] = f"note on {question.name} ✓"
            else:
                answers[question.feature_schema_id] = {question.options[0].feature_schema_id: {}}
        return answers

    for label_id in list(document.instances):
        cls_ = document.class_of(label_id)
        document.set_answers(label_id, first_answers(cls_.questions))
    document.set_image_answers(first_answers(document.ontology.questions))
    return {
        "instances": {i: dict(inst.answers) for i, inst in document.instances.items()},
        "image": dict(document.image_answers),
    }
