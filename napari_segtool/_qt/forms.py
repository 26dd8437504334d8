"""Classification forms: magicgui widgets built from the ontology's questions.

:class:`AnswerForm` turns a list of :class:`~napari_segtool.model.ontology.Question`
into widgets (radio -> ``RadioButtons``, checklist -> one ``CheckBox`` per
option, text -> ``LineEdit``, dropdown -> ``ComboBox``) and reads / writes the
document's nested answer dicts. A nested question sits in an indented block
under its option and is shown only while that option is chosen; deselecting
the option clears the block, so its answers are dropped.

:class:`ClassificationPanel` shows the form of one instance of a segmentation
layer (and the layer's image-level form) and writes every edit through to the
layer's :class:`~napari_segtool.model.document.Document`. It prompts with the new
instance's form after a stroke creates it, and never takes keyboard focus, so
the labeler keeps drawing and using napari's keys.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterator
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, LineEdit, RadioButtons
from psygnal import Signal
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import QSignalDebouncer

from napari_segtool._napari.binding import LayerBinding
from napari_segtool.model.answers import chosen_options
from napari_segtool.model.colours import instance_colour
from napari_segtool.model.document import Answers, Document
from napari_segtool.model.ontology import Question

#: typing pauses this long (ms) before a text answer is written to the document
TEXT_COMMIT_DELAY_MS = 400
#: indentation (px) of the questions nested under an option
NESTED_INDENT = 12
#: the dropdown's "no answer" entry
NO_ANSWER = "(no answer)"
#: at most this many rows in the required-questions report
REPORT_LIMIT = 200
REQUIRED_COLOUR = "#e5734d"

# Clicking an answer must not pull napari's keys away from the canvas:
# these widgets take focus only by Tab.
_CLICK_SAFE_FOCUS = Qt.FocusPolicy.TabFocus


def _compact(layout, margins=(0, 0, 0, 0), spacing: int = 2):
    layout.setContentsMargins(*margins)
    layout.setSpacing(spacing)
    return layout


def _question_tooltip(question: Question) -> str:
    parts = []
    if question.instructions and question.instructions != question.name:
        parts.append(question.instructions)
    if question.required:
        parts.append("Required.")
    return "\n".join(parts) or question.name


class _AnswerComboBox(ComboBox):
    """A nullable ComboBox whose empty entry reads as a choice a labeler understands."""

    null_string = NO_ANSWER


class QuestionField(QWidget):
    """One question: its label, its input widget and the blocks nested under options."""

    #: the user changed this answer (or one nested under it)
    edited = Signal()

    def __init__(self, question: Question, parent: QWidget | None = None):
        super().__init__(parent)
        self.question = question
        #: the magicgui input (RadioButtons, ComboBox or LineEdit); None for a checklist
        self.input: RadioButtons | ComboBox | LineEdit | None = None
        #: checklist only: option id -> its CheckBox
        self.checkboxes: dict[str, CheckBox] = {}
        #: option id -> the form of the questions nested under it
        self.subforms: dict[str, AnswerForm] = {}
        self._branches: dict[str, QFrame] = {}
        self._quiet = False
        #: what this field last reported, so re-emitted widget signals are not edits
        self._reported: Any = None

        layout = _compact(QVBoxLayout(self), (0, 2, 0, 2))
        header = _compact(QHBoxLayout(), spacing=4)
        self.label = QLabel(self._label_html())
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setToolTip(_question_tooltip(question))
        header.addWidget(self.label, 1)
        self.clear_button: QToolButton | None = None
        layout.addLayout(header)

        if question.type == "text":
            self._build_text(layout)
        elif question.type == "checklist":
            self._build_checklist(layout)
        else:
            if question.type == "radio":
                self._build_radio(layout)
                # an exclusive radio group cannot be unchecked by clicking
                self.clear_button = QToolButton()
                self.clear_button.setText("Clear")
                self.clear_button.setAutoRaise(True)
                self.clear_button.setToolTip("Remove this answer")
                self.clear_button.setFocusPolicy(_CLICK_SAFE_FOCUS)
                self.clear_button.clicked.connect(self._clear_by_user)
                self.clear_button.hide()
                header.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignTop)
            else:
                self._build_dropdown(layout)
            for option in question.options:
                if option.questions:
                    layout.addWidget(self._make_branch(option.feature_schema_id, option.questions))

    # -- construction -----------------------------------------------------------
    def _label_html(self) -> str:
        name = html.escape(self.question.name)
        if self.question.required:
            name += f' <span style="color:{REQUIRED_COLOUR}"><b>*</b></span>'
        return name

    def _build_text(self, layout: QVBoxLayout) -> None:
        self.input = LineEdit()
        native = self.input.native
        native.setToolTip(_question_tooltip(self.question))
        if self.question.instructions and self.question.instructions != self.question.name:
            native.setPlaceholderText(self.question.instructions)
        # Typing is written after a pause (and at once on Enter / focus out):
        # every write re-serialises the layer's metadata, so not per keystroke.
        self._text_debouncer = QSignalDebouncer(parent=self)
        self._text_debouncer.setTimeout(TEXT_COMMIT_DELAY_MS)
        self._text_debouncer.triggered.connect(self._commit)
        self.input.changed.connect(self._on_text_changed)
        native.editingFinished.connect(self.flush)
        layout.addWidget(native)

    def _build_radio(self, layout: QVBoxLayout) -> None:
        options = self.question.options
        short = len(options) <= 4 and sum(len(o.label) for o in options) <= 32
        self.input = RadioButtons(
            choices=[(o.label, o.feature_schema_id) for o in options],
            orientation="horizontal" if short else "vertical",
        )
        box = self.input.native
        box.setFlat(True)
        box.setObjectName("segtoolRadioGroup")
        box.setStyleSheet("QGroupBox#segtoolRadioGroup { border: none; margin: 0; padding: 0; }")
        box.layout().setContentsMargins(0, 0, 0, 0)
        box.layout().setSpacing(16 if short else 2)  # gaps only between side-by-side choices
        # packed to the left rather than spread over the dock's width
        layout.addWidget(box, 0, Qt.AlignmentFlag.AlignLeft)
        # magicgui rebuilds the buttons when the widget is re-parented
        self.input.native_parent_changed.connect(self._style_radio_buttons)
        self._style_radio_buttons()
        self.input.changed.connect(self._on_choice_changed)

    def _style_radio_buttons(self, *_args) -> None:
        for button in self.input.native.findChildren(QRadioButton):
            button.setFocusPolicy(_CLICK_SAFE_FOCUS)

    def _build_dropdown(self, layout: QVBoxLayout) -> None:
        self.input = _AnswerComboBox(
            choices=[(o.label, o.feature_schema_id) for o in self.question.options],
            nullable=True,
            value=None,
        )
        self.input.native.setFocusPolicy(_CLICK_SAFE_FOCUS)
        self.input.native.setToolTip(_question_tooltip(self.question))
        layout.addWidget(self.input.native)
        self.input.changed.connect(self._on_choice_changed)

    def _build_checklist(self, layout: QVBoxLayout) -> None:
        options = self.question.options
        nested = any(o.questions for o in options)
        short = len(options) <= 4 and sum(len(o.label) for o in options) <= 32
        if short and not nested:
            row = _compact(QHBoxLayout(), spacing=12)
            layout.addLayout(row)
        for option in options:
            checkbox = CheckBox(text=option.label, value=False)
            checkbox.native.setFocusPolicy(_CLICK_SAFE_FOCUS)
            checkbox.changed.connect(self._on_checklist_changed)
            self.checkboxes[option.feature_schema_id] = checkbox
            if short and not nested:
                row.addWidget(checkbox.native)
            else:
                layout.addWidget(checkbox.native, 0, Qt.AlignmentFlag.AlignLeft)
            if option.questions:
                layout.addWidget(self._make_branch(option.feature_schema_id, option.questions))
        if short and not nested:
            row.addStretch(1)

    def _make_branch(self, option_id: str, questions: list[Question]) -> QFrame:
        """The indented block of questions under one option (hidden until chosen)."""
        frame = QFrame()
        frame.setObjectName("segtoolNested")
        frame.setStyleSheet(
            "QFrame#segtoolNested { border: none;"
            " border-left: 2px solid rgba(128, 128, 128, 0.55); }"
        )
        _compact(QVBoxLayout(frame), (NESTED_INDENT - 2, 0, 0, 0))
        subform = AnswerForm(questions)
        subform.changed.connect(self._on_subform_changed)
        frame.layout().addWidget(subform)
        frame.hide()
        self.subforms[option_id] = subform
        self._branches[option_id] = frame
        return frame

    # -- reading and writing the answer -----------------------------------------
    @property
    def value(self) -> Any:
        """The answer in the document's shape, or None when unanswered."""
        qtype = self.question.type
        if qtype == "text":
            text = self.input.value.strip()
            return text or None
        chosen = self.chosen_options()
        if not chosen:
            return None
        return {o: (self.subforms[o].value if o in self.subforms else {}) for o in chosen}

    def chosen_options(self) -> list[str]:
        """Ids of the options chosen now (at most one unless a checklist)."""
        if self.question.type == "checklist":
            return [o for o, box in self.checkboxes.items() if box.value]
        if self.question.type in ("radio", "dropdown"):
            chosen = self.input.value
            return [chosen] if chosen else []
        return []

    def set_value(self, answer: Any) -> None:
        """Show ``answer`` (None clears); never reports an edit."""
        with self._silenced():
            if self.question.type == "text":
                self._text_debouncer.cancel()
                self.input.value = answer if isinstance(answer, str) else ""
            else:
                answer = answer if isinstance(answer, dict) else {}
                chosen = [o.feature_schema_id for o in chosen_options(self.question, answer)]
                if self.question.type == "checklist":
                    for option_id, box in self.checkboxes.items():
                        box.value = option_id in chosen
                else:
                    self._set_single_choice(chosen[0] if chosen else None)
                for option_id, subform in self.subforms.items():
                    nested = answer.get(option_id) if option_id in chosen else None
                    subform.set_value(nested if isinstance(nested, dict) else {})
                self._update_branches()
            self._reported = self.value

    def _set_single_choice(self, option_id: str | None) -> None:
        if self.question.type == "dropdown":
            self.input.value = option_id
            return
        if option_id is not None:
            self.input.value = option_id
            return
        for button in self.input.native.findChildren(QRadioButton):
            if button.isChecked():
                group = button.group()
                # an exclusive group refuses to end up with nothing checked
                group.setExclusive(False)
                button.setChecked(False)
                group.setExclusive(True)

    def flush(self) -> None:
        """Report typing that is still waiting for its pause."""
        if self.question.type == "text":
            self._text_debouncer.flush(restart_timer=False)  # commits only if typing waits
        for subform in self.subforms.values():
            subform.flush()

    def is_branch_shown(self, option_id: str) -> bool:
        """Whether the questions nested under ``option_id`` are shown."""
        frame = self._branches.get(option_id)
        return frame is not None and not frame.isHidden()

    def iter_fields(self) -> Iterator[QuestionField]:
        yield self
        for subform in self.subforms.values():
            yield from subform.iter_fields()

    # -- user edits ------------------------------------------------------------
    @contextlib.contextmanager
    def _silenced(self):
        previous, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = previous

    def _on_text_changed(self, _value=None) -> None:
        if not self._quiet:
            self._text_debouncer.throttle()

    def _on_choice_changed(self, _value=None) -> None:
        if self._quiet:
            return
        self._drop_deselected()
        self._update_branches()
        self._commit()

    def _on_checklist_changed(self, _value=None) -> None:
        self._on_choice_changed()

    def _on_subform_changed(self, _value=None) -> None:
        if not self._quiet:
            self._commit()

    def _clear_by_user(self) -> None:
        with self._silenced():
            self._set_single_choice(None)
        self._drop_deselected()
        self._update_branches()
        self._commit()

    def _drop_deselected(self) -> None:
        """Clear the blocks of options no longer chosen: their answers go with them."""
        chosen = set(self.chosen_options())
        for option_id, subform in self.subforms.items():
            if option_id not in chosen:
                subform.set_value({})

    def _update_branches(self) -> None:
        chosen = set(self.chosen_options())
        for option_id, frame in self._branches.items():
            frame.setVisible(option_id in chosen)
        if self.clear_button is not None:
            self.clear_button.setVisible(bool(chosen))

    def _commit(self) -> None:
        value = self.value
        if value != self._reported:
            self._reported = value
            self.edited.emit()


