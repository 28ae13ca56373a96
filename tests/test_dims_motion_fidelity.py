"""dynamic_degree and motion_smoothness against VBench's own code (vbench 0.1.5), same weights.

VBench's `DynamicDegree` class (original RAFT on `raft-things.pth`) and the AMT-S path of
`MotionSmoothness` run on real mp4 clips; our dimensions load the same files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from clips import cut_clip, sample_frames
from tiny_dims1_models import write_tiny_amt, write_tiny_raft_things

from vbench_lite.dimension import ScoringContext
from vbench_lite.video import Video, decode_video, write_mp4

pytestmark = [pytest.mark.fidelity, pytest.mark.slow]  # RAFT and AMT-S on real clips, twice each
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    bikes, fps = sample_frames("bikes")
    return [
        cut_clip("carphone_pristine", folder / "carphone.mp4", frames=13),  # 29.97 fps: interval 4
        write_mp4(folder / "bikes16.mp4", bikes[40:50, :144, 100:292].copy(), 16.0),  # interval 2
    ]


def _videos(paths: list[Path]) -> list[Video]:
    return [Video(frames=frames, fps=fps, path=path) for path in paths for frames, fps in [decode_video(path)]]


def test_dynamic_degree_equals_vbench(tmp_path, clips):
    vbench_dynamic = pytest.importorskip("vbench.dynamic_degree")
    from easydict import EasyDict

    from vbench_lite.dimensions.dynamic_degree import DynamicDegree

    path = write_tiny_raft_things(tmp_path)
    reference = vbench_dynamic.DynamicDegree(
        EasyDict(model=str(path), small=False, mixed_precision=False, alternate_corr=False), "cpu"
    )
    recorded: list[tuple[list[float], dict]] = []  # VBench's pair scores and (τ, c) per video
    check_move = reference.check_move
    reference.check_move = lambda scores: recorded.append((list(scores), dict(reference.params))) or check_move(scores)
    expected = [reference.infer(str(p)) for p in clips]

    for all_pairs in (True, False):  # every pair's score, or only those that decide
        dimension = DynamicDegree(
            ScoringContext(backend="vbench", weights_dir=tmp_path, options={"dynamic_degree.all_pairs": all_pairs})
        )
        dimension.setup()
        ours = dimension.score_batch(_videos(clips))
        assert [s.value for s in ours] == expected
        for score, (reference_scores, params) in zip(ours, recorded, strict=True):
            if all_pairs:
                assert len(score.extra["pair_scores"]) == len(reference_scores)
            assert score.extra["pair_scores"] == pytest.approx(
                reference_scores[: len(score.extra["pair_scores"])], rel=1e-4, abs=1e-4
            )
            assert score.extra["threshold"] == params["thres"]
            assert score.extra["required_pairs"] == params["count_num"]


def test_motion_smoothness_amt_equals_vbench(tmp_path, clips):
    vbench_motion = pytest.importorskip("vbench.motion_smoothness")
    from vbench_lite.dimensions.motion_smoothness import MotionSmoothness

    path, _ = write_tiny_amt(tmp_path)
    config = Path(vbench_motion.__file__).parent / "third_party" / "amt" / "cfgs" / "AMT-S.yaml"
    reference = vbench_motion.MotionSmoothness(str(config), str(path), "cpu")
    expected = [reference.motion_score(str(p)) for p in clips]

    dimension = MotionSmoothness(ScoringContext(backend="vbench", weights_dir=tmp_path))
    dimension.setup()
    ours = dimension.score_batch(_videos(clips))
    for score, value in zip(ours, expected, strict=True):
        assert score.value == pytest.approx(value, abs=1e-4)
    assert min(expected) < 0.99  # a random interpolator is visibly imperfect: a real comparison
