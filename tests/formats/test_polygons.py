"""Masks to polygons and back: exact outlines on pixel corners (x = column, y = row)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage.draw import disk, ellipse

from napari_segtool.formats.polygons import (
    Polygon,
    bounding_boxes,
    coco_polygon,
    instance_polygons,
    labelbox_polygons,
    mask_polygons,
    polygons_to_mask,
    ring_area,
    ring_to_mask,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _mask(rows: list[str]) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def _ring(points) -> list[tuple[float, float]]:
    return [tuple(p) for p in np.asarray(points).tolist()]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / np.count_nonzero(a | b)


# -- known shapes ----------------------------------------------------------------------
def test_square_outline_lies_on_the_pixel_edges():
    mask = np.zeros((6, 7), dtype=bool)
    mask[1:4, 2:5] = True  # rows 1..3, columns 2..4
    (polygon,) = mask_polygons(mask)
    # pixel (row r, col c) is the unit square [c, c+1] x [r, r+1]
    assert _ring(polygon.exterior) == [(2, 1), (5, 1), (5, 4), (2, 4)]
    assert polygon.holes == ()
    assert polygon.area == 9 == mask.sum()
    assert ring_area(polygon.exterior) > 0  # exteriors run clockwise on screen
    assert polygon.bounds() == (2.0, 1.0, 5.0, 4.0)


def test_single_pixel_is_a_unit_square():
    mask = np.zeros((3, 3), dtype=bool)
    mask[2, 0] = True
    (polygon,) = mask_polygons(mask)
    assert _ring(polygon.exterior) == [(0, 2), (1, 2), (1, 3), (0, 3)]
    assert polygon.area == 1


def test_square_with_a_hole():
    mask = _mask(
        [
            ".....",
            ".###.",
            ".#.#.",
            ".###.",
            ".....",
        ]
    )
    (polygon,) = mask_polygons(mask)
    assert _ring(polygon.exterior) == [(1, 1), (4, 1), (4, 4), (1, 4)]
    (hole,) = polygon.holes
    assert sorted(_ring(hole)) == [(2, 2), (2, 3), (3, 2), (3, 3)]
    assert ring_area(hole) == -1  # holes run the other way
    assert polygon.area == 8 == mask.sum()


def test_two_components_are_two_polygons_in_reading_order():
    mask = _mask(
        [
            "......",
            ".##...",
            ".##...",
            "....##",
        ]
    )
    first, second = mask_polygons(mask)
    assert _ring(first.exterior) == [(1, 1), (3, 1), (3, 3), (1, 3)]
    assert _ring(second.exterior) == [(4, 3), (6, 3), (6, 4), (4, 4)]
    assert first.area + second.area == mask.sum() == 6


def test_pixels_touching_only_at_a_corner_are_separate_polygons_sharing_a_vertex():
    mask = _mask(
        [
            "#.",
            ".#",
        ]
    )
    first, second = mask_polygons(mask)
    assert _ring(first.exterior) == [(0, 0), (1, 0), (1, 1), (0, 1)]
    assert _ring(second.exterior) == [(1, 1), (2, 1), (2, 2), (1, 2)]
    assert set(_ring(first.exterior)) & set(_ring(second.exterior)) == {(1, 1)}
    np.testing.assert_array_equal(polygons_to_mask([first, second], mask.shape), mask)


def test_hole_touching_the_exterior_at_a_corner_stays_a_hole():
    # the background pixel in the middle touches the outside only diagonally:
    # 4-connected, it is enclosed, so it is a hole meeting the exterior at (1, 1)
    mask = _mask(
        [
            ".##",
            "#.#",
            "###",
        ]
    )
    (polygon,) = mask_polygons(mask)
    exterior = _ring(polygon.exterior)
    assert exterior == [(1, 0), (3, 0), (3, 3), (0, 3), (0, 1), (1, 1)]
    assert len(set(exterior)) == len(exterior)  # the ring never touches itself
    (hole,) = polygon.holes
    assert sorted(_ring(hole)) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert polygon.area == 7 == mask.sum()
    np.testing.assert_array_equal(polygons_to_mask([polygon], mask.shape), mask)


def test_diamond_of_corner_touching_pixels_encloses_nothing():
    mask = _mask(
        [
            ".#.",
            "#.#",
            ".#.",
        ]
    )
    polygons = mask_polygons(mask)
    assert len(polygons) == 4
    assert all(p.holes == () and p.area == 1 for p in polygons)
    np.testing.assert_array_equal(polygons_to_mask(polygons, mask.shape), mask)


def test_one_pixel_wide_line_with_a_bend():
    mask = _mask(
        [
            "#....",
            "#....",
            "#####",
        ]
    )
    (polygon,) = mask_polygons(mask)
    assert _ring(polygon.exterior) == [(0, 0), (1, 0), (1, 2), (5, 2), (5, 3), (0, 3)]
    assert polygon.area == 7
    np.testing.assert_array_equal(polygons_to_mask([polygon], mask.shape), mask)


def test_island_inside_a_hole_is_its_own_polygon():
    mask = _mask(
        [
            "#####",
            "#...#",
            "#.#.#",
            "#...#",
            "#####",
        ]
    )
    outer, island = mask_polygons(mask)
    assert len(outer.holes) == 1 and outer.area == 16
    assert island.holes == () and _ring(island.exterior) == [(2, 2), (3, 2), (3, 3), (2, 3)]
    np.testing.assert_array_equal(polygons_to_mask([outer, island], mask.shape), mask)


def test_offset_moves_every_vertex():
    mask = np.ones((2, 2), dtype=bool)
    (polygon,) = mask_polygons(mask, offset=(10, 20))
    assert _ring(polygon.exterior) == [(10, 20), (12, 20), (12, 22), (10, 22)]


# -- round trips -------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_any_mask_round_trips_exactly(mask):
    polygons = mask_polygons(mask)
    np.testing.assert_array_equal(polygons_to_mask(polygons, mask.shape), mask)
    assert sum(p.area for p in polygons) == mask.sum()
    for polygon in polygons:
        assert ring_area(polygon.exterior) > 0
        assert all(ring_area(hole) < 0 for hole in polygon.holes)
        for ring in polygon.rings:
            # only corners: edges are axis-aligned and alternate direction
            edges = np.roll(ring, -1, axis=0) - ring
            assert np.all((edges == 0).sum(axis=1) == 1)
            horizontal = edges[:, 1] == 0
            assert np.all(horizontal != np.roll(horizontal, -1))
            # a ring never visits a vertex twice (valid OGC rings)
            assert len({tuple(p) for p in ring.tolist()}) == len(ring)
            assert np.array_equal(ring, np.round(ring))


def test_smooth_shape_simplified_keeps_iou_above_0_99():
    mask = np.zeros((200, 220), dtype=bool)
    mask[ellipse(100, 110, 80, 60, rotation=0.4)] = True
    mask[disk((100, 110), 20)] = False
    (exact,) = mask_polygons(mask)
    (simplified,) = mask_polygons(mask, tolerance=1.0)
    assert len(simplified.exterior) < len(exact.exterior) / 3
    assert len(simplified.holes) == 1
    assert _iou(polygons_to_mask([simplified], mask.shape), mask) >= 0.99
    assert abs(simplified.area - mask.sum()) / mask.sum() < 0.01
    # Douglas-Peucker keeps a subset of the pixel edges' midpoints
    assert np.array_equal(simplified.exterior * 2, np.round(simplified.exterior * 2))


def test_simplification_never_drops_a_small_component():
    mask = np.zeros((10, 10), dtype=bool)
    mask[2, 2] = True
    mask[5:7, 5:8] = True
    polygons = mask_polygons(mask, tolerance=5.0)
    assert len(polygons) == 2
    np.testing.assert_array_equal(polygons_to_mask(polygons, mask.shape), mask)


# -- label images: crops and ids -----------------------------------------------------------
def _label_image() -> np.ndarray:
    labels = np.zeros((60, 80), dtype=np.uint16)
    labels[disk((20, 20), 12)] = 1
    labels[5:15, 50:70] = 2
    labels[8:12, 55:65] = 0  # a hole in 2
    labels[40:45, 10:15] = 7
    labels[50:55, 70:75] = 7  # 7 has two components
    labels[30:50, 40:60] = 3
    return labels


def test_instance_polygons_match_tracing_each_full_size_mask():
    labels = _label_image()
    result = instance_polygons(labels)
    assert sorted(result) == [1, 2, 3, 7]
    for label_id, polygons in result.items():
        full = mask_polygons(labels == label_id)
        assert len(polygons) == len(full)
        for ours, reference in zip(polygons, full, strict=True):
            np.testing.assert_array_equal(ours.exterior, reference.exterior)
            assert len(ours.holes) == len(reference.holes)
            for a, b in zip(ours.holes, reference.holes, strict=True):
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(polygons_to_mask(polygons, labels.shape), labels == label_id)
    assert len(result[2][0].holes) == 1
    assert len(result[7]) == 2


def test_instance_polygons_for_chosen_ids_skips_absent_ones():
    labels = _label_image()
    result = instance_polygons(labels, label_ids=[7, 2, 99])
    assert sorted(result) == [2, 7]


def test_bounding_boxes_with_sparse_huge_ids():
    labels = np.zeros((20, 20), dtype=np.int64)
    labels[2:5, 3:9] = 4_000_000_000
    labels[10, 10] = 5
    labels[0, 0] = -3  # negative ids are background, like 0
    boxes = bounding_boxes(labels)
    assert boxes == {5: (slice(10, 11), slice(10, 11)), 4_000_000_000: (slice(2, 5), slice(3, 9))}
    assert bounding_boxes(labels, [5]) == {5: (slice(10, 11), slice(10, 11))}
    (polygon,) = instance_polygons(labels)[4_000_000_000]
    assert _ring(polygon.exterior) == [(3, 2), (9, 2), (9, 5), (3, 5)]


def test_bounding_boxes_refuse_non_integer_or_3d_input():
    with pytest.raises(ValueError, match="integer"):
        bounding_boxes(np.zeros((3, 3), dtype=float))
    with pytest.raises(ValueError, match="2D"):
        bounding_boxes(np.zeros((2, 3, 3), dtype=int))


# -- Labelbox polygon-tool shape ------------------------------------------------------------
def test_labelbox_polygons_one_outer_ring_per_component_holes_covered():
    labels = _label_image()
    rings = labelbox_polygons(labels, 2)
    assert rings == [
        [
            {"x": 50.0, "y": 5.0},
            {"x": 70.0, "y": 5.0},
            {"x": 70.0, "y": 15.0},
            {"x": 50.0, "y": 15.0},
        ]
    ]
    assert all(isinstance(v, float) for point in rings[0] for v in point.values())
    two = labelbox_polygons(labels, 7)
    assert [len(ring) for ring in two] == [4, 4]
    assert two[0][0] == {"x": 10.0, "y": 40.0} and two[1][0] == {"x": 70.0, "y": 50.0}


def test_labelbox_polygons_with_the_bbox_from_find_objects():
    labels = _label_image()
    boxes = bounding_boxes(labels)
    for label_id, box in boxes.items():
        assert labelbox_polygons(labels, label_id, bbox=box) == labelbox_polygons(labels, label_id)
    assert labelbox_polygons(labels, 42) == []


def test_labelbox_polygons_simplified():
    labels = np.zeros((100, 100), dtype=np.uint8)
    labels[disk((50, 50), 40)] = 1
    exact = labelbox_polygons(labels, 1)
    simplified = labelbox_polygons(labels, 1, tolerance=0.5)
    assert len(simplified) == 1 and 8 < len(simplified[0]) < len(exact[0]) / 4
    ring = np.array([[p["x"], p["y"]] for p in simplified[0]])
    assert _iou(ring_to_mask(ring, labels.shape), labels == 1) >= 0.99


# -- COCO polygon lists (pycocotools) -----------------------------------------------------
def _coco_rasterise(polygons: list[Polygon], shape) -> np.ndarray:
    mask_utils = pytest.importorskip("pycocotools.mask")
    segmentation = [coco_polygon(p) for p in polygons]
    rles = mask_utils.frPyObjects(segmentation, *shape)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def test_coco_polygon_without_holes_is_the_flat_exterior():
    mask = np.zeros((4, 4), dtype=bool)
    mask[1:3, 1:4] = True
    (polygon,) = mask_polygons(mask)
    assert coco_polygon(polygon) == [1, 1, 4, 1, 4, 3, 1, 3]


def test_coco_keyhole_bridge_never_crosses_a_pixel_centre():
    # the bridge from (0, 0) to a hole corner of the same parity as (0, 0),
    # e.g. (5, 5), would run through the centre of hole pixel (2, 2)
    mask = np.ones((10, 10), dtype=bool)
    mask[2, 2] = False
    mask[4, 5] = False
    (polygon,) = mask_polygons(mask)
    flat = np.array(coco_polygon(polygon)).reshape(-1, 2)
    np.testing.assert_array_equal(ring_to_mask(flat, mask.shape), mask)
    np.testing.assert_array_equal(_coco_rasterise([polygon], mask.shape), mask)


@settings(max_examples=200, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 14), st.integers(1, 14))))
def test_coco_polygons_rasterise_back_exactly_with_pycocotools(mask):
    polygons = mask_polygons(mask)
    if not polygons:
        return
    np.testing.assert_array_equal(_coco_rasterise(polygons, mask.shape), mask)
    # and with our own even-odd rasteriser (the fallback without pycocotools)
    ours = np.zeros(mask.shape, dtype=bool)
    for polygon in polygons:
        ours |= ring_to_mask(np.array(coco_polygon(polygon)).reshape(-1, 2), mask.shape)
    np.testing.assert_array_equal(ours, mask)


def test_coco_polygons_of_smooth_shapes_with_holes_are_exact():
    rng = np.random.default_rng(3)
    mask = np.zeros((150, 170), dtype=bool)
    for _ in range(12):
        mask[disk(rng.uniform(10, 140, 2), rng.uniform(4, 25), shape=mask.shape)] ^= True
    polygons = mask_polygons(mask)
    assert any(p.holes for p in polygons)
    np.testing.assert_array_equal(_coco_rasterise(polygons, mask.shape), mask)
