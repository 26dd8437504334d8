"""Every contribution of ``napari.yaml``, opened or run through napari itself.

The contributions are read from the manifest: one that is added without a case here fails
``test_every_contribution_has_a_case`` and its own walk test, so nothing ships unexercised.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from magicgui.widgets import FunctionGui
from napari.layers import Image, Labels, Shapes
from napari.utils.notifications import notification_manager
from npe2 import PluginManifest
from PIL import Image as PILImage
from qtpy.QtWidgets import QFileDialog

from napari_segtool import PLUGIN_NAME
from napari_segtool._napari.binding import document_of, is_segmentation_layer
from napari_segtool._qt.dock import SegmentationDock
from napari_segtool._qt.polygons_widget import PolygonsWidget
from napari_segtool.formats import registry
from napari_segtool.formats.coco import CocoImageInput, build_coco, write_coco_json
from napari_segtool.formats.labelbox_ndjson import instance_uuid, stable_uuid
from tests.coco_samples import annotated_image

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = PluginManifest.from_file(ROOT / "napari.yaml")


def contribution_keys(manifest: PluginManifest) -> list[str]:
    """One key per thing a user can open or run; commands no other entry reaches count too."""
    found = manifest.contributions
    keys: list[str] = []
    reached: set[str] = set()
    for widget in found.widgets or ():
        keys.append(f"widget:{widget.display_name}")
        reached.add(widget.command)
    for menu_id, items in (found.menus or {}).items():
        for item in items:
            target = getattr(item, "command", None) or f"submenu {item.submenu}"
            keys.append(f"menu:{menu_id}:{target}")
            reached.add(target)
    for reader in found.readers or ():
        keys.append(f"reader:{reader.command}")
        reached.add(reader.command)
    for writer in found.writers or ():
        keys.append(f"writer:{writer.command}")
        reached.add(writer.command)
    for sample in found.sample_data or ():
        keys.append(f"sample:{sample.key}")
        reached.add(sample.command)
    keys += [f"command:{c.id}" for c in found.commands or () if c.id not in reached]
    return keys


CONTRIBUTIONS = contribution_keys(MANIFEST)


# -- what the cases share ---------------------------------------------------------------------
def app_model():
    from napari._app_model import get_app_model

    return get_app_model()


def open_sample(viewer) -> tuple[Image, Labels]:
    viewer.open_sample(PLUGIN_NAME, "cells")
    image, labels = viewer.layers
    return image, labels


def draw_two_instances(labels: Labels) -> None:
    """A cell and debris (no required questions), painted with the layer's own tools."""
    document = document_of(labels)
    classes = {c.name: c.feature_schema_id for c in document.ontology.classes}
    document.add_instance(1, classes["Cell"])
    labels.paint_polygon([(40, 40), (40, 80), (70, 80), (70, 40)], 1)
    document.add_instance(2, classes["Debris"])
    labels.paint_polygon([(150, 200), (150, 260), (210, 260), (210, 200)], 2)


def masks_by_feature(labels: Labels) -> dict[str, np.ndarray]:
    data = np.asarray(labels.data)
    return {i.feature_id: data == label_id for label_id, i in document_of(labels).instances.items()}


def segmentation_layers(viewer) -> list[Labels]:
    return [layer for layer in viewer.layers if is_segmentation_layer(layer)]


def run_menu_item(menu_id: str, command_id: str) -> None:
    """Run ``command_id`` as the menu item napari built from the manifest."""
    app = app_model()
    in_menu = [i.command.id for i in app.menus.get_menu(menu_id) if hasattr(i, "command")]
    assert command_id in in_menu, f"{command_id} is not in napari's menu {menu_id}"
    app.commands.execute_command(command_id).result()


