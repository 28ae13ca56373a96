"""DreamSim's ensemble (dreamsim 0.2.1, `dreamsim(pretrained=True)`): i2v_background's VBench backbone.

Three ViT-B/16 feature extractors, each fed the [0, 1] image normalised its own way, concatenated
and normalised:
- DINO ViT-B/16 (ImageNet mean/std): the CLS token of block 11's output, before the final norm
  (DreamSim's forward hook), 768-d;
- OpenAI CLIP ViT-B/16 and OpenCLIP ViT-B/16 (CLIP mean/std), each re-expressed by DreamSim as a
  DINO ViT: `ln_pre` stored as `pos_drop` (a LayerNorm after the position embeddings), LayerNorm
  eps 1e-5, QuickGELU for OpenAI CLIP and GELU for OpenCLIP; the normed CLS token times `proj`,
  512-d each;
- embedding = concat (1792-d), minus its mean over the 1792 values, divided by its L2 norm.

Files, as DreamSim's cache folder holds them after unzipping `dreamsim_ensemble_checkpoint.zip`:
`clip_vitb16_pretrain.pth.tar` and `open_clip_vitb16_pretrain.pth.tar` ({"state_dict": DINO-layout
keys + pos_drop + proj}, loaded strictly into the modules below, whose attribute names are those
keys), and `ensemble_lora/` (PEFT's `adapter_config.json` + `adapter_model.safetensors` or `.bin`).
The DINO branch is DINO's own `dino_vitbase16_pretrain.pth`, which DreamSim fetches through
torch.hub into `<cache>/checkpoints/`; the zip's `dino_vitb16_pretrain.pth` only holds a
projection head the ensemble never uses, so it is not read.

LoRA: DreamSim wraps the whole ensemble with PEFT (`get_peft_model` with r, lora_alpha,
lora_dropout, bias and target_modules from `adapter_config.json`, nothing else) and loads the
adapter. Here the adapter is merged into the base weights at load, W ← W + (lora_alpha / r)·B·A
for every targeted linear layer (eval mode: dropout is off, so this is PEFT's forward up to float
rounding); adapter biases (bias "all" / "lora_only") replace the base biases. Every adapter key
must land on a module of ours and every targeted module must have its A and B, else loading fails
naming the key. Keys under an extractor's `proj` (DINO's unused projection head) are ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torchvision.transforms.functional as TF
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.dino import DINO_SPEC, DinoViT, Mlp, dino_from_state_dict
from vbench_lite.dimensions.backbones.kernel_routes import choose_kernel_routes
from vbench_lite.dimensions.backbones.preprocess import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD
from vbench_lite.errors import InputError
from vbench_lite.weights import WeightSpec, find_weight, require_weight, sha256_of

DREAMSIM_SPEC = WeightSpec(
    key="dreamsim_ensemble",
    file="ensemble_lora",
    backend="vbench",
    vbench_subdir="dreamsim",
    licence="MIT",
    what=(
        "DreamSim ensemble, from dreamsim_ensemble_checkpoint.zip of github.com/ssundaram21/dreamsim "
        "release v0.2.0-checkpoints; unzip the whole archive"
    ),
)
CLIP_FILE = "clip_vitb16_pretrain.pth.tar"
OPEN_CLIP_FILE = "open_clip_vitb16_pretrain.pth.tar"
HUB_DINO = Path("checkpoints") / DINO_SPEC.file  # where DreamSim's torch.hub call saves DINO
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin")
DINO_FEATURE_BLOCK = 11  # DreamSim's `_extract_cls`: the output of block 11, token 0
CLIP_LAYER_NORM_EPS = 1e-5
BRANCHES = ("dino_vitb16", "clip_vitb16", "open_clip_vitb16")  # extractor_list order
PEFT_PREFIX = "base_model.model."
_EXTRACTOR_KEY = re.compile(r"^extractor_list\.(\d+)\.(model|proj)\.(.+)$")


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class DinoBlockCls(DinoViT):
    """DINO ViT whose feature is the CLS token after block `DINO_FEATURE_BLOCK`, before `norm`."""

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(pixels)
        for block in self.blocks[: DINO_FEATURE_BLOCK + 1]:
            x = block(x)
        return x[:, 0]


class ClipAsDinoViT(DinoViT):
    """DreamSim's CLIP-as-DINO ViT: `pos_drop` is CLIP's ln_pre; the feature is norm(CLS) @ proj."""

    def __init__(self, *, proj_dim: int, quick_gelu: bool, **kwargs: Any):
        super().__init__(eps=CLIP_LAYER_NORM_EPS, **kwargs)
        width = self.cls_token.shape[-1]
        self.pos_drop = nn.LayerNorm(width, eps=CLIP_LAYER_NORM_EPS)
        self.proj = nn.Parameter(torch.zeros(width, proj_dim))
        if quick_gelu:
            for module in list(self.modules()):
                if isinstance(module, Mlp):
                    module.act = QuickGELU()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.pos_drop(self.embed_tokens(pixels))
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0] @ self.proj


class DreamSimEnsemble(nn.Module):
    """[N, 3, 224, 224] pixels in [0, 1] → [N, 1792] DreamSim embeddings (mean-centred, unit norm)."""

    def __init__(self, dino: DinoBlockCls, clip: ClipAsDinoViT, open_clip: ClipAsDinoViT):
        super().__init__()
        self.extractors = nn.ModuleList([dino, clip, open_clip])
        self.norms = ((IMAGENET_MEAN, IMAGENET_STD), (CLIP_MEAN, CLIP_STD), (CLIP_MEAN, CLIP_STD))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        features = [
            extractor(TF.normalize(pixels, mean, std))
            for extractor, (mean, std) in zip(self.extractors, self.norms, strict=True)
        ]
        embedding = torch.cat(features, dim=-1)
        embedding = embedding - embedding.mean(dim=1, keepdim=True)
        return embedding / embedding.norm(dim=1, keepdim=True)


@dataclass(frozen=True)
class DreamSimFiles:
    folder: Path  # DreamSim's cache folder (holds ensemble_lora/)
    dino: Path
    clip: Path
    open_clip: Path
    adapter: Path  # ensemble_lora/

    def sha256(self) -> str:
        """One digest over the four things loaded, for the manifest."""
        import hashlib

        parts = [f"{p.name}:{sha256_of(p)}" for p in (self.dino, self.clip, self.open_clip, self.adapter)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def find_dreamsim_files(context: ScoringContext) -> DreamSimFiles:
    """The ensemble's files (WeightsMissing names the first one absent)."""
    adapter = require_weight(DREAMSIM_SPEC, context.weights_dir)
    folder = adapter.parent
    for name in (CLIP_FILE, OPEN_CLIP_FILE):
        if not (folder / name).is_file():
            require_weight(WeightSpec(key=name, file=name, backend="vbench", what=DREAMSIM_SPEC.what), folder)
    dino = folder / HUB_DINO if (folder / HUB_DINO).is_file() else find_weight(DINO_SPEC, context.weights_dir)
    if dino is None:
        dino = require_weight(DINO_SPEC, context.weights_dir)
    return DreamSimFiles(folder, dino, folder / CLIP_FILE, folder / OPEN_CLIP_FILE, adapter)


