"""The leaderboard app in Streamlit's headless AppTest: every page and widget path, the empty and
broken stores, asserting on the DataFrames and the Plotly figure data the pages hand Streamlit."""

from __future__ import annotations

import io
import json
import shutil
import socket
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from leaderboard_store import PROMPTS, SAMPLES, add_run, build_store, manifest, write_manifest_dir
from streamlit.testing.v1 import AppTest

from vbench_lite.aggregate import load_scheme
from vbench_lite.leaderboard import data, ui
from vbench_lite.samples import sample_clip_dir
from vbench_lite.store import ResultStore, ScoreRow, VideoRow

APP = Path(__file__).resolve().parent.parent / "leaderboard" / "app.py"
PUBLISHED = Path(__file__).parent / "data" / "published_vbench_rows.json"
DIMS = list(load_scheme().dims)
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A store with five runs whose videos are real (tiny) mp4 files inside a results root."""
    root = tmp_path_factory.mktemp("results")
    videos = root / "clips"
    videos.mkdir()
    clip = sample_clip_dir() / "carphone_distorted.mp4"  # 7 kB of real h264
    for prompt in PROMPTS:
        for sample in range(SAMPLES):
            shutil.copy(clip, videos / f"{prompt}-{sample}.mp4")
    url = f"sqlite:///{root / 'vbl.db'}"
    build_store(url, video_root=videos)
    return url, root


def start(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    root: Path | None = None,
    published: bool = False,
    import_db: str | None = None,
    page: str | None = None,
) -> AppTest:
    monkeypatch.setenv("VBL_DB", url)
    for name, value in (
        ("VBL_RESULTS_ROOT", root),
        ("VBL_PUBLISHED", PUBLISHED if published else None),
        ("VBL_IMPORT_DB", import_db),
    ):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(value))
    st.cache_data.clear()  # caches are process-global
    app = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    app.run()
    if page:
        app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def table(app: AppTest, index: int = 0) -> pd.DataFrame:
    return app.dataframe[index].value


def sections(app: AppTest) -> dict[str, pd.DataFrame]:
    """The main table's sections (one st.dataframe per comparable group) by group id."""
    return {df.key.removeprefix("board_"): df.value for df in app.dataframe if (df.key or "").startswith("board_")}


def board_table(app: AppTest) -> pd.DataFrame:
    """Every section of the main table, one after the other."""
    found = list(sections(app).values())
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame()


def shown(app: AppTest, group: str = "G1") -> pd.DataFrame:
    """What each cell of a section reads on screen (its display text, e.g. "71.25 ±0.80")."""
    import pyarrow as pa

    element = next(df for df in app.dataframe if df.key == f"board_{group}")
    return pa.ipc.open_stream(element.proto.arrow_data.styler.display_values).read_pandas()


def figure(app: AppTest, index: int = 0) -> dict:
    return json.loads(app.get("plotly_chart")[index].proto.spec)


def texts(elements) -> str:  # noqa: ANN001
    return " | ".join(e.value for e in elements)


# -- main table ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_main_table_ranks_comparable_rows_and_lists_the_running_run(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0])
    parts = sections(app)
    assert list(parts) == ["G1", "G2"]  # one section per comparable group
    assert list(parts["G1"]["Model"]) == ["alpha", "alpha", "beta"] and list(parts["G2"]["Model"]) == ["gamma"]
    assert list(parts["G1"]["Revision"]) == ["ckpt-2000", "ckpt-1000", "v1"]
    assert list(parts["G1"]["Rank"]) == ["1", "2", "3"] and list(parts["G2"]["Rank"]) == ["1"]
    headings = texts(app.markdown)
    assert "G1 · prompt suite vbl\\-mini · VBench backends" in headings
    assert "G2 · prompt suite vbl\\-mini · backends\\: Temporal flickering efficientnet" in headings
    assert list(parts["G1"].columns[:7]) == [
        "Rank", "Model", "Revision", "Total", "Quality", "Semantic", "Subject consistency"
    ]
    assert not any(c.endswith(" n") or "CI" in c for c in parts["G1"].columns)  # no n / interval columns
    assert "Run delta (delta) is running, started" in texts(app.warning)  # 2026-11-05: long stale
    rows = data.board_rows(data.load_board(filled[0]))
    best = rows[rows["run_id"] == "alpha-2000"].iloc[0]
    assert parts["G1"].loc[0, "Total"] == pytest.approx(best["total"], abs=0.01)
    assert shown(app).loc[0, "Total"] == f"{best['total']:.2f} ±{(best['total:hi'] - best['total:lo']) / 2:.2f}"
    assert [b.proto.label for b in app.get("download_button")] == ["Download CSV", "Download JSON"]


