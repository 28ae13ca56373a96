"""Parity with diffusers' own modules on tiny configurations, after copying weights (the same state
dict loads strictly into both, so equal outputs prove equal arithmetic).

diffusers is a test dependency: these tests are skipped where it is not installed.
"""

from __future__ import annotations

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from vbench_lite.reference_models.contentv import loading, sampler  # noqa: E402
from vbench_lite.reference_models.contentv.config import WanVAEConfig  # noqa: E402
from vbench_lite.reference_models.contentv.mmdit import (  # noqa: E402
    AdaLayerNormContinuous,
    JointBlock,
    TimestepTextEmbed,
)
from vbench_lite.reference_models.contentv.posenc import sincos_3d  # noqa: E402
from vbench_lite.reference_models.contentv.wan_vae import WanVAE  # noqa: E402

DIM, HEADS, HEAD_DIM = 64, 2, 32


def _copy_random_weights(ours: torch.nn.Module, theirs: torch.nn.Module, seed: int) -> None:
    """Random (non-trivial) weights into diffusers' module, then a strict copy into ours."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
    ours.load_state_dict(theirs.state_dict(), strict=True)


@pytest.mark.parametrize("context_pre_only", [False, True], ids=["joint-block", "last-block"])
def test_one_joint_block_matches_diffusers(context_pre_only):
    from diffusers.models.attention import JointTransformerBlock

    theirs = JointTransformerBlock(
        dim=DIM,
        num_attention_heads=HEADS,
        attention_head_dim=HEAD_DIM,
        context_pre_only=context_pre_only,
        qk_norm="rms_norm",
    ).eval()
    ours = JointBlock(DIM, HEADS, HEAD_DIM, context_pre_only=context_pre_only).eval()
    _copy_random_weights(ours, theirs, seed=1)
    video, text, temb = torch.randn(2, 20, DIM), torch.randn(2, 7, DIM), torch.randn(2, DIM)
    with torch.no_grad():
        their_text, their_video = theirs(hidden_states=video, encoder_hidden_states=text, temb=temb)
        our_video, our_text = ours(video, text, temb)
    torch.testing.assert_close(our_video, their_video, rtol=1e-5, atol=1e-5)
    if context_pre_only:
        assert our_text is None and their_text is None
    else:
        torch.testing.assert_close(our_text, their_text, rtol=1e-5, atol=1e-5)


def test_timestep_text_embedding_and_output_norm_match_diffusers():
    from diffusers.models.embeddings import CombinedTimestepTextProjEmbeddings
    from diffusers.models.normalization import AdaLayerNormContinuous as TheirNormOut

    theirs = CombinedTimestepTextProjEmbeddings(embedding_dim=DIM, pooled_projection_dim=32)
    ours = TimestepTextEmbed(DIM, 32)
    _copy_random_weights(ours, theirs, seed=2)
    timesteps, pooled = torch.tensor([1000.0, 333.25]), torch.randn(2, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(timesteps, pooled), theirs(timesteps, pooled), rtol=1e-5, atol=1e-5)

    their_norm = TheirNormOut(DIM, DIM, elementwise_affine=False, eps=1e-6)
    our_norm = AdaLayerNormContinuous(DIM, DIM)
    _copy_random_weights(our_norm, their_norm, seed=3)
    x, cond = torch.randn(2, 5, DIM), torch.randn(2, DIM)
    with torch.no_grad():
        torch.testing.assert_close(our_norm(x, cond), their_norm(x, cond), rtol=1e-5, atol=1e-5)


def test_3d_sincos_matches_diffusers_get_3d_sincos_pos_embed():
    from diffusers.models.embeddings import get_3d_sincos_pos_embed

    frames, rows, cols = 3, 4, 5
    theirs = get_3d_sincos_pos_embed(
        DIM, (cols, rows), frames, spatial_interpolation_scale=0.5, temporal_interpolation_scale=1.0
    )
    ours = sincos_3d(frames, rows, cols, DIM)
    torch.testing.assert_close(ours, theirs.reshape(-1, DIM).float(), rtol=1e-5, atol=1e-5)


TINY_WAN = dict(
    base_dim=16,
    z_dim=16,
    dim_mult=[1, 2, 2, 2],
    num_res_blocks=1,
    attn_scales=[],
    temperal_downsample=[False, True, True],
)


@pytest.mark.slow
def test_wan_vae_encode_and_chunked_decode_match_diffusers():
    theirs = diffusers.AutoencoderKLWan(**TINY_WAN).eval()
    ours = WanVAE(WanVAEConfig.from_dict(dict(theirs.config))).eval()
    _copy_random_weights(ours, theirs, seed=4)
    generator = torch.Generator().manual_seed(0)
    video = torch.rand(1, 3, 9, 32, 32, generator=generator) * 2 - 1
    latents = torch.randn(1, 16, 3, 4, 4, generator=generator)
    with torch.no_grad():
        their_mean = theirs.encode(video).latent_dist.mean
        our_mean = ours.encode_moments(video)[:, :16]
        their_video = theirs.decode(latents).sample
        our_video = ours.decode_raw(latents)
    torch.testing.assert_close(our_mean, their_mean, rtol=1e-5, atol=1e-5)
    assert our_video.shape == their_video.shape == (1, 3, 9, 32, 32)
    torch.testing.assert_close(our_video, their_video, rtol=1e-5, atol=1e-5)


def test_wan_vae_with_diffusers_default_config_builds_the_same_keys():
    with torch.device("meta"):
        theirs = diffusers.AutoencoderKLWan()
        ours = loading.build_on_meta(WanVAE, WanVAEConfig.from_dict(dict(theirs.config)))
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}


@pytest.mark.parametrize("shift", [1.0, 3.0, 7.0])
def test_flow_match_schedule_and_euler_steps_match_diffusers_scheduler(shift):
    from diffusers import FlowMatchEulerDiscreteScheduler

    steps = 6
    scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    scheduler.set_timesteps(sigmas=[1.0 - i / steps for i in range(steps)])  # ContentV's base schedule
    sigmas = sampler.shifted_sigmas(steps, shift)
    torch.testing.assert_close(sigmas, scheduler.sigmas, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(sampler.model_timesteps(sigmas), scheduler.timesteps, rtol=1e-6, atol=1e-4)

    generator = torch.Generator().manual_seed(0)
    ours = theirs = torch.randn(1, 16, 2, 4, 4, generator=generator).to(torch.bfloat16)
    for i, t in enumerate(scheduler.timesteps):
        velocity = torch.randn(ours.shape, generator=generator).to(torch.bfloat16)
        theirs = scheduler.step(velocity, t, theirs, return_dict=False)[0]
        ours = sampler.euler_step(ours, velocity, float(sigmas[i]), float(sigmas[i + 1]))
        assert ours.dtype == theirs.dtype == torch.bfloat16
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_whole_mmdit_on_one_frame_matches_diffusers_sd3_transformer():
    """With one latent frame, ContentV's MMDiT is SD3's, except for the position table: fill the
    crop of diffusers' fixed table with our encoding and the whole forward pass must agree."""
    from vbench_lite.reference_models.contentv.config import MMDiTConfig
    from vbench_lite.reference_models.contentv.mmdit import VideoMMDiT

    theirs = diffusers.SD3Transformer2DModel(
        sample_size=8,
        patch_size=2,
        in_channels=16,
        num_layers=2,
        attention_head_dim=HEAD_DIM,
        num_attention_heads=HEADS,
        joint_attention_dim=64,
        caption_projection_dim=DIM,
        pooled_projection_dim=32,
        out_channels=16,
        pos_embed_max_size=8,
        qk_norm="rms_norm",
    ).eval()
    ours = VideoMMDiT(
        MMDiTConfig(
            num_layers=2,
            num_attention_heads=HEADS,
            attention_head_dim=HEAD_DIM,
            joint_attention_dim=64,
            caption_projection_dim=DIM,
            pooled_projection_dim=32,
        )
    ).eval()
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
        table = torch.zeros(8, 8, DIM)
        table[2:6, 2:6] = sincos_3d(1, 4, 4, DIM).view(4, 4, DIM)  # the centre crop of a 4×4 patch grid
        theirs.pos_embed.pos_embed.copy_(table.view(1, 64, DIM))
    state = {k: v for k, v in theirs.state_dict().items() if k != "pos_embed.pos_embed"}
    ours.load_state_dict(state, strict=True)

    latents = torch.randn(2, 16, 8, 8, generator=generator)
    text, pooled = torch.randn(2, 7, 64, generator=generator), torch.randn(2, 32, generator=generator)
    timesteps = torch.tensor([1000.0, 412.5])
    with torch.no_grad():
        their_out = theirs(
            hidden_states=latents, encoder_hidden_states=text, pooled_projections=pooled, timestep=timesteps
        ).sample
        our_out = ours(latents[:, :, None], text, pooled, timesteps)
    assert our_out.shape == (2, 16, 1, 8, 8)
    torch.testing.assert_close(our_out[:, :, 0], their_out, rtol=1e-4, atol=1e-4)