def clip_as_dino_from_file(path: Path, quick_gelu: bool) -> ClipAsDinoViT:
    """One of DreamSim's `*_vitb16_pretrain.pth.tar` files, loaded strictly."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise InputError(f"{path.name} is not a DreamSim CLIP-as-DINO checkpoint (no 'state_dict')")
    state = checkpoint["state_dict"]
    try:
        width = state["cls_token"].shape[-1]
        model = ClipAsDinoViT(
            proj_dim=state["proj"].shape[-1],
            quick_gelu=quick_gelu,
            embed_dim=width,
            depth=len({k.split(".")[1] for k in state if k.startswith("blocks.")}),
            num_heads=max(1, width // 64),  # ViT-B: 12 heads of 64
            mlp_hidden=state["blocks.0.mlp.fc1.weight"].shape[0],
            patch_size=state["patch_embed.proj.weight"].shape[-1],
            num_patches=state["pos_embed"].shape[1] - 1,
        )
        model.load_state_dict(state, strict=True)
    except (KeyError, RuntimeError) as error:
        detail = " ".join(str(error).split())[:300]
        raise InputError(f"{path.name} is not a DreamSim CLIP-as-DINO checkpoint: {detail}") from None
    return model.eval()


def dino_branch_from_file(path: Path) -> DinoBlockCls:
    """DINO's `.pth` (the torch.hub weights), loaded strictly, with DreamSim's block-11 feature."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = dino_from_state_dict(state, model_class=DinoBlockCls)
    if len(model.blocks) <= DINO_FEATURE_BLOCK:
        blocks = len(model.blocks)
        raise InputError(f"{path.name}: DreamSim reads DINO block {DINO_FEATURE_BLOCK}; this model has {blocks}")
    return model  # type: ignore[return-value]