@pytest.mark.slow
def test_column_groups_raw_by_default_normalised_toggle_and_interval_switch(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0])
    app.radio(key="columns").set_value("Quality").run()
    columns = set(board_table(app).columns)
    assert "Temporal flickering" in columns and "Scene" not in columns
    app.radio(key="columns").set_value("Semantic").run()
    assert "Scene" in board_table(app).columns and "Temporal flickering" not in board_table(app).columns
    app.radio(key="columns").set_value("Custom").run()
    app.multiselect(key="custom_dims").set_value(["temporal_flickering"]).run()
    dims_shown = [c for c in board_table(app).columns if c.removesuffix(" (norm.)") in {data.pretty(d) for d in DIMS}]
    assert dims_shown == ["Temporal flickering"]
    raw = board_table(app).loc[0, "Temporal flickering"]  # raw is the default, as VBench publishes
    app.radio(key="mode").set_value("normalised").run()
    normalised = board_table(app).loc[0, "Temporal flickering (norm.)"]  # the header says which view is on
    assert "dimension values **normalised**" in texts(app.caption)
    # raw 0.71 normalises to (0.71 - 0.6293) / (1 - 0.6293) = 21.8 %
    assert raw == pytest.approx(71.0) and normalised == pytest.approx(100 * (0.71 - 0.6293) / (1 - 0.6293), abs=0.01)
    assert "±" in shown(app).loc[0, "Total"]
    app.checkbox(key="show_ci").uncheck().run()
    assert "±" not in " ".join(shown(app).loc[0].astype(str))


@pytest.mark.slow
def test_filters_search_backend_suite_task_and_date(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0])
    app.text_input(key="search").input("beta").run()
    assert list(board_table(app)["Model"]) == ["beta"]
    app.text_input(key="search").input("no such model").run()
    assert not app.exception and not sections(app) and "0 of 4 rows" in texts(app.caption)
    assert "No row matches the filters." in texts(app.info)
    app.text_input(key="search").input("").run()
    app.multiselect(key="backends").set_value(["mixed"]).run()
    assert list(board_table(app)["Model"]) == ["gamma"] and list(sections(app)) == ["G1"]
    app.multiselect(key="backends").set_value([]).run()
    app.multiselect(key="suites").set_value(["vbl-mini"]).run()
    app.multiselect(key="tasks").set_value(["t2v"]).run()
    assert len(board_table(app)) == 4
    import datetime as dt

    app.date_input(key="dates").set_value((dt.date(2026, 11, 2), dt.date(2026, 11, 2))).run()
    assert list(board_table(app)["Revision"]) == ["ckpt-2000"]


@pytest.mark.slow
def test_rank_by_a_dimension_or_quality(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0])
    assert app.selectbox(key="sort_by").options[:3] == ["Total (else Quality)", "Quality", "Semantic"]
    app.selectbox(key="sort_by").set_value("temporal_flickering").run()
    ours = sections(app)["G1"]
    assert list(ours["Temporal flickering"]) == sorted(ours["Temporal flickering"], reverse=True)
    assert list(ours.columns[3:5]) == ["Temporal flickering", "Total"]  # the ranked column comes first
    app.selectbox(key="sort_by").set_value("quality").run()
    assert list(sections(app)["G1"]["Quality"]) == sorted(sections(app)["G1"]["Quality"], reverse=True)


