"""Run provenance for `manifest.json`: the run id, the config hash, the machine and the people.

The config hash covers every setting that can change a number (inputs, dimensions, backends,
model and its options, seeds), not where the output goes or how fast it runs. The manifest's
model and its file live in `vbench_lite.rundir`.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import socket
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vbench_lite import __version__
from vbench_lite.rundir import AggregationRecord, Manifest, ModelRecord, SuiteRecord


def config_hash(config: dict[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_run_id() -> str:
    # Time-ordered prefix so run directories and store rows sort by creation.
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def git_sha() -> str | None:
    """The vbl source checkout's commit, when vbl runs from one."""
    here = Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def environment(device: str, dtype: str) -> dict[str, Any]:
    import numpy

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "numpy": numpy.__version__,
        "device": device,
        "dtype": dtype,
    }
    try:
        import torch

        env["torch"] = torch.__version__
        env["cuda"] = torch.version.cuda
        if device.startswith("cuda") and torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        env["torch"] = None
    return env


def user() -> str:
    try:
        return os.environ.get("VBL_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_manifest(
    *,
    run_id: str,
    config: dict[str, Any],
    model: ModelRecord,
    prompt_suite: SuiteRecord | None,
    aggregation: AggregationRecord,
    device: str,
    dtype: str,
    run_dir: Path,
) -> Manifest:
    return Manifest(
        run_id=run_id,
        created_at=now_iso(),
        vbl={"version": __version__, "git_sha": git_sha()},
        model=model,
        config=config,
        config_hash=config_hash(config),
        prompt_suite=prompt_suite,
        aggregation=aggregation,
        environment=environment(device, dtype),
        sampled_by=user() if model.name not in (None, "videos") else None,
        evaluated_by=user(),
        run_dir=str(run_dir.resolve()),
    )
