"""Diffusers-layout checkpoints: read, check and load lazily; write (for tests and the tiny preset).

A checkpoint folder holds `transformer/`, `vae/` (each `config.json` plus one safetensors file or
shards with a `*.safetensors.index.json`), `scheduler/scheduler_config.json` (the shift) and a text
stack. Loading (trap 8 of docs/architecture.md):
- the config is derived from the tensor shapes; a `config.json` that disagrees is refused;
- the model is built on the meta device and every tensor is read on its own from `safe_open`, cast
  and assigned (`load_state_dict(assign=True)`), so host memory stays near one copy of the model;
- strict: a missing or unexpected key, or a wrong shape, is a one-line `InputError` naming it;
- pickled `.bin` files are read only with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from vbench_lite.errors import InputError
from vbench_lite.reference_models.contentv.config import MMDiTConfig, ToyTextConfig, WanVAEConfig

WEIGHT_STEMS = ("diffusion_pytorch_model", "model")
DROPPED_KEYS = {"pos_embed.pos_embed"}  # SD3.5 image table; ContentV builds its encoding on the fly
ModuleT = TypeVar("ModuleT", bound=nn.Module)


# ---------------------------------------------------------------------------------------- reading
def weight_files(folder: Path) -> dict[str, Path]:
    """Tensor name -> file, from a sharded index, a single safetensors file, or a `.bin`."""
    folder = Path(folder)
    for stem in WEIGHT_STEMS:
        index = folder / f"{stem}.safetensors.index.json"
        if index.is_file():
            weight_map = json.loads(index.read_text()).get("weight_map")
            if not isinstance(weight_map, dict):
                raise InputError(f"{index} has no weight_map")
            missing = sorted({f for f in weight_map.values() if not (folder / f).is_file()})
            if missing:
                raise InputError(f"{index} names shard {missing[0]}, which is not in {folder}")
            return {key: folder / name for key, name in weight_map.items()}
    for stem in WEIGHT_STEMS:
        single = folder / f"{stem}.safetensors"
        if single.is_file():
            from safetensors import safe_open

            with safe_open(single, framework="pt") as handle:
                return dict.fromkeys(handle.keys(), single)
    for stem in WEIGHT_STEMS:
        pickled = folder / f"{stem}.bin"
        if pickled.is_file():
            return dict.fromkeys(_load_bin(pickled), pickled)
    raise InputError(
        f"no safetensors weights in {folder} (expected diffusion_pytorch_model.safetensors "
        "or a *.safetensors.index.json with its shards)"
    )


def _load_bin(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def tensor_shapes(files: dict[str, Path]) -> dict[str, tuple[int, ...]]:
    """Shapes read from the file headers; no tensor data is loaded."""
    from safetensors import safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    by_file: dict[Path, list[str]] = {}
    for key, path in files.items():
        by_file.setdefault(path, []).append(key)
    for path, keys in by_file.items():
        if path.suffix == ".bin":
            state = _load_bin(path)
            shapes.update({k: tuple(state[k].shape) for k in keys})
            continue
        with safe_open(path, framework="pt") as handle:
            for key in keys:
                shapes[key] = tuple(handle.get_slice(key).get_shape())
    return shapes


def iter_tensors(files: dict[str, Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) one at a time, file by file, so only one tensor is materialised at once."""
    from safetensors import safe_open

    by_file: dict[Path, list[str]] = {}
    for key, path in files.items():
        by_file.setdefault(path, []).append(key)
    for path, keys in by_file.items():
        if path.suffix == ".bin":
            state = _load_bin(path)
            yield from ((k, state[k]) for k in keys)
            continue
        with safe_open(path, framework="pt") as handle:
            for key in keys:
                yield key, handle.get_tensor(key)


def read_config(folder: Path) -> dict:
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise InputError(f"no config.json in {folder}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not valid JSON ({error.msg})") from None


# ------------------------------------------------------------------------------ config from shapes
def _need(shapes: dict, key: str, where: Path) -> tuple[int, ...]:
    if key not in shapes:
        raise InputError(f"checkpoint {where} lacks tensor '{key}'")
    return shapes[key]


