"""Classification forms: built from the ontology, edited through their widgets."""

from __future__ import annotations

import numpy as np
import pytest
from magicgui.widgets import ComboBox, LineEdit, RadioButtons
from napari.layers import Labels
from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)
from qtpy.QtCore import QEvent, QPoint, QPointF, Qt
from qtpy.QtGui import QMouseEvent
from qtpy.QtWidgets import QApplication, QRadioButton

from napari_segtool._napari.binding import binding_of, document_of, segmentation_layer_kwargs
from napari_segtool._qt.forms import NO_ANSWER, AnswerForm, ClassificationPanel
from napari_segtool.model.document import Document
from napari_segtool.model.ontology import Ontology

# ids in tests/data/reference/ontology.fish.json
ORANGE_FISH = "cjxtjkpjai8t80846iwqaa1d8"
BLUE_FISH = "cjxtjkpjai8t90846yzpbpo7t"
BLURRY = "cjxtjkphehbnj0848wknmg44u"  # radio, required
YES = "cjxtjkpfwh4y90721uodxps2b"
NO = "cjxtjkpfwh4y90721uodxps2c"
WHY = "cjxtjkpfwh4y90721uodxps3c"  # text nested under Yes
FINS = "cjxtjkpfwh4y90721uodxps4d"  # checklist
DORSAL = "cjxtjkpfwh4y90721uodxps5e"
TAIL = "cjxtjkpfwh4y90721uodxps6f"
LIGHTING = "cjxtk7z5qi5s90794v7wvse77"  # image-level dropdown
DAYLIGHT = "cjxtk7z5qi5s90794v7wvse88"
NOTES = "cjxtk7z5qi5s90794v7wvsea0"  # image-level text


@pytest.fixture
def ontology(reference_dir) -> Ontology:
    return Ontology.load(reference_dir / "ontology.fish.json")


@pytest.fixture
def orange_questions(ontology):
    return ontology.class_by_id(ORANGE_FISH).questions


@pytest.fixture
def session(make_napari_viewer, ontology, qtbot):
    """A shown viewer with a segmentation layer and the panel docked beside it."""
    viewer = make_napari_viewer(show=True)
    layer = viewer.add_labels(
        np.zeros((64, 64), dtype=np.uint32),
        **segmentation_layer_kwargs(Document(ontology), "seg"),
    )
    binding = binding_of(layer)
    panel = ClassificationPanel(binding)
    viewer.window.add_dock_widget(panel, name="Classification")
    return viewer, layer, binding, panel


def stroke(layer, mouse_event, start, end) -> None:
    """Drag the brush from ``start`` to ``end`` through napari's own mouse callbacks."""
    for kind, position, dragging, callbacks in (
        ("mouse_press", start, False, mouse_press_callbacks),
        ("mouse_move", end, True, mouse_move_callbacks),
        ("mouse_release", end, False, mouse_release_callbacks),
    ):
        event = mouse_event(
            type=kind,
            is_dragging=dragging,
            position=position,
            view_direction=None,
            dims_displayed=(0, 1),
            dims_point=(0, 0),
        )
        callbacks(layer, ReadOnlyWrapper(event))


def draw_instance(binding, layer, mouse_event, schema_id, centre) -> int:
    label_id = binding.start_instance(schema_id)
    row, col = centre
    stroke(layer, mouse_event, (row, col), (row + 4, col + 4))
    assert label_id in binding.document
    return label_id


def radio_button(field, text) -> QRadioButton:
    return next(b for b in field.input.native.findChildren(QRadioButton) if b.text() == text)


def answer_like_a_labeler(form, qtbot) -> None:
    """Yes -> type why -> tick Tail, each through the widget a user would touch."""
    qtbot.mouseClick(radio_button(form.field(BLURRY), "Yes"), Qt.MouseButton.LeftButton)
    why = form.field(WHY).input.native
    qtbot.keyClicks(why, "motion blur")
    qtbot.keyClick(why, Qt.Key.Key_Return)  # editingFinished writes at once
    qtbot.mouseClick(form.field(FINS).checkboxes[TAIL].native, Qt.MouseButton.LeftButton)


