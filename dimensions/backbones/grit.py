"""GRiT-B (`grit_b_densecap_objectdet.pth`), the detector and captioner of VBench's object dimensions.

The module tree mirrors the checkpoint (`backbone`, `proposal_generator`, `roi_heads` with
`text_decoder` and `text_decoder_det` sharing one `textual` head), so VBench's file,
`{"model": state_dict}`, loads with a strict `load_state_dict` after `torch.load(weights_only=True)`.
Sizes are read from the tensors, so a smaller model saved in the same layout loads the same way.

Inference as VBench runs it (detectron2 `GRiT.inference` behind `DenseCaptioning.run_caption_tensor`):
the frame is used at its own size (RGB, float 0–255), normalised with GRiT's pixel mean/std,
zero-padded bottom/right to a multiple of 32; backbone → CenterNet proposals → cascade → boxes with
score > 0.5 → captions. ObjectDet names come from the [CLS] task token, DenseCap descriptions from
token 104; VBench runs the whole ROI pipeline once per task on the same proposals (so the boxes are
the same), here boxes are computed once and the memory states are shared by both tasks. A box's
score is √(detection score · exp(caption log-probability)) of the task's caption: ObjectDet's, or
DenseCap's when captions are asked for (as VBench's two modes; no dimension reads scores).

Frames of one size go through the backbone together (as many as the attention memory budget
allows); on CUDA the networks run under fp16 autocast (bf16 or fp32 by option), boxes decode in fp32.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones import bert_tokenizer
from vbench_lite.dimensions.backbones.detections import FrameDetections
from vbench_lite.dimensions.backbones.grit_proposals import ProposalGenerator, decode_proposals
from vbench_lite.dimensions.backbones.grit_roi import OBJECT_POOL, RoiHeads, pool_boxes
from vbench_lite.dimensions.backbones.grit_text import (
    DENSECAP_TOKEN,
    OBJECTDET_TOKEN,
    TextualHead,
    greedy_captions,
)
from vbench_lite.dimensions.backbones.grit_vit import PYRAMID_STRIDES, SIZE_DIVISIBILITY, WINDOW_SIZE, ViT, ViTFPN
from vbench_lite.errors import VblError
from vbench_lite.weights import WeightSpec, require_weight

GRIT_SPEC = WeightSpec(
    key="grit_b_densecap_objectdet",
    file="grit_b_densecap_objectdet.pth",
    backend="vbench",
    vbench_subdir="grit_model",
    url="https://huggingface.co/OpenGVLab/VBench_Used_Models/resolve/main/grit_b_densecap_objectdet.pth",
    licence="MIT",
    what="GRiT-B dense captioner / object detector, object_class, multiple_objects, color, spatial_relationship",
)
PIXEL_MEAN = (123.675, 116.280, 103.530)  # RGB, 0–255
PIXEL_STD = (58.395, 57.12, 57.375)
ATTENTION_BUDGET_BYTES = 2 << 30  # bounds the frames per backbone batch (global attention is quadratic)
CAPTION_CHUNK = 64  # boxes whose memory states are held at once
AUTOCAST = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": None}


@dataclass(frozen=True)
class GritConfig:
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    global_blocks: tuple[int, ...] = (2, 5, 8, 11)
    global_table: int = 127
    channels: int = 256  # pyramid width
    fc_dim: int = 1024
    text_hidden: int = 768
    text_layers: int = 6
    text_ffn: int = 3072
    vocab: int = 30522
    positions: int = 1024

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> GritConfig:
        vit, text = "backbone.bottom_up.", "roi_heads.text_decoder.textual."
        blocks = sorted({int(k.split(".")[3]) for k in state if k.startswith(vit + "blocks.")})
        tables = {i: state[f"{vit}blocks.{i}.attn.rel_pos_h"].shape for i in blocks}
        embed_dim = state[vit + "patch_embed.proj.weight"].shape[0]
        global_blocks = tuple(i for i in blocks if tables[i][0] != 2 * WINDOW_SIZE - 1)
        layers = {int(k.split(".")[6]) for k in state if k.startswith(text + "transformer.encoder.layer.")}
        words = state[text + "embedding.words.weight"].shape
        return cls(
            embed_dim=embed_dim,
            depth=len(blocks),
            num_heads=embed_dim // tables[blocks[0]][1],
            global_blocks=global_blocks,
            global_table=tables[global_blocks[0]][0] if global_blocks else 127,
            channels=state["backbone.fpn_stride8_conv1.weight"].shape[0],
            fc_dim=state["roi_heads.box_head.0.fc1.weight"].shape[0],
            text_hidden=words[1],
            text_layers=len(layers),
            text_ffn=state[text + "transformer.encoder.layer.0.intermediate.dense.weight"].shape[0],
            vocab=words[0],
            positions=state[text + "embedding.positions.weight"].shape[0],
        )


class TextDecoder(nn.Module):
    def __init__(self, textual: TextualHead):
        super().__init__()
        self.textual = textual


class GRiT(nn.Module):
    def __init__(self, config: GritConfig = GritConfig()):
        super().__init__()
        self.config = config
        vit = ViT(config.embed_dim, config.depth, config.num_heads, config.global_blocks, config.global_table)
        self.backbone = ViTFPN(vit, config.embed_dim, config.channels)
        self.proposal_generator = ProposalGenerator(config.channels)
        self.roi_heads = RoiHeads(config.channels, config.fc_dim)
        textual = TextualHead(config.channels, config.text_hidden, config.text_layers, config.vocab,
                              config.positions, config.text_ffn)
        # GRiT builds two decoders (task, ObjectDet) around one textual head: both keys, one module.
        self.roi_heads.text_decoder = TextDecoder(textual)
        self.roi_heads.text_decoder_det = TextDecoder(textual)
        self.pixel_mean: torch.Tensor
        self.pixel_std: torch.Tensor
        self.register_buffer("pixel_mean", torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(PIXEL_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def textual(self) -> TextualHead:
        return cast(TextDecoder, self.roi_heads.text_decoder).textual

    def boxes(self, pixels: torch.Tensor,
              size: tuple[int, int]) -> tuple[list[torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]]:
        """Frames [B, 3, H, W] (float 0–255, one size) → pyramid p3–p5 and per frame (boxes, scores)."""
        images = (pixels - self.pixel_mean) / self.pixel_std
        pad_h, pad_w = -size[0] % SIZE_DIVISIBILITY, -size[1] % SIZE_DIVISIBILITY
        images = torch.nn.functional.pad(images, (0, pad_w, 0, pad_h))
        features = self.backbone(images)
        heats, regressions = self.proposal_generator.centernet_head(features)
        proposals = decode_proposals(heats, regressions, PYRAMID_STRIDES)
        detections = self.roi_heads.detect(features[:3], [p.boxes for p in proposals], [p.scores for p in proposals],
                                           [size] * len(proposals))
        return features[:3], detections


def _frames_per_batch(height: int, width: int, config: GritConfig, budget: int) -> int:
    tokens = (height // 16 + 1) * (width // 16 + 1)
    per_frame = 4 * 4 * config.num_heads * tokens * tokens  # bias, scores and softmax of global attention
    return max(1, budget // max(per_frame, 1))


class GritDetector:
    """GRiT behind the `Detector` protocol: names (ObjectDet) and, on request, DenseCap captions."""

    def __init__(self, model: GRiT, device: str = "cpu", autocast: str = "fp16",
                 budget: int = ATTENTION_BUDGET_BYTES):
        self.model = model
        self.device = torch.device(device)
        self.autocast_dtype = AUTOCAST[autocast] if self.device.type == "cuda" else None
        self.budget = budget

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    @torch.no_grad()
    def detect(self, frames: list[np.ndarray], captions: bool = False) -> list[FrameDetections]:
        results: list[FrameDetections | None] = [None] * len(frames)
        by_size: dict[tuple[int, int], list[int]] = {}
        for index, frame in enumerate(frames):
            by_size.setdefault((frame.shape[0], frame.shape[1]), []).append(index)
        for size, indices in by_size.items():
            step = _frames_per_batch(*size, self.model.config, self.budget)
            for start in range(0, len(indices), step):
                chunk = indices[start:start + step]
                pixels = torch.as_tensor(np.stack([np.asarray(frames[i], dtype=np.float32) for i in chunk]))
                for index, found in zip(chunk, self._detect(pixels.permute(0, 3, 1, 2).to(self.device), size, captions),
                                        strict=True):
                    results[index] = found
        return [r for r in results if r is not None]

    def _detect(self, pixels: torch.Tensor, size: tuple[int, int], captions: bool) -> list[FrameDetections]:
        with self._autocast():
            features, detections = self.model.boxes(pixels, size)
            counts = [len(boxes) for boxes, _ in detections]
            boxes = [b for b, _ in detections]
            names, descriptions, logprobs = self._captions(features, boxes, captions)
        out, offset = [], 0
        for (frame_boxes, frame_scores), count in zip(detections, counts, strict=True):
            span = slice(offset, offset + count)
            offset += count
            scores = (frame_scores * logprobs[span].exp()) ** 0.5
            out.append(FrameDetections(
                boxes=frame_boxes.float().cpu().numpy(), scores=scores.float().cpu().numpy(),
                names=tuple(names[span]), captions=tuple(descriptions[span]) if captions else ()))
        return out

    def _captions(self, features: list[torch.Tensor], boxes: list[torch.Tensor],
                  dense: bool) -> tuple[list[str], list[str], torch.Tensor]:
        """ObjectDet names, DenseCap descriptions (if `dense`) and the task's caption log-probabilities
        of every box, the boxes of all frames batched."""
        total = sum(len(b) for b in boxes)
        if total == 0:
            return [], [], torch.zeros(0, device=self.device)
        pooled = pool_boxes(features, boxes, OBJECT_POOL)  # [n, C, 14, 14]
        memory_in = pooled.flatten(2).transpose(1, 2)  # [n, 196, C]
        names: list[str] = []
        descriptions: list[str] = []
        logprobs = []
        for start in range(0, total, CAPTION_CHUNK):
            memory = self.model.textual.memory_states(memory_in[start:start + CAPTION_CHUNK])
            tokens, chunk_logprobs = greedy_captions(self.model.textual, memory, OBJECTDET_TOKEN)
            names += [bert_tokenizer.decode(row[1:]) for row in tokens.tolist()]
            if dense:
                tokens, chunk_logprobs = greedy_captions(self.model.textual, memory, DENSECAP_TOKEN)
                descriptions += [bert_tokenizer.decode(row[1:]) for row in tokens.tolist()]
            logprobs.append(chunk_logprobs)
        return names, descriptions, torch.cat(logprobs)


# ---- loading -----------------------------------------------------------------------------------


def grit_from_state_dict(state: dict[str, torch.Tensor], source: str = "the GRiT checkpoint") -> GRiT:
    """Build a GRiT shaped like `state` and load it strictly; VblError names what does not fit."""
    try:
        config = GritConfig.from_state_dict(state)
    except (KeyError, IndexError, AttributeError) as error:
        raise VblError(f"{source} is not a GRiT checkpoint (no tensor {error}); "
                       "expected VBench's grit_b_densecap_objectdet.pth") from None
    model = GRiT(config)
    expected = model.state_dict()
    for key, tensor in state.items():
        if key in expected and tensor.shape != expected[key].shape:
            raise VblError(f"{source} does not match GRiT-B: {key} has shape {tuple(tensor.shape)}, "
                           f"expected {tuple(expected[key].shape)}")
    result = model.load_state_dict(state, strict=False)
    problems = [f"missing {k}" for k in result.missing_keys] + [f"unexpected {k}" for k in result.unexpected_keys]
    if problems:
        raise VblError(f"{source} does not match GRiT-B: {', '.join(problems[:3])}"
                       f"{f' (+{len(problems) - 3} more)' if len(problems) > 3 else ''}")
    return model.eval()


def read_grit_state(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a detectron2 checkpoint `{"model": state_dict}` (or a bare state dict)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle or zip errors: not a torch file, or not plain tensors
        raise VblError(f"{path} cannot be read as a weights-only torch checkpoint: {error}") from None
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        checkpoint = checkpoint["model"]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise VblError(f"{path} is not a GRiT checkpoint: expected {{'model': state_dict}}")
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def load_grit_file(path: Path) -> GRiT:
    return grit_from_state_dict(read_grit_state(path), source=str(path))


def load_grit(context: ScoringContext) -> tuple[GritDetector, Path]:
    """The process's shared GRiT detector and its file (WeightsMissing if absent)."""
    path = require_weight(GRIT_SPEC, context.weights_dir)
    autocast = str(context.options.get("grit.autocast", "fp16"))
    if autocast not in AUTOCAST:
        raise VblError(f"--option grit.autocast takes {', '.join(AUTOCAST)}, not {autocast!r}")
    model = context.backbones.get(("grit-b", str(path), context.device),
                                  lambda: load_grit_file(path).to(context.device))
    return GritDetector(model, context.device, autocast), path
