"""CoTracker2: the released key layout, strict loading through the dimension, clear errors for wrong
files, where the file is looked for, and co-tracker's behaviour on videos too short for a window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from clips import sample_frames
from cotracker_weights import read_key_table, seeded_state, tiny_rows, write_cotracker2

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.cotracker import (
    CoTracker2,
    CoTracker2Config,
    GridTracker,
    grid_points,
    load_cotracker2_file,
    track_grid,
)
from vbench_lite.dimensions.camera_motion import CameraMotion
from vbench_lite.errors import VblError, WeightsMissing
from vbench_lite.video import Video

torch.set_num_threads(1)


def test_a_full_size_cotracker2_has_the_released_keys_shapes_and_dtypes():
    with torch.device("meta"):
        model = CoTracker2()
    ours = {key: (tuple(value.shape), str(value.dtype).removeprefix("torch.")) for key, value in
            model.state_dict().items()}
    released = {}
    for line in (Path(__file__).parent / "data" / "cotracker2_keys.tsv").read_text().splitlines():
        if not line.startswith("#"):
            key, shape, dtype = line.split("\t")
            released[key] = (tuple(int(n) for n in shape.split(",")), dtype)
    assert list(ours) == list(released)  # same keys, same order
    assert ours == released
    assert len(released) == 321 and released["pos_emb"][0] == (1, 456, 96, 128)


@pytest.mark.slow
def test_a_tiny_cotracker2_loads_strictly_through_the_dimension(weights_home):
    state = seeded_state(tiny_rows(), seed=1)
    path = write_cotracker2(weights_home, state)
    dimension = CameraMotion(ScoringContext(backend="auto"))
    dimension.setup()
    assert dimension.backend == "vbench" and dimension.weights_path == path
    loaded = dimension._model.state_dict()
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    assert dimension._model.config == CoTracker2Config(
        latent_dim=16, hidden_size=48, time_depth=2, space_depth=2, num_virtual_tracks=4, mlp_hidden=96,
        window_len=8, model_resolution=(64, 96))
    frames = sample_frames("carphone_pristine")[0][:10]
    (score,) = dimension.score_batch([Video(frames=frames, fps=25, path=Path("c-0.mp4"),
                                            prompt="a man on a phone, camera static")])
    assert score.extra["tracker"] == "cotracker2" and score.value in (0.0, 1.0)
    tracks = dimension.tracks(Video(frames=frames, fps=25, path=Path("c-0.mp4")))
    assert tracks.shape == (10, 100, 2) and np.isfinite(tracks).all()
    # frame 0 is the grid itself, laid out on the 64×96 model input and scaled to 176×144
    expected = grid_points(10, 64, 96).numpy() * np.array([175 / 95, 143 / 63], dtype=np.float32)
    np.testing.assert_allclose(tracks[0], expected, rtol=1e-6)


def test_co_trackers_own_checkpoint_wrapper_loads_too(tmp_path):
    state = seeded_state(tiny_rows())
    model = load_cotracker2_file(write_cotracker2(tmp_path, state, wrap=True))
    assert torch.equal(model.state_dict()["pos_emb"], state["pos_emb"])


def test_the_file_is_found_where_torch_hub_caches_it_for_vbench(weights_home, tmp_path):
    write_cotracker2(tmp_path / "torch" / "hub" / "checkpoints", seeded_state(tiny_rows()))
    dimension = CameraMotion(ScoringContext(backend="vbench"))
    dimension.setup()
    assert dimension.weights_path == tmp_path / "torch" / "hub" / "checkpoints" / "cotracker2.pth"


def test_a_missing_file_names_it_and_auto_falls_back_to_the_embedded_tracker(weights_home):
    with pytest.raises(WeightsMissing, match="cotracker2.pth"):
        CameraMotion(ScoringContext(backend="vbench")).setup()
    dimension = CameraMotion(ScoringContext(backend="auto"))
    dimension.setup()
    assert dimension.backend == "embedded" and dimension.weights_path is None


@pytest.mark.parametrize("change,message", [
    (lambda s: {**s, "corr_mlp.fc1.weight": torch.zeros(1)}, "is a CoTracker3 checkpoint"),
    (lambda s: {k: v for k, v in s.items() if k != "norm.bias"}, "1 keys missing (first: norm.bias)"),
    (lambda s: {**s, "extra.weight": torch.zeros(1)}, "1 unexpected keys (first: extra.weight)"),
    (lambda s: {**s, "norm.bias": torch.zeros(3)}, "1 tensors of the wrong shape (first: norm.bias)"),
    (lambda s: {"cls_token": torch.zeros(1, 1, 8)}, "is not a CoTracker2 checkpoint (no 'pos_emb')"),
])
def test_a_wrong_checkpoint_is_one_line_naming_what_is_wrong(tmp_path, change, message):
    path = write_cotracker2(tmp_path, change(seeded_state(tiny_rows())))
    with pytest.raises(VblError) as error:
        load_cotracker2_file(path)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert "cotracker2.pth (https://huggingface.co/facebook/cotracker" in str(error.value)


def test_videos_of_four_frames_or_fewer_get_co_trackers_zero_tracks():
    # co-tracker fits (T − 8 + 3) // 4 + 1 windows: none for T ≤ 4, so every track stays 0 after
    # frame 0 (which the predictor sets to the grid), and VBench reads a move toward the top left.
    with torch.device("meta"):
        model = CoTracker2(CoTracker2Config(latent_dim=16, hidden_size=48, time_depth=2, space_depth=2,
                                            num_virtual_tracks=4, mlp_hidden=96, model_resolution=(64, 96)))
    model.load_state_dict(seeded_state(tiny_rows()), assign=True)
    frames = sample_frames("carphone_pristine")[0]
    short = track_grid(model.eval(), frames[:4], 10)
    assert (short[1:] == 0).all() and (short[0] > 0).all()
    five = track_grid(model, frames[:5], 10)
    assert (five[1:] != 0).any()


def test_the_key_table_rebuilds_the_same_weights_every_time():
    rows = read_key_table()
    assert len(rows) == 321
    first, second = seeded_state(rows[:5]), seeded_state(rows[:5])
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(seeded_state(rows[:3], seed=1)[rows[2][0]], first[rows[2][0]])


@pytest.mark.parametrize("chunk", [1, 3, 7])
@pytest.mark.slow
def test_frames_fed_in_chunks_give_the_whole_videos_tracks_and_only_a_window_is_held(chunk):
    with torch.device("meta"):
        model = CoTracker2(CoTracker2Config(latent_dim=16, hidden_size=48, time_depth=2, space_depth=2,
                                            num_virtual_tracks=4, mlp_hidden=96, model_resolution=(64, 96)))
    model.load_state_dict(seeded_state(tiny_rows()), assign=True)
    frames = sample_frames("carphone_pristine")[0][:19]  # windows at 0, 4, 8, 12; the last one padded
    whole = track_grid(model.eval(), frames, 10)
    tracker = GridTracker(model, 10, *frames.shape[1:3])
    held = []
    for start in range(0, len(frames), chunk):
        tracker.feed(frames[start : start + chunk])
        held.append(len(tracker.online.pixels) + len(tracker.online.features))
    assert np.array_equal(tracker.finish(), whole)
    assert max(held) <= model.window_len + chunk