# -- widgets ----------------------------------------------------------------------------------
def open_widget(viewer, display_name: str):
    """Open the widget as Plugins > Segmentation Tool > ``display_name`` does."""
    (widget,) = [w for w in MANIFEST.contributions.widgets if w.display_name == display_name]
    plugin_menus = [
        menu_id
        for menu_id, items in app_model().menus
        if menu_id.startswith("napari/plugins")
        and any(getattr(i, "command", None) and i.command.id == widget.command for i in items)
    ]
    assert plugin_menus, f"{display_name} is not in the Plugins menu"
    dock, inner = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, display_name)
    assert dock.widget() is not None
    return inner


def case_segmentation_dock(viewer, tmp_path, reference):
    open_sample(viewer)
    dock = open_widget(viewer, "Segmentation")
    assert isinstance(dock, SegmentationDock)


def case_new_segmentation_layer_widget(viewer, tmp_path, reference):
    image = viewer.add_image(np.zeros((30, 40, 3), np.uint8), rgb=True, name="photo")
    widget = open_widget(viewer, "New segmentation layer")
    assert isinstance(widget, FunctionGui)
    widget.image.value = image
    widget.ontology_file.value = reference / "ontology.fish.json"
    widget()
    (labels,) = segmentation_layers(viewer)
    assert labels.data.shape == (30, 40)
    classes = [c.name for c in document_of(labels).ontology.classes]
    assert classes == ["Orange Fish", "Blue Fish", "Water"]


def case_polygons_widget(viewer, tmp_path, reference):
    _, labels = open_sample(viewer)
    draw_two_instances(labels)
    widget = open_widget(viewer, "Polygons")
    assert isinstance(widget, PolygonsWidget)
    widget.to_polygons.clicked.emit()
    shapes = viewer.layers[-1]
    assert isinstance(shapes, Shapes) and shapes.nshapes == 2


# -- menu items -------------------------------------------------------------------------------
def new_layer_from_menu(menu_id: str) -> Callable:
    def case(viewer, tmp_path, reference):
        image = viewer.add_image(np.zeros((24, 32), np.uint8), name="scan")
        viewer.layers.selection.active = image
        run_menu_item(menu_id, f"{PLUGIN_NAME}.new_segmentation_layer")
        (labels,) = segmentation_layers(viewer)
        assert labels.name == "scan segmentation" and labels.data.shape == (24, 32)

    return case


def case_labels_to_shapes_menu(viewer, tmp_path, reference):
    _, labels = open_sample(viewer)
    draw_two_instances(labels)
    viewer.layers.selection.active = labels
    run_menu_item("napari/layers/annotate", f"{PLUGIN_NAME}.labels_to_shapes")
    shapes = viewer.layers[-1]
    assert isinstance(shapes, Shapes) and shapes.nshapes == 2


def flags_by_feature(labels: Labels) -> dict[str, tuple[bool, bool]]:
    return {i.feature_id: (i.locked, i.hidden) for i in document_of(labels).instances.values()}


def case_save_segmentation_as(viewer, tmp_path, reference):
    """Each registered format, chosen as the dialog's file type, writes a file that reopens."""
    image, labels = open_sample(viewer)
    draw_two_instances(labels)
    document = document_of(labels)
    document.set_locked(1, True)
    document.set_class_hidden(document.instances[2].schema_id, True)
    expected, flags = masks_by_feature(labels), flags_by_feature(labels)
    viewer.layers.selection = {image, labels}
    formats = registry.formats()
    for entry in formats:
        offered: list[str] = []

        def dialog(parent, caption, folder, filters, initial, chosen=entry, seen=offered):
            seen.extend(filters.split(";;"))
            return str(tmp_path / f"cells-{chosen.name}"), chosen.file_filter  # no extension

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
            run_menu_item("napari/file/io_utilities", f"{PLUGIN_NAME}.save_segmentation_as")
        assert offered == [e.file_filter for e in formats]
        path = tmp_path / f"cells-{entry.name}{entry.extensions[0]}"
        assert path.exists(), f"{entry.display_name}: nothing written"
        assert path.name in notification_manager.records[-1].message
        assert path.name in viewer.status
        (item,) = registry.format_for(path).read(path).labels
        read_back = {
            i.feature_id: np.asarray(item.data) == label_id
            for label_id, i in item.document.instances.items()
        }
        # an import names instances by uuid: read back, the uuid is the featureId
        named = instance_uuid if entry.name == "labelbox-ndjson" else str
        assert list(read_back) == [named(f) for f in expected]
        for feature_id, mask in expected.items():
            np.testing.assert_array_equal(read_back[named(feature_id)], mask)
        if entry.name in ("labelbox-v1", "coco", "ome-zarr"):  # the formats that hold locks
            again = {i.feature_id: (i.locked, i.hidden) for i in item.document.instances.values()}
            assert again == flags
            assert item.document.hidden_classes == document.hidden_classes


