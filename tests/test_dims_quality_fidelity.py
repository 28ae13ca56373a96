"""aesthetic_quality and imaging_quality agree with VBench's own functions on real mp4 clips.

Both sides get the same random-weight models (written in the real on-disk formats) and the same
files; VBench's `laion_aesthetic` and `technical_quality` decode them with its own reader.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from clips import cut_clip
from random_musiq import write_random_musiq
from tiny_clip_models import EMBED_DIM, write_tiny_aesthetic_head, write_tiny_openai_clip

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.aesthetic_quality import AestheticQuality
from vbench_lite.dimensions.imaging_quality import ImagingQuality, vbench_resize
from vbench_lite.video import Video, decode_video

pytestmark = pytest.mark.fidelity
pytest.importorskip("vbench", reason="the published vbench package is the reference")
pytest.importorskip("clip", reason="VBench's CLIP dimensions import the `clip` package")


@pytest.fixture(scope="module")
def real_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three short real clips: 176×144 twice and big buck bunny at 600×336 (MUSIQ costs ~1 s a
    frame on a CPU, so they are a few frames each)."""
    folder = tmp_path_factory.mktemp("clips")
    return [
        cut_clip("carphone_pristine", folder / "pristine.mp4", frames=3, start=3),
        cut_clip("carphone_distorted", folder / "distorted.mp4", frames=2, start=40),
        cut_clip("bigbuckbunny", folder / "bunny.mp4", frames=2, start=60, size=(600, 336)),
    ]


def _videos(paths: list[Path]) -> list[Video]:
    videos = []
    for path in paths:
        frames, fps = decode_video(path)
        videos.append(Video(frames=frames, fps=fps, path=path))
    return videos


def test_aesthetic_quality_matches_laion_aesthetic(weights_home: Path, real_clips: list[Path]) -> None:
    import clip
    from vbench.aesthetic_quality import laion_aesthetic

    clip_path = write_tiny_openai_clip(weights_home, "ViT-L-14", "torchscript", seed=5)
    head_path = write_tiny_aesthetic_head(weights_home, seed=6)
    vbench_clip, _ = clip.load(str(clip_path), device="cpu")
    vbench_head = torch.nn.Linear(EMBED_DIM, 1)
    vbench_head.load_state_dict(torch.load(head_path, weights_only=True))
    expected_mean, expected = laion_aesthetic(vbench_head, vbench_clip,
                                              [str(p) for p in real_clips], "cpu")

    dimension = AestheticQuality(ScoringContext(batch_size=4))
    dimension.setup()
    scores = dimension.score_batch(_videos(real_clips))
    for ours, theirs in zip(scores, expected, strict=True):
        assert ours.value == pytest.approx(theirs["video_results"], abs=1e-4)
    assert dimension.aggregate(scores) == pytest.approx(expected_mean, abs=1e-4)


@pytest.mark.slow
def test_imaging_quality_matches_technical_quality(weights_home: Path, real_clips: list[Path]) -> None:
    mode = "longer"  # VBench's default: the 600-px bunny clip is resized to 512, the others not
    pytest.importorskip("pyiqa", reason="the MUSIQ backend needs the optional pyiqa package")
    from pyiqa.archs.musiq_arch import MUSIQ
    from vbench.imaging_quality import technical_quality

    path = write_random_musiq(weights_home / "pyiqa_model")
    reference = MUSIQ(pretrained_model_path=str(path))  # how VBench builds it
    reference.training = False
    expected_mean, expected = technical_quality(
        reference, [str(p) for p in real_clips], "cpu", imaging_quality_preprocessing_mode=mode)

    context = ScoringContext(batch_size=4, options={"imaging_quality_preprocessing_mode": mode})
    dimension = ImagingQuality(context)
    dimension.setup()
    assert dimension.backend == "vbench"
    scores = dimension.score_batch(_videos(real_clips))
    for ours, theirs in zip(scores, expected, strict=True):
        assert ours.value == pytest.approx(theirs["video_results"], abs=1e-4)
    assert dimension.aggregate(scores) == pytest.approx(expected_mean, abs=1e-6)


@pytest.mark.parametrize("mode", ["longer", "shorter", "shorter_centercrop", "None"])
def test_preprocessing_modes_equal_vbenchs_transform(mode: str) -> None:
    pytest.importorskip("pyiqa", reason="vbench.imaging_quality imports pyiqa")
    from vbench.imaging_quality import transform

    pixels = torch.rand(2, 3, 540, 1000) * 255
    assert torch.equal(vbench_resize(pixels, mode), transform(pixels, mode))


@pytest.mark.slow
def test_musiq_loading_is_strict(weights_home: Path) -> None:
    pytest.importorskip("pyiqa", reason="the MUSIQ backend needs the optional pyiqa package")
    from vbench_lite.dimensions.backbones.musiq import build_musiq
    from vbench_lite.errors import InputError

    path = write_random_musiq(weights_home)
    state_dict = torch.load(path, weights_only=True)
    state_dict.pop("head.bias")
    torch.save(state_dict, path)
    with pytest.raises(InputError, match="Missing key.*head.bias"):
        build_musiq(path, "cpu")
