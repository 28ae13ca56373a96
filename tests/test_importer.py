"""`vbl import`: VBench eval_results.json files and vbl run directories into the results store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vbench_lite.aggregate import load_scheme
from vbench_lite.errors import InputError
from vbench_lite.importer import import_path, read_eval_results
from vbench_lite.store import ResultStore

VIDEOS = "/data/lavie/sampled_videos"

# What VBench's evaluate.py writes: per-video floats, bools for dynamic degree, and extra keys.
VBENCH_RESULTS = {
    "subject_consistency": [
        0.9512,
        [
            {
                "video_path": f"{VIDEOS}/a cat playing piano-0.mp4",
                "video_results": 0.9624,
                "video_sim": [0.97, 0.955],
            },
            {"video_path": f"{VIDEOS}/a cat playing piano-1.mp4", "video_results": 0.94},
        ],
    ],
    "dynamic_degree": [
        0.5,
        [
            {"video_path": f"{VIDEOS}/a cat playing piano-0.mp4", "video_results": True},
            {"video_path": f"{VIDEOS}/a cat playing piano-1.mp4", "video_results": False},
        ],
    ],
    "object class": [
        0.75,
        [  # VBench writes some names with spaces
            {
                "video_path": f"{VIDEOS}/a cat playing piano-0.mp4",
                "video_results": 1.0,
                "cnt_per_video": {"cat": 3},
            },
            {
                "video_path": f"{VIDEOS}/a cat playing piano-1.mp4",
                "video_results": 0.5,
                "cnt_per_video": {"cat": 1},
            },
        ],
    ],
}


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.fixture
def store(store_url: str):
    opened = ResultStore(store_url)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path):
    opened = ResultStore(f"sqlite:///{tmp_path / 'vbl.db'}")
    yield opened
    opened.close()


def test_importing_a_vbench_eval_results_file_stores_its_videos_scores_and_recomputed_aggregates(
    store: ResultStore, tmp_path: Path
):
    results = write_json(tmp_path / "lavie_eval_results.json", VBENCH_RESULTS)

    run_id = import_path(store, results)

    assert run_id == "vbench-" + hashlib.sha256(results.read_bytes()).hexdigest()[:16]
    run = store.runs_frame().set_index("run_id").loc[run_id]
    assert run["model_name"] == "lavie" and run["status"] == "complete"
    assert store.run_manifest(run_id)["imported_from"]["path"] == str(results.resolve())

    videos = store.videos_frame(run_id)
    first, second = "a cat playing piano-0.mp4", "a cat playing piano-1.mp4"
    assert videos["video_key"].tolist() == [first, second]
    assert videos["prompt_id"].tolist() == ["a cat playing piano"] * 2
    assert videos["prompt"].tolist() == ["a cat playing piano"] * 2
    assert videos["sample_index"].tolist() == [0, 1]
    assert videos["path"][0] == f"{VIDEOS}/a cat playing piano-0.mp4"
    assert videos["seed"].isna().all()

    scores = store.scores_frame(run_id).set_index(["video_key", "dimension"])
    assert len(scores) == 6 and (scores["status"] == "ok").all()
    assert set(scores["backend"]) == {"vbench"}
    assert scores.loc[(first, "subject_consistency"), "value"] == 0.9624
    assert json.loads(scores.loc[(first, "subject_consistency"), "extra"]) == {"video_sim": [0.97, 0.955]}
    assert json.loads(scores.loc[(second, "subject_consistency"), "extra"]) == {}
    assert scores.loc[(first, "dynamic_degree"), "value"] == 1.0
    assert scores.loc[(second, "dynamic_degree"), "value"] == 0.0
    assert json.loads(scores.loc[(second, "object_class"), "extra"]) == {"cnt_per_video": {"cat": 1}}

    # Recomputed from the per-video values, never copied from the file: VBench's pair-weighted
    # subject consistency needs pair counts the file lacks, so it is the plain mean, and says so.
    aggregates = store.aggregates_frame(run_id).set_index("name")
    dims = ["dynamic_degree", "object_class", "subject_consistency"]
    assert aggregates.loc[dims, "raw"].to_dict() == pytest.approx(
        {"dynamic_degree": 0.5, "object_class": 0.75, "subject_consistency": (0.9624 + 0.94) / 2}
    )
    scheme = load_scheme()
    assert aggregates.loc["dynamic_degree", "normalised"] == pytest.approx(scheme.normalise("dynamic_degree", 0.5))
    assert aggregates.loc[dims, "n"].tolist() == [2, 2, 2]
    assert aggregates.loc[["quality", "semantic", "total"], "raw"].isna().all()  # most dimensions are missing
    notes = store.run_manifest(run_id)["imported_from"]["aggregate_notes"]
    # object_class is VBench's frame-weighted mean: the file's rows lack success_frame_count too
    assert sorted(notes) == ["object_class", "subject_consistency"]
    assert all("plain mean" in note for note in notes.values())


def test_importing_the_same_vbench_file_twice_never_changes_the_stored_run(store: ResultStore, tmp_path: Path):
    results = write_json(tmp_path / "results_eval_results.json", VBENCH_RESULTS)
    first = import_path(store, results)
    before = store.scores_frame()

    with pytest.raises(InputError, match="already in the store.*--new-id"):
        import_path(store, results, model_name="LaVie-base")
    assert store.run_ids() == [first] and store.runs_frame()["model_name"].tolist() == ["results"]
    pd.testing.assert_frame_equal(store.scores_frame(), before)

    again = import_path(store, results, model_name="LaVie-base", new_id=True)
    assert again != first and again.startswith(first)
    assert store.run_manifest(again)["imported_from"]["collided_with"] == first
    assert store.runs_frame().set_index("run_id")["model_name"].to_dict() == {first: "results", again: "LaVie-base"}


def test_video_keys_are_relative_to_the_folder_all_videos_share(sqlite_store: ResultStore, tmp_path: Path):
    results = write_json(
        tmp_path / "eval_results.json",
        {
            "subject_consistency": [
                0.9,
                [
                    {"video_path": "/v/cats/a cat-0.mp4", "video_results": 0.9},
                    {"video_path": "/v/dogs/a cat-0.mp4", "video_results": 0.8},
                ],
            ]
        },
    )

    run_id = import_path(sqlite_store, results)

    assert sqlite_store.videos_frame(run_id)["video_key"].tolist() == [
        "cats/a cat-0.mp4",
        "dogs/a cat-0.mp4",
    ]
    assert sqlite_store.runs_frame()["model_name"].tolist() == ["eval_results"]


def test_a_per_video_result_that_is_not_a_number_is_kept_as_a_failed_score(sqlite_store: ResultStore, tmp_path: Path):
    results = write_json(
        tmp_path / "eval_results.json",
        {
            "color": [
                0.5,
                [
                    {"video_path": "/v/red car-0.mp4", "video_results": ["red", "blue"]},
                ],
            ]
        },
    )

    run_id = import_path(sqlite_store, results)

    row = sqlite_store.scores_frame(run_id).iloc[0]
    assert row["status"] == "failed" and np.isnan(row["value"])
    assert json.loads(row["extra"]) == {"video_results": ["red", "blue"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1, column 2)"),
        ("[1, 2]", "top level is a list"),
        ("{}", "holds no dimension scores"),
        ('{"color": 0.5}', "'color' has no per-video results"),
        ('{"color": [0.5, [{"video_results": 1}]]}', "video #0"),
        ('{"color": [0.5, [{"video_path": "a-0.mp4"}]]}', "without video_path / video_results"),
    ],
)
def test_a_malformed_eval_results_file_is_a_one_line_input_error(
    sqlite_store: ResultStore, tmp_path: Path, content: str, message: str
):
    bad = tmp_path / "bad_eval_results.json"
    bad.write_text(content)

    with pytest.raises(InputError) as caught:
        import_path(sqlite_store, bad)

    assert message in str(caught.value)
    assert "bad_eval_results.json" in str(caught.value) and "\n" not in str(caught.value)
    assert sqlite_store.run_ids() == []


def test_a_missing_path_is_an_input_error_naming_what_to_give(sqlite_store: ResultStore, tmp_path: Path):
    with pytest.raises(InputError, match="nothing to import at .*run directory or a VBench"):
        import_path(sqlite_store, tmp_path / "nope")


def test_a_folder_without_manifest_or_eval_results_is_an_input_error(sqlite_store: ResultStore, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a vbl run directory .*no \\*eval_results.json"):
        import_path(sqlite_store, tmp_path / "empty")


def test_a_folder_holding_one_vbench_file_imports_that_file(sqlite_store: ResultStore, tmp_path: Path):
    write_json(tmp_path / "out" / "cogvideo_eval_results.json", VBENCH_RESULTS)

    run_id = import_path(sqlite_store, tmp_path / "out")

    assert sqlite_store.runs_frame().set_index("run_id").loc[run_id, "model_name"] == "cogvideo"


def run_manifest(run_dir: Path) -> dict:
    return {
        "schema_version": 1,
        "run_id": "20261123T100000-abcd1234",
        "created_at": "2026-11-23T10:00:00+00:00",
        "status": "complete",
        "vbl": {"version": "0.1.0", "git_sha": "deadbeef"},
        "model": {"name": "tiny", "revision": "v1", "weights_sha256": "aa", "task": "t2v"},
        "config_hash": "cafe",
        "prompt_suite": {"name": "demo", "version": "1", "sha256": "bb"},
        "aggregation": {"name": "vbench-v1", "version": "1"},
        "dimensions": {
            "temporal_flickering": {
                "version": "1",
                "backend": "vbench",
                "weights_sha256": None,
                "group": "quality",
            },
            "dynamic_degree": {
                "version": "2",
                "backend": "embedded",
                "weights_sha256": "cc",
                "group": "quality",
            },
        },
        "run_dir": "/ci/workspace/runs/abcd",  # where CI made it, not where it is now
    }


def scores_table(run_id: str) -> pd.DataFrame:
    rows = []
    for i, key in enumerate(["a cat-0.mp4", "a cat-1.mp4", "broken-0.mp4"]):
        for dim, backend, version in [
            ("temporal_flickering", "vbench", "1"),
            ("dynamic_degree", "embedded", "2"),
        ]:
            failed = key.startswith("broken")
            rows.append(
                {
                    "run_id": run_id,
                    "video_key": key,
                    "video_path": f"/runs/videos/{key}",
                    "prompt_id": key.rsplit("-", 1)[0],
                    "prompt": key.rsplit("-", 1)[0],
                    "sample_index": int(key[-5]),
                    "seed": 100 + i,
                    "dimension": dim,
                    "backend": backend,
                    "dimension_version": version,
                    "status": "failed" if failed else "ok",
                    "value": None if failed else 0.9 - i / 10,
                    "error": "decode error: truncated file" if failed else None,
                    "extra": json.dumps({"frames": 16}),
                }
            )
    return pd.DataFrame(rows)


def test_importing_a_run_directory_reads_its_manifest_scores_and_summary(store: ResultStore, tmp_path: Path):
    run_dir = tmp_path / "run"
    manifest = write_json(run_dir / "manifest.json", run_manifest(run_dir))
    run_id = json.loads(manifest.read_text())["run_id"]
    table = scores_table(run_id)
    table.to_parquet(run_dir / "scores.parquet")
    write_json(
        run_dir / "summary.json",
        {
            "aggregation": "vbench-v1",
            "dimensions": {
                "temporal_flickering": {
                    "raw": 0.85,
                    "normalised": 0.596,
                    "n": 2,
                    "backend": "vbench",
                    "group": "quality",
                },
                "dynamic_degree": {
                    "raw": 0.75,
                    "normalised": 0.75,
                    "n": 2,
                    "backend": "embedded",
                    "group": "quality",
                },
            },
            "quality": 0.67,
            "semantic": None,
            "total": None,
            "missing": ["object_class"],
        },
    )

    assert import_path(store, run_dir) == run_id

    run = store.runs_frame().iloc[0]
    assert (run["run_id"], run["model_name"], run["config_hash"], run["prompt_suite_sha256"]) == (
        run_id,
        "tiny",
        "cafe",
        "bb",
    )
    assert run["run_dir"] == str(run_dir.resolve())
    assert store.run_manifest(run_id)["imported_from"] == {"path": str(run_dir.resolve()),
                                                          "run_dir": "/ci/workspace/runs/abcd"}

    stored = store.scores_frame(run_id)
    expected = table.sort_values(["video_key", "dimension"]).reset_index(drop=True)
    for column in [
        "video_key",
        "video_path",
        "prompt_id",
        "dimension",
        "backend",
        "dimension_version",
        "status",
        "error",
        "extra",
    ]:
        assert stored[column].tolist() == expected[column].tolist(), column
    assert stored["seed"].tolist() == expected["seed"].tolist()
    assert np.allclose(stored["value"], expected["value"], equal_nan=True)

    videos = store.videos_frame(run_id).set_index("video_key")
    assert videos.loc["broken-0.mp4", "status"] == "failed"
    assert videos.loc["broken-0.mp4", "error"] == "decode error: truncated file"
    assert videos.loc["a cat-1.mp4", "status"] == "ok"

    # The bundle's summary.json claims other numbers: aggregates come from the scores alone.
    aggregates = store.aggregates_frame(run_id).set_index("name")
    scheme = load_scheme()
    assert aggregates.loc["temporal_flickering", "raw"] == pytest.approx(0.85)
    assert aggregates.loc["temporal_flickering", "normalised"] == pytest.approx(
        scheme.normalise("temporal_flickering", 0.85)
    )
    assert aggregates.loc["dynamic_degree", "backend"] == "embedded"
    assert np.isnan(aggregates.loc["quality", "raw"]) and np.isnan(aggregates.loc["total", "normalised"])


def test_a_run_directory_without_scores_parquet_is_read_from_its_eval_results(
    sqlite_store: ResultStore, tmp_path: Path
):
    run_dir = tmp_path / "run"
    write_json(run_dir / "manifest.json", run_manifest(run_dir))
    write_json(
        run_dir / "eval_results.json",
        {
            "temporal_flickering": [
                0.96,
                [{"video_path": str(run_dir / "videos" / "a cat-0.mp4"), "video_results": 0.96}],
            ],
            "dynamic_degree": [
                1.0,
                [{"video_path": str(run_dir / "videos" / "a cat-0.mp4"), "video_results": True}],
            ],
        },
    )

    run_id = import_path(sqlite_store, run_dir)

    scores = sqlite_store.scores_frame(run_id).set_index("dimension")
    assert scores.loc["dynamic_degree", ["backend", "dimension_version", "value"]].tolist() == [
        "embedded",
        "2",
        1.0,
    ]
    assert scores.loc["temporal_flickering", "backend"] == "vbench"
    assert set(scores["video_key"]) == {"a cat-0.mp4"}
    aggregates = sqlite_store.aggregates_frame(run_id).set_index("name")
    assert aggregates.loc[["dynamic_degree", "temporal_flickering"], "raw"].to_dict() == {
        "dynamic_degree": 1.0,
        "temporal_flickering": 0.96,
    }


def test_importing_a_run_directory_twice_changes_nothing(sqlite_store: ResultStore, tmp_path: Path):
    run_dir = tmp_path / "run"
    write_json(run_dir / "manifest.json", run_manifest(run_dir))
    scores_table("20261123T100000-abcd1234").to_parquet(run_dir / "scores.parquet")

    import_path(sqlite_store, run_dir)
    before = sqlite_store.scores_frame()
    with pytest.raises(InputError, match="already in the store"):
        import_path(sqlite_store, run_dir)

    pd.testing.assert_frame_equal(sqlite_store.scores_frame(), before)
    assert len(sqlite_store.run_ids()) == 1


def test_a_run_directory_with_a_broken_manifest_is_an_input_error(sqlite_store: ResultStore, tmp_path: Path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "manifest.json").write_text("{truncated")

    with pytest.raises(InputError, match="manifest.json is not valid JSON"):
        import_path(sqlite_store, tmp_path / "run")


def test_read_eval_results_keeps_the_file_aggregate_per_canonical_dimension(tmp_path: Path):
    results = read_eval_results(write_json(tmp_path / "x_eval_results.json", VBENCH_RESULTS))

    assert {name: dim.aggregate for name, dim in results.dimensions.items()} == {
        "subject_consistency": 0.9512,
        "dynamic_degree": 0.5,
        "object_class": 0.75,
    }
    assert len(results.sha256) == 64


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real run directory made by `vbl evaluate`, and the SQLite store it wrote to."""
    from clips import clip_folder
    from typer.testing import CliRunner

    from vbench_lite.cli import app

    root = tmp_path_factory.mktemp("evaluated")
    videos = root / "videos"
    clip_folder(videos, count=2)
    (videos / "broken-0.mp4").write_bytes(b"not a video")  # stored as a failed row
    local = f"sqlite:///{root / 'local.db'}"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--videos",
            str(videos),
            "--dims",
            "temporal_flickering",
            "--out",
            str(root / "run"),
            "--db",
            local,
        ],
    )
    # The run exits non-zero because a video failed; its outputs are complete all the same.
    assert (root / "run" / "summary.json").exists(), result.output
    return root / "run", local


