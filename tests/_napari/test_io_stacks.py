"""A 3-D segmentation layer saved through napari (npe2 writers) one plane per data row /
COCO image, and opened again (npe2 readers) as one stack with its image."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from napari.layers import Image, Labels

from napari_segtool import PLUGIN_NAME, load_default_ontology
from napari_segtool._napari.binding import document_of, segmentation_layer_kwargs
from napari_segtool.model.document import Document, Instance

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
ENDINGS = {"labelbox-v1": ".json", "labelbox-ndjson": ".ndjson", "coco": ".coco.json"}


def _stack_layer(viewer, tmp_path) -> Labels:
    image_path = tmp_path / "nuclei.tif"
    pixels = np.random.default_rng(0).integers(0, 4000, (6, 32, 40), dtype=np.uint16)
    tifffile.imwrite(image_path, pixels, photometric="minisblack")
    (image,) = viewer.open(str(image_path))
    ontology = load_default_ontology()
    nucleus, cell, _ = ontology.classes
    phase = nucleus.questions[0]
    document = Document(
        ontology=ontology,
        instances=[
            Instance(
                1,
                nucleus.feature_schema_id,
                answers={phase.feature_schema_id: {phase.options[1].feature_schema_id: {}}},
            ),
            Instance(2, cell.feature_schema_id, locked=True),
        ],
        image_answers={ontology.questions[2].feature_schema_id: "whole stack"},
        source={"image_name": "nuclei", "image_path": str(image_path)},
    )
    labels = np.zeros((6, 32, 40), np.uint32)
    layer = viewer.add_labels(labels, **segmentation_layer_kwargs(document, "nuclei segmentation"))
    # painted through napari on several slices: the nucleus spans planes 1 and 3
    layer.n_edit_dimensions = 2
    layer.brush_size = 5
    for z in (1, 3):
        viewer.dims.set_current_step(0, z)
        layer.paint((z, 10, 12), 1, refresh=False)
    viewer.dims.set_current_step(0, 3)
    layer.paint((3, 25, 30), 2, refresh=False)
    layer.n_edit_dimensions = 3  # a 3-D brush through planes 2 to 4
    layer.paint((3, 25, 8), 2, refresh=False)
    assert {int(z) for z in np.nonzero(layer.data == 1)[0]} == {1, 3}
    viewer.layers.selection = {image, layer}
    return layer


@pytest.mark.parametrize("fmt", list(ENDINGS))
def test_a_3d_segmentation_layer_saves_per_plane_and_reopens_as_the_stack(
    make_napari_viewer, tmp_path, fmt
):
    viewer = make_napari_viewer()
    layer = _stack_layer(viewer, tmp_path)
    painted = np.array(layer.data)
    before = {i.feature_id: i for i in document_of(layer).instances.values()}
    out = tmp_path / f"nuclei{ENDINGS[fmt]}"
    written = viewer.layers.save(str(out), selected=True, plugin=PLUGIN_NAME)
    assert written[0] == str(out)
    if fmt == "labelbox-v1":
        names = [row["External ID"] for row in json.loads(out.read_text())]
        planes = sorted({int(z) for z in np.nonzero(painted)[0]})
        assert names == [f"nuclei.tif#z={z}" for z in planes]  # planes without objects: none
    viewer.layers.clear()
    viewer.open(str(out), plugin=PLUGIN_NAME)
    images = [lay for lay in viewer.layers if isinstance(lay, Image)]
    (again,) = [lay for lay in viewer.layers if isinstance(lay, Labels)]
    assert len(images) == 1 and images[0].data.shape == (6, 32, 40)
    assert again.data.shape == (6, 32, 40)
    assert tuple(again.axis_labels) == tuple(images[0].axis_labels) == ("z", "y", "x")
    document = document_of(again)
    for instance in document.instances.values():
        original = before[instance.feature_id]
        np.testing.assert_array_equal(again.data == instance.label_id, painted == original.label_id)
        assert instance.answers == original.answers
        assert instance.schema_id == original.schema_id
    assert set(before) == {i.feature_id for i in document.instances.values()}
    assert document.image_answers == document_of(layer).image_answers
    # the dims slider walks the stack's planes
    viewer.dims.set_current_step(0, 3)
    assert viewer.dims.nsteps[0] == 6