class AnswerForm(QWidget):
    """A form for ``questions``; ``value`` is the nested answers dict."""

    #: the user edited an answer; carries the new ``value``
    changed = Signal(object)

    def __init__(self, questions: list[Question], parent: QWidget | None = None):
        super().__init__(parent)
        self.questions = list(questions)
        self._quiet = False
        layout = _compact(QVBoxLayout(self), spacing=4)
        self.fields: list[QuestionField] = []
        for question in self.questions:
            field = QuestionField(question)
            field.edited.connect(self._on_field_edited)
            layout.addWidget(field)
            self.fields.append(field)

    @property
    def value(self) -> Answers:
        answers: Answers = {}
        for field in self.fields:
            value = field.value
            if value is not None:
                answers[field.question.feature_schema_id] = value
        return answers

    def set_value(self, answers: Answers | None) -> None:
        """Show ``answers``; questions missing from it are cleared. Emits nothing."""
        answers = answers if isinstance(answers, dict) else {}
        previous, self._quiet = self._quiet, True
        try:
            for field in self.fields:
                field.set_value(answers.get(field.question.feature_schema_id))
        finally:
            self._quiet = previous

    def clear(self) -> None:
        self.set_value({})

    def flush(self) -> None:
        """Report any typing still waiting for its pause (call before switching away)."""
        for field in self.fields:
            field.flush()

    def field(self, question_id: str) -> QuestionField:
        """The field of a question at any depth, by its featureSchemaId."""
        for field in self.iter_fields():
            if field.question.feature_schema_id == question_id:
                return field
        raise KeyError(question_id)

    def iter_fields(self) -> Iterator[QuestionField]:
        for field in self.fields:
            yield from field.iter_fields()

    def _on_field_edited(self) -> None:
        if not self._quiet:
            self.changed.emit(self.value)


