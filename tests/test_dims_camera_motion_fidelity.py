"""camera_motion against VBench's own code (vbench 0.1.5's `vbench2_beta_i2v.camera_motion`).

The rules, the prompt phrase and the aggregation run live against VBench's functions. The tracker runs
against golden files: VBench's path needs co-tracker's released code, which is not a dependency, so
scripts/fidelity/camera_motion_golden.py recorded VBench's camera_motion on real clips with seeded
random CoTracker2 weights (tests/cotracker_weights.py), and CI rebuilds the same weights here.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import sample_frames
from cotracker_weights import read_key_table, seeded_state, write_cotracker2

from vbench_lite.dimension import ScoringContext, VideoScore
from vbench_lite.dimensions.camera_motion import GRID_SIZE, CameraMotion, camera_type, classify, per_type_means
from vbench_lite.video import Video

pytestmark = pytest.mark.fidelity
torch.set_num_threads(1)
GOLDEN = Path(__file__).parent / "data" / "camera_motion_golden.json"
VISUALIZER = "vbench2_beta_i2v.third_party.cotracker.utils.visualizer"


@pytest.fixture(scope="module")
def vbench_camera():
    """VBench's module; the wheel lacks the visualiser it imports (used only to save videos): a stub."""
    pytest.importorskip("vbench2_beta_i2v")
    added = []
    for depth in range(2, 6):
        name = ".".join(VISUALIZER.split(".")[:depth])
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
            added.append(name)
    sys.modules[VISUALIZER].Visualizer = None  # type: ignore[attr-defined]
    import vbench2_beta_i2v.camera_motion as module

    yield module
    for name in added:
        sys.modules.pop(name, None)


def vbench_predictor(module, height: int, width: int):
    camera = module.CameraPredict.__new__(module.CameraPredict)  # no torch.hub download
    camera.grid_size, camera.number_points, camera.scale = GRID_SIZE, 1, min(height, width)
    return camera


def random_cases(count: int, seed: int = 0):
    """Integer grids and last-frame grids whose edge moves sit around the thresholds, incl. equality."""
    rng = np.random.default_rng(seed)
    sizes = [(144, 176), (200, 300), (288, 512), (100, 100), (720, 1280)]
    for index in range(count):
        height, width = sizes[index % len(sizes)]
        first = rng.integers(-5, 700, size=(GRID_SIZE, GRID_SIZE, 2))
        step = rng.choice([0, 1, 2, 4], size=(GRID_SIZE, GRID_SIZE, 2)) * rng.choice([-1, 1], size=(GRID_SIZE,
                                                                                                      GRID_SIZE, 2))
        if index % 3 == 0:  # shared moves: pans, tilts, zooms and their mixtures
            step = np.broadcast_to(rng.choice([-4, -1, 0, 1, 4], size=2), step.shape).copy()
        yield first, first + step, height, width


@pytest.mark.slow
def test_rules_equal_vbench_on_thousands_of_edge_moves(vbench_camera):
    seen = set()
    for first, last, height, width in random_cases(3000):
        expected = vbench_predictor(vbench_camera, height, width).camera_classify(first, last)
        ours = classify(first, last, height, width)[0]
        assert ours == sorted(set(expected)), (first, last, height, width)
        assert len(expected) == len(set(expected))
        seen.update(expected)
    assert seen >= {"pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out", "static", "None"}


@pytest.mark.parametrize("name", [
    "a lighthouse, camera pans left-0.mp4", "a lighthouse, camera pans right-3.mp4", "x camera tilts up-1.mp4",
    "x camera tilts down-0.mp4", "x camera zooms in-0.mp4", "x camera zooms out-0.mp4", "x camera static-2.mp4",
    "camera zooms out and camera pans right-0.mp4", "x Camera static-0.mp4", "x pan left-0.mp4",
])
def test_the_target_phrase_equals_vbenchs_get_type(vbench_camera, name):
    try:
        expected = vbench_camera.get_type(name)
    except ValueError:
        expected = None
    assert camera_type(name) == expected


def test_the_aggregate_and_per_type_means_equal_vbenchs(vbench_camera):
    predictions = {"a, camera pans left-0.mp4": ["pan_left"], "a, camera pans left-1.mp4": ["static"],
                   "b, camera zooms in-0.mp4": ["zoom_in", "pan_left"], "c, camera static-0.mp4": ["None"]}

    class Scripted:
        def predict(self, path):
            return predictions[path]

    average, per_type, per_video = vbench_camera.camera_motion(Scripted(), list(predictions))
    ours = [VideoScore(1.0 if camera_type(p) in predicted else 0.0,
                       {"prompt_type": camera_type(p), "predict_type": sorted(predicted)})
            for p, predicted in predictions.items()]
    assert [s.value for s in ours] == [r["video_results"] for r in per_video]
    assert CameraMotion(ScoringContext(backend="embedded")).aggregate(ours) == pytest.approx(average)
    for motion, mean in per_type_means(ours).items():
        assert (math.isnan(mean) and math.isnan(per_type[motion])) or mean == pytest.approx(per_type[motion])


# -- the tracker: golden files recorded from VBench's path with co-tracker's released CoTracker2 ------

@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.fixture(scope="module")
def full_size_cotracker(tmp_path_factory, golden) -> CameraMotion:
    """The full-size seeded network, written as cotracker2.pth and loaded by the dimension."""
    root = tmp_path_factory.mktemp("weights")
    write_cotracker2(root, seeded_state(read_key_table(), golden["seed"]))
    dimension = CameraMotion(ScoringContext(backend="vbench", weights_dir=root))
    dimension.setup()
    return dimension


def golden_video(clip: dict) -> Video:
    frames = sample_frames(clip["source"])[0][clip["start"] : clip["start"] + clip["frames"]]
    return Video(frames=frames, fps=25.0, path=Path(f"{clip['prompt']}-0.mp4"), prompt=clip["prompt"])


@pytest.mark.slow
def test_cotracker2_tracks_and_per_video_results_equal_vbenchs(golden, full_size_cotracker):
    scores = []
    for clip in golden["clips"]:
        video = golden_video(clip)
        tracks = full_size_cotracker.tracks(video)
        np.testing.assert_allclose(tracks[[0, -1]], np.array(clip["tracks_first_last"]), rtol=0, atol=5e-4)
        np.testing.assert_allclose(tracks[:, clip["edge_point_ids"]], np.array(clip["edge_tracks"]), rtol=0, atol=5e-4)
        grid = np.trunc(tracks).astype(np.int64).reshape(-1, GRID_SIZE, GRID_SIZE, 2)
        predicted = classify(grid[0], grid[-1], video.height, video.width)[0]
        assert predicted == clip["predict_type"]
        value = 1.0 if camera_type(video.prompt) in predicted else 0.0
        assert value == clip["video_results"]
        scores.append(VideoScore(value, {"prompt_type": clip["prompt_type"], "predict_type": predicted}))
    assert full_size_cotracker.aggregate(scores) == pytest.approx(golden["average"], abs=1e-12)
    assert {k: None if math.isnan(v) else v for k, v in per_type_means(scores).items()} == golden["per_type"]


def test_a_four_frame_clip_scores_as_vbench_through_score_batch(golden, full_size_cotracker):
    clip = next(c for c in golden["clips"] if c["frames"] <= 4)  # cheap: no window, one frame encoded
    (score,) = full_size_cotracker.score_batch([golden_video(clip)])
    assert score.value == clip["video_results"] and score.extra["predict_type"] == clip["predict_type"]
    assert score.extra["tracker"] == "cotracker2"
