"""The runner: one decode per video shared by all dimensions, commits per video, resume redoes only
unfinished (video, dimension) pairs, and per-video failures become stored rows with reasons."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from clips import clip_folder, cut_clip, sample_frames
from typer.testing import CliRunner

from vbench_lite import registry, runner
from vbench_lite.cli import app
from vbench_lite.dimension import Dimension, FrameNeeds, VideoScore
from vbench_lite.executors import streaming
from vbench_lite.generator import GeneratedVideo, GenerationRequest, Generator
from vbench_lite.store import ResultStore
from vbench_lite.video import Video, write_mp4

# -- a third-party-style plugin, registered through a (fake) entry point ----------------------

CALLS: list[tuple[str, str]] = []  # (dimension, video path) for every video a dimension scored


class MeanBrightness(Dimension):
    """Test plugin: mean pixel value of the 8 "middle" frames, scaled to [0, 1]."""

    name: ClassVar[str] = "mean_brightness"
    version: ClassVar[str] = "1"
    group: ClassVar = "extra"
    frames: ClassVar[FrameNeeds] = FrameNeeds(mode="middle", count=8)
    backends: ClassVar[tuple[str, ...]] = ("embedded",)

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        CALLS.extend((self.name, str(v.path)) for v in videos)
        assert all(v.num_frames == 8 for v in videos)
        return [VideoScore(value=float(v.frames.mean() / 255), extra={"frames": 8}) for v in videos]


class NeedsStyle(Dimension):
    name: ClassVar[str] = "needs_style"
    version: ClassVar[str] = "1"
    group: ClassVar = "extra"
    needs_aux: ClassVar = "appearance_style"
    backends: ClassVar[tuple[str, ...]] = ("embedded",)

    def score_batch(self, videos: list[Video]) -> list[VideoScore]:
        return [VideoScore(value=1.0) for _ in videos]


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Add test dimensions next to the installed ones, exactly as a third-party package would."""
    real = registry._entry_points
    extra = {
        "mean_brightness": EntryPoint("mean_brightness", f"{__name__}:MeanBrightness", registry.DIMENSIONS_GROUP),
        "needs_style": EntryPoint("needs_style", f"{__name__}:NeedsStyle", registry.DIMENSIONS_GROUP),
    }

    def with_test_plugins(group: str) -> dict[str, EntryPoint]:
        points = real(group)
        return {**points, **extra} if group == registry.DIMENSIONS_GROUP else points

    monkeypatch.setattr(registry, "_entry_points", with_test_plugins)
    monkeypatch.setitem(sys.modules, __name__, sys.modules[__name__])
    CALLS.clear()


def evaluate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", *args])
    return result.exit_code, result.output


def eval_results(run: Path) -> dict:
    return json.loads((run / "eval_results.json").read_text())


# -- plugin path -----------------------------------------------------------------------------


def test_first_party_dimensions_are_found_through_entry_points() -> None:
    assert "temporal_flickering" in registry.dimension_names()
    assert "folder" in registry.generator_names()


@pytest.mark.slow
def test_a_third_party_dimension_is_scored_and_stored_like_a_first_party_one(plugins, tmp_path) -> None:
    clip_folder(tmp_path / "videos", count=3)
    code, output = evaluate("--videos", str(tmp_path / "videos"), "--dims",
                            "mean_brightness,temporal_flickering", "--out", str(tmp_path / "run"))
    assert code == 0, output
    results = eval_results(tmp_path / "run")
    assert set(results) == {"mean_brightness", "temporal_flickering"}
    assert len(results["mean_brightness"][1]) == 3
    assert results["mean_brightness"][1][0]["frames"] == 8  # extra keys land in VBench's JSON
    scores = pd.read_parquet(tmp_path / "run" / "scores.parquet")
    assert set(scores["backend"]) == {"embedded", "vbench"}
    assert (scores["status"] == "ok").all() and len(scores) == 6


