"""Bad input: a command-level mistake is one line and a non-zero exit, never a traceback; a bad
video is a stored failed row with its reason, and the rest of the run goes on."""

from __future__ import annotations

import json
import socket

import numpy as np
import pandas as pd
import pytest
from clips import clip_folder, sample_frames
from typer.testing import CliRunner

from vbench_lite.cli import app
from vbench_lite.video import write_mp4


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# -- command-level mistakes ------------------------------------------------------------------


def test_a_video_path_that_does_not_exist(tmp_path) -> None:
    result = run("evaluate", "--videos", str(tmp_path / "nope"), "--dims", "temporal_flickering",
                 "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "does not exist", "--videos")


def test_an_empty_folder(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    result = run("evaluate", "--videos", str(tmp_path / "empty"), "--dims", "temporal_flickering",
                 "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "no videos in", ".mp4")


@pytest.mark.slow
def test_an_unknown_dimension(tmp_path) -> None:
    clip_folder(tmp_path / "videos", count=1)
    result = run("evaluate", "--videos", str(tmp_path / "videos"), "--dims", "temporal_flickering,sharpness",
                 "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "unknown dimension 'sharpness'", "temporal_flickering", "vbl dims")
    assert not (tmp_path / "run").exists()  # nothing started


def test_an_unknown_model(tmp_path) -> None:
    result = run("evaluate", "--model", "sora-9000", "--dims", "temporal_flickering",
                 "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "unknown model 'sora-9000'", "vbl models")


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("suite.yaml", "prompts: [unclosed\n", "suite.yaml"),
        ("suite.yaml", "name: x\nprompts:\n  - {dimensions: [temporal_flickering]}\n", "suite.yaml"),
        ("VBench_full_info.json", "{not json", "VBench_full_info.json"),
        ("missing.yaml", None, "missing.yaml"),
    ],
)
def test_a_malformed_prompts_file(tmp_path, name: str, content: str | None, fragment: str) -> None:
    clip_folder(tmp_path / "videos", count=1)
    if content is not None:
        (tmp_path / name).write_text(content)
    result = run("evaluate", "--videos", str(tmp_path / "videos"), "--prompts", str(tmp_path / name),
                 "--dims", "temporal_flickering", "--out", str(tmp_path / "run"))
    assert_one_line_error(result, fragment)


def test_a_malformed_prompt_json_for_custom_input(tmp_path) -> None:
    clip_folder(tmp_path / "videos", count=2)
    (tmp_path / "p.json").write_text(json.dumps({"a clip of bikes-1.mp4": "bikes"}))
    result = run("evaluate", "--videos", str(tmp_path / "videos"), "--prompt-file", str(tmp_path / "p.json"),
                 "--dims", "temporal_flickering", "--out", str(tmp_path / "run"))
    assert_one_line_error(result, "no prompt for 1 video", "bigbuckbunny")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_a_store_url_that_cannot_be_reached(tmp_path, kind: str) -> None:
    clip_folder(tmp_path / "videos", count=1)
    url = (f"postgresql+psycopg://vbl@127.0.0.1:{_closed_port()}/vbl" if kind == "postgres"
           else "sqlite:////proc/no-such-place/vbl.db")
    result = run("evaluate", "--videos", str(tmp_path / "videos"), "--dims", "temporal_flickering",
                 "--out", str(tmp_path / "run"), "--db", url)
    assert_one_line_error(result, "cannot open results store", "--db")


def test_a_bad_backend_choice(tmp_path) -> None:
    result = run("evaluate", "--videos", str(tmp_path), "--dims", "temporal_flickering",
                 "--out", str(tmp_path / "run"), "--backend", "fast")
    assert_one_line_error(result, "--backend must be")


# -- per-video failures ----------------------------------------------------------------------


@pytest.fixture
def folder_with_bad_videos(tmp_path):
    folder = tmp_path / "videos"
    good = clip_folder(folder, count=2)
    frames, fps = sample_frames("carphone_pristine")
    whole = write_mp4(tmp_path / "whole.mp4", np.ascontiguousarray(frames[:40]), fps).read_bytes()
    (folder / "corrupt-0.mp4").write_bytes(whole[:48] + bytes(len(whole) - 48))  # header kept, body zeroed
    (folder / "truncated-0.mp4").write_bytes(whole[: len(whole) // 3])
    (folder / "text-0.mp4").write_text("not a video at all\n")
    write_mp4(folder / "single-0.mp4", np.ascontiguousarray(frames[:1]), fps)
    (folder / "empty-0.mp4").write_bytes(b"")
    write_mp4(folder / "uhd-0.mp4", np.zeros((2, 2160, 3840, 3), np.uint8), 8)
    return folder, good


def test_bad_videos_become_failed_rows_and_the_run_goes_on(folder_with_bad_videos, tmp_path) -> None:
    folder, good = folder_with_bad_videos
    result = run("evaluate", "--videos", str(folder), "--dims", "temporal_flickering", "--out", str(tmp_path / "run"))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "6 video(s) failed" in result.output
    scores = pd.read_parquet(tmp_path / "run" / "scores.parquet")
    by_key = scores.set_index("video_key")
    assert set(by_key.loc[[p.name for p in good], "status"]) == {"ok"}
    failed = by_key[by_key["status"] == "failed"]
    assert set(failed.index) == {"corrupt-0.mp4", "truncated-0.mp4", "text-0.mp4", "single-0.mp4",
                                 "empty-0.mp4", "uhd-0.mp4"}
    assert "1 frame" in failed.loc["single-0.mp4", "error"]
    assert "downscale" in failed.loc["uhd-0.mp4", "error"]
    assert "not a readable video" in failed.loc["text-0.mp4", "error"]
    assert all("\n" not in e and e for e in failed["error"])
    # finished work is kept and aggregated over the good videos only
    results = json.loads((tmp_path / "run" / "eval_results.json").read_text())
    assert len(results["temporal_flickering"][1]) == 2
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["failed_videos"] == 6 and summary["videos"] == 8


def test_resume_retries_videos_that_failed_and_reports_them_again(folder_with_bad_videos, tmp_path) -> None:
    folder, _ = folder_with_bad_videos
    args = ["evaluate", "--videos", str(folder), "--dims", "temporal_flickering", "--out", str(tmp_path / "run")]
    assert run(*args).exit_code == 1
    for extra in ([], ["--keep-failed"]):  # retried (and failing again), or kept as they are
        again = run(*args, "--resume", *extra)
        assert again.exit_code == 1 and "Traceback" not in again.output
        assert "6 video(s) failed" in again.output