EXPECTED = {BLURRY: {YES: {WHY: "motion blur"}}, FINS: {TAIL: {}}}


# -- the form itself ---------------------------------------------------------------
def test_form_built_from_reference_ontology(ontology, orange_questions, qtbot):
    form = AnswerForm(orange_questions)
    qtbot.addWidget(form)
    assert [f.question.feature_schema_id for f in form.fields] == [BLURRY, FINS]

    blurry = form.field(BLURRY)
    assert isinstance(blurry.input, RadioButtons)
    assert [b.text() for b in blurry.input.native.findChildren(QRadioButton)] == ["Yes", "No"]
    assert blurry.input.value is None  # no answer until the labeler picks one
    assert "*" in blurry.label.text() and "Required" in blurry.label.toolTip()

    fins = form.field(FINS)
    assert fins.input is None
    assert [c.text for c in fins.checkboxes.values()] == ["Dorsal", "Tail"]
    assert "Which fins can you see?" in fins.label.toolTip()
    assert "*" not in fins.label.text()

    why = form.field(WHY)  # nested under Yes
    assert isinstance(why.input, LineEdit)
    assert list(blurry.subforms) == [YES]
    assert not blurry.is_branch_shown(YES)
    assert form.value == {}

    image = AnswerForm(ontology.questions)
    qtbot.addWidget(image)
    lighting = image.field(LIGHTING)
    assert isinstance(lighting.input, ComboBox)
    assert lighting.input.native.itemText(0) == NO_ANSWER
    assert [lighting.input.native.itemText(i) for i in range(1, 3)] == ["Daylight", "Artificial"]
    assert isinstance(image.field(NOTES).input, LineEdit)
    assert image.value == {}


def test_answers_set_through_the_widgets(orange_questions, qtbot):
    form = AnswerForm(orange_questions)
    qtbot.addWidget(form)
    form.show()
    emitted = []
    form.changed.connect(emitted.append)

    answer_like_a_labeler(form, qtbot)

    assert form.value == EXPECTED
    assert emitted[-1] == EXPECTED
    assert form.field(BLURRY).is_branch_shown(YES)

    # set_value shows answers without reporting them as edits
    count = len(emitted)
    form.set_value({BLURRY: {NO: {}}, FINS: {DORSAL: {}, TAIL: {}}})
    assert len(emitted) == count
    assert radio_button(form.field(BLURRY), "No").isChecked()
    assert not form.field(BLURRY).is_branch_shown(YES)
    assert form.field(WHY).input.value == ""  # the Yes branch was cleared
    assert form.value == {BLURRY: {NO: {}}, FINS: {DORSAL: {}, TAIL: {}}}

    form.clear()
    assert form.value == {}
    assert not any(
        b.isChecked() for b in form.field(BLURRY).input.native.findChildren(QRadioButton)
    )


def test_dropdown_and_clear_button(ontology, orange_questions, qtbot):
    image = AnswerForm(ontology.questions)
    qtbot.addWidget(image)
    emitted = []
    image.changed.connect(emitted.append)
    combo = image.field(LIGHTING).input.native
    combo.setCurrentIndex(1)  # what choosing in the popup does
    assert emitted[-1] == {LIGHTING: {DAYLIGHT: {}}}
    combo.setCurrentIndex(0)  # "(no answer)"
    assert emitted[-1] == {}

    form = AnswerForm(orange_questions)
    qtbot.addWidget(form)
    form.show()
    blurry = form.field(BLURRY)
    assert blurry.clear_button.isHidden()
    qtbot.mouseClick(radio_button(blurry, "Yes"), Qt.MouseButton.LeftButton)
    assert not blurry.clear_button.isHidden()
    qtbot.mouseClick(blurry.clear_button, Qt.MouseButton.LeftButton)
    assert form.value == {}
    assert blurry.clear_button.isHidden()
    assert not blurry.is_branch_shown(YES)


