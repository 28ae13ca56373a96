"""MUSIQ trained on SPAQ, VBench's imaging-quality model (docs/dimensions.md), from a local file.

The network is `pyiqa.archs.musiq_arch.MUSIQ` built with `pretrained=False` (no download) and the
local `musiq_spaq_ckpt-358bb6af.pth` loaded strictly with `weights_only=True`. pyiqa is an
OPTIONAL dependency: it is licensed PolyForm-Noncommercial-1.0.0 (and the weights CC BY-NC-SA), so
it is imported only when this backend is chosen. Its architecture module needs only pyiqa itself
(`pip install --no-deps pyiqa==0.1.16`) besides packages vbl already has.

The model runs in fp32 on every device, as VBench runs it. It takes frames in [0, 1] and maps
them to [−1, 1] itself; its output is a MOS on the 0–100 scale.

`musiq_mos` is pyiqa's inference forward over the same modules minus wasted work: pyiqa pads the
224- and 384-px scales to fixed token counts (49, 144) with all-zero patches whose attention
weight is exactly 0 (logit −1000, which underflows in fp32), so they never reach the [CLS] token.
Dropping them gives the same MOS up to float summation order and skips ~25–30% of the tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.kernel_routes import choose_kernel_routes
from vbench_lite.errors import InputError, VblError
from vbench_lite.weights import WeightSpec, require_weight

if TYPE_CHECKING:
    from pyiqa.archs.musiq_arch import MUSIQ

MUSIQ_SPAQ = WeightSpec(
    key="musiq_spaq",
    file="musiq_spaq_ckpt-358bb6af.pth",
    backend="vbench",
    vbench_subdir="pyiqa_model",
    url="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/"
    "musiq_spaq_ckpt-358bb6af.pth",
    licence="CC BY-NC-SA 4.0",
    what="MUSIQ-SPAQ image quality model; needs the optional package pyiqa",
)
PYIQA_HINT = "pip install --no-deps pyiqa==0.1.16 (PolyForm-Noncommercial licence)"


def pyiqa_available() -> bool:
    try:
        import pyiqa.archs.musiq_arch  # noqa: F401
    except ImportError:
        return False
    return True


def build_musiq(path: Path, device: str) -> MUSIQ:
    """MUSIQ-SPAQ from `path`, strict, on `device`, in eval mode."""
    try:
        from pyiqa.archs.musiq_arch import MUSIQ
    except ImportError as error:
        raise VblError(
            f"imaging_quality's vbench backend needs the optional package pyiqa: {PYIQA_HINT}, "
            "or use --backend embedded"
        ) from error
    network = MUSIQ(pretrained=False)  # num_class=1: SPAQ's single-score head
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    if "params" in state_dict:  # BasicSR-style wrapper that pyiqa's own checkpoints may use
        state_dict = state_dict["params"]
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    try:
        network.load_state_dict(state_dict)
    except RuntimeError as error:
        detail = " ".join(str(error).split())[:300]
        raise InputError(f"{path} is not a MUSIQ checkpoint: {detail}") from error
    return choose_kernel_routes(network.eval().to(device), device, tokens=512, images=1)


def load_musiq(context: ScoringContext) -> tuple[MUSIQ, Path]:
    """The process-wide MUSIQ-SPAQ and its file; raises WeightsMissing when the file is absent."""
    path = require_weight(MUSIQ_SPAQ, context.weights_dir)
    network = context.backbones.get(("musiq-spaq", str(path), context.device),
                                    lambda: build_musiq(path, context.device))
    return network, path


def musiq_mos(network: MUSIQ, frames: torch.Tensor) -> torch.Tensor:
    """MOS [B] of frames [B, 3, H, W] in [0, 1], all of one size (pyiqa `MUSIQ.forward`, eval)."""
    from pyiqa.archs.arch_util import dist_to_mos
    from pyiqa.data.multiscale_trans_util import get_multiscale_patches

    tokens = get_multiscale_patches((frames - 0.5) * 2, **network.data_preprocess_opts)
    tokens = tokens[:, tokens[0, :, -1] > 0]  # one frame size -> one padding layout for all
    batch, length, _ = tokens.shape
    spatial, scale, mask = tokens[:, :, -3], tokens[:, :, -2], tokens[:, :, -1].bool()
    x = tokens[:, :, :-3].reshape(-1, 3, network.patch_size, network.patch_size)
    x = network.block1(network.root_pool(network.gn_root(network.conv_root(x))))
    x = network.embedding(x.permute(0, 2, 3, 1).reshape(batch, length, -1))  # TF channel order
    x = network.transformer_encoder(x, spatial, scale, mask)
    return dist_to_mos(network.head(x[:, 0])).reshape(-1)
