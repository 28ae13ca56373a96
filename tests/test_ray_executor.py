"""The Ray executor (`--executor ray`) on a real local Ray instance: 2 CPUs and a custom resource, vbl_gpu,
standing in for two GPUs. Ray starts once for the whole test session (it takes seconds).

It gives the local executor's scores; a run killed halfway resumes redoing only unfinished units,
each stored once; a replica that dies is restarted and its unit retried, and a unit that always
kills its replica is stored as failed with its reason while the run completes.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from clips import clip_folder, cut_clip
from rich.console import Console

from vbench_lite import registry, runner
from vbench_lite.errors import VblError
from vbench_lite.executors import ray_executor
from vbench_lite.store import ResultStore, default_db_url

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow
TESTS = Path(__file__).parent
STAND_IN_GPUS = {"vbl_gpu": 2}


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    # Replicas import the test plugins (tests/ray_plugins.py) by module path: Ray's worker
    # processes inherit the environment of the instance started here.
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), old) if p)
    try:
        ray.init(num_cpus=2, resources=STAND_IN_GPUS, include_dashboard=False, logging_level="WARNING",
                 log_to_driver=False)
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = old
    yield
    ray.shutdown()


@pytest.fixture
def on_ray(ray_session: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas ask for one stand-in GPU each; the test plugins are installed next to the real ones."""
    monkeypatch.setenv(ray_executor.RESOURCES_ENV, json.dumps({"vbl_gpu": 1}))
    real = registry._entry_points
    extra = {
        registry.DIMENSIONS_GROUP: {
            "mean_brightness": EntryPoint("mean_brightness", "ray_plugins:MeanBrightness", registry.DIMENSIONS_GROUP),
            "crashy": EntryPoint("crashy", "ray_plugins:Crashy", registry.DIMENSIONS_GROUP),
        },
        registry.GENERATORS_GROUP: {
            "copying": EntryPoint("copying", "ray_plugins:CopyingGenerator", registry.GENERATORS_GROUP),
        },
    }
    monkeypatch.setattr(registry, "_entry_points", lambda group: {**real(group), **extra.get(group, {})})


def run(out: Path, executor: str = "ray", **settings) -> tuple[runner.RunReport, str]:
    console = Console(file=io.StringIO(), width=200)
    report = runner.evaluate(runner.EvaluateOptions(out=out, executor=executor, **settings), console=console)
    return report, console.file.getvalue()


def scored_lines(log: Path) -> list[tuple[str, str, int]]:
    if not log.exists():
        return []
    return [(d, path, int(pid)) for d, path, pid in (line.split("\t") for line in log.read_text().splitlines())]


def rows_per_pair(run_id: str) -> pd.Series:
    """How many score rows the store holds for each (video_key, dimension) of the run."""
    engine = sa.create_engine(default_db_url())
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text("SELECT video_key, dimension, COUNT(*) AS n FROM scores "
                                    "WHERE run_id = :run GROUP BY video_key, dimension"), conn,
                            params={"run": run_id})
    engine.dispose()
    return frame.set_index(["video_key", "dimension"])["n"]


def eval_results(run_dir: Path) -> dict:
    return json.loads((run_dir / "eval_results.json").read_text())


def test_ray_gives_the_local_executors_scores_on_the_same_videos(on_ray, tmp_path) -> None:
    videos = tmp_path / "videos"
    clip_folder(videos, count=4)
    log = tmp_path / "scored.log"
    settings = dict(videos=videos, dims="temporal_flickering,mean_brightness", videos_per_batch=2,
                    dimension_options={"scored_log": str(log)})
    local_report, _ = run(tmp_path / "local", executor="local", **settings)
    ray_report, output = run(tmp_path / "ray", **settings)

    assert local_report.exit_code == ray_report.exit_code == 0
    assert eval_results(tmp_path / "ray") == eval_results(tmp_path / "local")
    store = ResultStore(default_db_url())
    columns = ["video_key", "dimension", "backend", "status", "value", "extra"]
    ray_scores = store.scores_frame(ray_report.run_id)[columns]
    assert len(ray_scores) == 8 and (ray_scores["status"] == "ok").all()
    pd.testing.assert_frame_equal(ray_scores, store.scores_frame(local_report.run_id)[columns])
    # The Ray run was scored in replica processes, not in this one.
    ray_pids = {pid for _, _, pid in scored_lines(log)[4:]}
    assert ray_pids and os.getpid() not in ray_pids
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["dimensions"]["mean_brightness"]["backend"] == "embedded"
    assert manifest["status"] == "complete"
    assert "ray score: 4 units, 4 done, 0 failed, 0 retried" in output


