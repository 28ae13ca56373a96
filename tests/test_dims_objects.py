"""The scoring rules of object_class, multiple_objects, color and spatial_relationship, each on
hand-built detections, with VBench's quirks and the options that correct them."""

from __future__ import annotations

import numpy as np
import pytest

from vbench_lite.dimension import ScoringContext, VideoScore
from vbench_lite.dimensions.backbones.detections import FrameDetections
from vbench_lite.dimensions.backbones.object_detection import detector_frames, shrunk_size
from vbench_lite.dimensions.color import Color, caption_pairs, colour_counts, target_object
from vbench_lite.dimensions.multiple_objects import MultipleObjects, frames_showing_both
from vbench_lite.dimensions.object_class import ObjectClass, frames_showing
from vbench_lite.dimensions.spatial_relationship import SpatialRelationship, frame_score, position_score
from vbench_lite.errors import InputError
from vbench_lite.prompts.suite import load_suite
from vbench_lite.video import Video


def frame(*boxes: tuple[str, list[float]], captions: tuple[str, ...] = ()) -> FrameDetections:
    return FrameDetections(np.array([b for _, b in boxes], np.float32).reshape(-1, 4),
                           np.full(len(boxes), 0.9, np.float32), tuple(n for n, _ in boxes), captions)


NOTHING = frame()


# ---- object_class / multiple_objects --------------------------------------------------------


def test_object_class_counts_frames_whose_names_contain_the_object_exactly():
    frames = [frame(("dining table", [0, 0, 5, 5])), frame(("table", [0, 0, 5, 5])), NOTHING,
              frame(("person", [0, 0, 5, 5]), ("dining table", [1, 1, 4, 4]))]
    assert frames_showing("dining table", frames) == 2
    assert frames_showing("table", frames) == 1


def test_object_class_aggregate_is_successes_over_frames():
    scores = [VideoScore(2 / 16, {"success_frame_count": 2, "frame_count": 16}),
              VideoScore(1.0, {"success_frame_count": 16, "frame_count": 16})]
    assert ObjectClass().aggregate(scores) == pytest.approx(18 / 32)


def test_multiple_objects_needs_both_names_in_one_frame():
    frames = [frame(("cat", [0, 0, 5, 5]), ("dog", [5, 5, 9, 9])), frame(("cat", [0, 0, 5, 5])),
              frame(("dog", [0, 0, 5, 5])), NOTHING]
    assert frames_showing_both("cat", "dog", frames) == 1


def test_multiple_objects_skips_an_aux_that_is_not_two_names():
    dimension = MultipleObjects()
    video = Video(np.zeros((2, 8, 8, 3), np.uint8), 8.0, path=None, prompt="a cat", aux={"object": "cat"})  # type: ignore[arg-type]
    assert "A and B" in (dimension.skip_reason(video) or "")
    assert dimension.skip_reason(Video(video.frames, 8.0, path=None, aux={"object": "cat and dog"})) is None  # type: ignore[arg-type]


# ---- color ---------------------------------------------------------------------------------------


def test_target_object_is_vbenchs_string_surgery():
    assert target_object("a red car", "red") == "car"
    assert target_object("an orange bicycle", "orange") == "bicycle"
    assert target_object("a yellow umbrella", "yellow") == "umbrella"
    assert target_object("a black tuna can", "black") == "tuncan"  # every "a " goes, as in VBench


def test_color_pairs_every_caption_with_the_first_boxs_name_by_default():
    shown = frame(("person", [0, 0, 5, 5]), ("car", [5, 5, 9, 9]), captions=("a man in blue", "a red car"))
    assert caption_pairs(shown, pair_each_caption=False) == [("a man in blue", "person"), ("a red car", "person")]
    assert caption_pairs(shown, pair_each_caption=True) == [("a man in blue", "person"), ("a red car", "car")]
    assert caption_pairs(NOTHING, pair_each_caption=False) == [("", "")]
    # VBench's quirk: the red car is missed because the first box is a person ...
    assert colour_counts([shown], "red", "car") == (0, 0)
    # ... and a first box named "car" makes every caption count, the man's too.
    first_car = frame(("car", [0, 0, 5, 5]), ("person", [5, 5, 9, 9]), captions=("a grey car", "a man in red"))
    assert colour_counts([first_car], "red", "car") == (1, 1)
    assert colour_counts([first_car], "red", "car", pair_each_caption=True) == (1, 0)
    assert colour_counts([shown], "red", "car", pair_each_caption=True) == (1, 1)


