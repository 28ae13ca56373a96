"""Naming a detected object's colour from its box's pixels."""

from __future__ import annotations

import numpy as np
import pytest
from clips import sample_frames

from vbench_lite.dimensions.backbones.box_colour import (
    COLOUR_NAMES,
    box_colour,
    box_colour_shares,
    central_region,
    pixel_colours,
)

VBENCH_COLOURS = {  # the nine colour words of VBench's color prompts, as a typical pure shade
    "red": (220, 20, 30), "orange": (255, 140, 0), "yellow": (250, 220, 20), "green": (30, 160, 40),
    "blue": (20, 60, 220), "purple": (128, 0, 128), "pink": (255, 105, 180), "black": (15, 15, 15),
    "white": (245, 245, 245),
}
SHADES = {  # other shades people name the same way
    (139, 0, 0): "red", (255, 215, 0): "yellow", (50, 205, 50): "green", (0, 0, 128): "blue",
    (0, 200, 200): "blue", (148, 0, 211): "purple", (255, 192, 203): "pink", (128, 128, 128): "gray",
    (192, 192, 192): "gray", (139, 69, 19): "brown",
}


def framed_object(colour: tuple[int, int, int], rim: tuple[int, int, int] = (90, 200, 90)) -> np.ndarray:
    """A 120×160 frame of noise whose box (40, 20)-(120, 100) is `colour` inside and `rim` at its edges."""
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    frame[20:100, 40:120] = rim
    frame[38:82, 58:102] = colour  # a little more than the central half of the box
    return frame


@pytest.mark.parametrize("name", list(VBENCH_COLOURS))
def test_a_box_is_named_by_the_colour_at_its_centre(name: str) -> None:
    assert box_colour(framed_object(VBENCH_COLOURS[name]), [40, 20, 120, 100]) == name


@pytest.mark.parametrize(("rgb", "name"), list(SHADES.items()))
def test_shades_get_their_everyday_names(rgb: tuple[int, int, int], name: str) -> None:
    assert COLOUR_NAMES[int(pixel_colours(np.array([[rgb]], np.uint8))[0, 0])] == name


def test_the_rim_of_the_box_does_not_vote() -> None:
    shares = box_colour_shares(framed_object(VBENCH_COLOURS["blue"], rim=(255, 0, 0)), [40, 20, 120, 100])
    assert shares == {"blue": 1.0}


def test_the_most_frequent_colour_wins() -> None:
    frame = np.zeros((10, 40, 3), np.uint8)
    frame[:, :22] = VBENCH_COLOURS["yellow"]
    frame[:, 22:] = VBENCH_COLOURS["blue"]
    assert box_colour(frame, [0, 0, 40, 10]) == "yellow"  # central columns 10..30: 12 yellow, 8 blue


def test_central_region_stays_inside_the_frame_and_is_never_empty() -> None:
    assert central_region([-50, -50, 250, 250], 100, 200) == (25, 25, 175, 100)
    assert central_region([10.2, 10.2, 10.4, 10.4], 100, 200) == (10, 10, 11, 11)
    assert central_region([199, 99, 200, 100], 100, 200) == (199, 99, 200, 100)


def test_colours_of_regions_of_real_frames() -> None:
    bunny = sample_frames("bigbuckbunny")[0][66]
    assert box_colour(bunny, [700, 480, 1250, 700]) == "green"  # the grass
    assert box_colour(bunny, [360, 250, 600, 560]) == "gray"  # the rabbit's belly
    assert box_colour(bunny, [1080, 20, 1270, 220]) == "white"  # the pale sky
    street = sample_frames("bikes")[0][125]
    assert box_colour(street, [120, 40, 190, 60]) == "red"  # the car's brake light
    assert box_colour(street, [390, 50, 460, 120]) == "black"  # the rider's jersey
