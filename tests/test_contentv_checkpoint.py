"""Checkpoint layout and loading: the 1226-key manifest, strict lazy loading, bit-exact round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from vbench_lite.errors import InputError
from vbench_lite.reference_models.contentv import loading
from vbench_lite.reference_models.contentv.config import load_preset
from vbench_lite.reference_models.contentv.mmdit import VideoMMDiT
from vbench_lite.reference_models.contentv.pipeline import ContentVPipeline
from vbench_lite.reference_models.contentv.sampler import read_shift
from vbench_lite.reference_models.contentv.wan_vae import WanVAE

DATA = Path(__file__).parent / "data"


def _manifest(name: str) -> dict[str, list[int]]:
    return json.loads((DATA / name).read_text())["tensors"]


def test_contentv_8b_transformer_on_meta_has_the_1226_checkpoint_keys_and_shapes():
    with torch.device("meta"):
        model = VideoMMDiT(load_preset("contentv-8b").transformer)
    keys = {k: list(v.shape) for k, v in model.state_dict().items()}
    manifest = _manifest("contentv8b_transformer_manifest.json")
    assert len(manifest) == 1226
    assert keys == manifest
    # spot checks of ContentV-8B's published transformer/ key layout (diffusers naming)
    assert keys["pos_embed.proj.weight"] == [2432, 16, 2, 2]
    assert keys["transformer_blocks.37.norm1_context.linear.weight"] == [4864, 2432]
    assert "transformer_blocks.37.attn.to_add_out.weight" not in keys
    assert sum(k.startswith("transformer_blocks.36.") for k in keys) == 32
    assert sum(k.startswith("transformer_blocks.37.") for k in keys) == 26


def test_contentv_8b_vae_on_meta_has_the_wan21_checkpoint_keys_and_shapes():
    with torch.device("meta"):
        vae = WanVAE(load_preset("contentv-8b").vae)
    keys = {k: list(v.shape) for k, v in vae.state_dict().items()}
    assert keys == _manifest("contentv8b_vae_manifest.json")
    assert keys["decoder.up_blocks.0.upsamplers.0.time_conv.weight"] == [768, 384, 3, 1, 1]


@pytest.fixture(scope="module")
def tiny() -> ContentVPipeline:
    return ContentVPipeline.random("tiny")


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.slow
@pytest.mark.parametrize("max_shard_bytes", [None, 200_000], ids=["single-file", "sharded"])
def test_tiny_save_load_round_trip_is_bit_exact(tiny, tmp_path, max_shard_bytes):
    folder = tiny.save(tmp_path / "tiny", max_shard_bytes=max_shard_bytes)
    index = folder / "transformer" / "diffusion_pytorch_model.safetensors.index.json"
    if max_shard_bytes:
        assert index.is_file() and len(set(json.loads(index.read_text())["weight_map"].values())) > 1
    else:
        assert not index.exists()
    loaded = ContentVPipeline.from_checkpoint(folder, "tiny", dtype=torch.float32)
    assert _same_state(tiny.transformer, loaded.transformer)
    assert _same_state(tiny.vae, loaded.vae)
    assert _same_state(tiny.text, loaded.text)
    assert loaded.shift == tiny.shift
    params = tiny.default_params(num_frames=5)
    original, _ = tiny.generate(["a lighthouse"], [5], params)
    reloaded, _ = loaded.generate(["a lighthouse"], [5], params)
    assert np.array_equal(original, reloaded)


def test_loading_builds_on_meta_and_leaves_no_meta_tensor(tiny, tmp_path):
    folder = tiny.save(tmp_path / "tiny", max_shard_bytes=100_000)
    model = loading.load_transformer(folder / "transformer", torch.bfloat16)
    assert all(p.device.type == "cpu" and p.dtype == torch.bfloat16 for p in model.parameters())


def _transformer_folder(tiny, tmp_path) -> Path:
    return loading.save_component(tiny.transformer, tiny.transformer.config.to_dict(), tmp_path / "t")


def _rewrite_weights(folder: Path, edit) -> None:
    path = folder / "diffusion_pytorch_model.safetensors"
    state = load_file(path)
    edit(state)
    save_file(state, path)


def test_a_missing_key_is_an_error_naming_it(tiny, tmp_path):
    folder = _transformer_folder(tiny, tmp_path)
    _rewrite_weights(folder, lambda s: s.pop("transformer_blocks.0.attn.to_k.bias"))
    with pytest.raises(InputError, match="lacks key 'transformer_blocks.0.attn.to_k.bias'"):
        loading.load_transformer(folder, torch.float32)


def test_an_unexpected_key_is_an_error_naming_it(tiny, tmp_path):
    folder = _transformer_folder(tiny, tmp_path)
    _rewrite_weights(folder, lambda s: s.__setitem__("extra.weight", torch.zeros(2)))
    with pytest.raises(InputError, match="unexpected key 'extra.weight'"):
        loading.load_transformer(folder, torch.float32)


def test_dual_attention_keys_are_refused(tiny, tmp_path):
    folder = _transformer_folder(tiny, tmp_path)
    _rewrite_weights(folder, lambda s: s.__setitem__("transformer_blocks.0.attn2.to_q.weight", torch.zeros(2)))
    with pytest.raises(InputError, match="dual-attention key 'transformer_blocks.0.attn2.to_q.weight'"):
        loading.load_transformer(folder, torch.float32)


def test_sd3_image_position_table_is_dropped(tiny, tmp_path):
    folder = _transformer_folder(tiny, tmp_path)
    _rewrite_weights(folder, lambda s: s.__setitem__("pos_embed.pos_embed", torch.zeros(1, 16, 64)))
    model = loading.load_transformer(folder, torch.float32)
    assert _same_state(model, tiny.transformer)


def test_config_json_that_disagrees_with_the_tensors_is_refused(tiny, tmp_path):
    folder = _transformer_folder(tiny, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_layers": 38}))
    with pytest.raises(InputError, match="config.json says num_layers=38 but the tensors give 2"):
        loading.load_transformer(folder, torch.float32)


def test_config_is_derived_from_shapes_even_without_hints(tiny, tmp_path):
    folder = _transformer_folder(tiny, tmp_path)
    (folder / "config.json").write_text(json.dumps({"_class_name": "SD3Transformer3DModel"}))
    model = loading.load_transformer(folder, torch.float32)
    assert model.config.num_layers == 2 and model.config.num_attention_heads == 2


def test_vae_config_is_derived_from_shapes_and_wan22_is_refused(tiny, tmp_path):
    folder = loading.save_component(tiny.vae, tiny.vae.config.to_dict(), tmp_path / "vae")
    vae = loading.load_vae(folder)
    assert vae.config == tiny.vae.config
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "is_residual": True}))
    with pytest.raises(InputError, match="Wan2.2"):
        loading.load_vae(folder)


def test_a_shard_named_in_the_index_but_absent_is_an_error(tiny, tmp_path):
    folder = loading.save_component(tiny.transformer, tiny.transformer.config.to_dict(), tmp_path / "t", 100_000)
    next(folder.glob("*-00002-of-*.safetensors")).unlink()
    with pytest.raises(InputError, match="names shard .*00002"):
        loading.load_transformer(folder, torch.float32)


def test_pickled_weights_load_only_through_weights_only(tiny, tmp_path):
    folder = tmp_path / "vae"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(tiny.vae.config.to_dict()))
    torch.save(tiny.vae.state_dict(), folder / "diffusion_pytorch_model.bin")
    assert _same_state(loading.load_vae(folder), tiny.vae)


def test_shift_comes_from_the_scheduler_config(tmp_path):
    (tmp_path / "scheduler").mkdir()
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps({"shift": 7.0}))
    assert read_shift(tmp_path) == 7.0
    with pytest.raises(InputError, match="scheduler_config.json"):
        read_shift(tmp_path / "nowhere")
