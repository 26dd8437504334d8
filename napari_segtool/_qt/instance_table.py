"""The instance table: one row per object on the canvas.

A Qt model/view table fed incrementally: the binding says which label ids'
pixel counts changed after a stroke (or an undo), and only those rows are
inserted, updated or removed. Nothing here scans the image per stroke.
"""

from __future__ import annotations

import bisect

from qtpy.QtCore import QAbstractTableModel, QModelIndex, Qt
from qtpy.QtGui import QColor, QFont

from napari_segtool._napari.binding import LayerBinding
from napari_segtool._napari.extents import InstanceExtents, extents_of

COLUMNS = ("ID", "Class", "Pixels", "Questions", "Lock", "Hide", "Slices")
ID_COLUMN, CLASS_COLUMN, PIXELS_COLUMN, QUESTIONS_COLUMN, LOCKED_COLUMN, HIDDEN_COLUMN = range(6)
#: where an instance lies along the axes not on screen ("z 10-20", with an en dash); hidden for
#: 2-D layers
SLICES_COLUMN = 6
#: between the first and last slice of a range
RANGE_DASH = "\u2013"
UNASSIGNED = "unassigned"
#: before the class name of a crowd region (COCO ``iscrowd``): first, so a narrow column
#: that elides the name still shows it
CROWD_MARK = "crowd:"
CROWD_TIP = "A crowd region (COCO iscrowd): many objects under one mask, saved as crowd RLE"


