"""The three BERT stacks of Tag2Text (BLIP's `med.py` layout), inference only.

- `BertModel`: embeddings (word + absolute position, LayerNorm) and layers of self-attention →
  cross-attention → feed-forward; Tag2Text's tag encoder.
- `BertModel(embeddings=False, self_attention=False)`: the tag head (`vision_multi`), whose
  layers only cross-attend from the 3,429 label queries to the image tokens ("mlr" mode).
- `BertLMHeadModel`: the caption decoder, a causal `BertModel` with the LM head
  (dense → GELU → LayerNorm → vocabulary logits), decoding one token at a time with a key/value
  cache (BLIP re-runs the whole prefix at every step; the products are the same).

Attribute names are the checkpoint keys (embeddings.{word_embeddings, position_embeddings,
LayerNorm}, encoder.layer.N.{attention, crossattention}.{self.{query, key, value},
output.{dense, LayerNorm}}, intermediate.dense, output.{dense, LayerNorm},
cls.predictions.{transform.{dense, LayerNorm}, decoder, bias}). Masks are additive with
−10000 where BERT's `get_extended_attention_mask` puts it; all GELUs are the exact (erf) form.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

MASKED = -10000.0  # BERT's additive mask value (exp(−10000) is exactly 0 in fp32)
KeyValue = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30524
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_positions: int = 512
    encoder_width: int = 768  # width of the states the cross-attention reads
    layer_norm_eps: float = 1e-12

    def with_(self, **changes: int) -> BertConfig:
        return replace(self, **changes)


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_positions, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor, first_position: int = 0) -> torch.Tensor:
        positions = torch.arange(first_position, first_position + input_ids.shape[1], device=input_ids.device)
        return self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(positions))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig, source_width: int):
        super().__init__()
        self.num_heads = config.num_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(source_width, config.hidden_size)
        self.value = nn.Linear(source_width, config.hidden_size)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        return x.view(batch, tokens, self.num_heads, width // self.num_heads).transpose(1, 2)

    def key_value(self, source: torch.Tensor) -> KeyValue:
        return self._split_heads(self.key(source)), self._split_heads(self.value(source))

    def forward(self, hidden: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor | None) -> torch.Tensor:
        context = F.scaled_dot_product_attention(self._split_heads(self.query(hidden)), keys, values, attn_mask=mask)
        batch, _, tokens, _ = context.shape
        return context.transpose(1, 2).reshape(batch, tokens, -1)


class BertSelfOutput(nn.Module):
    def __init__(self, config: BertConfig, width: int):
        super().__init__()
        self.dense = nn.Linear(width, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(hidden) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig, source_width: int):
        super().__init__()
        self.self = BertSelfAttention(config, source_width)
        self.output = BertSelfOutput(config, config.hidden_size)

    def forward(self, hidden: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(hidden, keys, values, mask), hidden)


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(hidden))


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig, self_attention: bool = True):
        super().__init__()
        self.attention = BertAttention(config, config.hidden_size) if self_attention else None
        self.crossattention = BertAttention(config, config.encoder_width)
        self.intermediate = BertIntermediate(config)
        self.output = BertSelfOutput(config, config.intermediate_size)

    def forward(self, hidden: torch.Tensor, encoder_kv: KeyValue, self_mask: torch.Tensor | None = None,
                past: KeyValue | None = None) -> tuple[torch.Tensor, KeyValue | None]:
        """One layer; `past` holds the self-attention keys/values of earlier positions (decoding)."""
        present = None
        if self.attention is not None:
            keys, values = self.attention.self.key_value(hidden)
            if past is not None:
                keys, values = torch.cat([past[0], keys], dim=2), torch.cat([past[1], values], dim=2)
            present = (keys, values)
            hidden = self.attention(hidden, keys, values, self_mask)
        hidden = self.crossattention(hidden, *encoder_kv, None)
        return self.output(self.intermediate(hidden), hidden), present


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig, self_attention: bool = True):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config, self_attention) for _ in range(config.num_layers))

    def cross_key_values(self, encoder_states: torch.Tensor) -> list[KeyValue]:
        """Every layer's cross-attention keys/values of `encoder_states` (computed once per image)."""
        return [cast(BertLayer, layer).crossattention.self.key_value(encoder_states) for layer in self.layer]

    def forward(self, hidden: torch.Tensor, encoder_kv: list[KeyValue], self_mask: torch.Tensor | None = None,
                past: list[KeyValue] | None = None) -> tuple[torch.Tensor, list[KeyValue]]:
        presents = []
        for index, layer in enumerate(self.layer):
            hidden, present = layer(hidden, encoder_kv[index], self_mask, past[index] if past else None)
            if present is not None:
                presents.append(present)
        return hidden, presents


class BertModel(nn.Module):
    """Tag2Text's tag encoder; without embeddings and self-attention, its tag head."""

    def __init__(self, config: BertConfig, embeddings: bool = True, self_attention: bool = True):
        super().__init__()
        self.embeddings = BertEmbeddings(config) if embeddings else None
        self.encoder = BertEncoder(config, self_attention)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                encoder_states: torch.Tensor) -> torch.Tensor:
        """Bidirectional self-attention over the non-padding tokens, cross-attention to all states."""
        assert self.embeddings is not None
        padding = (1.0 - attention_mask[:, None, None, :].float()) * MASKED
        hidden, _ = self.encoder(self.embeddings(input_ids), self.encoder.cross_key_values(encoder_states), padding)
        return hidden

    def query(self, queries: torch.Tensor, encoder_states: torch.Tensor) -> torch.Tensor:
        """The tag head ("mlr" mode): queries (B, Q, hidden) cross-attend to the states, no self-attention."""
        hidden, _ = self.encoder(queries, self.encoder.cross_key_values(encoder_states))
        return hidden


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(F.gelu(self.dense(hidden)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)


class BertLMHeadModel(nn.Module):
    """The caption decoder. Its output projection is the word-embedding matrix (tied, as in BERT)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.bert = BertModel(config)
        self.cls = BertOnlyMLMHead(config)
        self.tie_weights()

    def tie_weights(self) -> None:
        """The output projection is the word-embedding matrix; its bias is `predictions.bias`."""
        assert self.bert.embeddings is not None
        predictions = self.cls.predictions
        predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight
        predictions.decoder.bias = predictions.bias

    def cross_key_values(self, encoder_states: torch.Tensor) -> list[KeyValue]:
        return self.bert.encoder.cross_key_values(encoder_states)

    def step(self, input_ids: torch.Tensor, encoder_kv: list[KeyValue],
             past: list[KeyValue] | None) -> tuple[torch.Tensor, list[KeyValue]]:
        """Logits of the last position after `input_ids` (new tokens only when `past` is given)."""
        assert self.bert.embeddings is not None
        first = past[0][0].shape[2] if past else 0
        tokens = input_ids.shape[1]
        causal = None
        if tokens > 1:  # the prompt: each position sees itself and those before it
            future = torch.ones(tokens, first + tokens, dtype=torch.bool, device=input_ids.device).triu(first + 1)
            causal = torch.zeros(future.shape, device=input_ids.device).masked_fill(future, MASKED)
        hidden, presents = self.bert.encoder(self.bert.embeddings(input_ids, first), encoder_kv, causal, past)
        return self.cls.predictions(hidden[:, -1]), presents
