"""Convolutional backbones in channels-last memory layout, where that measures faster per host.

oneDNN's convolutions work in a channels-last layout; with PyTorch's default (contiguous NCHW)
tensors every convolution reorders its input and output. Converting the weights once makes the
activations flow channels-last instead. On an AVX2-only EPYC, AMT-S on four 320×176 frame pairs
took 0.94× the time that way; outputs moved by 9e-6 (another summation order). Whether it pays
is measured once per host (route_cache) and recorded with the kernel routes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from vbench_lite.dimensions.backbones.route_cache import best_time, cached_choice, host_key

ModuleT = TypeVar("ModuleT", bound=nn.Module)
MEMORY_FORMATS = ("contiguous", "channels_last")


def choose_memory_format(model: ModuleT, device: str, name: str, run: Callable[[nn.Module], object]) -> ModuleT:
    """Convert `model` to channels-last if `run(model)` (a typical call) is faster that way on this
    CPU; `VBL_MEMORY_FORMAT=contiguous|channels_last` forces one. The choice is kept on the model
    as `vbl_kernel_route`, for the manifest."""
    route = "contiguous"
    if torch.device(device).type == "cpu":
        route = os.environ.get("VBL_MEMORY_FORMAT", "auto")
        if route not in MEMORY_FORMATS:
            route = cached_choice(host_key("memory-format", name), MEMORY_FORMATS,
                                  lambda: time_memory_formats(model, run))
    if route == "channels_last":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    object.__setattr__(model, "vbl_kernel_route", route)
    return model


def time_memory_formats(model: nn.Module, run: Callable[[nn.Module], object]) -> dict[str, float]:
    import copy

    timings = {}
    with torch.inference_mode():
        for route in MEMORY_FORMATS:
            trial = copy.deepcopy(model)
            if route == "channels_last":
                trial = trial.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            timings[route] = best_time(lambda: run(trial), repeats=2)  # noqa: B023 (called at once)
    return timings