@pytest.mark.slow
def test_published_rows_sit_in_their_own_section_in_published_order(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0], published=True)
    parts = sections(app)
    published = parts["G3"]
    assert len(published) == len(json.loads(PUBLISHED.read_text())["rows"])
    assert "Published VBench rows" in texts(app.markdown)
    assert published.iloc[0]["Model"] == "FlashVideo-24fps" and published.iloc[0]["Total"] == 83.29
    assert list(published["Total"]) == sorted(published["Total"], reverse=True)
    hunyuan = published[published["Model"] == "HunyuanVideo"].iloc[0]
    assert hunyuan["Subject consistency"] == 97.37  # raw, as VBench publishes it
    assert set(shown(app, "G3")["Date"]) == {"–"}  # not "None"
    app.checkbox(key="show_published").uncheck().run()
    assert list(sections(app)) == ["G1", "G2"]


@pytest.mark.slow
def test_a_group_without_total_is_ranked_by_its_labelled_partial_quality(monkeypatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'partial.db'}"
    some = load_scheme().group_dims("quality")[:4]
    with ResultStore(url) as store:
        for index, revision in enumerate(["step-1", "step-2", "step-3"]):
            add_run(store, f"toy-{revision}", "toy", revision, 0.02 * index, index, dims=some)
    app = start(monkeypatch, url, published=True)
    ours, published = sections(app)["G1"], sections(app)["G2"]
    assert list(ours["Revision"]) == ["step-3", "step-2", "step-1"]  # by Quality, since no row has a Total
    assert all(text.endswith("partial (4/7)") for text in ours["Quality"])  # the label is in the cell
    # A section shows only the dimensions its rows have; the published section has all of them.
    assert list(ours.columns[6:11]) == [*(data.pretty(d) for d in some), "Prompts"]
    assert {data.pretty(d) for d in load_scheme().dims} <= set(published.columns)
    assert "ranked by Quality: no row here has a Total" in texts(app.markdown)
    assert published.iloc[0]["Model"] == "FlashVideo-24fps"  # published rows keep their Total order
    app.switch_page("views/model.py").run()
    labels = [m.label for m in app.metric]
    assert labels[:3] == ["Total", "Quality partial (4/7)", "Semantic"]
    assert app.metric[1].value.endswith("%") and app.metric[0].value == "–"


@pytest.mark.slow
def test_clicking_a_row_opens_its_model_page(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0])
    app.session_state["board_G1"] = {"selection": {"rows": [], "columns": [], "cells": [[1, "Total"]]}}
    app.run()
    assert not app.exception, app.exception
    assert [t.value for t in app.title] == ["Model"]
    assert dict(app.query_params) == {"model": "alpha", "run": "alpha-1000"}
    assert app.selectbox(key="revision").value == "alpha-1000"


