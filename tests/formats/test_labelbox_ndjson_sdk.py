"""The NDJSON import the writer makes is consumed by the current Labelbox SDK (7.x).

The SDK runs in its own cached environment (:mod:`tests.labelbox_sdk`). Per line it
validates with ``NDLabel.model_validate({"annotations": line})`` (in 7.x ``annotations``
holds one annotation, not a list), turns masks into SDK objects with
``NDObject.to_common`` and draws them, and turns image-level lines into SDK
classifications with ``NDClassification.to_common``. Composite masks are fetched by the
SDK itself over HTTP from a server on 127.0.0.1. Finally the SDK serializes ``Label``
objects built from the same layer (``NDJsonConverter.serialize``) and the test compares
them with the writer's lines field by field.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_segtool.formats.labelbox_ndjson import NdjsonWriteWarning, write_ndjson
from napari_segtool.formats.labelbox_v1 import read_export
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ontology import ObjectClass, Ontology, Option, Question
from tests.labelbox_sdk import SDK7, run_in_sdk

# Runs inside the SDK's environment: validate and convert every line, draw every mask.
CHECKER = r"""
import json
import sys
from pathlib import Path

import numpy as np

from labelbox.data.annotation_types import Checklist, Radio, Text
from labelbox.data.serialization.ndjson.label import NDLabel
from labelbox.data.serialization.ndjson.objects import NDMask, NDObject
from labelbox.data.serialization.ndjson.classification import NDClassification

ndjson_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])


def tree(classifications):
    # SDK classifications as {"name|schemaId": text, or {"name|schemaId": nested}}
    out = {}
    for annotation in classifications or []:
        key = f"{annotation.name}|{annotation.feature_schema_id}"
        value = annotation.value
        if isinstance(value, Text):
            out[key] = value.answer
            continue
        answers = [value.answer] if isinstance(value, Radio) else value.answer
        assert isinstance(value, (Radio, Checklist)), type(value)
        out[key] = {
            f"{answer.name}|{answer.feature_schema_id}": tree(answer.classifications)
            for answer in answers
        }
    return out


report = {"objects": [], "classifications": []}
for number, text in enumerate(ndjson_path.read_text().splitlines()):
    nd = NDLabel.model_validate({"annotations": json.loads(text)}).annotations
    data_row = nd.data_row.model_dump(exclude_none=True, by_alias=True)
    if isinstance(nd, NDMask):
        common = NDObject.to_common(nd)
        np.save(out_dir / f"{number}.npy", common.value.draw(color=1))
        report["objects"].append(
            {
                "line": number,
                "uuid": nd.uuid,
                "data_row": data_row,
                "name": common.name,
                "schema_id": common.feature_schema_id,
                "answers": tree(common.classifications),
            }
        )
    else:
        (common,) = NDClassification.to_common(nd)
        report["classifications"].append(
            {"type": type(nd).__name__, "uuid": nd.uuid, "data_row": data_row,
             "answers": tree([common])}
        )
print(json.dumps(report))
"""

# Runs inside the SDK's environment: SDK Label objects built from the layer, serialized.
REFERENCE = r"""
import json
import sys

import numpy as np

from labelbox.data.annotation_types import (
    Checklist, ClassificationAnnotation, ClassificationAnswer, GenericDataRowData, Label, Mask,
    MaskData, ObjectAnnotation, Radio, Text,
)
from labelbox.data.serialization import NDJsonConverter

spec = json.loads(open(sys.argv[1]).read())
labels = np.load(sys.argv[2])


def classification(entry):
    if entry["kind"] == "text":
        value = Text(answer=entry["answer"])
    else:
        answers = [
            ClassificationAnswer(
                name=a["name"],
                feature_schema_id=a["schema_id"],
                classifications=[classification(c) for c in a["nested"]] or None,
            )
            for a in entry["answer"]
        ]
        value = Radio(answer=answers[0]) if entry["kind"] == "radio" else Checklist(answer=answers)
    return ClassificationAnnotation(
        name=entry["name"], feature_schema_id=entry["schema_id"], value=value,
        extra={"uuid": entry.get("uuid")} if entry.get("uuid") else {},
    )


