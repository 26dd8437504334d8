"""The writer's output is read by the real Labelbox SDK (``labelbox==4.0.0``, the newest with
the v1 converter), in its own cached environment (see :mod:`tests.labelbox_sdk`).
"""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from napari_segtool.formats.labelbox_v1 import LabelboxFormatWarning, read_export, write_export
from napari_segtool.formats.toolkit.flags import FLAGS_KEY
from napari_segtool.model.document import Document, Instance
from napari_segtool.model.ontology import ObjectClass, Ontology, Option, Question
from tests.labelbox_sdk import SDK4

# Runs inside the SDK's environment: deserialize with the SDK's own v1 converter,
# draw every mask the way the SDK does, and report what it understood.
CHECKER = r"""
import json
import sys
from pathlib import Path

import numpy as np

np.alltrue = np.all  # labelbox 4.0.0 calls np.alltrue, which numpy 2 removed

from labelbox.data.annotation_types import (
    Checklist, ClassificationAnnotation, Mask, ObjectAnnotation, Radio, Text,
)
from labelbox.data.serialization import LBV1Converter

export_path, out_dir, mask_base_url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
rows = json.loads(export_path.read_text())


def answers(annotation):
    value = annotation.value
    if isinstance(value, Text):
        shown = value.answer
    elif isinstance(value, Radio):
        shown = [value.answer.feature_schema_id]
    elif isinstance(value, Checklist):
        shown = [a.feature_schema_id for a in value.answer]
    else:
        raise TypeError(type(value))
    return {"schema_id": annotation.feature_schema_id, "name": annotation.name, "answer": shown}


report = []
for label in LBV1Converter.deserialize(rows):
    entry = {"uid": label.uid, "row_data": label.data.url, "objects": [], "classifications": []}
    for annotation in label.annotations:
        if isinstance(annotation, ClassificationAnnotation):
            entry["classifications"].append(answers(annotation))
            continue
        assert isinstance(annotation, ObjectAnnotation) and isinstance(annotation.value, Mask)
        data = annotation.value.mask
        # The SDK fetches only http(s) itself: point it at the local file instead.
        relative = data.url[len(mask_base_url):].lstrip("/") if mask_base_url else data.url
        data.file_path = str(export_path.parent / relative)
        data.url = None
        feature_id = annotation.extra["feature_id"]
        np.save(out_dir / f"{feature_id}.npy", annotation.value.draw(color=1))
        entry["objects"].append(
            {
                "feature_id": feature_id,
                "schema_id": annotation.feature_schema_id,
                "name": annotation.name,
                "classifications": [answers(c) for c in annotation.classifications],
            }
        )
    report.append(entry)
print(json.dumps(report))
"""


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    return SDK4.ensure()