def _refuse_mismatch(derived: dict, hint: dict, where: Path) -> None:
    for name, value in derived.items():
        stated = hint.get(name)
        if stated is None:
            continue
        stated = list(stated) if isinstance(stated, (list, tuple)) else stated
        value = list(value) if isinstance(value, (list, tuple)) else value
        if stated != value:
            raise InputError(f"{where}/config.json says {name}={stated} but the tensors give {value}")


def derive_mmdit_config(shapes: dict[str, tuple[int, ...]], hint: dict, where: Path) -> MMDiTConfig:
    """The transformer config from tensor shapes; `config.json` is only a hint."""
    attn2 = sorted(k for k in shapes if ".attn2." in k)
    if attn2:
        raise InputError(f"checkpoint {where} has dual-attention key '{attn2[0]}' (SD3.5-Medium style); not supported")
    dim, in_channels, patch, _ = _need(shapes, "pos_embed.proj.weight", where)
    head_dim = _need(shapes, "transformer_blocks.0.attn.norm_q.weight", where)[0]
    blocks = {int(m.group(1)) for k in shapes if (m := re.match(r"transformer_blocks\.(\d+)\.", k))}
    caption_dim, joint_dim = _need(shapes, "context_embedder.weight", where)
    derived = {
        "num_layers": len(blocks),
        "attention_head_dim": head_dim,
        "num_attention_heads": dim // head_dim,
        "patch_size": patch,
        "in_channels": in_channels,
        "out_channels": _need(shapes, "proj_out.weight", where)[0] // (patch * patch),
        "joint_attention_dim": joint_dim,
        "caption_projection_dim": caption_dim,
        "pooled_projection_dim": _need(shapes, "time_text_embed.text_embedder.linear_1.weight", where)[1],
    }
    _refuse_mismatch(derived, hint, where)
    extra = {k: hint[k] for k in ("spatial_interpolation_scale", "temporal_interpolation_scale") if k in hint}
    return MMDiTConfig.from_dict({**derived, **extra, "qk_norm": hint.get("qk_norm", "rms_norm")})