annotations = [
    ObjectAnnotation(
        name=obj["name"],
        feature_schema_id=obj["schema_id"],
        value=Mask(mask=MaskData.from_2D_arr((labels == obj["label_id"]).astype(np.uint8)),
                   color=(1, 1, 1)),
        classifications=[classification(c) for c in obj["answers"]],
        extra={"uuid": obj["uuid"]},
    )
    for obj in spec["objects"]
] + [classification(c) for c in spec["image"]]
data = GenericDataRowData(**spec["data_row"])
print(json.dumps(list(NDJsonConverter.serialize([Label(data=data, annotations=annotations)]))))
"""


@pytest.fixture(scope="session")
def sdk7_python() -> Path:
    return SDK7.ensure()


@pytest.fixture
def loopback_server(tmp_path):
    """A static file server on 127.0.0.1 for ``tmp_path``: ``(base URL, requested paths)``."""
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requested.append(self.path)

    handler = functools.partial(Handler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()


def scene():
    """Three classes; nested answers three levels deep; touching, edge and corner instances."""
    why = Question("text", "Why")
    stage = Question(
        "radio",
        "Stage",
        options=[Option("Early", questions=[Question("text", "Detail")]), Option("Late")],
    )
    alive = Question(
        "radio",
        "Alive",
        required=True,
        options=[Option("Yes", questions=[why, stage]), Option("No")],
    )
    parts = Question(
        "checklist",
        "Parts",
        options=[
            Option("Nucleus", questions=[Question("radio", "Shape", options=[Option("Round")])]),
            Option("Membrane"),
            Option("Vacuole"),
        ],
    )
    notes = Question("text", "Notes")
    stain = Question("dropdown", "Stain", options=[Option("DAPI"), Option("GFP")])
    quality = Question(
        "radio",
        "Quality",
        options=[
            Option(
                "Poor",
                questions=[
                    Question("checklist", "Problems", options=[Option("Blur"), Option("Dust")])
                ],
            ),
            Option("Good"),
        ],
    )
    ontology = Ontology(
        classes=[
            ObjectClass("Cell", color="#00AA00", questions=[alive, parts, notes]),
            ObjectClass("Debris", color="#AA0000"),
            ObjectClass("Background blob", color="#0000AA", tool="superpixel"),
        ],
        questions=[stain, Question("text", "Comment"), quality],
    )
    cell, debris, blob = (c.feature_schema_id for c in ontology.classes)
    yes = alive.options[0]
    early = stage.options[0]
    nucleus, membrane, _ = parts.options
    shape = nucleus.questions[0]
    rows, cols = np.ogrid[:60, :80]
    labels = np.zeros((60, 80), np.uint32)
    labels[(rows - 20) ** 2 + (cols - 20) ** 2 <= 12**2] = 1
    labels[(rows - 20) ** 2 + (cols - 43) ** 2 <= 11**2] = 2  # touches instance 1
    labels[45:58, 0:80] = 3  # spans the full width
    labels[0, 79] = 4  # a single corner pixel
    labels[30:40, 60:75] = 6
    labels[59, 0] = 7  # the other corner
    answers_1 = {
        alive.feature_schema_id: {
            yes.feature_schema_id: {
                why.feature_schema_id: "divides",
                stage.feature_schema_id: {
                    early.feature_schema_id: {early.questions[0].feature_schema_id: "prophase"}
                },
            }
        },
        parts.feature_schema_id: {
            nucleus.feature_schema_id: {
                shape.feature_schema_id: {shape.options[0].feature_schema_id: {}}
            },
            membrane.feature_schema_id: {},
        },
        notes.feature_schema_id: "bright",
    }
    instances = [
        Instance(1, cell, answers=answers_1),
        Instance(
            2, cell, answers={alive.feature_schema_id: {alive.options[1].feature_schema_id: {}}}
        ),
        Instance(3, blob),
        Instance(4, debris),
        Instance(5, debris),  # no pixels: left out
        Instance(6, cell),  # "Alive" unanswered: warned about
        Instance(7, debris),
    ]
    poor = quality.options[0]
    problems = poor.questions[0]
    document = Document(
        ontology=ontology,
        instances=instances,
        image_answers={
            stain.feature_schema_id: {stain.options[1].feature_schema_id: {}},
            ontology.questions[1].feature_schema_id: "ok",
            quality.feature_schema_id: {
                poor.feature_schema_id: {
                    problems.feature_schema_id: {o.feature_schema_id: {} for o in problems.options}
                }
            },
        },
        source={"external_id": "well A1.png"},
    )
    return labels, document


def expected_tree(questions, answers) -> dict:
    """The answers as the checker's tree ("name|schemaId" keys), straight from the ontology."""
    out = {}
    for question in questions:
        value = answers.get(question.feature_schema_id)
        if value is None:
            continue
        key = f"{question.name}|{question.feature_schema_id}"
        if isinstance(value, str):
            out[key] = value
            continue
        out[key] = {
            f"{o.value}|{o.feature_schema_id}": expected_tree(
                o.questions, value[o.feature_schema_id]
            )
            for o in question.options
            if o.feature_schema_id in value
        }
    return out


