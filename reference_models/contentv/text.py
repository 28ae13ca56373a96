"""Text conditioning: (sequence [B, L, Dj], pooled [B, Dp]) for a list of prompts, SD3's layout.

- `ToyTextEncoder` (preset `tiny`): hashed word tokens, a seeded embedding and one transformer
  layer; `clip_tokens` + `t5_tokens` positions like the SD3 layout, no download, no tokenizer files.
- `SD3TextStack` (preset `contentv-8b`): CLIP-L + OpenCLIP-bigG (penultimate hidden states and
  pooled projections) + T5-XXL (256 tokens) from `transformers`, read from a local folder only.
"""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from vbench_lite.errors import InputError, WeightsMissing
from vbench_lite.reference_models.contentv.config import ToyTextConfig

if TYPE_CHECKING:
    from transformers import T5EncoderModel

PAD_ID, END_ID = 0, 1
CLIP_TOKENS = 77


class TextEncoder(Protocol):
    """What the pipeline asks of its text stack: (sequence [B, L, Dj], pooled [B, Dp])."""

    def encode(
        self, prompts: list[str], device: torch.device | str = ..., dtype: torch.dtype = ...
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


def toy_token_ids(prompt: str, length: int, vocab_size: int) -> list[int]:
    """Words -> stable crc32 ids in [2, vocab), an end token, zero padding to `length`."""
    words = re.findall(r"\w+|[^\w\s]", prompt.lower())
    ids = [2 + zlib.crc32(w.encode()) % (vocab_size - 2) for w in words][: length - 1] + [END_ID]
    return ids + [PAD_ID] * (length - len(ids))


class ToyTextEncoder(nn.Module):
    """Deterministic stand-in for the SD3 text stack with the same output contract."""

    def __init__(self, config: ToyTextConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden_dim)
        self.position = nn.Parameter(torch.randn(config.clip_tokens + config.t5_tokens, config.hidden_dim) * 0.02)
        self.layer = nn.TransformerEncoderLayer(
            config.hidden_dim,
            nhead=2,
            dim_feedforward=2 * config.hidden_dim,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )
        self.clip_proj = nn.Linear(config.hidden_dim, config.joint_attention_dim)
        self.t5_proj = nn.Linear(config.hidden_dim, config.joint_attention_dim)
        self.pooled_proj = nn.Linear(config.hidden_dim, config.pooled_projection_dim)

    def token_ids(self, prompts: list[str]) -> torch.Tensor:
        c = self.config
        rows = [
            toy_token_ids(p, c.clip_tokens, c.vocab_size) + toy_token_ids(p, c.t5_tokens, c.vocab_size) for p in prompts
        ]
        return torch.tensor(rows, dtype=torch.long)

    def encode(self, prompts: list[str], device: torch.device | str = "cpu", dtype=torch.float32):
        ids = self.token_ids(prompts).to(self.embed.weight.device)
        hidden = self.layer(self.embed(ids) + self.position)
        clip, t5 = hidden[:, : self.config.clip_tokens], hidden[:, self.config.clip_tokens :]
        sequence = torch.cat([self.clip_proj(clip), self.t5_proj(t5)], dim=1)
        pooled = self.pooled_proj(clip.mean(dim=1))
        return sequence.to(device=device, dtype=dtype), pooled.to(device=device, dtype=dtype)


class SD3TextStack:
    """CLIP-L + bigG + T5-XXL, SD3 `encode_prompt` recipe; local folder only (HF_HUB_OFFLINE)."""

    def __init__(self, folder: Path, device: str, dtype: torch.dtype, max_sequence_length: int = 256):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from transformers import AutoTokenizer, CLIPTextModelWithProjection, CLIPTokenizer, T5EncoderModel
        except ImportError:
            raise InputError("the contentv-8b text stack needs `pip install transformers`") from None
        folder = Path(folder)
        for sub in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
            if not (folder / sub).is_dir():
                raise WeightsMissing(f"{sub}/", [folder], "ContentV-8B text stack (SD3 layout)")
        self.device, self.dtype, self.max_sequence_length = device, dtype, max_sequence_length
        self.tokenizers = [
            CLIPTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True),
            CLIPTokenizer.from_pretrained(folder / "tokenizer_2", local_files_only=True),
        ]
        # transformers declares `PreTrainedModel.to` through functools.wraps(nn.Module.to), which mypy
        # reads as the unbound function (self first): a wrong signature, hence the narrow ignores.
        self.clips = [
            CLIPTextModelWithProjection.from_pretrained(folder / sub, torch_dtype=dtype, local_files_only=True)
            .to(device)  # type: ignore[arg-type]
            .eval()
            for sub in ("text_encoder", "text_encoder_2")
        ]
        self.t5: T5EncoderModel | None = None
        self.t5_tokenizer: Any = None  # the class tokenizer_config.json names
        if (folder / "text_encoder_3").is_dir():  # SD3 uses zeros when T5 is absent
            # AutoTokenizer: the class named in tokenizer_config.json (T5TokenizerFast in ContentV's folder)
            self.t5_tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer_3", local_files_only=True)
            t5 = T5EncoderModel.from_pretrained(folder / "text_encoder_3", torch_dtype=dtype, local_files_only=True)
            self.t5 = t5.to(device).eval()  # type: ignore[arg-type]  # the wraps(nn.Module.to) signature
        self.joint_dim = self.t5.config.d_model if self.t5 is not None else 4096

    @torch.inference_mode()
    def encode(self, prompts: list[str], device=None, dtype=None):
        device, dtype = device or self.device, dtype or self.dtype
        sequences, pooled = [], []
        for tokenizer, model in zip(self.tokenizers, self.clips, strict=True):
            ids = tokenizer(
                prompts, padding="max_length", max_length=CLIP_TOKENS, truncation=True, return_tensors="pt"
            ).input_ids.to(self.device)
            out = model(ids, output_hidden_states=True)
            sequences.append(out.hidden_states[-2])  # penultimate layer (clip_skip None)
            pooled.append(out.text_embeds)
        clip = torch.cat(sequences, dim=-1)
        clip = F.pad(clip, (0, self.joint_dim - clip.shape[-1]))
        if self.t5 is not None:
            ids = self.t5_tokenizer(
                prompts,
                padding="max_length",
                max_length=self.max_sequence_length,
                truncation=True,
                add_special_tokens=True,
                return_tensors="pt",
            ).input_ids.to(self.device)
            t5 = self.t5(ids)[0]
        else:
            t5 = torch.zeros(len(prompts), self.max_sequence_length, self.joint_dim, device=self.device)
        sequence = torch.cat([clip.to(t5.dtype), t5], dim=-2)
        return sequence.to(device=device, dtype=dtype), torch.cat(pooled, dim=-1).to(device=device, dtype=dtype)


class ShapeOnlyText:
    """Shape-only runs of a preset without a toy encoder (8B speed tests): seeded per-prompt random
    embeddings of the SD3 layout, [B, 77 + max_sequence_length, Dj] and [B, Dp]."""

    def __init__(self, tokens: int, joint_dim: int, pooled_dim: int):
        self.tokens, self.joint_dim, self.pooled_dim = tokens, joint_dim, pooled_dim

    def encode(self, prompts: list[str], device="cpu", dtype=torch.float32):
        sequences, pooled = [], []
        for prompt in prompts:
            generator = torch.Generator("cpu").manual_seed(zlib.crc32(prompt.encode()))
            sequences.append(torch.randn(self.tokens, self.joint_dim, generator=generator))
            pooled.append(torch.randn(self.pooled_dim, generator=generator))
        return (
            torch.stack(sequences).to(device=device, dtype=dtype),
            torch.stack(pooled).to(device=device, dtype=dtype),
        )
