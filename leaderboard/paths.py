"""Which video files the leaderboard may serve: only files inside the configured results root.

Issue 6, item 4: a stored video path comes from a run directory or an imported file, so it is
untrusted. A path is refused when it

- has a `..` component (even one that would land back inside the root: there is no honest reason
  for it, and refusing it outright keeps the rule easy to state),
- is absolute and outside the root, or
- resolves (following every symlink) to a file outside the root.

Relative paths are read against the run's directory when that lies inside the root, else against
the root itself. No file is opened here; the caller hands the resolved path to `st.video`.
"""

from __future__ import annotations

from pathlib import Path, PurePath


class VideoRefused(Exception):
    """A stored video path the leaderboard will not serve; `str()` says why, in one line."""


def resolve_video(results_root: str | Path | None, stored_path: str, run_dir: str | None = None) -> Path:
    """The real file behind `stored_path`, guaranteed to lie inside `results_root`."""
    if results_root is None or str(results_root) == "":
        raise VideoRefused("no results root is configured (vbl leaderboard --results DIR), so no video is served")
    given_root = Path(results_root).expanduser().absolute()
    root = given_root.resolve()
    if not root.is_dir():
        raise VideoRefused(f"the results root {root} is not a folder")
    if not stored_path:
        raise VideoRefused("the run stored no path for this video")
    if "\x00" in stored_path:
        raise VideoRefused(f"refused {stored_path!r}: a path with a NUL byte names no file")
    wanted = PurePath(stored_path)
    if ".." in wanted.parts:
        raise VideoRefused(f"refused {stored_path!r}: a path with '..' may leave the results root")
    if wanted.is_absolute():
        candidate = Path(wanted)
        # Compared as written (the root may be given through a symlink, as /tmp is on macOS).
        if not (_inside(candidate, given_root) or _inside(candidate, root)):
            raise VideoRefused(f"refused {stored_path!r}: an absolute path outside the results root {root}")
    else:
        base = root
        if run_dir:
            run_folder = Path(run_dir).expanduser().resolve()
            if _inside(run_folder, root):
                base = run_folder
        candidate = base / wanted
    real = candidate.resolve()  # follows every symlink on the way
    if not _inside(real, root):
        raise VideoRefused(f"refused {stored_path!r}: a symlink leads to {real}, outside the results root {root}")
    if not real.is_file():
        raise VideoRefused(f"video file {real} does not exist (moved or deleted?)")
    return real


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)
