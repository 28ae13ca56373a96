"""Unit tests of the leaderboard's pure parts: data.py, charts.py, paths.py, published.py, bundle.py,
commands.py. No Streamlit runs here: every number the app shows comes from these functions."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from leaderboard_store import PROMPTS, SAMPLES, SUITE, add_run, build_store, manifest, write_manifest_dir
from typer.testing import CliRunner

from vbench_lite.aggregate import load_scheme
from vbench_lite.errors import InputError
from vbench_lite.leaderboard import charts, data
from vbench_lite.leaderboard.bundle import check_bundle, unpack_upload
from vbench_lite.leaderboard.commands import APP_PATH, app_environment, register, streamlit_command
from vbench_lite.leaderboard.paths import VideoRefused, resolve_video
from vbench_lite.leaderboard.published import PUBLISHED_KIND, load_published
from vbench_lite.store import ResultStore

PUBLISHED = Path(__file__).parent / "data" / "published_vbench_rows.json"
SCHEME = load_scheme()
DIMS = list(SCHEME.dims)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('board') / 'vbl.db'}"
    build_store(url)
    return url


@pytest.fixture(scope="module")
def board(store_url: str) -> data.Board:
    return data.load_board(store_url)


@pytest.fixture(scope="module")
def rows(board: data.Board) -> pd.DataFrame:
    return data.board_rows(board)


# -- bootstrap ---------------------------------------------------------------------------------


def test_bootstrap_of_identical_prompts_has_no_spread() -> None:
    draws = data.bootstrap_means(np.full((6, 2), 0.7))
    assert draws.shape == (data.N_BOOTSTRAP, 2)
    assert np.allclose(draws, 0.7)


def test_bootstrap_interval_widens_with_spread_and_narrows_with_more_prompts() -> None:
    rng = np.random.default_rng(1)
    few = rng.normal(0.8, 0.05, size=(8, 1))
    many = rng.normal(0.8, 0.05, size=(200, 1))
    width = {}
    for name, matrix in (("few", few), ("many", many)):
        frame = pd.DataFrame(matrix, columns=["temporal_flickering"])
        point = float(matrix.mean())
        low, high = data.run_intervals(frame, {"temporal_flickering": point}, {}, SCHEME)["temporal_flickering"]
        assert low < point < high
        width[name] = high - low
    assert width["many"] < width["few"] / 2  # ~ 1/sqrt(n): 5x the prompts, well under half the width


def test_bootstrap_skips_prompts_a_dimension_did_not_score() -> None:
    matrix = np.array([[0.5, np.nan], [0.7, 0.9], [0.6, 0.9]])
    draws = data.bootstrap_means(matrix, n_boot=200)
    assert np.nanmin(draws[:, 1]) == pytest.approx(0.9)
    assert 0.5 <= draws[:, 0].min() and draws[:, 0].max() <= 0.7


# -- the main table ------------------------------------------------------------------------------


def test_one_row_per_model_revision_suite_and_aggregation_without_the_running_run(rows: pd.DataFrame) -> None:
    keys = set(zip(rows["model"], rows["revision"], rows["suite"], rows["aggregation"], strict=True))
    assert keys == {
        ("alpha", "ckpt-1000", "vbl-mini", "vbench-v1"),
        ("alpha", "ckpt-2000", "vbl-mini", "vbench-v1"),
        ("beta", "v1", "vbl-mini", "vbench-v1"),
        ("gamma", "v1", "vbl-mini", "vbench-v1"),
    }
    assert "delta" not in set(rows["model"])  # status "running": listed apart, never ranked


def test_row_values_are_the_stored_aggregates_in_percent(board: data.Board, rows: pd.DataFrame) -> None:
    row = rows[rows["run_id"] == "alpha-2000"].iloc[0]
    stored = board.aggregates[board.aggregates["run_id"] == "alpha-2000"].set_index("name")
    assert row["total"] == pytest.approx(100 * stored.loc["total", "normalised"])
    assert row["temporal_flickering:raw"] == pytest.approx(100 * stored.loc["temporal_flickering", "raw"])
    assert row["dynamic_degree:normalised"] == pytest.approx(100 * stored.loc["dynamic_degree", "normalised"])
    assert row["temporal_flickering:n"] == len(PROMPTS) * SAMPLES
    assert row["prompts"] == len(PROMPTS) and row["videos"] == len(PROMPTS) * SAMPLES
    for name in ("total", "quality", "semantic"):
        assert row[f"{name}:lo"] < row[name] < row[f"{name}:hi"]
    assert row["temporal_flickering:raw_lo"] < row["temporal_flickering:raw"] < row["temporal_flickering:raw_hi"]


def test_a_later_run_of_the_same_key_replaces_the_row_and_counts_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vbl.db'}"
    with ResultStore(url) as store:
        add_run(store, "first", "alpha", "ckpt-1", 0.0, day=0)
        add_run(store, "second", "alpha", "ckpt-1", 0.03, day=1)
        add_run(store, "other-rev", "alpha", "ckpt-2", 0.0, day=2)
    rows = data.board_rows(data.load_board(url), n_boot=50)
    same = rows[rows["revision"] == "ckpt-1"]
    assert list(same["run_id"]) == ["second"] and list(same["runs"]) == [2]
    assert len(rows) == 2


def test_backend_kind_and_rank_groups_keep_mixed_and_published_rows_apart(rows: pd.DataFrame) -> None:
    kinds = dict(zip(rows["model"] + "@" + rows["revision"], rows["backend_kind"], strict=True))
    assert kinds == {"alpha@ckpt-1000": "vbench", "alpha@ckpt-2000": "vbench", "beta@v1": "vbench", "gamma@v1": "mixed"}
    published = load_published(PUBLISHED, SCHEME)
    both = pd.concat([rows, published], ignore_index=True)
    groups = data.rank_groups(both)
    assert groups[both["model"] == "gamma"].nunique() == 1
    assert groups[both["model"] == "gamma"].iloc[0] != groups[both["model"] == "alpha"].iloc[0]
    assert set(groups[both["backend_kind"] == PUBLISHED_KIND]).isdisjoint(
        set(groups[both["backend_kind"] != PUBLISHED_KIND])
    )
    ranked = data.ranked(both, "total")
    ours = ranked[ranked["backend_kind"] == "vbench"]
    assert list(ours["revision"]) == ["ckpt-2000", "ckpt-1000", "v1"] and list(ours["rank"]) == [1, 2, 3]
    assert list(ranked.loc[ranked["model"] == "gamma", "rank"]) == [1]  # first of its own group
    assert ranked.loc[ranked["backend_kind"] == PUBLISHED_KIND, "rank"].min() == 1


def test_backend_kind_of_a_backend_map() -> None:
    assert data.backend_kind({"a": "vbench", "b": "vbench"}) == "vbench"
    assert data.backend_kind({"a": "niqe", "b": "efficientnet"}) == "embedded"
    assert data.backend_kind({"a": "vbench", "b": "niqe"}) == "mixed"
    assert data.backend_kind({}) == "unknown"


def test_filters_by_text_backend_suite_and_date(rows: pd.DataFrame) -> None:
    assert set(data.filter_rows(rows, data.Filters(text="ALPHA"))["model"]) == {"alpha"}
    assert set(data.filter_rows(rows, data.Filters(text="ckpt-2000"))["run_id"]) == {"alpha-2000"}
    assert set(data.filter_rows(rows, data.Filters(backend_kinds=["mixed"]))["model"]) == {"gamma"}
    assert data.filter_rows(rows, data.Filters(suites=["another-suite"])).empty
    assert data.filter_rows(rows, data.Filters(tasks=["i2v"])).empty
    dated = data.filter_rows(rows, data.Filters(since=date(2026, 11, 2), until=date(2026, 11, 3)))
    assert set(dated["run_id"]) == {"alpha-2000", "beta"}
    assert len(data.filter_rows(rows, data.Filters())) == len(rows)


def test_column_groups_follow_the_scheme(rows: pd.DataFrame) -> None:
    quality = data.column_group(rows, SCHEME, "quality")
    semantic = data.column_group(rows, SCHEME, "semantic")
    assert quality == SCHEME.group_dims("quality") and semantic == SCHEME.group_dims("semantic")
    assert data.column_group(rows, SCHEME, "all") == quality + semantic
    assert data.column_group(rows, SCHEME, "custom", ["scene", "color"]) == ["color", "scene"]


def test_view_table_puts_scores_first_raw_by_default_with_intervals_and_n(rows: pd.DataFrame) -> None:
    ranked = data.ranked(rows, "total")
    raw = data.view_table(ranked, ["temporal_flickering"])
    normalised = data.view_table(ranked, ["temporal_flickering"], "normalised")
    assert list(raw.columns[:6]) == ["Rank", "Tied with row above", "Comparable group", "Model", "Revision", "Total"]
    assert list(raw.columns[-9:]) == ["Prompts", "Videos", "Suite", "Backend", "Date", "Status", "Sampled by",
                                      "Evaluated by", "Run"]
    assert (raw.loc[0, "Sampled by"], raw.loc[0, "Evaluated by"]) == ("team-a", "vbl-ci")
    assert {"Total CI low", "Temporal flickering n", "Quality partial"} <= set(raw.columns)
    assert "Temporal flickering (norm.)" in normalised.columns  # the header says which view is on
    first = ranked.iloc[0]
    assert raw.loc[0, "Temporal flickering"] == pytest.approx(first["temporal_flickering:raw"], abs=0.01)
    assert normalised.loc[0, "Temporal flickering (norm.)"] == pytest.approx(
        first["temporal_flickering:normalised"], abs=0.01
    )
    assert raw.loc[0, "Total"] == normalised.loc[0, "Total"]  # Total is always VBench's normalised mean
    parsed = pd.read_csv(io.StringIO(raw.to_csv(index=False)))
    assert parsed.loc[0, "Temporal flickering CI low"] == pytest.approx(first["temporal_flickering:raw_lo"], abs=1e-3)
    with pytest.raises(ValueError):
        data.view_table(ranked, [], "percentile")
    led = data.view_table(ranked, ["scene", "color"], "raw", "none", lead="color")
    assert [c for c in led.columns if c in {"Color", "Total", "Quality", "Semantic", "Scene"}] == [
        "Color", "Total", "Quality", "Semantic", "Scene"
    ]


def test_screen_table_cells_hold_value_and_interval_and_dashes(rows: pd.DataFrame) -> None:
    ranked = data.ranked(rows, "total")
    view = data.screen_table(ranked, ["temporal_flickering", "scene"], "raw")
    assert list(view.values.columns[:7]) == ["Rank", "Model", "Revision", "Total", "Quality", "Semantic",
                                             "Temporal flickering"]
    first = ranked.iloc[0]
    half = (first["total:hi"] - first["total:lo"]) / 2
    assert view.texts.loc[0, "Total"] == f"{first['total']:.2f} ±{half:.2f}"
    assert view.values.loc[0, "Total"] == pytest.approx(first["total"], abs=0.01)  # numbers stay numbers
    bare = data.screen_table(ranked, ["scene"], "raw", show_ci=False)
    assert bare.texts.loc[0, "Total"] == f"{first['total']:.2f}"
    published = data.ranked(load_published(PUBLISHED, SCHEME), "total")
    shown = data.screen_table(published, ["scene"], "raw").texts
    assert set(shown["Revision"]) == {data.DASH} and set(shown["Date"]) == {data.DASH}  # never "None"


def test_partial_quality_is_shown_labelled_and_ranks_a_group_without_total(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vbl.db'}"
    quality = SCHEME.group_dims("quality")
    some = quality[:4]
    with ResultStore(url) as store:
        add_run(store, "few-a", "toy", "step-1", 0.0, 0, dims=some)
        add_run(store, "few-b", "toy", "step-2", 0.02, 1, dims=some)
    rows = data.board_rows(data.load_board(url), n_boot=50)
    row = rows.set_index("run_id").loc["few-b"]
    raw = {d: row[f"{d}:raw"] / 100 for d in some}
    from vbench_lite.aggregate import aggregate

    assert math.isnan(row["quality"]) and math.isnan(row["total"])
    assert row["quality:partial"] == pytest.approx(100 * aggregate(raw, SCHEME).quality_partial)
    assert (row["quality:have"], row["quality:of"]) == (4, len(quality))
    assert math.isnan(row["semantic:partial"])  # no semantic dimension at all: nothing to show
    both = pd.concat([rows, load_published(PUBLISHED, SCHEME)], ignore_index=True)
    ranked = data.ranked(both, "total")
    ours = ranked[ranked["model"] == "toy"]
    assert list(ours["revision"]) == ["step-2", "step-1"] and set(ours["rank_by"]) == {"quality"}
    published = ranked[ranked["backend_kind"] == PUBLISHED_KIND]
    assert set(published["rank_by"]) == {"total"}  # published rows keep their published (Total) order
    assert list(published["total"]) == sorted(published["total"], reverse=True)
    assert data.scored_dims(ours, list(SCHEME.dims)) == some  # a section's columns: only what it has
    assert data.scored_dims(published, list(SCHEME.dims)) == list(SCHEME.dims)
    view = data.screen_table(ours.reset_index(drop=True), some, "raw")
    assert view.texts.loc[0, "Quality"] == f"{row['quality:partial']:.2f} partial (4/{len(quality)})"
    assert view.values.loc[0, "Quality"] == view.texts.loc[0, "Quality"]  # the label is in the cell's data
    assert view.texts.loc[0, "Total"] == data.DASH
    export = data.view_table(ours, some)
    assert export.loc[0, "Quality partial"] == f"partial (4/{len(quality)})"
    assert export.loc[0, "Quality"] == pytest.approx(row["quality:partial"], abs=0.01)


def test_an_i2v_column_only_where_a_row_has_an_i2v_score(rows: pd.DataFrame) -> None:
    assert "I2V" not in data.view_table(rows, ["scene"]).columns  # text-to-video rows: no I2V column
    image_rows = rows.assign(i2v=[81.5] + [math.nan] * (len(rows) - 1))
    table = data.view_table(image_rows, ["scene"])
    shown = ["Total", "Quality", "Semantic", "I2V", "Scene"]
    assert [c for c in table.columns if c in shown] == shown
    assert table.loc[0, "I2V"] == 81.5 and data.screen_table(image_rows, ["scene"]).texts.loc[1, "I2V"] == data.DASH


def test_rank_by_quality_or_semantic_and_rows_without_a_value_have_no_rank(rows: pd.DataFrame) -> None:
    by_semantic = data.ranked(rows, "semantic")
    vbench = by_semantic[by_semantic["backend_kind"] == "vbench"]
    assert list(vbench["semantic"]) == sorted(vbench["semantic"], reverse=True)
    by_dim = data.ranked(rows.assign(**{"scene:raw": [math.nan, 70.0, 60.0, 50.0]}), "scene")
    assert by_dim.loc[by_dim["scene:raw"].isna(), "rank"].isna().all()
    with pytest.raises(ValueError, match="no scen:raw column"):  # a misspelt basis fails, never ranks nothing
        data.ranked(rows, "scen")


def test_group_labels_say_what_sets_each_group_apart(rows: pd.DataFrame) -> None:
    labels = data.group_labels(data.ranked(rows, "total"))
    groups = data.rank_groups(rows)
    vbench = labels[groups[rows["model"] == "alpha"].iloc[0]]
    mixed = labels[groups[rows["model"] == "gamma"].iloc[0]]
    assert vbench == "prompt suite vbl-mini · VBench backends"
    assert mixed == "prompt suite vbl-mini · backends: Temporal flickering efficientnet"
    other = rows[rows["model"] == "gamma"].assign(
        backends=lambda r: r["backends"].str.replace("scene=vbench", "scene=embedded"), model="delta"
    )
    both = pd.concat([rows, other], ignore_index=True)
    labels = data.group_labels(both)
    assert len(set(labels.values())) == len(labels) == 3
    assert "Scene embedded" in labels[data.rank_groups(both).iloc[-1]]


@pytest.mark.slow
def test_statistical_ties_use_the_gates_paired_interval(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vbl.db'}"
    noise = [0.03, -0.03, 0.02, -0.02]
    with ResultStore(url) as store:
        add_run(store, "base", "m", "c1", 0.0, 0)
        add_run(store, "noisy", "m", "c2", 0.001, 1, prompt_offsets=noise)  # +0.1 on average, noisy: tied
        add_run(store, "worse", "m", "c3", -0.05, 2)  # 5 points worse on every prompt: not tied
        add_run(store, "elsewhere", "m", "c4", -0.051, 3, prompts=["w", "x", "y", "z"])  # no shared prompt
    board = data.load_board(url)
    rows = data.board_rows(board, n_boot=200)
    assert data.paired_tie(board, "base", "noisy", "scene") is True
    assert data.paired_tie(board, "base", "worse", "scene") is False
    assert data.paired_tie(board, "base", "noisy", "total") is True
    assert data.paired_tie(board, "worse", "elsewhere", "scene") is None  # nothing to pair
    marked = data.mark_ties(board, data.ranked(rows, "total"), "raw")
    assert list(marked["run_id"]) == ["noisy", "base", "worse", "elsewhere"]
    assert list(marked["tied"]) == [False, True, False, True]  # "elsewhere": own intervals overlap "worse"'s
    assert list(marked["rank"]) == [1, 1, 3, 3]
    assert list(data.screen_table(marked, ["scene"]).texts["Rank"]) == ["1", "≈1", "3", "≈3"]


def test_published_rows_are_tied_only_where_they_have_intervals(board: data.Board) -> None:
    published = data.ranked(load_published(PUBLISHED, SCHEME), "total")
    assert not data.mark_ties(board, published, "raw")["tied"].any()  # no per-prompt scores, no interval


def test_partial_scores_are_tied_through_the_gates_bootstrap(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vbl.db'}"
    some = SCHEME.group_dims("quality")[:3]
    with ResultStore(url) as store:
        add_run(store, "a", "m", "c1", 0.0, 0, dims=some)
        add_run(store, "b", "m", "c2", 0.001, 1, dims=some, prompt_offsets=[0.03, -0.03, 0.02, -0.02])
        add_run(store, "c", "m", "c3", -0.05, 2, dims=some)
    board = data.load_board(url)
    assert data.paired_tie(board, "a", "b", "quality") is True
    assert data.paired_tie(board, "a", "c", "quality") is False


def test_a_missing_store_file_is_no_runs_yet_and_run_age_reads_plainly(tmp_path: Path) -> None:
    assert data.store_file_missing(f"sqlite:///{tmp_path / 'nowhere' / 'vbl.db'}") == tmp_path / "nowhere" / "vbl.db"
    existing = tmp_path / "vbl.db"
    ResultStore(f"sqlite:///{existing}").close()
    assert data.store_file_missing(f"sqlite:///{existing}") is None
    assert data.store_file_missing("postgresql://vbl@127.0.0.1:1/vbl") is None  # a server: an error, not "no runs"
    assert data.empty_board().empty
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
    assert data.run_age("2026-11-02T08:00:00+00:00", now) == timedelta(days=3, hours=4)
    assert data.format_age(timedelta(days=3, hours=4)) == "3 d 4 h"
    assert data.format_age(timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert data.format_age(timedelta(minutes=-3)) == "0 min"
    assert data.run_age(None, now) is None


def test_checkpoint_trend_orders_revisions_by_date(rows: pd.DataFrame) -> None:
    trend = data.checkpoint_trend(rows, "alpha", "vbl-mini", "vbench-v1")
    assert list(trend["revision"]) == ["ckpt-1000", "ckpt-2000"]
    figure = charts.checkpoint_trend(trend, ["temporal_flickering"])
    assert list(figure.data[0].x) == ["ckpt-1000", "ckpt-2000"] and figure.data[0].name == "Total"
    assert list(figure.data[0].y) == pytest.approx(list(trend["total"]))


def test_provenance_names_versions_hashes_hardware_and_people(board: data.Board) -> None:
    table = data.provenance(board.manifests["alpha-2000"]).set_index("Field")["Value"]
    assert table["Model revision"] == "ckpt-2000"
    assert table["Model weights sha256"] == "alpha-ckpt-2000-sha"
    assert table["Config hash"] == "cfg-alpha-ckpt-2000"
    assert table["vbl version"].startswith("0.1.0 0123456789ab")
    assert table["Prompt suite"].startswith("vbl-mini v1 (sha256 abababababab")
    assert "device cpu" in table["Hardware"]
    assert (table["Sampled by"], table["Evaluated by"]) == ("team-a", "vbl-ci")
    scorers = data.scorer_table(board.manifests["gamma"]).set_index("Dimension")
    assert scorers.loc["temporal_flickering", "Backend"] == "efficientnet"
    assert scorers.loc["scene", "Weights sha256"] == "w-scene"


# -- compare --------------------------------------------------------------------------------------


def test_paired_compare_counts_wins_and_gives_the_paired_interval(board: data.Board) -> None:
    compared = data.paired_compare(board, "alpha-1000", "alpha-2000").set_index("dimension")
    assert len(compared) == len(DIMS)
    flicker = compared.loc["temporal_flickering"]
    assert flicker["shared_prompts"] == len(PROMPTS)
    assert flicker["delta"] == pytest.approx(2.0)  # ckpt-2000 is +0.02 on every video
    assert (flicker["delta_lo"], flicker["delta_hi"]) == (pytest.approx(2.0), pytest.approx(2.0))
    assert (flicker["wins"], flicker["ties"], flicker["losses"]) == (len(PROMPTS), 0, 0)
    assert data.win_tie_loss(compared.reset_index()) == (len(PROMPTS) * len(DIMS), 0, 0)
    reverse = data.paired_compare(board, "alpha-2000", "alpha-1000")
    assert data.win_tie_loss(reverse) == (0, 0, len(PROMPTS) * len(DIMS))
    tolerant = data.paired_compare(board, "alpha-1000", "alpha-2000", tie_tolerance=3.0)
    assert data.win_tie_loss(tolerant) == (0, len(PROMPTS) * len(DIMS), 0)


def test_paired_compare_refuses_dimensions_scored_by_different_backends(board: data.Board) -> None:
    compared = data.paired_compare(board, "alpha-1000", "gamma").set_index("dimension")
    assert not compared.loc["temporal_flickering", "comparable"]
    assert math.isnan(compared.loc["temporal_flickering", "delta"])
    assert compared.loc["scene", "comparable"] and compared.loc["scene", "delta"] == pytest.approx(1.0)
    figure = charts.compare_deltas(compared.reset_index(), "A", "B")
    assert "Temporal flickering" not in list(figure.data[0].x) and len(figure.data[0].x) == len(DIMS) - 1


def test_disagreements_sorted_by_size_with_both_videos(board: data.Board) -> None:
    worst = data.disagreements(board, "beta", "alpha-2000", limit=5)
    assert len(worst) == 5
    assert list(worst["delta"].abs()) == sorted(worst["delta"].abs(), reverse=True)
    assert worst["delta"].iloc[0] == pytest.approx(7.0)
    assert worst["video_a"].str.endswith("-0.mp4").all() and worst["video_b"].str.endswith("-0.mp4").all()
    assert set(worst["prompt"]) <= set(PROMPTS)


# -- prompt drill-down ----------------------------------------------------------------------------


def test_prompt_videos_one_row_per_sample_with_every_dimension(board: data.Board) -> None:
    prompts = data.prompts_of(board.scores, "alpha-1000")
    assert list(prompts["prompt_id"]) == sorted(PROMPTS) and set(prompts["videos"]) == {SAMPLES}
    table = data.prompt_videos(board.scores, "alpha-1000", "a dog")
    assert list(table["sample_index"]) == [0, 1]
    assert set(DIMS) <= set(table.columns)
    assert table.loc[1, "temporal_flickering"] - table.loc[0, "temporal_flickering"] == pytest.approx(1.0)
    details = data.video_details(board.scores, "alpha-1000", table.loc[0, "video_key"])
    assert details["temporal_flickering"]["per_frame"][0] == pytest.approx(table.loc[0, "temporal_flickering"] / 100)


def test_progress_of_a_half_written_run(board: data.Board) -> None:
    progress = data.run_progress(board, "delta")
    assert progress == {"videos_scored": 4, "scores": 4 * len(DIMS), "dimensions": len(DIMS), "videos_expected": 8}


# -- charts ---------------------------------------------------------------------------------------


def test_radar_and_bars_carry_the_row_and_median_values(rows: pd.DataFrame) -> None:
    row = rows[rows["run_id"] == "beta"].iloc[0]
    dims = ["temporal_flickering", "scene", "color"]
    median = data.board_median(rows, dims)
    radar = charts.radar(row, dims, median=median)
    assert list(radar.data[0].theta) == ["Temporal flickering", "Scene", "Color", "Temporal flickering"]
    assert list(radar.data[0].r)[:3] == pytest.approx([row[f"{d}:normalised"] for d in dims])
    assert radar.data[0].fill == "toself" and radar.data[1].name == "board median"
    assert list(radar.data[1].r)[:3] == pytest.approx([rows[f"{d}:normalised"].median() for d in dims])
    bars = charts.bars_vs_median(row, median, dims)
    assert list(bars.data[0].y) == pytest.approx([row[f"{d}:normalised"] for d in dims])
    assert list(bars.data[0].error_y.array) == pytest.approx(
        [row[f"{d}:normalised_hi"] - row[f"{d}:normalised"] for d in dims]
    )
    assert list(bars.data[1].y) == pytest.approx(list(median))


# -- video paths ----------------------------------------------------------------------------------


@pytest.fixture
def results_root(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    (root / "runs" / "r1" / "videos").mkdir(parents=True)
    (root / "runs" / "r1" / "videos" / "a.mp4").write_bytes(b"mp4")
    (tmp_path / "secret.mp4").write_bytes(b"secret")
    return root


def test_video_paths_inside_the_root_resolve(results_root: Path) -> None:
    run_dir = str(results_root / "runs" / "r1")
    expected = (results_root / "runs" / "r1" / "videos" / "a.mp4").resolve()
    assert resolve_video(results_root, "videos/a.mp4", run_dir) == expected
    assert resolve_video(results_root, "runs/r1/videos/a.mp4") == expected
    assert resolve_video(results_root, str(expected)) == expected
    (results_root / "link.mp4").symlink_to(expected)  # a symlink that stays inside is fine
    assert resolve_video(results_root, "link.mp4") == expected


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("../secret.mp4", "'..'"),
        ("runs/r1/../../../secret.mp4", "'..'"),
        ("runs/r1/videos/../videos/a.mp4", "'..'"),  # even when it would land back inside
        ("/etc/passwd", "absolute path outside"),
    ],
)
def test_video_paths_that_leave_the_root_are_refused(results_root: Path, stored: str, reason: str) -> None:
    with pytest.raises(VideoRefused, match=reason):
        resolve_video(results_root, stored)


def test_absolute_path_to_a_file_outside_the_root_is_refused(results_root: Path) -> None:
    with pytest.raises(VideoRefused, match="absolute path outside"):
        resolve_video(results_root, str(results_root.parent / "secret.mp4"))


def test_symlink_pointing_out_of_the_root_is_refused(results_root: Path) -> None:
    (results_root / "runs" / "r1" / "videos" / "escape.mp4").symlink_to(results_root.parent / "secret.mp4")
    with pytest.raises(VideoRefused, match="symlink leads to .*outside the results root"):
        resolve_video(results_root, "videos/escape.mp4", str(results_root / "runs" / "r1"))
    (results_root / "outside").symlink_to(results_root.parent, target_is_directory=True)
    with pytest.raises(VideoRefused, match="outside the results root"):
        resolve_video(results_root, "outside/secret.mp4")


def test_missing_file_or_no_root_is_refused_with_a_reason(results_root: Path) -> None:
    with pytest.raises(VideoRefused, match="does not exist"):
        resolve_video(results_root, "runs/r1/videos/gone.mp4")
    with pytest.raises(VideoRefused, match="no results root"):
        resolve_video(None, "runs/r1/videos/a.mp4")


def test_a_run_dir_outside_the_root_does_not_widen_it(results_root: Path) -> None:
    # Relative paths of a run whose folder lies outside the root are read against the root.
    with pytest.raises(VideoRefused, match="does not exist"):
        resolve_video(results_root, "secret.mp4", str(results_root.parent))


def test_a_runs_own_input_folder_serves_its_videos_outside_the_results_root(tmp_path: Path) -> None:
    """The README's quick start: clips in demo-videos/, the run in runs/demo, --results elsewhere."""
    clips, results = tmp_path / "demo-videos", tmp_path / "results"
    clips.mkdir()
    results.mkdir()
    (clips / "a cat-0.mp4").write_bytes(b"mp4")
    (tmp_path / "secret.mp4").write_bytes(b"secret")
    url = f"sqlite:///{tmp_path / 'vbl.db'}"
    with ResultStore(url) as store:
        add_run(store, "quick", "videos", "", 0.0, 0, video_root=clips, dims=["temporal_flickering"],
                config={"videos": str(clips)}, run_dir=str(tmp_path / "runs" / "demo"))
        add_run(store, "imported", "evil", "", 0.0, 1, video_root=clips, dims=["temporal_flickering"],
                config={"videos": "/"}, imported_from={"path": "/uploads/x"})
    board = data.load_board(url)
    roots = data.video_roots(board, "quick")
    assert roots == [clips, tmp_path / "runs" / "demo"]
    stored = str(clips / "a cat-0.mp4")
    assert resolve_video(results, stored, None, roots) == (clips / "a cat-0.mp4").resolve()
    assert resolve_video(None, stored, None, roots) == (clips / "a cat-0.mp4").resolve()  # no --results needed
    # Every refusal stays as strict inside the run's own folder.
    for bad, reason in ((str(tmp_path / "secret.mp4"), "absolute path outside"),
                        (str(clips / ".." / "secret.mp4"), "'..'"),
                        ("a cat-0.mp4\x00", "NUL byte")):
        with pytest.raises(VideoRefused, match=reason):
            resolve_video(results, bad, None, roots)
    (clips / "escape.mp4").symlink_to(tmp_path / "secret.mp4")
    with pytest.raises(VideoRefused, match="symlink leads to .*outside the results root .* and the run's own"):
        resolve_video(results, str(clips / "escape.mp4"), None, roots)
    # An imported run's manifest widens nothing, even when it names "/" as its input folder.
    assert data.video_roots(board, "imported") == []
    with pytest.raises(VideoRefused, match="absolute path outside the results root"):
        resolve_video(results, stored, None, data.video_roots(board, "imported"))


