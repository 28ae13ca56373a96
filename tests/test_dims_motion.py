"""dynamic_degree and motion_smoothness: thresholds, backends, flow reuse, real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from clips import sample_frames
from tiny_dims1_models import write_torchvision_raft

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.dynamic_degree import DynamicDegree, kept_frame_pairs, thresholds, top_magnitude_mean
from vbench_lite.dimensions.motion_smoothness import MotionSmoothness, interpolation_pairs, smoothness
from vbench_lite.errors import InputError, WeightsMissing
from vbench_lite.video import Video

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def no_weights_on_this_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vbench-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("VBL_WEIGHTS_DIR", raising=False)


def real_video(name: str, count: int, start: int = 0, step: int = 2, order=None, fps=None) -> Video:
    frames, native_fps = sample_frames(name)
    clip = frames[start : start + count, ::step, ::step]
    if order is not None:
        clip = clip[order]
    return Video(
        frames=np.ascontiguousarray(clip),
        fps=fps or native_fps,
        path=Path(f"{name}-{start}-{count}-{order is not None}.mp4"),
    )


@pytest.mark.parametrize(
    "frames,fps,height,width,kept,tau,count",
    [
        (16, 8, 512, 512, 16, 12.0, 4),  # worked values of docs/dimensions.md, dynamic_degree
        (49, 8, 480, 720, 49, 11.25, 12),
        (129, 24, 720, 1280, 43, 16.875, 11),
    ],
)
def test_thresholds_follow_the_spec_worked_values(frames, fps, height, width, kept, tau, count):
    indices, pairs = kept_frame_pairs(frames, fps)
    assert len(indices) == kept and len(pairs) == kept - 1
    assert thresholds(height, width, len(indices)) == (tau, count)


def scripted_dynamic_degree(scores: list[float], all_pairs: bool = False) -> tuple[DynamicDegree, list]:
    """A dynamic_degree whose pair k has flow magnitude `scores[k]` everywhere; it records the
    pairs it is asked to score."""
    dimension = DynamicDegree(ScoringContext(backend="embedded", options={"dynamic_degree.all_pairs": all_pairs}))
    dimension.setup()
    asked: list[tuple[int, int]] = []

    def flows(path, frames, pairs):
        asked.extend(pairs)
        return [torch.stack([torch.full((8, 8), scores[i]), torch.zeros(8, 8)]) for i, _ in pairs]

    dimension.flows = flows
    return dimension, asked


def scripted_video(pairs: int, size: int = 512) -> Video:
    return Video(frames=np.zeros((pairs + 1, size, size, 3), np.uint8), fps=8.0, path=Path("s.mp4"))


def score_of(dimension: DynamicDegree, video: Video):
    (score,) = dimension.score_batch([video])
    return score


def check_move(scores: list[float], threshold: float, required: int) -> bool:
    """VBench's rule on every pair's score: moving iff there is a pair and ≥ c scores are > τ."""
    return bool(scores) and sum(score > threshold for score in scores) >= required


def test_moving_needs_c_pairs_strictly_above_tau():
    # 16 frames at 512 px: τ = 12, c = 4
    for first, moving in [([12.0, 12.5, 13, 14, 15], True), ([12.0, 12.0, 13, 14, 15], False)]:
        scores = first + [0.0] * 10
        dimension, _ = scripted_dynamic_degree(scores)
        assert score_of(dimension, scripted_video(15)).value is moving  # 12.0 is not above τ
    dimension, asked = scripted_dynamic_degree([0.0])
    assert score_of(dimension, scripted_video(1)).value is True and asked == []  # c = round(0.5) = 0
    assert score_of(dimension, scripted_video(0)).value is False  # no pair, no motion


@pytest.mark.slow
def test_scoring_stops_once_the_verdict_is_known_and_keeps_vbench_s_verdict():
    rng = np.random.default_rng(0)
    saved = 0
    for _ in range(300):
        pairs = int(rng.integers(1, 40))
        scores = np.where(rng.random(pairs) < rng.random(), 20.0, 0.0).tolist()
        threshold, required = thresholds(512, 512, pairs + 1)
        dimension, asked = scripted_dynamic_degree(scores)
        score = score_of(dimension, scripted_video(pairs))
        assert score.value is check_move(scores, threshold, required)
        assert asked == [(k, k + 1) for k in range(len(asked))]  # in order, each once
        assert score.extra["pair_scores"] == scores[: len(asked)] and score.extra["pairs"] == pairs
        saved += pairs - len(asked)
        # the last pair it scored was needed: without it the verdict was still open
        before = scores[: len(asked) - 1]
        rest = pairs - len(before)
        above = sum(s > threshold for s in before)
        assert not asked or (above < required and above + rest >= required)
    assert saved > 0
    dimension, asked = scripted_dynamic_degree([20.0] * 15, all_pairs=True)
    assert score_of(dimension, scripted_video(15)).value is True and len(asked) == 15
    with pytest.raises(InputError, match="true or false"):
        DynamicDegree(ScoringContext(backend="embedded", options={"dynamic_degree.all_pairs": "yes"})).setup()


def test_pair_score_is_the_mean_of_the_top_5_percent_magnitudes():
    flow = torch.zeros(2, 10, 20)
    flow[0, 0, :10] = 3.0
    flow[1, 0, :10] = 4.0  # ten pixels of magnitude 5 = exactly 5 % of 200
    assert top_magnitude_mean(flow) == pytest.approx(5.0)
    flow[0, 1, 0] = 30.0  # one larger pixel displaces a 5
    assert top_magnitude_mean(flow) == pytest.approx((30 + 9 * 5) / 10)


def test_interpolation_compares_midpoints_of_even_pairs_only():
    assert interpolation_pairs(7) == [(0, 2), (2, 4), (4, 6)]
    assert interpolation_pairs(6) == [(0, 2), (2, 4)]  # the last odd frame has no prediction
    real = np.full((2, 4, 4, 3), 100, np.uint8)
    predicted = real.copy()
    predicted[1] += 51
    value, per_pair = smoothness(predicted, real)
    assert per_pair == [0.0, 51.0] and value == pytest.approx((255 - 25.5) / 255)


@pytest.mark.slow
def test_embedded_frozen_clip_is_static_and_smooth():
    frames, fps = sample_frames("bigbuckbunny")
    frozen = Video(frames=np.repeat(frames[40:41, ::2, ::2], 17, axis=0), fps=fps, path=Path("f.mp4"))
    dynamic = DynamicDegree(ScoringContext(backend="embedded"))
    motion = MotionSmoothness(ScoringContext(backend="embedded"))
    dynamic.setup()
    motion.setup()
    assert dynamic.score_batch([frozen])[0].value is False
    assert motion.score_batch([frozen])[0].value >= 0.99


def test_embedded_clip_with_real_motion_is_dynamic():
    dimension = DynamicDegree(ScoringContext(backend="embedded"))
    dimension.setup()
    (score,) = dimension.score_batch([real_video("bikes", 32, step=1)])
    assert score.value is True


def test_embedded_shuffled_clip_is_less_smooth_than_in_order():
    order = np.random.default_rng(5).permutation(17)
    dimension = MotionSmoothness(ScoringContext(backend="embedded"))
    dimension.setup()
    ordered, shuffled = dimension.score_batch([real_video("bikes", 17, 20), real_video("bikes", 17, 20, order=order)])
    assert shuffled.value < ordered.value


def test_auto_without_weights_is_embedded_and_vbench_is_one_clear_error(tmp_path):
    for dimension_class, missing in ((DynamicDegree, "raft-things.pth"), (MotionSmoothness, "amt-s.pth")):
        auto = dimension_class(ScoringContext(backend="auto", weights_dir=tmp_path))
        auto.setup()
        assert auto.backend == "embedded" and auto.weights_sha256() is None
        with pytest.raises(WeightsMissing, match=missing):
            dimension_class(ScoringContext(backend="vbench", weights_dir=tmp_path)).setup()


@pytest.mark.slow
def test_raft_pairs_of_dynamic_degree_are_reused_by_motion_smoothness(tmp_path):
    write_torchvision_raft(tmp_path / "torch" / "hub" / "checkpoints")
    context = ScoringContext(
        backend="vbench", options={"motion_smoothness.backend": "raft", "dynamic_degree.all_pairs": True}
    )
    # 16 fps → dynamic degree keeps every 2nd frame: the same (2k, 2k+2) pairs motion smoothness uses
    video = real_video("carphone_pristine", 7, fps=16.0, step=1)
    dynamic, motion = DynamicDegree(context), MotionSmoothness(context)
    dynamic.setup()
    motion.setup()
    assert (dynamic.backend, motion.backend) == ("vbench", "raft")
    assert dynamic.weights_sha256() == motion.weights_sha256()
    dynamic.score_batch([video])
    assert motion._raft.cache is dynamic._raft.cache and motion._raft.cache.hits == 0
    (score,) = motion.score_batch([video])
    assert motion._raft.cache.hits == 3  # (0,2), (2,4), (4,6) forward flows; only backward ones computed
    assert 0.0 < score.value <= 1.0
    assert sum(key[0] == "raft-large" for key in context.backbones.loads) == 1  # one shared RAFT


def test_weight_specs_are_vbench_files_and_folders():
    (raft,) = DynamicDegree().weights()
    amt, raft_for_motion = MotionSmoothness().weights()
    assert (raft.file, raft.vbench_subdir) == ("raft-things.pth", "raft_model/models")
    assert raft.url == "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip"
    assert (raft_for_motion.file, raft_for_motion.backend) == ("raft-things.pth", "raft")
    assert (amt.file, amt.vbench_subdir, amt.backend) == ("amt-s.pth", "amt_model", "vbench")
    assert amt.url == "https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth"


def test_frames_too_small_for_raft_are_skipped_with_the_reason(tmp_path):
    write_torchvision_raft(tmp_path / "torch" / "hub" / "checkpoints")
    dimension = DynamicDegree(ScoringContext(backend="vbench"))
    dimension.setup()
    (score,) = dimension.score_batch([real_video("carphone_pristine", 5, step=2)])  # 88x72
    assert score.value is None and "at least 128 px" in score.skipped


def test_torchvision_raft_file_counts_as_the_vbench_raft(tmp_path):
    write_torchvision_raft(tmp_path / "torch" / "hub" / "checkpoints")
    dynamic = DynamicDegree(ScoringContext(backend="auto"))
    motion = MotionSmoothness(ScoringContext(backend="auto"))
    assert dynamic.unavailable_reason() is None and dynamic.resolve_backend() == "vbench"
    # no AMT-S: motion smoothness takes its first ready non-VBench backend, RAFT interpolation
    assert motion.resolve_backend() == "raft"
    reason = MotionSmoothness(ScoringContext(backend="vbench")).unavailable_reason()
    assert reason.startswith("missing weight file amt-s.pth") and "amt_model" in reason
