"""Plugin discovery through entry points; the core names no dimension or generator itself.

`ep.load()` runs only for what a command uses, so listing names (and `vbl --help`) never imports
torch or any model code.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from vbench_lite.errors import UnknownName

if TYPE_CHECKING:
    from vbench_lite.dimension import Dimension
    from vbench_lite.generator import Generator

DIMENSIONS_GROUP = "vbench_lite.dimensions"
GENERATORS_GROUP = "vbench_lite.generators"


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def dimension_names() -> list[str]:
    return sorted(_entry_points(DIMENSIONS_GROUP))


def generator_names() -> list[str]:
    return sorted(_entry_points(GENERATORS_GROUP))


def load_dimension_class(name: str) -> type[Dimension]:
    points = _entry_points(DIMENSIONS_GROUP)
    if name not in points:
        raise UnknownName("dimension", name, list(points))
    return points[name].load()


def load_generator_class(name: str) -> type[Generator]:
    points = _entry_points(GENERATORS_GROUP)
    if name not in points:
        raise UnknownName("model", name, list(points))
    return points[name].load()


def parse_dimension_list(spec: str) -> list[str]:
    """`all` or a comma list; unknown names fail before anything runs."""
    known = dimension_names()
    if spec.strip() == "all":
        return known
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for name in names:
        if name not in known:
            raise UnknownName("dimension", name, known)
    return list(dict.fromkeys(names))