def test_the_manifest_and_the_rows_name_the_backend_the_replicas_loaded(on_ray, tmp_path) -> None:
    videos = tmp_path / "videos"
    clip_folder(videos, count=2)
    report, _ = run(tmp_path / "run", videos=videos, dims="mean_brightness",
                    dimension_options={"mean_brightness.backend": "plain"})
    assert report.exit_code == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["dimensions"]["mean_brightness"]["backend"] == "plain"
    assert set(ResultStore(default_db_url()).scores_frame(report.run_id)["backend"]) == {"plain"}


@pytest.mark.parametrize("resume_on", ["ray", "local"])
def test_a_run_killed_halfway_resumes_redoing_only_unfinished_units(
    on_ray, tmp_path, monkeypatch, resume_on
) -> None:
    videos = tmp_path / "videos"
    clip_folder(videos, count=6)
    log = tmp_path / "scored.log"
    settings = dict(videos=videos, dims="temporal_flickering,mean_brightness", videos_per_batch=1,
                    dimension_options={"scored_log": str(log)})
    real_record = ResultStore.record_video
    committed: list[str] = []

    def killed_after_three(self, run_id, video, scores):
        if len(committed) == 3:
            raise KeyboardInterrupt  # what Ctrl-C or a kill of the driver does between two commits
        committed.append(video.video_key)
        return real_record(self, run_id, video, scores)

    monkeypatch.setattr(ResultStore, "record_video", killed_after_three)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "run", **settings)
    monkeypatch.setattr(ResultStore, "record_video", real_record)
    first_pass = len(scored_lines(log))

    report, _ = run(tmp_path / "run", executor=resume_on, resume=True, **settings)
    assert report.exit_code == 0
    redone = {Path(path).name for _, path, _ in scored_lines(log)[first_pass:]}
    assert len(committed) == 3
    assert redone.isdisjoint(committed)  # nothing committed was scored again
    assert redone | set(committed) == {p.name for p in videos.iterdir()}
    counts = rows_per_pair(report.run_id)
    assert len(counts) == 12 and (counts == 1).all()  # every unit stored exactly once
    whole, _ = run(tmp_path / "whole", executor="local", **settings)
    assert eval_results(tmp_path / "run") == eval_results(tmp_path / "whole")


def test_a_replica_that_dies_is_restarted_and_its_unit_retried(on_ray, tmp_path) -> None:
    videos = tmp_path / "videos"
    clip_folder(videos, count=3)
    crashes = tmp_path / "crashes.log"
    report, output = run(tmp_path / "run", videos=videos, dims="temporal_flickering,crashy",
                         videos_per_batch=3, dimension_options={
                             "crash_on": "bikes", "crash_times": 1, "crash_count": str(crashes)})
    assert report.exit_code == 0
    assert len(crashes.read_text().splitlines()) == 1
    scores = ResultStore(default_db_url()).scores_frame(report.run_id)
    assert len(scores) == 6 and (scores["status"] == "ok").all()
    # The whole batch died with its replica; each of its 3 units is retried alone.
    assert "ray score: 3 units, 3 done, 0 failed, 3 retried" in output


