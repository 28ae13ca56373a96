"""The Dimension contract's shared rules: frame selection and `--backend auto|vbench|embedded`."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from vbench_lite.dimension import Dimension, FrameNeeds, ScoringContext, VideoScore, pair_weighted_mean
from vbench_lite.errors import VblError
from vbench_lite.video import Video
from vbench_lite.weights import WeightSpec


class ThreeBackends(Dimension):
    name: ClassVar[str] = "three"
    version: ClassVar[str] = "1"
    group: ClassVar = "quality"
    backends: ClassVar[tuple[str, ...]] = ("vbench", "flow-net", "classical")

    def weights(self) -> list[WeightSpec]:
        return [WeightSpec(key="v", file="exact.pth", backend="vbench"),
                WeightSpec(key="f", file="flow.pth", backend="flow-net")]

    def score_batch(self, videos):
        return [VideoScore(1.0) for _ in videos]


def make(backend: str, weights_dir: Path | None = None) -> ThreeBackends:
    return ThreeBackends(ScoringContext(backend=backend, weights_dir=weights_dir))  # type: ignore[arg-type]


def test_auto_prefers_vbench_when_its_weights_are_present(tmp_path) -> None:
    assert make("auto", tmp_path).resolve_backend() == "classical"  # nothing present: weight-free one
    (tmp_path / "flow.pth").write_bytes(b"x")
    assert make("auto", tmp_path).resolve_backend() == "flow-net"
    (tmp_path / "exact.pth").write_bytes(b"x")
    assert make("auto", tmp_path).resolve_backend() == "vbench"
    assert make("auto", tmp_path).unavailable_reason() is None


def test_embedded_never_picks_a_backend_whose_file_is_missing(tmp_path) -> None:
    assert make("embedded", tmp_path).resolve_backend() == "classical"
    (tmp_path / "flow.pth").write_bytes(b"x")
    assert make("embedded", tmp_path).resolve_backend() == "flow-net"


def test_vbench_choice_reports_the_missing_file(tmp_path) -> None:
    dimension = make("vbench", tmp_path)
    assert dimension.resolve_backend() == "vbench"
    assert dimension.unavailable_reason().startswith("missing weight file exact.pth: put it in")


def test_a_dimension_without_embedded_backend_says_what_it_needs() -> None:
    class OnlyExact(ThreeBackends):
        backends: ClassVar[tuple[str, ...]] = ("vbench",)

    with pytest.raises(VblError, match="no embedded backend; it needs exact.pth"):
        OnlyExact(ScoringContext(backend="embedded")).resolve_backend()


def test_frame_needs_select_all_and_middle_frames() -> None:
    frames = np.arange(25, dtype=np.uint8)[:, None, None, None].repeat(3, axis=3)
    video = Video(frames=frames, fps=24.0, path=Path("v.mp4"))
    assert FrameNeeds().select(video) is video
    middle = FrameNeeds(mode="middle", count=4).select(video)
    assert middle.frames[:, 0, 0, 0].tolist() == [2, 8, 14, 21]


def test_pair_weighted_mean_weighs_longer_videos_more() -> None:
    scores = [VideoScore(0.9, {"sum": 0.9 * 3, "pairs": 3}), VideoScore(0.5, {"sum": 0.5 * 1, "pairs": 1})]
    assert pair_weighted_mean(scores, "sum", "pairs") == pytest.approx((2.7 + 0.5) / 4)