def derive_vae_config(shapes: dict[str, tuple[int, ...]], hint: dict, where: Path) -> WanVAEConfig:
    """The Wan VAE config from tensor shapes; latents mean/std come from config.json."""
    base_dim = _need(shapes, "encoder.conv_in.weight", where)[0]
    z_dim = _need(shapes, "post_quant_conv.weight", where)[0]
    levels = 1 + max(int(m.group(1)) for k in shapes if (m := re.match(r"decoder\.up_blocks\.(\d+)\.", k)))
    resnets = 1 + max(int(m.group(1)) for k in shapes if (m := re.match(r"decoder\.up_blocks\.0\.resnets\.(\d+)\.", k)))
    out_dims = [_need(shapes, f"decoder.up_blocks.{i}.resnets.0.conv1.weight", where)[0] for i in range(levels)]
    temporal_up = [f"decoder.up_blocks.{i}.upsamplers.0.time_conv.weight" in shapes for i in range(levels - 1)]
    derived = {
        "base_dim": base_dim,
        "z_dim": z_dim,
        "dim_mult": [d // base_dim for d in out_dims[::-1]],
        "num_res_blocks": resnets - 1,
        "temperal_downsample": temporal_up[::-1],
    }
    _refuse_mismatch(derived, hint, where)
    return WanVAEConfig.from_dict({**hint, **derived})


# ------------------------------------------------------------------------------------------ loading
def load_strict_lazily(
    model: nn.Module, files: dict[str, Path], dtype: torch.dtype, device: torch.device | str, where: Path
) -> nn.Module:
    """Assign every tensor of `files` into a meta-initialised `model`, one tensor at a time."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    present = set(files) - DROPPED_KEYS
    missing = sorted(set(expected) - present)
    if missing:
        raise InputError(
            f"checkpoint {where} lacks key '{missing[0]}'"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    unexpected = sorted(present - set(expected))
    if unexpected:
        raise InputError(
            f"checkpoint {where} has unexpected key '{unexpected[0]}'"
            + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
        )
    shapes = tensor_shapes({k: files[k] for k in present})
    for key, shape in shapes.items():
        if shape != expected[key]:
            raise InputError(f"checkpoint {where}: '{key}' has shape {list(shape)}, expected {list(expected[key])}")
    # One file at a time: its tensors are cast as they are read and assigned in one call, so
    # the host holds the model once plus one tensor in its stored dtype (trap 8).
    by_file: dict[Path, list[str]] = {}
    for key in sorted(present):
        by_file.setdefault(files[key], []).append(key)
    for path, keys in by_file.items():
        part = {}
        for key, tensor in iter_tensors(dict.fromkeys(keys, path)):
            part[key] = tensor.to(device=device, dtype=dtype if tensor.is_floating_point() else tensor.dtype)
        model.load_state_dict(part, strict=False, assign=True)
        del part
    return model


def build_on_meta(factory: Callable[[Any], ModuleT], config: Any) -> ModuleT:
    with torch.device("meta"):
        return factory(config)


def load_transformer(folder: Path, dtype: torch.dtype, device: str = "cpu"):
    from vbench_lite.reference_models.contentv.mmdit import VideoMMDiT

    folder = Path(folder)
    files = weight_files(folder)
    config = derive_mmdit_config(tensor_shapes(files), read_config(folder), folder)
    return load_strict_lazily(build_on_meta(VideoMMDiT, config), files, dtype, device, folder).eval()


def load_vae(folder: Path, dtype: torch.dtype = torch.float32, device: str = "cpu"):
    from vbench_lite.reference_models.contentv.wan_vae import WanVAE

    folder = Path(folder)
    files = weight_files(folder)
    config = derive_vae_config(tensor_shapes(files), read_config(folder), folder)
    return load_strict_lazily(build_on_meta(WanVAE, config), files, dtype, device, folder).eval()


def load_toy_text(folder: Path, device: str = "cpu"):
    from vbench_lite.reference_models.contentv.text import ToyTextEncoder

    folder = Path(folder)
    config = ToyTextConfig.from_dict(read_config(folder))
    return load_strict_lazily(
        build_on_meta(ToyTextEncoder, config), weight_files(folder), torch.float32, device, folder
    ).eval()


# ---------------------------------------------------------------------------------- random weights
@torch.no_grad()
def init_random_(
    model: ModuleT, seed: int, device: torch.device | str = "cpu", gains: dict[str, float] | None = None
) -> ModuleT:
    """Materialise a (meta) model on `device` with seeded random weights (shape-only / tiny mode).

    Matrices ~ N(0, 1/fan_in) keep activations O(1) through depth; biases 0; norm scales 1;
    `gains` scales named tensors (the preset's small last-layer init). Drawn per tensor from one
    seeded generator: the CPU one on CPU, the device's own elsewhere (same seed, same weights for a
    device type).
    """
    gains = gains or {}
    model.to_empty(device=device)
    generator = torch.Generator("cpu").manual_seed(seed)
    device_generator = None
    for name, param in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "gamma" or (leaf == "weight" and param.ndim == 1):
            param.fill_(1.0)
        elif leaf == "bias":
            param.zero_()
        else:
            fan_in = param[0].numel() if param.ndim > 1 else param.shape[-1]
            if param.device.type != "cpu":  # 8B shape-only runs: drawn on the device, not via host RAM
                if device_generator is None:
                    device_generator = torch.Generator(param.device).manual_seed(seed)
                param.normal_(0.0, fan_in**-0.5 * gains.get(name, 1.0), generator=device_generator)
                continue
            values = torch.randn(param.shape, generator=generator) * fan_in**-0.5 * gains.get(name, 1.0)
            param.copy_(values.to(param.dtype))
    return model


# ----------------------------------------------------------------------------------------- writing
def save_component(
    model: nn.Module, config: dict, folder: Path, max_shard_bytes: int | None = None, stem: str = WEIGHT_STEMS[0]
) -> Path:
    """Write `config.json` and the weights, one safetensors file or shards plus an index json."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if max_shard_bytes is None:
        save_file(state, folder / f"{stem}.safetensors", metadata={"format": "pt"})
        return folder
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = tensor
        size += nbytes
    weight_map = {}
    for i, shard in enumerate(shards, start=1):
        name = f"{stem}-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, folder / name, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(t.numel() * t.element_size() for t in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / f"{stem}.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return folder