def _scene():
    """Three classes, nested and flat answers of every kind, touching instances."""
    notes = Question("text", "Notes")
    alive = Question(
        "radio",
        "Alive",
        required=True,
        options=[Option("Yes", questions=[Question("text", "Why")]), Option("No")],
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
    stain = Question("dropdown", "Stain", options=[Option("DAPI"), Option("GFP")])
    ontology = Ontology(
        classes=[
            ObjectClass("Cell", color="#00AA00", questions=[alive, parts, notes]),
            ObjectClass("Debris", color="#AA0000"),
            ObjectClass("Background blob", color="#0000AA", tool="superpixel"),
        ],
        questions=[stain, Question("text", "Comment")],
    )
    cell, debris, blob = (c.feature_schema_id for c in ontology.classes)
    yes, _ = alive.options
    nucleus, membrane, _ = parts.options
    shape = nucleus.questions[0]
    rows, cols = np.ogrid[:60, :80]
    labels = np.zeros((60, 80), np.uint32)
    labels[(rows - 20) ** 2 + (cols - 20) ** 2 <= 12**2] = 1
    labels[(rows - 20) ** 2 + (cols - 43) ** 2 <= 11**2] = 2  # touches instance 1
    labels[45:58, 0:80] = 3  # spans the full width
    labels[0, 79] = 4  # a single corner pixel
    labels[30:40, 60:75] = 6
    instances = [
        Instance(
            1,
            cell,
            answers={
                alive.feature_schema_id: {
                    yes.feature_schema_id: {yes.questions[0].feature_schema_id: "divides"}
                },
                parts.feature_schema_id: {
                    nucleus.feature_schema_id: {
                        shape.feature_schema_id: {shape.options[0].feature_schema_id: {}}
                    },
                    membrane.feature_schema_id: {},
                },
                notes.feature_schema_id: "bright",
            },
        ),
        Instance(
            2, cell, answers={alive.feature_schema_id: {alive.options[1].feature_schema_id: {}}}
        ),
        Instance(3, blob),
        Instance(4, debris),
        Instance(5, debris),  # no pixels: not exported
        Instance(6, debris),
    ]
    document = Document(
        ontology=ontology,
        instances=instances,
        image_answers={
            stain.feature_schema_id: {stain.options[1].feature_schema_id: {}},
            ontology.questions[1].feature_schema_id: "ok",
        },
        source={"external_id": "well A1.png"},
    )
    # locks and hidden flags travel under our namespaced keys, which the SDK must accept
    document.set_locked(1, True)
    document.set_hidden(2, True)
    document.set_class_locked(blob, True)
    document.set_class_hidden(debris, True)
    return labels, document


def _flat_answers(questions, answers) -> dict[str, object]:
    """Nested answers as {question id: text or sorted option ids}, at every depth."""
    flat: dict[str, object] = {}
    for question in questions:
        value = answers.get(question.feature_schema_id)
        if value is None:
            continue
        if isinstance(value, str):
            flat[question.feature_schema_id] = value
            continue
        flat[question.feature_schema_id] = sorted(value)
        for option in question.options:
            if option.feature_schema_id in value:
                flat.update(_flat_answers(option.questions, value[option.feature_schema_id]))
    return flat


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mask_mode", "mask_base_url"),
    [("RGBA", None), ("L", "https://storage.example/exports")],
)
def test_labelbox_sdk_reads_every_mask_and_answer(sdk_python, tmp_path, mask_mode, mask_base_url):
    labels, document = _scene()
    export = tmp_path / "plate.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)  # instance 6: "Alive" unanswered
        write_export(
            export,
            [(labels, document)],
            mask_mode=mask_mode,
            mask_base_url=mask_base_url,
            image_base_url="https://images.example/plates",
        )
    (row,) = json.loads(export.read_text())
    assert FLAGS_KEY in row and FLAGS_KEY in row["Label"]["objects"][0]
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    script = tmp_path / "check_with_sdk.py"
    script.write_text(CHECKER)
    result = subprocess.run(
        [sdk_python, script, export, drawn, mask_base_url or ""],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    (label,) = json.loads(result.stdout.strip().splitlines()[-1])
    assert label["row_data"] == "https://images.example/plates/well%20A1.png"
    assert label["uid"] == json.loads(export.read_text())[0]["ID"]

    painted = [i for i in sorted(document.instances) if (labels == i).any()]
    assert [o["feature_id"] for o in label["objects"]] == [
        document.instances[i].feature_id for i in painted
    ]
    for obj, label_id in zip(label["objects"], painted, strict=True):
        instance = document.instances[label_id]
        cls_ = document.ontology.class_by_id(instance.schema_id)
        assert (obj["schema_id"], obj["name"]) == (cls_.feature_schema_id, cls_.name)
        sdk_mask = np.load(drawn / f"{obj['feature_id']}.npy")
        assert sdk_mask.shape == labels.shape
        np.testing.assert_array_equal(sdk_mask, (labels == label_id).astype(np.uint8))
        sdk_answers = {
            c["schema_id"]: c["answer"] if isinstance(c["answer"], str) else sorted(c["answer"])
            for c in obj["classifications"]
        }
        assert sdk_answers == _flat_answers(cls_.questions, instance.answers)
    image_answers = {
        c["schema_id"]: c["answer"] if isinstance(c["answer"], str) else sorted(c["answer"])
        for c in label["classifications"]
    }
    assert image_answers == _flat_answers(document.ontology.questions, document.image_answers)
    # not vacuous: the first cell carries five answers (two of them nested), the image two
    assert len(label["objects"][0]["classifications"]) == 5 and len(image_answers) == 2


# Runs inside the SDK's environment: every object of every label, as the SDK's own v1
# converter types it; masks whose file is local (relative to the export) are drawn.
KINDS_CHECKER = r"""
import json
import sys
from pathlib import Path

import numpy as np

np.alltrue = np.all  # labelbox 4.0.0 calls np.alltrue, which numpy 2 removed

from labelbox.data.annotation_types import ClassificationAnnotation, Mask
from labelbox.data.serialization import LBV1Converter

export_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
report = []
for label in LBV1Converter.deserialize(json.loads(export_path.read_text())):
    entry = {"objects": [], "classifications": len(label.classification_annotations())}
    for annotation in label.object_annotations():
        feature_id = annotation.extra["feature_id"]
        obj = {
            "feature_id": feature_id,
            "kind": type(annotation.value).__name__,
            "name": annotation.name,
            "classifications": len(annotation.classifications),
        }
        if isinstance(annotation.value, Mask) and not annotation.value.mask.url.startswith("http"):
            data = annotation.value.mask
            data.file_path, data.url = str(export_path.parent / data.url), None
            np.save(out_dir / f"{feature_id}.npy", annotation.value.draw(color=1))
            obj["drawn"] = True
        entry["objects"].append(obj)
    report.append(entry)
print(json.dumps(report))
"""


def _sdk_kinds(sdk_python, export: Path, drawn: Path) -> list[dict]:
    """What the SDK reads in ``export`` (its masks drawn into ``drawn``)."""
    drawn.mkdir(exist_ok=True)
    script = export.parent / "kinds_with_sdk.py"
    script.write_text(KINDS_CHECKER)
    result = subprocess.run(
        [sdk_python, script, export, drawn], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _by_feature_id(report: list[dict]) -> dict[str, tuple[str, str, int]]:
    return {
        o["feature_id"]: (o["kind"], o["name"], o["classifications"])
        for label in report
        for o in label["objects"]
    }


def _other_tool_objects() -> list[dict]:
    """A box, a polygon and a point as a real image export has them (each with an
    ``instanceURI`` rendering it), and a line without one; the box with an answer."""
    mask_uri = "https://api.labelbox.com/masks/feature/{}?token=expired"
    base = {"value": "", "color": "#FF8000"}
    box_question = {
        "featureId": "ckr2k4lzj000e3h69hvowgptf",
        "schemaId": "ckr083qt78ie80yar0goy4trr",
        "title": "has_handbag",
        "value": "has_handbag",
        "answer": {
            "featureId": "ckr2k4lzj000f3h69hvowgptf",
            "schemaId": "ckr083qt78ie90yar0goy4trr",
            "title": "yes",
            "value": "yes",
        },
    }
    objects = [
        ("ckr2k4hvi000a3h69dm0voem2", "Box", {"bbox": {"top": 3, "left": 4, "height": 9,
                                                       "width": 12}}),
        ("ckr2k3v6d00043h69s3psq0oy", "Outline", {"polygon": [{"x": 1, "y": 2}, {"x": 20, "y": 3},
                                                              {"x": 9, "y": 30}]}),
        ("ckr2k3ti600033h697k4f5q4y", "Spot", {"point": {"x": 33.5, "y": 12.25}}),
        ("ckr2k3h9t00003h69gdr7eb8p", "Path", {"line": [{"x": 0, "y": 0}, {"x": 40, "y": 25}]}),
    ]  # fmt: skip
    out = []
    for n, (feature_id, title, geometry) in enumerate(objects):
        obj = {
            "featureId": feature_id,
            "schemaId": f"ckr083qt78ie{n}0yar0goy4tzz",
            "title": title,
            **base,
            **geometry,
            "classifications": [box_question] if title == "Box" else [],
        }
        if title != "Path":
            obj["instanceURI"] = mask_uri.format(feature_id)
        out.append(obj)
    return out


@pytest.mark.slow
def test_labelbox_sdk_reads_every_object_kind_back_after_a_round_trip(sdk_python, tmp_path):
    """Masks, boxes, polygons, points and lines: opened and saved again, the SDK reads the
    same kinds, names and answers for every featureId, and the same mask pixels."""
    labels, document = _scene()
    export = tmp_path / "first" / "plate.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        write_export(export, [(labels, document)], image_base_url="https://images.example")
        rows = json.loads(export.read_text())
        rows[0]["Label"]["objects"][2:2] = _other_tool_objects()  # among the masks
        export.write_text(json.dumps(rows))
        (row,) = read_export(export)
        again = tmp_path / "saved" / "plate.json"
        write_export(again, [(row.labels, row.document)])
    before = _sdk_kinds(sdk_python, export, tmp_path / "drawn-before")
    after = _sdk_kinds(sdk_python, again, tmp_path / "drawn-after")
    kinds = _by_feature_id(after)
    assert kinds == _by_feature_id(before)
    assert sorted({kind for kind, _, _ in kinds.values()}) == [
        "Line", "Mask", "Point", "Polygon", "Rectangle"
    ]  # fmt: skip
    assert kinds["ckr2k4hvi000a3h69dm0voem2"] == ("Rectangle", "Box", 1)
    assert after[0]["classifications"] == before[0]["classifications"] == 2
    for label_id, instance in document.instances.items():
        if not (labels == label_id).any():
            continue
        drawn = np.load(tmp_path / "drawn-after" / f"{instance.feature_id}.npy")
        np.testing.assert_array_equal(drawn, (labels == label_id).astype(np.uint8))


@pytest.mark.slow
def test_labelbox_sdk_reads_a_real_export_back_after_a_round_trip(
    sdk_python, tmp_path, monkeypatch
):
    """The SDK's own image export, opened (its web files served locally) and saved: the SDK
    reads the objects it read in the original, and the mask's pixels."""
    from tests.labelbox_realworld import SDK_FIXTURES, load_rows, serve_the_web, web_mask

    serve_the_web(monkeypatch)
    original = tmp_path / "original.json"
    original.write_text(json.dumps(load_rows(SDK_FIXTURES / "image_export.json")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LabelboxFormatWarning)
        (row,) = read_export(original, allow_download=True)
        saved = tmp_path / "saved" / "export.json"
        write_export(saved, [(row.labels, row.document)])
    before = _by_feature_id(_sdk_kinds(sdk_python, original, tmp_path / "drawn-before"))
    report = _sdk_kinds(sdk_python, saved, tmp_path / "drawn-after")
    after = _by_feature_id(report)
    assert after == before and len(after) == 10
    (mask,) = [o for o in report[0]["objects"] if o["kind"] == "Mask"]
    drawn = np.load(tmp_path / "drawn-after" / f"{mask['feature_id']}.npy")
    np.testing.assert_array_equal(drawn, web_mask(mask["feature_id"]).astype(np.uint8))
