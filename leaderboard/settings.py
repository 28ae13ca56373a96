"""Where the leaderboard reads from, taken from environment variables.

`vbl leaderboard` sets them for the `streamlit run` subprocess; AppTest sets them with monkeypatch.

- `VBL_DB`: the results store URL (read-only), else vbl's default SQLite file;
- `VBL_RESULTS_ROOT`: the only folder videos are served from (none: no playback);
- `VBL_PUBLISHED`: a CSV/JSON of published VBench rows to show next to our runs;
- `VBL_IMPORT_DB`: a store URL the import page may *write* to. Unset (the default) keeps the whole
  app read-only; `vbl leaderboard --allow-import` sets it to the same store as `--db`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from vbench_lite.store import default_db_url


@dataclass(frozen=True)
class Settings:
    db_url: str
    results_root: str | None
    published: str | None
    import_db: str | None

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
    )
