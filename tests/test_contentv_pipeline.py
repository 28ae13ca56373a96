"""The tiny ContentV preset end to end: prompt -> mp4 that decodes to the requested frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vbench_lite.reference_models.contentv.pipeline import ContentVPipeline, frame_rule
from vbench_lite.video import decode_video, write_mp4


@pytest.fixture(scope="module")
def tiny() -> ContentVPipeline:
    torch.set_num_threads(2)
    return ContentVPipeline.random("tiny")


@pytest.mark.slow
def test_tiny_prompt_to_mp4_decodes_to_the_requested_frame_count(tiny, tmp_path):
    # Its speed (target: under 20 s per tiny video on 2 CPU cores) is measured by
    # benchmarks/generate_speed.py, not asserted here.
    params = tiny.default_params(num_frames=17)
    frames, timings = tiny.generate(["a red fox running through snow"], [7], params)
    path = write_mp4(tmp_path / "fox.mp4", frames[0], fps=8)

    decoded, fps = decode_video(path)
    assert decoded.shape == (17, 64, 64, 3)
    assert fps == pytest.approx(8)
    assert timings.steps == 4


@pytest.mark.slow
def test_same_seed_gives_the_same_video_and_other_seeds_differ(tiny):
    params = tiny.default_params(num_frames=5, height=32, width=32)
    a, _ = tiny.generate(["a boat"], [1], params)
    b, _ = tiny.generate(["a boat"], [1], params)
    c, _ = tiny.generate(["a boat"], [2], params)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.slow
def test_prompts_in_one_batch_match_prompts_one_at_a_time(tiny):
    params = tiny.default_params(num_frames=5, height=32, width=32)
    both, _ = tiny.generate(["a boat", "a cat"], [1, 2], params)
    alone, _ = tiny.generate(["a cat"], [2], params)
    assert np.abs(both[1].astype(int) - alone[0].astype(int)).max() <= 1


@pytest.mark.slow
def test_batched_cfg_equals_separate_cond_and_uncond_passes(tiny):
    batched = tiny.default_params(num_frames=5, batch_cfg=True)
    separate = tiny.default_params(num_frames=5, batch_cfg=False)
    latents = {}
    for name, params in (("batched", batched), ("separate", separate)):
        tiny.generate(["a cat"], [3], params, step_callback=lambda i, x, n=name: latents.__setitem__(n, x))
    torch.testing.assert_close(latents["batched"], latents["separate"], rtol=1e-5, atol=1e-5)


def test_frame_counts_round_down_to_4k_plus_1():
    assert frame_rule(17) == 17
    with pytest.warns(UserWarning, match="not 4k\\+1"):
        assert frame_rule(16) == 13


@pytest.mark.slow
def test_flicker_option_adds_alternating_brightness(tiny):
    clean, _ = tiny.generate(["a cat"], [3], tiny.default_params(num_frames=5, height=32, width=32))
    degraded, _ = tiny.generate(["a cat"], [3], tiny.default_params(num_frames=5, height=32, width=32, flicker=0.1))
    brightness_change = degraded[0].mean(axis=(1, 2, 3)) - clean[0].mean(axis=(1, 2, 3))
    assert np.all(brightness_change[0::2] < -15) and np.all(brightness_change[1::2] > 15)
    step = lambda v: np.abs(np.diff(v[0].astype(float), axis=0)).mean()  # noqa: E731
    assert step(degraded) > 1.5 * step(clean)


def test_parity_mode_draws_the_noise_in_the_pipeline_dtype_on_cpu():
    pipe = ContentVPipeline.random("tiny", dtype=torch.bfloat16)
    shape = (1, 16, 2, 4, 4)
    parity = pipe.initial_noise(11, pipe.default_params(num_frames=5, height=32, width=32, parity_mode=True))
    default = pipe.initial_noise(11, pipe.default_params(num_frames=5, height=32, width=32))
    official = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(11), dtype=torch.bfloat16)
    ours = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(11)).to(torch.bfloat16)
    assert torch.equal(parity, official) and torch.equal(default, ours)
    assert parity.dtype == default.dtype == torch.bfloat16


def test_parity_mode_truncates_to_uint8_like_export_to_video():
    video = torch.full((1, 3, 2, 2, 2), 0.999)  # x/2 + 0.5 = 0.9995 -> 254.87
    assert ContentVPipeline.to_uint8(video, ContentVPipeline.random("tiny").default_params())[0, 0, 0, 0, 0] == 255
    parity = ContentVPipeline.random("tiny").default_params(parity_mode=True)
    assert ContentVPipeline.to_uint8(video, parity)[0, 0, 0, 0, 0] == 254
