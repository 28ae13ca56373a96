"""Attention and MLP routes on CPU: each gives PyTorch's numbers (to rounding), each can be forced,
the selector keeps the faster one on the machine at hand and remembers it; CLIP's CLS-only last
block gives open_clip's features."""

from __future__ import annotations

import copy

import pytest
import torch
from open_clip.transformer import QuickGELU
from torch import nn

from vbench_lite.backbones import BackboneCache
from vbench_lite.dimensions.backbones import mlp_rows, self_attention
from vbench_lite.dimensions.backbones.clip import encode_image_cls_only, takes_cls_only
from vbench_lite.dimensions.backbones.dino import Mlp
from vbench_lite.dimensions.backbones.kernel_routes import choose_kernel_routes
from vbench_lite.dimensions.backbones.mlp_rows import MLP_ROUTES, choose_mlp_rows, chunk_rows, row_wise_mlps
from vbench_lite.dimensions.backbones.self_attention import (
    ATTENTION_ROUTES,
    SdpaSelfAttention,
    choose_attention_route,
    time_attention_routes,
)

pytestmark = pytest.mark.usefixtures("measured_kernel_routes")  # the selectors measure here


def clip_mlp(width: int = 16) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, 4 * width), QuickGELU(), nn.Linear(4 * width, width))


@pytest.mark.parametrize("batch_first", [True, False])
def test_sdpa_attention_equals_pytorch_s_and_keeps_its_keys(batch_first):
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(64, 4, batch_first=batch_first).eval()
    ours = copy.deepcopy(reference)
    ours.__class__ = SdpaSelfAttention
    assert ours.state_dict().keys() == reference.state_dict().keys()
    x = torch.randn(3, 9, 64) if batch_first else torch.randn(9, 3, 64)
    with torch.inference_mode():
        expected = reference(x, x, x, need_weights=False)[0]
        torch.testing.assert_close(ours(x, x, x, need_weights=False)[0], expected, rtol=1e-5, atol=1e-5)
        query = x[:, :1] if batch_first else x[:1]  # cross-attention: PyTorch's own forward
        torch.testing.assert_close(ours(query, x, x, need_weights=False)[0],
                                   reference(query, x, x, need_weights=False)[0])


def test_only_batch_first_attention_is_switched_and_a_forced_route_is_taken(monkeypatch):
    model = nn.ModuleList([nn.MultiheadAttention(32, 2, batch_first=True), nn.MultiheadAttention(32, 2)])
    monkeypatch.setenv("VBL_ATTENTION_ROUTE", "native")
    assert choose_attention_route(model, tokens=5, images=2) == "native" and type(model[0]) is nn.MultiheadAttention
    monkeypatch.setenv("VBL_ATTENTION_ROUTE", "sdpa")
    assert choose_attention_route(model, tokens=5, images=2) == "sdpa"
    assert type(model[0]) is SdpaSelfAttention and type(model[1]) is nn.MultiheadAttention  # seq-first: already SDPA


@pytest.mark.parametrize("times", [(1.0, 2.0), (2.0, 1.0)])
def test_the_attention_selector_keeps_the_faster_route_and_remembers_it(monkeypatch, times):
    calls: list[int] = []

    def timings(*_):
        calls.append(1)
        return dict(zip(ATTENTION_ROUTES, times, strict=True))

    monkeypatch.setattr(self_attention, "time_attention_routes", timings)
    expected = "native" if times[0] < times[1] else "sdpa"
    for _ in range(2):  # the second model reads the cache
        model = nn.Sequential(nn.MultiheadAttention(32, 2, batch_first=True))
        assert choose_attention_route(model, tokens=5, images=2) == expected
        assert (type(model[0]) is SdpaSelfAttention) == (expected == "sdpa")
    assert len(calls) == 1


def test_the_attention_timer_runs_both_routes():
    timings = time_attention_routes([(64, 4)], tokens=17, images=4)
    assert set(timings) == set(ATTENTION_ROUTES) and all(0 < t < 10 for t in timings.values())


