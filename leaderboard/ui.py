"""Streamlit glue shared by the pages: cached loading, the empty and broken states, run pickers.

Every store problem ends as an `st.error` / `st.info` line and `st.stop()`, never a traceback
The loaders are cached per store URL for `CACHE_TTL_S` seconds, so a run that
finishes shows up without restarting the app.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from pandas.io.formats.style import Styler

from vbench_lite.aggregate import load_scheme
from vbench_lite.errors import StoreUnreachable, VblError
from vbench_lite.leaderboard import data
from vbench_lite.leaderboard.paths import VideoRefused, resolve_video
from vbench_lite.leaderboard.published import load_published
from vbench_lite.leaderboard.settings import Settings, settings_from_env

CACHE_TTL_S = 30
# Every character Markdown (and Streamlit's :colour[…] / :emoji: / $math$ syntax) gives a meaning.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def plain(text: object) -> str:
    """User text (a model name, a prompt, a file name) for a Markdown element, shown as typed:
    a model named `![](http://host/x)` must not make every visitor's browser fetch that URL."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner="Reading the results store…")
def cached_board(url: str) -> data.Board:
    return data.load_board(url)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner="Computing bootstrap intervals…")
def cached_rows(url: str) -> pd.DataFrame:
    return data.board_rows(cached_board(url))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner="Testing ties with vbl gate's statistics…")
def cached_ties(url: str, table: pd.DataFrame, mode: str, _board: data.Board) -> pd.DataFrame:
    """`data.mark_ties` on a ranked table, cached per store, table and mode (the board is the
    store's content at `url`, so it need not be hashed)."""
    return data.mark_ties(_board, table, mode)


@st.cache_data(show_spinner=False)
def cached_published(path: str) -> pd.DataFrame:
    return load_published(path, load_scheme())


def settings() -> Settings:
    return settings_from_env()


NO_RUNS_YET = (
    "No runs yet. Score some videos and they appear here: `vbl evaluate --videos DIR --dims available --out "
    "runs/first` (or `vbl import RUN_DIR`, or the Import page), then reload."
)


def board_or_stop(allow_empty: bool = False) -> data.Board:
    """The store's contents, or a clear message and the end of this page's run.

    A store file that does not exist yet is a board with no runs ("No runs yet", with the
    command), not an error: it is what a new user sees before the first `vbl evaluate`.
    """
    url = settings().db_url
    missing = data.store_file_missing(url)
    if missing is not None:
        board = data.empty_board()
    else:
        try:
            board = cached_board(url)
        except StoreUnreachable as error:
            st.error(f"The results store cannot be reached. {plain(error)}")
            st.info("Start the app with a reachable store: `vbl leaderboard --db URL` (sqlite:///FILE or "
                    "postgresql://…).")
            st.stop()
        except (sa.exc.SQLAlchemyError, OSError) as error:
            reason = " ".join(str(getattr(error, "orig", None) or error).split())[:300]
            st.error(f"Reading the results store failed: {plain(reason)}")
            st.stop()
    if board.empty and not allow_empty:
        show_no_runs_yet()
        st.stop()
    return board


def show_no_runs_yet() -> None:
    """"No runs yet" and the command that makes the first one (an empty or absent store)."""
    missing = data.store_file_missing(settings().db_url)
    st.info(NO_RUNS_YET + (f" (The store file {plain(missing)} is created by the first run.)" if missing else ""))


def rows_or_stop(board: data.Board) -> pd.DataFrame:
    return cached_rows(settings().db_url) if not board.empty else pd.DataFrame()


def published_rows() -> pd.DataFrame:
    """Published VBench rows: from VBL_PUBLISHED and from an upload on the Import page."""
    frames = []
    path = settings().published
    if path:
        try:
            frames.append(cached_published(path))
        except VblError as error:
            st.warning(f"Published rows not shown: {plain(error)}")
    uploaded = st.session_state.get("published_upload_rows")
    if isinstance(uploaded, pd.DataFrame):
        frames.append(uploaded)
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True).drop_duplicates("run_id", keep="last") if frames else pd.DataFrame()