def test_one_run_is_a_table_of_one_row(monkeypatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    with ResultStore(url) as store:
        add_run(store, "only", "solo", "v1", 0.0, 0)
    app = start(monkeypatch, url)
    assert list(sections(app)) == ["G1"] and list(board_table(app)["Rank"]) == ["1"]
    assert not app.warning and not app.error
    app.switch_page("views/compare.py").run()
    assert "needs two finished runs" in texts(app.info)


@pytest.mark.slow
def test_a_stale_running_run_shows_its_age(monkeypatch, tmp_path) -> None:
    from datetime import UTC, datetime, timedelta

    url = f"sqlite:///{tmp_path / 'stale.db'}"
    now = datetime.now(UTC)
    with ResultStore(url) as store:
        add_run(store, "done", "m", "v1", 0.0, 0)
        add_run(store, "killed", "m", "v2", 0.0, 0, finish=False, start=now - timedelta(hours=5))
        add_run(store, "fresh", "m", "v3", 0.0, 0, finish=False, start=now - timedelta(minutes=10))
    app = start(monkeypatch, url)
    assert "2 unfinished run(s) not ranked, 1 stale" in texts(app.caption)
    stale, fresh = texts(app.warning), texts(app.info)
    assert "Run killed (m) is running, started 5 h 0 min ago" in stale and "Stale" in stale and "--resume" in stale
    assert "Run fresh (m) is running, started 10 min ago" in fresh and "fresh" not in stale
    monkeypatch.setenv("VBL_STALE_AFTER_HOURS", "12")  # `vbl leaderboard --stale-after 12`
    app = start(monkeypatch, url)
    assert "Stale" not in texts(app.warning) + texts(app.info) and "started 5 h 0 min ago" in texts(app.info)


# -- model page ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_model_page_radar_bars_provenance_and_checkpoint_trend(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0], page="views/model.py")
    app.selectbox(key="model").set_value("alpha").run()
    rows = data.board_rows(data.load_board(filled[0]))
    current = rows[rows["run_id"] == app.selectbox(key="revision").value].iloc[0]
    radar, bars, trend = figure(app, 0), figure(app, 1), figure(app, 2)
    assert radar["data"][0]["type"] == "scatterpolar" and radar["data"][0]["fill"] == "toself"
    assert radar["data"][0]["r"][: len(DIMS)] == pytest.approx([current[f"{d}:normalised"] for d in DIMS])
    assert bars["data"][0]["y"] == pytest.approx([current[f"{d}:normalised"] for d in DIMS])
    assert bars["data"][1]["name"] == "board median"
    assert trend["data"][0]["x"] == ["ckpt-1000", "ckpt-2000"]
    provenance = table(app, len(app.dataframe) - 2).set_index("Field")["Value"]
    assert provenance["Config hash"].startswith("cfg-alpha-")
    assert (provenance["Sampled by"], provenance["Evaluated by"]) == ("team-a", "vbl-ci")
    scorers = table(app, len(app.dataframe) - 1)
    assert set(scorers["Dimension"]) == {data.pretty(d) for d in DIMS} and set(scorers["Backend"]) == {"vbench"}
    app.selectbox(key="model").set_value("beta").run()
    assert len(app.get("plotly_chart")) == 2  # one checkpoint: no trend chart
    assert [m.value for m in app.metric][0] == f"{rows.loc[rows['model'] == 'beta', 'total'].iloc[0]:.2f}%"


@pytest.mark.slow
def test_model_page_for_a_published_row(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0], published=True, page="views/model.py")
    app.selectbox(key="model").set_value("HunyuanVideo").run()
    assert "A published VBench row" in texts(app.info)
    radar = figure(app, 0)
    assert radar["data"][0]["name"] == "HunyuanVideo" and len(radar["data"][0]["r"]) == len(DIMS) + 1
    provenance = table(app, 0).set_index("Field")["Value"]
    assert provenance["Source"].startswith("https://arxiv.org/") and "not a vbl run" in provenance["Evaluated by"]


# -- compare page ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_compare_page_deltas_win_tie_loss_and_videos(monkeypatch, filled) -> None:
    url, root = filled
    app = start(monkeypatch, url, root=root, page="views/compare.py")
    app.selectbox(key="run_a").set_value("alpha-1000").run()
    app.selectbox(key="run_b").set_value("alpha-2000").run()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {"Shared prompts": str(len(PROMPTS)), "B wins": str(len(PROMPTS) * len(DIMS)), "Ties": "0",
                       "B losses": "0"}
    deltas = table(app, 0).set_index("Dimension")
    assert deltas.loc["Scene", "Δ B−A"] == pytest.approx(2.0) and deltas.loc["Scene", "Shared prompts"] == len(PROMPTS)
    chart = figure(app)
    assert chart["data"][0]["y"] == pytest.approx([2.0] * len(DIMS))
    assert len(table(app, 1)) == 10  # the largest disagreements
    assert len(app.get("video")) == 6  # three prompts, both runs side by side
    app.slider(key="tie").set_value(3.0).run()
    assert {m.label: m.value for m in app.metric}["Ties"] == str(len(PROMPTS) * len(DIMS))


