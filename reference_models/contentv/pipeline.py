"""ContentV reference pipeline: encode text -> noise -> flow-matching denoise -> VAE decode -> uint8.

Thin glue over `text`, `mmdit`, `sampler` and `wan_vae`:
- one seed per (prompt, sample): the noise [1, 16, T', H/8, W/8] is drawn from a CPU generator, so
  a seed gives the same video on every device;
- CFG runs cond and uncond as one batch of 2 (same result, faster), or as two passes in parity mode;
- `parity_mode` reproduces the official quirks: noise drawn in the pipeline dtype (bf16), separate
  cond/uncond passes, fp32 VAE, uint8 by truncation (`export_to_video`); otherwise noise is drawn
  in fp32 and cast, and uint8 is rounded. A bf16 VAE (`vae_dtype`) is a non-parity speed option
  (trap 7);
- `flicker` > 0 deliberately degrades the output (alternating frame brightness ±flicker) to give
  the CI gate a known-bad checkpoint; it is recorded in the effective parameters.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vbench_lite.errors import InputError
from vbench_lite.reference_models.contentv import loading, sampler
from vbench_lite.reference_models.contentv.config import Preset, load_preset
from vbench_lite.reference_models.contentv.mmdit import VideoMMDiT
from vbench_lite.reference_models.contentv.text import (
    CLIP_TOKENS,
    SD3TextStack,
    ShapeOnlyText,
    TextEncoder,
    ToyTextEncoder,
)
from vbench_lite.reference_models.contentv.wan_vae import WanVAE


@dataclass
class GenerationParams:
    num_frames: int
    height: int
    width: int
    num_inference_steps: int
    guidance_scale: float
    negative_prompt: str = ""
    parity_mode: bool = False
    batch_cfg: bool = True
    flicker: float = 0.0
    vae_chunk_frames: int = 1


@dataclass
class Timings:
    text: float = 0.0
    denoise: float = 0.0
    decode: float = 0.0
    steps: int = 0
    extra: dict = field(default_factory=dict)


def frame_rule(num_frames: int, temporal_factor: int = 4) -> int:
    """Frames must be temporal_factor·k + 1; other counts round down (with a warning)."""
    frames = max(1, (num_frames - 1) // temporal_factor * temporal_factor + 1)
    if frames != num_frames:
        warnings.warn(f"num_frames {num_frames} is not 4k+1; using {frames}", stacklevel=3)
    return frames


class ContentVPipeline:
    def __init__(
        self,
        preset: Preset,
        transformer: VideoMMDiT,
        vae: WanVAE,
        text: TextEncoder,
        shift: float,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        vae_dtype: torch.dtype = torch.float32,
    ):
        self.preset, self.transformer, self.vae, self.text = preset, transformer, vae, text
        self.shift, self.device, self.dtype, self.vae_dtype = shift, device, dtype, vae_dtype

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def random(
        cls,
        preset: Preset | str,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        vae_dtype: torch.dtype = torch.float32,
        seed: int | None = None,
    ) -> ContentVPipeline:
        """Seeded random weights at the preset's shapes: the `tiny` model, or shape-only 8B runs."""
        preset = load_preset(preset) if isinstance(preset, str) else preset
        seed = preset.init_seed if seed is None else seed
        gains = preset.init_gains
        # cast on meta first: an 8B model is materialised once, directly in its dtype
        transformer = loading.build_on_meta(VideoMMDiT, preset.transformer).to(dtype)
        transformer = loading.init_random_(transformer, seed, device, gains.get("transformer"))
        vae = loading.build_on_meta(WanVAE, preset.vae).to(vae_dtype)
        vae = loading.init_random_(vae, seed + 1, device, gains.get("vae"))
        text: TextEncoder
        if preset.toy_text is not None:
            text = loading.init_random_(loading.build_on_meta(ToyTextEncoder, preset.toy_text), seed + 2, device)
            text.eval()
        else:
            config = preset.transformer
            text = ShapeOnlyText(
                CLIP_TOKENS + preset.max_sequence_length, config.joint_attention_dim, config.pooled_projection_dim
            )
        shift = preset.sampler.shift if preset.sampler.shift is not None else preset.sampler.fallback_shift
        return cls(preset, transformer.eval(), vae.eval(), text, shift, device, dtype, vae_dtype)

    @classmethod
    def from_checkpoint(
        cls,
        folder: Path,
        preset: Preset | str,
        device: str = "cpu",
        dtype: torch.dtype = torch.bfloat16,
        vae_dtype: torch.dtype = torch.float32,
    ) -> ContentVPipeline:
        """A diffusers-layout folder; the shift comes from scheduler/scheduler_config.json."""
        folder = Path(folder)
        preset = load_preset(preset) if isinstance(preset, str) else preset
        if not (folder / "transformer").is_dir() or not (folder / "vae").is_dir():
            raise InputError(f"{folder} is not a ContentV checkpoint (needs transformer/ and vae/)")
        shift = sampler.read_shift(folder)
        transformer = loading.load_transformer(folder / "transformer", dtype, device)
        vae = loading.load_vae(folder / "vae", vae_dtype, device)
        text_config = folder / "text_encoder" / "config.json"
        if text_config.is_file() and json.loads(text_config.read_text()).get("_class_name") == "ToyTextEncoder":
            text = loading.load_toy_text(folder / "text_encoder", device)
        else:
            text = SD3TextStack(folder, device, dtype, preset.max_sequence_length)
        return cls(preset, transformer, vae, text, shift, device, dtype, vae_dtype)

    def save(self, folder: Path, max_shard_bytes: int | None = None) -> Path:
        """diffusers layout: transformer/, vae/, scheduler/, text_encoder/ (toy), model_index.json."""
        folder = Path(folder)
        loading.save_component(
            self.transformer, self.transformer.config.to_dict(), folder / "transformer", max_shard_bytes
        )
        loading.save_component(self.vae, self.vae.config.to_dict(), folder / "vae", max_shard_bytes)
        if isinstance(self.text, ToyTextEncoder):
            loading.save_component(self.text, self.text.config.to_dict(), folder / "text_encoder", stem="model")
        (folder / "scheduler").mkdir(parents=True, exist_ok=True)
        (folder / "scheduler" / "scheduler_config.json").write_text(
            json.dumps(sampler.scheduler_config(self.shift), indent=2) + "\n"
        )
        index = {"_class_name": "ContentVPipeline", "preset": self.preset.name}
        (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
        return folder

    def state_sha256(self) -> str:
        """sha256 over every tensor (name, dtype, shape, bytes) of the three parts, in key order:
        identifies seeded random weights the way a file hash identifies a checkpoint."""
        import hashlib

        digest = hashlib.sha256()
        for part_name in ("transformer", "vae", "text"):
            part = getattr(self, part_name)
            if not isinstance(part, torch.nn.Module):
                continue
            for key, tensor in part.state_dict().items():
                digest.update(f"{part_name}.{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
                digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    # -------------------------------------------------------------------------------- sampling
    def default_params(self, **overrides) -> GenerationParams:
        video, s = self.preset.video, self.preset.sampler
        values: dict[str, Any] = dict(
            num_frames=video.num_frames,
            height=video.height,
            width=video.width,
            num_inference_steps=s.num_inference_steps,
            guidance_scale=s.guidance_scale,
            negative_prompt=self.preset.negative_prompt,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return GenerationParams(**values)

    def initial_noise(self, seed: int, params: GenerationParams) -> torch.Tensor:
        """[1, z, T', H/8, W/8] from a CPU generator; bf16 draw in parity mode, else fp32 then cast."""
        vae = self.vae.config
        shape = (
            1,
            vae.z_dim,
            (params.num_frames - 1) // vae.temporal_factor + 1,
            params.height // vae.spatial_factor,
            params.width // vae.spatial_factor,
        )
        generator = torch.Generator("cpu").manual_seed(int(seed))
        draw_dtype = self.dtype if params.parity_mode else torch.float32
        noise = torch.randn(shape, generator=generator, dtype=draw_dtype)
        return noise.to(device=self.device, dtype=self.dtype)

    def _check_shape(self, params: GenerationParams) -> GenerationParams:
        multiple = self.vae.config.spatial_factor * self.transformer.config.patch_size
        if params.height % multiple or params.width % multiple:
            raise InputError(f"height and width must be multiples of {multiple}, got {params.height}x{params.width}")
        params.num_frames = frame_rule(params.num_frames, self.vae.config.temporal_factor)
        return params

    def _velocity(self, latents, text, pooled, neg_text, neg_pooled, t, params) -> torch.Tensor:
        use_cfg = params.guidance_scale > 1.0
        timestep = t.expand(latents.shape[0]).to(self.device)
        if not use_cfg:
            return self.transformer(latents, text, pooled, timestep)
        if params.batch_cfg and not params.parity_mode:
            both = self.transformer(
                torch.cat([latents, latents]),
                torch.cat([neg_text, text]),
                torch.cat([neg_pooled, pooled]),
                torch.cat([timestep, timestep]),
            )
            v_uncond, v_cond = both.chunk(2)
        else:  # the official order: cond, then uncond
            v_cond = self.transformer(latents, text, pooled, timestep)
            v_uncond = self.transformer(latents, neg_text, neg_pooled, timestep)
        return sampler.cfg_combine(v_uncond, v_cond, params.guidance_scale)

    def _sync(self) -> None:
        if str(self.device).startswith("cuda"):
            torch.cuda.synchronize()

    @torch.inference_mode()
    def generate(
        self, prompts: list[str], seeds: list[int], params: GenerationParams, step_callback=None
    ) -> tuple[np.ndarray, Timings]:
        """uint8 [B, T, H, W, 3] videos for `prompts`, one seed each, and the stage timings."""
        if len(prompts) != len(seeds):
            raise ValueError("one seed per prompt")
        params = self._check_shape(params)
        timings = Timings()
        start = time.perf_counter()
        text, pooled = self.text.encode(prompts, device=self.device, dtype=self.dtype)
        neg_text, neg_pooled = self.text.encode(
            [params.negative_prompt] * len(prompts), device=self.device, dtype=self.dtype
        )
        self._sync()
        timings.text = time.perf_counter() - start

        start = time.perf_counter()
        latents = torch.cat([self.initial_noise(seed, params) for seed in seeds])
        sigmas = sampler.shifted_sigmas(params.num_inference_steps, self.shift)
        timesteps = sampler.model_timesteps(sigmas)
        for i, t in enumerate(timesteps):
            velocity = self._velocity(latents, text, pooled, neg_text, neg_pooled, t, params)
            latents = sampler.euler_step(latents, velocity, float(sigmas[i]), float(sigmas[i + 1]))
            if step_callback is not None:
                step_callback(i, latents)
        self._sync()
        timings.denoise, timings.steps = time.perf_counter() - start, len(timesteps)

        start = time.perf_counter()
        video = self.vae.decode(latents.to(self.vae_dtype), chunk_frames=params.vae_chunk_frames)
        frames = self.to_uint8(video, params)
        timings.decode = time.perf_counter() - start
        return frames, timings

    @staticmethod
    def to_uint8(video: torch.Tensor, params: GenerationParams) -> np.ndarray:
        """[B, 3, T, H, W] in [−1, 1] -> uint8 [B, T, H, W, 3] via x/2 + 0.5 clamped to [0, 1]."""
        unit = (video.float() / 2 + 0.5).clamp(0, 1)
        if params.flicker > 0:  # deliberate degradation: alternate frames brighter / darker
            sign = torch.tensor([1.0 if t % 2 else -1.0 for t in range(unit.shape[2])], device=unit.device)
            unit = (unit + params.flicker * sign.view(1, 1, -1, 1, 1)).clamp(0, 1)
        scaled = unit * 255
        scaled = scaled.floor() if params.parity_mode else scaled.round()
        return scaled.to(torch.uint8).permute(0, 2, 3, 4, 1).cpu().numpy()
