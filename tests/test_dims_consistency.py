"""subject_consistency and background_consistency: formula, aggregation, backends, real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from clips import sample_frames
from tiny_dims1_models import write_tiny_dino_pth

from vbench_lite.dimension import ScoringContext, VideoScore
from vbench_lite.dimensions.backbones import frame_stream
from vbench_lite.dimensions.backbones.consistency import consistency, pair_scores
from vbench_lite.dimensions.backbones.frame_stream import FeatureStream, tensor_encoder
from vbench_lite.dimensions.backbones.preprocess import clip_transform, dino_transform, frames_to_tensor
from vbench_lite.dimensions.background_consistency import BackgroundConsistency
from vbench_lite.dimensions.subject_consistency import SubjectConsistency
from vbench_lite.errors import InputError, WeightsMissing
from vbench_lite.video import Video
from vbench_lite.weights import sha256_of

torch.set_num_threads(1)
DIMENSIONS = [SubjectConsistency, BackgroundConsistency]


@pytest.fixture(autouse=True)
def no_weights_on_this_machine(tmp_path, monkeypatch):
    """Weights are found only where a test puts them."""
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "vbench-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("VBL_WEIGHTS_DIR", raising=False)


def real_video(name: str = "bigbuckbunny", count: int = 12, start: int = 0, order=None) -> Video:
    frames, fps = sample_frames(name)
    clip = frames[start : start + count]
    if order is not None:
        clip = clip[order]
    return Video(frames=np.ascontiguousarray(clip[:, ::4, ::4]), fps=fps, path=Path(f"{name}-{start}.mp4"))


def test_pair_score_is_half_previous_half_first_with_negatives_clamped():
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])
    # pair 1: cos(f0,f1)=0, cos(f0,f1)=0 → 0; pair 2: cos(f1,f2)=0, cos(f0,f2)=−1→0 → 0;
    # pair 3: cos(f2,f3)=−1→0, cos(f0,f3)=1 → ½
    assert pair_scores(features).tolist() == [0.0, 0.0, 0.5]
    result = consistency(features * 7.0)  # scale-free: features are L2-normalised first
    assert (result.pair_sum, result.pair_count, result.mean) == (0.5, 3, pytest.approx(1 / 6))


@pytest.mark.slow
def test_aggregate_is_pair_weighted_so_longer_videos_weigh_more():
    dimension = SubjectConsistency(ScoringContext(backend="embedded"))
    dimension.setup()
    short, long = real_video(count=3, start=0), real_video(count=12, start=60)
    scores = dimension.score_batch([short, long])
    pair_weighted = (scores[0].extra["pair_sum"] + scores[1].extra["pair_sum"]) / (2 + 11)
    assert dimension.aggregate(scores) == pytest.approx(pair_weighted)
    assert dimension.aggregate(scores) != pytest.approx((scores[0].value + scores[1].value) / 2)


def test_background_stores_vbench_per_video_keys():
    dimension = BackgroundConsistency(ScoringContext(backend="embedded"))
    dimension.setup()
    (score,) = dimension.score_batch([real_video(count=5)])
    assert score.extra["cnt_per_video"] == 4
    assert score.value == pytest.approx(score.extra["video_sim"] / 4)


@pytest.mark.parametrize("dimension_class", DIMENSIONS)
def test_embedded_frozen_clip_is_consistent(dimension_class):
    frames, fps = sample_frames("bikes")
    frozen = Video(frames=np.repeat(frames[10:11, ::2, ::2], 8, axis=0), fps=fps, path=Path("frozen.mp4"))
    dimension = dimension_class(ScoringContext(backend="embedded"))
    dimension.setup()
    assert dimension.backend == "embedded"
    assert dimension.score_batch([frozen])[0].value >= 0.99


@pytest.mark.slow
@pytest.mark.parametrize("dimension_class", DIMENSIONS)
def test_embedded_shuffled_clip_scores_lower_than_in_order(dimension_class):
    order = np.random.default_rng(3).permutation(24)
    dimension = dimension_class(ScoringContext(backend="embedded"))
    dimension.setup()
    ordered, shuffled = dimension.score_batch([real_video("bikes", 24, 0), real_video("bikes", 24, 0, order=order)])
    assert shuffled.value < ordered.value


@pytest.mark.parametrize("chunks", [[11], [1] * 11, [3, 5, 3], [4, 7]])
def test_a_feature_stream_batches_frames_the_same_however_they_arrive(chunks):
    frames = real_video(count=11, start=0).frames
    batches: list[int] = []

    def network(pixels: torch.Tensor) -> torch.Tensor:  # a per-frame "network" that logs its batches
        batches.append(len(pixels))
        return pixels.mean(dim=(2, 3))

    stream = FeatureStream(tensor_encoder(dino_transform, network, "cpu"), 4, lambda f: VideoScore(0.0, {"f": f}))
    start = 0
    for size in chunks:
        stream.feed(frames[start:start + size], start)
        start += size
    features = stream.finish().extra["f"]
    assert batches == [4, 4, 3]  # counted from the first frame, whatever the chunks
    assert torch.equal(features, network(dino_transform(frames_to_tensor(frames))))


@pytest.mark.parametrize("transform", [dino_transform, clip_transform])
@pytest.mark.parametrize("frames_per_slice", [1, 3])
def test_the_encoder_transforms_a_few_frames_at_a_time_with_the_same_numbers(transform, frames_per_slice, monkeypatch):
    frames = real_video(count=7, start=0).frames
    monkeypatch.setattr(frame_stream, "TRANSFORM_BYTES", frames[0].size * 4 * frames_per_slice)
    sizes: list[int] = []

    def counted(pixels: torch.Tensor) -> torch.Tensor:
        sizes.append(len(pixels))
        return transform(pixels)

    features = tensor_encoder(counted, lambda pixels: pixels, "cpu")(frames)
    assert sizes == [frames_per_slice] * (7 // frames_per_slice) + [7 % frames_per_slice] * (7 % frames_per_slice > 0)
    assert torch.equal(features, transform(frames_to_tensor(frames)))  # bit for bit


def test_auto_takes_vbench_when_dino_is_present_and_records_its_sha256(tmp_path):
    path, _ = write_tiny_dino_pth(tmp_path)
    dimension = SubjectConsistency(ScoringContext(backend="auto", weights_dir=tmp_path))
    dimension.setup()
    assert dimension.backend == "vbench"
    assert dimension.weights_sha256() == sha256_of(path)


@pytest.mark.parametrize("dimension_class", DIMENSIONS)
def test_auto_without_weights_is_embedded(dimension_class, tmp_path):
    dimension = dimension_class(ScoringContext(backend="auto", weights_dir=tmp_path))
    dimension.setup()
    assert dimension.backend == "embedded"
    assert dimension.weights_sha256()  # the packaged EfficientNet file's digest


@pytest.mark.parametrize("dimension_class", DIMENSIONS)
def test_vbench_backend_without_weights_is_one_clear_error(dimension_class, tmp_path):
    dimension = dimension_class(ScoringContext(backend="vbench", weights_dir=tmp_path))
    with pytest.raises(WeightsMissing, match=r"\.pt"):
        dimension.setup()


def test_unknown_backend_is_refused():
    with pytest.raises(InputError, match="no backend 'raft'"):
        SubjectConsistency(ScoringContext(options={"subject_consistency.backend": "raft"})).setup()


def test_weight_specs_are_vbench_files_and_folders():
    (dino,) = SubjectConsistency().weights()
    (clip,) = BackgroundConsistency().weights()
    assert (dino.file, dino.vbench_subdir, dino.hf_repo) == (
        "dino_vitbase16_pretrain.pth",
        "dino_model",
        "facebook/dino-vitb16",
    )
    assert dino.url.startswith("https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/")
    assert (clip.file, clip.vbench_subdir) == ("ViT-B-32.pt", "clip_model")


@pytest.mark.fidelity
@pytest.mark.parametrize("ours,name", [(dino_transform, "dino_transform"), (clip_transform, "clip_transform")])
def test_transforms_equal_vbench_compose_on_its_float_frames(ours, name):
    vbench_utils = pytest.importorskip("vbench.utils")
    frames, _ = sample_frames("bikes")
    pixels = frames_to_tensor(frames[:3])  # = VBench's load_video: float32 0–255, [T, C, H, W]
    assert torch.equal(ours(pixels), getattr(vbench_utils, name)(224)(pixels))


@pytest.mark.parametrize("dimension_class", DIMENSIONS)
def test_a_single_frame_video_is_skipped_not_divided_by_zero(dimension_class):
    dimension = dimension_class(ScoringContext(backend="embedded"))
    dimension.setup()
    single, normal = dimension.score_batch([real_video(count=1), real_video(count=3)])
    assert single.value is None and "2 frames" in single.skipped and normal.value is not None
