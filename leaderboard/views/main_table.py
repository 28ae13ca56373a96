"""Main table: one section per comparable group, one row per (model, revision, prompt suite,
aggregation), readable on a 1366×768 laptop screen: Rank, Model, Revision, Total, Quality,
Semantic, then the dimensions, then the metadata."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from vbench_lite.aggregate import load_scheme
from vbench_lite.leaderboard import data, ui

ROW_HEIGHT_PX = 35  # st.dataframe's row height: show every row up to MAX_TABLE_HEIGHT_PX
MAX_TABLE_HEIGHT_PX = 740
# Widths that keep Total, Quality (with "partial (k/n)") and the first dimension on a laptop screen.
WIDTHS = {"Rank": 52, "Model": 160, "Revision": 95, "Total": 105, "Quality": 165, "Semantic": 105}
DIMENSION_WIDTH = 150
MODES = ["raw", "normalised"]

st.title("Leaderboard")
board = ui.board_or_stop(allow_empty=True)
published = ui.published_rows()
if board.empty and published.empty:
    ui.show_no_runs_yet()
    st.stop()
ours = ui.rows_or_stop(board)
notes = ui.unfinished_notes(board)

scheme = load_scheme()
with st.sidebar:
    st.header("Columns")
    group = st.radio(
        "Dimension columns", ["Quality", "Semantic", "All", "Custom"], index=2, key="columns", horizontal=True
    )
    mode = st.radio(
        "Dimension values",
        MODES,
        key="mode",
        horizontal=True,
        help="raw: the dimension scores as VBench's published tables show them. normalised: VBench's "
        "(raw − min) / (max − min), what Total / Quality / Semantic average (those are always normalised).",
    )
    show_ci = st.checkbox("Show ± (half the 95% interval)", value=True, key="show_ci")
    show_published = st.checkbox(
        "Show published VBench rows", value=True, key="show_published", disabled=published.empty
    )

rows = pd.concat([ours, published], ignore_index=True) if show_published and not published.empty else ours
if rows.empty:
    for stale, note in notes:
        (st.warning if stale else st.info)(note)
    st.info("No run has finished yet, so there is nothing to rank; see the notes above.")
    st.stop()
all_dims = data.column_group(rows, scheme, "all")
custom = []
if group == "Custom":
    custom = st.sidebar.multiselect("Dimensions", all_dims, default=all_dims[:3], key="custom_dims",
                                    format_func=data.pretty)
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
sort_options = ["total", "quality", "semantic", *(["i2v"] if data.has_score(filtered, "i2v") else []), *dims]
controls, legend = st.columns([1, 2], vertical_alignment="bottom")
sort_by = controls.selectbox(
    "Rank by",
    sort_options,
    key="sort_by",
    format_func=lambda o: "Total (else Quality)" if o == "total" else data.pretty(o),
    help="Total; a group where no row has a Total (runs without every dimension) is ranked by Quality.",
)
legend.caption(
    f"{len(filtered)} of {len(rows)} rows · % · dimension values **{mode}** · ± half the 95% interval · "
    "≈ statistically tied with the row above · click a row to open its model page"
)
running = [note for _, note in notes]
if running:
    stale_count = sum(1 for is_stale, _ in notes if is_stale)
    st.caption(f"{len(running)} unfinished run(s) not ranked" + (f", {stale_count} stale" if stale_count else "")
               + ": see below the table.")

lead = None if sort_by in data.SUMMARY_NAMES else sort_by
table_rows = ui.cached_ties(ui.settings().db_url, data.ranked(filtered, sort_by, mode), mode, board)
if table_rows.empty:
    st.info("No row matches the filters.")
labels = data.group_labels(table_rows)
config: dict[str, ColumnConfig] = {
    "Rank": st.column_config.TextColumn(width=WIDTHS["Rank"], help="≈: statistically tied with the row above"),
    "Model": st.column_config.TextColumn(width=WIDTHS["Model"]),
    "Revision": st.column_config.TextColumn(width=WIDTHS["Revision"]),
}

for group_id in dict.fromkeys(table_rows["group"]):
    section = table_rows[table_rows["group"] == group_id].reset_index(drop=True)
    basis = section["rank_by"].iloc[0]
    heading = f"**{group_id} · {ui.plain(labels.get(group_id, ''))}**"
    if basis != sort_by:
        heading += f" · ranked by {data.pretty(basis)}: no row here has a {data.pretty(sort_by)}"
    st.markdown(heading)
    view = data.screen_table(section, data.scored_dims(section, dims, mode), mode, show_ci, lead=lead)
    for title in view.score_columns:
        width = WIDTHS.get(title, DIMENSION_WIDTH)
        numeric = pd.api.types.is_numeric_dtype(view.values[title])  # a partial score's cell is its text
        config[title] = (st.column_config.NumberColumn(width=width) if numeric
                         else st.column_config.TextColumn(width=width, alignment="right"))
    height = min(ROW_HEIGHT_PX * (len(section) + 1) + 3, MAX_TABLE_HEIGHT_PX)
    event = st.dataframe(
        ui.styled(view),
        hide_index=True,
        width="stretch",
        height=height,
        column_config=config,
        key=f"board_{group_id}",
        on_select="rerun",
        selection_mode="single-cell",
        placeholder=data.DASH,
    )
    cells = event.selection.get("cells", []) if event is not None else []
    if cells:
        picked = section.iloc[int(cells[0][0])]
        st.switch_page("views/model.py", query_params={"model": picked["model"], "run": picked["run_id"]})

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
st.caption(
    "Each section is one comparable group: rows of different groups (prompt suite, aggregation, task or "
    "dimension backends) are never ranked together. Total / Quality / Semantic are VBench's weighted means of "
    "normalised dimension scores; \"partial (k/n)\" averages the k of the group's n dimensions a run has. A "
    "section leaves out the dimension columns none of its rows has (the downloads hold them all). "
    "≈: `vbl gate`'s paired interval of the difference to the row above contains 0 (rows that share no prompt: "
    "their 95% intervals overlap)."
)
for stale, note in notes:
    (st.warning if stale else st.info)(note)
