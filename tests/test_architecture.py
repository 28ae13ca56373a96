"""The layout holds: one installed namespace, a core that imports no app, and no import cycle.

Imports are read from the source (every `import`, at module level or inside a function, under
TYPE_CHECKING too): a cycle hidden in a function body is still a cycle in the design.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Repository folder -> the package it installs as.
PACKAGES = {
    "vbench_lite": "vbench_lite",
    "dimensions": "vbench_lite.dimensions",
    "prompts": "vbench_lite.prompts",
    "reference_models": "vbench_lite.reference_models",
    "leaderboard": "vbench_lite.leaderboard",
}
APPS = ("vbench_lite.dimensions", "vbench_lite.reference_models", "vbench_lite.leaderboard")


def module_files() -> dict[str, Path]:
    modules = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports (a `from package import name` counts as the module
    `package.name` when that is a module, else as the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                     for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {module: imports_of(path, known) - {module} for module, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.mark.slow
def test_no_module_imports_itself_back_through_others() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_core_imports_no_app_package() -> None:
    """Dimensions, generators and the leaderboard are found through entry points, never by name."""
    offenders = {
        module: sorted(t for t in targets if t.startswith(APPS))
        for module, targets in import_graph().items()
        if not module.startswith(APPS) and any(t.startswith(APPS) for t in targets)
    }
    assert offenders == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.slow
def test_an_installed_copy_has_no_generic_top_level_packages(tmp_path: Path) -> None:
    """`pip install .` puts only `vbench_lite` in site-packages: `import prompts` finds nothing."""
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(ROOT)]
    subprocess.run(install, check=True, capture_output=True, text=True)
    packages = [p.name for p in target.iterdir() if p.is_dir() and p.name != "bin" and ".dist-info" not in p.name]
    assert packages == ["vbench_lite"]
    probe = (
        f"import importlib.util, sys; sys.path.insert(0, {str(target)!r})\n"
        "assert importlib.util.find_spec('prompts') is None, 'a top-level prompts package is importable'\n"
        "import vbench_lite.prompts, vbench_lite.dimensions, vbench_lite.leaderboard, vbench_lite.reference_models\n"
        "print(vbench_lite.prompts.load_suite('vbl-mini').name, vbench_lite.prompts.__file__)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    name, where = result.stdout.split()
    assert name == "vbl-mini" and where.startswith(str(target))
