"""camera_motion: the prompt phrase, VBench's pan/tilt/zoom/static rules on hand-built tracks, and the
embedded Lucas–Kanade backend end to end on real footage (a still clip, a window sliding over a frame)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from clips import sample_frames
from typer.testing import CliRunner

from vbench_lite.cli import app
from vbench_lite.dimension import ScoringContext, VideoScore
from vbench_lite.dimensions.backbones.lk_tracker import grid_in_video, track_grid_lk
from vbench_lite.dimensions.camera_motion import (
    CAMERA_PHRASES,
    GRID_SIZE,
    CameraMotion,
    camera_type,
    classify,
    per_type_means,
)
from vbench_lite.video import Video, write_mp4

HEIGHT, WIDTH = 144, 176  # threshold 0.005 · 144 = 0.72 px


def grid_tracks(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    return grid_in_video(GRID_SIZE, height, width).astype(np.float64).reshape(GRID_SIZE, GRID_SIZE, 2)


def predicted(first: np.ndarray, last: np.ndarray, height: int = HEIGHT, width: int = WIDTH) -> list[str]:
    """What the dimension predicts from float tracks: VBench truncates them toward zero first."""
    return classify(np.trunc(first).astype(np.int64), np.trunc(last).astype(np.int64), height, width)[0]


def moved(shift=(0.0, 0.0), scale: float = 1.0, centre=None) -> tuple[np.ndarray, np.ndarray]:
    """First and last grid positions when the content shifts by `shift` and scales about `centre`
    (default: grid point (5, 5), the point the four edge midpoints line up with)."""
    first = grid_tracks()
    centre = first[5, 5] if centre is None else np.array(centre)
    return first, (first - centre) * scale + centre + np.array(shift)


# -- the prompt phrase --------------------------------------------------------------------------

@pytest.mark.parametrize("prompt,expected", [
    ("a lighthouse on a cliff, camera pans left", "pan_left"),
    ("a lighthouse on a cliff, camera pans right", "pan_right"),
    ("a canyon, camera tilts up", "tilt_up"),
    ("a canyon, camera tilts down", "tilt_down"),
    ("a city at night, camera zooms in", "zoom_in"),
    ("a city at night, camera zooms out", "zoom_out"),
    ("a quiet harbour, camera static", "static"),
    ("camera pans right then camera pans left", "pan_left"),  # VBench checks "pans left" first
    ("a lighthouse, Camera pans left", None),  # case-sensitive, as VBench's `in`
    ("a lighthouse, pan left", None),  # temporal_style's phrase is not a camera_motion phrase
])
def test_the_target_is_the_first_camera_phrase_in_vbench_order(prompt, expected):
    assert camera_type(prompt) == expected


def test_a_video_without_camera_phrase_is_skipped_and_the_file_name_stands_in_for_a_missing_prompt():
    dimension = CameraMotion(ScoringContext(backend="embedded"))
    dimension.setup()
    still = np.repeat(sample_frames("carphone_pristine")[0][:1], 3, axis=0)
    scores = dimension.score_batch([
        Video(frames=still, fps=25, path=Path("x-0.mp4"), prompt="a harbour at dawn"),
        Video(frames=still, fps=25, path=Path("a harbour, camera static-0.mp4"), prompt=""),
    ])
    assert scores[0].value is None and "names no camera motion" in scores[0].skipped
    assert scores[1].value == 1.0 and scores[1].extra["prompt_type"] == "static"


def test_vbl_mini_has_one_camera_motion_prompt_per_vbench_phrase_each_with_an_image():
    from vbench_lite.prompts.suite import load_suite

    entries = load_suite("vbl-mini").for_dimensions(["camera_motion"])
    assert sorted(camera_type(e.prompt) for e in entries) == sorted(CAMERA_PHRASES.values())
    assert all(e.image and e.image.endswith("bigbuckbunny-frame0.jpg") for e in entries)


# -- the rules on hand-built tracks -----------------------------------------------------------------

@pytest.mark.parametrize("shift,scale,expected", [
    ((-3, 0), 1.0, ["pan_right"]),  # content moves left: the camera pans right
    ((3, 0), 1.0, ["pan_left"]),
    ((0, 3), 1.0, ["tilt_up"]),  # content moves down: the camera tilts up
    ((0, -3), 1.0, ["tilt_down"]),
    ((0, 0), 1.1, ["zoom_in"]),  # edges move outwards
    ((0, 0), 0.9, ["zoom_out"]),
    ((0, 0), 1.0, ["static"]),
    ((-3, -3), 1.0, ["pan_right", "tilt_down"]),  # both words fire on every edge
])
def test_pan_tilt_zoom_and_static(shift, scale, expected):
    assert predicted(*moved(shift, scale)) == expected


def test_a_zoom_about_the_frame_centre_also_reads_as_pan_and_tilt_on_a_small_frame():
    # VBench's edge "midpoints" are grid row/column 5 of 0…9, half a grid step right of and below the
    # frame centre, so a zoom about the centre moves them sideways too (here 0.9 px > 0.72 px).
    assert predicted(*moved(scale=1.1, centre=(WIDTH / 2, HEIGHT / 2))) == ["pan_left", "tilt_up", "zoom_in"]


def test_the_threshold_is_strict_and_scales_with_the_shorter_side():
    first = np.zeros((GRID_SIZE, GRID_SIZE, 2), dtype=np.int64) + 50
    # 200×300: threshold 0.005·200 = 1.0; a 1-pixel move is not above it, a 2-pixel move is.
    assert classify(first, first + [1, 0], 200, 300)[0] == ["static"]
    assert classify(first, first + [2, 0], 200, 300)[0] == ["pan_left"]
    assert classify(first, first + [1, 0], 144, 300)[0] == ["pan_left"]  # 0.72 < 1


def test_tracks_are_truncated_toward_zero_before_comparing():
    first, last = grid_tracks(), grid_tracks()
    first[..., 0] = np.floor(first[..., 0]) + 0.05
    last[..., 0] = first[..., 0] + 0.9  # a 0.9 px move, inside the same integer: 0 after truncation
    assert predicted(first, last) == ["static"]
    first[..., 0], last[..., 0] = -0.5, 0.5  # trunc(−0.5) = 0 (floor would give −1 and a 1 px move)
    assert predicted(first, last) == ["static"]


def test_a_drift_across_an_integer_is_a_one_pixel_move_which_counts_on_frames_under_200_px():
    # VBench's truncation turns x 177.014 → 176.999 (a 0.015-px drift, as LK or CoTracker give on an
    # encoded still clip) into a 1-px move left; 0.005·min(H, W) < 1 below 200 px, so it fires there.
    first, last = grid_tracks(180, 320), grid_tracks(180, 320)
    first[0, 5, 0], last[0, 5, 0], first[9, 5, 0], last[9, 5, 0] = 177.014, 176.999, 177.014, 176.996
    assert predicted(first, last, 180, 320) == ["pan_right"]
    assert predicted(first, last, 288, 512) == ["static"]


def test_only_the_middle_point_of_each_edge_counts():
    first = grid_tracks()
    last = first.copy()
    last[1:9, 1:9] += 20  # every inner point moves far
    last[0, 0] -= 20  # and so do the corners
    assert predicted(first, last) == ["static"]


def test_an_unmatched_pair_gives_none_and_static_or_none_drop_out_beside_a_motion():
    first = grid_tracks()
    top_only = first.copy()
    top_only[0, 5] += [5, 0]  # top moves right, bottom stays: no rule; left and right stay: static
    assert predicted(first, top_only) == ["None"]  # {None, static} → static dropped first → {None}
    sides_pan = first.copy()
    sides_pan[5, 0] -= [5, 0]
    sides_pan[5, 9] -= [5, 0]  # left and right edges move left; top and bottom stay
    assert predicted(first, sides_pan) == ["pan_right"]  # {pan_right, static} → static dropped
    crossed = first.copy()
    crossed[0, 5] += [5, 0]
    crossed[5, 0] -= [5, 0]  # top right/bottom static → None; left left/right static → None
    assert predicted(first, crossed) == ["None"]


def test_opposite_edge_moves_are_zooms_on_both_axes():
    first = grid_tracks()
    vertical = first.copy()
    vertical[0, 5] -= [0, 5]
    vertical[9, 5] += [0, 5]  # top up, bottom down; sides static → {zoom_in, static} → zoom_in
    assert predicted(first, vertical) == ["zoom_in"]
    horizontal = first.copy()
    horizontal[5, 0] += [5, 0]
    horizontal[5, 9] -= [5, 0]  # left edge right, right edge left: the view shrinks
    assert predicted(first, horizontal) == ["zoom_out"]


def test_per_type_means_and_the_aggregate():
    scores = [VideoScore(1.0, {"prompt_type": "pan_left"}), VideoScore(0.0, {"prompt_type": "pan_left"}),
              VideoScore(1.0, {"prompt_type": "static"}), VideoScore(None, skipped="no phrase")]
    means = per_type_means(scores)
    assert means["pan_left"] == 0.5 and means["static"] == 1.0 and np.isnan(means["zoom_in"])
    assert CameraMotion(ScoringContext(backend="embedded")).aggregate(scores) == pytest.approx(2 / 3)


# -- end to end on real footage, embedded backend -------------------------------------------------

def still_frame() -> np.ndarray:
    return sample_frames("bigbuckbunny")[0][60]  # 720×1280


def window_path(frame: np.ndarray, boxes: list[tuple[int, int, int, int]], size=(512, 288)) -> np.ndarray:
    """A video made of crops (x, y, w, h) of one still frame, each resized to `size` (W, H).

    512×288: the threshold is 1.44 px, so a sub-pixel drift that crosses an integer (a 1-px move after
    truncation) does not count, as on VBench's own videos (test_a_drift_across_an_integer_…)."""
    return np.stack([cv2.resize(frame[y:y + h, x:x + w], size, interpolation=cv2.INTER_AREA)
                     for x, y, w, h in boxes])


