"""The plugin's dock: ontology, instances and tools for the active segmentation layer.

It follows napari's active layer: a segmentation layer binds the dock to its
own document (each layer keeps its own); a plain Labels layer is offered an
ontology; any other layer leaves the dock on the last segmentation layer.
"""

from __future__ import annotations

import warnings
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from napari.layers import Labels, Shapes
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QItemSelectionModel, Qt, QTimer
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from napari_segtool import load_default_ontology
from napari_segtool._napari.binding import (
    LayerBinding,
    bind,
    binding_of,
    is_segmentation_layer,
    unwrap,
)
from napari_segtool._napari.interpolate import interpolate_instances, set_selection_source
from napari_segtool._napari.io_coco import export_coco
from napari_segtool._napari.io_hooks import open_file
from napari_segtool._napari.io_labelbox import export_layer
from napari_segtool._napari.io_ndjson_writer import export_ndjson_layer
from napari_segtool._napari.io_ome_zarr import default_path as default_ome_zarr_path
from napari_segtool._napari.io_ome_zarr import save_ome_zarr
from napari_segtool._napari.keys import CLASS_KEYS, INTERPOLATE_KEY, NEW_INSTANCE_KEY
from napari_segtool._napari.polygons import labels_to_shapes, shapes_to_instance
from napari_segtool._napari.session import session_for
from napari_segtool._qt.cleanup_panel import CleanupPanel
from napari_segtool._qt.fit import ContentWidthScrollArea, fit_to_rows
from napari_segtool._qt.forms import ClassificationPanel
from napari_segtool._qt.instance_table import (
    CLASS_COLUMN,
    COLUMNS,
    SLICES_COLUMN,
    InstanceTableModel,
)
from napari_segtool._qt.measure_panel import MeasureButton
from napari_segtool._qt.ontology_panel import OntologyPanel
from napari_segtool._qt.pen_panel import PenPanel
from napari_segtool._qt.recovery_banner import RecoveryBanner
from napari_segtool._qt.scribble_panel import ScribblePanel
from napari_segtool.formats import registry
from napari_segtool.formats.coco import CocoError
from napari_segtool.formats.labelbox_ndjson import (
    API_KEY_ENV,
    NDJSON_EXTENSIONS,
    NdjsonExport,
)
from napari_segtool.formats.labelbox_ndjson import MASK_STYLES as NDJSON_MASK_STYLES
from napari_segtool.formats.labelbox_v1 import (
    POLYGON_MODES,
    LabelboxFormatError,
    LabelboxFormatWarning,
)
from napari_segtool.model.document import METADATA_KEY, Document, DocumentError
from napari_segtool.model.label_store import focus_point, label_store
from napari_segtool.model.ontology import Ontology, OntologyError
from napari_segtool.tools.registry import tool

if TYPE_CHECKING:
    import napari