def sdk_spec(questions, answers) -> list[dict]:
    """The answers as the reference script builds SDK classifications from them."""
    spec = []
    for question in questions:
        value = answers.get(question.feature_schema_id)
        if value is None:
            continue
        entry = {"name": question.name, "schema_id": question.feature_schema_id}
        if isinstance(value, str):
            spec.append({**entry, "kind": "text", "answer": value})
            continue
        chosen = [
            {
                "name": o.value,
                "schema_id": o.feature_schema_id,
                "nested": sdk_spec(o.questions, value[o.feature_schema_id]),
            }
            for o in question.options
            if o.feature_schema_id in value
        ]
        kind = "checklist" if question.type == "checklist" else "radio"
        spec.append({**entry, "kind": kind, "answer": chosen})
    return spec


def write_scene(path: Path, labels, document, **options) -> list[dict]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NdjsonWriteWarning)
        write_ndjson(path, [(labels, document)], **options)
    messages = " ".join(str(w.message) for w in caught)
    assert "instance 6 (Cell): Alive" in messages and "label ids 5" in messages
    return [json.loads(line) for line in path.read_text().splitlines()]


def painted(labels, document) -> list[int]:
    return [i for i in sorted(document.instances) if (labels == i).any()]


@pytest.mark.slow
@pytest.mark.parametrize("masks", ["png", "composite"])
def test_sdk_validates_and_draws_every_line(sdk7_python, tmp_path, loopback_server, masks):
    base_url, requested = loopback_server
    labels, document = scene()
    path = tmp_path / "plate.ndjson"
    options = {"mask_base_url": base_url} if masks == "composite" else {}
    lines = write_scene(path, labels, document, masks=masks, **options)
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    report = json.loads(run_in_sdk(sdk7_python, CHECKER, tmp_path, path, drawn).splitlines()[-1])

    ids = painted(labels, document)
    assert len(report["objects"]) == len(ids) == 6
    for obj, label_id in zip(report["objects"], ids, strict=True):
        instance = document.instances[label_id]
        cls_ = document.ontology.class_by_id(instance.schema_id)
        assert (obj["name"], obj["schema_id"]) == (cls_.name, cls_.feature_schema_id)
        assert obj["data_row"] == {"globalKey": "well A1.png"}
        assert obj["uuid"] == lines[obj["line"]]["uuid"]
        sdk_mask = np.load(drawn / f"{obj['line']}.npy")
        np.testing.assert_array_equal(sdk_mask, (labels == label_id).astype(np.uint8))
        assert obj["answers"] == expected_tree(cls_.questions, instance.answers)
    # not vacuous: three levels deep (Alive > Yes > Stage > Early > Detail)
    deep = report["objects"][0]["answers"]
    alive_key = next(k for k in deep if k.startswith("Alive|"))
    (yes,) = deep[alive_key].values()
    (early,) = next(v for k, v in yes.items() if k.startswith("Stage|")).values()
    assert list(early.values()) == ["prophase"]

    image = {}
    for entry in report["classifications"]:
        assert entry["type"] in ("NDText", "NDRadio", "NDChecklist")
        assert entry["data_row"] == {"globalKey": "well A1.png"}
        image.update(entry["answers"])
    assert image == expected_tree(document.ontology.questions, document.image_answers)
    assert len(report["classifications"]) == 3
    if masks == "composite":  # the SDK fetched the one composite PNG itself
        (uri,) = {line["mask"]["instanceURI"] for line in lines if "mask" in line}
        assert uri.startswith(base_url + "/plate_masks/")
        assert requested and all(r == uri[len(base_url) :] for r in requested)