def case_open_segmentation(viewer, tmp_path, reference):
    offered: list[str] = []

    def dialog(parent, caption, folder, filters, *rest):
        offered.append(filters)
        return str(reference / "export_v1.fish.json"), ""

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(QFileDialog, "getOpenFileName", staticmethod(dialog))
        run_menu_item("napari/file/io_utilities", f"{PLUGIN_NAME}.open_segmentation")
    assert offered == [registry.open_filter()]
    (labels,) = segmentation_layers(viewer)
    assert len(document_of(labels)) == 4
    assert "export_v1.fish.json" in notification_manager.records[-1].message


# -- readers ----------------------------------------------------------------------------------
def case_labelbox_reader(viewer, tmp_path, reference):
    viewer.open(
        str(reference / "export_v1.fish.json"), plugin=f"{PLUGIN_NAME}.get_labelbox_v1_reader"
    )
    (labels,) = segmentation_layers(viewer)
    assert len(document_of(labels)) == 4


def case_labelbox_v2_reader(viewer, tmp_path, reference):
    viewer.open(
        str(reference / "export_v2.fish.ndjson"), plugin=f"{PLUGIN_NAME}.get_labelbox_v2_reader"
    )
    assert [type(layer) for layer in viewer.layers] == [Image, Labels]
    (labels,) = segmentation_layers(viewer)
    document = document_of(labels)
    assert labels.name == "tank segmentation" and len(document) == 4
    counts = np.bincount(np.asarray(labels.data).ravel()).tolist()
    assert counts == [768, 450, 341, 250, 10479]
    assert document.instance(1).feature_id == "cjxtm2d32i9aa07940tifrpuh"


def case_coco_reader(viewer, tmp_path, reference):
    pixels, document = annotated_image()
    path = tmp_path / "cells.coco.json"
    write_coco_json(path, build_coco([CocoImageInput(pixels, document, "cells.png")]))
    PILImage.fromarray(np.zeros(pixels.shape, np.uint8)).save(tmp_path / "cells.png")
    viewer.open(str(path), plugin=f"{PLUGIN_NAME}.get_coco_reader")
    assert [type(layer) for layer in viewer.layers] == [Image, Labels]
    (labels,) = segmentation_layers(viewer)
    np.testing.assert_array_equal(labels.data, pixels)
    assert sorted(document_of(labels).instances) == sorted(document.instances)


def case_ome_zarr_reader(viewer, tmp_path, reference):
    """napari-ome-zarr reads .zarr folders too: plugin='napari-segtool' chooses this reader."""
    image, labels = open_sample(viewer)
    draw_two_instances(labels)
    expected = masks_by_feature(labels)
    path = tmp_path / "cells.ome.zarr"
    viewer.layers.selection = {image, labels}
    viewer.layers.save(str(path), selected=True, plugin=PLUGIN_NAME)
    viewer.layers.clear()
    viewer.open(str(path), plugin=PLUGIN_NAME)
    assert [type(layer) for layer in viewer.layers] == [Image, Labels]
    assert viewer.layers[0].multiscale is False and viewer.layers[0].rgb
    (again,) = segmentation_layers(viewer)
    assert list(masks_by_feature(again)) == list(expected)


