"""Backend choice for dimensions that only have the VBench-exact backend.

No registry package ships CLIP, ViCLIP or the LAION aesthetic head (spec offline_weights.md), and
a look-alike scorer on other weights would give numbers that mean something else under the same
name. So aesthetic_quality, overall_consistency, temporal_style, appearance_style and clip_score
run "vbench" under `--backend auto` too; when the weights are absent, loading raises the one-line
WeightsMissing that names the file and where it goes.
"""

from __future__ import annotations

from vbench_lite.dimension import ScoringContext
from vbench_lite.errors import InputError


def vbench_backend_only(context: ScoringContext, dimension: str) -> str:
    """"vbench" for auto/vbench; an explicit "embedded" is refused with the reason."""
    requested = str(context.options.get(f"{dimension}.backend", context.backend))
    if requested in ("auto", "vbench"):
        return "vbench"
    raise InputError(
        f"{dimension} has no '{requested}' backend: no installable package ships its weights; "
        "use --backend vbench (or auto) with the files `vbl weights` lists"
    )