# -- published rows -------------------------------------------------------------------------------


def test_published_json_rows_load_with_percent_and_normalised_values() -> None:
    source = json.loads(PUBLISHED.read_text())["rows"]
    rows = load_published(PUBLISHED, SCHEME)
    assert list(rows["model"]) == [r["model"] for r in source]
    hunyuan = rows[rows["model"] == "HunyuanVideo"].iloc[0]
    assert (hunyuan["total"], hunyuan["quality"], hunyuan["semantic"]) == (83.24, 85.09, 75.82)
    assert hunyuan["subject_consistency:raw"] == 97.37
    expected = 100 * (0.9737 - SCHEME.dims["subject_consistency"].min) / (1 - SCHEME.dims["subject_consistency"].min)
    assert hunyuan["subject_consistency:normalised"] == pytest.approx(expected)
    assert set(rows["backend_kind"]) == {PUBLISHED_KIND} and set(rows["status"]) == {PUBLISHED_KIND}
    assert hunyuan["source"].startswith("https://arxiv.org/")


def test_published_quality_is_the_weighted_mean_of_its_normalised_dimensions() -> None:
    # The loader's normalisation agrees with VBench's own published Quality (the golden rows of
    # tests/data/published_vbench_rows.json).
    rows = load_published(PUBLISHED, SCHEME)
    quality_dims = SCHEME.group_dims("quality")
    weights = np.array([SCHEME.dims[d].weight for d in quality_dims])
    for _, row in rows.iterrows():
        values = np.array([row[f"{d}:normalised"] for d in quality_dims])
        assert float(weights @ values / weights.sum()) == pytest.approx(row["quality"], abs=0.02)


