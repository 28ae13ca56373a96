"""Plugin discovery through entry points; the core names no dimension or generator itself.

`ep.load()` runs only for what a command uses, so listing names (and `vbl --help`) never imports
torch or any model code.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

import typer

from vbench_lite.errors import InputError, UnknownName

if TYPE_CHECKING:
    from vbench_lite.dimension import Dimension
    from vbench_lite.generator import Generator

DIMENSIONS_GROUP = "vbench_lite.dimensions"
GENERATORS_GROUP = "vbench_lite.generators"
COMMANDS_GROUP = "vbench_lite.commands"
# Which extra brings the modules a command group imports, for the one-line hint.
_EXTRAS = {"leaderboard": "app"}


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
    if not names:
        raise InputError("--dims is empty; give all, available or a comma list such as temporal_flickering")
    for name in names:
        if name not in known:
            raise UnknownName("dimension", name, known)
    return list(dict.fromkeys(names))


def command_registrars() -> list[tuple[str, Callable[[typer.Typer], None]]]:
    """(name, register) of every installed command group; a group that fails to import is passed
    on as a registrar that re-raises, so the CLI can show a hint instead of dying."""
    found: list[tuple[str, Callable[[typer.Typer], None]]] = []
    for name, point in sorted(_entry_points(COMMANDS_GROUP).items()):
        try:
            found.append((name, point.load()))
        except ImportError as error:
            found.append((name, _raising(error)))
    return found


def _raising(error: ImportError) -> Callable[[typer.Typer], None]:
    def register(_app: typer.Typer) -> None:
        raise error

    return register


def missing_extra_hint(name: str, error: ImportError) -> str:
    module = error.name or str(error)
    extra = _EXTRAS.get(name)
    install = f"pip install 'vbench-lite[{extra}]'" if extra else f"pip install {module}"
    return f"`vbl {name}` needs {module}, which is not installed: {install}"