def camera_videos() -> dict[str, np.ndarray]:
    """A still clip and four camera moves over one 1280×720 cartoon frame, 16 frames each."""
    frame = still_frame()
    count = 16
    return {
        "camera static": np.repeat(window_path(frame, [(400, 200, 512, 288)]), count, axis=0),
        "camera pans right": window_path(frame, [(300 + 6 * i, 200, 512, 288) for i in range(count)]),
        "camera pans left": window_path(frame, [(400 - 6 * i, 200, 512, 288) for i in range(count)]),
        "camera tilts down": window_path(frame, [(400, 150 + 5 * i, 512, 288) for i in range(count)]),
        "camera zooms in": window_path(frame, [(300 + 8 * i, 150 + round(4.5 * i), 640 - 16 * i, 360 - 9 * i)
                                               for i in range(count)]),
    }


@pytest.fixture(scope="module")
def camera_clips(tmp_path_factory) -> dict[str, Path]:
    """The camera videos as real mp4 files named `{prompt}-0.mp4`, VBench's layout."""
    folder = tmp_path_factory.mktemp("camera")
    return {phrase: write_mp4(folder / f"a cartoon meadow, {phrase}-0.mp4", frames, 25.0)
            for phrase, frames in camera_videos().items()}


def test_lucas_kanade_follows_a_horizontal_slide_pixel_for_pixel():
    frames = camera_videos()["camera pans right"]  # the window moves 6 px right per frame, unscaled
    tracks = track_grid_lk(frames, GRID_SIZE)
    motion = tracks[-1] - tracks[0]
    inner = motion.reshape(GRID_SIZE, GRID_SIZE, 2)[1:-1, 1:-1].reshape(-1, 2)
    assert np.median(inner[:, 0]) == pytest.approx(-6 * 15, abs=0.5)  # content moves left by 90 px
    assert np.median(np.abs(inner[:, 1])) < 1


