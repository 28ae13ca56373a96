"""Generators backed by diffusers pipelines, driven by a table of model specs (`SPECS` below).

Each spec names the diffusers class, the licence, the defaults of the model card and the frame
rule; one `Generator` subclass per spec is registered as its own entry point (`modelscope-t2v`,
`i2vgen-xl`, `wan2.1-t2v`, `cogvideox-2b`, `cogvideox-5b`, `hunyuanvideo`). Weights come from a
local folder only (`--weights DIR`, `DIR/<repo name>`, `$VBL_WEIGHTS_DIR/<repo name>`, or the HF
cache when it already holds the snapshot); `local_files_only=True`, never a download. A model under
a non-commercial or territorial licence needs `--accept-license NAME`.

The frame rule is applied before the call; the effective parameters are returned with the video.
Output is requested as `output_type="np"` (float in [0, 1]) and rounded to uint8.
"""

from __future__ import annotations

import inspect
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from vbench_lite.errors import InputError, WeightsMissing
from vbench_lite.generator import FrameRule, GeneratedVideo, GenerationRequest, Generator
from vbench_lite.video import write_mp4


class VideoPipeline(Protocol):
    """What this adapter calls on a loaded diffusers pipeline (each pipeline class has its own
    `__call__` signature, read with `inspect.signature` before calling)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

    def set_progress_bar_config(self, **kwargs: Any) -> None: ...


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    pipeline_class: str  # a class exported by `diffusers`
    hf_repo: str  # where the weights are published; only the folder name is used locally
    licence: str
    needs_acceptance: bool  # non-commercial or territorial licence
    task: str
    frame_rule: FrameRule
    defaults: dict[str, Any]
    fp32_vae: str | None = None  # VAE class to load in fp32 (Wan's recommendation)
    call_extras: dict[str, Any] = field(default_factory=dict)  # fixed extra __call__ kwargs


SPECS: dict[str, PipelineSpec] = {
    spec.name: spec
    for spec in [
        PipelineSpec(
            "modelscope-t2v",
            "TextToVideoSDPipeline",
            "ali-vilab/text-to-video-ms-1.7b",
            "CC-BY-NC-4.0 (non-commercial)",
            True,
            "t2v",
            FrameRule(1, 0, 8),
            dict(num_frames=16, height=256, width=256, steps=50, guidance=9.0, fps=8),
        ),
        PipelineSpec(
            "i2vgen-xl",
            "I2VGenXLPipeline",
            "ali-vilab/i2vgen-xl",
            "MIT",
            False,
            "i2v",
            FrameRule(1, 0, 8),
            dict(num_frames=16, height=704, width=1280, steps=50, guidance=9.0, fps=16),
            call_extras={"target_fps": 16, "decode_chunk_size": 1},
        ),
        PipelineSpec(
            "wan2.1-t2v",
            "WanPipeline",
            "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            "Apache-2.0",
            False,
            "t2v",
            FrameRule(4, 1, 16),
            dict(num_frames=81, height=480, width=832, steps=50, guidance=5.0, fps=16),
            fp32_vae="AutoencoderKLWan",
        ),
        PipelineSpec(
            "cogvideox-2b",
            "CogVideoXPipeline",
            "THUDM/CogVideoX-2b",
            "Apache-2.0",
            False,
            "t2v",
            FrameRule(4, 1, 16),
            dict(num_frames=49, height=480, width=720, steps=50, guidance=6.0, fps=8),
        ),
        PipelineSpec(
            "cogvideox-5b",
            "CogVideoXPipeline",
            "THUDM/CogVideoX-5b",
            "CogVideoX License (usage limits)",
            True,
            "t2v",
            FrameRule(4, 1, 16),
            dict(num_frames=49, height=480, width=720, steps=50, guidance=6.0, fps=8),
        ),
        PipelineSpec(
            "hunyuanvideo",
            "HunyuanVideoPipeline",
            "hunyuanvideo-community/HunyuanVideo",
            "Tencent Hunyuan Community License (territorial and usage limits)",
            True,
            "t2v",
            FrameRule(4, 1, 16),
            dict(num_frames=129, height=720, width=1280, steps=50, guidance=6.0, fps=24),
            call_extras={"true_cfg_scale": 1.0},  # guidance 6.0 is embedded guidance
        ),
    ]
}

DTYPE_NAMES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


class DiffusersGenerator(Generator):
    """A diffusers pipeline behind the Generator contract; subclasses bind one `PipelineSpec`."""

    spec: ClassVar[PipelineSpec]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        spec = cls.spec
        cls.name, cls.task, cls.licence = spec.name, spec.task, spec.licence
        cls.licence_needs_acceptance = spec.needs_acceptance
        cls.constraints = spec.frame_rule
        # pipeline_kwargs: further __call__ arguments as given (e.g. {"max_sequence_length": 226})
        cls.defaults = {**spec.defaults, "negative_prompt": "", "path": None, "pipeline_kwargs": {}}
        cls.description = f"diffusers {spec.pipeline_class} ({spec.hf_repo}), local weights only"

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self.pipe: VideoPipeline | None = None
        self.folder: Path | None = None
        self.device = "cpu"

    def weights(self) -> list:
        from vbench_lite.weights import WeightSpec

        folder = self.spec.hf_repo.split("/")[-1]
        return [
            WeightSpec(
                key=self.spec.name,
                file=f"{folder}/model_index.json",
                backend="generator",
                hf_repo=self.spec.hf_repo,
                licence=self.spec.licence,
                what=f"{self.spec.pipeline_class} diffusers folder",
            )
        ]

    def resolve_folder(self, weights: Path | None) -> Path:
        """model_index.json in DIR, DIR/<repo name>, $VBL_WEIGHTS_DIR/<repo name>, or the HF cache."""
        repo_folder = self.spec.hf_repo.split("/")[-1]
        roots = [Path(p) for p in (weights, self.options.get("path"), os.environ.get("VBL_WEIGHTS_DIR")) if p]
        candidates = [c for root in roots for c in (root, root / repo_folder)]
        for candidate in candidates:
            if (candidate / "model_index.json").is_file():
                return candidate
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(self.spec.hf_repo, local_files_only=True))
        except Exception:  # noqa: BLE001 - any failure means "not in the local cache"
            pass
        raise WeightsMissing(
            f"{repo_folder}/model_index.json",
            candidates or [Path("$VBL_WEIGHTS_DIR")],
            f"{self.spec.pipeline_class} ({self.spec.hf_repo})",
        )

    def load(self, device: str, dtype: str, weights: Path | None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import diffusers
            import torch
        except ImportError:
            raise InputError(f"{self.name} needs diffusers: pip install diffusers transformers") from None
        self.folder, self.device = self.resolve_folder(weights), device
        name = DTYPE_NAMES.get(dtype) or ("bfloat16" if str(device).startswith("cuda") else "float32")
        torch_dtype = getattr(torch, name)
        dtype_key = _dtype_argument_name()
        kwargs: dict[str, Any] = {dtype_key: torch_dtype, "local_files_only": True}
        if self.spec.fp32_vae:
            vae_class = getattr(diffusers, self.spec.fp32_vae)
            kwargs["vae"] = vae_class.from_pretrained(
                self.folder, subfolder="vae", local_files_only=True, **{dtype_key: torch.float32}
            )
        pipeline_class = getattr(diffusers, self.spec.pipeline_class)
        try:
            pipe: VideoPipeline = pipeline_class.from_pretrained(self.folder, **kwargs).to(device)
        except (OSError, ValueError) as error:
            raise InputError(
                f"cannot load {self.spec.pipeline_class} from {self.folder}: {str(error).splitlines()[0]}"
            ) from None
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe
        encoder = getattr(pipe, "text_encoder", None)
        if encoder is not None and not hasattr(encoder, "text_model") and hasattr(encoder, "final_layer_norm"):
            # transformers 5 flattened CLIPTextModel; diffusers' deprecated pipelines (I2VGen-XL,
            # ModelScope) still read `.text_model.final_layer_norm` for clip_skip. Alias, unregistered.
            object.__setattr__(encoder, "text_model", encoder)

    def effective_params(self) -> dict[str, Any]:
        o, rule = self.options, self.spec.frame_rule
        return {
            "num_frames": rule.frames(int(o["num_frames"])),
            "height": rule.side(int(o["height"])),
            "width": rule.side(int(o["width"])),
            "num_inference_steps": int(o["steps"]),
            "guidance_scale": float(o["guidance"]),
            "negative_prompt": o.get("negative_prompt") or "",
        }

    def _call_kwargs(self, pipe: VideoPipeline, request: GenerationRequest, params: dict[str, Any]) -> dict[str, Any]:
        import torch

        accepted = inspect.signature(pipe.__call__).parameters
        given = self.options.get("pipeline_kwargs") or {}
        extras = {**self.spec.call_extras, **given}  # spec extras an older diffusers lacks are dropped
        unknown = sorted(set(given) - set(accepted))
        if unknown:
            raise InputError(f"{self.spec.pipeline_class} has no argument '{unknown[0]}'")
        kwargs = {k: v for k, v in {**params, **extras}.items() if k in accepted}
        if "negative_prompt" in kwargs and not kwargs["negative_prompt"]:
            kwargs.pop("negative_prompt")
        if self.spec.task == "i2v":
            if request.image is None:
                raise InputError(f"{self.name} is image-to-video: the request needs an image")
            from PIL import Image

            kwargs["image"] = Image.open(request.image).convert("RGB")
        # a CPU generator: the same seed gives the same noise on every device
        kwargs["generator"] = torch.Generator("cpu").manual_seed(int(request.seed))
        return {"prompt": request.prompt, "output_type": "np", **kwargs}

    def generate(self, requests: list[GenerationRequest]) -> list[GeneratedVideo]:
        pipe = self.pipe
        if pipe is None:
            raise RuntimeError("generate() called before load()")
        results = []
        params = self.effective_params()
        fps = float(self.options["fps"])
        for request in requests:
            start = time.perf_counter()
            try:
                kwargs = self._call_kwargs(pipe, request, params)
                frames = to_uint8_frames(pipe(**kwargs).frames)
                path = write_mp4(Path(request.out_path), frames, fps)
            except Exception as error:  # noqa: BLE001 - third-party pipeline code: fail this video, not the run
                results.append(
                    GeneratedVideo(
                        request, None, seconds=time.perf_counter() - start, error=f"{type(error).__name__}: {error}"
                    )
                )
                continue
            used = {k: v for k, v in kwargs.items() if k not in ("generator", "image", "prompt")}
            results.append(
                GeneratedVideo(
                    request,
                    path,
                    fps=fps,
                    num_frames=int(frames.shape[0]),
                    seconds=time.perf_counter() - start,
                    params={**used, "seed": request.seed, "fps": fps},
                )
            )
        return results

    def provenance(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "revision": str(self.folder),
            "options": self.options,
            "pipeline": self.spec.pipeline_class,
            "licence": self.spec.licence,
        }


def _dtype_argument_name() -> str:
    """`dtype` where diffusers has renamed `torch_dtype` (it marks the old name deprecated), else `torch_dtype`."""
    try:
        from diffusers.utils import deprecation_utils
    except ImportError:
        return "torch_dtype"
    return "dtype" if hasattr(deprecation_utils, "_TORCH_DTYPE_DEPRECATION_MESSAGE") else "torch_dtype"


def to_uint8_frames(output: Any) -> np.ndarray:
    """The first video of a pipeline's `frames` (np [B, T, H, W, C] / list of arrays / PIL) as uint8."""
    video = output[0] if isinstance(output, (list, tuple)) or getattr(output, "ndim", 0) == 5 else output
    if isinstance(video, (list, tuple)):
        video = np.stack([np.asarray(frame) for frame in video])
    video = np.asarray(video)
    if video.dtype != np.uint8:
        video = (np.clip(video.astype(np.float32), 0.0, 1.0) * 255).round().astype(np.uint8)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"pipeline returned frames of shape {video.shape}, expected [T, H, W, 3]")
    return video


class ModelScopeT2V(DiffusersGenerator):
    spec = SPECS["modelscope-t2v"]


class I2VGenXL(DiffusersGenerator):
    spec = SPECS["i2vgen-xl"]


class Wan21T2V(DiffusersGenerator):
    spec = SPECS["wan2.1-t2v"]


class CogVideoX2B(DiffusersGenerator):
    spec = SPECS["cogvideox-2b"]


class CogVideoX5B(DiffusersGenerator):
    spec = SPECS["cogvideox-5b"]


class HunyuanVideo(DiffusersGenerator):
    spec = SPECS["hunyuanvideo"]
