"""Main table: one row per (model, revision, prompt suite, aggregation)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from vbench_lite.aggregate import load_scheme
from vbench_lite.leaderboard import data, ui

ROW_HEIGHT_PX = 35  # st.dataframe's row height: show every row up to MAX_TABLE_HEIGHT_PX
MAX_TABLE_HEIGHT_PX = 740

st.title("Leaderboard")
board = ui.board_or_stop(allow_empty=True)
published = ui.published_rows()
if board.empty and published.empty:
    st.info(
        "The results store holds no runs yet. Add some with `vbl evaluate --videos DIR --out RUN_DIR` "
        "or `vbl import RUN_DIR` (or the Import page), then reload."
    )
    st.stop()
ui.show_unfinished(board)
ours = ui.rows_or_stop(board)
if ours.empty and not board.empty:
    st.info("No run has finished yet, so there is nothing to rank; see the notes above.")

scheme = load_scheme()
with st.sidebar:
    st.header("Columns")
    group = st.radio(
        "Dimension columns", ["Quality", "Semantic", "All", "Custom"], index=2, key="columns", horizontal=True
    )
    mode = st.radio(
        "Values",
        ["normalised", "raw"],
        key="mode",
        horizontal=True,
        help="Dimension columns: VBench's normalised score or the raw score. Total / Quality / "
        "Semantic are always weighted means of normalised scores.",
    )
    show_ci = st.checkbox("Show 95% intervals and n", value=True, key="show_ci")
    show_published = st.checkbox(
        "Show published VBench rows", value=True, key="show_published", disabled=published.empty
    )

rows = pd.concat([ours, published], ignore_index=True) if show_published and not published.empty else ours
if rows.empty:
    st.stop()
all_dims = data.column_group(rows, scheme, "all")
custom = []
if group == "Custom":
    custom = st.sidebar.multiselect("Dimensions", all_dims, default=all_dims[:3], key="custom_dims")
dims = data.column_group(rows, scheme, group.lower(), custom)

with st.sidebar:
    st.header("Filters")
    tasks = st.multiselect("Task", sorted({t for t in rows["task"] if t}), key="tasks")
    suites = st.multiselect(
        "Prompt suite", sorted(set(rows["suite"])), key="suites", format_func=lambda s: s or "(no suite: custom input)"
    )
    kinds = st.multiselect("Backend kind", sorted(set(rows["backend_kind"])), key="backends")
    dated = pd.to_datetime(rows["created_at"], utc=True).dropna()
    since = until = None
    if not dated.empty:
        picked = st.date_input("Date range", value=(dated.min().date(), dated.max().date()), key="dates")
        if isinstance(picked, tuple | list) and len(picked) == 2:
            since, until = picked
    text = st.text_input("Search model, revision or run", key="search")

filtered = data.filter_rows(rows, data.Filters(tasks, suites, kinds, since, until, text))
sort_options = ["total", *dims]
# Default to the first column our rows have a value in (a run of a few dimensions has no Total).
ours_shown = filtered[filtered["backend_kind"] != "published"] if not filtered.empty else filtered
scored = [
    o
    for o in sort_options
    if (o if o in data.SUMMARY_NAMES else f"{o}:{mode}") in ours_shown
    and ours_shown[o if o in data.SUMMARY_NAMES else f"{o}:{mode}"].notna().any()
]
sort_by = st.columns([1, 2])[0].selectbox(
    "Rank by",
    sort_options,
    index=sort_options.index(scored[0]) if scored else 0,
    key="sort_by",
    format_func=data.pretty,
)
sort_column = sort_by if sort_by in data.SUMMARY_NAMES else f"{sort_by}:{mode}"
if not filtered.empty and sort_column not in filtered:
    filtered = filtered.assign(**{sort_column: float("nan")})
table_rows = data.ranked(filtered, sort_column)

groups: list[str] = list(table_rows["group"].unique()) if not table_rows.empty else []
if len(groups) > 1:
    st.warning(
        f"These rows come from {len(groups)} groups that must not be ranked together (different prompt suite, "
        "aggregation, task or dimension backends): ranks are given within each 'Comparable group'. "
        + "  \n".join(["", *groups])
    )
if not table_rows.empty and table_rows[sort_column].isna().all():
    st.info(f"No row has a {data.pretty(sort_by)} score yet (a group score needs all of its dimensions).")

st.caption(
    f"{len(table_rows)} of {len(rows)} rows · values in % · {mode} dimension scores · "
    "95% intervals: percentile bootstrap over prompts"
)
lead = None if sort_by in data.SUMMARY_NAMES else sort_by
shown = data.view_table(table_rows, dims, mode, "text" if show_ci else "none", lead=lead)
if "Comparable group" in shown:
    shown["Comparable group"] = shown["Comparable group"].str.split(":").str[0]  # "G1"; the legend is above
number = st.column_config.NumberColumn(format="%.2f")
config = {data.pretty(c): number for c in [*data.SUMMARY_NAMES, *dims]}
config["Date"] = st.column_config.TextColumn(width="small")
config["Model"] = st.column_config.TextColumn(width="medium")
height = min(ROW_HEIGHT_PX * (len(shown) + 1) + 3, MAX_TABLE_HEIGHT_PX)
st.dataframe(shown, hide_index=True, width="stretch", height=height, column_config=config, key="board")

export = data.view_table(table_rows, dims, mode, "numbers", lead=lead)
csv_column, json_column, _ = st.columns([1, 1, 4])
csv_column.download_button(
    "Download CSV",
    data.csv_bytes(export),
    file_name="vbl-leaderboard.csv",
    mime="text/csv",
    key="download_csv",
)
json_column.download_button(
    "Download JSON",
    export.to_json(orient="records", indent=1).encode("utf-8"),
    file_name="vbl-leaderboard.json",
    mime="application/json",
    key="download_json",
)
st.page_link("pages/model.py", label="Open a model's page →")
