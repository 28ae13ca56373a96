"""DINO ViT-B/16 loading: DINO's `.pth` layout and the HF facebook/dino-vitb16 folder, strictly."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from tiny_dims1_models import tiny_dino, write_tiny_dino_hf, write_tiny_dino_pth

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.dino import DINO_SPEC, dino_state_from_hf, load_dino, load_dino_file
from vbench_lite.errors import WeightsMissing

torch.set_num_threads(1)


def dino_reference_pos_encoding(pos_embed: torch.Tensor, patch: int, tokens: int, w: int, h: int):
    """DINO's `VisionTransformer.interpolate_pos_encoding` (facebookresearch/dino, Apache-2.0),
    transcribed; DINO names the height `w` (`B, nc, w, h = x.shape`)."""
    npatch = tokens - 1
    N = pos_embed.shape[1] - 1
    if npatch == N and w == h:
        return pos_embed
    class_pos_embed = pos_embed[:, 0]
    patch_pos_embed = pos_embed[:, 1:]
    dim = pos_embed.shape[-1]
    w0 = w // patch
    h0 = h // patch
    w0, h0 = w0 + 0.1, h0 + 0.1
    patch_pos_embed = F.interpolate(
        patch_pos_embed.reshape(1, int(math.sqrt(N)), int(math.sqrt(N)), dim).permute(0, 3, 1, 2),
        scale_factor=(w0 / math.sqrt(N), h0 / math.sqrt(N)),
        mode="bicubic",
    )
    patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
    return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)


def test_dino_pth_loads_strictly_from_vbench_cache_layout(tmp_path):
    path, model = write_tiny_dino_pth(tmp_path)
    loaded, found = load_dino(ScoringContext(weights_dir=tmp_path))
    assert found == path
    pixels = torch.randn(2, 3, 224, 398)  # VBench's 16:9 frame after dino_transform
    with torch.no_grad():
        assert torch.equal(loaded(pixels), model(pixels))


def test_dino_pth_with_dataparallel_prefix_loads(tmp_path):
    path, model = write_tiny_dino_pth(tmp_path, prefix="module.")
    loaded = load_dino_file(path)
    assert torch.equal(loaded.pos_embed, model.pos_embed)


def test_dino_pth_with_a_missing_key_is_refused(tmp_path):
    path, model = write_tiny_dino_pth(tmp_path)
    state = torch.load(path, weights_only=True)
    del state["blocks.1.mlp.fc2.bias"]
    torch.save(state, path)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_dino_file(path)


@pytest.mark.parametrize("height,width", [(224, 398), (224, 224), (398, 224), (224, 300)])
def test_position_embeddings_interpolate_as_dino_does(height, width):
    model = tiny_dino()
    tokens = 1 + (height // 16) * (width // 16)
    ours = model.interpolate_pos_encoding(tokens, height, width)
    reference = dino_reference_pos_encoding(model.pos_embed, 16, tokens, height, width)
    assert torch.equal(ours, reference)


@pytest.mark.parametrize("safetensors", [True, False])
def test_hf_dino_folder_gives_the_transformers_cls_feature(tmp_path, safetensors):
    folder, hf_model = write_tiny_dino_hf(tmp_path, safetensors=safetensors)
    ours, found = load_dino(ScoringContext(weights_dir=tmp_path))
    assert found == folder
    assert ours.blocks[0].attn.num_heads == 2  # read from config.json, not guessed
    pixels = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        expected = hf_model(pixel_values=pixels).last_hidden_state[:, 0]
        torch.testing.assert_close(ours(pixels), expected, atol=1e-5, rtol=1e-5)


def test_hf_key_map_rejects_unknown_keys():
    with pytest.raises(KeyError, match="unexpected key"):
        dino_state_from_hf({"encoder.layer.0.attention.attention.rotary.weight": torch.zeros(1)})


def test_loaded_dino_is_shared_through_the_backbone_cache(tmp_path):
    write_tiny_dino_pth(tmp_path)
    context = ScoringContext(weights_dir=tmp_path)
    first, _ = load_dino(context)
    second, _ = load_dino(context)
    assert first is second and len(context.backbones.loads) == 1


def test_missing_dino_names_the_file_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "none"))
    monkeypatch.delenv("VBL_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsMissing) as error:
        load_dino(ScoringContext(weights_dir=tmp_path))
    assert DINO_SPEC.file in str(error.value) and "dino_model" in str(error.value)


def test_hf_dino_snapshot_in_the_hub_cache_is_found(tmp_path, monkeypatch):
    snapshots = tmp_path / "hf" / "hub" / "models--facebook--dino-vitb16" / "snapshots"
    write_tiny_dino_hf(tmp_path, folder=snapshots / "abc123")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "none"))
    monkeypatch.delenv("VBL_WEIGHTS_DIR", raising=False)
    model, found = load_dino(ScoringContext())
    assert found == snapshots / "abc123" and model.blocks[0].attn.num_heads == 2