class SegmentationDock(QWidget):
    """Dock widget (Plugins > napari-segtool > Segmentation)."""

    def __init__(self, napari_viewer: napari.Viewer, parent=None):
        super().__init__(parent)
        # napari hands plugins a proxy; layers reached through it are proxies too,
        # which would not match the layers the bindings are keyed on.
        self.viewer = unwrap(napari_viewer)
        self.binding: LayerBinding | None = None
        # autosave, close guard, pen and keys of every segmentation layer are the
        # session's: they run whether this dock is open or not
        self.session = session_for(self.viewer)
        self.recovery_banner = RecoveryBanner(self)
        self.recovery_banner.restored.connect(self.set_binding)
        self.layer_label = QLabel("No segmentation layer")
        self.layer_label.setWordWrap(True)
        self.attach_button = QPushButton("Use as segmentation layer (default ontology)")
        self.attach_button.setToolTip(
            "Give this Labels layer an ontology; painted ids become unassigned instances"
        )
        self.attach_file_button = QPushButton("…with ontology file")
        self.attach_button.clicked.connect(lambda: self.attach_ontology(None))
        self.attach_file_button.clicked.connect(self._attach_from_file)
        attach_row = QHBoxLayout()
        attach_row.addWidget(self.attach_button)
        attach_row.addWidget(self.attach_file_button)
        self._attach_widgets = (self.attach_button, self.attach_file_button)

        self.ontology_panel = OntologyPanel(self)
        self.ontology_panel.class_activated.connect(self.start_instance)
        self.pen_panel = PenPanel(self)
        self.scribble_panel = ScribblePanel(self)
        self.cleanup_panel = CleanupPanel(self)
        self.pen_panel.viewer = self.viewer  # the assist tools read this viewer's image

        self.table_model = InstanceTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        # fixed widths (measuring thousands of rows per update would cost more than the
        # update itself); the class name takes the spare width
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        metrics = self.table.fontMetrics()
        for column, sample in enumerate(("0000", "", "000000", "missing", "", "", "z 000-000")):
            width = max(
                metrics.horizontalAdvance(sample), metrics.horizontalAdvance(COLUMNS[column])
            )
            self.table.setColumnWidth(column, width + 14)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(CLASS_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.table.clicked.connect(self._on_row_clicked)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda index: self.centre_on(self._id_at(index.row())))
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._row_menu)
        self.table.setColumnHidden(SLICES_COLUMN, True)  # until a stack's layer is shown

        self.new_instance_button = QPushButton("New instance")
        self.new_instance_button.setToolTip(
            f"Start another instance of the current class ({NEW_INSTANCE_KEY.upper()})"
        )
        self.centre_button = QPushButton("Centre")
        self.centre_button.setToolTip("Centre the view on the selected instance (double-click)")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Erase the selected instances (undo with Ctrl+Z)")
        self.class_button = QPushButton("Class…")
        self.class_button.setToolTip("Change the class of the selected instances")
        self.merge_button = QPushButton("Merge")
        self.merge_button.setToolTip("Merge the selected instances (one class) into the first")
        self.interpolate_button = QPushButton("Interpolate")
        self.interpolate_button.setToolTip(
            f"{tool('interpolate').tooltip} ({INTERPOLATE_KEY.upper()}). "
            "Stacks and time-lapses only"
        )
        self.interpolate_button.clicked.connect(self.interpolate_selected)
        self.new_instance_button.clicked.connect(lambda: self.start_instance(None))
        self.centre_button.clicked.connect(lambda: self.centre_on(self._selected_ids()[:1]))
        self.delete_button.clicked.connect(self.delete_selected)
        self.class_button.clicked.connect(self._class_menu)
        self.merge_button.clicked.connect(self.merge_selected)
        table_buttons = QHBoxLayout()
        for button in (
            self.new_instance_button,
            self.centre_button,
            self.delete_button,
            self.class_button,
            self.merge_button,
            self.interpolate_button,
        ):
            table_buttons.addWidget(button)

        self.summary_label = QLabel()
        self.questions_panel = ClassificationPanel(parent=self)

        self.save_button = QPushButton("Save Labelbox export…")
        self.save_button.setToolTip(
            "Write <name>.json (Labelbox v1) with one PNG mask per instance and the ontology "
            "beside it, or <name>.ndjson (Labelbox NDJSON import, masks inside) to upload "
            "to Labelbox; same as File > Save Selected Layers"
        )
        self.open_button = QPushButton("Open…")
        readable = ", ".join(entry.display_name for entry in registry.formats())
        self.open_button.setToolTip(f"Open a file: {readable} (same as File > Open)")
        self.download_box = QCheckBox("Download web masks")
        self.download_box.setToolTip(
            "Open also fetches masks and images that a Labelbox export names by https URL; "
            f"Labelbox's mask URLs need your API key in the {API_KEY_ENV} environment variable "
            "(sent to labelbox.com only)"
        )
        self.coco_button = QPushButton("Export COCO…")
        self.coco_button.setToolTip(
            "Write this layer as COCO instance segmentation (RLE masks, categories from the "
            "ontology, answers as attributes); File > Save with a .coco.json name does the same"
        )
        self.ome_zarr_button = QPushButton("Save OME-Zarr…")
        self.ome_zarr_button.setToolTip(
            "Write this layer as an OME-Zarr label group (classes, answers, colours; a pyramid "
            "like the image's): into the store the image came from, or a new store with the "
            "image; File > Save with a .ome.zarr name does the same"
        )
        self.to_polygons_button = QPushButton("To polygons")
        self.to_polygons_button.setToolTip(
            "Add a Shapes layer with every instance's outline (pixel edges), coloured by class"
        )
        self.from_polygons_button = QPushButton("Polygons → instance")
        self.from_polygons_button.setToolTip(
            "Turn the selected shapes of a Shapes layer into one new instance of the current "
            "class (paints only unlabelled pixels)"
        )
        self.save_button.clicked.connect(self._save_dialog)
        self.open_button.clicked.connect(self._open_dialog)
        self.coco_button.clicked.connect(self._coco_dialog)
        self.ome_zarr_button.clicked.connect(self._ome_zarr_dialog)
        self.to_polygons_button.clicked.connect(self.to_polygons)
        self.from_polygons_button.clicked.connect(self.selected_shapes_to_instance)
        self.polygon_mode = QComboBox()
        self.polygon_mode.addItems(["masks only", "masks + polygons", "polygons instead"])
        self.polygon_mode.setToolTip(
            "Also write each instance's outline as Labelbox polygon-tool objects "
            "(one per connected component; holes are not represented)"
        )
        self.ndjson_masks = QComboBox()
        self.ndjson_masks.addItems(["Inline PNG", "Composite PNG files"])
        self.ndjson_masks.setToolTip(
            "How a Labelbox NDJSON import (.ndjson) holds masks: a base64 PNG inside each "
            "line (self-contained), or one composite PNG per image in <name>_masks/ beside "
            "the file, named by instanceURI + colorRGB (upload the folder for Labelbox)"
        )
        self.ndjson_base_url = QLineEdit()
        self.ndjson_base_url.setPlaceholderText("https://… where <name>_masks/ will be uploaded")
        self.ndjson_base_url.setToolTip(
            "The URL of the composite-mask folder once uploaded; instanceURIs start with it. "
            "Empty: paths relative to the .ndjson file"
        )
        options = self.session.ndjson_options
        self.ndjson_masks.setCurrentIndex(NDJSON_MASK_STYLES.index(options.masks))
        self.ndjson_base_url.setText(options.mask_base_url)
        self.ndjson_masks.currentIndexChanged.connect(self._on_ndjson_options)
        self.ndjson_base_url.textChanged.connect(self._on_ndjson_options)
        self.file_status = QLabel()
        self.file_status.setWordWrap(True)
        file_box = QWidget()
        file_layout = QVBoxLayout(file_box)
        file_layout.setContentsMargins(0, 0, 0, 0)
        self.file_buttons = QHBoxLayout()
        self.file_buttons.addWidget(self.save_button)
        self.file_buttons.addWidget(self.open_button)
        self.measure_button = MeasureButton(self)
        self.measurement_table = None  # the last table the Measure button showed
        self.file_buttons.addWidget(self.measure_button)
        file_layout.addLayout(self.file_buttons)
        file_layout.addWidget(self.download_box)
        polygon_row = QHBoxLayout()
        polygon_row.addWidget(QLabel("Labelbox objects:"))
        polygon_row.addWidget(self.polygon_mode, 1)
        file_layout.addLayout(polygon_row)
        ndjson_row = QHBoxLayout()
        ndjson_row.addWidget(QLabel("NDJSON masks:"))
        ndjson_row.addWidget(self.ndjson_masks, 1)
        file_layout.addLayout(ndjson_row)
        self.ndjson_url_row = QWidget()
        url_layout = QHBoxLayout(self.ndjson_url_row)
        url_layout.setContentsMargins(0, 0, 0, 0)
        url_layout.addWidget(QLabel("Base URL:"))
        url_layout.addWidget(self.ndjson_base_url, 1)
        file_layout.addWidget(self.ndjson_url_row)
        self.ndjson_url_row.setVisible(options.masks == "composite")
        polygon_buttons = QHBoxLayout()
        for button in (self.coco_button, self.to_polygons_button, self.from_polygons_button):
            polygon_buttons.addWidget(button)
        file_layout.addLayout(polygon_buttons)
        file_layout.addWidget(self.ome_zarr_button)
        file_layout.addWidget(self.file_status)

        classes_section = QCollapsible("Classes")
        classes_section.addWidget(self.ontology_panel)
        classes_section.expand(animate=False)
        pen_section = QCollapsible("Pen")
        pen_section.addWidget(self.pen_panel)
        pen_section.addWidget(self.scribble_panel)
        pen_section.expand(animate=False)
        instances_section = QCollapsible("Instances")
        instances_box = QWidget()
        instances_layout = QVBoxLayout(instances_box)
        instances_layout.setContentsMargins(0, 0, 0, 0)
        instances_layout.addWidget(self.table)
        instances_layout.addLayout(table_buttons)
        instances_layout.addWidget(self.cleanup_panel)
        instances_layout.addWidget(self.summary_label)
        instances_section.addWidget(instances_box)
        instances_section.expand(animate=False)
        questions_section = QCollapsible("Questions")
        questions_section.addWidget(self.questions_panel)
        questions_section.expand(animate=False)
        files_section = QCollapsible("Files")
        files_section.addWidget(file_box)
        files_section.expand(animate=False)
        self.sections = {
            "classes": classes_section,
            "pen": pen_section,
            "instances": instances_section,
            "questions": questions_section,
            "files": files_section,
        }

        content = QWidget()
        self._content_layout = QVBoxLayout(content)
        self._content_layout.addWidget(self.recovery_banner)
        self._content_layout.addWidget(self.layer_label)
        self._content_layout.addLayout(attach_row)
        self._content_layout.addWidget(classes_section)
        self._content_layout.addWidget(pen_section)
        self._content_layout.addWidget(instances_section)
        self._content_layout.addWidget(questions_section)
        self._content_layout.addWidget(files_section)
        self._content_layout.addStretch()
        # the lists as tall as their rows, so the questions stay in view below them
        fit_to_rows(self.ontology_panel.tree, 3, 12)
        fit_to_rows(self.table, 4, 10)
        # never narrower than the content, whatever width napari restores
        self.scroll = ContentWidthScrollArea()
        self.scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)
        # a new instance's form is scrolled into view once the layout has settled
        self._reveal_timer = QTimer(self)
        self._reveal_timer.setSingleShot(True)
        self._reveal_timer.setInterval(0)
        self._reveal_timer.timeout.connect(self.reveal_questions)
        self.setToolTip(
            "Pick a class to draw a new instance of it. Shortcuts on the canvas: "
            + ", ".join(f"{k.replace('Control-', 'Ctrl+')}" for k in CLASS_KEYS[:3])
            + " … pick classes 1-9; N starts another instance of the current class."
        )

        self.viewer.layers.selection.events.active.connect(self._on_active_layer)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.dims.events.order.connect(self._follow_displayed_axes)
        self.viewer.dims.events.ndisplay.connect(self._follow_displayed_axes)
        self.viewer.dims.events.ndim.connect(self._follow_displayed_axes)
        self._on_active_layer()
        self._update_buttons()  # no layer yet: set_binding(None) changes nothing

    # -- following the viewer ---------------------------------------------------
    def _on_active_layer(self, _event=None) -> None:
        layer = self.viewer.layers.selection.active
        if is_segmentation_layer(layer):
            self.set_layer(layer)
        self._update_attach_offer(layer)

    def _on_layer_removed(self, event) -> None:
        if self.binding is not None and event.value is self.binding.layer:
            others = [layer for layer in self.viewer.layers if is_segmentation_layer(layer)]
            self.set_layer(others[-1] if others else None)

    def _update_attach_offer(self, layer) -> None:
        offer = isinstance(layer, Labels) and not is_segmentation_layer(layer)
        for widget in self._attach_widgets:
            widget.setVisible(offer)

    def set_layer(self, layer: Labels | None) -> None:
        self.set_binding(binding_of(layer) if layer is not None else None)

    def set_binding(self, binding: LayerBinding | None) -> None:
        if binding is self.binding:
            return
        if self.binding is not None:
            self.binding.counts_changed.disconnect(self._update_summary)
            self.binding.counts_changed.disconnect(self._show_current_row)
            self.binding.current_changed.disconnect(self._show_current_row)
            self.binding.instance_created.disconnect(self._on_instance_created)
            if self.binding.layer is not None:
                set_selection_source(self.binding.layer, None)
        self.binding = binding
        self.ontology_panel.set_binding(binding)
        self.table_model.set_binding(binding)
        self._follow_displayed_axes()
        self.questions_panel.set_binding(binding)
        services = self.session.start(binding.layer) if binding is not None else None
        self.recovery_banner.follow(services.autosaver if services is not None else None)
        self.recovery_banner.offer_for(binding, self.viewer)
        self.pen_panel.set_layer(binding.layer if binding is not None else None)
        self.pen_panel.update_hints()
        layer = binding.layer if binding is not None else None
        self.scribble_panel.set_layer(layer, self.viewer)
        self.cleanup_panel.set_layer(layer, self.viewer)
        if binding is not None:
            binding.counts_changed.connect(self._update_summary)
            # a stroke's new row is selected once it exists
            binding.counts_changed.connect(self._show_current_row)
            binding.current_changed.connect(self._show_current_row)
            binding.instance_created.connect(self._on_instance_created)
            set_selection_source(binding.layer, self._selected_ids)
            self.layer_label.setText(f"Layer: <b>{binding.layer.name}</b>")
        else:
            self.layer_label.setText("No segmentation layer: open the sample or a Labels layer")
        self._update_summary()
        self._show_current_row()
        self._update_buttons()

    def attach_ontology(self, ontology: Ontology | None) -> None:
        """Make the active plain Labels layer a segmentation layer."""
        layer = self.viewer.layers.selection.active
        if not isinstance(layer, Labels) or is_segmentation_layer(layer):
            return
        document = Document(ontology=ontology or load_default_ontology())
        layer.metadata[METADATA_KEY] = document.to_dict()
        bind(layer, document)
        self.session.start(layer)
        self.set_layer(layer)
        self._update_attach_offer(layer)

    def _attach_from_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Ontology", "", "Ontology JSON (*.json)")
        if not path:
            return
        try:
            self.attach_ontology(Ontology.load(path))
        except OntologyError as err:
            show_warning(str(err))

    # -- instance workflow ------------------------------------------------------
    def start_instance(self, schema_id: str | None) -> int | None:
        if self.binding is None:
            return None
        try:
            label_id = self.binding.start_instance(schema_id)
        except DocumentError as err:
            show_warning(str(err))
            return None
        layer = self.binding.layer
        if self.viewer.layers.selection.active is not layer:
            self.viewer.layers.selection.active = layer
        document = self.binding.document
        if self.binding.current_class_id in document.locked_classes:
            name = document.ontology.class_by_id(self.binding.current_class_id).name
            show_info(
                f"{name} is locked: a new {name} can be drawn in one stroke and is locked "
                "after it. Untick the class's Lock to draw it in several strokes."
            )
        return label_id

    def _on_instance_created(self, _label_id: int) -> None:
        if self.questions_panel.prompt_after_drawing:
            self._reveal_timer.start()

    def reveal_questions(self) -> None:
        """Scroll the shown instance's form into view (the keyboard stays where it is)."""
        if not self.sections["questions"].isExpanded():
            return  # folded away by the user
        panel = self.questions_panel
        self.scroll.ensureWidgetVisible(panel.forms, 0, 8)
        # a form taller than the view shows from its header down
        self.scroll.ensureWidgetVisible(panel.title, 0, 8)

    def _on_row_clicked(self, index) -> None:
        if self.binding is None:
            return
        if not self.table.selectionModel().isRowSelected(index.row()):
            return  # Ctrl+click took the row out of the selection: nothing to paint with
        label_id = self._id_at(index.row())
        self.binding.select_instance(label_id)

    def _show_current_row(self, _changed=None) -> None:
        """Keep the table's selection on the label napari paints with.

        An instance row is selected (a multi-selection that holds it stays);
        a fresh id that has no row yet leaves no row selected.
        """
        if self.binding is None:
            return
        row = self.table_model.row_of(self.binding.current_label_id)
        selection = self.table.selectionModel()
        if row is None:
            if selection.hasSelection():
                selection.clearSelection()
        elif not selection.isRowSelected(row):
            self.table.selectRow(row)
            self.table.scrollTo(self.table_model.index(row, 0))
        self._update_buttons()

    def _update_buttons(self, *_args) -> None:
        """Buttons that act on the layer or on selected rows are enabled only when they can."""
        has_layer = self.binding is not None
        selected = len(self.table.selectionModel().selectedRows()) if has_layer else 0
        for widget in (
            self.table,
            self.new_instance_button,
            self.save_button,
            self.coco_button,
            self.ome_zarr_button,
            self.to_polygons_button,
            self.from_polygons_button,
            self.polygon_mode,
        ):
            widget.setEnabled(has_layer)
        for button in (self.centre_button, self.delete_button, self.class_button):
            button.setEnabled(selected >= 1)
        self.merge_button.setEnabled(selected >= 2)
        self.interpolate_button.setEnabled(selected >= 1 and self.binding.layer.ndim >= 3)
        self.cleanup_panel.set_selected(selected)

    def _id_at(self, row: int) -> int:
        return self.table_model.label_id_at(row)

    def _selected_ids(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self._id_at(row) for row in rows]

    def select_rows(self, label_ids: list[int]) -> None:
        selection = self.table.selectionModel()
        selection.clear()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for label_id in label_ids:
            row = self.table_model.row_of(label_id)
            if row is not None:
                selection.select(self.table_model.index(row, 0), flags)

    # -- table actions ------------------------------------------------------------
    def delete_selected(self) -> None:
        if self.binding is None:
            return
        painting_with = self.binding.current_label_id
        deleted = []
        for label_id in self._selected_ids():
            if self._run(self.binding.delete_instance, label_id):
                deleted.append(label_id)
        if painting_with in deleted:
            # the next stroke starts a new object instead of reviving the deleted one
            self._run(partial(self.binding.start_instance, None, switch_mode=False))

    def merge_selected(self) -> None:
        if self.binding is None:
            return
        ids = self._selected_ids()
        if len(ids) < 2:
            show_warning("Select two or more instances of one class to merge.")
            return
        self._run(self.binding.merge_instances, ids[0], ids[1:])

    def interpolate_selected(self) -> None:
        """Fill the selected instances between their drawn slices (one undo step)."""
        if self.binding is None or self.binding.layer is None:
            return
        try:
            interpolate_instances(self.binding.layer, self._selected_ids(), self.viewer)
        except ValueError as err:
            show_warning(str(err))

    def change_class_of_selected(self, schema_id: str) -> None:
        if self.binding is None:
            return
        for label_id in self._selected_ids():
            if label_id in self.binding.document:
                self._run(self.binding.change_class, label_id, schema_id)
            else:
                self._run(self.binding.assign, label_id, schema_id)

    def _class_menu(self) -> None:
        if self.binding is None:
            return
        menu = QMenu(self)
        for cls_ in self.binding.document.ontology.segmentation_classes:
            action = menu.addAction(cls_.name)
            action.triggered.connect(
                lambda _=False, sid=cls_.feature_schema_id: self.change_class_of_selected(sid)
            )
        menu.exec_(self.class_button.mapToGlobal(self.class_button.rect().bottomLeft()))

    def _follow_displayed_axes(self, _event=None) -> None:
        """The Slices column lists the layer's axes off screen (a 2-D layer has none)."""
        layer = self.binding.layer if self.binding is not None else None
        if layer is None:
            self.table.setColumnHidden(SLICES_COLUMN, True)
            return
        offset = self.viewer.dims.ndim - layer.ndim
        shown = [d - offset for d in self.viewer.dims.displayed if d >= offset]
        self.table_model.set_displayed_axes(shown)
        self.table.setColumnHidden(SLICES_COLUMN, layer.ndim <= max(len(shown), 2))

    def _row_menu(self, position) -> None:
        index = self.table.indexAt(position)
        if self.binding is None or not index.isValid():
            return
        label_id = self._id_at(index.row())
        menu = QMenu(self)
        centre = menu.addAction("Centre on this instance")
        centre.setToolTip("Go to its middle slice and centre the view on it there")
        centre.triggered.connect(lambda _=False: self.centre_on(label_id))
        menu.exec_(self.table.viewport().mapToGlobal(position))

    def centre_on(self, label_ids) -> None:
        """Move the sliders to the instance's middle slice and centre the camera on it there."""
        if self.binding is None or not label_ids:
            return
        label_id = label_ids[0] if isinstance(label_ids, list) else label_ids
        layer = self.binding.layer
        dims = self.viewer.dims
        # the layer's axes are the viewer's last ones
        offset = dims.ndim - layer.ndim
        displayed = list(dims.displayed)
        shown = [d - offset for d in displayed if d >= offset]
        # only the instance's own box is read (its extent is kept per edit)
        extents = self.table_model.extents
        extent = extents.extent(label_id) if extents is not None else None
        if extent is None:
            point = focus_point(label_store(layer.data), label_id, shown)
        else:
            box = tuple(slice(first, last + 1) for first, last in extent)
            local = focus_point(label_store(layer.data[box]), label_id, shown)
            point = local and tuple(p + b.start for p, b in zip(local, box, strict=True))
        if point is None:
            return
        world = layer.data_to_world(point)
        # in a stack, the sliders move to a slice where the instance is
        position = list(dims.point)
        for axis in range(offset, dims.ndim):
            if axis not in displayed:
                position[axis] = world[axis - offset]
        dims.point = position
        # napari keeps the camera's centre in the displayed axes (the last ones)
        centre = list(self.viewer.scene.camera.center)[-len(displayed) :]
        centre = [0.0] * (len(displayed) - len(centre)) + centre
        for i, axis in enumerate(displayed):
            if axis >= offset:
                centre[i] = world[axis - offset]
        self.viewer.scene.camera.center = tuple(centre)
        self.binding.select_instance(label_id)

    def _run(self, action, *args) -> bool:
        try:
            action(*args)
        except DocumentError as err:
            show_warning(str(err))
            return False
        return True

    def _update_summary(self, _changed=None) -> None:
        binding = self.binding
        if binding is None:
            self.summary_label.setText("")
            return
        instances = len(binding.visible_instance_ids())
        unassigned = len(binding.unassigned_ids())
        text = f"{instances} instance(s)"
        if unassigned:
            text += f", {unassigned} unassigned id(s): select and use Class… to assign"
        self.summary_label.setText(text)

    # -- files ----------------------------------------------------------------------
    def default_export_path(self) -> str:
        source = self.binding.document.source if self.binding else {}
        if source.get("export_path"):
            return str(source["export_path"])
        image_path = source.get("image_path")
        stem = Path(image_path).stem if image_path else (source.get("image_name") or "labels")
        folder = Path(image_path).parent if image_path else Path.cwd()
        return str(folder / f"{stem}.json")

    def save_export(self, path: str | Path) -> bool:
        """Write the bound layer as a Labelbox v1 export, or as an NDJSON import when ``path``
        ends in ``.ndjson`` / ``.jsonl``; report what happened."""
        if self.binding is None:
            return False
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", LabelboxFormatWarning)
                if str(path).lower().endswith(NDJSON_EXTENSIONS):
                    result = export_ndjson_layer(
                        self.binding.layer, path, **self.session.ndjson_options.writer_options()
                    )
                else:
                    result = export_layer(
                        self.binding.layer,
                        path,
                        polygons=POLYGON_MODES[self.polygon_mode.currentIndex()],
                    )
        except (LabelboxFormatError, OSError) as err:
            show_error(f"Not saved: {err}")
            self.file_status.setText(f"Not saved: {err}")
            return False
        notes = [str(w.message) for w in caught if issubclass(w.category, LabelboxFormatWarning)]
        for note in notes:
            show_warning(note)
        saved_to = result.path if isinstance(result, NdjsonExport) else result.json_path
        text = f"Saved {result.mask_count} mask(s) to {Path(saved_to).name}"
        if any(result.unanswered):
            text += f"; {sum(len(u) for u in result.unanswered)} required question(s) unanswered"
        self.file_status.setText(text)
        return True

    def _on_ndjson_options(self, _changed=None) -> None:
        """The combo and URL into the viewer's NDJSON options (what every save reads)."""
        options = self.session.ndjson_options
        options.masks = NDJSON_MASK_STYLES[self.ndjson_masks.currentIndex()]
        options.mask_base_url = self.ndjson_base_url.text()
        self.ndjson_url_row.setVisible(options.masks == "composite")

    def _save_dialog(self) -> None:
        if self.binding is None:
            return
        ndjson = registry.get("labelbox-ndjson")
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Save Labelbox export",
            self.default_export_path(),
            ";;".join([registry.get("labelbox-v1").file_filter, ndjson.file_filter]),
        )
        if path and chosen == ndjson.file_filter and not path.lower().endswith(NDJSON_EXTENSIONS):
            path = str(Path(path).with_suffix(ndjson.extensions[0]))  # the filter chose the format
        if path:
            self.save_export(path)

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open", "", registry.open_filter())
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> bool:
        """Open a file of any registered format; report a file that cannot be opened."""
        try:
            options = {"allow_download": True} if self.download_box.isChecked() else {}
            open_file(self.viewer, path, **options)
        except (ValueError, OSError) as err:  # every format's error is a ValueError
            show_error(f"Not opened: {err}")
            self.file_status.setText(f"Not opened: {err}")
            return False
        return True

    def export_coco(self, path: str | Path) -> bool:
        if self.binding is None:
            return False
        try:
            written = export_coco([self.binding.layer], path)
        except (CocoError, OSError) as err:
            show_error(f"COCO not written: {err}")
            self.file_status.setText(f"COCO not written: {err}")
            return False
        self.file_status.setText(f"Wrote COCO {Path(written[0]).name}")
        return True

    def _coco_dialog(self) -> None:
        if self.binding is None:
            return
        default = str(Path(self.default_export_path()).with_suffix(".coco.json"))
        path, _ = QFileDialog.getSaveFileName(
            self, "Export COCO", default, registry.get("coco").file_filter
        )
        if path:
            self.export_coco(path)

    def save_ome_zarr(self, path: str | Path) -> bool:
        """Write the bound layer as a label group of the OME-Zarr at ``path``; report it."""
        if self.binding is None:
            return False
        try:
            result = save_ome_zarr(self.viewer, self.binding.layer, path)
        except (ValueError, OSError) as err:  # the format's error is a ValueError
            show_error(f"OME-Zarr not written: {err}")
            self.file_status.setText(f"OME-Zarr not written: {err}")
            return False
        self.file_status.setText(result.summary)
        return True

    def _ome_zarr_dialog(self) -> None:
        if self.binding is None:
            return
        entry = registry.get("ome-zarr")
        path, _ = QFileDialog.getSaveFileName(
            self, "Save OME-Zarr", default_ome_zarr_path(self.binding.layer), entry.file_filter
        )
        if path and not path.lower().endswith(entry.extensions):
            path += entry.extensions[0]
        if path:
            self.save_ome_zarr(path)

    def to_polygons(self):
        if self.binding is None:
            return None
        try:
            return labels_to_shapes(self.viewer, self.binding.layer)
        except ValueError as err:
            show_warning(str(err))
            return None

    def selected_shapes_to_instance(self) -> int | None:
        binding = self.binding
        shapes = self._shapes_layer()
        if binding is None or shapes is None or binding.current_class_id is None:
            show_warning("Select shapes in a Shapes layer and a class first.")
            return None
        try:
            label_id = shapes_to_instance(binding.layer, shapes, binding.current_class_id)
        except (ValueError, DocumentError) as err:
            show_warning(str(err))
            return None
        self.select_rows([label_id])
        return label_id

    def _shapes_layer(self) -> Shapes | None:
        active = self.viewer.layers.selection.active
        if isinstance(active, Shapes):
            return active
        shapes = [layer for layer in self.viewer.layers if isinstance(layer, Shapes)]
        return shapes[-1] if shapes else None

    def keyPressEvent(self, event) -> None:
        # Let the canvas keep napari's keys when the dock has focus.
        if event.key() == Qt.Key.Key_Delete and self.table.hasFocus():
            self.delete_selected()
            return
        super().keyPressEvent(event)
