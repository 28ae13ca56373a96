"""A tiny random GRiT in the real checkpoint layout (VBench's key names, `{"model": state_dict}`, fp16)."""

from __future__ import annotations

from pathlib import Path

import torch

from vbench_lite.dimensions.backbones.grit import GRiT, GritConfig
from vbench_lite.dimensions.backbones.grit_text import END_TOKEN

TINY = GritConfig(embed_dim=64, depth=3, num_heads=2, global_blocks=(2,), channels=32, fc_dim=64,
                  text_hidden=64, text_layers=2, text_ffn=128)
END_BIAS = 40.0


def tiny_grit_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = GRiT(TINY)
    for name, tensor in model.state_dict().items():
        if name.endswith("bias") or "rel_pos" in name or "pos_embed" in name:
            tensor.normal_(0, 0.5)  # not zero, so that a key mix-up would change the outputs
    state = {k: v.clone() for k, v in model.state_dict().items()}
    # [SEP] first: every caption ends at once (GRiT's early return), so hundreds of boxes decode cheaply.
    for prefix in ("roi_heads.text_decoder.", "roi_heads.text_decoder_det."):
        state[prefix + "textual.output.bias"][END_TOKEN] = END_BIAS
    return state


def write_tiny_grit(weights_dir: Path, seed: int = 0) -> Path:
    path = Path(weights_dir) / "grit_model" / "grit_b_densecap_objectdet.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {k: v.half() for k, v in tiny_grit_state(seed).items()}}, path)
    return path
