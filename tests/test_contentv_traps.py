"""One test per numerical trap of the bundled ContentV (listed in docs/architecture.md, "The bundled
reference generator")."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

from vbench_lite.reference_models.contentv import loading
from vbench_lite.reference_models.contentv.config import MMDiTConfig, WanVAEConfig, load_preset
from vbench_lite.reference_models.contentv.mmdit import (
    AdaLayerNormContinuous,
    AdaLayerNormZero,
    HeadRMSNorm,
    JointAttention,
    timestep_sinusoid,
)
from vbench_lite.reference_models.contentv.posenc import sincos_3d
from vbench_lite.reference_models.contentv.wan_vae import Resample, StreamCache, WanVAE

torch.manual_seed(0)


def _layer_norm(x):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def _bias_only(linear: torch.nn.Linear, chunks: list[torch.Tensor]) -> None:
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.copy_(torch.cat(chunks))


def test_trap1_adaln_zero_chunks_shift_first_but_continuous_chunks_scale_first():
    dim, x = 8, torch.randn(1, 3, 8)
    first, second = torch.full((dim,), 0.5), torch.full((dim,), 2.0)
    zero = AdaLayerNormZero(dim)
    _bias_only(zero.linear, [first, second] + [torch.zeros(dim)] * 4)
    out, *_ = zero(x, torch.randn(1, dim))
    torch.testing.assert_close(out, _layer_norm(x) * (1 + second) + first)  # shift, scale, ...

    continuous = AdaLayerNormContinuous(dim, dim)
    _bias_only(continuous.linear, [first, second])
    out = continuous(x, torch.randn(1, dim))
    torch.testing.assert_close(out, _layer_norm(x) * (1 + first) + second)  # scale, shift


def test_trap2_qk_rmsnorm_is_per_head_in_fp32_then_times_the_weight():
    norm = HeadRMSNorm(4).to(torch.bfloat16)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    x = (torch.randn(1, 2, 5, 4) * 300).to(torch.bfloat16)  # [B, heads, L, head_dim]
    reference = x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6)
    assert torch.equal(norm(x), reference.to(torch.bfloat16) * norm.weight)
    in_bf16 = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * norm.weight
    assert not torch.equal(norm(x), in_bf16)  # computing in bf16 would not match

    attention = JointAttention(dim=8, heads=2, head_dim=4, context_pre_only=False)
    q = attention._heads(attention.to_q(torch.randn(1, 3, 8)))
    per_head = attention.norm_q(q)
    torch.testing.assert_close(per_head.pow(2).mean(-1), torch.ones(1, 2, 3), rtol=1e-4, atol=1e-4)


def test_trap3_timestep_is_a_float_and_the_sinusoid_is_cos_first_without_shift():
    t = torch.tensor([0.0, 999.5])
    emb = timestep_sinusoid(t)
    assert emb.shape == (2, 256) and emb.dtype == torch.float32
    assert torch.equal(emb[0, :128], torch.ones(128)) and torch.equal(emb[0, 128:], torch.zeros(128))
    k = torch.arange(128, dtype=torch.float32)
    freqs = torch.exp(-math.log(10000.0) * k / 128)  # no frequency shift: divide by 128, not 127
    torch.testing.assert_close(emb[1], torch.cat([torch.cos(999.5 * freqs), torch.sin(999.5 * freqs)]))
    assert not torch.equal(timestep_sinusoid(torch.tensor([999.5])), timestep_sinusoid(torch.tensor([999.0])))


def test_trap4_sincos_channels_are_time_then_column_then_row_with_doubled_spatial_positions():
    dim = 64  # time 16 | column 24 | row 24
    table = sincos_3d(2, 3, 4, dim, dtype=torch.float64).view(2, 3, 4, dim)

    def group(position: float, width: int) -> torch.Tensor:
        omega = 1.0 / 10000 ** (torch.arange(width // 2, dtype=torch.float64) / (width // 2))
        return torch.cat([torch.sin(position * omega), torch.cos(position * omega)])

    token = table[1, 2, 3]  # t=1, row=2, column=3
    torch.testing.assert_close(token[:16], group(1.0, 16))  # temporal scale 1.0
    torch.testing.assert_close(token[16:40], group(6.0, 24))  # column 3 -> position 6 (scale 0.5)
    torch.testing.assert_close(token[40:], group(4.0, 24))  # row 2 -> position 4
    assert torch.equal(table[0, 0, 0, 16:40], table[1, 2, 0, 16:40])  # column group ignores t, row


def test_trap5_joint_attention_is_video_then_text_and_splits_at_the_video_length():
    attention = JointAttention(dim=8, heads=2, head_dim=4, context_pre_only=False)
    video, text = torch.randn(1, 5, 8), torch.randn(1, 3, 8)
    video_out, text_out = attention(video, text)
    assert video_out.shape == (1, 5, 8) and text_out.shape == (1, 3, 8)

    q = torch.cat(
        [
            attention.norm_q(attention._heads(attention.to_q(video))),
            attention.norm_added_q(attention._heads(attention.add_q_proj(text))),
        ],
        dim=2,
    )
    k = torch.cat(
        [
            attention.norm_k(attention._heads(attention.to_k(video))),
            attention.norm_added_k(attention._heads(attention.add_k_proj(text))),
        ],
        dim=2,
    )
    v = torch.cat([attention._heads(attention.to_v(video)), attention._heads(attention.add_v_proj(text))], dim=2)
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(4), dim=-1)  # no mask, scale 1/sqrt(d)
    joint = (weights @ v).transpose(1, 2).reshape(1, 8, 8)
    torch.testing.assert_close(video_out, attention.to_out[0](joint[:, :5]))
    torch.testing.assert_close(text_out, attention.to_add_out(joint[:, 5:]))


TINY_VAE = WanVAEConfig(
    base_dim=8, dim_mult=(1, 2, 2, 2), num_res_blocks=1, latents_mean=(0.0,) * 16, latents_std=(1.0,) * 16
)


def test_trap6_first_latent_frame_decodes_to_one_frame_and_later_ones_to_four():
    vae = loading.init_random_(loading.build_on_meta(WanVAE, TINY_VAE), seed=1).eval()
    z = torch.randn(1, 16, 3, 4, 4) * 5
    with torch.no_grad():
        video = vae.decode(z)
        first_only = vae.decode(z[:, :, :1])
        changed_tail = z.clone()
        changed_tail[:, :, 2] += 1
        video_changed_tail = vae.decode(changed_tail)
        whole_chunks = vae.decode(z, chunk_frames=8)
    assert video.shape == (1, 3, 1 + 4 * 2, 32, 32) and first_only.shape[2] == 1
    assert video.min() >= -1 and video.max() <= 1  # clamped
    torch.testing.assert_close(video[:, :, :1], first_only)  # frame 0 depends on latent 0 only
    assert torch.equal(video[:, :, :5], video_changed_tail[:, :, :5])  # causal in time
    torch.testing.assert_close(whole_chunks, video, rtol=1e-5, atol=1e-5)


def test_trap6_upsample3d_interleaves_its_two_halves_as_consecutive_frames_after_frame_0():
    upsample = Resample(4, "upsample3d")
    with torch.no_grad():
        upsample.time_conv.weight.zero_()
        upsample.time_conv.bias.zero_()
        for c in range(4):  # last tap (current frame): first half = x, second half = 10·x
            upsample.time_conv.weight[c, c, 2] = 1.0
            upsample.time_conv.weight[4 + c, c, 2] = 10.0
    upsample.resample = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Identity())  # time only
    frames = [torch.full((1, 4, 1, 2, 2), float(i + 1)) for i in range(3)]
    cache = StreamCache()
    out = torch.cat([upsample(f, cache) for f in frames], dim=2)[0, 0, :, 0, 0]
    assert out.tolist() == [1.0, 2.0, 20.0, 3.0, 30.0]


def test_trap7_vae_stays_fp32_by_default_and_bf16_decoding_is_flagged_non_parity():
    from vbench_lite.errors import InputError
    from vbench_lite.reference_models.adapters.reference import ReferenceTinyGenerator

    generator = ReferenceTinyGenerator({"parity_mode": True, "vae_dtype": "bfloat16"})
    with pytest.raises(InputError, match="non-parity"):
        generator.load("cpu", "bfloat16", None)
    generator = ReferenceTinyGenerator({"parity_mode": True})
    generator.load("cpu", "bfloat16", None)
    assert generator.pipeline.dtype == torch.bfloat16
    assert next(generator.pipeline.vae.parameters()).dtype == torch.float32
    vae = generator.pipeline.vae
    z = torch.randn(1, 16, 2, 4, 4)
    with torch.no_grad():
        fp32 = vae.decode(z)
        bf16 = vae.to(torch.bfloat16).decode(z.to(torch.bfloat16)).float()
    vae.float()
    assert not torch.equal(fp32, bf16)  # why it is a separate, non-parity option


_MEMORY_PROBE = textwrap.dedent("""
    import json, sys, torch
    from torch import nn
    from vbench_lite.reference_models.contentv import loading
    def status_kib(field):
        line = next(l for l in open("/proc/self/status") if l.startswith(field))
        return int(line.split()[1])
    folder = sys.argv[1]
    def factory(_):
        return nn.Sequential(*[nn.Linear(1024, 1024, bias=False) for _ in range(32)])
    open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
    before = status_kib("VmRSS:")
    model = loading.build_on_meta(factory, None)
    files = loading.weight_files(folder)
    if sys.argv[2] == "lazy":
        loading.load_strict_lazily(model, files, torch.bfloat16, "cpu", folder)
    else:  # the naive way, for comparison: every shard read whole, then cast
        from safetensors.torch import load_file
        state = {}
        for path in sorted(set(files.values())):
            state.update(load_file(path))
        model.load_state_dict({k: v.to(torch.bfloat16) for k, v in state.items()}, assign=True)
    print(json.dumps({"grew_kib": status_kib("VmHWM:") - before, "dtype": str(model[0].weight.dtype)}))
""")


@pytest.mark.slow
def test_trap8_sharded_checkpoint_loads_lazily_into_meta_and_casts_per_tensor(tmp_path):
    model = torch.nn.Sequential(*[torch.nn.Linear(1024, 1024, bias=False) for _ in range(32)])  # 128 MiB fp32
    folder = loading.save_component(model, {}, tmp_path / "big", max_shard_bytes=16 * 2**20)
    assert (folder / "diffusion_pytorch_model.safetensors.index.json").is_file()

    def peak_growth_kib(mode: str) -> dict:
        result = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(folder), mode], capture_output=True, text=True, check=True
        )
        return json.loads(result.stdout)

    lazy, naive = peak_growth_kib("lazy"), peak_growth_kib("naive")
    assert lazy["dtype"] == "torch.bfloat16"
    # one bf16 copy is 64 MiB (+ one 16 MiB shard mapped); the naive way holds 128 MiB fp32 on top.
    assert lazy["grew_kib"] < 130 * 1024 < naive["grew_kib"], (lazy, naive)


def test_transformer_config_round_trips_through_its_dict():
    config = load_preset("contentv-8b").transformer
    assert MMDiTConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