def test_published_csv_with_vbench_column_names_and_percent_signs() -> None:
    csv = (
        "Model,Total Score,Quality Score,subject consistency,Dynamic Degree,source\n"
        "X-Video,80.1%,82.0,96.5%,70.0,paper\n"
    )
    rows = load_published(csv.encode(), SCHEME, name="board.csv")
    row = rows.iloc[0]
    assert row["model"] == "X-Video" and row["subject_consistency:raw"] == 96.5 and row["dynamic_degree:raw"] == 70.0
    assert (row["total"], row["quality"]) == (80.1, 82.0)  # the VBench Space's "Total Score" headers
    assert math.isnan(row["semantic"])
    assert row["source"] == "paper"


def test_published_rows_that_are_not_percentages_or_unnamed_are_rejected() -> None:
    with pytest.raises(InputError, match="not a number"):
        load_published(b"model,subject_consistency\nA,high\n", SCHEME, name="x.csv")
    with pytest.raises(InputError, match="percentages"):
        load_published(b'{"rows": [{"model": "A", "total": 8324}]}', SCHEME, name="x.json")
    with pytest.raises(InputError, match="no model name"):
        load_published(b'[{"total": 80}]', SCHEME, name="x.json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_published(b'{"rows": [', SCHEME, name="x.json")


# -- bundles (the import page) --------------------------------------------------------------------


def _run_bundle(tmp_path: Path, board: data.Board, run_id: str = "alpha-1000", **changes: object) -> Path:
    content = manifest(run_id + "-copy", "alpha", "ckpt-3000", dict.fromkeys(DIMS, "vbench"), "complete", 9)
    content.update(changes)
    folder = write_manifest_dir(tmp_path / "bundle", content)
    board.scores[board.scores["run_id"] == run_id].to_parquet(folder / "scores.parquet")
    return folder


def test_a_consistent_run_bundle_is_accepted(tmp_path: Path, board: data.Board) -> None:
    check = check_bundle(_run_bundle(tmp_path, board), board)
    assert check.accepted, check.table()
    assert check.kind == "run directory" and check.model == "alpha"
    assert {"schema", "prompt suite", "scorer version"} <= set(check.table()["check"])


def test_bundles_with_wrong_schema_status_suite_or_scorer_version_are_rejected(
    tmp_path: Path, board: data.Board
) -> None:
    cases = {
        "schema_version": ({"schema_version": 2}, "schema_version is 2"),
        "running": ({"status": "running"}, "half-written"),
        "suite": ({"prompt_suite": {**SUITE, "sha256": "cd" * 32}}, "different prompts under one name"),
        "scorer": (
            {"dimensions": {d: {"version": "2", "backend": "vbench"} for d in DIMS}},
            "scores say backend vbench v1, the manifest says vbench v2",
        ),
    }
    for name, (changes, reason) in cases.items():
        check = check_bundle(_run_bundle(tmp_path / name, board, **changes), board)
        rejected = check.table().query("level == 'rejected'")
        assert not check.accepted and rejected["detail"].str.contains(reason, regex=False).any(), (name, rejected)


def test_scorer_version_differing_from_the_board_is_rejected(tmp_path: Path, board: data.Board) -> None:
    folder = _run_bundle(tmp_path, board, dimensions={d: {"version": "2", "backend": "vbench"} for d in DIMS})
    scores = pd.read_parquet(folder / "scores.parquet").assign(dimension_version="2")
    scores.to_parquet(folder / "scores.parquet")
    check = check_bundle(folder, board)
    details = check.table().query("level == 'rejected'")["detail"]
    assert details.str.contains("scorer v2 here, v1 on the board").any()


def test_eval_results_upload_is_checked_by_the_importer_parser(tmp_path: Path) -> None:
    good = {"temporal_flickering": [0.97, [{"video_path": "a-0.mp4", "video_results": 0.97}]]}
    path = unpack_upload("model_eval_results.json", json.dumps(good).encode(), tmp_path)
    check = check_bundle(path, None)
    assert check.accepted and check.kind == "VBench eval_results.json" and check.model == "model"
    details = " | ".join(check.table()["detail"])
    assert "no backend recorded: assumed VBench's own code" in details and "VBench itself" not in details
    bad = unpack_upload("bad_eval_results.json", b'{"temporal_flickering": [0.9]}', tmp_path / "bad")
    check = check_bundle(bad, None)
    assert not check.accepted and "expected VBench's layout" in check.table()["detail"].iloc[0]
    bare = unpack_upload("bare_eval_results.json", b'{"temporal_flickering": 0.9}', tmp_path / "bare")
    rejected = check_bundle(bare, None).table().query("level == 'rejected'")["detail"]
    assert rejected.str.contains("no per-video results for temporal_flickering").any()


def test_zip_bundles_unpack_to_the_run_folder_and_refuse_escaping_members(tmp_path: Path, board: data.Board) -> None:
    folder = _run_bundle(tmp_path / "src", board)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in folder.iterdir():
            archive.write(file, f"myrun/{file.name}")
    unpacked = unpack_upload("myrun.zip", buffer.getvalue(), tmp_path / "up")
    assert unpacked.name == "myrun" and (unpacked / "manifest.json").exists()
    assert check_bundle(unpacked, board).accepted
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("../../escaped.txt", "x")
    with pytest.raises(InputError, match="outside the bundle folder"):
        unpack_upload("evil.zip", evil.getvalue(), tmp_path / "evil")
    assert not (tmp_path / "escaped.txt").exists()


def test_a_folder_without_manifest_is_rejected(tmp_path: Path) -> None:
    check = check_bundle(tmp_path, None)
    assert not check.accepted and check.kind == "unknown"


# -- the CLI command ------------------------------------------------------------------------------


def test_app_environment_passes_store_results_root_and_import_permission(tmp_path: Path) -> None:
    env = app_environment("sqlite:///x.db", tmp_path, base={"VBL_IMPORT_DB": "stale", "PATH": "/bin"})
    assert env["VBL_DB"] == "sqlite:///x.db" and env["VBL_RESULTS_ROOT"] == str(tmp_path.resolve())
    assert "VBL_IMPORT_DB" not in env and env["PATH"] == "/bin"
    assert app_environment("sqlite:///x.db", None, allow_import=True, base={})["VBL_IMPORT_DB"] == "sqlite:///x.db"
    command = streamlit_command(8765)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(APP_PATH)
    assert command[command.index("--server.port") + 1] == "8765"
    assert command[command.index("--server.headless") + 1] == "true"


def test_vbl_leaderboard_command_registers_and_checks_its_options(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command, so typer keeps the sub-command name
        pass

    runner = CliRunner()
    shown = runner.invoke(app, ["leaderboard", "--help"])
    assert shown.exit_code == 0 and "--results" in shown.output and "--allow-import" in shown.output
    missing = runner.invoke(app, ["leaderboard", "--results", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "is not a folder" in missing.output
    never = runner.invoke(app, ["leaderboard", "--stale-after", "0"])
    assert never.exit_code == 2 and "--stale-after must be > 0 hours" in never.output


def test_stale_after_reaches_the_app_and_a_bad_value_keeps_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from vbench_lite.leaderboard import commands, settings

    assert commands.DEFAULT_STALE_AFTER_HOURS == settings.DEFAULT_STALE_AFTER_HOURS  # `vbl --help` loads no app code
    assert app_environment("sqlite:///x.db", None, base={}, stale_after=12)["VBL_STALE_AFTER_HOURS"] == "12"
    for given, hours in (("12", 12.0), ("0.5", 0.5), ("-1", 2.0), ("soon", 2.0), ("", 2.0)):
        monkeypatch.setenv("VBL_STALE_AFTER_HOURS", given)
        assert settings.settings_from_env().stale_after_hours == hours


@pytest.mark.slow
def test_the_cli_module_imports_neither_streamlit_nor_torch_and_the_app_modules_no_torch() -> None:
    code = (
        "import sys; from typer.testing import CliRunner; from vbench_lite.cli import app; "
        "from vbench_lite.leaderboard.commands import register; register(app); "
        "shown = CliRunner().invoke(app, ['--help']); assert 'leaderboard' in shown.output, shown.output; "
        "assert 'streamlit' not in sys.modules, 'streamlit'; assert 'torch' not in sys.modules, 'torch'; "
        "import vbench_lite.leaderboard.data, vbench_lite.leaderboard.charts, vbench_lite.leaderboard.bundle, "
        "vbench_lite.leaderboard.published, vbench_lite.leaderboard.ui; "
        "assert 'torch' not in sys.modules, 'torch'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_vbl_leaderboard_serves_the_app_and_stops_it_on_sigterm(tmp_path: Path) -> None:
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = (
        "import typer; from vbench_lite.leaderboard.commands import register; app = typer.Typer(); register(app); "
        "app.command('other')(lambda: None); app()"
    )
    db = f"sqlite:///{tmp_path / 'vbl.db'}"
    command = [sys.executable, "-c", script, "leaderboard", "--db", db, "--results", str(tmp_path), "--port", str(port)]
    vbl = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                return response.read() == b"ok"
        except OSError:
            return False

    try:
        deadline = time.monotonic() + 60
        while not healthy():
            assert vbl.poll() is None and time.monotonic() < deadline, "the app did not start"
            time.sleep(0.3)
        vbl.send_signal(signal.SIGTERM)
        assert vbl.wait(timeout=30) is not None
        deadline = time.monotonic() + 15
        while healthy():  # the Streamlit child went with it
            assert time.monotonic() < deadline, "the Streamlit server outlived `vbl leaderboard`"
            time.sleep(0.3)
    finally:
        if vbl.poll() is None:
            vbl.kill()


def test_intervals_deltas_and_video_scores_follow_a_rescaled_aggregate(tmp_path: Path) -> None:
    # VBench's imaging quality stores MUSIQ's 0-100 per video and aggregates mean / 100.
    from vbench_lite.store import AggregateRow, ScoreRow, VideoRow

    url = f"sqlite:///{tmp_path / 'vbl.db'}"
    per_video = {"run-a": [30.0, 34.0, 38.0, 42.0], "run-b": [33.0, 37.0, 41.0, 45.0]}
    with ResultStore(url) as store:
        for run_id, values in per_video.items():
            store.begin_run(run_id, manifest(run_id, "m", run_id, {"imaging_quality": "niqe"}, "complete", 0))
            for index, value in enumerate(values):
                key = f"p{index}-0.mp4"
                score = ScoreRow(key, "imaging_quality", "niqe", "1", "ok", value)
                store.record_video(run_id, VideoRow(key, key, f"p{index}", f"p{index}", 0, 0), [score])
            raw = sum(values) / len(values) / 100
            store.finish_run(run_id, "complete", [AggregateRow("imaging_quality", raw, raw, 4, "niqe", "quality")])
    board = data.load_board(url)
    row = data.board_rows(board).set_index("run_id").loc["run-a"]
    assert row["imaging_quality:raw"] == pytest.approx(36.0)
    assert 30.0 <= row["imaging_quality:raw_lo"] < 36.0 < row["imaging_quality:raw_hi"] <= 42.0
    compared = data.paired_compare(board, "run-a", "run-b").set_index("dimension").loc["imaging_quality"]
    assert compared["delta"] == pytest.approx(3.0) and compared["mean_a"] == pytest.approx(36.0)
    videos = data.prompt_videos(board.scores, "run-a", "p0", board.aggregates)
    assert videos.loc[0, "imaging_quality"] == pytest.approx(30.0)
