"""The TensorFlow.js graph loader on a tiny graph written in the real format (no network, no TF)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_tfjs_graph import INPUT_SHAPE, tiny_constants, tiny_reference, write_tiny_graph

from vbench_lite.dimensions.backbones.tfjs_graph import TfjsGraphError, load_tfjs_graph, read_graph_model


@pytest.fixture
def tiny_json(tmp_path: Path) -> Path:
    return write_tiny_graph(tmp_path / "tiny")


def test_reader_dequantises_float16_and_joins_the_shards(tiny_json: Path) -> None:
    _, weights = read_graph_model(tiny_json)
    expected = tiny_constants()
    assert list(weights) == list(expected)
    for name, value in expected.items():
        assert weights[name].dtype == value.dtype and weights[name].shape == value.shape, name
        np.testing.assert_array_equal(weights[name], value, err_msg=name)


def test_float_weights_become_buffers_under_their_manifest_names(tiny_json: Path) -> None:
    graph = load_tfjs_graph(tiny_json)
    state = graph.state_dict()
    assert sorted(state) == ["bias", "kernel"]
    assert tuple(state["kernel"].shape) == (3, 3, 3, 4) and tuple(state["bias"].shape) == (4,)


@pytest.mark.parametrize("fuse", [True, False])
def test_graph_computes_what_the_same_network_in_torch_computes(tiny_json: Path, fuse: bool) -> None:
    graph = load_tfjs_graph(tiny_json, fuse=fuse)
    x = torch.randn(*INPUT_SHAPE, generator=torch.Generator().manual_seed(1))
    out, expected = graph(x), tiny_reference(x)
    assert sorted(out) == sorted(expected)
    for name in expected:
        torch.testing.assert_close(out[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)


def test_fusion_replaces_the_conv_chain_by_one_step(tiny_json: Path) -> None:
    fused, plain = load_tfjs_graph(tiny_json), load_tfjs_graph(tiny_json, fuse=False)
    assert [n.op for n in fused._steps].count("FusedConv2D") == 1
    assert len(plain._steps) - len(fused._steps) == 3  # Pad, Transpose and Conv2D folded into the Add


def test_a_batch_gives_what_each_frame_gives_alone(tiny_json: Path) -> None:
    graph = load_tfjs_graph(tiny_json)
    x = torch.randn(3, *INPUT_SHAPE[1:], generator=torch.Generator().manual_seed(2))
    batched = graph(x)
    for i in range(3):
        single = graph(x[i : i + 1])
        for name in batched:
            torch.testing.assert_close(batched[name][i : i + 1], single[name], rtol=1e-5, atol=1e-6)


def test_an_op_the_loader_lacks_is_named(tiny_json: Path) -> None:
    model = json.loads(tiny_json.read_text())
    model["modelTopology"]["node"].append({"name": "odd", "op": "Erf", "input": ["act"]})
    tiny_json.write_text(json.dumps(model))
    with pytest.raises(TfjsGraphError, match="Erf"):
        load_tfjs_graph(tiny_json)


def test_a_missing_shard_is_named(tiny_json: Path) -> None:
    (tiny_json.parent / "tiny.shard2of2.bin").unlink()
    with pytest.raises(TfjsGraphError, match="tiny.shard2of2.bin is missing"):
        load_tfjs_graph(tiny_json)


def test_a_truncated_shard_is_an_error(tiny_json: Path) -> None:
    shard = tiny_json.parent / "tiny.shard2of2.bin"
    shard.write_bytes(shard.read_bytes()[:-4])
    with pytest.raises(TfjsGraphError, match="shards end inside weight"):
        load_tfjs_graph(tiny_json)


def test_a_json_that_is_not_a_graph_model_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text('{"format": "layers-model"}')
    with pytest.raises(TfjsGraphError, match="is not a TensorFlow.js graph model"):
        load_tfjs_graph(path)


def test_an_unsupported_attribute_names_the_node(tiny_json: Path) -> None:
    model = json.loads(tiny_json.read_text())
    conv = next(n for n in model["modelTopology"]["node"] if n["name"] == "conv")
    conv["attr"]["padding"] = {"s": "U0FNRQ=="}  # "SAME"
    tiny_json.write_text(json.dumps(model))
    graph = load_tfjs_graph(tiny_json, fuse=False)
    with pytest.raises(TfjsGraphError, match="conv: padding='SAME'"):
        graph(torch.zeros(*INPUT_SHAPE))