@pytest.mark.parametrize("make", [clip_mlp, lambda: Mlp(16, 64)])
@pytest.mark.parametrize("shape", [(2, 9, 16), (5, 16), (3, 2, 7, 16)])
def test_a_row_chunked_mlp_gives_the_whole_mlp_s_numbers(make, shape):
    torch.manual_seed(0)
    whole = make().eval()
    chunked = copy.deepcopy(whole)
    chunk_rows(chunked, 4)  # 4 rows a chunk: the last chunk is short
    assert chunked.state_dict().keys() == whole.state_dict().keys() and isinstance(chunked, type(whole))
    x = torch.randn(*shape)
    with torch.inference_mode():
        torch.testing.assert_close(chunked(x), whole(x), rtol=1e-6, atol=1e-6)


def test_row_wise_mlps_are_found_and_nothing_else():
    model = nn.ModuleDict({
        "clip": clip_mlp(), "dino": Mlp(16, 64),
        "relu": nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 16)),  # not declared row-wise
        "conv": nn.Sequential(nn.Conv1d(16, 16, 3), nn.GELU(), nn.Conv1d(16, 16, 3)),  # mixes tokens
    })
    assert row_wise_mlps(model) == [model["clip"], model["dino"]]


@pytest.mark.parametrize("route", MLP_ROUTES)
def test_a_forced_mlp_route_is_taken(monkeypatch, route):
    monkeypatch.setenv("VBL_MLP_ROUTE", route)
    model = nn.Sequential(clip_mlp())
    assert choose_mlp_rows(model, rows=4096) == route
    assert getattr(model[0], "vbl_mlp_rows", None) == (None if route == "whole" else int(route))


@pytest.mark.parametrize("faster", MLP_ROUTES)
def test_the_mlp_selector_keeps_the_faster_route_and_remembers_it(monkeypatch, faster):
    calls: list[int] = []

    def timings(*_):
        calls.append(1)
        return {route: 1.0 if route == faster else 2.0 for route in MLP_ROUTES}

    monkeypatch.setattr(mlp_rows, "time_mlp_routes", timings)
    for _ in range(2):
        model = nn.Sequential(clip_mlp())
        assert choose_mlp_rows(model, rows=4096) == faster
    assert len(calls) == 1


def test_the_mlp_timer_runs_every_route():
    timings = mlp_rows.time_mlp_routes(clip_mlp(64), rows=2048)
    assert set(timings) == set(MLP_ROUTES) and all(0 < t < 10 for t in timings.values())


def tiny_open_clip(**vision) -> nn.Module:
    import open_clip

    torch.manual_seed(0)
    config = {"embed_dim": 32, "quick_gelu": True,
              "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, **vision},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 1}}
    model = open_clip.model.CLIP(**config).eval()
    for name, param in model.named_parameters():  # random norms, so that a skipped norm shows
        if "ln_" in name and name.endswith("weight"):
            param.data.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("routes", [("native", "whole"), ("sdpa", "1024")])
def test_the_cls_only_last_block_gives_open_clip_s_features_on_every_route(monkeypatch, routes):
    monkeypatch.setenv("VBL_ATTENTION_ROUTE", routes[0])
    monkeypatch.setenv("VBL_MLP_ROUTE", routes[1])
    model = tiny_open_clip()
    fast = choose_kernel_routes(copy.deepcopy(model), "cpu", tokens=17, images=64)
    assert takes_cls_only(fast.visual)
    pixels = torch.rand(70, 3, 64, 64)  # 70 × 17 rows: more than one 1024-row chunk
    with torch.inference_mode():
        torch.testing.assert_close(encode_image_cls_only(fast.visual, pixels), model.encode_image(pixels),
                                   rtol=1e-5, atol=1e-5)


def test_pooling_the_cls_only_block_cannot_reproduce_is_left_to_open_clip():
    assert not takes_cls_only(tiny_open_clip(pool_type="avg").visual)
    assert not takes_cls_only(tiny_open_clip(attentional_pool=True).visual)


def test_the_manifest_label_names_every_choice(monkeypatch):
    monkeypatch.setenv("VBL_LINEAR_ROUTE", "pytorch")
    monkeypatch.setenv("VBL_ATTENTION_ROUTE", "sdpa")
    monkeypatch.setenv("VBL_MLP_ROUTE", "1024")
    cache = BackboneCache()
    cache.get(("clip", "w", "cpu"), lambda: choose_kernel_routes(tiny_open_clip(), "cpu", tokens=17))
    assert cache.routes == {"clip": "pytorch+sdpa+mlp1024"}
