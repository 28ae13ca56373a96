"""scene: VBench's frames, rule, aggregate and JSON keys, the frame-mapping option, suites and weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import cut_clip
from tiny_tag2text import TINY, write_checkpoint

from vbench_lite.dimension import ScoringContext, VideoScore
from vbench_lite.dimensions.backbones.scaled_frames import decode_scaled
from vbench_lite.dimensions.backbones.tag2text import caption_frames, load_tag2text_file, normalize_frames
from vbench_lite.dimensions.scene import Scene, scene_frames, scene_in_caption
from vbench_lite.errors import InputError, VblError, WeightsMissing
from vbench_lite.prompts import load_suite
from vbench_lite.video import Video, decode_video, middle_indices


def _video(path: Path, scene: str | None) -> Video:
    frames, fps = decode_video(path)
    return Video(frames=frames, fps=fps, path=path, prompt=f"a view of {scene}",
                 aux={"scene": {"scene": scene}} if scene is not None else {})


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cut_clip("bikes", tmp_path_factory.mktemp("scene") / "bikes.mp4", frames=20)


def test_frames_are_the_bytes_decord_reads_at_384(clip: Path):
    decord = pytest.importorskip("decord")
    reader = decord.VideoReader(str(clip), width=384, height=384, num_threads=1)
    indices = middle_indices(len(reader), 16)
    expected = reader.get_batch(indices).asnumpy()
    assert np.array_equal(decode_scaled(clip, indices, 384, 384), expected)
    frames, resized = scene_frames(_video(clip, "street"))
    assert np.array_equal(frames, expected) and not resized


def test_frames_without_a_readable_file_are_resized_and_say_so(clip: Path):
    video = _video(clip, "street")
    video.path = clip.with_name("gone.mp4")
    frames, resized = scene_frames(video)
    assert frames.shape == (16, 384, 384, 3) and resized


@pytest.mark.parametrize("scene, caption, expected", [
    ("alley", "a narrow alley with bikes", True),
    ("amusement park", "an amusement ride in a park", True),  # every word, anywhere
    ("amusement park", "an amusement ride", False),
    ("bar", "a red barn in a field", True),  # a substring counts, as in VBench
    ("Bar", "a bar", False),  # no case folding
])
def test_a_frame_succeeds_when_every_word_of_the_scene_is_in_its_caption(scene, caption, expected):
    assert scene_in_caption(scene, caption) is expected


@pytest.mark.slow
def test_scene_scores_sixteen_frames_with_vbench_keys_and_frame_weighted_aggregate(weights_home, clip):
    checkpoint = write_checkpoint(weights_home, TINY, seed=1)
    frames, _ = scene_frames(_video(clip, "x"))
    captions = caption_frames(load_tag2text_file(checkpoint), normalize_frames(torch.from_numpy(frames))).captions
    word = captions[0].split()[0]
    dimension = Scene(ScoringContext())
    dimension.setup()
    hit, miss, unlabeled = dimension.score_batch([_video(clip, word), _video(clip, "zzz qqq"), _video(clip, None)])
    expected = sum(word in c for c in captions)
    assert expected >= 3  # VBench's mapping: frames 0-2 all carry frame 0's caption
    assert hit.value == expected / 16 and miss.value == 0.0
    assert hit.extra == {"success_frame_count": expected, "frame_count": 16}  # VBench's per-video keys
    assert unlabeled.value is None and "scene" in unlabeled.skipped
    assert dimension.aggregate([hit, miss, VideoScore(None, skipped="x")]) == expected / 32
    assert dimension.version == "1" and dimension.backend == "vbench"


@pytest.mark.slow
def test_per_frame_option_captions_every_frame_and_records_another_version(weights_home, clip):
    checkpoint = write_checkpoint(weights_home, TINY, seed=1)
    frames, _ = scene_frames(_video(clip, "x"))
    model = load_tag2text_file(checkpoint)
    per_frame = caption_frames(model, normalize_frames(torch.from_numpy(frames)), "per_frame")
    assert per_frame.sources == list(range(16))
    word = per_frame.captions[15].split()[0]
    dimension = Scene(ScoringContext(options={"scene.frame_mapping": "per_frame"}))
    dimension.setup()
    (score,) = dimension.score_batch([_video(clip, word)])
    assert score.value == sum(word in c for c in per_frame.captions) / 16
    assert dimension.version == "1+per_frame"
    with pytest.raises(InputError, match="scene.frame_mapping takes vbench or per_frame"):
        Scene(ScoringContext(options={"scene.frame_mapping": "frame"})).setup()


def test_scene_names_come_from_yaml_suites_and_vbench_full_info(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("prompts:\n  - prompt: an alley at night\n    dimensions: [scene]\n"
                     "    aux: {scene: {scene: alley}}\n")
    full_info = tmp_path / "VBench_full_info.json"
    full_info.write_text(json.dumps([{"prompt_en": "an alley at night", "dimension": ["scene"],
                                      "auxiliary_info": {"scene": {"scene": {"scene": "alley"}}}}]))
    for path in (suite, full_info):
        (entry,) = load_suite(path).entries
        assert entry.aux == {"scene": {"scene": "alley"}}
        video = Video(np.zeros((2, 8, 8, 3), np.uint8), 8.0, Path("v.mp4"), aux=entry.aux)
        assert Scene(ScoringContext()).skip_reason(video) is None
    empty = Video(np.zeros((2, 8, 8, 3), np.uint8), 8.0, Path("v.mp4"), aux={"scene": {}})
    assert "scene name" in Scene(ScoringContext()).skip_reason(empty)


def test_vbl_mini_has_scene_prompts_with_scene_names():
    entries = load_suite("vbl-mini").for_dimensions(["scene"])
    assert len(entries) >= 11
    assert all(entry.aux["scene"]["scene"] for entry in entries)


def test_without_weights_scene_names_its_file_and_has_no_embedded_backend(weights_home):
    dimension = Scene(ScoringContext())
    reason = dimension.unavailable_reason()
    assert "tag2text_swin_14m.pth" in reason and "caption_model" in reason and "no embedded backend" in reason
    with pytest.raises(WeightsMissing):
        dimension.setup()
    with pytest.raises(VblError, match="scene has no embedded backend"):
        Scene(ScoringContext(backend="embedded")).resolve_backend()
