"""UMT ViT-L/16 loading: the real file's layout loads strictly; wrappers, wrong files, missing files."""

from __future__ import annotations

import argparse

import pytest
import torch
from tiny_umt import TINY, key_table, model_keys, umt_state_dict, write_umt

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.umt import (
    UMT_WEIGHTS,
    UmtConfig,
    load_umt,
    load_umt_file,
    sinusoid_positions,
)
from vbench_lite.errors import InputError, WeightsMissing

torch.set_num_threads(1)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_full_size_model_has_exactly_the_key_table_keys_and_shapes():
    assert sorted(model_keys(UmtConfig())) == sorted(key_table())
    assert len(key_table()) == 319


def test_tiny_checkpoint_in_the_real_layout_loads_strictly_from_the_vbench_cache(tmp_path):
    state = umt_state_dict(TINY)  # fp16, bare, no pos_embed: the real file's layout
    path = write_umt(tmp_path, state)
    model, found = load_umt(ScoringContext(weights_dir=tmp_path))
    assert found == path and model.config == TINY
    loaded = model.state_dict()
    assert all(loaded[name].dtype == torch.float32 and torch.equal(loaded[name], value.float())
               for name, value in state.items())
    # Without pos_embed in the file, VBench's interpolated sinusoid table is used.
    assert torch.equal(loaded["pos_embed"], sinusoid_positions(TINY))
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 16, 224, 224))
    assert logits.shape == (1, 400) and torch.isfinite(logits).all()


def test_a_stored_pos_embed_replaces_the_sinusoid_table(tmp_path):
    state = umt_state_dict(TINY, pos_embed=True)
    model = load_umt_file(write_umt(tmp_path, state))
    assert torch.equal(model.pos_embed, state["pos_embed"].float())


@pytest.mark.parametrize("wrapper,prefix", [("model", ""), ("module", ""), (None, "module."), ("model", "module.")])
def test_umts_own_checkpoint_wrappers_are_unwrapped(tmp_path, wrapper, prefix):
    bare = load_umt_file(write_umt(tmp_path / "bare", umt_state_dict(TINY)))
    wrapped = load_umt_file(write_umt(tmp_path / "wrapped", umt_state_dict(TINY), wrapper=wrapper, prefix=prefix))
    assert all(torch.equal(a, b) for a, b in zip(bare.state_dict().values(), wrapped.state_dict().values(),
                                                 strict=True))


def test_an_unknown_wrapper_is_a_one_line_error_naming_what_the_file_holds(tmp_path):
    path = write_umt(tmp_path, umt_state_dict(TINY), wrapper="state_dict")
    with pytest.raises(InputError) as error:
        load_umt_file(path)
    assert "state_dict" in one_line(error) and "'model' or 'module'" in str(error.value)


def test_a_checkpoint_of_another_model_is_a_one_line_error(tmp_path):
    state = umt_state_dict(TINY)
    state["blocks.0.attn.qkv.bias"] = torch.zeros(3 * TINY.width)  # timm's plain-ViT layout
    del state["blocks.1.attn.q_bias"], state["blocks.1.attn.v_bias"]
    with pytest.raises(InputError) as error:
        load_umt_file(write_umt(tmp_path, state))
    message = one_line(error)
    assert "missing 2 key(s) (blocks.1.attn.q_bias, blocks.1.attn.v_bias)" in message
    assert "unexpected 1 key(s) (blocks.0.attn.qkv.bias)" in message


def test_a_file_without_umt_keys_is_a_one_line_error(tmp_path):
    with pytest.raises(InputError) as error:
        load_umt_file(write_umt(tmp_path, {"cls_token": torch.zeros(1, 1, 8)}))
    assert "not a UMT video classifier checkpoint" in one_line(error)


def test_a_pos_embed_for_8_frames_is_a_one_line_shape_error(tmp_path):
    state = umt_state_dict(TINY)
    state["pos_embed"] = torch.zeros(1, 8 * 14 * 14, TINY.width)
    with pytest.raises(InputError) as error:
        load_umt_file(write_umt(tmp_path, state))
    assert "pos_embed" in one_line(error) and "size mismatch" in str(error.value)


def test_a_training_checkpoint_with_python_objects_is_refused_in_one_line(tmp_path):
    path = tmp_path / "umt.pth"
    torch.save({"model": umt_state_dict(TINY), "args": argparse.Namespace(lr=1e-3)}, path)
    with pytest.raises(InputError) as error:
        load_umt_file(path)
    assert "argparse.Namespace" in one_line(error) and "weights_only" in str(error.value)


def test_a_file_that_is_not_a_checkpoint_is_a_one_line_error(tmp_path):
    path = tmp_path / "umt.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError) as error:
        load_umt_file(path)
    assert "not a plain tensor checkpoint" in one_line(error)


def test_missing_umt_names_the_file_and_the_vbench_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("VBL_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsMissing) as error:
        load_umt(ScoringContext(weights_dir=tmp_path))
    assert UMT_WEIGHTS.file in str(error.value) and "umt_model" in str(error.value)


def test_the_loaded_umt_is_shared_through_the_backbone_cache(tmp_path):
    write_umt(tmp_path)
    context = ScoringContext(weights_dir=tmp_path)
    first, _ = load_umt(context)
    second, _ = load_umt(context)
    assert first is second and len(context.backbones.loads) == 1
