"""The vbl leaderboard: `streamlit run leaderboard/app.py` (or `vbl leaderboard`).

A router only: `st.navigation` picks the page; the pages read the store through `ui` and compute
through the pure `data` / `charts` modules of `vbench_lite.leaderboard`. The store is opened
read-only; settings come from environment variables (`settings`).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from vbench_lite.leaderboard.ui import plain, settings

HERE = Path(__file__).parent

st.set_page_config(page_title="vbl leaderboard", page_icon=":material/leaderboard:", layout="wide")

pages = [
    st.Page(HERE / "views" / "main_table.py", title="Leaderboard", icon=":material/leaderboard:", default=True),
    st.Page(HERE / "views" / "model.py", title="Model", icon=":material/model_training:"),
    st.Page(HERE / "views" / "compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page(HERE / "views" / "prompts.py", title="Prompts", icon=":material/movie:"),
    st.Page(HERE / "views" / "import_results.py", title="Import", icon=":material/upload_file:"),
]
page = st.navigation(pages)
current = settings()
st.sidebar.caption(f"Store (read-only): {plain(current.shown_db_url)}")
st.sidebar.caption(f"Videos from: {plain(current.results_root or 'no results root')} and each evaluated run's own "
                   "input folder")
page.run()