def test_eval_results_name_each_videos_backend_and_an_import_keeps_it(plugins, tmp_path) -> None:
    from vbench_lite.importer import import_path
    from vbench_lite.leaderboard.bundle import check_bundle

    clip_folder(tmp_path / "videos", count=2)
    code, output = evaluate("--videos", str(tmp_path / "videos"), "--dims", "mean_brightness,temporal_flickering",
                            "--out", str(tmp_path / "run"), "--db", f"sqlite:///{tmp_path / 'first.db'}")
    assert code == 0, output
    results = eval_results(tmp_path / "run")
    assert {e["backend"] for e in results["mean_brightness"][1]} == {"embedded"}
    assert {e["backend"] for e in results["temporal_flickering"][1]} == {"vbench"}
    bare = tmp_path / "mine_eval_results.json"
    bare.write_text(json.dumps(results))
    findings = check_bundle(bare, None).table()
    assert findings["detail"].str.contains(r"backend as recorded in the file \(mean_brightness: embedded").any()
    with ResultStore(f"sqlite:///{tmp_path / 'second.db'}") as store:
        run_id = import_path(store, bare, model_name="mine")
        scores = store.scores_frame(run_id)
        stored = store.run_manifest(run_id)["dimensions"]
    assert dict(zip(scores["dimension"], scores["backend"], strict=True)) == {
        "mean_brightness": "embedded", "temporal_flickering": "vbench"}
    assert stored["mean_brightness"]["backend"] == "embedded"
    assert "backend" not in json.loads(scores["extra"].iloc[0])  # not copied into the score's extra


def test_each_video_is_decoded_once_for_all_dimensions(plugins, tmp_path, monkeypatch) -> None:
    clip_folder(tmp_path / "videos", count=3)
    decoded: list[str] = []
    real_open = streaming.open_video

    def counting_open(path, *args, **kwargs):
        decoded.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(streaming, "open_video", counting_open)
    code, output = evaluate("--videos", str(tmp_path / "videos"), "--dims",
                            "mean_brightness,temporal_flickering", "--out", str(tmp_path / "run"))
    assert code == 0, output
    assert len(decoded) == 3 and len(set(decoded)) == 3


