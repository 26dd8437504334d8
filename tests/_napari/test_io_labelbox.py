"""File > Open and File > Save with Labelbox v1 exports, through napari and npe2."""

from __future__ import annotations

import json
import warnings

import npe2
import numpy as np
import pytest
from napari.layers import Image, Labels, Points, Shapes
from PIL import Image as PILImage

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari import io_labelbox as io
from napari_segtool._napari.binding import (
    document_of,
    is_segmentation_layer,
    segmentation_layer_kwargs,
)
from napari_segtool._napari.io_hooks import open_file
from napari_segtool.formats.labelbox_v1 import LabelboxFormatError, LabelboxFormatWarning
from napari_segtool.model.document import METADATA_KEY, Document, Instance
from napari_segtool.model.ids import is_cuid
from napari_segtool.model.ontology import ObjectClass, Ontology, Option, Question
from tests.labelbox_realworld import SDK_FIXTURES, load_rows, serve_the_web

REFERENCE_FEATURES = [
    "cjxtm2d32i9aa07940tifrpuh",
    "cjxtm2kf0i9b207944z3gypsn",
    "cjxtm2spbh8xx0721s18nwqq0",
    "cjxtm3i3ci9cx07940e5t7if8",
]


def _ontology() -> Ontology:
    nested = Question("text", "Why")
    return Ontology(
        classes=[
            ObjectClass(
                "Cell",
                color="#00AA00",
                questions=[Question("radio", "Alive", options=[Option("Yes", questions=[nested])])],
            ),
            ObjectClass("Debris", color="#AA0000"),
        ],
        questions=[Question("text", "Notes")],
    )


def _segmentation_layer(viewer, shape=(30, 40), source=None, ontology=None) -> Labels:
    ontology = ontology or _ontology()
    cell, debris = ontology.classes
    alive = cell.questions[0]
    yes = alive.options[0]
    labels = np.zeros(shape, np.uint32)
    labels[2:10, 3:12] = 1
    labels[15:25, 20:30] = 2
    labels[12:14, 1:4] = 3
    document = Document(
        ontology=ontology,
        instances=[
            Instance(
                1,
                cell.feature_schema_id,
                answers={
                    alive.feature_schema_id: {
                        yes.feature_schema_id: {yes.questions[0].feature_schema_id: "moves"}
                    }
                },
            ),
            Instance(2, cell.feature_schema_id),
            Instance(3, debris.feature_schema_id),
        ],
        image_answers={ontology.questions[0].feature_schema_id: "fine"},
        source=source or {"image_name": "cells", "external_id": "cells.png"},
    )
    return viewer.add_labels(labels, **segmentation_layer_kwargs(document, "cells segmentation"))


def _by_feature(layer: Labels) -> dict[str, np.ndarray]:
    document = document_of(layer)
    return {i.feature_id: layer.data == i.label_id for i in document.instances.values()}


# -- reading ----------------------------------------------------------------------------
def test_open_reference_export_adds_image_and_segmentation(make_napari_viewer, reference_dir):
    viewer = make_napari_viewer()
    viewer.open(str(reference_dir / "export_v1.fish.json"), plugin=PLUGIN_NAME)
    assert [type(layer) for layer in viewer.layers] == [Image, Labels]
    image, labels = viewer.layers
    assert image.name == "tank" and image.rgb and image.data.shape == (96, 128, 3)
    assert labels.name == "tank segmentation" and labels.data.shape == (96, 128)
    assert is_segmentation_layer(labels)
    masks = _by_feature(labels)
    assert list(masks) == REFERENCE_FEATURES
    assert [int(m.sum()) for m in masks.values()] == [450, 341, 250, 10479]
    document = document_of(labels)
    assert [c.name for c in document.ontology.classes] == ["Orange Fish", "Blue Fish", "Water"]
    assert document.image_answers  # dropdown + notes
    assert list(labels.features["featureId"]) == ["", *REFERENCE_FEATURES]