def read_adapter(folder: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """PEFT's adapter folder: (adapter_config.json, adapter weights)."""
    config_path = folder / "adapter_config.json"
    if not config_path.is_file():
        raise InputError(f"{folder} has no adapter_config.json; it must be DreamSim's ensemble_lora folder")
    config = json.loads(config_path.read_text())
    weights = [folder / name for name in ADAPTER_FILES if (folder / name).is_file()]
    if not weights:
        raise InputError(f"{folder} holds neither {' nor '.join(ADAPTER_FILES)}")
    if weights[0].suffix == ".safetensors":
        from safetensors.torch import load_file

        return config, load_file(str(weights[0]))
    return config, torch.load(weights[0], map_location="cpu", weights_only=True)


def targets_module(name: str, target_modules: str | list[str]) -> bool:
    """PEFT's rule: a regex string must match the full module name; a list entry must equal the
    name or be its last dotted part(s)."""
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, name) is not None
    return any(name == target or name.endswith("." + target) for target in target_modules)


@torch.no_grad()
def merge_lora(extractors: Sequence[nn.Module], config: dict[str, Any], adapter: dict[str, torch.Tensor]) -> int:
    """Fold DreamSim's PEFT adapter into the extractors' weights; returns the number of layers merged."""
    for key in ("r", "lora_alpha", "target_modules"):
        if key not in config:
            raise InputError(f"adapter_config.json lacks '{key}'")
    scaling = float(config["lora_alpha"]) / float(config["r"])
    pairs: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    for key, value in adapter.items():
        match = _EXTRACTOR_KEY.match(key.removeprefix(PEFT_PREFIX))
        if match is None or int(match[1]) >= len(extractors):
            raise InputError(f"adapter key {key} names no DreamSim extractor")
        index, part, rest = int(match[1]), match[2], match[3]
        if part == "proj":
            continue  # DINO's projection head: not part of the ensemble's features
        lora = re.match(r"^(.+)\.(lora_[AB])(?:\.default)?\.weight$", rest)
        if lora:
            pairs.setdefault((index, lora[1]), {})[lora[2]] = value
            continue
        target = dict(extractors[index].named_parameters()).get(rest)
        if target is None or target.shape != value.shape:
            raise InputError(f"adapter key {key} matches no parameter of DreamSim's {BRANCHES[index]}")
        target.copy_(value)  # a trained bias (PEFT bias "all" / "lora_only")
    targeted = [
        (index, name)
        for index, extractor in enumerate(extractors)
        for name, module in extractor.named_modules()
        if isinstance(module, nn.Linear)
        and targets_module(f"extractor_list.{index}.model.{name}", config["target_modules"])
    ]
    complete = {"lora_A", "lora_B"}
    missing = [f"extractor_list.{i}.model.{n}" for i, n in targeted if set(pairs.get((i, n), {})) != complete]
    unknown = [f"extractor_list.{i}.model.{n}" for i, n in pairs if (i, n) not in targeted]
    if missing or unknown:
        what = f"lacks lora_A/lora_B for {missing[0]}" if missing else f"has LoRA weights for untargeted {unknown[0]}"
        raise InputError(f"DreamSim adapter {what} ({len(missing) + len(unknown)} layer(s))")
    for index, name in targeted:
        layer = cast(nn.Linear, extractors[index].get_submodule(name))  # `targeted` holds linear layers only
        down, up = pairs[(index, name)]["lora_A"], pairs[(index, name)]["lora_B"]
        if down.shape[1] != layer.in_features or up.shape[0] != layer.out_features or up.shape[1] != down.shape[0]:
            raise InputError(f"DreamSim adapter: LoRA shapes {tuple(up.shape)}·{tuple(down.shape)} do not fit "
                             f"extractor_list.{index}.model.{name} {tuple(layer.weight.shape)}")
        layer.weight += scaling * (up.double() @ down.double()).to(layer.weight.dtype)
    return len(targeted)


def load_dreamsim_files(files: DreamSimFiles) -> DreamSimEnsemble:
    extractors = [
        dino_branch_from_file(files.dino),
        clip_as_dino_from_file(files.clip, quick_gelu=True),
        clip_as_dino_from_file(files.open_clip, quick_gelu=False),
    ]
    config, adapter = read_adapter(files.adapter)
    merge_lora(extractors, config, adapter)
    return DreamSimEnsemble(*extractors).eval()  # type: ignore[arg-type]


def load_dreamsim(context: ScoringContext) -> tuple[DreamSimEnsemble, DreamSimFiles]:
    """The process-wide DreamSim ensemble for these files and this device."""
    files = find_dreamsim_files(context)
    model = context.backbones.get(
        ("dreamsim-ensemble", str(files.folder), str(files.dino), context.device),
        lambda: choose_kernel_routes(load_dreamsim_files(files).to(context.device), context.device,
                                     tokens=197, images=16),
    )
    return model, files


