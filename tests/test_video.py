"""Video I/O: one decode to uint8 RGB frames that match VBench's readers, the samplers, the writer,
and a one-line reason for every video that cannot be scored."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clips import SAMPLES, cut_clip, sample_frames, sample_path
from PIL import Image

from vbench_lite.errors import VideoUnreadable
from vbench_lite.video import decode_video, fps_interval, middle_indices, write_mp4


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_decord_and_pyav_decode_identical_frames(name: str) -> None:
    pytest.importorskip("decord")
    by_decord, fps_decord = decode_video(sample_path(name), backend="decord")
    by_pyav, fps_pyav = decode_video(sample_path(name), backend="pyav")
    assert by_decord.dtype == np.uint8 and by_decord.shape[-1] == 3
    assert by_decord.shape == by_pyav.shape
    assert np.array_equal(by_decord, by_pyav)
    assert fps_decord == pytest.approx(fps_pyav, rel=1e-6)


@pytest.mark.slow
def test_decode_matches_opencv_reader_that_vbench_uses_for_temporal_dimensions() -> None:
    import cv2

    ours, _ = decode_video(sample_path("bikes"))
    capture = cv2.VideoCapture(str(sample_path("bikes")))
    theirs = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        theirs.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    assert np.array_equal(ours, np.stack(theirs))


def test_shipped_samples_have_documented_shapes() -> None:
    frames, fps = sample_frames("carphone_pristine")
    assert frames.shape == (120, 144, 176, 3)
    assert fps == pytest.approx(29.97, abs=0.01)


@pytest.mark.parametrize(
    ("length", "k", "expected"),
    [
        (16, 8, [0, 2, 4, 6, 8, 10, 12, 14]),
        (17, 8, [0, 2, 4, 6, 8, 10, 12, 15]),
        (100, 4, [12, 37, 62, 87]),
        (5, 8, [0, 1, 2, 3, 4, 4, 4, 4]),  # fewer frames than k: padded with the last index
    ],
)
def test_middle_sampler_picks_segment_centres_like_vbench(length: int, k: int, expected: list[int]) -> None:
    assert middle_indices(length, k) == expected


@pytest.mark.fidelity
def test_middle_sampler_agrees_with_vbench_get_frame_indices() -> None:
    utils = pytest.importorskip("vbench.utils")
    for length in (1, 3, 8, 16, 33, 49, 129):
        for k in (8, 16):
            theirs = utils.get_frame_indices(k, length, sample="middle")
            assert middle_indices(length, k) == list(theirs), (length, k)


@pytest.mark.parametrize(("fps", "interval"), [(8, 1), (10, 1), (24, 3), (25, 3), (30, 4), (60, 8), (4, 1)])
def test_fps_interval_brings_frame_rate_near_8(fps: float, interval: int) -> None:
    assert fps_interval(fps, 8) == interval


def test_write_mp4_round_trips_frame_count_size_and_content(tmp_path) -> None:
    frames, fps = sample_frames("carphone_pristine")
    path = write_mp4(tmp_path / "out.mp4", np.ascontiguousarray(frames[:17]), fps)
    decoded, decoded_fps = decode_video(path)
    assert decoded.shape == (17, 144, 176, 3)
    assert decoded_fps == pytest.approx(fps, rel=1e-3)
    # h264 at crf 18 is lossy but close: mean absolute error of a few grey levels
    assert np.abs(decoded.astype(int) - frames[:17]).mean() < 3.0
    assert not (tmp_path / "out.mp4.part").exists()


def test_gif_and_frame_folder_decode_to_the_same_layout(tmp_path) -> None:
    frames, _ = sample_frames("carphone_pristine")
    images = [Image.fromarray(f) for f in frames[:6]]
    images[0].save(tmp_path / "clip.gif", save_all=True, append_images=images[1:], duration=100)
    gif, gif_fps = decode_video(tmp_path / "clip.gif")
    assert gif.shape == (6, 144, 176, 3) and gif_fps == pytest.approx(10.0)

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(images):
        image.save(folder / f"{i:04d}.png")
    (folder / "fps.json").write_text(json.dumps({"fps": 12}))
    from_folder, folder_fps = decode_video(folder)
    assert np.array_equal(from_folder, frames[:6]) and folder_fps == 12.0


def test_truncated_mp4_decodes_what_is_there_or_fails_with_a_reason(tmp_path) -> None:
    whole = cut_clip("bikes", tmp_path / "whole.mp4", frames=30)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoUnreadable) as info:
        decode_video(cut)
    assert "\n" not in str(info.value) and str(info.value)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"this is a text file, not a video\n" * 10, "not a readable video"), (b"", "not a readable video")],
)
def test_non_video_file_is_refused_with_one_line(tmp_path, content: bytes, reason: str) -> None:
    path = tmp_path / "fake.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoUnreadable, match=reason):
        decode_video(path)


def test_single_frame_video_is_refused(tmp_path) -> None:
    frames, fps = sample_frames("carphone_pristine")
    path = write_mp4(tmp_path / "one.mp4", np.ascontiguousarray(frames[:1]), fps)
    with pytest.raises(VideoUnreadable, match="1 frame"):
        decode_video(path)


def test_4k_frames_are_refused_before_decoding_with_a_downscale_hint(tmp_path) -> None:
    frame = np.zeros((2, 2160, 3840, 3), np.uint8)
    path = write_mp4(tmp_path / "uhd.mp4", frame, 8)
    with pytest.raises(VideoUnreadable, match="3840x2160.*downscale"):
        decode_video(path)


@pytest.mark.parametrize("kind", ["mp4", "gif", "frame folder"])
def test_frames_above_the_limit_are_refused_from_the_headers_in_every_input_kind(tmp_path, kind: str) -> None:
    from vbench_lite.decode import open_video

    frames = np.zeros((2, 1500, 2600, 3), np.uint8)  # 3.9 MP: above 2560x1440 (3.7 MP)
    if kind == "mp4":
        path = write_mp4(tmp_path / "big.mp4", frames, 8)
    elif kind == "gif":
        path = tmp_path / "big.gif"
        Image.fromarray(frames[0]).save(path, save_all=True, append_images=[Image.fromarray(frames[1])])
    else:
        path = tmp_path / "big"
        path.mkdir()
        for index, frame in enumerate(frames):
            Image.fromarray(frame).save(path / f"{index:03d}.png")
    with pytest.raises(VideoUnreadable, match="2600x1500 is above the 2560x1440 limit") as refused:
        open_video(path)  # opening reads headers only: no frame is decoded before the refusal
    assert "\n" not in str(refused.value)