def test_text_is_written_after_a_pause_not_per_keystroke(orange_questions, qtbot):
    form = AnswerForm(orange_questions)
    qtbot.addWidget(form)
    form.show()
    emitted = []
    form.changed.connect(emitted.append)
    qtbot.mouseClick(radio_button(form.field(BLURRY), "Yes"), Qt.MouseButton.LeftButton)
    emitted.clear()

    qtbot.keyClicks(form.field(WHY).input.native, "fog")
    assert emitted == []  # still typing
    qtbot.waitUntil(lambda: len(emitted) == 1, timeout=3000)
    assert emitted[0] == {BLURRY: {YES: {WHY: "fog"}}}

    qtbot.keyClicks(form.field(WHY).input.native, "gy")
    form.flush()  # e.g. the panel switches instance: pending typing is reported now
    assert emitted[-1] == {BLURRY: {YES: {WHY: "foggy"}}}


DEEP_ONTOLOGY = {
    "tools": [
        {
            "tool": "raster-segmentation",
            "name": "Cell",
            "color": "#00AA00",
            "featureSchemaId": "cell",
            "classifications": [
                {
                    "type": "radio",
                    "name": "Alive?",
                    "featureSchemaId": "q_alive",
                    "options": [
                        {
                            "label": "Yes",
                            "featureSchemaId": "o_yes",
                            "options": [
                                {
                                    "type": "checklist",
                                    "name": "Features",
                                    "featureSchemaId": "q_features",
                                    "options": [
                                        {
                                            "label": "Nucleus",
                                            "featureSchemaId": "o_nucleus",
                                            "options": [
                                                {
                                                    "type": "radio",
                                                    "name": "Shape",
                                                    "featureSchemaId": "q_shape",
                                                    "options": [
                                                        {
                                                            "label": "Odd",
                                                            "featureSchemaId": "o_odd",
                                                            "options": [
                                                                {
                                                                    "type": "text",
                                                                    "name": "Describe",
                                                                    "required": True,
                                                                    "featureSchemaId": "q_describe",
                                                                }
                                                            ],
                                                        },
                                                        {
                                                            "label": "Round",
                                                            "featureSchemaId": "o_round",
                                                        },
                                                    ],
                                                }
                                            ],
                                        },
                                        {"label": "Cilia", "featureSchemaId": "o_cilia"},
                                    ],
                                }
                            ],
                        },
                        {"label": "No", "featureSchemaId": "o_no"},
                    ],
                }
            ],
        }
    ]
}


def test_nested_questions_show_only_under_their_option_and_drop_when_deselected(qtbot):
    questions = Ontology.from_dict(DEEP_ONTOLOGY).class_by_id("cell").questions
    form = AnswerForm(questions)
    qtbot.addWidget(form)
    form.show()
    alive, features, shape = form.field("q_alive"), form.field("q_features"), form.field("q_shape")
    describe = form.field("q_describe")

    def shown(field):
        return field.isVisibleTo(form)

    assert not any(shown(f) for f in (features, shape, describe))
    qtbot.mouseClick(radio_button(alive, "Yes"), Qt.MouseButton.LeftButton)
    assert shown(features) and not shown(shape)
    qtbot.mouseClick(features.checkboxes["o_nucleus"].native, Qt.MouseButton.LeftButton)
    assert shown(shape) and not shown(describe)
    qtbot.mouseClick(radio_button(shape, "Odd"), Qt.MouseButton.LeftButton)
    assert shown(describe)
    qtbot.keyClicks(describe.input.native, "lobed")
    qtbot.keyClick(describe.input.native, Qt.Key.Key_Return)
    qtbot.mouseClick(features.checkboxes["o_cilia"].native, Qt.MouseButton.LeftButton)
    deep = {
        "q_alive": {
            "o_yes": {
                "q_features": {
                    "o_nucleus": {"q_shape": {"o_odd": {"q_describe": "lobed"}}},
                    "o_cilia": {},
                }
            }
        }
    }
    assert form.value == deep

    # unticking Nucleus drops everything beneath it, at every depth
    qtbot.mouseClick(features.checkboxes["o_nucleus"].native, Qt.MouseButton.LeftButton)
    assert not shown(shape)
    assert form.value == {"q_alive": {"o_yes": {"q_features": {"o_cilia": {}}}}}
    qtbot.mouseClick(features.checkboxes["o_nucleus"].native, Qt.MouseButton.LeftButton)
    assert shape.input.value is None and describe.input.value == ""

    # choosing No drops the whole Yes branch; choosing Yes again starts empty
    qtbot.mouseClick(radio_button(alive, "No"), Qt.MouseButton.LeftButton)
    assert form.value == {"q_alive": {"o_no": {}}}
    assert not shown(features)
    qtbot.mouseClick(radio_button(alive, "Yes"), Qt.MouseButton.LeftButton)
    assert form.value == {"q_alive": {"o_yes": {}}}
    assert not any(box.value for box in features.checkboxes.values())

    # set_value opens every branch on the answer's path
    form.set_value(deep)
    assert all(shown(f) for f in (features, shape, describe))
    assert describe.input.value == "lobed"
    assert form.value == deep