class PageStack(QWidget):
    """Pages of which one shows, sized to the page shown.

    A ``QStackedWidget`` is as tall as its tallest page (its height-for-width
    too), so a short form after a tall one would leave a gap; here the other
    pages are hidden, and a layout leaves hidden widgets out.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._layout = _compact(QVBoxLayout(self))
        self._pages: list[QWidget] = []
        self._current: QWidget | None = None

    # named as QStackedWidget names them
    def addWidget(self, page: QWidget) -> None:
        self._pages.append(page)
        self._layout.addWidget(page)
        if self._current is None:
            self._current = page
        else:
            page.hide()

    def removeWidget(self, page: QWidget) -> None:
        if page not in self._pages:
            return
        self._pages.remove(page)
        self._layout.removeWidget(page)
        page.hide()
        if page is self._current:
            self._current = None
            if self._pages:
                self.setCurrentWidget(self._pages[0])

    def setCurrentWidget(self, page: QWidget) -> None:
        for other in self._pages:
            if other is not page:
                other.hide()
        self._current = page
        page.show()

    def currentWidget(self) -> QWidget | None:
        return self._current

    def count(self) -> int:
        return len(self._pages)


def _questions_snapshot(questions: list[Question]) -> list[dict]:
    return [q.to_dict() for q in questions]


def _hex(rgba) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(round(float(c) * 255) for c in rgba[:3]))


def _section_title(text: str) -> QLabel:
    label = QLabel(f"<b>{text}</b>")
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


class ClassificationPanel(QWidget):
    """The answers of the selected instance and of the image, for one segmentation layer."""

    def __init__(self, binding: LayerBinding | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.binding: LayerBinding | None = None
        self.label_id: int | None = None
        self._shown_class_id: str | None = None
        #: class id -> (questions snapshot, form); a form is reused for every instance of its class
        self._class_forms: dict[str, tuple[list[dict], AnswerForm]] = {}
        self._form: AnswerForm | None = None
        self._image_snapshot: list[dict] | None = None
        self.image_form: AnswerForm | None = None
        self._connections: list[tuple[Any, Any]] = []
        self._report_requested = False
        #: the instance whose form went with its last pixel (undo), until it comes back
        self._vanished_id: int | None = None

        layout = _compact(QVBoxLayout(self), (4, 4, 4, 4), spacing=6)

        # (a) which instance the form is for
        header = _compact(QHBoxLayout(), spacing=6)
        self.swatch = QLabel()
        self.swatch.setFixedSize(14, 14)
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.missing_label = QLabel()
        self.missing_label.setStyleSheet(f"color: {REQUIRED_COLOUR};")
        header.addWidget(self.swatch)
        header.addWidget(self.title, 1)
        header.addWidget(self.missing_label)
        layout.addLayout(header)

        # (b) the instance's form; one page per class, plus a page for messages
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setEnabled(False)  # greyed hint text
        self.forms = PageStack()
        self.forms.addWidget(self.message)
        layout.addWidget(self.forms)

        # (c) image-level questions
        layout.addWidget(self._separator())
        layout.addWidget(_section_title("Image"))
        self.image_message = QLabel("No image-level questions.")
        self.image_message.setEnabled(False)
        self.image_stack = PageStack()
        self.image_stack.addWidget(self.image_message)
        layout.addWidget(self.image_stack)

        # (d) the prompt setting and (e) the required-questions check
        layout.addWidget(self._separator())
        self.prompt_checkbox = QCheckBox("Ask questions after drawing")
        self.prompt_checkbox.setChecked(True)
        self.prompt_checkbox.setFocusPolicy(_CLICK_SAFE_FOCUS)
        self.prompt_checkbox.setToolTip(
            "Show the new object's questions here as soon as its first stroke is drawn"
        )
        layout.addWidget(self.prompt_checkbox)
        check_row = _compact(QHBoxLayout(), spacing=6)
        self.check_button = QPushButton("Check required")
        self.check_button.setFocusPolicy(_CLICK_SAFE_FOCUS)
        self.check_button.setToolTip("List every unanswered required question of this layer")
        self.check_button.clicked.connect(self.check_required)
        self.report_label = QLabel()
        self.report_label.setWordWrap(True)
        check_row.addWidget(self.check_button)
        check_row.addWidget(self.report_label, 1)
        layout.addLayout(check_row)
        self.report_list = QListWidget()
        self.report_list.setFocusPolicy(_CLICK_SAFE_FOCUS)
        self.report_list.setToolTip("Click a row to select that instance")
        self.report_list.itemClicked.connect(self._on_report_clicked)
        self.report_list.hide()
        layout.addWidget(self.report_list)
        layout.addStretch(1)

        # answers change in bursts (typing, undo): refresh the report once per burst
        self._report_debouncer = QSignalDebouncer(parent=self)
        self._report_debouncer.setTimeout(150)
        self._report_debouncer.triggered.connect(self._refresh_report)

        self.destroyed.connect(_disconnect_all(self._connections))
        self._attach(binding)

    @staticmethod
    def _separator() -> QFrame:
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        return line

    # -- public API ---------------------------------------------------------------
    @property
    def document(self) -> Document | None:
        return self.binding.document if self.binding is not None else None

    @property
    def prompt_after_drawing(self) -> bool:
        return self.prompt_checkbox.isChecked()

    @prompt_after_drawing.setter
    def prompt_after_drawing(self, on: bool) -> None:
        self.prompt_checkbox.setChecked(bool(on))

    @property
    def form(self) -> AnswerForm | None:
        """The form shown for the current instance (None when none is shown)."""
        return self._form

    def set_binding(self, binding: LayerBinding | None) -> None:
        """Follow another segmentation layer (None: no layer)."""
        if binding is not self.binding:
            self._attach(binding)

    def _attach(self, binding: LayerBinding | None) -> None:
        self._flush()
        _disconnect_all(self._connections)()
        self.binding = binding
        self.label_id = None
        self._form = None
        if binding is not None:
            document = binding.document
            for signal, slot in (
                (binding.instance_created, self._on_instance_created),
                (binding.current_changed, self._on_current_changed),
                (binding.counts_changed, self._on_counts_changed),
                (document.instance_changed, self._on_instance_changed),
                (document.instance_added, self._on_instances_changed),
                (document.instance_removed, self._on_instance_removed),
                (document.image_answers_changed, self._on_image_answers_changed),
                (document.ontology_changed, self._on_ontology_changed),
            ):
                signal.connect(slot)
                self._connections.append((signal, slot))
        self._prune_forms()
        self._rebuild_image_form()
        current = binding.current_label_id if binding is not None else 0
        self.show_instance(current if self._exists(current) else None)
        if self._report_requested:
            self._refresh_report()

    def show_instance(self, label_id: int | None) -> None:
        """Show the form of instance ``label_id`` with its answers (None: no instance).

        Only an instance on the canvas has a form: one without pixels (deleted,
        undone, its stroke cancelled) shows none, though the document keeps it
        for napari's undo.
        """
        self._flush()  # typing still pending belongs to the instance shown so far
        document = self.document
        if label_id is None or not self._exists(label_id):
            self.label_id = None
            self._form = None
            self._show_message(
                "Select an instance, or draw one, to answer its questions."
                if document is not None
                else "No segmentation layer."
            )
            self._update_header()
            return
        self.label_id = label_id
        self._shown_class_id = document.instance(label_id).schema_id
        cls_ = document.class_of(label_id)
        questions = cls_.questions if cls_ is not None else []
        if not questions:
            self._form = None
            name = cls_.name if cls_ is not None else "This class"
            self._show_message(f"{name} has no questions.")
        else:
            self._form = self._form_for_class(cls_.feature_schema_id, questions)
            self._form.set_value(document.instance(label_id).answers)
            self.forms.setCurrentWidget(self._form)
        self._update_header()

    def _exists(self, label_id: int | None) -> bool:
        """Whether ``label_id`` is an instance with pixels on the canvas."""
        binding = self.binding
        return (
            binding is not None
            and label_id is not None
            and label_id in binding.document
            and binding.pixel_counts.get(label_id, 0) > 0
        )

    def check_required(self) -> list[tuple[int | None, str]]:
        """List (and return) every unanswered required question of the layer."""
        self._report_requested = True
        return self._refresh_report()

    # -- forms --------------------------------------------------------------------
    def _form_for_class(self, schema_id: str, questions: list[Question]) -> AnswerForm:
        snapshot = _questions_snapshot(questions)
        cached = self._class_forms.get(schema_id)
        if cached is not None:
            if cached[0] == snapshot:
                return cached[1]
            self._drop_form(schema_id)
        form = AnswerForm(questions)
        form.changed.connect(self._on_form_changed)
        self._class_forms[schema_id] = (snapshot, form)
        self.forms.addWidget(form)
        return form

    def _drop_form(self, schema_id: str) -> None:
        _snapshot, form = self._class_forms.pop(schema_id)
        form.changed.disconnect(self._on_form_changed)
        if form is self._form:
            self._form = None
        self.forms.removeWidget(form)
        form.deleteLater()

    def _prune_forms(self) -> None:
        """Drop the forms whose class is gone or whose questions changed."""
        ontology = self.document.ontology if self.document is not None else None
        for schema_id, (snapshot, _form) in list(self._class_forms.items()):
            cls_ = ontology.class_by_id(schema_id) if ontology is not None else None
            if cls_ is None or _questions_snapshot(cls_.questions) != snapshot:
                self._drop_form(schema_id)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.forms.setCurrentWidget(self.message)

    def _rebuild_image_form(self) -> None:
        document = self.document
        questions = document.ontology.questions if document is not None else []
        snapshot = _questions_snapshot(questions)
        if self.image_form is not None and snapshot == self._image_snapshot:
            self.image_form.set_value(document.image_answers)
            return
        if self.image_form is not None:
            self.image_form.changed.disconnect(self._on_image_form_changed)
            self.image_stack.removeWidget(self.image_form)
            self.image_form.deleteLater()
            self.image_form = None
        self._image_snapshot = snapshot
        if not questions:
            self.image_stack.setCurrentWidget(self.image_message)
            return
        self.image_form = AnswerForm(questions)
        self.image_form.set_value(document.image_answers)
        self.image_form.changed.connect(self._on_image_form_changed)
        self.image_stack.addWidget(self.image_form)
        self.image_stack.setCurrentWidget(self.image_form)

    def _flush(self) -> None:
        if self._form is not None:
            self._form.flush()
        if self.image_form is not None:
            self.image_form.flush()

    def _update_header(self) -> None:
        document = self.document
        if self.label_id is None or document is None or self.label_id not in document:
            self.swatch.setStyleSheet("")
            self.swatch.hide()
            self.title.setText("<b>No instance selected</b>")
            self.missing_label.setText("")
            return
        cls_ = document.class_of(self.label_id)
        name = cls_.name if cls_ is not None else "(unknown class)"
        if cls_ is not None:
            colour = _hex(instance_colour(cls_.color, self.label_id))
            self.swatch.setStyleSheet(
                f"background: {colour}; border: 1px solid rgba(0, 0, 0, 0.5); border-radius: 2px;"
            )
            self.swatch.show()
        else:
            self.swatch.hide()
        self.title.setText(f"<b>{html.escape(name)}</b> &nbsp;#{self.label_id}")
        missing = document.missing_required(self.label_id)
        self.missing_label.setText(f"{len(missing)} required unanswered" if missing else "")
        self.missing_label.setToolTip("\n".join(missing))

    # -- writing edits to the document ----------------------------------------------
    def _on_form_changed(self, answers: Answers) -> None:
        document = self.document
        if document is not None and self.label_id in document:
            document.set_answers(self.label_id, answers)

    def _on_image_form_changed(self, answers: Answers) -> None:
        if self.document is not None:
            self.document.set_image_answers(answers)

    # -- following the layer and the document ----------------------------------------
    def _on_instance_created(self, label_id: int) -> None:
        if self.prompt_after_drawing:
            self.show_instance(label_id)  # shown, not focused: the canvas keeps the keys

    def _on_current_changed(self) -> None:
        binding = self.binding
        if binding is None:
            return
        label_id = binding.current_label_id
        # A fresh id that is not drawn yet keeps the last form on screen, so the
        # labeler can still answer it while starting the next object.
        if self._exists(label_id) and label_id != self.label_id:
            self.show_instance(label_id)

    def _on_counts_changed(self, label_ids) -> None:
        """The form follows what is on the canvas: it goes with its instance's last pixel."""
        binding = self.binding
        if binding is None:
            return
        if self.label_id in label_ids and not self._exists(self.label_id):
            self._vanished_id = self.label_id
            self.show_instance(None)  # pending typing is kept: undo brings the object back
        elif self.label_id is None and self._vanished_id in label_ids:
            # redo brought the object back: its form returns if napari still paints with it
            returned, self._vanished_id = self._vanished_id, None
            if returned == binding.current_label_id and self._exists(returned):
                self.show_instance(returned)

    def _on_instance_changed(self, label_id: int) -> None:
        self._schedule_report()
        if label_id != self.label_id:
            return
        document = self.document
        if document.instance(label_id).schema_id != self._shown_class_id:
            self.show_instance(label_id)  # the class changed: its own form
            return
        if self._form is not None:
            self._form.flush()
            answers = document.instance(label_id).answers
            if self._form.value != answers:  # changed elsewhere (undo, another widget)
                self._form.set_value(answers)
        self._update_header()

    def _on_instances_changed(self, _label_id: int | None = None) -> None:
        self._schedule_report()

    def _on_instance_removed(self, label_id: int) -> None:
        self._schedule_report()
        if label_id == self.label_id:
            self.label_id = None  # its pending typing has nowhere to go
            self._form = None
            self.show_instance(None)

    def _on_image_answers_changed(self) -> None:
        self._schedule_report()
        if self.image_form is not None:
            self.image_form.flush()
            if self.image_form.value != self.document.image_answers:
                self.image_form.set_value(self.document.image_answers)

    def _on_ontology_changed(self) -> None:
        document = self.document
        self._flush()  # typing in a form about to be rebuilt still counts
        self._prune_forms()
        # answers may have been cleaned against the new questions
        self.show_instance(self.label_id if self.label_id in document else None)
        self._rebuild_image_form()
        self._schedule_report()

    # -- required-questions report -----------------------------------------------------
    def _schedule_report(self) -> None:
        if self._report_requested:
            self._report_debouncer.throttle()

    def _refresh_report(self) -> list[tuple[int | None, str]]:
        self._report_debouncer.cancel()
        self.report_list.clear()
        document = self.document
        if document is None:
            self.report_label.setText("")
            self.report_list.hide()
            return []
        report = document.unanswered_report()
        if not report:
            self.report_label.setText("All required questions are answered.")
            self.report_list.hide()
            return report
        instances = len({label_id for label_id, _path in report if label_id is not None})
        where = [f"{instances} instance{'s' if instances != 1 else ''}"] if instances else []
        if any(label_id is None for label_id, _path in report):
            where.append("image")
        self.report_label.setText(
            f"<span style='color:{REQUIRED_COLOUR}'>{len(report)} unanswered</span>"
            f" ({', '.join(where)})"
        )
        for label_id, path in report[:REPORT_LIMIT]:
            if label_id is None:
                text = f"Image: {path}"
            else:
                cls_ = document.class_of(label_id)
                text = f"#{label_id} {cls_.name if cls_ else ''}: {path}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, label_id)
            self.report_list.addItem(item)
        if len(report) > REPORT_LIMIT:
            self.report_list.addItem(f"… and {len(report) - REPORT_LIMIT} more")
        rows = min(self.report_list.count(), 6)
        self.report_list.setFixedHeight(
            rows * self.report_list.sizeHintForRow(0) + 2 * self.report_list.frameWidth() + 2
        )
        self.report_list.show()
        return report

    def _on_report_clicked(self, item: QListWidgetItem) -> None:
        label_id = item.data(Qt.ItemDataRole.UserRole)
        if self.binding is not None and label_id is not None and label_id in self.document:
            self.binding.select_instance(label_id)


def _disconnect_all(connections: list[tuple[Any, Any]]):
    """A callable that disconnects ``connections`` (it holds no reference to the widget)."""

    def disconnect(*_args) -> None:
        while connections:
            signal, slot = connections.pop()
            with contextlib.suppress(Exception):
                signal.disconnect(slot)

    return disconnect