def test_embedded_backend_end_to_end_through_the_cli(camera_clips, tmp_path):
    folder = next(iter(camera_clips.values())).parent
    result = CliRunner().invoke(app, ["evaluate", "--videos", str(folder), "--dims", "camera_motion",
                                      "--backend", "embedded", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "run" / "eval_results.json").read_text())["camera_motion"]
    by_type = {r["prompt_type"]: r for r in results[1]}
    assert set(by_type) == {"static", "pan_right", "pan_left", "tilt_down", "zoom_in"}
    for motion, record in by_type.items():
        if motion == "zoom_in":  # a zoom about the frame centre also moves the off-centre midpoints sideways
            assert record["predict_type"] == ["pan_left", "tilt_up", "zoom_in"], record
        else:
            assert record["predict_type"] == [motion], record
        assert record["video_results"] == 1.0 and record["tracker"] == "opencv-pyrlk"
    assert results[0] == 1.0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["dimensions"]["camera_motion"]["backend"] == "embedded"


def test_a_pan_prompt_on_a_still_clip_scores_zero():
    dimension = CameraMotion(ScoringContext(backend="embedded"))
    dimension.setup()
    frames = camera_videos()["camera static"]
    (score,) = dimension.score_batch([Video(frames=frames, fps=25, path=Path("v-0.mp4"),
                                            prompt="a cartoon meadow, camera pans left")])
    assert score.value == 0.0 and score.extra["predict_type"] == ["static"]
    assert score.extra["edge_displacements"]["top"] == [0.0, 0.0]
