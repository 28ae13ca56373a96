"""Model page: radar, bars against the board median, provenance, trend across checkpoints."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from vbench_lite.aggregate import load_scheme
from vbench_lite.leaderboard import charts, data, ui

MIN_RADAR_DIMS = 3  # fewer spokes draw a line, not a shape

st.title("Model")
board = ui.board_or_stop(allow_empty=True)
ours = ui.rows_or_stop(board)
published = ui.published_rows()
rows = pd.concat([ours, published], ignore_index=True) if not published.empty else ours
if rows.empty:
    if board.empty:
        ui.show_no_runs_yet()
        st.stop()
    ui.show_unfinished(board)
    st.info("No finished run to show yet. Evaluate or import a run, then reload.")
    st.stop()

# Our runs first, published rows after them.
models = sorted(ours["model"].unique()) if not ours.empty else []
models += sorted(m for m in rows["model"].unique() if m not in models)
wanted = st.query_params.get("model")
model = st.selectbox("Model", models, index=models.index(wanted) if wanted in models else 0, key="model")
st.query_params["model"] = model
mine = rows[rows["model"] == model].sort_values("created_at", ascending=False, na_position="last")
labels = {
    run_id: f"{rev or '(no revision)'} · {suite or 'no suite'} · {agg} · {run_id}"
    for run_id, rev, suite, agg in zip(
        mine["run_id"], mine["revision"], mine["suite"], mine["aggregation"], strict=True
    )
}
options = list(labels)
wanted_run = st.query_params.get("run")
run_id = str(st.selectbox("Revision / checkpoint", options,
                          index=options.index(wanted_run) if wanted_run in options else 0, key="revision",
                          format_func=lambda run: labels[run]))
st.query_params["run"] = run_id
row = mine[mine["run_id"] == run_id].iloc[0]

scheme = load_scheme()
dims = data.column_group(rows, scheme, "all")
dims = [d for d in dims if pd.notna(row.get(f"{d}:normalised"))]
peers = rows[data.rank_groups(rows) == data.rank_groups(rows).loc[row.name]]
median = data.board_median(peers, dims)

one = row.to_frame().T
summaries = [n for n in data.SUMMARY_NAMES if n != "i2v" or data.has_score(one, n)]  # I2V rows only
cols = st.columns(len(summaries) + 1)
for column, name in zip(cols, summaries, strict=False):
    partial = data.partial_labels(one, name).iloc[0] if name in data.PARTIAL_NAMES else ""
    value = data.group_score(one, name).iloc[0] if name in data.PARTIAL_NAMES else row.get(name)
    column.metric(f"{data.pretty(name)} {partial}".strip(), data.DASH if pd.isna(value) else f"{value:.2f}%",
                  help="partial: the weighted mean over the dimensions of the group this run has" if partial else None)
counted = pd.notna(row.get("prompts"))
cols[-1].metric("Prompts / videos", f"{int(row['prompts'])} / {int(row['videos'])}" if counted else data.DASH)
if row["backend_kind"] == "published":
    st.info(f"A published VBench row (source: {ui.plain(row['source'])}): VBench's own evaluation, ranked apart "
            "from our runs.")

if not dims:
    st.info("This run has no normalised dimension scores to chart.")
else:
    st.caption(f"Board median over the {len(peers)} comparable row(s) of this row's group.")
    left, right = st.columns(2)
    if len(dims) >= MIN_RADAR_DIMS:
        left.plotly_chart(charts.radar(row, dims, median=median), key="radar")
    else:
        left.info(f"A radar needs at least {MIN_RADAR_DIMS} dimensions; this run scored {len(dims)}.")
    right.plotly_chart(charts.bars_vs_median(row, median, dims), key="bars")

trend = data.checkpoint_trend(rows, model, row["suite"], row["aggregation"])
if len(trend) > 1:
    st.subheader("Across checkpoints")
    st.plotly_chart(charts.checkpoint_trend(trend, dims), key="trend")
    st.dataframe(data.view_table(trend, dims, "normalised", "none").style.format(precision=2, na_rep=data.DASH),
                 hide_index=True, key="trend_table", placeholder=data.DASH)

st.subheader("Provenance")
manifest = board.manifest(run_id)
st.dataframe(data.provenance(manifest, row), hide_index=True, width="stretch", key="provenance",
             placeholder=data.DASH)
st.subheader("Scorers")
scorers = data.scorer_table(manifest)
if scorers.empty:
    st.info("No scorer information: a published row or an imported file without a manifest.")
else:
    scorers["Dimension"] = scorers["Dimension"].map(data.pretty)
    st.dataframe(scorers, hide_index=True, width="stretch", key="scorers", placeholder=data.DASH)