class InstanceTableModel(QAbstractTableModel):
    """Rows: label ids with pixels (instances and unassigned ids), in id order."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._binding: LayerBinding | None = None
        self._extents: InstanceExtents | None = None
        self._ids: list[int] = []
        #: the layer's axes on screen (the rest are stepped through with the sliders)
        self._displayed: tuple[int, ...] | None = None

    # -- binding ------------------------------------------------------------------
    @property
    def binding(self) -> LayerBinding | None:
        return self._binding

    def set_binding(self, binding: LayerBinding | None) -> None:
        if self._binding is not None:
            self._binding.counts_changed.disconnect(self._on_counts_changed)
            document = self._binding.document
            document.instance_added.disconnect(self._on_instance_changed)
            document.instance_changed.disconnect(self._on_instance_changed)
            document.instance_removed.disconnect(self._on_instance_changed)
            document.ontology_changed.disconnect(self._on_everything_changed)
        self.beginResetModel()
        self._binding = binding
        # before this model listens: the extents are updated when the rows are
        self._extents = extents_of(binding) if binding is not None else None
        self._ids = self._current_ids()
        self.endResetModel()
        if binding is not None:
            binding.counts_changed.connect(self._on_counts_changed)
            document = binding.document
            document.instance_added.connect(self._on_instance_changed)
            document.instance_changed.connect(self._on_instance_changed)
            document.instance_removed.connect(self._on_instance_changed)
            document.ontology_changed.connect(self._on_everything_changed)

    @property
    def extents(self) -> InstanceExtents | None:
        return self._extents

    def set_displayed_axes(self, axes) -> None:
        """The layer axes on screen: the Slices column lists the others."""
        axes = tuple(sorted(int(a) for a in axes))
        if axes != self._displayed:
            self._displayed = axes
            if self._ids:
                self.dataChanged.emit(
                    self.index(0, SLICES_COLUMN), self.index(len(self._ids) - 1, SLICES_COLUMN)
                )

    def slice_range_text(self, label_id: int) -> str:
        """``"z 10-20"`` for each axis off screen (one index when the range is one slice)."""
        binding, extents = self._binding, self._extents
        layer = binding.layer if binding is not None else None
        if layer is None or extents is None:
            return ""
        extent = extents.extent(label_id)
        if extent is None:
            return ""
        displayed = self._displayed
        if displayed is None:
            displayed = tuple(range(max(layer.ndim - 2, 0), layer.ndim))
        parts = []
        for axis, (first, last) in enumerate(extent):
            if axis in displayed:
                continue
            name = axis_name(layer.axis_labels, axis)
            span = str(first) if first == last else f"{first}{RANGE_DASH}{last}"
            parts.append(f"{name} {span}")
        return ", ".join(parts)

    def _current_ids(self) -> list[int]:
        binding = self._binding
        if binding is None:
            return []
        return sorted(i for i, n in binding.pixel_counts.items() if n > 0)

    # -- incremental updates --------------------------------------------------------
    def _on_counts_changed(self, label_ids) -> None:
        counts = self._binding.pixel_counts if self._binding else {}
        for label_id in sorted(label_ids):
            row = self.row_of(label_id)
            present = counts.get(label_id, 0) > 0
            if row is None and present:
                row = bisect.bisect_left(self._ids, label_id)
                self.beginInsertRows(QModelIndex(), row, row)
                self._ids.insert(row, label_id)
                self.endInsertRows()
            elif row is not None and not present:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._ids[row]
                self.endRemoveRows()
            elif row is not None:
                self._emit_row_changed(row)

    def _on_instance_changed(self, label_id: int) -> None:
        row = self.row_of(label_id)
        if row is not None:
            self._emit_row_changed(row)

    def _on_everything_changed(self) -> None:
        if self._ids:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._ids) - 1, len(COLUMNS) - 1)
            )

    def _emit_row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    # -- lookups ----------------------------------------------------------------------
    def row_of(self, label_id: int) -> int | None:
        row = bisect.bisect_left(self._ids, label_id)
        return row if row < len(self._ids) and self._ids[row] == label_id else None

    def label_id_at(self, row: int) -> int:
        return self._ids[row]

    def label_ids(self) -> list[int]:
        return list(self._ids)

    # -- Qt model API -------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return _HEADER_TIPS[section]
        return None

    def flags(self, index):
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        instance = self._instance(index)
        if instance is not None and index.column() in (LOCKED_COLUMN, HIDDEN_COLUMN):
            document = self._binding.document
            if index.column() == LOCKED_COLUMN:
                own, classes = instance.locked, document.locked_classes
            else:
                own, classes = instance.hidden, document.hidden_classes
            # set only through the class: the class's box undoes it, not the row's
            if own or instance.schema_id not in classes:
                flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self._binding is None:
            return None
        label_id = self._ids[index.row()]
        column = index.column()
        document = self._binding.document
        instance = document.instances.get(label_id)
        cls_ = document.ontology.class_by_id(instance.schema_id) if instance else None
        if role == Qt.ItemDataRole.DisplayRole:
            if column == ID_COLUMN:
                return label_id
            if column == CLASS_COLUMN:
                name = cls_.name if cls_ else UNASSIGNED
                return f"{CROWD_MARK} {name}" if instance and instance.crowd else name
            if column == PIXELS_COLUMN:
                return self._binding.pixel_counts.get(label_id, 0)
            if column == QUESTIONS_COLUMN:
                if instance is None:  # what another tool said of the value, if anything
                    return imported_text(document.imported_properties(label_id))
                return "missing" if document.missing_required(label_id) else "ok"
            if column == SLICES_COLUMN:
                return self.slice_range_text(label_id)
            return None
        if role == Qt.ItemDataRole.FontRole and column == CLASS_COLUMN and instance is not None:
            if instance.crowd:
                font = QFont()
                font.setItalic(True)
                return font
            return None
        if role == Qt.ItemDataRole.DecorationRole and column == CLASS_COLUMN:
            return QColor(cls_.color) if cls_ else QColor("#9e9e9e")
        if role == Qt.ItemDataRole.CheckStateRole and instance is not None:
            if column == LOCKED_COLUMN:
                return _flag_state(instance.locked, instance.schema_id in document.locked_classes)
            if column == HIDDEN_COLUMN:
                return _flag_state(instance.hidden, instance.schema_id in document.hidden_classes)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == QUESTIONS_COLUMN and instance is not None:
                missing = document.missing_required(label_id)
                return "Unanswered required: " + ", ".join(missing) if missing else "All answered"
            if column == LOCKED_COLUMN and instance is not None and document.is_locked(label_id):
                return "Locked" + ("" if instance.locked else _THROUGH_CLASS.format(box="Lock"))
            if column == HIDDEN_COLUMN and instance is not None and document.is_hidden(label_id):
                return "Hidden" + ("" if instance.hidden else _THROUGH_CLASS.format(box="Hide"))
            if column == CLASS_COLUMN and instance is not None and instance.crowd:
                return CROWD_TIP
            if column == CLASS_COLUMN and instance is not None:
                imported = document.imported_properties(label_id)
                if imported:
                    return "Properties from the file: " + imported_text(imported)
            if instance is None:
                imported = document.imported_properties(label_id)
                lines = [f"{key}: {value}" for key, value in imported.items()]
                head = ["Properties from the file:", *lines, ""] if lines else []
                return "\n".join([*head, "Painted with an id no instance owns: assign it a class"])
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and column == QUESTIONS_COLUMN
            and instance is not None
            and document.missing_required(label_id)
        ):
            return QColor("#e57373")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (ID_COLUMN, PIXELS_COLUMN):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or self._binding is None:
            return False
        instance = self._instance(index)
        if instance is None:
            return False
        checked = _is_checked(value)
        if index.column() == LOCKED_COLUMN:
            self._binding.document.set_locked(instance.label_id, checked)
            return True
        if index.column() == HIDDEN_COLUMN:
            self._binding.document.set_hidden(instance.label_id, checked)
            return True
        return False

    def _instance(self, index):
        if self._binding is None or not index.isValid():
            return None
        return self._binding.document.instances.get(self._ids[index.row()])


_THROUGH_CLASS = " through its class: untick the class's {box} box in Classes"


def _flag_state(own: bool, through_class: bool) -> Qt.CheckState:
    """Ticked for the instance's own flag, half-ticked when only its class has it."""
    if own:
        return Qt.CheckState.Checked
    return Qt.CheckState.PartiallyChecked if through_class else Qt.CheckState.Unchecked


_HEADER_TIPS = (
    "Label id on the layer",
    "Class of the instance",
    "Number of pixels",
    "Whether every required question is answered",
    "Locked instances are never painted over or erased",
    "Hidden instances are not drawn",
    "First and last slice holding the instance, along each axis not on screen "
    "(double-click a row to go to its middle slice)",
)


def axis_name(axis_labels, axis: int) -> str:
    """The layer's label of ``axis``; napari's default labels ("-3") become "axis 0"."""
    label = str(axis_labels[axis]) if axis < len(axis_labels) else ""
    if not label or label.lstrip("-").isdigit():
        return f"axis {axis}"
    return label


def _is_checked(value) -> bool:
    if isinstance(value, Qt.CheckState):
        return value == Qt.CheckState.Checked
    return value == Qt.CheckState.Checked.value or value is True


def imported_text(properties: dict) -> str:
    """Another tool's properties of a value in one short line (``kind=round, area=25``)."""
    return ", ".join(f"{key}={value}" for key, value in properties.items())