@pytest.mark.slow
def test_an_imported_run_directory_reads_exactly_like_the_run_the_runner_stored(
    store: ResultStore, evaluated_run: tuple[Path, str]
):
    run_dir, local = evaluated_run

    run_id = import_path(store, run_dir)

    with ResultStore(local, read_only=True) as original:
        assert original.run_ids() == [run_id]
        pd.testing.assert_frame_equal(store.scores_frame(), original.scores_frame())
        pd.testing.assert_frame_equal(store.aggregates_frame(), original.aggregates_frame())
        facts = ["run_id", "video_key", "path", "prompt_id", "prompt", "sample_index", "status", "error"]
        pd.testing.assert_frame_equal(store.videos_frame()[facts], original.videos_frame()[facts])
        same = [c for c in original.runs_frame().columns if c != "finished_at"]
        pd.testing.assert_frame_equal(store.runs_frame()[same], original.runs_frame()[same])


def test_a_bare_vbench_i2v_file_is_aggregated_with_the_image_to_video_scheme(store: ResultStore, tmp_path: Path):
    results = {
        "i2v_subject": [0.9, [{"video_path": "/v/a-0.mp4", "video_results": 0.9}]],
        "i2v_background": [0.95, [{"video_path": "/v/a-0.mp4", "video_results": 0.95}]],
        "subject_consistency": [0.93, [{"video_path": "/v/a-0.mp4", "video_results": 0.93}]],
    }
    run_id = import_path(store, write_json(tmp_path / "i2v_eval_results.json", results))
    manifest = store.run_manifest(run_id)
    assert manifest["aggregation"]["name"] == "vbench-i2v-v1" and manifest["model"]["task"] == "i2v"
    aggregates = store.aggregates_frame(run_id).set_index("name")
    assert {"quality", "i2v", "total"} <= set(aggregates.index) and "semantic" not in aggregates.index
    scheme = load_scheme("vbench-i2v-v1")
    assert aggregates.loc["i2v_subject", "normalised"] == pytest.approx(scheme.normalise("i2v_subject", 0.9))
