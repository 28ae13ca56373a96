"""Tag2Text checkpoints in the real on-disk layout, with seeded random weights, for the tests."""

from __future__ import annotations

from pathlib import Path

import torch
from tag2text_random import FIDELITY_SWIN, FIDELITY_TAG_HEAD, FIDELITY_TEXT, random_state

from vbench_lite.dimensions.backbones.swin import SwinConfig
from vbench_lite.dimensions.backbones.tag2text import TAG2TEXT_SPEC, Tag2TextConfig, build_tag2text
from vbench_lite.dimensions.backbones.tag2text_bert import BertConfig

TINY = Tag2TextConfig(
    swin=SwinConfig(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2)),
    # 2 heads in the tag encoder and decoder, 1 in the tag head (widths 64 and 192, as the real ones)
    text=BertConfig(hidden_size=128, num_layers=2, num_heads=2, intermediate_size=64, max_positions=64),
    tag_head=BertConfig(vocab_size=30522, hidden_size=128, num_layers=2, num_heads=1, intermediate_size=64,
                        max_positions=64),
)
# VBench's own class at the sizes scripts/fidelity/tag2text_oracle.py patches in.
FIDELITY = Tag2TextConfig(
    swin=SwinConfig(embed_dim=FIDELITY_SWIN["embed_dim"], depths=tuple(FIDELITY_SWIN["depths"]),
                    num_heads=tuple(FIDELITY_SWIN["num_heads"]), window_size=FIDELITY_SWIN["window_size"]),
    text=BertConfig(num_layers=FIDELITY_TEXT["num_hidden_layers"],
                    intermediate_size=FIDELITY_TEXT["intermediate_size"]),
    tag_head=BertConfig(vocab_size=30522, num_layers=FIDELITY_TAG_HEAD["num_hidden_layers"], num_heads=4,
                        intermediate_size=FIDELITY_TAG_HEAD["intermediate_size"]),
)


def checkpoint_state(config: Tag2TextConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Every key a saved Tag2Text holds: weights (ties twice) and the derived buffers."""
    model = build_tag2text(config)
    state = random_state({k: tuple(v.shape) for k, v in model.state_dict().items()}, seed)
    for name, buffer in model.named_buffers():
        state[name] = buffer.clone()
    for prefix in ("text_decoder.bert.embeddings", "tag_encoder.embeddings"):
        state[f"{prefix}.position_ids"] = torch.arange(config.text.max_positions).unsqueeze(0)
    return state


def write_checkpoint(folder: Path, config: Tag2TextConfig, seed: int = 0) -> Path:
    """`caption_model/tag2text_swin_14m.pth` under `folder`, as {"model": state_dict}."""
    path = folder / TAG2TEXT_SPEC.vbench_subdir / TAG2TEXT_SPEC.file
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": checkpoint_state(config, seed), "epoch": 0}, path)
    return path
