"""Human action (Semantic), VBench's human_action: does the video show the action its prompt names?

Per video: 16 frames by VBench's "middle" sampler (padded with the last frame when shorter); UMT's
Kinetics test transform (OpenCV bilinear shorter side → 256, centre crop 224, ÷255, ImageNet
normalisation; backbones/umt_input.py); z = the UMT ViT-L/16 Kinetics-400 logits of the clip;
    p = sigmoid(z);  top-5 classes by p;  kept = {c in top-5 : round(p_c, 4) ≥ 0.85};
    value = (label ∈ kept)   — a boolean; `cor_num_per_video` = 1 if true, else 0.
Aggregate: correct videos / all videos.

The label: `aux["human_action"]` where a suite gives one (our YAML suites; it must be a Kinetics-400
class name), else VBench's rule applied to the prompt: lower-cased, the text before the first "-",
after the last "person is ", before the first "_" ("A person is riding a bike" → "riding a bike").
VBench applies the rule to the file name `{prompt}-{i}.mp4`, which gives the same label; a video
without a prompt uses its file name. Option `human_action.label_from=file_name` applies the rule to
the file name only, as VBench does, also in custom-input runs (where VBench keeps ".mp4" in the label
of a file named without "-{i}", so such videos never count as correct).

Backend: "vbench" only (`l16_ptk710_ftk710_ftk400_f16_res224.pth`); no installable package ships a
Kinetics action classifier, so there is no embedded backend.
Deviations: several videos share a forward (`batch_size // 16` per forward; VBench: one); attention
runs through PyTorch's fused kernel (same arithmetic to float rounding). VBench runs fp32 on every
device and so do we by default; option `human_action.autocast=fp16|bf16` (CUDA only) trades exact
agreement near the 0.85 threshold for speed. Per video, `label` and `top5` ([class, rounded p]) are
stored next to VBench's keys for drill-down.
"""

from __future__ import annotations

import contextlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import ClassVar

import torch

from vbench_lite.dimension import Dimension, FrameNeeds, Option, VideoScore, one_of
from vbench_lite.dimensions.backbones.selection import backend_for
from vbench_lite.dimensions.backbones.umt import UMT_WEIGHTS, load_umt
from vbench_lite.dimensions.backbones.umt_input import umt_clip
from vbench_lite.errors import InputError
from vbench_lite.video import Video, VideoMeta
from vbench_lite.weights import WeightSpec

CLIP_FRAMES = 16
TOP_K = 5
PROBABILITY_DECIMALS = 4
KEEP_AT_LEAST = 0.85  # compared with the probability rounded to 4 decimals
AUX_KEY = "human_action"
CORRECT_COUNT = "cor_num_per_video"  # VBench's per-video JSON key
LABEL_FROM_OPTION, LABEL_SOURCES = "human_action.label_from", ("prompt", "file_name")
AUTOCAST_OPTION, AUTOCAST_DTYPES = "human_action.autocast", {"none": None, "fp16": torch.float16,
                                                             "bf16": torch.bfloat16}
NO_EMBEDDED = "no embedded backend exists: no installable package ships Kinetics-400 action weights"