# -- resume ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_interrupted_halfway_resumes_redoing_only_unfinished_pairs(plugins, tmp_path, monkeypatch) -> None:
    videos = tmp_path / "videos"
    clip_folder(videos, count=6)
    dims = "mean_brightness,temporal_flickering"
    code, output = evaluate("--videos", str(videos), "--dims", dims, "--out", str(tmp_path / "whole"))
    assert code == 0, output
    CALLS.clear()

    real_record = ResultStore.record_video
    recorded = []

    def crash_after_three(self, run_id, video, scores):
        if len(recorded) == 3:
            raise KeyboardInterrupt  # what Ctrl-C or a kill does between two commits
        recorded.append(video.video_key)
        return real_record(self, run_id, video, scores)

    monkeypatch.setattr(ResultStore, "record_video", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        runner.evaluate(runner.EvaluateOptions(out=tmp_path / "run", dims=dims, videos=videos,
                                               videos_per_batch=1))
    monkeypatch.setattr(ResultStore, "record_video", real_record)
    first_pass = {path for _, path in CALLS}
    CALLS.clear()

    code, output = evaluate("--videos", str(videos), "--dims", dims, "--out", str(tmp_path / "run"), "--resume")
    assert code == 0, output
    redone = {path for _, path in CALLS}
    finished = {str(videos / key) for key in recorded}
    assert len(finished) == 3
    assert redone.isdisjoint(finished)  # nothing committed was scored again
    assert redone | finished == {str(p) for p in videos.iterdir()}
    assert first_pass >= finished
    assert eval_results(tmp_path / "run") == eval_results(tmp_path / "whole")


@pytest.mark.slow
def test_a_killed_process_resumes_to_the_same_results(tmp_path) -> None:
    """A real SIGKILL in the middle of a real run, then `--resume`."""
    videos = tmp_path / "videos"
    videos.mkdir()
    frames, fps = sample_frames("bigbuckbunny")
    for i in range(8):
        write_mp4(videos / f"bunny-{i}.mp4", np.ascontiguousarray(frames[i : i + 60]), fps)
    env = {**os.environ, "VBL_DB": f"sqlite:///{tmp_path / 'vbl.db'}"}
    command = [sys.executable, "-m", "vbench_lite.cli", "evaluate", "--videos", str(videos),
               "--dims", "temporal_flickering", "--videos-per-batch", "1"]
    process = subprocess.Popen([*command, "--out", str(tmp_path / "run")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = ResultStore(env["VBL_DB"])
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        run_ids = store.run_ids()
        if run_ids and 1 <= len(store.finished_pairs(run_ids[0])) < 8:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done_before = len(store.finished_pairs(store.run_ids()[0]))
    assert 1 <= done_before < 8

    resumed = subprocess.run([*command, "--out", str(tmp_path / "run"), "--resume"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    whole = subprocess.run([*command, "--out", str(tmp_path / "whole")], env=env,
                           capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    assert eval_results(tmp_path / "run") == eval_results(tmp_path / "whole")
    assert len(store.finished_pairs(store.run_ids()[0])) == 8


def test_resume_with_other_settings_is_refused(tmp_path) -> None:
    clip_folder(tmp_path / "videos", count=2)
    args = ["--videos", str(tmp_path / "videos"), "--out", str(tmp_path / "run")]
    assert evaluate(*args, "--dims", "temporal_flickering")[0] == 0
    code, output = evaluate(*args, "--dims", "temporal_flickering")
    assert code == 2 and "--resume" in output
    code, output = evaluate(*args, "--dims", "temporal_flickering", "--seed", "3", "--resume")
    assert code == 2 and "seed" in output


# -- prompts ---------------------------------------------------------------------------------


def test_custom_input_takes_the_prompt_from_the_file_name(tmp_path) -> None:
    clip_folder(tmp_path / "videos", count=2)
    code, output = evaluate("--videos", str(tmp_path / "videos"), "--dims", "temporal_flickering",
                            "--out", str(tmp_path / "run"))
    assert code == 0, output
    scores = pd.read_parquet(tmp_path / "run" / "scores.parquet")
    assert sorted(scores["prompt"]) == ["a clip of bigbuckbunny", "a clip of bikes"]
    assert sorted(scores["sample_index"]) == [0, 1]


def test_custom_input_takes_prompts_from_a_json_file(tmp_path) -> None:
    paths = clip_folder(tmp_path / "videos", count=2)
    prompt_file = tmp_path / "prompts.json"
    prompt_file.write_text(json.dumps({paths[0].name: "a rabbit in a meadow",
                                       str(paths[1]): "cyclists on a road"}))
    code, output = evaluate("--videos", str(tmp_path / "videos"), "--dims", "temporal_flickering",
                            "--prompt-file", str(prompt_file), "--out", str(tmp_path / "run"))
    assert code == 0, output
    scores = pd.read_parquet(tmp_path / "run" / "scores.parquet")
    assert sorted(scores["prompt"]) == ["a rabbit in a meadow", "cyclists on a road"]


def test_standard_mode_scores_each_dimension_on_its_own_prompts(plugins, tmp_path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: t\nversion: '1'\nsamples_per_prompt: 2\nprompts:\n"
        "  - {prompt: a still lake, dimensions: [temporal_flickering]}\n"
        "  - {prompt: a running dog, dimensions: [mean_brightness]}\n"
        "  - {prompt: a painted harbour, dimensions: [needs_style], aux: {appearance_style: oil painting}}\n"
    )
    videos = tmp_path / "videos"
    videos.mkdir()
    for prompt in ("a still lake", "a running dog", "a painted harbour"):
        for i in range(2):
            cut_clip("carphone_pristine", videos / f"{prompt}-{i}.mp4", frames=10, start=i)
    code, output = evaluate("--videos", str(videos), "--prompts", str(suite), "--dims",
                            "temporal_flickering,mean_brightness,needs_style", "--out", str(tmp_path / "run"))
    assert code == 0, output
    scores = pd.read_parquet(tmp_path / "run" / "scores.parquet")
    by_dim = scores.groupby("dimension")["prompt"].apply(set).to_dict()
    assert by_dim == {"temporal_flickering": {"a still lake"}, "mean_brightness": {"a running dog"},
                      "needs_style": {"a painted harbour"}}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["prompt_suite"]["name"] == "t" and len(manifest["prompt_suite"]["sha256"]) == 64


def test_a_dimension_needing_aux_info_skips_videos_without_it_with_a_reason(plugins, tmp_path) -> None:
    clip_folder(tmp_path / "videos", count=2)
    code, output = evaluate("--videos", str(tmp_path / "videos"), "--dims", "needs_style,temporal_flickering",
                            "--out", str(tmp_path / "run"))
    assert code == 0, output
    scores = pd.read_parquet(tmp_path / "run" / "scores.parquet")
    skipped = scores[scores["dimension"] == "needs_style"]
    assert (skipped["status"] == "skipped").all()
    assert skipped["error"].str.contains("appearance_style").all()


def test_folder_generator_feeds_existing_files_through_the_generation_path(tmp_path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: t\nversion: '1'\nsamples_per_prompt: 2\nprompts:\n"
                     "  - {prompt: a still lake, dimensions: [temporal_flickering]}\n")
    made = tmp_path / "made"
    made.mkdir()
    for i in range(2):
        cut_clip("bikes", made / f"a still lake-{i}.mp4", frames=10, start=3 * i)
    code, output = evaluate("--model", "folder", "--weights", str(made), "--prompts", str(suite),
                            "--dims", "temporal_flickering", "--out", str(tmp_path / "run"))
    assert code == 0, output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["name"] == "folder"
    assert len(manifest["seeds"]) == 2
    assert len(eval_results(tmp_path / "run")["temporal_flickering"][1]) == 2


def test_manifest_records_provenance(tmp_path) -> None:
    clip_folder(tmp_path / "videos", count=1)
    assert evaluate("--videos", str(tmp_path / "videos"), "--dims", "temporal_flickering",
                    "--out", str(tmp_path / "run"), "--name", "team-model", "--revision", "ckpt-1000")[0] == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["name"] == "team-model" and manifest["model"]["revision"] == "ckpt-1000"
    assert manifest["status"] == "complete"
    assert manifest["vbl"]["version"]
    assert len(manifest["config_hash"]) == 64
    assert manifest["dimensions"]["temporal_flickering"] == {
        "version": "1", "backend": "vbench", "weights_sha256": None, "group": "quality", "value_scale": 1.0}
    assert manifest["environment"]["torch"] and manifest["environment"]["device"] == "cpu"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["quality"] is None and "subject_consistency" in summary["missing"]["quality"]


# -- generation ------------------------------------------------------------------------------

GENERATED: list[str] = []


class SlidingSquare(Generator):
    """Test generator: a square that slides with a speed drawn from the request's seed."""

    name: ClassVar[str] = "sliding-square"
    licence: ClassVar[str] = "Test-NonCommercial"
    licence_needs_acceptance: ClassVar[bool] = True

    def load(self, device, dtype, weights) -> None:
        self.loaded = True

    def generate(self, requests: list[GenerationRequest]) -> list[GeneratedVideo]:
        results = []
        for request in requests:
            speed = 1 + np.random.default_rng(request.seed).integers(0, 4)
            frames = np.zeros((9, 64, 64, 3), np.uint8)
            for t in range(9):
                frames[t, 20:36, 4 + speed * t : 20 + speed * t] = 200
            write_mp4(request.out_path, frames, 8)
            GENERATED.append(request.prompt)
            results.append(GeneratedVideo(request=request, path=request.out_path, fps=8, num_frames=9,
                                          params={"speed": int(speed)}))
        return results


@pytest.fixture
def square_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    real = registry._entry_points
    point = EntryPoint("sliding-square", f"{__name__}:SlidingSquare", registry.GENERATORS_GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda group: {
        **real(group), **({"sliding-square": point} if group == registry.GENERATORS_GROUP else {})})
    GENERATED.clear()


def test_a_model_with_a_restrictive_licence_needs_accept_license(square_generator, tmp_path) -> None:
    code, output = evaluate("--model", "sliding-square", "--dims", "temporal_flickering", "--out", str(tmp_path / "r"))
    assert code == 2 and "--accept-license sliding-square" in output and "Test-NonCommercial" in output
    assert GENERATED == []


def test_generate_then_evaluate_resume_scores_without_regenerating(square_generator, tmp_path) -> None:
    flags = ["--model", "sliding-square", "--accept-license", "sliding-square", "--dims", "temporal_flickering",
             "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, ["generate", *flags])
    assert result.exit_code == 0, result.output
    made = sorted((tmp_path / "run" / "videos").glob("*.mp4"))
    assert len(made) == len(GENERATED) >= 10  # vbl-mini: ≥5 temporal-flickering prompts × 2 samples
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert len(manifest["seeds"]) == len(made) and len(set(manifest["seeds"].values())) == len(made)
    assert all("speed" in g["params"] for g in manifest["generation"].values())

    GENERATED.clear()
    code, output = evaluate(*flags, "--resume")
    assert code == 0, output
    assert GENERATED == []  # nothing regenerated
    results = eval_results(tmp_path / "run")["temporal_flickering"][1]
    assert len(results) == len(made)
    assert all(r["video_results"] < 1.0 for r in results)  # the squares move: frames differ


class ExactOrClassical(Dimension):
    """Test plugin whose VBench-exact backend needs a weight file that is not on the machine."""

    name: ClassVar[str] = "exact_or_classical"
    version: ClassVar[str] = "1"
    group: ClassVar = "extra"
    backends: ClassVar[tuple[str, ...]] = ("vbench", "classical")

    def weights(self):
        from vbench_lite.weights import WeightSpec

        return [WeightSpec(key="x", file="exact-net.pth", backend="vbench", vbench_subdir="exact_model")]

    def setup(self) -> None:
        from vbench_lite.weights import require_weight

        self.backend = self.resolve_backend()
        if self.backend == "vbench":
            require_weight(self.weights()[0], self.context.weights_dir)

    def score_batch(self, videos):
        return [VideoScore(0.5) for _ in videos]


def test_a_missing_weight_file_is_one_line_and_the_other_dimensions_still_run(monkeypatch, tmp_path) -> None:
    real = registry._entry_points
    point = EntryPoint("exact_or_classical", f"{__name__}:ExactOrClassical", registry.DIMENSIONS_GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda group: {
        **real(group), **({"exact_or_classical": point} if group == registry.DIMENSIONS_GROUP else {})})
    clip_folder(tmp_path / "videos", count=2)
    args = ["--videos", str(tmp_path / "videos"), "--dims", "exact_or_classical,temporal_flickering"]
    code, output = evaluate(*args, "--backend", "vbench", "--out", str(tmp_path / "exact"))
    assert code == 1
    lines = [line for line in output.splitlines() if "exact-net.pth" in line]
    assert lines and "exact_model" in lines[0] and "--backend embedded" in lines[0]
    assert "Traceback" not in output
    assert len(eval_results(tmp_path / "exact")["temporal_flickering"][1]) == 2  # nothing lost

    code, output = evaluate(*args, "--out", str(tmp_path / "auto"))  # auto: falls back, says so
    assert code == 0, output
    assert "exact_or_classical: backend classical" in output


def test_available_leaves_out_image_dimensions_for_a_folder_without_images(tmp_path) -> None:
    from vbench_lite.runner import EvaluateOptions, available_dimensions

    folder = EvaluateOptions(out=tmp_path / "run", dims="available", videos=tmp_path, backend="embedded")
    with_images = EvaluateOptions(out=tmp_path / "run", dims="available", videos=tmp_path, images=tmp_path,
                                  backend="embedded")
    plain = available_dimensions(folder)
    assert "i2v_subject" not in plain and "i2v_background" not in plain
    assert {"temporal_flickering", "subject_consistency", "camera_motion"} <= set(plain)
    assert {"i2v_subject", "i2v_background"} <= set(available_dimensions(with_images))
