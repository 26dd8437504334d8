"""napari glue for polygons: instances to a Shapes layer, selected shapes to a new instance.

The geometry lives in :mod:`napari_segtool.formats.polygons` (pixel-corner
outlines, ``x`` = column, ``y`` = row). napari puts pixel ``(row, col)``'s
*centre* at data coordinate ``(row, col)``, so corner ``(x, y)`` is napari
vertex ``(y - 0.5, x - 0.5)``: the polygons lie exactly on the pixel edges of
the Labels layer, whose scale, translation, rotation, shear and affine the
Shapes layer copies.

napari polygons have no holes: a hole is its own shape (``ring`` = ``"hole"``
in the layer's features) drawn with an edge and no fill, while the exterior
is filled translucently, so a hole shows as an outlined, tinted area.

Making an instance from shapes rasterises by pixel centres (a pixel is inside
when its centre is; :mod:`napari_segtool.tools.polygon`), unites the selected
shapes and removes the ones marked ``"hole"``. The edit replaces **only
background** pixels whatever the draw-to-back setting: existing instances are
never overwritten (like Labelbox's "draw to back"). The painter writes it, so
locks hold as for every edit, in one undoable step. In a stack (a Shapes
layer with the Labels layer's dimensions, as napari draws shapes on the
current slice) each shape fills the slice it lies in; shapes on several
slices make one instance across them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from napari.layers import Labels, Shapes
from napari.utils.colormaps.standardize_color import transform_color
from napari.utils.notifications import show_info, show_warning

from napari_segtool._napari.binding import (
    UNASSIGNED_COLOUR,
    binding_of,
    document_of,
    is_segmentation_layer,
    unwrap,
)
from napari_segtool._napari.painter import paint, preview
from napari_segtool.formats.polygons import instance_polygons
from napari_segtool.model.document import DocumentError
from napari_segtool.tools.polygon import polygon_edit

if TYPE_CHECKING:
    import napari

POLYGONS_METADATA_KEY = "napari_segtool_polygons"
#: opacity of an exterior ring's fill (edges are opaque)
FACE_ALPHA = 0.3
EDGE_WIDTH = 1.0
CLOSED_SHAPES = ("polygon", "rectangle", "ellipse")
_ELLIPSE_POINTS = 96


# -- instances -> Shapes layer ---------------------------------------------------------
def polygon_shapes_data(
    labels: Labels, tolerance: float = 0.0, label_ids=None
) -> tuple[list[np.ndarray], dict[str, Any], str]:
    """A Shapes layer data tuple with the polygons of a 2D Labels layer's instances.

    One shape per ring; features ``class``, ``schemaId``, ``label_id``,
    ``featureId`` and ``ring`` (``"exterior"`` / ``"hole"``). Edges take the
    class colour; unassigned ids are grey.
    """
    labels = unwrap(labels)
    data = np.asarray(labels.data)
    if data.ndim != 2:
        raise ValueError(
            f"{labels.name!r} has {data.ndim} dimensions: polygons are made from 2D layers only"
        )
    document = document_of(labels) if is_segmentation_layer(labels) else None
    polygons = instance_polygons(data, label_ids, tolerance)
    shapes: list[np.ndarray] = []
    rows: dict[str, list] = {
        "class": [],
        "schemaId": [],
        "label_id": [],
        "featureId": [],
        "ring": [],
    }
    edge_colours, face_colours = [], []
    for label_id in sorted(polygons):
        instance = document.instances.get(label_id) if document else None
        cls_ = document.ontology.class_by_id(instance.schema_id) if instance else None
        colour = transform_color(cls_.color)[0] if cls_ else UNASSIGNED_COLOUR
        for polygon in polygons[label_id]:
            for ring_kind, ring in [("exterior", polygon.exterior)] + [
                ("hole", hole) for hole in polygon.holes
            ]:
                # (x, y) pixel corners -> napari (row, col), pixel centres at integers
                shapes.append(ring[:, ::-1] - 0.5)
                rows["class"].append(cls_.name if cls_ else "")
                rows["schemaId"].append(cls_.feature_schema_id if cls_ else "")
                rows["label_id"].append(label_id)
                rows["featureId"].append(instance.feature_id if instance else "")
                rows["ring"].append(ring_kind)
                edge_colours.append(colour)
                alpha = FACE_ALPHA if ring_kind == "exterior" else 0.0
                face_colours.append([*colour[:3], alpha])
    kwargs: dict[str, Any] = {
        "name": f"{labels.name} polygons",
        "shape_type": "polygon",
        "features": pd.DataFrame(rows),
        "edge_width": EDGE_WIDTH,
        "edge_color": np.array(edge_colours).reshape(-1, 4),
        "face_color": np.array(face_colours).reshape(-1, 4),
        "scale": labels.scale,
        "translate": labels.translate,
        "rotate": labels.rotate,
        "shear": labels.shear,
        "affine": labels.affine.affine_matrix,
        "metadata": {
            POLYGONS_METADATA_KEY: {"labels_layer": labels.name, "tolerance": float(tolerance)}
        },
    }
    return shapes, kwargs, "shapes"


def labels_to_shapes(
    viewer: napari.Viewer, labels: Labels | None = None, tolerance: float = 0.0
) -> Shapes | None:
    """Add a Shapes layer with the polygons of ``labels`` (default: the active Labels layer).

    The dock's "to polygons" button. Returns the new layer, or ``None`` (with a
    message) when there is no Labels layer or it holds no instance.
    """
    labels = unwrap(labels) if labels is not None else _target_labels(viewer)
    if labels is None:
        show_info("Select a segmentation (Labels) layer first.")
        return None
    data, kwargs, _ = polygon_shapes_data(labels, tolerance)
    if not data:
        show_info(f"{labels.name!r} has no painted instance to turn into polygons.")
        return None
    shapes = viewer.add_shapes(data, **kwargs)
    # keep the Labels layer active: it is where the user goes on annotating
    viewer.layers.selection.active = labels
    return shapes


def labels_to_shapes_command(viewer: napari.Viewer) -> None:
    """Layers > Annotate: the active segmentation layer's instances as polygons."""
    try:
        labels_to_shapes(viewer)
    except ValueError as err:
        show_warning(str(err))