# -- writers ----------------------------------------------------------------------------------
def saved_then_read_back(writer_command: str, check_file: Callable[[Path], None]) -> Callable:
    (writer,) = [w for w in MANIFEST.contributions.writers if w.command == writer_command]

    def case(viewer, tmp_path, reference):
        image, labels = open_sample(viewer)
        draw_two_instances(labels)
        expected = masks_by_feature(labels)
        viewer.layers.selection = {image, labels}
        path = tmp_path / f"cells{writer.filename_extensions[0]}"
        written = viewer.layers.save(str(path), selected=True, plugin=PLUGIN_NAME)
        assert written and written[0] == str(path)
        check_file(path)
        viewer.layers.clear()
        viewer.open(str(path), plugin=PLUGIN_NAME)
        (again,) = segmentation_layers(viewer)
        read_back = masks_by_feature(again)
        assert list(read_back) == list(expected)
        for feature_id, mask in expected.items():
            np.testing.assert_array_equal(read_back[feature_id], mask)

    return case


def is_labelbox_export(path: Path) -> None:
    (row,) = json.loads(path.read_text())
    assert len(row["Label"]["objects"]) == 2


def is_coco_file(path: Path) -> None:
    coco = json.loads(path.read_text())
    assert len(coco["annotations"]) == 2 and len(coco["images"]) == 1


def is_ome_zarr(path: Path) -> None:
    import zarr
    from ome_zarr_models import open_ome_zarr

    model = open_ome_zarr(zarr.open_group(str(path), mode="r"))
    assert model.labels is not None
    assert list(model.labels.ome_attributes.labels) == ["cells_segmentation"]


def case_ndjson_writer(viewer, tmp_path, reference):
    """File > Save Selected Layers as cells.ndjson: one line per instance, masks exact."""
    image, labels = open_sample(viewer)
    draw_two_instances(labels)
    expected = masks_by_feature(labels)
    viewer.layers.selection = {image, labels}
    path = tmp_path / "cells.ndjson"
    written = viewer.layers.save(str(path), selected=True, plugin=PLUGIN_NAME)
    assert written == [str(path)]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    masks = [line for line in lines if "mask" in line]
    assert [line["uuid"] for line in masks] == [stable_uuid(f) for f in expected]
    for line, mask in zip(masks, expected.values(), strict=True):
        png = base64.b64decode(line["mask"]["png"])
        np.testing.assert_array_equal(np.asarray(PILImage.open(io.BytesIO(png))), mask)
    # the label id the lines were made with is kept for the next save
    assert document_of(labels).source["label_id"]


# -- samples ----------------------------------------------------------------------------------
def case_tissue_sample(viewer, tmp_path, reference):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        patch.setenv("NAPARI_SEGTOOL_TISSUE_SIZE", "2600")
        viewer.open_sample(PLUGIN_NAME, "tissue")
    image, labels = viewer.layers
    assert isinstance(image, Image) and image.multiscale
    levels = [(2600, 2600), (1300, 1300), (650, 650)]
    assert [tuple(shape) for shape in image.level_shapes] == levels
    assert segmentation_layers(viewer) == [labels]
    assert labels.data.shape == (2600, 2600) and labels.data.dtype == np.uint16
    assert list((tmp_path / "cache" / "napari-segtool").glob("tissue-*.ome.zarr"))


def case_cells_sample(viewer, tmp_path, reference):
    viewer.open_sample(PLUGIN_NAME, "cells")
    assert [type(layer) for layer in viewer.layers] == [Image, Labels]
    assert segmentation_layers(viewer) == [viewer.layers[1]]


def case_nuclei_stack_sample(viewer, tmp_path, reference):
    """File > Open Sample > Nuclei 3-D stack: a Z stack and a segmentation layer over it."""
    run_menu_item(f"napari/file/samples/{PLUGIN_NAME}", f"{PLUGIN_NAME}.nuclei-3d")
    image, labels = viewer.layers
    assert isinstance(image, Image) and image.data.shape == (32, 256, 256)
    assert segmentation_layers(viewer) == [labels]
    assert labels.data.shape == image.data.shape and tuple(labels.axis_labels) == ("z", "y", "x")
    np.testing.assert_array_equal(labels.scale, image.scale)
    ontology = document_of(labels).ontology
    assert [c.name for c in ontology.segmentation_classes]  # the default ontology's classes