@pytest.mark.slow
def test_compare_page_says_which_dimensions_are_not_comparable(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0], page="views/compare.py")
    app.selectbox(key="run_a").set_value("alpha-1000").run()
    app.selectbox(key="run_b").set_value("gamma").run()
    assert "Temporal flickering (vbench vs efficientnet)" in texts(app.warning)
    assert "Temporal flickering" not in [data.pretty(d) for d in figure(app)["data"][0]["x"]]
    app.selectbox(key="run_b").set_value("alpha-1000").run()
    assert "Pick two different runs." in texts(app.warning)


@pytest.mark.slow
def test_compare_with_no_shared_prompts_says_0_shared_prompts(monkeypatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'apart.db'}"
    with ResultStore(url) as store:
        add_run(store, "here", "m", "v1", 0.0, 0)
        add_run(store, "there", "m", "v2", 0.0, 1, prompts=["w", "x", "y", "z"])
    app = start(monkeypatch, url, page="views/compare.py")
    app.selectbox(key="run_a").set_value("here").run()
    app.selectbox(key="run_b").set_value("there").run()
    assert "0 shared prompts" in texts(app.info)
    assert not app.dataframe and not app.get("plotly_chart") and not app.metric  # no table of "None", no empty chart


# -- prompt drill-down -----------------------------------------------------------------------------


@pytest.mark.slow
def test_prompt_page_scores_and_playback(monkeypatch, filled) -> None:
    url, root = filled
    app = start(monkeypatch, url, root=root, page="views/prompts.py")
    app.selectbox(key="run").set_value("beta").run()
    app.selectbox(key="prompt").set_value("a red car").run()
    assert [h.value for h in app.subheader] == ["a red car"]
    scores = table(app)
    assert list(scores["Sample"]) == [0, 1] and {data.pretty(d) for d in DIMS} <= set(scores.columns)
    assert scores.loc[1, "Scene"] - scores.loc[0, "Scene"] == pytest.approx(1.0)  # +0.01 per sample
    videos = app.get("video")
    assert len(videos) == SAMPLES and all(v.proto.url for v in videos)
    assert not app.warning


@pytest.mark.slow
def test_prompt_page_refuses_videos_outside_the_root_and_without_root(monkeypatch, filled, tmp_path) -> None:
    url, root = filled
    app = start(monkeypatch, url, root=None, page="views/prompts.py")
    app.selectbox(key="run").set_value("beta").run()
    assert "no results root is configured" in texts(app.warning) and not app.get("video")
    outside = tmp_path / "other-root"
    outside.mkdir()
    app = start(monkeypatch, url, root=outside, page="views/prompts.py")
    app.selectbox(key="run").set_value("beta").run()
    assert "absolute path outside the results root" in texts(app.warning) and not app.get("video")


def test_prompt_page_plays_a_quick_start_run_from_its_own_input_folder(monkeypatch, tmp_path) -> None:
    """`vbl evaluate --videos demo-videos`: the clips lie outside --results and still play; an
    imported run that names the same folder gets nothing from it."""
    clips, results = tmp_path / "demo-videos", tmp_path / "results"
    clips.mkdir()
    results.mkdir()
    clip = sample_clip_dir() / "carphone_distorted.mp4"
    for prompt in PROMPTS:
        for sample in range(SAMPLES):
            shutil.copy(clip, clips / f"{prompt}-{sample}.mp4")
    url = f"sqlite:///{tmp_path / 'quick.db'}"
    with ResultStore(url) as store:
        add_run(store, "quick", "videos", "", 0.0, 0, video_root=clips, dims=["temporal_flickering"],
                config={"videos": str(clips)}, run_dir=str(tmp_path / "runs" / "demo"))
        add_run(store, "imported", "other", "", 0.0, 1, video_root=clips, dims=["temporal_flickering"],
                config={"videos": str(clips)}, imported_from={"path": str(tmp_path / "upload")})
    app = start(monkeypatch, url, root=results, page="views/prompts.py")
    app.selectbox(key="run").set_value("quick").run()
    assert len(app.get("video")) == SAMPLES and not app.warning
    app.selectbox(key="run").set_value("imported").run()
    assert not app.get("video") and "absolute path outside the results root" in texts(app.warning)


