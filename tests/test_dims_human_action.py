"""human_action: VBench's label rule, the rounded top-5 ≥ 0.85 verdict, UMT's input transform, and the
dimension on real clips with a tiny UMT in the real checkpoint layout (end to end through `vbl`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import cut_clip, sample_frames
from tiny_umt import HEAD_BIASES, write_umt
from typer.testing import CliRunner

from vbench_lite.cli import app
from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.umt_input import centre_crop_offsets, resized_size, umt_clip
from vbench_lite.dimensions.human_action import HumanAction, is_correct, kinetics_400_classes, top5, vbench_label
from vbench_lite.errors import InputError, VblError
from vbench_lite.prompts.suite import load_suite
from vbench_lite.video import Video

torch.set_num_threads(1)
CLASSES = kinetics_400_classes()
SURE, BORDERLINE, UNLIKELY = (CLASSES[i] for i in list(HEAD_BIASES)[:3])  # see tests/tiny_umt.py


def _video(name: str, start: int, count: int, prompt: str = "", path: str = "clip-0.mp4", **aux) -> Video:
    frames = sample_frames(name)[0][start:start + count]
    return Video(frames=frames, fps=25.0, path=Path(path), prompt=prompt, aux=aux)


def _logits(probabilities: dict[int, float]) -> torch.Tensor:
    logits = torch.full((1, len(CLASSES)), -10.0)
    for index, p in probabilities.items():
        logits[0, index] = math.log(p / (1 - p))
    return logits


# -- the label ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,label", [
    ("A person is riding a bike-3.mp4", "riding a bike"),  # VBench's file name {prompt}-{i}.mp4
    ("A person is playing cello", "playing cello"),  # the same rule on the prompt
    ("a person is tai chi_001.mp4", "tai chi"),  # a clip cut by VBench-Long
    ("Someone Is Juggling Balls-0.mp4", "someone is juggling balls"),  # no "person is": whole text
    ("riding a bike.mp4", "riding a bike.mp4"),  # no "-{i}": VBench keeps the extension
])
def test_vbench_label_rule(text: str, label: str) -> None:
    assert vbench_label(text) == label


def test_the_label_comes_from_aux_then_the_prompt_then_the_file_name() -> None:
    dimension = HumanAction(ScoringContext())
    prompt = "A person is riding a bike"
    assert dimension.label(_video("bikes", 0, 1, prompt, human_action="Playing Cello")) == "playing cello"
    assert dimension.label(_video("bikes", 0, 1, prompt)) == "riding a bike"
    assert dimension.label(_video("bikes", 0, 1, path="x/A person is marching-0.mp4")) == "marching"
    by_file = HumanAction(ScoringContext(options={"human_action.label_from": "file_name"}))
    assert by_file.label(_video("bikes", 0, 1, prompt, path="A person is marching-0.mp4",
                                human_action="playing cello")) == "marching"


# -- the verdict -------------------------------------------------------------------------------

def test_probabilities_are_rounded_to_4_decimals_before_the_085_threshold() -> None:
    ranked = top5(_logits({0: 0.99, 1: 0.849951, 2: 0.84994, 3: 0.5, 4: 0.4}))[0]
    assert [name for name, _ in ranked] == list(CLASSES[:5])
    assert [p for _, p in ranked] == [0.99, 0.85, 0.8499, 0.5, 0.4]
    assert is_correct(CLASSES[0], ranked) and is_correct(CLASSES[1], ranked)  # 0.849951 rounds to 0.85
    assert not is_correct(CLASSES[2], ranked) and not is_correct(CLASSES[3], ranked)


def test_only_the_top_5_classes_count() -> None:
    ranked = top5(_logits({i: 0.99 - 0.01 * i for i in range(6)}))[0]  # the 6th is at 0.94
    assert len(ranked) == 5 and not is_correct(CLASSES[5], ranked)


def test_the_kinetics_400_list_is_complete_in_umts_output_order() -> None:
    assert len(CLASSES) == len(set(CLASSES)) == 400
    assert (CLASSES[0], CLASSES[399]) == ("riding a bike", "playing badminton")
    assert "passing american football (in game)" in CLASSES  # lower-cased as VBench does


# -- the input transform -----------------------------------------------------------------------

@pytest.mark.parametrize("height,width,size,offsets", [
    (176, 320, (256, 465), (16, 120)),  # (465 − 224) / 2 = 120.5 rounds to even: 120
    (256, 455, None, (16, 116)),  # short side already 256: no resize; 115.5 rounds to 116
    (455, 256, None, (116, 16)),
    (720, 1280, (256, 455), (16, 116)),
    (300, 224, (342, 256), (59, 16)),  # portrait: the width becomes 256
])
def test_umt_resize_and_crop_geometry(height, width, size, offsets) -> None:
    assert resized_size(height, width) == size
    assert centre_crop_offsets(*(size or (height, width))) == offsets


def test_umt_clip_is_a_normalised_channels_first_clip() -> None:
    frames = sample_frames("bikes")[0][:16]
    clip = umt_clip(frames)
    assert clip.shape == (3, 16, 224, 224) and clip.dtype == torch.float32
    white = umt_clip(np.full((2, 256, 300, 3), 255, np.uint8))
    assert torch.allclose(white[:, 0, 0, 0], (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor(
        [0.229, 0.224, 0.225]))


# -- the dimension -----------------------------------------------------------------------------

@pytest.fixture
def tiny_umt(weights_home: Path) -> Path:
    return write_umt(weights_home)


@pytest.mark.slow
def test_real_clips_are_scored_in_batches_as_one_by_one(tiny_umt: Path) -> None:
    dimension = HumanAction(ScoringContext(batch_size=32))  # two videos per forward
    dimension.setup()
    videos = [dimension.frames.select(v) for v in (
        _video("bikes", 0, 40, f"A person is {SURE}"),
        _video("carphone_pristine", 0, 5, f"A person is {UNLIKELY}"),  # 5 frames, padded to 16
        _video("bigbuckbunny", 10, 20, "A rabbit in a meadow", human_action=BORDERLINE))]
    assert all(v.num_frames == 16 for v in videos)
    together = dimension.score_batch(videos)
    alone = []
    for video in videos:
        alone += dimension.score_batch([video])
    assert [s.value for s in together] == [s.value for s in alone]
    for score in together:
        assert isinstance(score.value, bool) and score.extra["cor_num_per_video"] == int(score.value)
        assert len(score.extra["top5"]) == 5
    assert together[0].value is True and together[1].value is False  # the head's biases decide these
    assert together[1].extra["label"] == UNLIKELY and UNLIKELY in [n for n, _ in together[1].extra["top5"]]
    assert dimension.aggregate(together) == pytest.approx(np.mean([s.value for s in together]))


def test_an_aux_label_outside_kinetics_400_is_skipped_with_the_reason(tiny_umt: Path) -> None:
    dimension = HumanAction(ScoringContext())
    dimension.setup()
    [score] = dimension.score_batch([dimension.frames.select(_video("bikes", 0, 16, human_action="moonwalking"))])
    assert score.value is None and "moonwalking" in score.skipped and "Kinetics-400" in score.skipped


@pytest.mark.parametrize("option,value,message", [
    ("human_action.autocast", "fp16", "needs a CUDA device"),
    ("human_action.autocast", "int8", "must be one of none, fp16, bf16"),
    ("human_action.label_from", "folder", "must be one of prompt, file_name"),
])
def test_bad_options_are_one_line_errors(tiny_umt: Path, option: str, value: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        HumanAction(ScoringContext(options={option: value})).setup()


def test_there_is_no_embedded_backend_and_vbl_says_so(weights_home: Path) -> None:
    reason = HumanAction(ScoringContext()).unavailable_reason()
    assert reason and "l16_ptk710_ftk710_ftk400_f16_res224.pth" in reason and "no embedded backend" in reason
    write_umt(weights_home)
    with pytest.raises(VblError, match="human_action has no embedded backend"):
        HumanAction(ScoringContext(backend="embedded")).setup()


def test_vbl_mini_has_human_action_prompts_with_kinetics_labels() -> None:
    entries = [e for e in load_suite("vbl-mini").entries if "human_action" in e.dimensions]
    assert len(entries) >= 5
    dimension = HumanAction(ScoringContext())
    labels = [dimension.label(Video(np.zeros((1, 2, 2, 3), np.uint8), 8.0, Path("v.mp4"), prompt=e.prompt, aux=e.aux))
              for e in entries]
    assert all(label in CLASSES for label in labels) and len(set(labels)) == len(labels)


@pytest.mark.slow
def test_vbl_evaluate_writes_vbenchs_per_video_keys(tiny_umt: Path, tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    cut_clip("bikes", videos / f"A person is {SURE}-0.mp4", frames=20, size=(320, 176))
    cut_clip("carphone_pristine", videos / f"A person is {UNLIKELY}-0.mp4", frames=12)
    result = CliRunner().invoke(app, ["evaluate", "--videos", str(videos), "--dims", "human_action",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    aggregate, per_video = json.loads((tmp_path / "run" / "eval_results.json").read_text())["human_action"]
    assert {"video_path", "video_results", "cor_num_per_video"} <= set(per_video[0])
    results = {Path(v["video_path"]).name: v["video_results"] for v in per_video}
    assert results == {f"A person is {SURE}-0.mp4": True, f"A person is {UNLIKELY}-0.mp4": False}
    assert aggregate == 0.5
