"""The instance workflow rules, driven with pixel-count deltas as strokes would (pure)."""

import pytest

from napari_segtool.model.document import Document, DocumentError
from napari_segtool.model.ontology import ObjectClass, Ontology
from napari_segtool.model.workflow import InstanceWorkflow, Settled


@pytest.fixture
def workflow(fish):
    return InstanceWorkflow(Document(fish))


def class_id(ontology, name):
    return ontology.class_by_name(name).feature_schema_id


def test_the_first_segmentation_class_is_current():
    tools = [
        ObjectClass("Box", tool="rectangle", feature_schema_id="box"),
        ObjectClass("Cell", feature_schema_id="cell"),
    ]
    assert InstanceWorkflow(Document(Ontology(classes=tools))).current_class_id == "cell"
    only_boxes = Ontology(classes=tools[:1])
    assert InstanceWorkflow(Document(only_boxes)).current_class_id == "box"
    empty = InstanceWorkflow(Document(Ontology()))
    assert empty.current_class_id is None
    with pytest.raises(DocumentError, match="no class to draw"):
        empty.pick_class()


def test_a_painted_pending_id_becomes_an_instance_of_the_current_class(workflow, fish):
    blue = class_id(fish, "Blue Fish")
    first = workflow.pick_class(blue)
    assert (first, workflow.current_class_id) == (1, blue)
    assert workflow.pick_class() == first, "an id never painted is handed out again"
    settled = workflow.apply_delta({0: -40, first: 40})
    assert settled == Settled(frozenset({first}), (first,))
    assert workflow.document.instance(first).schema_id == blue
    assert workflow.pending_label_id is None
    assert workflow.pixel_counts == {first: 40}
    assert workflow.pick_class() == first + 1


def test_strokes_that_add_no_new_id_create_nothing(workflow):
    label_id = workflow.pick_class()
    workflow.apply_delta({0: -5, label_id: 5})
    settled = workflow.apply_delta({0: 2, label_id: -2})  # erased a little
    assert settled == Settled(frozenset({label_id}), ())
    assert workflow.apply_delta({label_id: 0, 0: 0}) == Settled()
    # all pixels gone: the instance stays (undo brings it back) but is not listed
    workflow.apply_delta({0: 3, label_id: -3})
    assert workflow.pixel_counts == {}
    assert label_id in workflow.document
    assert workflow.visible_instance_ids() == []
    assert workflow.pick_class() == label_id + 1, "the emptied instance keeps its id"


def test_ids_are_handed_out_above_every_painted_id(workflow, fish):
    workflow.current_class_id = None  # a foreign id painted with no class to give
    workflow.apply_delta({0: -9, 60: 9})
    assert workflow.unassigned_ids() == [60]
    assert workflow.pick_class(class_id(fish, "Water")) == 61


def test_foreign_ids_take_the_current_class_or_stay_unassigned(workflow, fish):
    water = class_id(fish, "Water")
    workflow.pick_class(water)
    created = workflow.apply_delta({40: 4})  # napari's spin box picked 40
    assert created.created == (40,)
    assert workflow.document.instance(40).schema_id == water
    workflow.current_class_id = None
    assert workflow.apply_delta({41: 4}).created == ()
    assert workflow.unassigned_ids() == [41]
    assert workflow.visible_instance_ids() == [40]
    workflow.assign(41, water)
    assert workflow.unassigned_ids() == []
    assert workflow.visible_instance_ids() == [40, 41]


def test_a_recount_settles_every_id_at_once(workflow):
    workflow.pixel_counts = {3: 10, 1: 2}
    settled = workflow.settle(set(workflow.pixel_counts) | set(workflow.document.instances))
    assert settled.created == (1, 3), "in id order"
    assert workflow.visible_instance_ids() == [1, 3]