def test_a_unit_that_always_kills_its_replica_is_stored_as_failed_and_the_run_completes(
    on_ray, tmp_path
) -> None:
    videos = tmp_path / "videos"
    clip_folder(videos, count=3)
    crashes = tmp_path / "crashes.log"
    report, output = run(tmp_path / "run", videos=videos, dims="temporal_flickering,crashy",
                         videos_per_batch=1, dimension_options={
                             "crash_on": "bikes", "crash_times": 99, "crash_count": str(crashes)})
    assert len(crashes.read_text().splitlines()) == ray_executor.MAX_ATTEMPTS
    scores = ResultStore(default_db_url()).scores_frame(report.run_id)
    failed = scores[scores["status"] == "failed"]
    assert set(failed["video_key"]) == {"a clip of bikes-1.mp4"} and len(failed) == 2
    assert failed["error"].str.contains(f"died on each of {ray_executor.MAX_ATTEMPTS} tries").all()
    assert (scores.loc[scores["status"] != "failed", "status"] == "ok").sum() == 4
    assert report.exit_code == 1 and report.failed_videos == 1
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "partial"
    assert f"ray score: 3 units, 2 done, 1 failed, {ray_executor.MAX_ATTEMPTS - 1} retried" in output


def test_a_replica_that_dies_while_loading_its_models_ends_the_run_with_one_line(
    on_ray, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(ray_executor, "MAX_REPLICA_RESTARTS", 1)  # a crash loop ends sooner
    videos = tmp_path / "videos"
    clip_folder(videos, count=2)
    with pytest.raises(VblError, match="scorer replica died while loading its models"):
        run(tmp_path / "run", videos=videos, dims="crashy", dimension_options={"crash_in_setup": True})


def test_generation_runs_on_replicas_and_resume_never_regenerates_a_finished_video(on_ray, tmp_path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: t\nversion: '1'\nsamples_per_prompt: 2\nprompts:\n"
                     "  - {prompt: a still lake, dimensions: [temporal_flickering]}\n"
                     "  - {prompt: a running dog, dimensions: [mean_brightness]}\n")
    source = cut_clip("bikes", tmp_path / "source.mp4", frames=10, size=(176, 144))
    generated = tmp_path / "generated.log"
    settings = dict(model="copying", prompts=str(suite), dims="temporal_flickering,mean_brightness",
                    model_options={"source": str(source), "generated_log": str(generated)})
    report, output = run(tmp_path / "run", generate_only=True, **settings)
    assert "ray generate: 4 units, 4 done, 0 failed, 0 retried" in output
    assert len(generated.read_text().splitlines()) == 4
    assert len(list((tmp_path / "run" / "videos").glob("*.mp4"))) == 4

    report, output = run(tmp_path / "run", resume=True, **settings)
    assert report.exit_code == 0
    assert len(generated.read_text().splitlines()) == 4  # nothing generated twice
    assert "ray score: 4 units, 4 done, 0 failed, 0 retried" in output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["name"] == "copying" and len(manifest["seeds"]) == 4


@pytest.mark.postgres
def test_a_ray_run_streams_its_results_into_a_postgresql_store(on_ray, tmp_path, fresh_postgres_url) -> None:
    videos = tmp_path / "videos"
    clip_folder(videos, count=2)
    report, _ = run(tmp_path / "run", videos=videos, dims="temporal_flickering", db=fresh_postgres_url)
    assert report.exit_code == 0
    scores = ResultStore(fresh_postgres_url).scores_frame(report.run_id)
    assert len(scores) == 2 and (scores["status"] == "ok").all()


def test_a_multi_node_run_refuses_a_sqlite_store(tmp_path) -> None:
    with pytest.raises(VblError, match="PostgreSQL"):
        runner.EvaluateOptions(out=tmp_path / "run", videos=tmp_path, executor="ray",
                               ray_address="10.0.0.5:6379", db=f"sqlite:///{tmp_path / 'vbl.db'}")
    # One host may keep its SQLite store.
    runner.EvaluateOptions(out=tmp_path / "run", videos=tmp_path, executor="ray",
                           db=f"sqlite:///{tmp_path / 'vbl.db'}")


def test_an_unknown_executor_is_a_one_line_error(tmp_path) -> None:
    with pytest.raises(VblError, match="local or ray"):
        runner.EvaluateOptions(out=tmp_path / "run", videos=tmp_path, executor="dask")