@pytest.mark.slow
def test_same_lines_as_the_sdk_serializer(sdk7_python, tmp_path):
    labels, document = scene()
    document.source["data_row_id"] = "ckrazctum0z8a0ybc0b0o0g0v"  # read from a Labelbox export
    path = tmp_path / "plate.ndjson"
    lines = write_scene(path, labels, document)
    objects = [line for line in lines if "mask" in line]
    image_lines = [line for line in lines if "mask" not in line]
    spec = {
        "data_row": {"uid": "ckrazctum0z8a0ybc0b0o0g0v"},
        "objects": [
            {
                "label_id": label_id,
                "uuid": line["uuid"],
                "name": document.class_of(label_id).name,
                "schema_id": document.class_of(label_id).feature_schema_id,
                "answers": sdk_spec(
                    document.class_of(label_id).questions, document.instances[label_id].answers
                ),
            }
            for label_id, line in zip(painted(labels, document), objects, strict=True)
        ],
        "image": [
            {**entry, "uuid": line["uuid"]}
            for entry, line in zip(
                sdk_spec(document.ontology.questions, document.image_answers),
                image_lines,
                strict=True,
            )
        ],
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    np.save(tmp_path / "labels.npy", labels)
    output = run_in_sdk(
        sdk7_python, REFERENCE, tmp_path, tmp_path / "spec.json", tmp_path / "labels.npy"
    )
    reference = json.loads(output.splitlines()[-1])

    assert len(reference) == len(lines)
    for ours, theirs in zip(lines, reference, strict=True):
        if "mask" in theirs:  # the same pixels; the PNG bytes differ
            assert (
                _png_pixels(ours["mask"]["png"]).tolist()
                == _png_pixels(theirs["mask"]["png"]).tolist()
            )
            ours, theirs = dict(ours, mask=None), dict(theirs, mask=None)
        assert ours == camel_case_ids(theirs)


def camel_case_ids(value):
    """The SDK's serializer spells ``schemaId`` as ``schema_id`` below an answer (it dumps
    nested classifications without aliases); Labelbox documents ``schemaId`` at every level,
    the writer writes that, and the SDK's own validator reads both."""
    if isinstance(value, list):
        return [camel_case_ids(v) for v in value]
    if isinstance(value, dict):
        return {
            ("schemaId" if k == "schema_id" else k): camel_case_ids(v) for k, v in value.items()
        }
    return value


def _png_pixels(encoded: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))


@pytest.mark.slow
def test_a_labelbox_export_saved_as_ndjson_goes_back_to_its_data_row(
    sdk7_python, tmp_path, reference_copy
):
    """Read the reference v1 export (real ids), save it as an import: the SDK takes it whole."""
    (row,) = read_export(reference_copy / "export_v1.fish.json")
    path = tmp_path / "tank.ndjson"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NdjsonWriteWarning)
        write_ndjson(path, [(row.labels, row.document)])
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    report = json.loads(run_in_sdk(sdk7_python, CHECKER, tmp_path, path, drawn).splitlines()[-1])
    document = row.document
    ids = painted(row.labels, document)
    assert len(report["objects"]) == len(ids) == 4
    for obj, label_id in zip(report["objects"], ids, strict=True):
        cls_ = document.class_of(label_id)
        assert obj["data_row"] == {"id": "ck0fishdatarow00000000001"}
        assert (obj["name"], obj["schema_id"]) == (cls_.name, cls_.feature_schema_id)
        sdk_mask = np.load(drawn / f"{obj['line']}.npy")
        np.testing.assert_array_equal(sdk_mask, (row.labels == label_id).astype(np.uint8))
        assert obj["answers"] == expected_tree(cls_.questions, document.instances[label_id].answers)
    blurry, fins = report["objects"][0]["answers"].values()
    (why,) = next(iter(blurry.values())).values()  # nested under "yes"
    assert why == "it moved during the exposure" and len(fins) == 1
    image = {k: v for entry in report["classifications"] for k, v in entry["answers"].items()}
    assert image == expected_tree(document.ontology.questions, document.image_answers) != {}