def test_color_counts_object_frames_and_colour_frames():
    frames = [frame(("car", [0, 0, 5, 5]), captions=("a red car",)),
              frame(("car", [0, 0, 5, 5]), captions=("a silver car",)),
              frame(("car", [0, 0, 5, 5]), captions=("a parked car",)),  # no colour word: not an object frame
              NOTHING]
    assert colour_counts(frames, "red", "car") == (2, 1)
    # a colour named inside another word still counts, as VBench's substring test does
    assert colour_counts([frame(("car", [0, 0, 5, 5]), captions=("a reddish car",))], "red", "car") == (1, 1)


def test_color_leaves_out_videos_without_object_frames_and_averages_the_rest():
    kept = [VideoScore(0.5, {"cur_success_frame_rate": 0.5}), VideoScore(1.0, {"cur_success_frame_rate": 1.0})]
    assert Color().aggregate([*kept, VideoScore(None, skipped="no frame")]) == pytest.approx(0.75)


def test_the_correcting_options_are_checked_and_recorded_in_the_version(weights_home):
    from tiny_grit import write_tiny_grit

    write_tiny_grit(weights_home)
    corrected = Color(ScoringContext(options={"color.pair_each_caption": True}))
    corrected.setup()
    assert corrected.version == "1+paired" and Color.version == "1"
    with pytest.raises(InputError, match="color.pair_each_caption takes true or false"):
        Color(ScoringContext(options={"color.pair_each_caption": "yes"})).setup()
    directed = SpatialRelationship(ScoringContext(options={"spatial_relationship.check_direction": True}))
    directed.setup()
    assert directed.version == "1+directed" and SpatialRelationship.version == "1"
    default = SpatialRelationship(ScoringContext())
    default.setup()
    assert default.version == "1"


# ---- spatial_relationship ------------------------------------------------------------------------


LEFT, RIGHT = [0, 10, 20, 30], [40, 12, 60, 32]  # side by side, no overlap
ABOVE, BELOW = [10, 0, 30, 20], [12, 40, 32, 60]


def test_position_score_is_one_for_separated_boxes_along_the_relations_axis():
    assert position_score("on the left of", LEFT, RIGHT) == 1.0
    assert position_score("on the top of", ABOVE, BELOW) == 1.0
    assert position_score("on the left of", ABOVE, BELOW) == 0.0  # the offset is vertical
    assert position_score("on the top of", LEFT, RIGHT) == 0.0
    assert position_score("next to", LEFT, RIGHT) == 0.0  # no axis


def test_position_score_divides_the_iou_threshold_by_larger_overlaps():
    a, b = [0, 0, 20, 20], [10, 2, 30, 22]  # IoU = 180 / 620
    assert position_score("on the left of", a, b) == pytest.approx(0.1 / (180 / 620))
    c = [18, 0, 38, 20]  # IoU = 40 / 760 < 0.1
    assert position_score("on the left of", a, c) == 1.0


def test_vbench_ignores_direction_and_order_and_the_option_checks_them():
    for relationship in ("on the left of", "on the right of"):
        assert position_score(relationship, LEFT, RIGHT) == position_score(relationship, RIGHT, LEFT) == 1.0
    assert position_score("on the left of", LEFT, RIGHT, directed=True) == 1.0
    assert position_score("on the right of", LEFT, RIGHT, directed=True) == 0.0
    assert position_score("on the right of", RIGHT, LEFT, directed=True) == 1.0
    assert position_score("on the top of", ABOVE, BELOW, directed=True) == 1.0
    assert position_score("on the bottom of", ABOVE, BELOW, directed=True) == 0.0


def test_frame_score_pairs_any_two_boxes_of_either_object_by_default():
    relation = {"object_a": "dog", "object_b": "cat", "relationship": "on the right of"}
    two_dogs = frame(("dog", LEFT), ("dog", RIGHT))
    assert frame_score(two_dogs, relation) == 1.0  # VBench: two boxes of one class qualify
    assert frame_score(two_dogs, relation, directed=True) == 0.0
    dog_left_of_cat = frame(("dog", LEFT), ("person", [0, 0, 99, 99]), ("cat", RIGHT))
    assert frame_score(dog_left_of_cat, relation) == 1.0  # "right" scored as if "left"
    assert frame_score(dog_left_of_cat, relation, directed=True) == 0.0
    cat_left_of_dog = frame(("cat", LEFT), ("dog", RIGHT))
    assert frame_score(cat_left_of_dog, relation, directed=True) == 1.0
    assert frame_score(NOTHING, relation) == frame_score(frame(("dog", LEFT)), relation) == 0.0


