"""The ontology panel: classes with colour swatches and their question trees.

Clicking a class starts a new instance of it. Every edit is made on a copy of
the ontology, validated by the model, and only then given to the document, so
a bad edit shows the model's message and changes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QColor, QIcon, QPixmap
from qtpy.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QMenu,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_segtool._napari.binding import LayerBinding
from napari_segtool.formats.ontology_json import write_ontology
from napari_segtool.model.document import DocumentError
from napari_segtool.model.ontology import (
    QUESTION_TYPES,
    ObjectClass,
    Ontology,
    OntologyError,
    Option,
    Question,
)

NAME_COLUMN, KIND_COLUMN, LOCK_COLUMN, HIDE_COLUMN = range(4)
#: colours offered to new classes, in order (Labelbox's palette feel)
NEW_CLASS_COLOURS = (
    "#E53935",
    "#8E24AA",
    "#3949AB",
    "#00ACC1",
    "#43A047",
    "#FDD835",
    "#FB8C00",
    "#6D4C41",
    "#D81B60",
    "#00897B",
)
_ROLE_PATH = Qt.ItemDataRole.UserRole
#: shortcut to pick class n (1-9) on the canvas; napari's Labels keys own the bare digits
CLASS_SHORTCUT = "Ctrl+{n}"


def swatch(colour: str, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class OntologyPanel(QWidget):
    """Tree of the bound layer's ontology, with editing tools."""

    #: a class row was activated (clicked); carries its schema id
    class_activated = Signal(str)

    def __init__(self, parent=None, confirm: Callable[[str, str], bool] | None = None):
        super().__init__(parent)
        self._binding: LayerBinding | None = None
        #: asks the user a yes/no question; replaceable in tests
        self.confirm = confirm or self._ask
        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Name", "Kind", "Lock", "Hide"])
        self.tree.setUniformRowHeights(True)
        self.tree.setEditTriggers(QTreeWidget.EditTrigger.DoubleClicked)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(NAME_COLUMN, header.ResizeMode.Stretch)
        for column in (KIND_COLUMN, LOCK_COLUMN, HIDE_COLUMN):
            header.setSectionResizeMode(column, header.ResizeMode.ResizeToContents)
        self._keep_tree = False
        self.tree.itemClicked.connect(self._on_item_clicked)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.customContextMenuRequested.connect(self._show_context_menu)

        self.load_button = QPushButton("Load…")
        self.load_button.setToolTip("Load a Labelbox ontology JSON for this layer")
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save this layer's ontology as Labelbox ontology JSON")
        self.add_class_button = QPushButton("+ Class")
        self.add_class_button.setToolTip("Add an object class")
        self.add_question_button = QPushButton("+ Question")
        self.add_question_button.setToolTip(
            "Add a question to the selected class or option (image-level when "
            "'Image questions' is selected)"
        )
        self.add_option_button = QPushButton("+ Option")
        self.add_option_button.setToolTip("Add an answer option to the selected question")
        self.colour_button = QPushButton("Colour…")
        self.colour_button.setToolTip("Pick the selected class's colour")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected class, question or option")
        self.load_button.clicked.connect(self.load_dialog)
        self.save_button.clicked.connect(self.save_dialog)
        self.add_class_button.clicked.connect(self.add_class_dialog)
        self.add_question_button.clicked.connect(self.add_question_dialog)
        self.add_option_button.clicked.connect(self.add_option_dialog)
        self.colour_button.clicked.connect(self.colour_dialog)
        self.remove_button.clicked.connect(self.remove_selected)

        file_row = QHBoxLayout()
        for button in (self.load_button, self.save_button):
            file_row.addWidget(button)
        file_row.addStretch()
        edit_row = QHBoxLayout()
        for button in (
            self.add_class_button,
            self.add_question_button,
            self.add_option_button,
            self.colour_button,
            self.remove_button,
        ):
            edit_row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(file_row)
        layout.addWidget(self.tree)
        layout.addLayout(edit_row)
        self.setEnabled(False)

    # -- binding ---------------------------------------------------------------
    def set_binding(self, binding: LayerBinding | None) -> None:
        if self._binding is not None:
            self._binding.document.ontology_changed.disconnect(self.rebuild)
            self._binding.current_changed.disconnect(self._show_current_class)
        self._binding = binding
        if binding is not None:
            binding.document.ontology_changed.connect(self.rebuild)
            binding.current_changed.connect(self._show_current_class)
        self.setEnabled(binding is not None)
        self.rebuild()

    @property
    def ontology(self) -> Ontology | None:
        return self._binding.document.ontology if self._binding else None

    # -- tree ------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Fill the tree from the ontology (only on ontology edits, never per stroke)."""
        if self._keep_tree:
            return
        expanded = self._expanded_paths()
        self.tree.blockSignals(True)
        self.tree.clear()
        ontology = self.ontology
        if ontology is not None:
            document = self._binding.document
            for index, cls_ in enumerate(ontology.classes):
                item = QTreeWidgetItem([cls_.name, "class"])
                item.setIcon(NAME_COLUMN, swatch(cls_.color))
                item.setData(NAME_COLUMN, _ROLE_PATH, ("class", index))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                locked = cls_.feature_schema_id in document.locked_classes
                hidden = cls_.feature_schema_id in document.hidden_classes
                item.setCheckState(LOCK_COLUMN, _state(locked))
                item.setCheckState(HIDE_COLUMN, _state(hidden))
                count = len(document.instances_of_class(cls_.feature_schema_id))
                shortcut = CLASS_SHORTCUT.format(n=index + 1) if index < 9 else ""
                item.setToolTip(
                    NAME_COLUMN,
                    f"{cls_.name} ({cls_.color}) — click to draw a new instance"
                    + (f"; shortcut {shortcut}" if shortcut else "")
                    + f"; {count} instance(s)",
                )
                self.tree.addTopLevelItem(item)
                self._add_questions(item, cls_.questions, ("class", index))
            image_item = QTreeWidgetItem(["Image questions", "image"])
            image_item.setData(NAME_COLUMN, _ROLE_PATH, ("image",))
            image_item.setToolTip(NAME_COLUMN, "Questions about the whole image")
            self.tree.addTopLevelItem(image_item)
            self._add_questions(image_item, ontology.questions, ("image",))
        self.tree.blockSignals(False)
        self._restore_expanded(expanded)
        self._show_current_class()

    def _add_questions(self, parent: QTreeWidgetItem, questions: list[Question], path) -> None:
        for q_index, question in enumerate(questions):
            q_path = (*path, q_index)
            kind = question.type + (" *" if question.required else "")
            item = QTreeWidgetItem([question.name, kind])
            item.setData(NAME_COLUMN, _ROLE_PATH, ("question", *q_path))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            item.setToolTip(
                NAME_COLUMN,
                (question.instructions or question.name)
                + (" (required)" if question.required else ""),
            )
            parent.addChild(item)
            for o_index, option in enumerate(question.options):
                o_path = (*q_path, o_index)
                option_item = QTreeWidgetItem([option.label, "option"])
                option_item.setData(NAME_COLUMN, _ROLE_PATH, ("option", *o_path))
                option_item.setFlags(option_item.flags() | Qt.ItemFlag.ItemIsEditable)
                item.addChild(option_item)
                self._add_questions(option_item, option.questions, o_path)

    def _expanded_paths(self) -> set:
        paths = set()
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            if item.isExpanded():
                paths.add(item.data(NAME_COLUMN, _ROLE_PATH))
            stack.extend(item.child(i) for i in range(item.childCount()))
        return paths

    def _restore_expanded(self, paths: set) -> None:
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            if item.data(NAME_COLUMN, _ROLE_PATH) in paths:
                item.setExpanded(True)
            stack.extend(item.child(i) for i in range(item.childCount()))

    def _show_current_class(self) -> None:
        """Bold and highlight the class the next stroke paints.

        One notion of "current": a shortcut, a table click or napari's pick
        tool move the tree's highlighted row too, unless the highlight is on a
        question or option of that class (being edited).
        """
        binding = self._binding
        current = binding.current_class_id if binding else None
        ontology = self.ontology
        self.tree.blockSignals(True)
        for index in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(index)
            path = item.data(NAME_COLUMN, _ROLE_PATH)
            is_current = (
                ontology is not None
                and path[0] == "class"
                and path[1] < len(ontology.classes)  # the tree may lag an edit by one signal
                and ontology.classes[path[1]].feature_schema_id == current
            )
            font = item.font(NAME_COLUMN)
            font.setBold(is_current)
            item.setFont(NAME_COLUMN, font)
            if is_current and not self._is_within(self.tree.currentItem(), item):
                self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)

    @staticmethod
    def _is_within(item: QTreeWidgetItem | None, top: QTreeWidgetItem) -> bool:
        """Whether ``item`` is ``top`` or lies under it."""
        while item is not None:
            if item is top:
                return True
            item = item.parent()
        return False

    def class_item(self, schema_id: str) -> QTreeWidgetItem | None:
        ontology = self.ontology
        for index, cls_ in enumerate(ontology.classes if ontology else []):
            if cls_.feature_schema_id == schema_id:
                return self.tree.topLevelItem(index)
        return None

    # -- clicks and checkboxes -------------------------------------------------------
    def _on_item_clicked(self, item: QTreeWidgetItem | None, column: int) -> None:
        path = item.data(NAME_COLUMN, _ROLE_PATH) if item is not None else None
        if path and path[0] == "class" and column == NAME_COLUMN:
            self.class_activated.emit(self.ontology.classes[path[1]].feature_schema_id)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        path = item.data(NAME_COLUMN, _ROLE_PATH)
        binding = self._binding
        if binding is None or path is None:
            return
        if path[0] == "class" and column in (LOCK_COLUMN, HIDE_COLUMN):
            schema_id = self.ontology.classes[path[1]].feature_schema_id
            checked = item.checkState(column) == Qt.CheckState.Checked
            # The box already shows the new state: rebuilding the tree now would
            # delete ``item`` while Qt is still delivering this signal for it.
            self._keep_tree = True
            try:
                if column == LOCK_COLUMN:
                    binding.document.set_class_locked(schema_id, checked)
                else:
                    binding.document.set_class_hidden(schema_id, checked)
            finally:
                self._keep_tree = False
        elif column == NAME_COLUMN:
            self.rename(path, item.text(NAME_COLUMN))

    # -- edits ---------------------------------------------------------------------------
    def edit_ontology(self, change: Callable[[Ontology], None]) -> bool:
        """Apply ``change`` to a copy, validate, and hand it to the document."""
        binding = self._binding
        if binding is None:
            return False
        edited = copy.deepcopy(binding.document.ontology)
        try:
            change(edited)
            binding.document.set_ontology(edited)
        except (OntologyError, DocumentError) as err:
            self._warn("Ontology not changed", str(err))
            self.rebuild()
            return False
        return True

    def rename(self, path, new_name: str) -> bool:
        new_name = new_name.strip()

        def change(ontology: Ontology) -> None:
            node = resolve(ontology, path)
            if isinstance(node, Option):
                node.label = new_name
                node.value = "_".join(new_name.lower().split())
            else:
                node.name = new_name

        return self.edit_ontology(change)

    def add_class(self, name: str, colour: str | None = None) -> ObjectClass | None:
        ontology = self.ontology
        if ontology is None:
            return None
        used = {c.color.upper() for c in ontology.classes}
        colour = colour or next(
            (c for c in NEW_CLASS_COLOURS if c not in used),
            NEW_CLASS_COLOURS[len(ontology.classes) % len(NEW_CLASS_COLOURS)],
        )
        new_class = ObjectClass(name=name.strip(), color=colour)
        if self.edit_ontology(lambda o: o.classes.append(new_class)):
            return new_class
        return None

    def add_question(self, path, question_type: str, name: str) -> bool:
        question = Question(question_type, name.strip())
        if question_type in ("radio", "checklist", "dropdown"):
            question.options = [Option("Yes"), Option("No")]
        if path[0] == "image":
            question.scope = "global"

        def change(ontology: Ontology) -> None:
            node = resolve(ontology, path)
            if isinstance(node, ObjectClass | Option):
                node.questions.append(question)
            elif node is None:
                ontology.questions.append(question)
            else:
                raise OntologyError("", "select a class, an option or 'Image questions'")

        return self.edit_ontology(change)

    def add_option(self, path, label: str) -> bool:
        def change(ontology: Ontology) -> None:
            node = resolve(ontology, path)
            if not isinstance(node, Question) or not node.is_choice:
                raise OntologyError("", "select a radio, checklist or dropdown question")
            node.options.append(Option(label.strip()))

        return self.edit_ontology(change)

    def set_required(self, path, required: bool) -> bool:
        return self.edit_ontology(lambda o: setattr(resolve(o, path), "required", required))

    def set_class_colour(self, schema_id: str, colour: str) -> bool:
        def change(ontology: Ontology) -> None:
            ontology.class_by_id(schema_id).color = colour.upper()

        return self.edit_ontology(change)

    def remove(self, path) -> bool:
        """Remove a class (asking first when it has instances), question or option."""
        binding = self._binding
        ontology = self.ontology
        if binding is None or ontology is None or (path[0] == "image" and len(path) == 1):
            return False
        if path[0] == "class" and len(path) == 2:
            cls_ = ontology.classes[path[1]]
            instances = binding.document.instances_of_class(cls_.feature_schema_id)
            painted = [i for i in instances if binding.pixel_counts.get(i.label_id, 0) > 0]
            if painted and not self.confirm(
                "Remove class",
                f"Class {cls_.name!r} has {len(painted)} instance(s) on the canvas. "
                "Remove the class and erase them?",
            ):
                return False
            locked = [i.label_id for i in instances if binding.document.is_locked(i.label_id)]
            if locked:
                self._warn(
                    "Class not removed",
                    f"Unlock instances {locked[:10]} of {cls_.name!r} first.",
                )
                return False
            try:
                binding.remove_class_instances(cls_.feature_schema_id)
            except DocumentError as error:  # hidden instances: the binding refuses
                self._warn("Class not removed", str(error))
                return False
            return self.edit_ontology(lambda o: o.classes.pop(path[1]))

        def change(ontology: Ontology) -> None:
            parent_list, index = resolve_container(ontology, path)
            parent_list.pop(index)

        return self.edit_ontology(change)

    def selected_path(self):
        item = self.tree.currentItem()
        return item.data(NAME_COLUMN, _ROLE_PATH) if item is not None else None

    # -- dialogs -------------------------------------------------------------------------
    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load ontology", "", "Labelbox ontology (*.json);;All files (*)"
        )
        if path:
            self.load(Path(path))

    def load(self, path: Path) -> bool:
        binding = self._binding
        if binding is None:
            return False
        try:
            ontology = Ontology.load(path)
            binding.document.set_ontology(ontology)
        except (OntologyError, DocumentError) as err:
            self._warn("Ontology not loaded", str(err))
            return False
        return True

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save ontology", "ontology.json", "Labelbox ontology (*.json)"
        )
        if path and self.ontology is not None:
            try:
                write_ontology(self.ontology, Path(path))
            except (OSError, OntologyError) as err:
                self._warn("Ontology not saved", str(err))

    def add_class_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "Add class", "Class name:")
        if ok and name.strip():
            self.add_class(name)

    def add_question_dialog(self) -> None:
        path = self.selected_path() or ("image",)
        question_type, ok = QInputDialog.getItem(
            self, "Add question", "Type:", list(QUESTION_TYPES), 0, False
        )
        if not ok:
            return
        name, ok = QInputDialog.getText(self, "Add question", "Question:")
        if ok and name.strip():
            self.add_question(_owner_path(path), question_type, name)

    def add_option_dialog(self) -> None:
        path = self.selected_path()
        if path is None or path[0] != "question":
            self._warn("Add option", "Select a radio, checklist or dropdown question first.")
            return
        label, ok = QInputDialog.getText(self, "Add option", "Option label:")
        if ok and label.strip():
            self.add_option(path, label)

    def colour_dialog(self) -> None:
        path = self.selected_path()
        ontology = self.ontology
        if path is None or path[0] != "class" or ontology is None:
            self._warn("Class colour", "Select a class first.")
            return
        cls_ = ontology.classes[path[1]]
        colour = QColorDialog.getColor(QColor(cls_.color), self, f"Colour of {cls_.name}")
        if colour.isValid():
            self.set_class_colour(cls_.feature_schema_id, colour.name())

    def remove_selected(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.remove(path)

    def _show_context_menu(self, position) -> None:
        item = self.tree.itemAt(position)
        if item is None:
            return
        path = item.data(NAME_COLUMN, _ROLE_PATH)
        menu = QMenu(self)
        if path[0] == "question":
            question = resolve(self.ontology, path)
            action = menu.addAction("Required")
            action.setCheckable(True)
            action.setChecked(question.required)
            action.toggled.connect(lambda on: self.set_required(path, on))
        menu.addAction("Remove", lambda: self.remove(path))
        menu.exec_(self.tree.viewport().mapToGlobal(position))

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def _warn(self, title: str, text: str) -> None:
        from napari.utils.notifications import show_warning

        show_warning(f"{title}: {text}")


def _state(checked: bool):
    return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked


def _owner_path(path):
    """Where a new question goes: the selected class, option or image; beside a question."""
    return _parent_path(path) if path[0] == "question" else path


def _parent_path(path):
    """The tree path of the node that holds ``path`` (a question's owner, an option's question)."""
    kind, *rest = path
    if kind == "option":
        return ("question", *rest[:-1])
    owner = tuple(rest[:-1])
    if owner == ("image",) or (owner[0] == "class" and len(owner) == 2):
        return owner
    return ("option", *owner)


def resolve(ontology: Ontology, path):
    """The node a tree path names: ("class", i), ("question", ..., j), ("option", ..., k)."""
    kind, *rest = path
    if kind == "image" and not rest:
        return None
    if kind == "class" and len(rest) == 1:
        return ontology.classes[rest[0]]
    root, *indices = rest
    if root == "image":
        questions, steps = ontology.questions, indices
    else:
        questions, steps = ontology.classes[indices[0]].questions, indices[1:]
    node = None
    for depth, index in enumerate(steps):
        if depth % 2 == 0:
            node = questions[index]
        else:
            node = node.options[index]
            questions = node.questions
    return node


def resolve_container(ontology: Ontology, path):
    """The list holding the node at ``path`` and its index there."""
    parent = resolve(ontology, _parent_path(path))
    if parent is None:
        return ontology.questions, path[-1]
    if isinstance(parent, Question):
        return parent.options, path[-1]
    return parent.questions, path[-1]
