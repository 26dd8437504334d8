"""The Polygons widget: instances to a Shapes layer, selected polygons to a new instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, PushButton
from napari.layers import Labels, Shapes
from napari.utils.notifications import show_warning

from napari_segtool._napari.binding import document_of, is_segmentation_layer, unwrap
from napari_segtool._napari.polygons import labels_to_shapes, shapes_to_instance

if TYPE_CHECKING:
    import napari


class PolygonsWidget(Container):
    """Both directions in one panel: instances -> polygons, selected polygons -> instance."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self._viewer = napari_viewer
        self.labels_layer = ComboBox(label="Segmentation", choices=self._labels_choices)
        self.tolerance = FloatSpinBox(
            label="Simplify (px)",
            value=0.0,
            min=0.0,
            max=50.0,
            step=0.5,
            tooltip="Douglas-Peucker tolerance in pixels; 0 keeps the exact pixel outline",
        )
        self.to_polygons = PushButton(text="Instances to polygons")
        self.shapes_layer = ComboBox(label="Polygons", choices=self._shapes_choices)
        self.object_class = ComboBox(label="Class", choices=self._class_choices)
        self.to_instance = PushButton(text="Selected polygons to new instance")
        self.status = Label(value="")
        self.extend(
            [
                self.labels_layer,
                self.tolerance,
                self.to_polygons,
                self.shapes_layer,
                self.object_class,
                self.to_instance,
                self.status,
            ]
        )
        self.to_polygons.changed.connect(self._make_polygons)
        self.to_instance.changed.connect(self._make_instance)
        self.labels_layer.changed.connect(self.object_class.reset_choices)
        layers_events = self._viewer.layers.events
        layers_events.inserted.connect(self.reset_choices)
        layers_events.removed.connect(self.reset_choices)

    def _labels_choices(self, _widget=None) -> list[tuple[str, Labels]]:
        return [
            (layer.name, unwrap(layer))
            for layer in self._viewer.layers
            if is_segmentation_layer(layer)
        ]

    def _shapes_choices(self, _widget=None) -> list[tuple[str, Shapes]]:
        return [
            (layer.name, unwrap(layer))
            for layer in self._viewer.layers
            if isinstance(unwrap(layer), Shapes)
        ]

    def _class_choices(self, _widget=None) -> list[tuple[str, str]]:
        labels = self.labels_layer.value if hasattr(self, "labels_layer") else None
        if labels is None:
            return []
        ontology = document_of(labels).ontology
        classes = ontology.segmentation_classes or ontology.classes
        return [(cls_.name, cls_.feature_schema_id) for cls_ in classes]

    def _make_polygons(self, _value=None) -> None:
        labels = self.labels_layer.value
        if labels is None:
            self.status.value = "No segmentation layer."
            return
        try:
            shapes = labels_to_shapes(self._viewer, labels, self.tolerance.value)
        except ValueError as err:
            self.status.value = str(err)
            return
        if shapes is not None:
            self.shapes_layer.value = shapes
            self.status.value = f"{shapes.nshapes} polygons in {shapes.name!r}"

    def _make_instance(self, _value=None) -> None:
        labels, shapes = self.labels_layer.value, self.shapes_layer.value
        schema_id = self.object_class.value
        if labels is None or shapes is None or schema_id is None:
            self.status.value = "Choose a segmentation layer, a polygons layer and a class."
            return
        try:
            label_id = shapes_to_instance(labels, shapes, schema_id)
        except ValueError as err:
            self.status.value = str(err)
            show_warning(str(err))
            return
        name = document_of(labels).ontology.class_by_id(schema_id).name
        self.status.value = f"New {name} instance, label {label_id}"