def test_frame_score_uses_boxes_truncated_to_integers():
    relation = {"object_a": "dog", "object_b": "cat", "relationship": "on the left of"}
    dog, cat = [0.0, 0.0, 10.0, 10.0], [1.9, 1.2, 11.9, 11.2]
    assert position_score("on the left of", dog, cat) == pytest.approx(0.1 / (8.1 * 8.8 / (200 - 8.1 * 8.8)))
    detections = frame(("dog", dog), ("cat", cat))
    assert detections.int_boxes() == [[0, 0, 10, 10], [1, 1, 11, 11]]
    assert frame_score(detections, relation) == 0.0  # as ints, |dx| = |dy| = 1: no horizontal offset


def test_spatial_aggregate_is_the_mean_over_all_frames():
    scores = [VideoScore(0.5, {"frame_results": [1.0, 0.0]}), VideoScore(1.0, {"frame_results": [1.0] * 4})]
    assert SpatialRelationship().aggregate(scores) == pytest.approx(5 / 6)


# ---- frames and prompts ---------------------------------------------------------------------------


def test_frames_are_shrunk_only_above_a_768_short_side():
    assert shrunk_size(768, 1366) is None
    assert shrunk_size(1080, 1920) == (720, 1280)
    assert shrunk_size(1088, 1920) == (720, 1270)
    frames = np.random.default_rng(0).integers(0, 255, (2, 770, 800, 3), dtype=np.uint8)
    tensor_rule, cv2_rule = detector_frames(frames, "tensor"), detector_frames(frames, "cv2")
    assert tensor_rule[0].shape == cv2_rule[0].shape == (720, 748, 3)
    assert not np.array_equal(tensor_rule[0], np.round(tensor_rule[0]))  # float resize, not rounded
    assert np.array_equal(cv2_rule[0], np.round(cv2_rule[0]))  # uint8 resize
    small = frames[:, :100, :120]
    assert np.array_equal(detector_frames(small, "tensor")[1], small[1].astype(np.float32))


def test_aux_from_vbench_full_info_and_from_vbl_mini_reaches_each_dimension(tmp_path):
    import json

    full_info = [
        {"prompt_en": "a person", "dimension": ["object_class"],
         "auxiliary_info": {"object_class": {"object": "person"}}},
        {"prompt_en": "a bird and a cat", "dimension": ["multiple_objects"],
         "auxiliary_info": {"multiple_objects": {"object": "bird and cat"}}},
        {"prompt_en": "a red bicycle", "dimension": ["color"], "auxiliary_info": {"color": {"color": "red"}}},
        {"prompt_en": "a bicycle on the left of a car, front view", "dimension": ["spatial_relationship"],
         "auxiliary_info": {"spatial_relationship": {"spatial_relationship": {
             "object_a": "bicycle", "object_b": "car", "relationship": "on the left of"}}}},
    ]
    path = tmp_path / "VBench_full_info.json"
    path.write_text(json.dumps(full_info))
    entries = {e.prompt: e.aux for e in load_suite(path).entries}
    assert entries["a person"] == {"object": "person"}
    assert entries["a bird and a cat"] == {"object": "bird and cat"}
    assert entries["a red bicycle"] == {"color": "red"}
    assert entries["a bicycle on the left of a car, front view"]["spatial_relationship"]["object_b"] == "car"
    mini = load_suite("vbl-mini")
    for dimension, key in (("object_class", "object"), ("multiple_objects", "object"), ("color", "color"),
                           ("spatial_relationship", "spatial_relationship")):
        tagged = mini.for_dimensions([dimension])
        assert len(tagged) >= 5 and all(key in e.aux for e in tagged), dimension
    for entry in mini.for_dimensions(["color"]):  # the surgery leaves the bare object name
        target = target_object(entry.prompt, entry.aux["color"])
        assert entry.prompt.endswith(f"{entry.aux['color']} {target}") and " " not in target.replace("teddy ", "")
    for entry in mini.for_dimensions(["multiple_objects"]):
        assert len(entry.aux["object"].split(" and ")) == 2
    for entry in mini.for_dimensions(["spatial_relationship"]):
        assert set(entry.aux["spatial_relationship"]) == {"object_a", "object_b", "relationship"}