# -- Shapes selection -> instance ------------------------------------------------------
def shapes_to_instance(
    labels: Labels,
    shapes: Shapes,
    schema_id: str,
    indices: list[int] | None = None,
) -> int:
    """Turn shapes (default: the selected ones) into a new instance of class ``schema_id``.

    Only background pixels are painted (existing instances are kept). Returns
    the new label id. Raises ``ValueError`` (``DocumentError`` for an unknown
    class) when nothing can be made; nothing changes then.
    """
    labels, shapes = unwrap(labels), unwrap(shapes)
    if not is_segmentation_layer(labels):
        raise ValueError(f"{labels.name!r} is not a segmentation layer")
    data = labels.data
    if shapes.ndim != data.ndim:
        raise ValueError(
            f"{shapes.name!r} has {shapes.ndim} dimensions and {labels.name!r} {data.ndim}: "
            "shapes become instances only in a layer of as many dimensions"
        )
    document = document_of(labels)
    if document.ontology.class_by_id(schema_id) is None:
        raise DocumentError(f"unknown class id {schema_id!r}")
    chosen = sorted(shapes.selected_data) if indices is None else list(indices)
    if not chosen:
        raise ValueError(f"select one or more shapes of {shapes.name!r} first")
    # plane (index along every axis but the last two) -> (outlines, holes)
    planes: dict[tuple[int, ...], tuple[list, list]] = {}
    ring_kinds = (
        shapes.features["ring"].tolist() if "ring" in shapes.features else [None] * shapes.nshapes
    )
    for index in chosen:
        kind = shapes.shape_type[index]
        if kind not in CLOSED_SHAPES:
            raise ValueError(f"shape {index} is a {kind}: only closed shapes enclose pixels")
        vertices = _labels_coordinates(shapes, labels, _outline(shapes.data[index], kind))
        outlines, holes = planes.setdefault(_plane_of(vertices, index), ([], []))
        (holes if ring_kinds[index] == "hole" else outlines).append(vertices[:, -2:])
    binding = binding_of(labels)
    # one allocator: above every painted id and the selected one (the binding may
    # have that id ready for the next stroke), and no instance's id
    floor = max(max(binding.pixel_counts, default=0), int(labels.selected_label))
    label_id = document.next_label_id(floor=floor)
    if label_id > np.iinfo(data.dtype).max:
        raise ValueError(f"label id {label_id} does not fit the layer's {data.dtype} pixels")
    background = int(labels.colormap.background_value)
    dims = [data.ndim - 2, data.ndim - 1]
    edits = [
        polygon_edit(
            data.shape,
            outlines,
            holes=holes,
            label=label_id,
            dims=dims,
            plane=(*plane, 0, 0),
            replaces=frozenset({background}),
        )
        for plane, (outlines, holes) in planes.items()
        if all(0 <= p < n for p, n in zip(plane, data.shape, strict=False))
    ]
    if not preview(labels, edits).changed:
        raise ValueError("the shapes cover no unannotated pixel (instances are never overwritten)")
    # the instance exists before its pixels: the paint event then finds its class
    document.add_instance(label_id, schema_id)
    paint(labels, edits)  # every plane's shapes: one undo step
    return label_id


def _plane_of(vertices: np.ndarray, index: int) -> tuple[int, ...]:
    """The slice a shape lies in: its index along every axis but the last two."""
    others = np.round(vertices[:, :-2]).astype(int)
    if len(others) and np.any(others != others[0]):
        raise ValueError(f"shape {index} does not lie in one slice of the stack")
    return tuple(int(c) for c in others[0]) if len(others) else ()


def _outline(vertices: np.ndarray, kind: str) -> np.ndarray:
    """A shape's boundary as polygon vertices (napari stores an ellipse as its box)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if kind != "ellipse":
        return vertices
    centre = vertices.mean(axis=0)
    half_u, half_v = (vertices[1] - vertices[0]) / 2, (vertices[3] - vertices[0]) / 2
    angles = np.linspace(0, 2 * np.pi, _ELLIPSE_POINTS, endpoint=False)[:, None]
    return centre + np.cos(angles) * half_u + np.sin(angles) * half_v


def _labels_coordinates(shapes: Shapes, labels: Labels, vertices: np.ndarray) -> np.ndarray:
    """Shapes data coordinates -> Labels data coordinates (through world coordinates)."""
    same_transform = all(
        np.allclose(getattr(shapes, attr), getattr(labels, attr))
        for attr in ("scale", "translate", "rotate", "shear")
    ) and np.allclose(shapes.affine.affine_matrix, labels.affine.affine_matrix)
    if same_transform:
        return vertices
    return np.array([labels.world_to_data(shapes.data_to_world(v)) for v in vertices])


# -- helpers ----------------------------------------------------------------------------
def _target_labels(viewer: napari.Viewer) -> Labels | None:
    active = unwrap(viewer.layers.selection.active)
    if isinstance(active, Labels):
        return active
    selected = [unwrap(layer) for layer in viewer.layers.selection]
    labels = [layer for layer in selected if isinstance(layer, Labels)]
    labels = labels or [unwrap(layer) for layer in viewer.layers if isinstance(layer, Labels)]
    return labels[-1] if labels else None


# -- dock widget ------------------------------------------------------------------------