@pytest.mark.slow
def test_prompt_page_shows_a_half_written_run_with_a_note(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0], page="views/prompts.py")
    app.selectbox(key="run").set_value("delta").run()
    assert "Run delta is running" in texts(app.info)
    assert list(app.selectbox(key="prompt").options) == sorted(PROMPTS[:2])


@pytest.mark.slow
def test_prompt_page_video_path_traversal_is_refused(monkeypatch, filled, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'evil.db'}"
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.mp4").write_bytes(b"not for you")
    with ResultStore(url) as store:
        store.begin_run("evil", manifest("evil", "evil", "v1", {"scene": "vbench"}, "complete", 0))
        store.record_video(
            "evil", VideoRow("x", "../secret.mp4", "p", "p", 0, 0), [ScoreRow("x", "scene", "vbench", "1", "ok", 0.5)]
        )
        store.finish_run("evil", "complete", [])
    app = start(monkeypatch, url, root=root, page="views/prompts.py")
    assert ui.plain("refused '../secret.mp4'") in texts(app.warning) and not app.get("video")


# -- import page -----------------------------------------------------------------------------------


def _zip_run(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in folder.iterdir():
            archive.write(file, f"{folder.name}/{file.name}")
    return buffer.getvalue()


def _bundle(tmp_path: Path, url: str, **changes) -> bytes:  # noqa: ANN003
    content = manifest("imported-run", "omega", "r1", dict.fromkeys(DIMS, "vbench"), "complete", 7)
    content.update(changes)
    folder = write_manifest_dir(tmp_path / "omega-run", content)
    scores = data.load_board(url).scores
    scores[scores["run_id"] == "beta"].to_parquet(folder / "scores.parquet")
    return _zip_run(folder)


@pytest.mark.slow
def test_import_page_rejects_a_bundle_and_says_why(monkeypatch, filled, tmp_path) -> None:
    url = filled[0]
    app = start(monkeypatch, url, page="views/import_results.py")
    bad = _bundle(tmp_path, url, prompt_suite={"name": "vbl-mini", "version": "1", "sha256": "ef" * 32})
    app.file_uploader(key="bundle").set_value(("omega.zip", bad, "application/zip")).run()
    assert "rejected" in texts(app.error) and "different prompts under one name" in texts(app.error)
    findings = table(app)
    assert "rejected" in set(findings["level"]) and "prompt suite" in set(
        findings.loc[findings["level"] == "rejected", "check"]
    )
    assert not app.button


@pytest.mark.slow
def test_import_page_accepts_and_imports_into_a_writable_store(monkeypatch, filled, tmp_path) -> None:
    source_url = filled[0]
    url = f"sqlite:///{tmp_path / 'writable.db'}"
    build_store(url)
    results = tmp_path / "results"
    results.mkdir()
    app = start(monkeypatch, url, root=results, import_db=url, page="views/import_results.py")
    app.file_uploader(key="bundle").set_value(("omega.zip", _bundle(tmp_path, source_url), "application/zip")).run()
    assert "accepted" in texts(app.success)
    app.button(key="do_import").click().run()
    assert ui.plain("Imported as run imported-run") in texts(app.success)
    with ResultStore(url, read_only=True) as store:
        runs = store.runs_frame().set_index("run_id")
    assert runs.loc["imported-run", "model_name"] == "omega"
    assert Path(runs.loc["imported-run", "run_dir"]).is_relative_to(results.resolve() / "imports")
    app.switch_page("views/main_table.py").run()
    assert "omega" in set(board_table(app)["Model"])


def test_import_page_asks_the_model_name_of_a_vbench_file_and_names_its_backend(monkeypatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'import.db'}"
    ResultStore(url).close()
    app = start(monkeypatch, url, import_db=url, page="views/import_results.py")
    entries = [{"video_path": f"p{i}-0.mp4", "video_results": 0.9, "backend": "niqe"} for i in range(2)]
    ours = json.dumps({"imaging_quality": [0.9, entries]}).encode()
    app.file_uploader(key="bundle").set_value(("eval_results.json", ours, "application/json")).run()
    findings = " | ".join(table(app)["detail"])
    assert "backend as recorded in the file (imaging_quality: niqe)" in findings and "VBench itself" not in findings
    assert app.button(key="do_import").disabled  # no model name yet
    app.text_input(key="model_name").input("my-model").run()
    assert not app.button(key="do_import").disabled
    app.button(key="do_import").click().run()
    with ResultStore(url, read_only=True) as store:
        runs = store.runs_frame()
        scores = store.scores_frame()
    assert list(runs["model_name"]) == ["my-model"] and set(scores["backend"]) == {"niqe"}


@pytest.mark.slow
def test_import_page_is_read_only_unless_allowed(monkeypatch, filled, tmp_path) -> None:
    app = start(monkeypatch, filled[0], page="views/import_results.py")
    app.file_uploader(key="bundle").set_value(("omega.zip", _bundle(tmp_path, filled[0]), "application/zip")).run()
    assert "accepted" in texts(app.success) and "read-only" in texts(app.info)
    assert not app.button


@pytest.mark.slow
def test_import_page_loads_published_rows_for_the_session(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0], page="views/import_results.py")
    csv = b"model,total,quality,semantic,subject consistency\nPaperModel,81.0,82.0,77.0,96.0\n"
    app.file_uploader(key="published_upload").set_value(("rows.csv", csv, "text/csv")).run()
    assert "1 published row(s) loaded" in texts(app.success)
    assert list(table(app)["model"]) == ["PaperModel"]
    app.switch_page("views/main_table.py").run()
    board = board_table(app)
    assert board.loc[board["Model"] == "PaperModel", "Backend"].iloc[0] == "published"
    app.switch_page("views/import_results.py").run()
    app.file_uploader(key="published_upload").set_value(("rows.csv", b"model,total\nX,880\n", "text/csv")).run()
    assert "percentages" in texts(app.error)


