"""overall_consistency, temporal_style and appearance_style agree with VBench's own code.

Same random-weight models on both sides (VBench's ViCLIP classes at tiny size, saved in the real
`{"model": state_dict}` format and loaded strictly by ours; a tiny OpenAI-format CLIP loaded by
VBench through `clip.load`), real mp4 clips decoded by each side's own reader.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from clips import cut_clip
from tiny_clip_models import write_tiny_openai_clip
from tiny_viclip import vbench_tiny_viclip, write_checkpoint

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.appearance_style import AppearanceStyle
from vbench_lite.dimensions.backbones.tokenizer import VICLIP_CONTEXT_LENGTH, clip_tokenizer
from vbench_lite.dimensions.overall_consistency import OverallConsistency
from vbench_lite.dimensions.temporal_style import TemporalStyle
from vbench_lite.video import Video, decode_video

pytestmark = pytest.mark.fidelity
pytest.importorskip("vbench", reason="the published vbench package is the reference")
pytest.importorskip("clip", reason="VBench's CLIP dimensions import the `clip` package")

PROMPTS = ["A cute happy corgi playing in park, sunset, zoom in",
           "a car driving down a wet road at night &amp; its lights reflecting, in super slow motion"]


@pytest.fixture(scope="module")
def vbench_viclip(tmp_path_factory: pytest.TempPathFactory):
    """VBench's ViCLIP modules, imported with their BPE file in a throw-away VBench cache.

    VBench's tokenizer module reads `CACHE_DIR/ViCLIP/bpe_simple_vocab_16e6.txt.gz` at import
    (and would wget it); the file is the one open_clip ships.
    """
    import open_clip.tokenizer
    import vbench.utils

    cache = tmp_path_factory.mktemp("vbench_cache")
    (cache / "ViCLIP").mkdir()
    shutil.copy(open_clip.tokenizer.default_bpe(), cache / "ViCLIP" / "bpe_simple_vocab_16e6.txt.gz")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vbench.utils, "CACHE_DIR", str(cache))
        import vbench.overall_consistency
        import vbench.temporal_style
        from vbench.third_party.ViCLIP.simple_tokenizer import SimpleTokenizer

        tokenizer = SimpleTokenizer(str(cache / "ViCLIP" / "bpe_simple_vocab_16e6.txt.gz"))
    return vbench, tokenizer


@pytest.fixture(scope="module")
def real_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real clips: 12 and 9 frames (8 "middle" frames picked) and 5 frames (padded to 8)."""
    folder = tmp_path_factory.mktemp("clips")
    return [
        cut_clip("bikes", folder / "bikes.mp4", frames=12, start=30, size=(320, 136)),
        cut_clip("carphone_pristine", folder / "carphone.mp4", frames=9, start=10),
        cut_clip("bigbuckbunny", folder / "bunny.mp4", frames=5, start=80, size=(320, 180)),
    ]


def _videos(paths: list[Path], dimension, **fields) -> list[Video]:
    import decord

    decord.bridge.set_bridge("native")  # VBench's ViCLIP reader leaves decord's bridge on torch
    videos = []
    for index, path in enumerate(paths):
        frames, fps = decode_video(path)
        video = Video(frames=frames, fps=fps, path=path, prompt=PROMPTS[index % 2], **fields)
        videos.append(dimension.frames.select(video))  # what the runner hands a dimension
    return videos


def test_the_viclip_tokenizer_gives_vbenchs_token_ids(vbench_viclip) -> None:
    _, tokenizer = vbench_viclip
    model = vbench_tiny_viclip(tokenizer)
    long_prompt = " ".join(["a very long prompt about a dog"] * 10)
    texts = [*PROMPTS, long_prompt, "Café  crème — ÉCLAIR!", ""]
    theirs = model.text_encoder.tokenize(texts, context_length=VICLIP_CONTEXT_LENGTH)
    ours = clip_tokenizer(VICLIP_CONTEXT_LENGTH)(texts)
    assert torch.equal(ours, theirs.long())


@pytest.mark.slow
@pytest.mark.parametrize("dimension_class", [OverallConsistency, TemporalStyle])
def test_viclip_dimensions_match_vbench(weights_home: Path, real_clips: list[Path], vbench_viclip,
                                        dimension_class) -> None:
    vbench, tokenizer = vbench_viclip
    module = getattr(vbench, dimension_class.name)  # vbench.overall_consistency / .temporal_style
    reference = vbench_tiny_viclip(tokenizer, seed=11)
    write_checkpoint(weights_home / "ViCLIP", reference.state_dict())
    module.get_text_features.__defaults__[0].clear()  # VBench caches text features module-wide
    video_dict = [{"prompt": PROMPTS[0], "video_list": [str(real_clips[0]), str(real_clips[2])]},
                  {"prompt": PROMPTS[1], "video_list": [str(real_clips[1])]}]
    compute = getattr(module, dimension_class.name)  # VBench's function of the same name
    expected_mean, expected = compute(reference, video_dict, tokenizer, "cpu")
    expected_by_path = {r["video_path"]: r["video_results"] for r in expected}

    dimension = dimension_class(ScoringContext(batch_size=16))
    dimension.setup()
    videos = _videos(real_clips, dimension)
    scores = dimension.score_batch(videos)
    for video, score in zip(videos, scores, strict=True):
        assert score.value == pytest.approx(expected_by_path[str(video.path)], abs=1e-4)
    assert dimension.aggregate(scores) == pytest.approx(expected_mean, abs=1e-4)


@pytest.mark.slow
def test_appearance_style_matches_vbench(weights_home: Path, real_clips: list[Path]) -> None:
    import clip
    from vbench.appearance_style import appearance_style

    clip_path = write_tiny_openai_clip(weights_home / "clip_model", "ViT-B-32", "torchscript",
                                       seed=21)
    reference, _ = clip.load(str(clip_path), device="cpu")
    styles = ["Van Gogh style", "by Hokusai, in the style of Ukiyo"]
    video_dict = [{"prompt": "x", "auxiliary_info": {"appearance_style": styles[0]},
                   "video_list": [str(real_clips[0]), str(real_clips[2])]},
                  {"prompt": "y", "auxiliary_info": {"appearance_style": styles[1]},
                   "video_list": [str(real_clips[1])]}]
    expected_mean, expected = appearance_style(reference, video_dict, "cpu")
    expected_by_path = {r["video_path"]: r for r in expected}

    dimension = AppearanceStyle(ScoringContext(batch_size=7))
    dimension.setup()
    videos = _videos(real_clips, dimension)
    for video, style in zip(videos, [styles[0], styles[1], styles[0]], strict=True):
        video.aux["appearance_style"] = style
    scores = dimension.score_batch(videos)
    for video, score in zip(videos, scores, strict=True):
        theirs = expected_by_path[str(video.path)]
        assert score.value == pytest.approx(theirs["video_results"], abs=1e-4)
        assert score.extra["frame_results"] == pytest.approx(theirs["frame_results"], abs=1e-4)
        assert score.extra["cur_sim"] == pytest.approx(theirs["cur_sim"], abs=1e-4)
    assert dimension.aggregate(scores) == pytest.approx(expected_mean, abs=1e-5)
