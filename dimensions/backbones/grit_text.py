"""GRiT's text decoder: a 6-layer post-LN BERT over [object memory; text] and its greedy search.

Attribute names are the checkpoint's keys under `roi_heads.text_decoder.textual.` (and, for the
same module, `roi_heads.text_decoder_det.textual.`): `object_feature_projection.{0, 1}`,
`embedding.{words, positions, layer_norm}`, `transformer.encoder.layer.N.{attention.self.{query,
key, value}, attention.output.{dense, LayerNorm}, intermediate.dense, output.{dense, LayerNorm}}`
and `output` (its weight tied to `embedding.words`).

The memory is the 14×14 pooled object feature, projected (Linear + LayerNorm) to 196 tokens. In
GRiT's mask memory tokens never see text tokens, and text tokens see the memory and earlier text,
so each layer's memory states do not depend on the caption: they are computed once per box (and
shared by both task prompts), and the text states of earlier steps are cached. GRiT recomputes the
whole sequence at every step; the arithmetic is the same up to float rounding.

Greedy search exactly as GRiT's AutoRegressiveBeamSearch with beam 1: step 0 takes the argmax of
log-softmax; later steps forbid repeating the previous token (its logit set to −10000), rows that
produced [SEP] keep producing it at log-probability 0, and the search stops at 40 tokens
(including the task token) or when every row ended. The caption's log-probability is the sum over
steps divided by max(1, #tokens ≠ [SEP] + [any [SEP]] − 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

MAX_STEPS = 40
END_TOKEN = 102  # [SEP]
OBJECTDET_TOKEN = 101  # [CLS]: the first of GRiT's train tasks, ObjectDet
DENSECAP_TOKEN = 104  # 103 + 1: the second train task, DenseCap
REPEAT_PENALTY = -10000.0
BERT_HEAD_DIM = 64


class SelfAttention(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)


class DenseNorm(nn.Module):
    def __init__(self, inner: int, hidden: int):
        super().__init__()
        self.dense = nn.Linear(inner, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.self = SelfAttention(hidden)
        self.output = DenseNorm(hidden, hidden)


class Intermediate(nn.Module):
    def __init__(self, hidden: int, ffn: int):
        super().__init__()
        self.dense = nn.Linear(hidden, ffn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))  # erf GELU, as GRiT's BERT


class BertLayer(nn.Module):
    def __init__(self, hidden: int, ffn: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.attention = Attention(hidden)
        self.intermediate = Intermediate(hidden, ffn)
        self.output = DenseNorm(ffn, hidden)

    def heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.num_heads, -1).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.attention.self.key(x)), self.heads(self.attention.self.value(x))

    def forward(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """x [n, t, H] attends to `keys`/`values` [n, heads, k, d] (which include x's own)."""
        query = self.heads(self.attention.self.query(x))
        context = F.scaled_dot_product_attention(query, keys, values)
        context = context.transpose(1, 2).reshape(x.shape)
        attended = self.attention.output(context, x)
        return self.output(self.intermediate(attended), attended)


class Encoder(nn.Module):
    def __init__(self, hidden: int, ffn: int, layers: int, num_heads: int):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(hidden, ffn, num_heads) for _ in range(layers))

    def layers(self) -> list[BertLayer]:
        return [cast(BertLayer, layer) for layer in self.layer]


class Transformer(nn.Module):
    def __init__(self, hidden: int, ffn: int, layers: int, num_heads: int):
        super().__init__()
        self.encoder = Encoder(hidden, ffn, layers, num_heads)


class Embedding(nn.Module):
    def __init__(self, vocab: int, hidden: int, positions: int):
        super().__init__()
        self.words = nn.Embedding(vocab, hidden)
        self.positions = nn.Embedding(positions, hidden)
        self.layer_norm = nn.LayerNorm(hidden, eps=1e-8)

    def forward(self, tokens: torch.Tensor, position: int) -> torch.Tensor:
        return self.layer_norm(self.words(tokens) + self.positions.weight[position])


@dataclass
class MemoryStates:
    """Per layer, the memory tokens' keys and values [n, heads, 196, d]: computed once per box."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]


class TextualHead(nn.Module):
    def __init__(self, object_channels: int, hidden: int, layers: int, vocab: int = 30522,
                 positions: int = 1024, ffn: int | None = None):
        super().__init__()
        self.object_feature_projection = nn.Sequential(nn.Linear(object_channels, hidden), nn.LayerNorm(hidden))
        self.embedding = Embedding(vocab, hidden, positions)
        self.transformer = Transformer(hidden, ffn or 4 * hidden, layers, max(1, hidden // BERT_HEAD_DIM))
        self.output = nn.Linear(hidden, vocab)
        self.output.weight = self.embedding.words.weight  # tied, as in GRiT

    def memory_states(self, object_features: torch.Tensor) -> MemoryStates:
        """object_features [n, 196, C] → every layer's memory keys/values (memory attends to memory only)."""
        x = self.object_feature_projection(object_features)
        keys, values = [], []
        for layer in self.transformer.encoder.layers():
            k, v = layer.keys_values(x)
            keys.append(k)
            values.append(v)
            x = layer(x, k, v)
        return MemoryStates(keys, values)

    def step_logits(self, tokens: torch.Tensor, position: int, memory: MemoryStates,
                    cache: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """Logits of the next token after `tokens` [n] at `position`; appends to the text cache."""
        x = self.embedding(tokens[:, None], position)
        for index, layer in enumerate(self.transformer.encoder.layers()):
            k, v = layer.keys_values(x)
            if len(cache) <= index:
                cache.append((k, v))
            else:
                cache[index] = (torch.cat((cache[index][0], k), dim=2), torch.cat((cache[index][1], v), dim=2))
            keys = torch.cat((memory.keys[index], cache[index][0]), dim=2)
            values = torch.cat((memory.values[index], cache[index][1]), dim=2)
            x = layer(x, keys, values)
        return self.output(x[:, 0]).float()


def greedy_captions(head: TextualHead, memory: MemoryStates, begin_token: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids [n, ≤40] (task token first) and length-normalised log-probabilities [n]."""
    count = memory.keys[0].shape[0]
    device = memory.keys[0].device
    tokens = torch.full((count, 1), begin_token, dtype=torch.long, device=device)
    cache: list[tuple[torch.Tensor, torch.Tensor]] = []
    logprobs = F.log_softmax(head.step_logits(tokens[:, -1], 0, memory, cache), dim=1)
    total, chosen = logprobs.max(dim=1)
    tokens = torch.cat((tokens, chosen[:, None]), dim=1)
    if bool((chosen == END_TOKEN).all()):
        return tokens, total  # GRiT returns here, without length normalisation (the same value)
    while tokens.shape[1] < MAX_STEPS and not bool((tokens[:, -1] == END_TOKEN).all()):
        logits = head.step_logits(tokens[:, -1], tokens.shape[1] - 1, memory, cache)
        logits = logits.scatter(1, tokens[:, -1:], REPEAT_PENALTY)
        logprobs = F.log_softmax(logits, dim=1)
        step_logprob, chosen = logprobs.max(dim=1)
        ended = tokens[:, -1] == END_TOKEN
        chosen = torch.where(ended, torch.full_like(chosen, END_TOKEN), chosen)
        total = total + torch.where(ended, torch.zeros_like(step_logprob), step_logprob)
        tokens = torch.cat((tokens, chosen[:, None]), dim=1)
    ended_any = (tokens == END_TOKEN).any(dim=1).long()
    valid = ((tokens != END_TOKEN).sum(dim=1) + ended_any - 1).clamp(min=1)
    return tokens, total / valid