# -- the panel in napari --------------------------------------------------------------
def test_prompt_after_a_real_stroke_keeps_the_canvas_focused(session, MouseEvent, qtbot):
    viewer, layer, binding, panel = session
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.waitUntil(lambda: viewer.window._qt_window.focusWidget() is canvas, timeout=2000)
    assert panel.label_id is None
    assert "Select an instance" in panel.message.text()

    label_id = binding.start_instance(ORANGE_FISH)
    assert panel.label_id is None  # nothing drawn yet: no form
    stroke(layer, MouseEvent, (10, 10), (14, 14))

    assert panel.label_id == label_id
    assert panel.forms.currentWidget() is panel.form
    assert [f.question.feature_schema_id for f in panel.form.fields] == [BLURRY, FINS]
    assert "Orange Fish" in panel.title.text() and f"#{label_id}" in panel.title.text()
    assert "1 required" in panel.missing_label.text()
    # shown, not focused: napari's keys still reach the canvas
    assert viewer.window._qt_window.focusWidget() is canvas
    focused = QApplication.focusWidget()
    assert focused is None or not panel.isAncestorOf(focused)

    # Clicking an answer leaves the keyboard with napari: the buttons take no
    # click focus, so focus lands at most on the main window, which forwards
    # keys to the canvas (napari's own design).
    qtbot.mouseClick(radio_button(panel.form.field(BLURRY), "No"), Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.form.field(FINS).checkboxes[TAIL].native, Qt.MouseButton.LeftButton)
    focused = viewer.window._qt_window.focusWidget()
    assert focused in (canvas, viewer.window._qt_window)
    layer.mode = "pan_zoom"
    qtbot.keyClick(focused, Qt.Key.Key_P)  # napari's "paint" key
    assert layer.mode == "paint"

    # with the setting off, a new object does not replace the form
    panel.prompt_checkbox.click()
    assert not panel.prompt_after_drawing
    second = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (40, 40))
    assert second != label_id
    assert panel.label_id == label_id
    panel.prompt_after_drawing = True
    third = draw_instance(binding, layer, MouseEvent, BLUE_FISH, (40, 10))
    assert panel.label_id == third
    assert "Blue Fish has no questions" in panel.message.text()
    assert panel.forms.currentWidget() is panel.message


def test_prompt_after_a_stroke_with_the_mouse_on_the_canvas(session, qtbot):
    """The whole chain from Qt mouse events on napari's canvas to the prompt."""
    viewer, layer, binding, panel = session
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    label_id = binding.start_instance(ORANGE_FISH)
    centre = canvas.rect().center()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=centre)
    for step in range(0, 30, 3):
        point = centre + QPoint(step, step)
        move = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(point),
            QPointF(canvas.mapToGlobal(point)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(canvas, move)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=centre + QPoint(27, 27))
    assert np.count_nonzero(layer.data == label_id) > 0
    assert panel.label_id == label_id
    assert viewer.window._qt_window.focusWidget() is canvas


