"""Streaming decode and VBench-Long: memory that does not grow with length, with the same numbers.

- Scores do not depend on how a video is cut into decoded chunks (one frame at a time, or the
  default chunks), and equal the whole-video path (`score_batch` on all decoded frames).
- A damaged file whose header promises more frames than decode is sampled as a whole decode is.
- VBench-Long: clip boundaries follow VBench-Long's rule (the remainder as one more clip that
  overlaps the previous one), a long video's score is its clips' mean, and the dimension's score
  the plain mean over videos.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from clips import cut_clip, sample_frames
from typer.testing import CliRunner

from vbench_lite import decode
from vbench_lite.cli import app
from vbench_lite.dimension import Dimension, FrameNeeds, ScoringContext, VideoScore
from vbench_lite.executors.streaming import score_videos
from vbench_lite.long_video import LongMode, fixed_clips
from vbench_lite.registry import load_dimension_class
from vbench_lite.video import Video, decode_video, middle_indices
from vbench_lite.worklist import VideoItem

# Every dimension that runs on a fresh machine: the weight-free one and the embedded backends.
FRESH_DIMS = ",".join((
    "temporal_flickering", "subject_consistency", "background_consistency", "dynamic_degree", "motion_smoothness",
    "imaging_quality", "camera_motion",
))


def evaluate(videos: Path, out: Path, *extra: str) -> dict:
    result = CliRunner().invoke(app, ["evaluate", "--videos", str(videos), "--dims", FRESH_DIMS, "--backend",
                                      "embedded", "--out", str(out), "--db", f"sqlite:///{out}.db", *extra])
    assert result.exit_code == 0, result.output
    return json.loads((out / "eval_results.json").read_text())


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    cut_clip("bikes", folder / "bikes-0.mp4", frames=40, size=(160, 96))
    cut_clip("carphone_pristine", folder / "carphone, camera pans left-0.mp4", frames=33)
    return folder


@pytest.mark.slow
def test_scores_do_not_depend_on_the_decoded_chunks(videos: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    default = evaluate(videos, tmp_path / "default")
    monkeypatch.setattr(decode, "CHUNK_BYTES", 1)  # one frame per chunk
    single = evaluate(videos, tmp_path / "single")
    assert single == default  # bit for bit, extra keys included


@pytest.mark.slow
def test_streaming_equals_scoring_the_whole_decoded_video(videos: Path, tmp_path: Path) -> None:
    streamed = evaluate(videos, tmp_path / "run")
    context = ScoringContext(backend="embedded")
    for name in FRESH_DIMS.split(","):
        dimension = load_dimension_class(name)(context)
        dimension.setup()
        for entry in streamed[name][1]:
            frames, fps = decode_video(Path(entry["video_path"]))
            whole = dimension.frames.select(Video(frames=frames, fps=fps, path=Path(entry["video_path"])))
            (score,) = dimension.score_batch([whole])
            assert score.value == entry["video_results"], name


def test_a_file_that_decodes_fewer_frames_than_its_header_is_sampled_like_a_whole_decode(tmp_path: Path) -> None:
    import av

    frames, fps = sample_frames("bikes")
    whole = tmp_path / "whole.mp4"
    with av.open(str(whole), "w", format="mp4", options={"movflags": "faststart"}) as container:  # index first
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 68, "yuv420p"
        for frame in frames[:60, ::4, ::4]:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:68, :160]))))
        container.mux(stream.encode())
    damaged = tmp_path / "videos" / "damaged-0.mp4"
    damaged.parent.mkdir()
    damaged.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.6)])  # the index still says 60 frames
    reader = decode.open_video(damaged)
    decoded = np.concatenate(list(reader.chunks()))
    assert reader.info.num_frames == 60 and len(decoded) < 60
    seen: list[np.ndarray] = []

    class MiddleFrames(Dimension):
        name, version, group = "middle_frames", "1", "extra"
        frames = FrameNeeds("middle", count=8)

        def score_batch(self, videos: list[Video]) -> list[VideoScore]:
            seen.extend(v.frames for v in videos)
            return [VideoScore(1.0) for _ in videos]

    item = VideoItem(damaged.name, damaged, "damaged", "damaged", 0, None, ["middle_frames"])
    ((video, rows),) = score_videos([(item, ["middle_frames"])], {"middle_frames": MiddleFrames()}, 1)
    assert rows[0].status == "ok" and video.num_frames == len(decoded)
    np.testing.assert_array_equal(seen[0], decoded[middle_indices(len(decoded), 8)])


# -- VBench-Long -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frames", "length", "clips"),
    [
        (230, 50, [(0, 50), (50, 100), (100, 150), (150, 200), (180, 230)]),  # remainder: last 50, overlapping
        (250, 50, [(0, 50), (50, 100), (100, 150), (150, 200), (200, 250)]),  # exact: no extra clip
        (40, 50, [(0, 40)]),  # shorter than one clip: whole
        (50, 50, [(0, 50)]),
    ],
)
def test_clip_boundaries_follow_vbench_long(frames: int, length: int, clips: list[tuple[int, int]]) -> None:
    assert fixed_clips(0, frames, length) == clips


def test_clip_lengths_are_ten_seconds_for_three_dimensions_and_two_for_the_others() -> None:
    mode = LongMode()
    assert [mode.seconds(d) for d in ("human_action", "temporal_style", "overall_consistency")] == [10, 10, 10]
    assert mode.seconds("subject_consistency") == 2 and mode.seconds("temporal_flickering") == 2
    # int(fps) frames per second, as VBench-Long: 24.97 fps gives clips of 48 frames
    assert mode.clips("temporal_flickering", 100, 24.97, Path("x.mp4")) == [(0, 48), (48, 96), (52, 100)]


@pytest.mark.slow
def test_long_mode_scores_clips_and_averages_them_back(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    first = cut_clip("bikes", videos / "bikes-0.mp4", frames=230, size=(160, 96))  # 25 fps: 50-frame clips
    cut_clip("bigbuckbunny", videos / "bunny-0.mp4", frames=80, size=(160, 90))
    result = CliRunner().invoke(app, ["evaluate", "--videos", str(videos), "--dims", "temporal_flickering",
                                      "--out", str(tmp_path / "run"), "--db", f"sqlite:///{tmp_path}/db", "--long"])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "run" / "eval_results.json").read_text())["temporal_flickering"]
    per_video = {Path(e["video_path"]).name: e for e in results[1]}
    bikes = per_video["bikes-0.mp4"]
    assert [(c["start"], c["end"]) for c in bikes["clips"]] == [(0, 50), (50, 100), (100, 150), (150, 200),
                                                                   (180, 230)]
    frames, fps = decode_video(first)
    dimension = load_dimension_class("temporal_flickering")(ScoringContext())
    for clip in bikes["clips"]:
        (score,) = dimension.score_batch([Video(frames=frames[clip["start"]:clip["end"]], fps=fps, path=first)])
        assert clip["value"] == score.value
    assert bikes["video_results"] == pytest.approx(np.mean([c["value"] for c in bikes["clips"]]), abs=1e-15)
    assert [(c["start"], c["end"]) for c in per_video["bunny-0.mp4"]["clips"]] == [(0, 50), (30, 80)]
    assert results[0] == pytest.approx(np.mean([e["video_results"] for e in results[1]]), abs=1e-15)