# -- empty and broken stores -----------------------------------------------------------------------

PAGES = ["views/main_table.py", "views/model.py", "views/compare.py", "views/prompts.py"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_store_says_so_on_every_page(monkeypatch, tmp_path, page) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    ResultStore(url).close()  # the schema, no runs
    app = start(monkeypatch, url, page=page)
    assert not app.exception and not app.error
    assert "No runs yet" in texts(app.info) and "`vbl evaluate --videos DIR" in texts(app.info)


@pytest.mark.parametrize("page", PAGES)
def test_an_absent_store_file_says_no_runs_yet_with_the_command(monkeypatch, tmp_path, page) -> None:
    app = start(monkeypatch, f"sqlite:///{tmp_path / 'nowhere' / 'vbl.db'}", page=page)
    assert not app.exception and not app.error  # before the first run there is nothing wrong
    assert "No runs yet" in texts(app.info) and "`vbl evaluate --videos DIR" in texts(app.info)
    assert "is created by the first run" in texts(app.info)


def test_an_absent_store_still_shows_published_rows(monkeypatch, tmp_path) -> None:
    app = start(monkeypatch, f"sqlite:///{tmp_path / 'nowhere' / 'vbl.db'}", published=True)
    assert list(sections(app)) == ["G1"] and len(board_table(app)) == len(json.loads(PUBLISHED.read_text())["rows"])


def test_a_postgres_store_on_a_closed_port_is_an_error_message(monkeypatch) -> None:
    app = start(monkeypatch, f"postgresql://vbl@127.0.0.1:{_closed_port()}/vbl")
    assert "cannot be reached" in texts(app.error) and not app.dataframe


def test_a_store_holding_only_a_half_written_run(monkeypatch, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'half.db'}"
    from leaderboard_store import add_run

    with ResultStore(url) as store:
        add_run(store, "half", "delta", "wip", 0.0, day=0, finish=False)
    app = start(monkeypatch, url)
    assert "Run half (delta) is running" in texts(app.warning) and "nothing to rank" in texts(app.info)
    assert not app.error and not app.dataframe
    app.switch_page("views/compare.py").run()
    assert "needs two finished runs" in texts(app.info)


def test_import_page_works_when_the_store_is_unreachable(monkeypatch, tmp_path) -> None:
    app = start(monkeypatch, f"sqlite:///{tmp_path / 'none.db'}", page="views/import_results.py")
    good = json.dumps({"scene": [0.5, [{"video_path": "p-0.mp4", "video_results": 0.5}]]}).encode()
    app.file_uploader(key="bundle").set_value(("m_eval_results.json", good, "application/json")).run()
    assert "not against the board" in texts(app.warning) and "accepted" in texts(app.success)


@pytest.mark.slow
@pytest.mark.postgres
def test_the_main_table_reads_a_postgresql_store(monkeypatch, fresh_postgres_url) -> None:
    build_store(fresh_postgres_url)
    app = start(monkeypatch, fresh_postgres_url)
    assert list(board_table(app)["Model"]) == ["alpha", "alpha", "beta", "gamma"]
    assert "Run delta (delta) is running" in texts(app.warning)


@pytest.mark.slow
def test_import_page_refuses_an_escaping_zip_and_keeps_the_rest_of_the_page(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0], page="views/import_results.py")
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../../outside.txt", "x")
    app.file_uploader(key="bundle").set_value(("evil.zip", evil.getvalue(), "application/zip")).run()
    assert ui.plain("Rejected evil.zip") in texts(app.error) and "outside the bundle folder" in texts(app.error)
    assert not app.dataframe and len(app.file_uploader) == 2  # the published-rows uploader is still there
    app.run()  # a rerun reuses the unpacked upload and says the same
    assert ui.plain("Rejected evil.zip") in texts(app.error)


