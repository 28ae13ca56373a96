"""Generators backed by the bundled ContentV reference implementation (`vbench_lite.reference_models.contentv`).

- `reference-tiny`: the `tiny` preset with seeded random weights and a toy text encoder; needs no
  download, makes a 17-frame 64×64 video in seconds on CPU — the embedded default generator.
  Option `flicker` (e.g. 0.1) deliberately degrades it, for the gate's known-bad checkpoint.
- `contentv`: ByteDance/ContentV-8B from a local diffusers-layout folder (`--weights DIR` or
  `$VBL_WEIGHTS_DIR/ContentV-8B`); option `shape_only: true` runs the true shape with random
  weights, for speed measurements where the checkpoint cannot be had.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from vbench_lite.errors import InputError, WeightsMissing
from vbench_lite.generator import FrameRule, GeneratedVideo, GenerationRequest, Generator
from vbench_lite.video import write_mp4
from vbench_lite.weights import WeightSpec, find_weight, search_dirs, sha256_of

if TYPE_CHECKING:
    from vbench_lite.reference_models.contentv.pipeline import ContentVPipeline

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}

SHA256_MAX_RANDOM_PARAMETERS = 100_000_000
CONTENTV_WEIGHTS = WeightSpec(
    key="contentv_8b",
    file="ContentV-8B/model_index.json",
    backend="generator",
    hf_repo="ByteDance/ContentV-8B",
    licence="Apache-2.0 (code, Wan VAE); MMDiT under the Stability AI Community License",
    what="ContentV-8B diffusers folder (transformer/, vae/, scheduler/, text encoders)",
)


def resolve_dtype(name: str, device: str, default: torch.dtype) -> torch.dtype:
    if name in ("", "auto", None):
        return default if str(device).startswith("cuda") else torch.float32
    if name not in DTYPES:
        raise InputError(f"unknown dtype '{name}'; use one of {', '.join(DTYPES)}")
    return DTYPES[name]


class ReferenceTinyGenerator(Generator):
    name = "reference-tiny"
    task = "t2v"
    licence = "Apache-2.0"
    description = "bundled ContentV architecture at toy size, seeded random weights (no download)"
    preset_name = "tiny"
    defaults: ClassVar[dict[str, Any]] = {
        "num_frames": None,  # None: the preset's own value
        "height": None,
        "width": None,
        "steps": None,
        "guidance": None,
        "fps": None,
        "negative_prompt": None,
        "parity_mode": False,
        "batch_cfg": True,
        "flicker": 0.0,
        "vae_dtype": "float32",
        "seed_offset": 0,
    }
    constraints = FrameRule(frame_multiple=4, frame_offset=1, spatial_multiple=16)

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self.pipeline: ContentVPipeline | None = None
        self.weights_path: Path | None = None

    @property
    def loaded(self) -> ContentVPipeline:
        """The pipeline `load` built."""
        if self.pipeline is None:
            raise RuntimeError(f"{self.name}: load() has not been called")
        return self.pipeline

    def _build(self, device: str, dtype: torch.dtype, vae_dtype: torch.dtype, weights: Path | None) -> ContentVPipeline:
        from vbench_lite.reference_models.contentv.pipeline import ContentVPipeline

        if weights is not None:
            return ContentVPipeline.from_checkpoint(weights, self.preset_name, device, dtype, vae_dtype)
        return ContentVPipeline.random(self.preset_name, device, dtype, vae_dtype)

    def load(self, device: str, dtype: str, weights: Path | None) -> None:
        torch_dtype = resolve_dtype(dtype, device, torch.bfloat16)
        vae_dtype = resolve_dtype(self.options.get("vae_dtype", "float32"), device, torch.float32)
        if self.options.get("parity_mode") and vae_dtype != torch.float32:
            raise InputError("parity_mode needs the VAE in float32 (a bf16 VAE is a non-parity option)")
        self.weights_path = Path(weights) if weights is not None else None
        self.pipeline = self._build(device, torch_dtype, vae_dtype, self.weights_path)
        self._resolve_options()

    def _resolve_options(self) -> None:
        """Options left at None take the preset's values, so provenance shows what is used."""
        preset = self.loaded.preset
        resolved = {
            "num_frames": preset.video.num_frames,
            "height": preset.video.height,
            "width": preset.video.width,
            "steps": preset.sampler.num_inference_steps,
            "guidance": preset.sampler.guidance_scale,
            "fps": preset.video.fps,
            "negative_prompt": preset.negative_prompt,
        }
        for key, value in resolved.items():
            if self.options.get(key) is None:
                self.options[key] = value

    def params(self):
        o = self.options
        return self.loaded.default_params(
            num_frames=o.get("num_frames"),
            height=o.get("height"),
            width=o.get("width"),
            num_inference_steps=o.get("steps"),
            guidance_scale=o.get("guidance"),
            negative_prompt=o.get("negative_prompt"),
            parity_mode=bool(o.get("parity_mode")),
            batch_cfg=bool(o.get("batch_cfg", True)),
            flicker=float(o.get("flicker") or 0.0),
        )

    @property
    def fps(self) -> float:
        return float(self.options.get("fps") or self.loaded.preset.video.fps)

    def generate(self, requests: list[GenerationRequest]) -> list[GeneratedVideo]:
        if self.pipeline is None:
            raise RuntimeError("generate() called before load()")
        results = []
        for request in requests:
            start = time.perf_counter()
            params = self.params()
            try:
                seed = int(request.seed) + int(self.options.get("seed_offset", 0))
                frames, timings = self.pipeline.generate([request.prompt], [seed], params)
                write_start = time.perf_counter()
                path = write_mp4(Path(request.out_path), frames[0], self.fps)
                write_seconds = time.perf_counter() - write_start
            except (RuntimeError, ValueError, OSError, InputError) as error:
                results.append(
                    GeneratedVideo(
                        request, None, error=f"{type(error).__name__}: {error}", seconds=time.perf_counter() - start
                    )
                )
                continue
            effective = {
                "preset": self.pipeline.preset.name,
                "num_frames": params.num_frames,
                "height": params.height,
                "width": params.width,
                "steps": params.num_inference_steps,
                "guidance": params.guidance_scale,
                "shift": self.pipeline.shift,
                "seed": seed,
                "negative_prompt": params.negative_prompt,
                "parity_mode": params.parity_mode,
                "batch_cfg": params.batch_cfg,
                "flicker": params.flicker,
                "dtype": str(self.pipeline.dtype).removeprefix("torch."),
                "vae_dtype": str(self.pipeline.vae_dtype).removeprefix("torch."),
                "timings": {
                    "text": timings.text,
                    "denoise": timings.denoise,
                    "decode": timings.decode,
                    "write": write_seconds,
                },
            }
            results.append(
                GeneratedVideo(
                    request,
                    path,
                    fps=self.fps,
                    num_frames=int(frames.shape[1]),
                    seconds=time.perf_counter() - start,
                    params=effective,
                )
            )
        return results

    def provenance(self) -> dict[str, Any]:
        """Preset, revision and weights sha256 (of the checkpoint folder, or of the seeded weights)."""
        info: dict[str, Any] = {"name": self.name, "options": self.options, "preset": self.preset_name}
        if self.weights_path is not None:
            info["revision"] = str(self.weights_path)
            info["weights_sha256"] = sha256_of(self.weights_path)
        elif self.pipeline is not None:
            info["revision"] = f"random-init seed {self.pipeline.preset.init_seed}"
            parameters = sum(p.numel() for p in self.pipeline.transformer.parameters())
            if parameters < SHA256_MAX_RANDOM_PARAMETERS:  # an 8B shape-only model is not hashed
                info["weights_sha256"] = self.pipeline.state_sha256()
        if self.pipeline is not None:
            info["shift"] = self.pipeline.shift
        return info