def unfinished_notes(board: data.Board) -> list[tuple[bool, str]]:
    """(stale, note) for each run still being written or interrupted: its progress and age. A run
    "running" longer than the stale limit (`vbl leaderboard --stale-after`) is marked stale."""
    limit = timedelta(hours=settings().stale_after_hours)
    notes = []
    for run in board.unfinished_runs().itertuples(index=False):
        progress = data.run_progress(board, str(run.run_id))
        expected = f" of {progress['videos_expected']}" if progress["videos_expected"] else ""
        age = data.run_age(run.created_at)
        stale = bool(age is not None and age > limit and run.status == "running")
        started = f", started {data.format_age(age)} ago" if age is not None else ""
        note = (
            f"Run {plain(run.run_id)} ({plain(run.model_name or 'unnamed model')}) is {run.status}{started}: "
            f"{progress['videos_scored']}{expected} videos scored so far, "
            f"{progress['scores']} scores over {progress['dimensions']} dimension(s). "
        )
        if stale:
            note += (f"**Stale**: still not finished after {data.format_age(limit)}, so it was probably stopped or "
                     "killed. Continue it with `vbl evaluate … --resume` (same flags). ")
        note += "It is not ranked until it finishes; its scores are on the Prompts page."
        notes.append((stale, note))
    return notes


def show_unfinished(board: data.Board) -> None:
    """A note on runs still being written (or interrupted): they are left out of the ranking."""
    for stale, note in unfinished_notes(board):
        (st.warning if stale else st.info)(note)


def run_label(runs: pd.DataFrame, run_id: str) -> str:
    run = runs[runs["run_id"] == run_id].iloc[0]
    revision = f" @ {run['model_revision']}" if isinstance(run["model_revision"], str) and run["model_revision"] else ""
    status = "" if run["status"] in data.FINISHED else f" [{run['status']}]"
    return f"{run['model_name'] or 'unnamed'}{revision} · {run_id}{status}"


def pick_run(board: data.Board, label: str, key: str, finished_only: bool, default_index: int = 0) -> str:
    newest_first = board.runs.sort_values("created_at", ascending=False)
    finished = newest_first["status"].isin(data.FINISHED)
    options = list(newest_first.loc[finished, "run_id"])
    if not finished_only:
        options += list(newest_first.loc[~finished, "run_id"])  # unfinished runs last
    wanted = st.query_params.get(key)
    index = options.index(wanted) if wanted in options else min(default_index, len(options) - 1)
    chosen = st.selectbox(label, options, index=index, key=key, format_func=lambda r: run_label(board.runs, r))
    st.query_params[key] = chosen  # a shareable URL
    return chosen


def show_video(board: data.Board, run_id: str, stored_path: str, caption: str = "") -> None:
    """`st.video` of a file inside the results root or the run's own folders, or a warning saying
    why it is not shown."""
    try:
        path = resolve_video(settings().results_root, stored_path, run_dir_of(board, run_id),
                             data.video_roots(board, run_id))
    except VideoRefused as refusal:
        st.warning(f"Video not shown: {plain(refusal)}")
        return
    st.video(str(path))
    if caption:
        st.caption(plain(caption))


def styled(view: data.ScreenTable) -> Styler:
    """The section's numbers with each cell reading as `view.texts` says ("97.37 ±0.41", "–"):
    sorting a column still sorts the numbers."""
    styler = view.values.style
    for column in view.values.columns:
        for position, text in enumerate(view.texts[column]):
            styler = styler.format(_reads(str(text)), subset=pd.IndexSlice[[position], [column]])
    return styler


def _reads(text: str) -> Callable[[object], str]:
    """A cell formatter that shows `text` whatever the cell's value."""
    return lambda _value: text


def run_dir_of(board: data.Board, run_id: str) -> str | None:
    found = board.runs.loc[board.runs["run_id"] == run_id, "run_dir"]
    value = found.iloc[0] if len(found) else None
    return value if isinstance(value, str) and value else None
