"""Compare two runs: paired per-dimension deltas, win/tie/loss, and where they disagree most."""

from __future__ import annotations

import streamlit as st

from vbench_lite.leaderboard import charts, data, ui

st.title("Compare two runs")
board = ui.board_or_stop()
finished = board.finished_runs()
if len(finished) < 2:
    ui.show_unfinished(board)
    st.info("Comparing needs two finished runs; the store holds fewer. Evaluate or import another run.")
    st.stop()

left, right = st.columns(2)
with left:
    run_a = ui.pick_run(board, "Run A (baseline)", "run_a", finished_only=True, default_index=1)
with right:
    run_b = ui.pick_run(board, "Run B (candidate)", "run_b", finished_only=True, default_index=0)
if run_a == run_b:
    st.warning("Pick two different runs.")
    st.stop()
tie = st.slider("Tie tolerance (percent points per prompt)", 0.0, 5.0, data.TIE_TOLERANCE, 0.1, key="tie")

compared = data.paired_compare(board, run_a, run_b, tie_tolerance=tie)
if compared.empty:
    st.info("The two runs share no scored dimension, so there is nothing to compare.")
    st.stop()
shared = int(data.shared_prompts(board, run_a, run_b))
if shared == 0:
    st.info(
        "0 shared prompts: the two runs scored no prompt in common, so no score can be paired and there is "
        "nothing to compare. Compare runs on the same prompt suite (or the same input videos' prompts); the "
        "Leaderboard page shows each run's own scores and intervals."
    )
    st.stop()
apart = compared[~compared["comparable"]]
if not apart.empty:
    st.warning(
        "Not compared, because the two runs scored them with different scorers (backend, version or weights): "
        + ", ".join(f"{data.pretty(str(r.dimension))} ({ui.plain(r.backend_a)} vs {ui.plain(r.backend_b)})"
                    for r in apart.itertuples())
    )
suites = board.runs.set_index("run_id").loc[[run_a, run_b], "prompt_suite_sha256"]
if suites.nunique(dropna=False) > 1:
    st.warning("The runs used different prompt suites: only the prompts both scored are paired.")

wins, ties, losses = data.win_tie_loss(compared)
a_label, b_label = ui.run_label(board.runs, run_a), ui.run_label(board.runs, run_b)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Shared prompts", shared)
c2.metric("B wins", wins)
c3.metric("Ties", ties)
c4.metric("B losses", losses)
st.caption(
    "Counted per (prompt, dimension) over shared prompts; higher is better on every VBench dimension. "
    "Means and Δ are raw scores in percent points. The Δ interval and the verdict are what "
    "`vbl gate --candidate B --baseline A` computes under its default policy (paired bootstrap over the "
    "shared prompts, 90 % two-sided = the 95 % one-sided bound the gate tests)."
)

shown = compared.assign(dimension=compared["dimension"].map(data.pretty)).rename(
    columns={
        "dimension": "Dimension",
        "shared_prompts": "Shared prompts",
        "mean_a": "A raw (%)",
        "mean_b": "B raw (%)",
        "delta": "Δ B−A",
        "delta_lo": "Δ CI low",
        "delta_hi": "Δ CI high",
        "status": "Gate verdict",
        "wins": "Wins",
        "ties": "Ties",
        "losses": "Losses",
        "backend_a": "Backend A",
        "backend_b": "Backend B",
        "comparable": "Comparable",
    }
)
st.dataframe(shown.style.format(precision=2, na_rep=data.DASH), hide_index=True, width="stretch", key="deltas",
             placeholder=data.DASH)
st.plotly_chart(charts.compare_deltas(compared, "A", "B"), key="delta_chart")

st.subheader("Where they disagree most")
disagree = data.disagreements(board, run_a, run_b)
shown_disagree = disagree.drop(columns=["run_dir_a", "run_dir_b"]).assign(
    dimension=disagree["dimension"].map(data.pretty)
)
st.dataframe(shown_disagree.style.format(precision=2, na_rep=data.DASH), hide_index=True, width="stretch",
             key="disagreements", placeholder=data.DASH)
for item in disagree.head(3).itertuples():
    dimension = data.pretty(str(item.dimension))
    st.markdown(f"**{ui.plain(item.prompt)}** — {dimension}: A {item.score_a:.2f} vs B {item.score_b:.2f}")
    video_a, video_b = st.columns(2)
    with video_a:
        ui.show_video(board, run_a, str(item.video_a), caption=f"A: {a_label}")
    with video_b:
        ui.show_video(board, run_b, str(item.video_b), caption=f"B: {b_label}")
