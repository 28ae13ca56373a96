"""The backend a dimension's `setup` loads.

`--backend auto|vbench|embedded` is resolved by the contract's `Dimension.resolve_backend` (auto:
the VBench-exact backend when its weights are here, else the first ready embedded one), so the
local runner and the Ray driver agree. A dimension with several non-VBench backends (motion
smoothness: "raft", "embedded") can also be pinned by name with `options["<dimension>.backend"]`.
"""

from __future__ import annotations

from vbench_lite.dimension import Dimension
from vbench_lite.errors import InputError


def backend_for(dimension: Dimension) -> str:
    """The backend `dimension.setup()` should load; agrees with `Dimension.resolve_backend`."""
    requested = dimension.context.options.get(f"{dimension.name}.backend")
    if requested is None:
        return dimension.resolve_backend()
    if requested not in dimension.backends:
        raise InputError(
            f"{dimension.name} has no backend '{requested}'; choose one of {', '.join(dimension.backends)}"
        )
    return str(requested)

