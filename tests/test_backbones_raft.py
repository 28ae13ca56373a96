"""RAFT loading: VBench's `raft-things.pth` (original layout, our key map) and torchvision's files."""

from __future__ import annotations

import pytest
import torch
from tiny_dims1_models import write_tiny_raft_things, write_torchvision_raft

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.raft import (
    FlowCache,
    cached_raft_flows,
    centred_pad,
    load_raft,
    load_raft_file,
    raft_flow,
    torchvision_state_from_raft,
)

torch.set_num_threads(1)


def test_torchvision_raft_file_loads_from_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "no-vbench"))
    path, model = write_torchvision_raft(tmp_path / "torch" / "hub" / "checkpoints")
    loaded, found = load_raft(ScoringContext())
    assert found == path
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


@pytest.mark.fidelity
def test_raft_things_key_map_covers_every_key_and_loads_strictly(tmp_path):
    pytest.importorskip("vbench", reason="the original RAFT code ships with vbench")
    path = write_tiny_raft_things(tmp_path)
    original = torch.load(path, weights_only=True)
    converted = torchvision_state_from_raft(original)
    model = load_raft_file(path)  # strict inside
    assert set(converted) == set(model.state_dict())
    assert torch.equal(
        model.state_dict()["update_block.recurrent_block.convgru2.convq.weight"],
        original["module.update_block.gru.convq2.weight"],
    )


@pytest.mark.slow
@pytest.mark.fidelity
def test_converted_raft_things_gives_the_original_raft_flow(tmp_path):
    pytest.importorskip("vbench")
    from easydict import EasyDict
    from vbench.third_party.RAFT.core.raft import RAFT

    path = write_tiny_raft_things(tmp_path)
    original = RAFT(EasyDict(small=False, mixed_precision=False, alternate_corr=False))
    state = torch.load(path, weights_only=True)
    original.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
    original.eval()
    ours = load_raft_file(path)
    generator = torch.Generator().manual_seed(0)
    first = torch.rand(1, 3, 128, 160, generator=generator) * 255
    second = torch.roll(first, shifts=(2, 3), dims=(2, 3))
    with torch.no_grad():
        _, expected = original(first, second, iters=20, test_mode=True)
    torch.testing.assert_close(raft_flow(ours, first, second), expected, atol=1e-4, rtol=1e-4)


def test_centred_padding_matches_raft_input_padder():
    assert centred_pad(144, 176, 8) == [0, 0, 0, 0]
    assert centred_pad(270, 481, 8) == [3, 4, 1, 1]  # [left, right, top, bottom]


@pytest.mark.slow
def test_flow_cache_returns_a_computed_pair_without_recomputing(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    _, model = write_torchvision_raft(tmp_path / "torch" / "hub" / "checkpoints")
    frames = torch.rand(3, 3, 128, 128) * 255
    cache = FlowCache()
    first = cached_raft_flows(model, cache, "v.mp4", frames, {0: 0, 2: 1, 4: 2}, [(0, 2)], 4)
    calls = []
    model.feature_encoder.register_forward_hook(lambda *args: calls.append(1))
    again = cached_raft_flows(model, cache, "v.mp4", frames, {0: 0, 2: 1, 4: 2}, [(0, 2), (2, 4)], 4)
    assert torch.equal(again[0], first[0]) and cache.hits == 1 and len(calls) == 1


@pytest.mark.slow
def test_shared_encoder_pass_gives_torchvision_raft_final_flow_exactly(tmp_path):
    from vbench_lite.dimensions.backbones.raft import raft_flows_for_pairs

    _, model = write_torchvision_raft(tmp_path)
    frames = torch.rand(3, 3, 128, 136, generator=torch.Generator().manual_seed(2)) * 255
    with torch.no_grad():
        expected = model(2 * frames[:2] / 255 - 1, 2 * frames[1:] / 255 - 1, num_flow_updates=20)[-1]
    assert torch.equal(raft_flows_for_pairs(model, frames, [(0, 1), (1, 2)]), expected)