def test_reader_declines_json_that_is_not_a_v1_export(tmp_path, reference_dir):
    coco = tmp_path / "instances.json"
    coco.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    assert io.get_reader(str(coco)) is None
    assert io.get_reader(str(reference_dir / "ontology.fish.json")) is None
    assert io.get_reader(str(reference_dir / "tank.png")) is None
    assert io.get_reader(str(reference_dir / "export_v1.fish.json")) is io.read_labelbox_v1
    assert io.get_reader([str(reference_dir / "export_v1.fish.json")]) is io.read_labelbox_v1


def test_npe2_reads_exports_with_our_reader_and_passes_other_json_on(reference_dir, tmp_path):
    layer_data = npe2.read([str(reference_dir / "export_v1.fish.json")], stack=False)
    assert [layer_type for _, _, layer_type in layer_data] == ["image", "labels"]
    coco = tmp_path / "instances.json"
    coco.write_text("{}")
    with pytest.raises(ValueError, match="refused the file"):
        npe2.read([str(coco)], stack=False, plugin_name=PLUGIN_NAME)


@pytest.mark.parametrize("damage", ["malformed JSON", "missing mask", "escaping instanceURI"])
def test_a_bad_export_raises_and_adds_no_layers(make_napari_viewer, reference_copy, damage):
    export = reference_copy / "export_v1.fish.json"
    if damage == "malformed JSON":
        export.write_text(export.read_text()[:-20])
        expected = "not valid JSON"
    elif damage == "missing mask":
        (reference_copy / "tank_masks" / f"{REFERENCE_FEATURES[3]}.png").unlink()
        expected = "is missing"
    else:
        export.write_text(export.read_text().replace("tank_masks/", "../../tank_masks/", 1))
        expected = "outside the export's folder"
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((4, 4)), name="already there")
    with pytest.raises(Exception) as info:  # napari wraps reader errors
        viewer.open(str(export), plugin=PLUGIN_NAME)
    chain = []
    error = info.value
    while error is not None:
        chain.append(str(error))
        error = error.__cause__ or error.__context__
    assert any(expected in message and str(export) in message for message in chain), chain
    assert [layer.name for layer in viewer.layers] == ["already there"]


@pytest.mark.filterwarnings("ignore:.*rebuilt the ontology from the objects")
def test_other_tools_open_as_shapes_and_points(make_napari_viewer, tmp_path):
    mask = np.zeros((10, 12), np.uint8)
    mask[2:5, 2:6] = 255
    PILImage.fromarray(mask).save(tmp_path / "m.png")
    row = {
        "ID": "c" + "0" * 24,
        "DataRow ID": "c" + "1" * 24,
        "Labeled Data": "https://example.org/x.png",
        "External ID": "x.png",
        "Label": {
            "objects": [
                {"featureId": "c" + "a" * 24, "title": "Cell", "instanceURI": "m.png"},
                {"featureId": "c" + "b" * 24, "title": "Box", "color": "#FF0000",
                 "bbox": {"top": 1, "left": 1, "height": 2, "width": 3}},
                {"featureId": "c" + "c" * 24, "title": "Dot", "point": {"x": 4, "y": 5}},
            ]
        },
    }  # fmt: skip
    (tmp_path / "export.json").write_text(json.dumps([row]))
    viewer = make_napari_viewer()
    with pytest.warns(LabelboxFormatWarning, match=r"2 object\(s\) of other tools"):
        viewer.open(str(tmp_path / "export.json"), plugin=PLUGIN_NAME)
    assert [type(layer) for layer in viewer.layers] == [Labels, Shapes, Points]
    labels, shapes, points = viewer.layers
    np.testing.assert_array_equal(labels.data, mask > 0)
    assert shapes.shape_type == ["rectangle"]
    np.testing.assert_array_equal(shapes.data[0], [[1, 1], [1, 4], [3, 4], [3, 1]])
    assert list(shapes.features["featureId"]) == ["c" + "b" * 24]
    np.testing.assert_allclose(shapes.edge_color[0], [1, 0, 0, 1])
    np.testing.assert_array_equal(points.data, [[5, 4]])


