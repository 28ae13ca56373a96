"""AMT-S: our network loads `amt-s.pth` strictly and computes what AMT's own code computes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from tiny_dims1_models import write_tiny_amt

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.amt import AMT_S_SPEC, load_amt, load_amt_file
from vbench_lite.errors import WeightsMissing

torch.set_num_threads(1)


def test_amt_checkpoint_loads_strictly_from_vbench_cache_layout(tmp_path):
    path, model = write_tiny_amt(tmp_path)
    loaded, found = load_amt(ScoringContext(weights_dir=tmp_path))
    assert found == path
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_amt_checkpoint_with_a_surplus_key_is_refused(tmp_path):
    path, _ = write_tiny_amt(tmp_path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"]["decoder5.weight"] = torch.zeros(1)
    torch.save(checkpoint, path)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        load_amt_file(path)


def test_missing_amt_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "none"))
    monkeypatch.delenv("VBL_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsMissing, match=AMT_S_SPEC.file):
        load_amt(ScoringContext(weights_dir=tmp_path))


@pytest.mark.slow
@pytest.mark.fidelity
def test_batched_amt_equals_amts_own_network_one_pair_at_a_time(tmp_path):
    vbench = pytest.importorskip("vbench")
    pytest.importorskip("omegaconf")
    from omegaconf import OmegaConf

    amt_root = Path(vbench.__file__).parent / "third_party" / "amt"
    sys.path.append(str(amt_root))  # AMT's build_from_cfg imports "networks.AMT-S" from there
    from vbench.third_party.amt.utils.build_utils import build_from_cfg

    reference = build_from_cfg(OmegaConf.load(amt_root / "cfgs" / "AMT-S.yaml").network)
    path, _ = write_tiny_amt(tmp_path)
    reference.load_state_dict(torch.load(path, weights_only=True)["state_dict"])
    reference.eval()
    ours = load_amt_file(path)
    generator = torch.Generator().manual_seed(1)
    first = torch.rand(3, 3, 128, 160, generator=generator)
    second = torch.roll(first, shifts=(3, -2), dims=(2, 3))
    half = torch.tensor(0.5).view(1, 1, 1, 1)
    with torch.no_grad():
        expected = torch.cat(
            [
                reference(first[i : i + 1], second[i : i + 1], half, scale_factor=1.0, eval=True)["imgt_pred"]
                for i in range(3)
            ]
        )
        batched = ours(first, second, half.expand(3, 1, 1, 1))
    torch.testing.assert_close(batched, expected, atol=1e-5, rtol=1e-5)
