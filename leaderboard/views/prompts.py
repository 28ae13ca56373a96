"""Prompt drill-down: the prompt, per-video scores on every dimension, and playback."""

from __future__ import annotations

import streamlit as st

from vbench_lite.leaderboard import data, ui

VIDEOS_PER_ROW = 3

st.title("Prompts")
board = ui.board_or_stop()
run_id = ui.pick_run(board, "Run", "run", finished_only=False)
status = board.runs.loc[board.runs["run_id"] == run_id, "status"].iloc[0]
if status not in data.FINISHED:
    progress = data.run_progress(board, run_id)
    st.info(
        f"Run {ui.plain(run_id)} is {status} (still being written, or interrupted): {progress['videos_scored']} videos "
        f"scored so far, so some scores are missing. It joins the main table when it finishes."
    )
prompts = data.prompts_of(board.scores, run_id)
if prompts.empty:
    st.info("This run has no scored video yet.")
    st.stop()
by_id = dict(zip(prompts["prompt_id"], prompts["prompt"], strict=True))
wanted = st.query_params.get("prompt")
options = list(prompts["prompt_id"])
prompt_id = st.selectbox(
    "Prompt",
    options,
    index=options.index(wanted) if wanted in options else 0,
    key="prompt",
    format_func=lambda p: by_id[p][:120],
)
st.query_params["prompt"] = prompt_id

st.subheader(ui.plain(by_id[prompt_id]))
videos = data.prompt_videos(board.scores, run_id, prompt_id, board.aggregates)
st.caption(
    "Scores in %, in the units of the run's aggregates, one row per video (sample) of this prompt; "
    "failed or skipped scores say why."
)
shown = videos.drop(columns=["video_path"]).rename(
    columns={"video_key": "Video", "sample_index": "Sample", "seed": "Seed",
             **{c: data.pretty(c.removesuffix(" status")) + (" status" if c.endswith(" status") else "")
                for c in videos.columns if c not in ("video_key", "sample_index", "seed", "video_path")}}
)
st.dataframe(shown.style.format(precision=2, na_rep=data.DASH), hide_index=True, width="stretch",
             key="prompt_scores", placeholder=data.DASH)

columns = st.columns(VIDEOS_PER_ROW)
for index, video in enumerate(videos.head(6).itertuples(index=False)):
    with columns[index % len(columns)]:
        ui.show_video(board, run_id, str(video.video_path), caption=f"sample {video.sample_index} · {video.video_key}")
with st.expander("Per-dimension details (per-frame values and the like)"):
    key = st.selectbox("Video", list(videos["video_key"]), key="detail_video")
    st.json(data.video_details(board.scores, run_id, key), expanded=False)