def test_several_data_rows_open_one_image_and_one_segmentation_each(
    make_napari_viewer, reference_copy
):
    export = reference_copy / "export_v1.fish.json"
    (row,) = json.loads(export.read_text())
    second = json.loads(json.dumps(row))
    second["External ID"] = "tank copy.png"
    second["ID"] = "ck0fishlabel0000000000002"
    for obj in second["Label"]["objects"]:
        obj["featureId"] = obj["featureId"][:-1] + "z"
    second["Label"]["objects"] = second["Label"]["objects"][2:]
    export.write_text(json.dumps([row, second]))
    viewer = make_napari_viewer()
    viewer.open(str(export), plugin=PLUGIN_NAME)
    assert [layer.name for layer in viewer.layers] == [
        "tank",
        "tank segmentation",
        "tank copy",
        "tank copy segmentation",
    ]
    assert len(document_of(viewer.layers[1])) == 4
    assert len(document_of(viewer.layers[3])) == 2
    assert document_of(viewer.layers[3]).source["label_id"] == "ck0fishlabel0000000000002"


# -- writing ----------------------------------------------------------------------------
def test_save_selected_layer_writes_an_export_that_reads_back(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    layer = _segmentation_layer(viewer)
    expected = _by_feature(layer)
    viewer.layers.selection = {layer}
    out = tmp_path / "cells.json"
    written = viewer.layers.save(str(out), selected=True, plugin=PLUGIN_NAME)
    assert written == [
        str(out),
        str(tmp_path / "cells_masks"),
        str(tmp_path / "cells.ontology.json"),
    ]
    (row,) = json.loads(out.read_text())
    assert len(row["Label"]["objects"]) == 3
    viewer.layers.clear()
    viewer.open(str(out), plugin=PLUGIN_NAME)
    (again,) = viewer.layers  # the image is a name only: no image layer
    read_back = _by_feature(again)
    assert list(read_back) == list(expected)
    for feature_id, mask in expected.items():
        np.testing.assert_array_equal(read_back[feature_id], mask)
    assert document_of(again).ontology == document_of(layer).ontology
    assert [i.answers for i in document_of(again).instances.values()] == [
        i.answers for i in document_of(layer).instances.values()
    ]


def test_saving_twice_keeps_the_ids_it_made(make_napari_viewer, tmp_path):
    """IDs made at the first save go back into the layer, bound or not."""
    viewer = make_napari_viewer()
    layer = _segmentation_layer(viewer)
    assert "label_id" not in layer.metadata[METADATA_KEY]["source"]
    out = tmp_path / "cells.json"
    npe2.write(str(out), [layer], plugin_name=PLUGIN_NAME)  # not bound yet
    first = json.loads(out.read_text())[0]
    assert is_cuid(first["ID"]) and is_cuid(first["DataRow ID"])
    assert layer.metadata[METADATA_KEY]["source"]["label_id"] == first["ID"]
    document_of(layer)  # bound now
    npe2.write(str(out), [layer], plugin_name=PLUGIN_NAME)
    second = json.loads(out.read_text())[0]
    assert (second["ID"], second["DataRow ID"]) == (first["ID"], first["DataRow ID"])
    assert second["Created At"] == first["Created At"]
    assert document_of(layer).source["label_id"] == first["ID"]


def test_save_two_segmentation_layers_as_two_data_rows(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    first = _segmentation_layer(viewer)
    shared = Ontology.from_dict(document_of(first).ontology.to_dict())
    second = _segmentation_layer(
        viewer, shape=(20, 50), source={"external_id": "other.png"}, ontology=shared
    )
    image = viewer.add_image(np.zeros((30, 40)), name="pixels")
    viewer.layers.selection = {first, second, image}
    out = tmp_path / "both.json"
    viewer.layers.save(str(out), selected=True, plugin=PLUGIN_NAME)
    rows = json.loads(out.read_text())
    assert [r["External ID"] for r in rows] == ["cells.png", "other.png"]
    assert len(list((tmp_path / "both_masks").iterdir())) == 6


def test_a_plain_labels_layer_is_refused_clearly(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    plain = viewer.add_labels(np.ones((5, 5), np.uint8), name="plain")
    with pytest.raises(LabelboxFormatError, match="layer 'plain' is not a segmentation layer"):
        npe2.write(str(tmp_path / "p.json"), [plain], plugin_name=PLUGIN_NAME)
    assert list(tmp_path.iterdir()) == []


def test_export_layer_adds_annotating_time_and_options(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    layer = _segmentation_layer(viewer, source={"external_id": "cells.png", "seconds_to_label": 60})
    out = tmp_path / "dock.json"
    result = io.export_layer(
        layer, out, seconds_to_label=15.5, mask_mode="L", image_base_url="https://img.example"
    )
    assert result.json_path == out and result.mask_count == 3
    (row,) = json.loads(out.read_text())
    assert row["Seconds to Label"] == 75.5
    assert row["Labeled Data"] == "https://img.example/cells.png"
    io.export_layer(layer, out, seconds_to_label=4.5)
    assert json.loads(out.read_text())[0]["Seconds to Label"] == 80.0
    assert document_of(layer).source["seconds_to_label"] == 80.0
    assert layer.metadata[METADATA_KEY]["source"]["export_path"] == str(out)
    with PILImage.open(next((tmp_path / "dock_masks").iterdir())) as mask:
        assert mask.mode == "RGBA"  # the second save used the default


def test_export_layer_warns_about_unanswered_required_questions(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    layer = _segmentation_layer(viewer)
    document = document_of(layer)
    ontology = Ontology.from_dict(document.ontology.to_dict())
    ontology.classes[1].questions.append(Question("text", "Origin", required=True))
    document.set_ontology(ontology)
    with pytest.warns(LabelboxFormatWarning, match=r"instance 3 \(Debris\): Origin"):
        io.export_layer(layer, tmp_path / "q.json")


def test_long_reads_and_writes_report_progress(make_napari_viewer, tmp_path, monkeypatch):
    from napari_segtool._napari import io_hooks

    bars = []
    real = io_hooks.progress

    def recording(items, total, desc):
        bars.append((desc, total))
        return real(items, total=total, desc=desc)

    monkeypatch.setattr(io_hooks, "progress", recording)
    viewer = make_napari_viewer()
    layer = _segmentation_layer(viewer)
    out = tmp_path / "cells.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        io.export_layer(layer, out)
        viewer.open(str(out), plugin=PLUGIN_NAME)
    assert bars == [("Writing Labelbox masks", 3), ("Reading Labelbox masks", 3)]


def test_open_export_downloads_only_when_asked(make_napari_viewer, tmp_path, monkeypatch):
    from napari_segtool.formats import labelbox_v1

    mask = np.zeros((6, 8), np.uint8)
    mask[1:3, 2:5] = 255
    png = tmp_path / "served.png"
    PILImage.fromarray(mask).save(png)
    row = {
        "DataRow ID": "c" + "1" * 24,
        "Labeled Data": "https://images.example/x.png",
        "Label": {"objects": [{"featureId": "c" + "a" * 24, "title": "Cell",
                               "instanceURI": "https://masks.example/a.png"}]},
    }  # fmt: skip
    (tmp_path / "remote.json").write_text(json.dumps([row]))
    fetched = []

    class Response:
        def __init__(self, data):
            self.data = data

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, limit):
            return self.data

    def fake_urlopen(url, timeout):
        fetched.append(url)
        return Response(png.read_bytes())

    monkeypatch.setattr(labelbox_v1.reader.urllib.request, "urlopen", fake_urlopen)
    viewer = make_napari_viewer()
    with pytest.raises(LabelboxFormatError, match="masks are not downloaded"):
        io.open_export(viewer, tmp_path / "remote.json")
    assert len(viewer.layers) == 0 and fetched == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        layers = io.open_export(viewer, tmp_path / "remote.json", allow_download=True)
    assert sorted(fetched) == ["https://images.example/x.png", "https://masks.example/a.png"]
    assert [type(layer) for layer in layers] == [Image, Labels] == [type(x) for x in viewer.layers]
    np.testing.assert_array_equal(viewer.layers[1].data, mask > 0)


# -- a real export with objects of other tools ---------------------------------------------
def _open_real_image_export(viewer, tmp_path, monkeypatch, opener=io.open_export):
    serve_the_web(monkeypatch)
    export = tmp_path / "image_export.json"
    export.write_text(json.dumps(load_rows(SDK_FIXTURES / "image_export.json")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        opener(viewer, export, allow_download=True)
    return export


def _objects(path) -> dict[str, dict]:
    (row,) = json.loads(path.read_text())
    return {obj["featureId"]: obj for obj in row["Label"]["objects"]}


def test_saving_a_real_export_with_all_its_layers_loses_nothing(
    make_napari_viewer, tmp_path, monkeypatch
):
    viewer = make_napari_viewer()
    export = _open_real_image_export(viewer, tmp_path, monkeypatch)
    assert [type(layer) for layer in viewer.layers] == [Image, Labels, Shapes, Points]
    original = _objects(export)
    viewer.layers.selection = set(viewer.layers)  # File > Save Selected Layers, all of them
    out = tmp_path / "saved" / "export.json"
    viewer.layers.save(str(out), selected=True, plugin=PLUGIN_NAME)
    saved = _objects(out)
    assert saved.keys() == original.keys()
    for feature_id, obj in original.items():
        if "instanceURI" in obj and not any(k in obj for k in ("bbox", "polygon", "line", "point")):
            assert saved[feature_id]["instanceURI"].startswith("export_masks/")  # the mask
        else:
            assert saved[feature_id] == obj  # kind, class, answers, featureId as they were


@pytest.mark.parametrize("opener", [io.open_export, open_file], ids=["labelbox", "any format"])
def test_edits_of_shapes_and_points_layers_are_saved_with_them(
    make_napari_viewer, tmp_path, monkeypatch, opener
):
    viewer = make_napari_viewer()
    export = _open_real_image_export(viewer, tmp_path, monkeypatch, opener)
    original = _objects(export)
    _, labels, shapes, points = viewer.layers
    box = list(shapes.features["featureId"]).index("ckr2k4lzj000d3h69hvowgptf")
    line = list(shapes.features["featureId"]).index("ckr2k3h9t00003h69gdr7eb8p")
    shapes.data = [d + ([5, -2] if n == box else 0) for n, d in enumerate(shapes.data)]
    shapes.selected_data = {line}
    shapes.remove_selected()
    points.selected_data = {0}
    points.remove_selected()
    viewer.layers.selection = {labels, shapes, points}
    viewer.layers.save(str(export), selected=True, plugin=PLUGIN_NAME)  # over itself
    saved = _objects(export)
    assert "ckr2k3h9t00003h69gdr7eb8p" not in saved  # the line deleted
    assert "ckr2k3ti600033h697k4f5q4y" not in saved  # the point deleted
    moved = saved["ckr2k4lzj000d3h69hvowgptf"]
    old = original["ckr2k4lzj000d3h69hvowgptf"]["bbox"]
    assert moved["bbox"] == {**old, "top": old["top"] + 5, "left": old["left"] - 2}
    assert moved["classifications"] == original["ckr2k4lzj000d3h69hvowgptf"]["classifications"]
    assert saved["ckr2k3px700013h69op6o240s"] == original["ckr2k3px700013h69op6o240s"]

    # saving the segmentation alone afterwards keeps the edits (the document has them)
    viewer.layers.selection = {labels}
    viewer.layers.save(str(export), selected=True, plugin=PLUGIN_NAME)
    assert _objects(export) == saved
