"""Configurations of the reference ContentV model parts, and the presets read from `presets/*.json`.

Field names follow the diffusers `config.json` of each part (`SD3Transformer2DModel`,
`AutoencoderKLWan`), so a checkpoint's own config reads straight into these dataclasses; unknown
fields are ignored.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from vbench_lite.errors import InputError

# diffusers' defaults for AutoencoderKLWan: the model works in z' = (z - mean) / std.
WAN_LATENTS_MEAN = [
    -0.7571,
    -0.7089,
    -0.9113,
    0.1075,
    -0.1745,
    0.9653,
    -0.1517,
    1.5508,
    0.4134,
    -0.0715,
    0.5517,
    -0.3632,
    -0.1922,
    -0.9497,
    0.2503,
    -0.2921,
]
WAN_LATENTS_STD = [
    2.8184,
    1.4541,
    2.3275,
    2.6558,
    1.2196,
    1.7708,
    2.6052,
    2.0743,
    3.2687,
    2.1526,
    2.8652,
    1.5579,
    1.6382,
    1.1253,
    2.8251,
    1.9160,
]


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class MMDiTConfig:
    """SD3-style MMDiT over video tokens (`SD3Transformer3DModel`)."""

    num_layers: int = 38
    num_attention_heads: int = 38
    attention_head_dim: int = 64
    patch_size: int = 2
    in_channels: int = 16
    out_channels: int = 16
    joint_attention_dim: int = 4096
    caption_projection_dim: int = 2432
    pooled_projection_dim: int = 2048
    qk_norm: str | None = "rms_norm"
    dual_attention_layers: tuple[int, ...] = ()
    spatial_interpolation_scale: float = 0.5
    temporal_interpolation_scale: float = 1.0

    @property
    def inner_dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MMDiTConfig:
        values = _known_fields(cls, data)
        values["dual_attention_layers"] = tuple(values.get("dual_attention_layers") or ())
        config = cls(**values)
        if config.dual_attention_layers:
            raise InputError(
                "transformer config has dual_attention_layers (SD3.5-Medium style attn2); "
                "ContentV's reference MMDiT does not support them"
            )
        if config.qk_norm not in ("rms_norm", None):
            raise InputError(f"transformer qk_norm '{config.qk_norm}' is not supported (rms_norm)")
        return config

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["dual_attention_layers"] = list(self.dual_attention_layers)
        return {"_class_name": "SD3Transformer3DModel", **data}


@dataclass(frozen=True)
class WanVAEConfig:
    """Wan2.1 causal 3-D VAE (`AutoencoderKLWan`); "temperal" is the real key."""

    base_dim: int = 96
    z_dim: int = 16
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    attn_scales: tuple[float, ...] = ()
    temperal_downsample: tuple[bool, ...] = (False, True, True)
    latents_mean: tuple[float, ...] = tuple(WAN_LATENTS_MEAN)
    latents_std: tuple[float, ...] = tuple(WAN_LATENTS_STD)

    @property
    def temporal_factor(self) -> int:
        return 2 ** sum(self.temperal_downsample)

    @property
    def spatial_factor(self) -> int:
        return 2 ** (len(self.dim_mult) - 1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WanVAEConfig:
        # Wan2.2's VAE shares the class name but not the architecture.
        if data.get("is_residual"):
            raise InputError("vae config has is_residual: true (Wan2.2 VAE); only Wan2.1 is supported")
        if data.get("patch_size") is not None:
            raise InputError("vae config has a patch_size (Wan2.2 VAE); only Wan2.1 is supported")
        decoder_base = data.get("decoder_base_dim")
        if decoder_base not in (None, data.get("base_dim", cls.base_dim)):
            raise InputError("vae config has decoder_base_dim != base_dim; not supported")
        values = _known_fields(cls, data)
        for name in ("dim_mult", "attn_scales", "temperal_downsample", "latents_mean", "latents_std"):
            if name in values:
                values[name] = tuple(values[name])
        config = cls(**values)
        if config.attn_scales:
            raise InputError("vae config has attn_scales; the Wan2.1 VAE has none")
        if len(config.latents_mean) != config.z_dim or len(config.latents_std) != config.z_dim:
            raise InputError(f"vae latents_mean/latents_std must have z_dim={config.z_dim} values")
        return config

    def to_dict(self) -> dict[str, Any]:
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        return {"_class_name": "AutoencoderKLWan", **data}


@dataclass(frozen=True)
class ToyTextConfig:
    """The tiny preset's seeded text encoder: hashed byte tokens, one layer."""

    clip_tokens: int = 8
    t5_tokens: int = 16
    vocab_size: int = 512
    hidden_dim: int = 64
    joint_attention_dim: int = 64
    pooled_projection_dim: int = 32

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyTextConfig:
        return cls(**_known_fields(cls, data))

    def to_dict(self) -> dict[str, Any]:
        return {"_class_name": "ToyTextEncoder", **dataclasses.asdict(self)}


@dataclass(frozen=True)
class SamplerConfig:
    """Flow-matching Euler with shift and CFG."""

    num_inference_steps: int = 50
    guidance_scale: float = 6.0
    shift: float | None = None  # None: read scheduler/scheduler_config.json; never a constant
    fallback_shift: float = 3.0  # random-weight presets only (no scheduler config to read)


@dataclass(frozen=True)
class VideoConfig:
    num_frames: int = 125
    height: int = 432
    width: int = 768
    fps: float = 24.0


@dataclass(frozen=True)
class Preset:
    name: str
    transformer: MMDiTConfig
    vae: WanVAEConfig
    text: str  # "toy" or "sd3" (CLIP-L + bigG + T5-XXL from transformers)
    toy_text: ToyTextConfig | None
    sampler: SamplerConfig
    video: VideoConfig
    max_sequence_length: int = 256
    negative_prompt: str = ""
    init_seed: int = 0  # random-init seed when no weights are given
    init_gains: dict[str, dict[str, float]] = field(default_factory=dict)  # part -> tensor -> gain
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preset:
        toy = data.get("toy_text")
        return cls(
            name=data["name"],
            transformer=MMDiTConfig.from_dict(data["transformer"]),
            vae=WanVAEConfig.from_dict(data["vae"]),
            text=data.get("text", "toy"),
            toy_text=ToyTextConfig.from_dict(toy) if toy is not None else None,
            sampler=SamplerConfig(**data.get("sampler", {})),
            video=VideoConfig(**data.get("video", {})),
            max_sequence_length=data.get("max_sequence_length", 256),
            negative_prompt=data.get("negative_prompt", ""),
            init_seed=data.get("init_seed", 0),
            init_gains=data.get("init_gains", {}),
        )


def preset_names() -> list[str]:
    folder = resources.files("vbench_lite.reference_models.contentv") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_preset(name: str) -> Preset:
    """A preset from `reference_models/contentv/presets/<name>.json`."""
    path = resources.files("vbench_lite.reference_models.contentv") / "presets" / f"{name}.json"
    if not path.is_file():
        raise InputError(f"unknown ContentV preset '{name}'; known: {', '.join(preset_names())}")
    return Preset.from_dict(json.loads(path.read_text()))
