"""`--backend auto|vbench|embedded` → the backend a dimension runs (DESIGN.md, issue 3 §5).

`auto` takes the VBench-exact backend when its weights are on this machine, else the embedded one.
A dimension may offer further named backends (motion_smoothness's "raft"); those are chosen by
name, through `--backend` or `options["<dimension>.backend"]`.
"""

from __future__ import annotations

from vbench_lite.dimension import ScoringContext
from vbench_lite.errors import InputError


def choose_backend(context: ScoringContext, dimension: str, backends: tuple[str, ...],
                   vbench_weights_present: bool) -> str:
    requested = str(context.options.get(f"{dimension}.backend", context.backend))
    if requested == "auto":
        return "vbench" if vbench_weights_present else "embedded"
    if requested not in backends:
        raise InputError(
            f"{dimension} has no backend '{requested}'; choose one of auto, {', '.join(backends)}"
        )
    return requested
