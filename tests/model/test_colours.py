"""The colour of each label id (pure)."""

import colorsys

import numpy as np
import pytest

from napari_segtool.model.colours import (
    TRANSPARENT,
    UNASSIGNED_COLOUR,
    colour_dict,
    instance_colour,
    label_colour,
)
from napari_segtool.model.document import Document
from napari_segtool.model.ontology import ObjectClass, Ontology


@pytest.fixture
def document():
    ontology = Ontology(
        classes=[
            ObjectClass("Cell", color="#3366CC", feature_schema_id="cell"),
            ObjectClass("Dust", color="#CC9933", feature_schema_id="dust"),
        ]
    )
    document = Document(ontology)
    for label_id, schema_id in ((1, "cell"), (2, "cell"), (3, "dust")):
        document.add_instance(label_id, schema_id)
    return document


def test_neighbouring_ids_of_one_class_differ_in_lightness_only():
    first, second = instance_colour("#3366CC", 1), instance_colour("#3366CC", 2)
    assert first.dtype == np.float32 and first.shape == (4,) and first[3] == 1.0
    assert not np.allclose(first, second)
    hue_1, _, sat_1 = colorsys.rgb_to_hls(*first[:3])
    hue_2, _, sat_2 = colorsys.rgb_to_hls(*second[:3])
    assert hue_1 == pytest.approx(hue_2, abs=1e-3)
    assert sat_1 == pytest.approx(sat_2, abs=1e-3)
    # the lightness steps repeat every eight ids
    np.testing.assert_array_equal(instance_colour("#3366CC", 9), first)


def test_lightness_stays_readable_for_black_and_white():
    for hex_colour in ("#000000", "#FFFFFF"):
        for label_id in range(8):
            _, lightness, _ = colorsys.rgb_to_hls(*instance_colour(hex_colour, label_id)[:3])
            assert 0.1 - 1e-6 <= lightness <= 0.9 + 1e-6


def test_colour_dict_covers_background_unassigned_and_every_instance(document):
    document.set_hidden(2, True)
    colours = colour_dict(document)
    np.testing.assert_array_equal(colours[None], UNASSIGNED_COLOUR)
    np.testing.assert_array_equal(colours[0], TRANSPARENT)
    np.testing.assert_array_equal(colours[1], instance_colour("#3366CC", 1))
    np.testing.assert_array_equal(colours[2], TRANSPARENT)
    np.testing.assert_array_equal(colours[3], instance_colour("#CC9933", 3))
    document.set_class_hidden("dust", True)
    np.testing.assert_array_equal(colour_dict(document)[3], TRANSPARENT)


def test_the_pending_id_shows_the_current_class_colour(document):
    np.testing.assert_array_equal(
        label_colour(document, 1, None, "dust"), instance_colour("#3366CC", 1)
    )
    np.testing.assert_array_equal(
        label_colour(document, 4, 4, "dust"), instance_colour("#CC9933", 4)
    )
    assert label_colour(document, 4, 4, None) is None
    assert label_colour(document, 5, 4, "dust") is None, "unknown ids take the default"
    document.set_locked(1, True)
    document.set_hidden(1, True)
    np.testing.assert_array_equal(label_colour(document, 1, None, None), TRANSPARENT)
