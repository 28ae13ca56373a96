"""Where the leaderboard reads from, taken from environment variables.

`vbl leaderboard` sets them for the `streamlit run` subprocess; AppTest sets them with monkeypatch.

- `VBL_DB`: the results store URL (read-only), else vbl's default SQLite file;
- `VBL_RESULTS_ROOT`: the only folder videos are served from (none: no playback);
- `VBL_PUBLISHED`: a CSV/JSON of published VBench rows to show next to our runs;
- `VBL_IMPORT_DB`: a store URL the import page may *write* to. Unset (the default) keeps the whole
  app read-only; `vbl leaderboard --allow-import` sets it to the same store as `--db`;
- `VBL_STALE_AFTER_HOURS`: a run still "running" this long after it started is marked stale
  (probably killed; default 2, `vbl leaderboard --stale-after HOURS`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vbench_lite.store import default_db_url

DEFAULT_STALE_AFTER_HOURS = 2.0


@dataclass(frozen=True)
class Settings:
    db_url: str
    results_root: str | None
    published: str | None
    import_db: str | None
    stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS

    @property
    def shown_db_url(self) -> str:
        """The store URL without its password, for showing on the page."""
        try:
            return make_url(self.db_url).render_as_string(hide_password=True)
        except ArgumentError:
            return self.db_url


def settings_from_env() -> Settings:
    return Settings(
        db_url=default_db_url(),
        results_root=os.environ.get("VBL_RESULTS_ROOT") or None,
        published=os.environ.get("VBL_PUBLISHED") or None,
        import_db=os.environ.get("VBL_IMPORT_DB") or None,
        stale_after_hours=_hours(os.environ.get("VBL_STALE_AFTER_HOURS")),
    )


def _hours(text: str | None) -> float:
    """A positive number of hours, else the default (a bad value must not take the board down)."""
    try:
        hours = float(text) if text else DEFAULT_STALE_AFTER_HOURS
    except ValueError:
        return DEFAULT_STALE_AFTER_HOURS
    return hours if hours > 0 else DEFAULT_STALE_AFTER_HOURS
