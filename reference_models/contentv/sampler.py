"""Flow-matching Euler sampler with shift, and classifier-free guidance.

Convention: x_σ = (1−σ)·x₀ + σ·ε, the model predicts v ≈ ε − x₀. Schedule: σ = linspace(1, 0, N+1)
without the final 0 (N values from 1 to 1/N), shifted σ' = s·σ / (1 + (s−1)·σ), then a terminal 0.
The model is given the float timestep 1000·σ' (trap 3). Each Euler step adds in fp32 and is cast
back to the model dtype, as the official scheduler does (see `euler_step`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from vbench_lite.errors import InputError

NUM_TRAIN_TIMESTEPS = 1000


def shifted_sigmas(num_steps: int, shift: float) -> torch.Tensor:
    """[N+1] float32: the shifted schedule from 1 down to s/N/(1+(s−1)/N), then 0."""
    if num_steps < 1:
        raise InputError(f"num_inference_steps must be at least 1, got {num_steps}")
    base = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)[:-1].float()
    shifted = shift * base / (1 + (shift - 1) * base)
    return torch.cat([shifted, torch.zeros(1)])


def model_timesteps(sigmas: torch.Tensor) -> torch.Tensor:
    """The float timesteps the transformer sees: 1000·σ' for every step (the terminal 0 excluded)."""
    return sigmas[:-1] * NUM_TRAIN_TIMESTEPS


def euler_step(sample: torch.Tensor, velocity: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    """x ← x + (σ'_{i+1} − σ'_i)·v, cast to the velocity's dtype, as diffusers' scheduler does it:
    the sample is upcast to fp32 but dt·v stays in the velocity's dtype (a 0-dim fp32 dt does not
    promote a bf16 tensor), so with a bf16 model the product is rounded to bf16 before the add."""
    dt = torch.tensor(sigma_next, dtype=torch.float32) - torch.tensor(sigma, dtype=torch.float32)
    return (sample.float() + dt.to(velocity.device) * velocity).to(velocity.dtype)


def cfg_combine(v_uncond: torch.Tensor, v_cond: torch.Tensor, guidance: float) -> torch.Tensor:
    """v = v_u + g·(v_c − v_u)."""
    return v_uncond + guidance * (v_cond - v_uncond)


def read_shift(checkpoint: Path) -> float:
    """The shift from `scheduler/scheduler_config.json` of a diffusers-layout folder; never assumed."""
    path = Path(checkpoint) / "scheduler" / "scheduler_config.json"
    if not path.is_file():
        raise InputError(f"no scheduler/scheduler_config.json in {checkpoint}: the shift must come from it")
    config = json.loads(path.read_text())
    if config.get("use_dynamic_shifting"):
        raise InputError(f"{path} uses dynamic shifting; only a fixed shift is supported")
    if "shift" not in config:
        raise InputError(f"{path} has no 'shift' field")
    return float(config["shift"])


def scheduler_config(shift: float) -> dict:
    """What `save` writes as scheduler/scheduler_config.json (diffusers' class and field names)."""
    return {
        "_class_name": "FlowMatchEulerDiscreteScheduler",
        "num_train_timesteps": NUM_TRAIN_TIMESTEPS,
        "shift": float(shift),
        "use_dynamic_shifting": False,
    }
