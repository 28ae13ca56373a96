"""Which video files the leaderboard may serve: only files inside a folder it was allowed to serve.

The allowed folders are the configured results root (`vbl leaderboard --results DIR`) and, for a
run vbl evaluated into the store itself, that run's own input folder and run directory
(`data.video_roots`): so the clips of the README's quick start play although they lie outside
`--results`, while one run's folders never serve another run's paths.

A stored video path comes from a run directory or an imported file, so it is untrusted. A path is
refused when it

- has a `..` component (even one that would land back inside a root: there is no honest reason
  for it, and refusing it outright keeps the rule easy to state),
- is absolute and outside every allowed folder,
- resolves (following every symlink) to a file outside every allowed folder, or
- holds a NUL byte.

Relative paths are read against the run's directory when that lies inside an allowed folder, else
against the results root. No file is opened here; the caller hands the resolved path to `st.video`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath


class VideoRefused(Exception):
    """A stored video path the leaderboard will not serve; `str()` says why, in one line."""


def resolve_video(
    results_root: str | Path | None,
    stored_path: str,
    run_dir: str | None = None,
    run_roots: Sequence[str | Path] = (),
) -> Path:
    """The real file behind `stored_path`, guaranteed to lie inside `results_root` or one of the
    run's own folders `run_roots`."""
    roots = _roots(results_root, run_roots)
    if not roots:
        raise VideoRefused("no results root is configured (vbl leaderboard --results DIR), so no video is served")
    where = _describe(results_root, roots)
    if not stored_path:
        raise VideoRefused("the run stored no path for this video")
    if "\x00" in stored_path:
        raise VideoRefused(f"refused {stored_path!r}: a path with a NUL byte names no file")
    wanted = PurePath(stored_path)
    if ".." in wanted.parts:
        raise VideoRefused(f"refused {stored_path!r}: a path with '..' may leave {where}")
    if wanted.is_absolute():
        candidate = Path(wanted)
        # Compared as written too (a root may be given through a symlink, as /tmp is on macOS).
        if not any(_inside(candidate, given) or _inside(candidate, real) for given, real in roots):
            raise VideoRefused(f"refused {stored_path!r}: an absolute path outside {where}")
    else:
        base = _relative_base(results_root, roots, run_dir)
        if base is None:
            raise VideoRefused(f"refused {stored_path!r}: a relative path, and no results root to read it against")
        candidate = base / wanted
    real = candidate.resolve()  # follows every symlink on the way
    if not any(_inside(real, root) for _, root in roots):
        raise VideoRefused(f"refused {stored_path!r}: a symlink leads to {real}, outside {where}")
    if not real.is_file():
        raise VideoRefused(f"video file {real} does not exist (moved or deleted?)")
    return real


def _roots(results_root: str | Path | None, run_roots: Sequence[str | Path]) -> list[tuple[Path, Path]]:
    """(as given, resolved) for each allowed folder that exists; the results root first."""
    given = [results_root] if results_root is not None and str(results_root) != "" else []
    found = []
    for folder in [*given, *run_roots]:
        if "\x00" in str(folder):
            continue
        absolute = Path(folder).expanduser().absolute()
        real = absolute.resolve()
        if real.is_dir():
            found.append((absolute, real))
        elif folder is results_root:
            raise VideoRefused(f"the results root {real} is not a folder")
    return found


def _relative_base(results_root: str | Path | None, roots: list[tuple[Path, Path]], run_dir: str | None) -> Path | None:
    if run_dir and "\x00" not in run_dir:
        run_folder = Path(run_dir).expanduser().resolve()
        if any(_inside(run_folder, root) for _, root in roots):
            return run_folder
    if results_root is not None and str(results_root) != "":
        return roots[0][1]
    return None


def _describe(results_root: str | Path | None, roots: list[tuple[Path, Path]]) -> str:
    has_root = results_root is not None and str(results_root) != ""
    others = [str(real) for _, real in roots[1 if has_root else 0:]]
    parts = [f"the results root {roots[0][1]}"] if has_root else []
    if others:
        parts.append("the run's own folders " + ", ".join(others))
    return " and ".join(parts)


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)
