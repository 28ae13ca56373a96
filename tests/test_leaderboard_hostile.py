"""The leaderboard's hostile inputs, one test each (the others are in tests/test_hostile_inputs.py):

- a model named `![](http://attacker/x)` and a prompt with Markdown: shown as plain text on every
  page, so no visitor's browser fetches the URL;
- a stored video path with a NUL byte: the Prompts page says why it is not shown, no traceback;
- a model whose name starts like a spreadsheet formula: the CSV download neutralises it;
- an exception in a page: visitors see no traceback with server paths (`vbl leaderboard` turns
  Streamlit's error details off).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from leaderboard_store import add_run
from streamlit.testing.v1 import AppTest

from vbench_lite.leaderboard import data, ui
from vbench_lite.leaderboard.commands import streamlit_command
from vbench_lite.leaderboard.paths import VideoRefused, resolve_video
from vbench_lite.store import ResultStore, ScoreRow, VideoRow

APP = Path(__file__).resolve().parent.parent / "leaderboard" / "app.py"
IMAGE = "![](http://attacker.invalid/x.png)"
PAGES = ["views/main_table.py", "views/model.py", "views/compare.py", "views/prompts.py"]


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{root / 'vbl.db'}"
    with ResultStore(url) as store:
        add_run(store, "run-a", IMAGE, "v1", 0.0, 0)
        add_run(store, "run-b", "=HYPERLINK(\"http://attacker.invalid\")", "v2", 0.01, 1)
        key = f"{IMAGE} a **bold** prompt-0.mp4"
        store.record_video("run-a", VideoRow(key, "videos/evil\x00.mp4", IMAGE, f"{IMAGE} **bold**", 0, 0),
                           [ScoreRow(key, "temporal_flickering", "vbench", "1", "ok", 0.9)])
    return url, root


def start(monkeypatch: pytest.MonkeyPatch, url: str, root: Path, page: str) -> AppTest:
    monkeypatch.setenv("VBL_DB", url)
    monkeypatch.setenv("VBL_RESULTS_ROOT", str(root))
    for name in ("VBL_PUBLISHED", "VBL_IMPORT_DB"):
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    app.switch_page(page).run()
    return app


def markdown_bodies(app: AppTest) -> list[str]:
    kinds = ("markdown", "caption", "info", "success", "warning", "error", "title", "subheader", "header")
    return [str(element.value) for kind in kinds for element in app.get(kind)]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.slow
def test_user_text_is_never_rendered_as_markdown(monkeypatch: pytest.MonkeyPatch, hostile_store, page: str) -> None:
    url, root = hostile_store
    app = start(monkeypatch, url, root, page)
    assert not app.exception, app.exception
    if page == "views/prompts.py":
        app.selectbox(key="run").set_value("run-a").run()
        app.selectbox(key="prompt").set_value(IMAGE).run()
        assert not app.exception, app.exception
    bodies = markdown_bodies(app)
    assert not any("![](" in body for body in bodies), [b for b in bodies if "![](" in b]
    if page == "views/prompts.py":
        assert any(ui.plain(IMAGE) in body for body in bodies)  # shown, escaped
        assert any("NUL byte" in body for body in bodies)


def test_plain_escapes_every_markdown_construct() -> None:
    for text in (IMAGE, "[x](http://a)", "**b** _i_ `c`", ":red[x] :material/home:", "$x$", "<img src=x>"):
        escaped = ui.plain(text)
        assert all(escaped[i - 1] == "\\" for i, c in enumerate(escaped) if c in "![]()*_`:$<>" and i > 0)


def test_a_stored_path_with_a_nul_byte_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(VideoRefused, match="NUL byte"):
        resolve_video(tmp_path, "videos/evil\x00.mp4", None)


def test_the_csv_download_neutralises_formula_cells() -> None:
    table = pd.DataFrame({"Model": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "plain"], "Total": [1.0] * 5})
    cells = [row[0] for row in csv.reader(io.StringIO(data.csv_bytes(table).decode()))][1:]
    assert cells == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "plain"]


def test_vbl_leaderboard_hides_error_details_from_visitors() -> None:
    command = streamlit_command(8501)
    assert command[command.index("--client.showErrorDetails") + 1] == "none"
