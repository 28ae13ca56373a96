"""The results store on a real SQLite file and a real PostgreSQL server (tests/conftest.py)."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from vbench_lite.errors import StoreUnreachable
from vbench_lite.store import (
    SCHEMA_VERSION,
    AggregateRow,
    ResultStore,
    ScoreRow,
    VideoRow,
    default_db_url,
)

MANIFEST = {
    "schema_version": 1,
    "run_id": "run-a",
    "created_at": "2026-11-23T10:00:00+00:00",
    "status": "running",
    "vbl": {"version": "0.1.0", "git_sha": "abc123"},
    "model": {"name": "tiny-dit", "revision": "r7", "weights_sha256": "f00d", "task": "t2v"},
    "config_hash": "c0ffee",
    "prompt_suite": {"name": "demo", "version": "1", "sha256": "5u17e"},
    "aggregation": {"name": "vbench-v1", "version": "1"},
    "run_dir": "/runs/run-a",
    "source": "ci:job/42",
}


def video(key: str, seed: int | None = 0, **fields) -> VideoRow:
    prompt = key.rsplit("-", 1)[0]
    return VideoRow(
        video_key=key,
        path=f"/videos/{key}",
        prompt_id=prompt,
        prompt=prompt,
        sample_index=int(key.rsplit("-", 1)[1].split(".")[0]),
        seed=seed,
        **fields,
    )


def score(key: str, dimension: str, value, status: str = "ok", **fields) -> ScoreRow:
    return ScoreRow(
        video_key=key,
        dimension=dimension,
        backend="vbench",
        dimension_version="1",
        status=status,
        value=value,
        **fields,
    )


@pytest.fixture
def store(store_url: str):
    opened = ResultStore(store_url)
    yield opened
    opened.close()


def test_round_trip_returns_runs_videos_scores_and_aggregates_as_stored(store: ResultStore):
    store.begin_run("run-a", MANIFEST)
    store.record_video(
        "run-a",
        video("a cat-0.mp4", seed=42, fps=8.0, num_frames=16, width=64, height=48),
        [
            score(
                "a cat-0.mp4",
                "temporal_flickering",
                0.97,
                extra={"per_frame": np.array([0.5, 0.25]), "mean": np.float32(0.5)},
            ),
            score("a cat-0.mp4", "dynamic_degree", True),
        ],
    )
    store.record_video(
        "run-a",
        video("a dog-1.mp4", seed=None, status="failed", error="corrupt"),
        [
            score("a dog-1.mp4", "temporal_flickering", None, status="failed", error="corrupt"),
        ],
    )
    store.finish_run(
        "run-a",
        "complete",
        [
            AggregateRow("temporal_flickering", 0.97, 0.9191, 1, backend="vbench", group="quality"),
            AggregateRow("quality", None, None, 0, group="summary"),
        ],
    )

    assert store.run_ids() == ["run-a"]
    assert store.run_manifest("run-a") == {**MANIFEST, "status": "complete"}
    assert store.run_manifest("no-such-run") is None

    run = store.runs_frame().iloc[0]
    assert run["status"] == "complete"
    assert run["created_at"].isoformat() == "2026-11-23T10:00:00+00:00"
    assert run["finished_at"] >= run["created_at"]
    assert (run["model_name"], run["model_revision"], run["weights_sha256"], run["task"]) == (
        "tiny-dit",
        "r7",
        "f00d",
        "t2v",
    )
    assert (run["prompt_suite"], run["prompt_suite_sha256"], run["config_hash"]) == (
        "demo",
        "5u17e",
        "c0ffee",
    )
    assert (run["aggregation"], run["vbl_version"], run["run_dir"], run["source"]) == (
        "vbench-v1",
        "0.1.0",
        "/runs/run-a",
        "ci:job/42",
    )

    videos = store.videos_frame("run-a").set_index("video_key")
    assert videos.loc["a cat-0.mp4", ["seed", "fps", "num_frames", "width", "height"]].tolist() == [
        42,
        8.0,
        16,
        64,
        48,
    ]
    assert videos.loc["a dog-1.mp4", "status"] == "failed"
    assert videos.loc["a dog-1.mp4", "error"] == "corrupt"
    assert pd.isna(videos.loc["a dog-1.mp4", "seed"])

    scores = store.scores_frame("run-a")
    assert list(scores.columns) == [
        "run_id",
        "video_key",
        "video_path",
        "prompt_id",
        "prompt",
        "sample_index",
        "seed",
        "dimension",
        "backend",
        "dimension_version",
        "status",
        "value",
        "error",
        "extra",
    ]
    by_pair = scores.set_index(["video_key", "dimension"])
    flicker = by_pair.loc[("a cat-0.mp4", "temporal_flickering")]
    assert flicker["value"] == 0.97
    assert json.loads(flicker["extra"]) == {"per_frame": [0.5, 0.25], "mean": 0.5}
    assert (
        flicker["video_path"],
        flicker["prompt_id"],
        flicker["sample_index"],
        flicker["seed"],
    ) == ("/videos/a cat-0.mp4", "a cat", 0, 42)
    assert by_pair.loc[("a cat-0.mp4", "dynamic_degree"), "value"] == 1.0
    failed = by_pair.loc[("a dog-1.mp4", "temporal_flickering")]
    assert failed["status"] == "failed" and failed["error"] == "corrupt"
    assert np.isnan(failed["value"])

    aggregates = store.aggregates_frame("run-a").set_index("name")
    assert aggregates.loc["temporal_flickering", ["raw", "normalised", "n"]].tolist() == [
        0.97,
        0.9191,
        1,
    ]
    assert aggregates.loc["temporal_flickering", "group"] == "quality"
    assert np.isnan(aggregates.loc["quality", "raw"])


def test_frames_of_an_empty_store_have_their_columns(store: ResultStore):
    assert store.run_ids() == []
    assert store.runs_frame().empty and "model_name" in store.runs_frame().columns
    assert store.scores_frame().empty and "video_path" in store.scores_frame().columns
    assert store.videos_frame().empty and store.aggregates_frame().empty


def test_recording_the_same_video_twice_keeps_one_row_per_pair_with_the_latest_values(
    store: ResultStore,
):
    store.begin_run("run-a", MANIFEST)
    store.record_video("run-a", video("p-0.mp4"), [score("p-0.mp4", "d1", 0.1), score("p-0.mp4", "d2", 0.2)])
    store.record_video("run-a", video("p-0.mp4", seed=9), [score("p-0.mp4", "d1", 0.5)])

    scores = store.scores_frame("run-a")
    assert sorted(zip(scores["dimension"], scores["value"], strict=True)) == [
        ("d1", 0.5),
        ("d2", 0.2),
    ]
    assert len(store.videos_frame("run-a")) == 1
    assert store.videos_frame("run-a")["seed"].tolist() == [9]


def test_begin_run_again_on_resume_keeps_one_row_and_the_first_created_at(store: ResultStore):
    store.begin_run("run-a", MANIFEST)
    store.finish_run("run-a", "complete", [])
    store.begin_run(
        "run-a",
        {**MANIFEST, "created_at": "2026-11-24T00:00:00+00:00", "model": {"name": "renamed"}},
    )

    runs = store.runs_frame()
    assert len(runs) == 1
    assert runs["created_at"][0].isoformat() == "2026-11-23T10:00:00+00:00"
    assert runs["status"][0] == "running"  # from the manifest again: the run is going on
    assert runs["finished_at"].isna().all()
    assert runs["model_name"][0] == "renamed"


def test_begin_run_tolerates_a_manifest_without_provenance(store: ResultStore):
    store.begin_run("bare", {})
    run = store.runs_frame().iloc[0]
    assert run["status"] == "running"
    assert run[["model_name", "prompt_suite", "config_hash", "vbl_version"]].isna().all()


def test_finished_pairs_lists_exactly_the_recorded_pairs_after_a_partial_run(store: ResultStore):
    store.begin_run("run-a", MANIFEST)
    store.begin_run("run-b", {**MANIFEST, "run_id": "run-b"})
    store.record_video(
        "run-a",
        video("p-0.mp4"),
        [score("p-0.mp4", "d1", 0.1), score("p-0.mp4", "d2", None, status="skipped")],
    )
    store.record_video("run-a", video("p-1.mp4"), [score("p-1.mp4", "d1", None, status="failed", error="boom")])
    store.record_video("run-b", video("p-2.mp4"), [score("p-2.mp4", "d1", 0.3)])

    assert store.finished_pairs("run-a") == {
        ("p-0.mp4", "d1"),
        ("p-0.mp4", "d2"),
        ("p-1.mp4", "d1"),
    }
    assert store.finished_pairs("never-started") == set()


def test_record_video_failing_midway_stores_nothing_of_that_video(store: ResultStore):
    store.begin_run("run-a", MANIFEST)
    store.record_video("run-a", video("p-0.mp4"), [score("p-0.mp4", "d1", 0.1)])

    # The video row is written first; the second score's extra cannot be serialised.
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        store.record_video(
            "run-a",
            video("p-1.mp4"),
            [score("p-1.mp4", "d1", 0.2), score("p-1.mp4", "d2", 0.3, extra={"bad": object()})],
        )

    assert store.videos_frame("run-a")["video_key"].tolist() == ["p-0.mp4"]
    assert store.finished_pairs("run-a") == {("p-0.mp4", "d1")}


def test_record_video_rejected_by_the_database_rolls_back_its_video_row(store: ResultStore):
    store.begin_run("run-a", MANIFEST)
    store.record_video("run-a", video("p-0.mp4"), [score("p-0.mp4", "d1", 0.1)])

    # An unknown status passes Python but breaks the table's CHECK constraint on the second INSERT.
    with pytest.raises(sa.exc.IntegrityError):
        store.record_video("run-a", video("p-1.mp4"), [score("p-1.mp4", "d1", 0.2, status="finished")])

    assert store.videos_frame("run-a")["video_key"].tolist() == ["p-0.mp4"]
    assert store.finished_pairs("run-a") == {("p-0.mp4", "d1")}


def test_record_video_of_a_run_never_begun_is_refused(store: ResultStore):
    with pytest.raises(sa.exc.IntegrityError):
        store.record_video("no-run", video("p-0.mp4"), [score("p-0.mp4", "d1", 0.1)])
    assert store.videos_frame().empty


def test_record_video_refuses_scores_of_another_video(store: ResultStore):
    store.begin_run("run-a", MANIFEST)
    with pytest.raises(ValueError, match="p-1.mp4"):
        store.record_video("run-a", video("p-0.mp4"), [score("p-1.mp4", "d1", 0.1)])
    assert store.videos_frame().empty


def test_finish_run_replaces_the_aggregates_of_that_run_only(store: ResultStore):
    for run_id in ("run-a", "run-b"):
        store.begin_run(run_id, {**MANIFEST, "run_id": run_id})
        store.finish_run(run_id, "complete", [AggregateRow("d1", 0.1, 0.2, 3), AggregateRow("d2", 0.3, 0.4, 3)])
    store.finish_run("run-a", "failed", [AggregateRow("total", 0.9, 0.8, 2, group="summary")])

    aggregates = store.aggregates_frame()
    assert sorted(zip(aggregates["run_id"], aggregates["name"], strict=True)) == [
        ("run-a", "total"),
        ("run-b", "d1"),
        ("run-b", "d2"),
    ]
    assert store.runs_frame().set_index("run_id")["status"].to_dict() == {
        "run-a": "failed",
        "run-b": "complete",
    }
    assert store.run_manifest("run-a")["status"] == "failed"


def test_finish_run_of_an_unknown_run_says_so(store: ResultStore):
    with pytest.raises(KeyError, match="begin_run"):
        store.finish_run("nope", "complete", [])


def test_delete_run_removes_that_run_and_nothing_else(store: ResultStore):
    for run_id in ("run-a", "run-b"):
        store.begin_run(run_id, {**MANIFEST, "run_id": run_id})
        store.record_video(run_id, video("p-0.mp4"), [score("p-0.mp4", "d1", 0.1)])
        store.finish_run(run_id, "complete", [AggregateRow("d1", 0.1, 0.1, 1)])

    store.delete_run("run-a")

    assert store.run_ids() == ["run-b"]
    assert set(store.scores_frame()["run_id"]) == {"run-b"}
    assert set(store.videos_frame()["run_id"]) == {"run-b"}
    assert set(store.aggregates_frame()["run_id"]) == {"run-b"}


def test_read_only_store_reads_but_cannot_write(store_url: str):
    with ResultStore(store_url) as writer:
        writer.begin_run("run-a", MANIFEST)
        writer.record_video("run-a", video("p-0.mp4"), [score("p-0.mp4", "d1", 0.1)])

    reader = ResultStore(store_url, read_only=True)
    try:
        assert reader.run_ids() == ["run-a"]
        assert reader.finished_pairs("run-a") == {("p-0.mp4", "d1")}
        with pytest.raises(PermissionError, match="read-only"):
            reader.begin_run("run-b", MANIFEST)
        with pytest.raises(PermissionError, match="read-only"):
            reader.delete_run("run-a")
        # Below the API too: the connection itself is read-only.
        with pytest.raises(sa.exc.DBAPIError, match="(?i)read-?only"):
            with reader.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM scores")
    finally:
        reader.close()
    with ResultStore(store_url) as writer:
        assert writer.finished_pairs("run-a") == {("p-0.mp4", "d1")}


def test_read_only_store_on_an_empty_database_reads_as_no_runs(store_url: str):
    if store_url.startswith("sqlite"):
        path = Path(store_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True)
        path.touch()  # an empty file is an empty SQLite database
    reader = ResultStore(store_url, read_only=True)
    try:
        assert reader.run_ids() == []
        assert reader.scores_frame().empty
        assert reader.run_manifest("run-a") is None
    finally:
        reader.close()


def test_read_only_sqlite_store_without_its_file_is_unreachable(tmp_path: Path):
    with pytest.raises(StoreUnreachable, match="no database file"):
        ResultStore(f"sqlite:///{tmp_path / 'missing.db'}", read_only=True)


def test_sqlite_store_under_an_unusable_folder_is_unreachable(tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")

    with pytest.raises(StoreUnreachable) as caught:
        ResultStore(f"sqlite:///{blocker / 'sub' / 'vbl.db'}")

    message = str(caught.value)
    assert "\n" not in message
    assert "cannot create folder" in message and "check --db / VBL_DB" in message


def closed_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_postgres_url_with_nothing_listening_is_unreachable_within_seconds():
    url = f"postgresql+psycopg://vbl:s3cret@127.0.0.1:{closed_loopback_port()}/vbl"
    started = time.monotonic()

    with pytest.raises(StoreUnreachable) as caught:
        ResultStore(url)

    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "\n" not in message
    assert "Connection refused" in message and "check --db / VBL_DB" in message
    assert "s3cret" not in message


@pytest.mark.slow
def test_postgres_server_that_never_answers_is_unreachable_after_the_connect_timeout():
    # A socket that accepts TCP connections (kernel backlog) but never speaks PostgreSQL.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StoreUnreachable, match="(?i)timeout|timed out"):
            ResultStore(f"postgresql://vbl@127.0.0.1:{port}/vbl")
        assert time.monotonic() - started < 10


def test_unknown_database_kind_is_unreachable_with_the_supported_urls(tmp_path: Path):
    with pytest.raises(StoreUnreachable, match="sqlite:///FILE or postgresql://"):
        ResultStore("nosuchdb://host/db")
    with pytest.raises(StoreUnreachable, match="not a database URL"):
        ResultStore(str(tmp_path / "vbl.db"))


def test_a_missing_database_driver_is_unreachable_with_the_install_command():
    with pytest.raises(
        StoreUnreachable,
        match="driver 'psycopg2' is not installed; pip install 'vbench-lite\\[postgres\\]'",
    ):
        ResultStore("postgresql+psycopg2://vbl@127.0.0.1:5432/vbl")


@pytest.mark.postgres
def test_plain_postgresql_url_uses_the_installed_psycopg_driver(fresh_postgres_url: str):
    plain = fresh_postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with ResultStore(plain) as store:
        store.begin_run("run-a", MANIFEST)
        assert store.engine.dialect.driver == "psycopg"
        assert store.run_ids() == ["run-a"]


def test_store_written_by_a_newer_schema_is_refused(store_url: str):
    with ResultStore(store_url) as store:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO schema_version (version, applied_at, vbl_version) "
                f"VALUES ({SCHEMA_VERSION + 1}, CURRENT_TIMESTAMP, '9.9')"
            )

    with pytest.raises(StoreUnreachable, match="newer than this vbl understands"):
        ResultStore(store_url)


def test_reopening_a_store_keeps_its_data_and_one_schema_version_row(store_url: str):
    with ResultStore(store_url) as store:
        store.begin_run("run-a", MANIFEST)
    with ResultStore(store_url) as store:
        assert store.run_ids() == ["run-a"]
        with store.engine.connect() as conn:
            versions = conn.exec_driver_sql("SELECT version FROM schema_version").scalars().all()
    assert versions == [SCHEMA_VERSION]


def test_two_writers_on_one_store_both_commit_every_video(store_url: str):
    with ResultStore(store_url) as store:
        store.begin_run("run-a", MANIFEST)

    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            with ResultStore(store_url) as own:
                for i in range(15):
                    key = f"w{worker}-{i}.mp4"
                    own.record_video("run-a", video(key), [score(key, "d1", i / 10)])
        except BaseException as error:  # a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with ResultStore(store_url) as store:
        assert len(store.finished_pairs("run-a")) == 30


@pytest.mark.postgres
def test_safe_url_masks_the_password(fresh_postgres_url: str):
    with_password = fresh_postgres_url.replace("postgres@", "postgres:pw@")  # trust auth ignores it
    with ResultStore(with_password) as store:
        assert store.url == with_password
        assert "pw" not in store.safe_url and "***" in store.safe_url
        assert "pw" not in repr(store)


def test_default_db_url_prefers_vbl_db_then_a_file_in_vbl_home(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("VBL_DB", "postgresql://team@db.example/vbl")
    assert default_db_url() == "postgresql://team@db.example/vbl"
    monkeypatch.delenv("VBL_DB")
    monkeypatch.setenv("VBL_HOME", str(tmp_path / "home"))
    assert default_db_url() == f"sqlite:///{tmp_path / 'home' / 'vbl.db'}"


def test_several_writers_opening_a_new_store_at_once_all_succeed(store_url: str):
    # Parallel CI jobs may all be first to a fresh team database.
    errors: list[BaseException] = []
    ready = threading.Barrier(6)

    def open_store() -> None:
        try:
            ready.wait()
            ResultStore(store_url).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
