"""Linear-layer kernel routes: oneDNN gives PyTorch's products (to rounding) when taken; the route
of each backbone is chosen per machine by timing both on its own layer shapes, can be forced, and
is recorded."""

from __future__ import annotations

import copy

import pytest
import torch
from tiny_dims1_models import write_tiny_dino_pth
from torch import nn

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones import onednn
from vbench_lite.dimensions.backbones.dino import load_dino
from vbench_lite.dimensions.backbones.onednn import (
    ROUTES,
    OneDnnLinear,
    OneDnnSelfAttention,
    choose_linear_route,
    linear,
    linear_shapes,
    onednn_enabled,
    time_routes,
    use_onednn_linears,
)

pytestmark = [
    pytest.mark.skipif(not onednn_enabled(), reason="PyTorch without oneDNN linear, or VBL_ONEDNN=0"),
    pytest.mark.usefixtures("measured_kernel_routes"),  # the selector measures here
]


def ops_run(function) -> set[str]:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        function()
    return {event.key for event in profile.key_averages()}


@pytest.mark.parametrize("shape", [(5, 96), (2, 7, 96), (2, 3, 4, 96)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_equals_torch_to_rounding_and_runs_in_onednn(shape, with_bias):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=generator)
    weight = torch.randn(40, 96, generator=generator)
    bias = torch.randn(40, generator=generator) if with_bias else None
    expected = torch.nn.functional.linear(x, weight, bias)
    torch.testing.assert_close(linear(x, weight, bias), expected, rtol=1e-5, atol=1e-5)
    assert "mkldnn::_linear_pointwise" in ops_run(lambda: linear(x, weight, bias))
    transposed = torch.randn(96, 6, generator=generator).t()  # not contiguous
    torch.testing.assert_close(linear(transposed, weight, bias), torch.nn.functional.linear(transposed, weight, bias))


def test_training_other_dtypes_and_vbl_onednn_0_take_pytorch_s_route(monkeypatch):
    layer = nn.Linear(8, 4)
    use_onednn_linears(layer)
    x = torch.randn(3, 8)
    assert "mkldnn::_linear_pointwise" not in ops_run(lambda: layer(x))  # grad enabled, weight trainable
    with torch.no_grad():
        assert "mkldnn::_linear_pointwise" in ops_run(lambda: layer(x))
        assert "mkldnn::_linear_pointwise" not in ops_run(lambda: layer.double()(x.double()))
        layer.float()
        monkeypatch.setenv("VBL_ONEDNN", "0")
        assert "mkldnn::_linear_pointwise" not in ops_run(lambda: layer(x))
        assert torch.equal(layer(x), torch.nn.functional.linear(x, layer.weight, layer.bias))


@pytest.mark.parametrize("batch_first", [True, False])
def test_self_attention_equals_pytorch_s_with_and_without_a_causal_mask(batch_first):
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(64, 4, batch_first=batch_first).eval()
    ours = use_onednn_linears(copy.deepcopy(reference))
    assert type(ours) is OneDnnSelfAttention and ours.state_dict().keys() == reference.state_dict().keys()
    x = torch.randn(3, 9, 64) if batch_first else torch.randn(9, 3, 64)  # 9 tokens, batch of 3
    causal = torch.full((9, 9), float("-inf")).triu(1)
    with torch.no_grad():
        for mask in (None, causal):
            expected, _ = reference(x, x, x, need_weights=False, attn_mask=mask)
            got, weights = ours(x, x, x, need_weights=False, attn_mask=mask)
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
            assert weights is None
        # uses it does not cover go through PyTorch's own forward
        expected, expected_weights = reference(x, x, x)
        got, weights = ours(x, x, x)
        torch.testing.assert_close(got, expected)
        torch.testing.assert_close(weights, expected_weights)


@pytest.mark.parametrize("route", ["onednn", "pytorch"])
def test_a_forced_route_is_taken_keeps_the_keys_and_the_numbers(tmp_path, monkeypatch, route):
    monkeypatch.setenv("VBL_LINEAR_ROUTE", route)
    _, written = write_tiny_dino_pth(tmp_path)
    context = ScoringContext(weights_dir=tmp_path)
    model, _ = load_dino(context)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears and all((type(m) is OneDnnLinear) == (route == "onednn") for m in linears)
    assert list(context.backbones.routes) == ["dino-vitb16"]
    assert context.backbones.routes["dino-vitb16"].split("+")[0] == route  # then "+mlp1024" if chunking won
    assert model.state_dict().keys() == written.state_dict().keys()
    frames = torch.rand(2, 3, 64, 80)
    with torch.no_grad():
        torch.testing.assert_close(model(frames), written.eval()(frames), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("times", "expected"), [((1.0, 2.0), "pytorch"), ((2.0, 1.0), "onednn")])
def test_the_selector_keeps_the_faster_route_and_remembers_it_per_host(monkeypatch, times, expected):
    timed: list[str] = []

    def best_time(route, *_):
        timed.append(route)
        return dict(zip(ROUTES, times, strict=True))[route]

    monkeypatch.setattr(onednn, "_best_time", best_time)
    model = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))
    assert linear_shapes(model) == {(16, 32): 1, (32, 16): 1}
    choose_linear_route(model)
    assert model.vbl_linear_route == expected and sorted(timed) == sorted(ROUTES * 2)
    assert (type(model[0]) is OneDnnLinear) == (expected == "onednn")
    again = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))
    choose_linear_route(again)  # the same shapes on the same host: read from the cache, not timed
    assert again.vbl_linear_route == expected and len(timed) == 4


def test_the_selector_times_real_products_on_both_routes():
    timings = time_routes(linear_shapes(nn.Linear(768, 3072)), rows=64)
    assert set(timings) == set(ROUTES) and all(0 < t < 10 for t in timings.values())