class ContentVGenerator(ReferenceTinyGenerator):
    name = "contentv"
    licence = "Apache-2.0 code and Wan VAE; the MMDiT weights fall under the Stability AI Community License"
    description = "ByteDance ContentV-8B (SD3.5-L MMDiT + Wan2.1 VAE), our PyTorch implementation"
    preset_name = "contentv-8b"
    defaults = {**ReferenceTinyGenerator.defaults, "shape_only": False}

    def weights(self) -> list:
        return [CONTENTV_WEIGHTS]

    def _resolve(self, weights: Path | None) -> Path:
        if weights is not None:
            weights = Path(weights)
            for candidate in (weights, weights / "ContentV-8B"):
                if (candidate / "transformer").is_dir():
                    return candidate
        found = find_weight(CONTENTV_WEIGHTS, weights)
        if found is None:
            raise WeightsMissing(CONTENTV_WEIGHTS.file, search_dirs(CONTENTV_WEIGHTS, weights), CONTENTV_WEIGHTS.what)
        return found.parent if found.name == "model_index.json" else found

    def _build(self, device, dtype, vae_dtype, weights):
        from vbench_lite.reference_models.contentv.pipeline import ContentVPipeline

        if self.options.get("shape_only"):
            return ContentVPipeline.random(self.preset_name, device, dtype, vae_dtype)
        return ContentVPipeline.from_checkpoint(self._resolve(weights), self.preset_name, device, dtype, vae_dtype)

    def load(self, device: str, dtype: str, weights: Path | None) -> None:
        if weights is None and not self.options.get("shape_only"):
            weights = self._resolve(None)
        super().load(device, dtype, weights)