def test_new_user_walkthrough(session, MouseEvent, qtbot):
    """Draw an Orange Fish, answer it, look at another fish, come back."""
    _viewer, layer, binding, panel = session
    first = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (10, 10))
    answer_like_a_labeler(panel.form, qtbot)
    document = binding.document
    assert document.instance(first).answers == EXPECTED
    first_form = panel.form

    second = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (40, 40))
    assert panel.label_id == second
    assert panel.form is first_form  # same class: the form is reused, not rebuilt
    assert panel.form.value == {}
    assert not panel.form.field(BLURRY).is_branch_shown(YES)
    assert document.instance(second).answers == {}
    assert document.instance(first).answers == EXPECTED  # untouched by the switch

    binding.select_instance(first)  # what a table row click does
    assert panel.label_id == first
    assert panel.form.value == EXPECTED
    assert radio_button(panel.form.field(BLURRY), "Yes").isChecked()
    assert panel.form.field(WHY).input.value == "motion blur"
    assert panel.form.field(FINS).checkboxes[TAIL].value
    assert panel.form.field(BLURRY).is_branch_shown(YES)

    layer.selected_label = second  # napari's pick tool sets the selected label
    assert panel.label_id == second
    assert panel.form.value == {}


def test_switching_instance_keeps_pending_typing_with_its_instance(session, MouseEvent, qtbot):
    _viewer, layer, binding, panel = session
    first = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (10, 10))
    second = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (40, 40))
    binding.select_instance(first)
    qtbot.mouseClick(radio_button(panel.form.field(BLURRY), "Yes"), Qt.MouseButton.LeftButton)
    qtbot.keyClicks(panel.form.field(WHY).input.native, "murky water")  # no pause, no Enter
    binding.select_instance(second)
    document = binding.document
    assert document.instance(first).answers == {BLURRY: {YES: {WHY: "murky water"}}}
    assert document.instance(second).answers == {}
    assert panel.form.field(WHY).input.value == ""


def test_document_changes_refresh_the_form(session, MouseEvent, ontology):
    _viewer, layer, binding, panel = session
    document = binding.document
    label_id = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (10, 10))
    form = panel.form

    document.set_answers(label_id, {BLURRY: {NO: {}}})  # e.g. undo, another widget
    assert panel.form.value == {BLURRY: {NO: {}}}
    assert panel.missing_label.text() == ""

    document.set_class_locked(ORANGE_FISH, True)  # ontology_changed, questions unchanged
    assert panel.form is form

    changed = Ontology.from_dict(ontology.to_dict())
    changed.class_by_id(ORANGE_FISH).questions[1].name = "Fins in view"
    document.set_ontology(changed)
    assert panel.form is not form  # questions changed: rebuilt
    assert panel.form.field(FINS).label.text().startswith("Fins in view")
    assert panel.form.value == {BLURRY: {NO: {}}}

    document.set_class(label_id, BLUE_FISH)
    assert "Blue Fish has no questions" in panel.message.text()
    document.remove_instance(label_id)
    assert panel.label_id is None


def test_image_form_writes_image_answers(session, qtbot):
    _viewer, _layer, binding, panel = session
    document = binding.document
    panel.image_form.field(LIGHTING).input.native.setCurrentIndex(1)
    notes = panel.image_form.field(NOTES).input.native
    qtbot.keyClicks(notes, "algae on the glass")
    qtbot.keyClick(notes, Qt.Key.Key_Return)
    assert document.image_answers == {LIGHTING: {DAYLIGHT: {}}, NOTES: "algae on the glass"}

    document.set_image_answers({})
    assert panel.image_form.value == {}
    assert panel.image_form.field(LIGHTING).input.native.currentText() == NO_ANSWER


