"""Temporal flickering end to end: `vbl evaluate` per-video values equal VBench's own code."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clips import SAMPLES, sample_path
from typer.testing import CliRunner

from vbench_lite.cli import app
from vbench_lite.dimensions.temporal_flickering import TemporalFlickering, mean_abs_frame_differences
from vbench_lite.video import Video


@pytest.mark.fidelity
@pytest.mark.slow
def test_vbl_evaluate_equals_vbench_temporal_flickering_on_real_clips(tmp_path) -> None:
    vbench_tf = pytest.importorskip("vbench.temporal_flickering")
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in SAMPLES:  # the full shipped clips, 120–250 frames, 176×144 up to 1280×720
        (videos / f"{name}-0.mp4").symlink_to(sample_path(name))
    result = CliRunner().invoke(app, ["evaluate", "--videos", str(videos),
                                      "--dims", "temporal_flickering", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    ours = json.loads((tmp_path / "run" / "eval_results.json").read_text())["temporal_flickering"]
    per_video = {item["video_path"]: item["video_results"] for item in ours[1]}
    assert len(per_video) == len(SAMPLES)
    theirs = {path: vbench_tf.cal_score(path) for path in per_video}
    for path, value in per_video.items():
        assert value == pytest.approx(theirs[path], abs=1e-6), path
    assert ours[0] == pytest.approx(np.mean(list(theirs.values())), abs=1e-6)


def test_frozen_clip_scores_one_and_alternating_frames_score_lower() -> None:
    still = np.full((10, 32, 32, 3), 90, np.uint8)
    flicker = still.copy()
    flicker[1::2] += 51  # every other frame brighter by 51 grey levels → MAE 51 per pair
    dimension = TemporalFlickering()
    frozen, flickering = dimension.score_batch(
        [Video(frames=still, fps=8, path=None), Video(frames=flicker, fps=8, path=None)]
    )
    assert frozen.value == 1.0
    assert flickering.value == pytest.approx((255 - 51) / 255)


def test_frame_differences_equal_a_direct_float_computation() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(37, 24, 40, 3), dtype=np.uint8)
    direct = np.abs(np.diff(frames.astype(np.float64), axis=0)).mean(axis=(1, 2, 3))
    assert np.allclose(mean_abs_frame_differences(frames), direct, rtol=0, atol=1e-12)