CASES: dict[str, Callable] = {
    "widget:Segmentation": case_segmentation_dock,
    "widget:New segmentation layer": case_new_segmentation_layer_widget,
    "widget:Polygons": case_polygons_widget,
    f"menu:napari/layers/annotate:{PLUGIN_NAME}.new_segmentation_layer": new_layer_from_menu(
        "napari/layers/annotate"
    ),
    f"menu:napari/layers/annotate:{PLUGIN_NAME}.labels_to_shapes": case_labels_to_shapes_menu,
    f"menu:napari/file/new_layer:{PLUGIN_NAME}.new_segmentation_layer": new_layer_from_menu(
        "napari/file/new_layer"
    ),
    f"menu:napari/file/io_utilities:{PLUGIN_NAME}.save_segmentation_as": (
        case_save_segmentation_as
    ),
    f"menu:napari/file/io_utilities:{PLUGIN_NAME}.open_segmentation": case_open_segmentation,
    f"reader:{PLUGIN_NAME}.get_labelbox_v1_reader": case_labelbox_reader,
    f"reader:{PLUGIN_NAME}.get_coco_reader": case_coco_reader,
    f"reader:{PLUGIN_NAME}.get_labelbox_v2_reader": case_labelbox_v2_reader,
    f"writer:{PLUGIN_NAME}.write_labelbox_v1": saved_then_read_back(
        f"{PLUGIN_NAME}.write_labelbox_v1", is_labelbox_export
    ),
    f"writer:{PLUGIN_NAME}.write_coco": saved_then_read_back(
        f"{PLUGIN_NAME}.write_coco", is_coco_file
    ),
    f"writer:{PLUGIN_NAME}.write_labelbox_ndjson": case_ndjson_writer,
    f"reader:{PLUGIN_NAME}.get_ome_zarr_reader": case_ome_zarr_reader,
    f"writer:{PLUGIN_NAME}.write_ome_zarr": saved_then_read_back(
        f"{PLUGIN_NAME}.write_ome_zarr", is_ome_zarr
    ),
    "sample:tissue": case_tissue_sample,
    "sample:cells": case_cells_sample,
    "sample:nuclei-3d": case_nuclei_stack_sample,
}


def test_every_contribution_has_a_case():
    assert sorted(CONTRIBUTIONS) == sorted(CASES), (
        "napari.yaml and the cases here differ: each contribution needs a case that opens or "
        "runs it through napari"
    )


def test_the_walk_sees_a_new_contribution():
    extended = MANIFEST.model_copy(deep=True)
    extended.contributions.commands.append(
        type(extended.contributions.commands[0])(
            id=f"{PLUGIN_NAME}.something_new",
            title="Something new",
            python_name="napari_segtool._napari.commands:new_segmentation_layer",
        )
    )
    assert f"command:{PLUGIN_NAME}.something_new" in contribution_keys(extended)
    extended.contributions.widgets.append(
        type(extended.contributions.widgets[0])(
            command=f"{PLUGIN_NAME}.something_new", display_name="Something new"
        )
    )
    keys = contribution_keys(extended)
    assert "widget:Something new" in keys and "widget:Something new" not in CASES
    # the command is reached through its widget now
    assert f"command:{PLUGIN_NAME}.something_new" not in keys


@pytest.mark.parametrize("key", CONTRIBUTIONS)
def test_contribution_works_through_napari(key, make_napari_viewer, tmp_path, reference_copy):
    assert key in CASES, f"{key} (napari.yaml) has no case in {Path(__file__).name}"
    viewer = make_napari_viewer()
    CASES[key](viewer, tmp_path, reference_copy)