def test_required_questions_are_flagged_and_listed(session, MouseEvent, qtbot):
    _viewer, layer, binding, panel = session
    document = binding.document
    first = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (10, 10))
    second = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (40, 40))
    assert document.missing_required(first) == ["Is the fish blurry?"]

    report = panel.check_required()
    assert report == [(first, "Is the fish blurry?"), (second, "Is the fish blurry?")]
    assert panel.report_list.count() == 2
    assert panel.report_list.item(0).text() == f"#{first} Orange Fish: Is the fish blurry?"
    assert "2 unanswered" in panel.report_label.text()

    # clicking a row selects that instance so it can be answered
    rect = panel.report_list.visualItemRect(panel.report_list.item(0))
    qtbot.mouseClick(panel.report_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert binding.current_label_id == first
    assert panel.label_id == first
    qtbot.mouseClick(radio_button(panel.form.field(BLURRY), "No"), Qt.MouseButton.LeftButton)
    assert document.missing_required(first) == []
    # the shown report follows the answers
    qtbot.waitUntil(lambda: panel.report_list.count() == 1, timeout=2000)

    binding.select_instance(second)
    qtbot.mouseClick(radio_button(panel.form.field(BLURRY), "Yes"), Qt.MouseButton.LeftButton)
    assert panel.check_required() == []
    assert panel.report_list.isHidden()
    assert "All required questions are answered" in panel.report_label.text()


def test_answers_reach_the_status_bar_and_survive_the_layer_tuple(session, MouseEvent, qtbot):
    viewer, layer, binding, panel = session
    first = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (10, 10))
    answer_like_a_labeler(panel.form, qtbot)
    panel.image_form.field(LIGHTING).input.native.setCurrentIndex(1)

    status = layer.get_status((11, 11))["value"]
    assert "class: Orange Fish" in status
    assert "Is the fish blurry?: Yes" in status
    assert "Why is it blurry?: motion blur" in status
    assert "Visible fins: Tail" in status

    data, meta, layer_type = layer.as_layer_data_tuple()
    assert layer_type == "labels"
    copy = Labels(data, **meta)
    restored = document_of(copy)
    assert restored.instance(first).answers == EXPECTED
    assert restored.image_answers == {LIGHTING: {DAYLIGHT: {}}}

    # the panel shows the restored layer's answers when pointed at it
    copy_layer = viewer.add_layer(copy)
    panel.set_binding(binding_of(copy_layer))
    binding_of(copy_layer).select_instance(first)
    assert panel.form.value == EXPECTED
    assert panel.image_form.value == {LIGHTING: {DAYLIGHT: {}}}


def test_set_binding_follows_layers(session, ontology, MouseEvent, qtbot):
    viewer, layer, binding, panel = session
    first = draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (10, 10))
    qtbot.mouseClick(radio_button(panel.form.field(BLURRY), "Yes"), Qt.MouseButton.LeftButton)
    qtbot.keyClicks(panel.form.field(WHY).input.native, "glare")  # still pending

    other = viewer.add_labels(
        np.zeros((32, 32), dtype=np.uint32),
        **segmentation_layer_kwargs(Document(ontology), "other"),
    )
    panel.set_binding(binding_of(other))
    assert binding.document.instance(first).answers == {BLURRY: {YES: {WHY: "glare"}}}
    assert panel.label_id is None
    binding.select_instance(first)  # the old layer no longer drives the panel
    assert panel.label_id is None

    panel.check_required()
    panel.set_binding(None)
    assert "No segmentation layer" in panel.message.text()
    assert panel.image_form is None
    assert panel.report_list.isHidden() and panel.report_label.text() == ""


def test_panel_without_a_layer(qtbot):
    panel = ClassificationPanel()
    qtbot.addWidget(panel)
    assert panel.binding is None and panel.form is None
    assert "No segmentation layer" in panel.message.text()
    assert "No instance selected" in panel.title.text()
    assert panel.check_required() == []


def test_panel_renders(session, MouseEvent, qtbot, tmp_path):
    _viewer, layer, binding, panel = session
    draw_instance(binding, layer, MouseEvent, ORANGE_FISH, (10, 10))
    answer_like_a_labeler(panel.form, qtbot)
    panel.check_required()
    image = panel.grab()
    assert image.save(str(tmp_path / "forms.png"))
    assert image.width() > 100 and image.height() > 200
    # the nested question is indented under its option
    why = panel.form.field(WHY)
    blurry = panel.form.field(BLURRY)
    assert (
        why.mapTo(panel, why.rect().topLeft()).x()
        > blurry.mapTo(panel, blurry.rect().topLeft()).x()
    )
