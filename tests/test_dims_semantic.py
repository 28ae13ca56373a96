"""ViCLIP loading, overall_consistency / temporal_style, appearance_style and clip_score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from clips import sample_frames
from tiny_clip_models import write_tiny_openai_clip
from tiny_viclip import TINY, randomise, write_checkpoint, write_tiny_viclip

from vbench_lite.dimension import ScoringContext, VideoScore
from vbench_lite.dimensions.appearance_style import AppearanceStyle
from vbench_lite.dimensions.backbones.clip import load_clip
from vbench_lite.dimensions.backbones.preprocess import clip_transform, frames_to_tensor
from vbench_lite.dimensions.backbones.viclip import ViClip, build_viclip, load_viclip
from vbench_lite.dimensions.clip_score import ClipScore
from vbench_lite.dimensions.overall_consistency import OverallConsistency
from vbench_lite.dimensions.temporal_style import TemporalStyle
from vbench_lite.errors import InputError, VblError, WeightsMissing
from vbench_lite.video import Video


def _video(name: str, start: int, count: int, prompt: str = "", **aux) -> Video:
    frames = sample_frames(name)[0][start:start + count]
    return Video(frames=frames, fps=25.0, path=Path(f"{name}-{start}.mp4"), prompt=prompt, aux=aux)


# -- ViCLIP ----------------------------------------------------------------------------------

def test_viclip_checkpoint_loads_strictly(tmp_path: Path) -> None:
    model = build_viclip(write_tiny_viclip(tmp_path, seed=1), "cpu")
    assert model.network.config == TINY
    state_dict = randomise(ViClip(TINY), 2).state_dict()
    state_dict.pop("vision_encoder.ln_post.bias")
    with pytest.raises(InputError, match="Missing key.*vision_encoder.ln_post.bias"):
        build_viclip(write_checkpoint(tmp_path / "missing", state_dict), "cpu")
    state_dict = {**randomise(ViClip(TINY), 2).state_dict(), "text_encoder.surplus": torch.ones(1)}
    with pytest.raises(InputError, match="Unexpected key.*text_encoder.surplus"):
        build_viclip(write_checkpoint(tmp_path / "extra", state_dict), "cpu")


def test_a_missing_viclip_file_is_one_line(weights_home: Path) -> None:
    with pytest.raises(WeightsMissing) as error:
        OverallConsistency(ScoringContext()).setup()
    assert "ViClip-InternVid-10M-FLT.pth" in str(error.value) and "ViCLIP" in str(error.value)


def test_no_embedded_backend_for_viclip_dimensions(weights_home: Path) -> None:
    write_tiny_viclip(weights_home)
    with pytest.raises(VblError, match="temporal_style has no embedded backend; it needs ViClip"):
        TemporalStyle(ScoringContext(backend="embedded")).setup()


@pytest.mark.slow
def test_overall_consistency_batches_caches_prompts_and_skips_promptless(weights_home: Path) -> None:
    write_tiny_viclip(weights_home, seed=3)
    dimension = OverallConsistency(ScoringContext(batch_size=16))  # two videos per forward
    dimension.setup()
    prompt = "a man riding a bike, pan left"
    videos = [dimension.frames.select(v) for v in (
        _video("bikes", 0, 40, prompt), _video("bikes", 100, 3, prompt),
        _video("carphone_pristine", 0, 20), _video("bigbuckbunny", 10, 20, "a rabbit"))]
    assert all(v.num_frames == 8 for v in videos)  # the 3-frame video is padded as VBench does
    together = dimension.score_batch(videos)
    alone = []
    for video in videos:  # a fresh context each: no ViCLIP features cached from `together`
        single = OverallConsistency(ScoringContext())
        single.setup()
        alone.append(single.score_batch([video])[0])
    assert together[2].value is None and "prompt" in together[2].skipped
    for joint, single in zip(together, alone, strict=True):
        assert joint.value == pytest.approx(single.value, abs=1e-5)
    assert set(dimension._prompt_features) == {prompt, "a rabbit"}
    assert -1 <= together[0].value <= 1


def test_temporal_style_is_overall_consistency_on_its_own_prompts(weights_home: Path) -> None:
    write_tiny_viclip(weights_home, seed=4)
    context = ScoringContext()
    overall, temporal = OverallConsistency(context), TemporalStyle(context)
    overall.setup()
    temporal.setup()
    video = temporal.frames.select(_video("bikes", 0, 30, "a bike race, in super slow motion"))
    first = overall.score_batch([video])[0].value
    cached = dict(load_viclip(context).video_cache)
    assert temporal.score_batch([video])[0].value == first
    assert len(context.backbones.loads) == 1  # one ViCLIP for both
    assert load_viclip(context).video_cache == cached  # the clip was encoded once
    assert (temporal.name, temporal.group) == ("temporal_style", "semantic")


# -- appearance_style ------------------------------------------------------------------------

def test_appearance_style_skips_videos_without_a_style_phrase(weights_home: Path) -> None:
    write_tiny_openai_clip(weights_home, "ViT-B-32")
    dimension = AppearanceStyle(ScoringContext())
    dimension.setup()
    styled, plain = dimension.score_batch([
        _video("bikes", 0, 3, "bikes, pixel art", appearance_style="pixel art"),
        _video("bikes", 0, 3, "bikes")])
    assert plain.value is None and "appearance_style" in plain.skipped
    assert len(styled.extra["frame_results"]) == 3
    assert styled.extra["cur_sim"] == styled.extra["frame_results"][-1]


def test_appearance_style_aggregate_is_frame_weighted() -> None:
    scores = [VideoScore(0.2, {"frame_results": [0.2, 0.2, 0.2], "cur_sim": 0.2}),
              VideoScore(0.5, {"frame_results": [0.5], "cur_sim": 0.5}),
              VideoScore(None, skipped="no style")]
    assert AppearanceStyle().aggregate(scores) == pytest.approx((0.6 + 0.5) / 4)


# -- clip_score ------------------------------------------------------------------------------

def test_clip_score_is_the_mean_frame_prompt_cosine(weights_home: Path) -> None:
    write_tiny_openai_clip(weights_home / "clip_model", "ViT-B-32", seed=8)
    context = ScoringContext(batch_size=4)
    dimension = ClipScore(context)
    dimension.setup()
    style = AppearanceStyle(context)
    style.setup()
    assert len(context.backbones.loads) == 1  # one B/32 for clip_score and appearance_style
    prompt = "any custom prompt, not from a suite"
    video = _video("carphone_distorted", 5, 6, prompt)
    value = dimension.score_batch([video])[0].value

    clip = load_clip(context)
    images = clip.encode_image(clip_transform(frames_to_tensor(video.frames))).float()
    text = clip.encode_text([prompt]).float()
    cosines = torch.nn.functional.cosine_similarity(images, text)
    assert value == pytest.approx(float(cosines.mean()), abs=1e-5)
    assert dimension.group == "extra" and dimension.backend == "vbench"


def test_clip_score_architecture_is_an_option(weights_home: Path) -> None:
    write_tiny_openai_clip(weights_home, "ViT-L-14")
    dimension = ClipScore(ScoringContext(options={"clip_score_arch": "ViT-L-14"}))
    assert dimension.weights()[0].file == "ViT-L-14.pt"
    dimension.setup()
    scores = dimension.score_batch([_video("bikes", 0, 2, "bikes"), _video("bikes", 0, 2)])
    assert np.isfinite(scores[0].value) and scores[1].skipped