@cache
def kinetics_400_classes() -> tuple[str, ...]:
    """The 400 class names in the order of UMT's outputs, lower-cased (VBench's `build_dict`)."""
    text = (resources.files("vbench_lite.dimensions") / "data" / "kinetics_400_classes.txt").read_text()
    return tuple(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def vbench_label(text: str) -> str:
    """VBench's ground-truth rule, applied to a file name or a prompt."""
    return text.lower().split("-")[0].split("person is ")[-1].split("_")[0]


def top5(logits: torch.Tensor) -> list[list[tuple[str, float]]]:
    """Per row of [N, 400] logits: the 5 most probable (class, p rounded to 4 decimals), best first."""
    probabilities, indices = torch.topk(torch.sigmoid(logits.float()), TOP_K, dim=1)
    names = kinetics_400_classes()
    return [[(names[int(i)], round(float(p), PROBABILITY_DECIMALS)) for p, i in zip(row_p, row_i, strict=True)]
            for row_p, row_i in zip(probabilities, indices, strict=True)]


def is_correct(label: str, ranked: list[tuple[str, float]]) -> bool:
    """VBench's verdict: the label is one of the top-5 classes whose rounded p is at least 0.85."""
    return any(name == label for name, p in ranked if p >= KEEP_AT_LEAST)


class HumanAction(Dimension):
    name: ClassVar[str] = "human_action"
    version: ClassVar[str] = "1"
    group: ClassVar = "semantic"
    frames: ClassVar[FrameNeeds] = FrameNeeds("middle", count=CLIP_FRAMES)
    backends: ClassVar[tuple[str, ...]] = ("vbench",)
    options: ClassVar[tuple[Option, ...]] = (
        Option(LABEL_FROM_OPTION, one_of(*LABEL_SOURCES), "where the action label comes from"),
        Option(AUTOCAST_OPTION, one_of(*AUTOCAST_DTYPES), "CUDA autocast of the UMT forward"),
    )
    value_kind: ClassVar = "bool"
    description: ClassVar[str] = "UMT Kinetics-400 top-5 (p ≥ 0.85) contains the prompt's action"

    def weights(self) -> list[WeightSpec]:
        return [UMT_WEIGHTS]

    def unavailable_reason(self) -> str | None:
        reason = super().unavailable_reason()
        return f"{reason}; {NO_EMBEDDED}" if reason and NO_EMBEDDED not in reason else reason

    def setup(self) -> None:
        options = self.context.options
        if self.label_from not in LABEL_SOURCES:
            raise InputError(f"{LABEL_FROM_OPTION} must be one of {', '.join(LABEL_SOURCES)}, not '{self.label_from}'")
        autocast = str(options.get(AUTOCAST_OPTION, "none"))
        if autocast not in AUTOCAST_DTYPES:
            raise InputError(f"{AUTOCAST_OPTION} must be one of {', '.join(AUTOCAST_DTYPES)}, not '{autocast}'")
        if autocast != "none" and torch.device(self.context.device).type != "cuda":
            raise InputError(f"{AUTOCAST_OPTION}={autocast} needs a CUDA device; on {self.context.device} use none")
        self._autocast = AUTOCAST_DTYPES[autocast]
        self.backend = backend_for(self)  # "vbench": the only backend
        self._model, self.weights_path = load_umt(self.context)

    @property
    def label_from(self) -> str:
        return str(self.context.options.get(LABEL_FROM_OPTION, "prompt"))

    def label(self, video: Video) -> str:
        if self.label_from == "file_name":
            return vbench_label(Path(video.path).name)
        if AUX_KEY in video.aux:
            return str(video.aux[AUX_KEY]).strip().lower()
        return vbench_label(video.prompt) if video.prompt else vbench_label(Path(video.path).name)

    def skip_reason(self, video: Video | VideoMeta) -> str | None:
        given = video.aux.get(AUX_KEY)
        if self.label_from == "prompt" and given is not None and str(given).strip().lower() not in \
                kinetics_400_classes():
            return f"aux human_action '{given}' is not a Kinetics-400 class name"
        return super().skip_reason(video)

    @torch.no_grad()
    def _logits(self, videos: list[Video]) -> torch.Tensor:
        device = torch.device(self.context.device)
        autocast = torch.autocast("cuda", dtype=self._autocast) if self._autocast else contextlib.nullcontext()
        per_forward = max(1, self.context.batch_size // CLIP_FRAMES)
        logits = []
        for start in range(0, len(videos), per_forward):
            clips = torch.stack([umt_clip(v.frames) for v in videos[start : start + per_forward]]).to(device)
            with autocast:
                logits.append(self._model(clips).float().cpu())
        return torch.cat(logits) if logits else torch.empty(0, len(kinetics_400_classes()))

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        reasons = [self.skip_reason(video) for video in videos]
        scored = [video for video, reason in zip(videos, reasons, strict=True) if reason is None]
        ranked_per_video = iter(top5(self._logits(scored)))
        scores = []
        for video, reason in zip(videos, reasons, strict=True):
            if reason is not None:
                scores.append(VideoScore(value=None, skipped=reason))
                continue
            label, ranked = self.label(video), next(ranked_per_video)
            correct = is_correct(label, ranked)
            scores.append(VideoScore(value=correct, extra={
                CORRECT_COUNT: int(correct), "label": label, "top5": [[name, p] for name, p in ranked]}))
        return scores