def test_selecting_a_label(workflow, fish):
    orange, blue = class_id(fish, "Orange Fish"), class_id(fish, "Blue Fish")
    workflow.pick_class(blue)
    workflow.apply_delta({1: 5})
    workflow.pick_class(orange)
    assert workflow.pending_label_id == 2
    # an instance makes its class current; no colour changes
    assert workflow.label_selected(1) == []
    assert workflow.current_class_id == blue
    # a fresh id (napari's M key) becomes the pending id of the current class
    assert workflow.label_selected(7) == [2, 7]
    assert workflow.pending_label_id == 7
    assert workflow.label_selected(7) == []
    assert workflow.label_selected(0) == [], "the eraser's label is no instance"
    assert workflow.apply_delta({7: 1}).created == (7,)
    assert workflow.document.instance(7).schema_id == blue
    workflow.current_class_id = orange
    workflow.select(7)
    assert workflow.current_class_id == blue
    workflow.select(99)  # not an instance: the current class stays
    assert workflow.current_class_id == blue


def test_changing_the_class_of_a_painted_instance_makes_that_class_current(workflow, fish):
    orange, water = class_id(fish, "Orange Fish"), class_id(fish, "Water")
    workflow.pick_class(orange)
    workflow.apply_delta({1: 5})
    workflow.document.add_instance(2, orange)  # an instance without pixels
    assert workflow.change_class(1, water) is True
    assert workflow.current_class_id == water
    assert workflow.change_class(2, orange) is False
    assert workflow.current_class_id == water
    assert workflow.document.instance(2).schema_id == orange


def test_class_removal_retires_its_ids_so_undo_brings_them_back_unassigned(workflow, fish):
    orange, blue = class_id(fish, "Orange Fish"), class_id(fish, "Blue Fish")
    workflow.pick_class(orange)
    workflow.apply_delta({1: 6})
    workflow.pick_class(blue)
    workflow.apply_delta({2: 4})
    workflow.apply_delta({1: -6, 0: 6})  # the binding erases the pixels first
    assert workflow.remove_class_instances(orange) == [1]
    assert 1 not in workflow.document
    workflow.document.set_ontology(
        Ontology(
            classes=[c for c in fish.classes if c.feature_schema_id != orange],
            questions=fish.questions,
        )
    )
    workflow.ontology_changed()
    assert workflow.current_class_id == blue, "the current class was not removed"
    # undo of the erase: the pixels come back, but not as the current class's
    assert workflow.apply_delta({1: 6, 0: -6}).created == ()
    assert workflow.unassigned_ids() == [1]
    workflow.assign(1, blue)
    assert 1 not in workflow.retired_ids
    workflow.apply_delta({1: -6})
    workflow.document.remove_instance(1)
    assert workflow.apply_delta({1: 6}).created == (1,), "assigned once: no longer retired"


def test_when_the_current_class_is_removed_the_first_one_left_is_current(workflow, fish):
    orange, blue = class_id(fish, "Orange Fish"), class_id(fish, "Blue Fish")
    workflow.pick_class(orange)
    workflow.document.set_ontology(Ontology(classes=fish.classes[1:]))
    workflow.ontology_changed()
    assert workflow.current_class_id == blue
    workflow.document.set_ontology(Ontology())
    workflow.ontology_changed()
    assert workflow.current_class_id is None
    assert workflow.apply_delta({5: 1}).created == (), "no class: painted ids stay unassigned"


def test_picking_an_unknown_class_is_refused(workflow):
    with pytest.raises(DocumentError, match="unknown class id"):
        workflow.pick_class("nope")


def test_split_pieces_are_new_instances_of_the_class_with_copied_answers(workflow, fish):
    orange = workflow.document.ontology.segmentation_classes[0].feature_schema_id
    workflow.document.add_instance(3, orange, answers={"note": {"text": "x"}})
    workflow.apply_delta({3: 50, 9: 5})
    pending = workflow.pick_class()
    new_ids = workflow.split_instance(3, 2)
    assert len(new_ids) == 2 and pending not in new_ids and min(new_ids) > 9
    for label_id in new_ids:
        instance = workflow.document.instance(label_id)
        assert instance.schema_id == orange and instance.answers == {"note": {"text": "x"}}
        assert instance.answers is not workflow.document.instance(3).answers
    # painting them does not make them the current class's or change their class
    settled = workflow.apply_delta({3: -20, new_ids[0]: 12, new_ids[1]: 8})
    assert settled.created == ()
