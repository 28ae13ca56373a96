"""VBench++'s I2V aggregate (`cal_i2v_final_score.py`) and its separation from text-to-video runs."""

from __future__ import annotations

import shutil

import pytest
from clips import cut_clip, sample_frames
from PIL import Image
from typer.testing import CliRunner

from vbench_lite.aggregate import aggregate, known_schemes, load_scheme, scheme_for_task
from vbench_lite.errors import InputError

# VBench's scripts/constant.py: NORMALIZE_DIC_I2V (Min, Max) and DIM_WEIGHT_I2V, by group.
VBENCH_I2V = {
    "camera_motion": ("i2v", 0.0, 1.0, 0.1),
    "i2v_subject": ("i2v", 0.1462, 1.0, 1),
    "i2v_background": ("i2v", 0.2615, 1.0, 1),
    "subject_consistency": ("quality", 0.1462, 1.0, 1),
    "background_consistency": ("quality", 0.2615, 1.0, 1),
    "motion_smoothness": ("quality", 0.7060, 0.9975, 1),
    "dynamic_degree": ("quality", 0.0, 1.0, 0.5),
    "aesthetic_quality": ("quality", 0.0, 1.0, 1),
    "imaging_quality": ("quality", 0.0, 1.0, 1),
}
RAW = {
    "camera_motion": 0.35, "i2v_subject": 0.97, "i2v_background": 0.96, "subject_consistency": 0.94,
    "background_consistency": 0.95, "motion_smoothness": 0.98, "dynamic_degree": 0.4,
    "aesthetic_quality": 0.6, "imaging_quality": 0.7,
}  # fmt: skip


def test_i2v_scheme_is_vbench_constants_with_temporal_flickering_left_out():
    scheme = load_scheme("vbench-i2v-v1")
    assert "vbench-i2v-v1" in known_schemes()
    assert scheme.group_weights == {"quality": 1, "i2v": 1}
    assert {d: (n.group, n.min, n.max, n.weight) for d, n in scheme.dims.items()} == VBENCH_I2V
    assert "temporal_flickering" not in scheme.dims


def test_i2v_total_is_the_mean_of_quality_and_i2v_as_cal_i2v_final_score_computes_it():
    # cal_i2v_final_score.py: normalised_d = (raw − Min)/(Max − Min)·weight; group = Σ normalised / Σ weight;
    # total = (quality·1 + i2v·1) / 2
    normalised = {d: (RAW[d] - lo) / (hi - lo) * w for d, (_, lo, hi, w) in VBENCH_I2V.items()}
    groups = {
        g: sum(normalised[d] for d in VBENCH_I2V if VBENCH_I2V[d][0] == g)
        / sum(VBENCH_I2V[d][3] for d in VBENCH_I2V if VBENCH_I2V[d][0] == g)
        for g in ("quality", "i2v")
    }
    result = aggregate({**RAW, "temporal_flickering": 0.1}, load_scheme("vbench-i2v-v1"))
    assert result.quality == pytest.approx(groups["quality"], abs=1e-12)
    assert result.i2v == pytest.approx(groups["i2v"], abs=1e-12)
    assert result.total == pytest.approx((groups["quality"] + groups["i2v"]) / 2, abs=1e-12)
    assert result.semantic is None and result.normalised["temporal_flickering"] is None  # kept, not weighed
    without_camera = aggregate({k: v for k, v in RAW.items() if k != "camera_motion"}, load_scheme("vbench-i2v-v1"))
    assert without_camera.total is None and without_camera.missing == {"quality": [], "i2v": ["camera_motion"]}


def test_the_task_picks_the_scheme():
    assert (scheme_for_task("t2v"), scheme_for_task("i2v")) == ("vbench-v1", "vbench-i2v-v1")
    with pytest.raises(InputError, match="unknown task"):
        scheme_for_task("v2v")


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ("", "dimensions.i2v_subject.group must be one of quality"),
        ("i2v_weight = 1\nsemantic_weight = 1\n", "no dimension"),
    ],
)
def test_a_group_needs_its_weight_and_a_weight_needs_its_group(tmp_path, extra, fragment):
    path = tmp_path / "broken.toml"
    path.write_text(
        f'name = "x"\nversion = "1"\nquality_weight = 1\n{extra}'
        '[dimensions.i2v_subject]\ngroup = "i2v"\nmin = 0\nmax = 1\nweight = 1\n'
        '[dimensions.aesthetic_quality]\ngroup = "quality"\nmin = 0\nmax = 1\nweight = 1\n'
    )
    with pytest.raises(InputError, match=fragment):
        load_scheme(str(path))


@pytest.mark.slow
def test_leaderboard_never_ranks_an_i2v_run_with_a_t2v_run(tmp_path):
    from vbench_lite.cli import app
    from vbench_lite.leaderboard import data

    videos, images = tmp_path / "videos", tmp_path / "images"
    videos.mkdir()
    images.mkdir()
    for index, clip in enumerate(("carphone_pristine", "bikes")):
        cut_clip(clip, videos / f"clip {index}-0.mp4", frames=8, size=(176, 144))
        Image.fromarray(sample_frames(clip)[0][0]).save(images / f"clip {index}.png")
    db = f"sqlite:///{tmp_path / 'vbl.db'}"
    common = ["--videos", str(videos), "--backend", "embedded", "--db", db, "--name", "model-a"]
    runner = CliRunner()
    t2v = runner.invoke(app, ["evaluate", *common, "--dims", "subject_consistency", "--out", str(tmp_path / "t2v")])
    i2v = runner.invoke(app, ["evaluate", *common, "--images", str(images), "--dims", "subject_consistency,i2v_subject",
                              "--out", str(tmp_path / "i2v")])  # fmt: skip
    assert t2v.exit_code == 0 and i2v.exit_code == 0, t2v.output + i2v.output

    board = data.load_board(db)
    rows = data.board_rows(board, n_boot=20)
    ranked = data.ranked(rows, "subject_consistency", "raw")
    assert sorted(zip(ranked["task"], ranked["aggregation"], strict=True)) == [
        ("i2v", "vbench-i2v-v1"), ("t2v", "vbench-v1")
    ]
    assert ranked["group"].nunique() == 2 and set(ranked["rank"]) == {1}  # each first in its own group
    # The I2V run stores its I2V group score (empty here: camera_motion and i2v_background were not
    # run) as a summary, never as a dimension column; the board shows it as partial (1 of 3).
    i2v_run = ranked.loc[ranked["task"] == "i2v", "run_id"].item()
    summaries = board.aggregates[(board.aggregates["run_id"] == i2v_run) & (board.aggregates["group"] == "summary")]
    assert sorted(summaries["name"]) == ["i2v", "quality", "total"]
    assert "i2v:raw" not in rows.columns
    table = data.view_table(ranked, [], intervals="none")
    assert list(table["I2V partial"]) == ["" if task == "t2v" else "partial (1/3)" for task in ranked["task"]]
    assert table.loc[ranked["task"] == "t2v", "I2V"].isna().all()
    shutil.rmtree(videos)