# Runs inside the SDK's environment: each object line of another tool as an SDK geometry.
GEOMETRY_CHECKER = r"""
import json
import sys

from labelbox.data.annotation_types import Line, Point, Polygon, Rectangle
from labelbox.data.serialization.ndjson.label import NDLabel
from labelbox.data.serialization.ndjson.objects import NDObject


def xy(points):
    return [[p.x, p.y] for p in points]


out = {}
for text in open(sys.argv[1]).read().splitlines():
    line = json.loads(text)
    if not any(key in line for key in ("bbox", "polygon", "line", "point")):
        continue
    nd = NDLabel.model_validate({"annotations": line}).annotations
    common = NDObject.to_common(nd)
    value = common.value
    if isinstance(value, Rectangle):
        shape = ["Rectangle", [[value.start.x, value.start.y], [value.end.x, value.end.y]]]
    elif isinstance(value, Polygon):
        shape = ["Polygon", xy(value.points)]
    elif isinstance(value, Line):
        shape = ["Line", xy(value.points)]
    else:
        assert isinstance(value, Point), type(value)
        shape = ["Point", [value.x, value.y]]
    answers = [c.name for c in common.classifications]
    out[nd.uuid] = {"shape": shape, "name": common.name, "answers": answers}
print(json.dumps(out))
"""


@pytest.mark.filterwarnings(
    "ignore:.*rebuilt the ontology", "ignore:.*unanswered", "ignore:.*the ontology lacked"
)
def test_the_sdk_reads_boxes_polygons_lines_and_points_with_their_coordinates(
    sdk7_python, tmp_path
):
    from napari_segtool.formats.labelbox_ndjson import read_export as read_v2_export
    from napari_segtool.formats.labelbox_ndjson import stable_uuid
    from tests.formats.test_labelbox_ndjson_objects import BOX, LINE, POINT, POLY, other_tools
    from tests.formats.test_labelbox_ndjson_reader import (
        COMPOSITE,
        EXPORT,
        REFERENCE,
        objects_of,
        reference_row,
        with_ontology,
        write_rows,
    )

    folder = tmp_path / "export"
    (folder / "export_v2_masks").mkdir(parents=True)
    for name in (EXPORT, "tank.png", COMPOSITE):
        (folder / name).write_bytes((REFERENCE / name).read_bytes())
    row = reference_row()
    objects_of(row).extend(other_tools())
    write_rows(folder / EXPORT, [row])
    with_ontology(folder)
    (read,) = read_v2_export(folder / EXPORT)
    layer = read.layers[0]
    out = tmp_path / "import.ndjson"
    write_ndjson(out, [(layer.labels, layer.document)])
    seen = json.loads(run_in_sdk(sdk7_python, GEOMETRY_CHECKER, tmp_path, out))
    assert seen == {
        stable_uuid(BOX): {
            "shape": ["Rectangle", [[20, 10], [28, 15]]],
            "name": "Bubble",
            "answers": ["Size"],
        },
        stable_uuid(POLY): {
            "shape": ["Polygon", [[1, 2], [5, 2], [5, 9], [1, 2]]],
            "name": "Plant",
            "answers": [],
        },
        stable_uuid(LINE): {"shape": ["Line", [[0, 0], [10, 4.5]]], "name": "Crack", "answers": []},
        stable_uuid(POINT): {"shape": ["Point", [30, 40]], "name": "Eye", "answers": []},
    }