@pytest.mark.slow
def test_model_page_switches_revision(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0], page="views/model.py")
    app.selectbox(key="model").set_value("alpha").run()
    rows = data.board_rows(data.load_board(filled[0])).set_index("run_id")
    for run_id in ("alpha-1000", "alpha-2000"):
        app.selectbox(key="revision").set_value(run_id).run()
        assert app.metric[0].value == f"{rows.loc[run_id, 'total']:.2f}%"
        provenance = table(app, len(app.dataframe) - 2).set_index("Field")["Value"]
        assert provenance["Run id"] == run_id


@pytest.mark.slow
def test_prompt_page_details_of_one_video(monkeypatch, filled) -> None:
    app = start(monkeypatch, filled[0], page="views/prompts.py")
    app.selectbox(key="run").set_value("alpha-1000").run()
    app.selectbox(key="prompt").set_value("a cat").run()
    app.selectbox(key="detail_video").set_value("a cat-1.mp4").run()
    details = json.loads(app.json[0].proto.body)
    assert details["temporal_flickering"]["per_frame"] == pytest.approx([0.65, 0.65])  # dim 2, prompt 0, sample 1
    assert details["scene"] == {}


def test_a_file_that_is_not_a_database_is_an_error_message(monkeypatch, tmp_path) -> None:
    garbage = tmp_path / "vbl.db"
    garbage.write_bytes(b"this is not an SQLite file" * 100)
    app = start(monkeypatch, f"sqlite:///{garbage}")
    assert "cannot be reached" in texts(app.error) and "not a database" in texts(app.error)
