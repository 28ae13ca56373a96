"""i2v_subject and i2v_background: the formula, the DreamSim files loaded strictly, the shared DINO,
and a whole `vbl evaluate` image-to-video run on real clips with the embedded backends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from clips import cut_clip, sample_frames
from PIL import Image
from tiny_dims1_models import write_tiny_dino_pth
from tiny_i2v_models import LORA, adapter_state, write_tiny_dreamsim
from typer.testing import CliRunner

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.dreamsim import (
    DreamSimEnsemble,
    clip_as_dino_from_file,
    find_dreamsim_files,
    load_dreamsim,
    load_dreamsim_files,
    merge_lora,
)
from vbench_lite.dimensions.backbones.i2v_similarity import i2v_score
from vbench_lite.dimensions.i2v_background import I2VBackground
from vbench_lite.dimensions.i2v_subject import I2VSubject
from vbench_lite.dimensions.subject_consistency import SubjectConsistency
from vbench_lite.errors import InputError, WeightsMissing
from vbench_lite.video import Video

torch.set_num_threads(1)


# ---- the formula --------------------------------------------------------------------------------


def test_score_is_max_image_similarity_plus_mean_and_min_of_consecutive_clamped_at_zero():
    image = torch.tensor([3.0, 0.0])  # features are normalised first: lengths do not matter
    turning = i2v_score(image, torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 1.0]]))
    # image similarities 1, 0, 0 → max 1 (the mean would be 1/3); consecutive 0, 1 → mean ½, min 0
    assert turning.value == pytest.approx(0.4 * 1 + 0.3 * 0.5 + 0.3 * 0)
    assert turning.extra == pytest.approx({"image_similarity_max": 1, "consecutive_mean": 0.5, "consecutive_min": 0})
    flipping = i2v_score(image, torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]]))
    # every consecutive cosine is −1, clamped to 0 before the mean and min (else the value is −0.2)
    assert flipping.value == pytest.approx(0.4)


def test_a_video_without_its_image_is_skipped_with_a_reason():
    video = Video(frames=np.zeros((3, 8, 8, 3), np.uint8), fps=8, path=Path("x.mp4"))
    for dimension in (I2VSubject(), I2VBackground()):
        assert "conditioning image" in dimension.skip_reason(video)
        video.image = np.zeros((8, 8, 3), np.uint8)
        assert dimension.skip_reason(video) is None
        video.image = None


# ---- DINO shared with subject_consistency --------------------------------------------------------


def test_i2v_subject_and_subject_consistency_share_one_dino(tmp_path):
    write_tiny_dino_pth(tmp_path)
    context = ScoringContext(backend="vbench", weights_dir=tmp_path)
    subject, consistency = I2VSubject(context), SubjectConsistency(context)
    subject.setup()
    consistency.setup()
    assert subject.backend == consistency.backend == "vbench"
    assert subject._network is consistency._network
    assert [key[0] for key in context.backbones.loads] == ["dino-vitb16"]


# ---- DreamSim files -------------------------------------------------------------------------------


def test_tiny_dreamsim_in_the_released_layout_loads_strictly_and_embeds_1792_style(tmp_path):
    folder = write_tiny_dreamsim(tmp_path)
    model, files = load_dreamsim(ScoringContext(weights_dir=tmp_path))
    assert (files.folder, files.dino) == (folder, folder / "checkpoints" / "dino_vitbase16_pretrain.pth")
    assert isinstance(model, DreamSimEnsemble)
    pixels = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        embedding = model(pixels)
    assert embedding.shape == (2, 64 + 32 + 32)  # DINO width + two projections (1792 at full size)
    assert torch.allclose(embedding.mean(dim=1), torch.zeros(2), atol=1e-6)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(2), atol=1e-5)
    dimension = I2VBackground(ScoringContext(backend="auto", weights_dir=tmp_path))
    dimension.setup()
    assert dimension.backend == "vbench" and dimension.weights_path == folder
    assert len(dimension.weights_sha256()) == 64


def test_lora_is_merged_into_the_targeted_weights(tmp_path):
    folder = write_tiny_dreamsim(tmp_path)
    files = find_dreamsim_files(ScoringContext(weights_dir=tmp_path))
    base = clip_as_dino_from_file(files.clip, quick_gelu=True)
    merged = load_dreamsim_files(files).extractors[1]
    adapter = adapter_state(3)
    stem = "base_model.model.extractor_list.1.model.blocks.2.attn.qkv"
    delta = LORA["lora_alpha"] / LORA["r"] * adapter[f"{stem}.lora_B.weight"] @ adapter[f"{stem}.lora_A.weight"]
    assert torch.allclose(merged.blocks[2].attn.qkv.weight, base.blocks[2].attn.qkv.weight + delta, atol=1e-6)
    assert torch.equal(merged.blocks[2].attn.proj.weight, base.blocks[2].attn.proj.weight)  # not targeted
    assert folder.is_dir()


def test_adapter_saved_as_bin_loads_the_same(tmp_path):
    folder = write_tiny_dreamsim(tmp_path)
    files = find_dreamsim_files(ScoringContext(weights_dir=tmp_path))
    from safetensors.torch import load_file

    pixels = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        expected = load_dreamsim_files(files)(pixels)
        lora = folder / "ensemble_lora"
        torch.save(load_file(str(lora / "adapter_model.safetensors")), lora / "adapter_model.bin")
        (lora / "adapter_model.safetensors").unlink()
        assert torch.equal(load_dreamsim_files(files)(pixels), expected)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("drop_lora_b", "lacks lora_A/lora_B for extractor_list.0.model.blocks.0.attn.qkv"),
        ("extra_key", "names no DreamSim extractor"),
        ("untargeted", "untargeted extractor_list.2.model.blocks.0.attn.proj"),
        ("bad_bias", "matches no parameter"),
    ],
)
def test_an_adapter_that_does_not_fit_is_refused_in_one_line(tmp_path, damage, message):
    write_tiny_dreamsim(tmp_path)
    files = find_dreamsim_files(ScoringContext(weights_dir=tmp_path))
    extractors = list(load_dreamsim_files(files).extractors)
    adapter = adapter_state(3)
    stem = "base_model.model.extractor_list"
    if damage == "drop_lora_b":
        del adapter[f"{stem}.0.model.blocks.0.attn.qkv.lora_B.weight"]
    elif damage == "extra_key":
        adapter[f"{stem}.7.model.blocks.0.attn.qkv.lora_A.weight"] = torch.zeros(4, 64)
    elif damage == "untargeted":
        adapter[f"{stem}.2.model.blocks.0.attn.proj.lora_A.weight"] = torch.zeros(4, 64)
        adapter[f"{stem}.2.model.blocks.0.attn.proj.lora_B.weight"] = torch.zeros(64, 4)
    else:
        adapter[f"{stem}.1.model.blocks.0.attn.nothing.bias"] = torch.zeros(64)
    with pytest.raises(InputError, match=message.replace(".", r"\.")) as error:
        merge_lora(extractors, dict(LORA), adapter)
    assert "\n" not in str(error.value)


def test_a_wrong_or_missing_dreamsim_file_names_what_is_wrong(tmp_path):
    with pytest.raises(WeightsMissing, match="ensemble_lora"):
        find_dreamsim_files(ScoringContext(weights_dir=tmp_path / "empty"))
    folder = write_tiny_dreamsim(tmp_path)
    state = torch.load(folder / "clip_vitb16_pretrain.pth.tar", weights_only=True)
    del state["state_dict"]["pos_drop.weight"]
    torch.save(state, folder / "clip_vitb16_pretrain.pth.tar")
    with pytest.raises(InputError, match="clip_vitb16_pretrain.pth.tar is not a DreamSim CLIP-as-DINO .*pos_drop"):
        load_dreamsim_files(find_dreamsim_files(ScoringContext(weights_dir=tmp_path)))
    (folder / "open_clip_vitb16_pretrain.pth.tar").unlink()
    with pytest.raises(WeightsMissing, match="open_clip_vitb16_pretrain.pth.tar"):
        find_dreamsim_files(ScoringContext(weights_dir=tmp_path))


def test_without_dreamsim_files_auto_picks_the_embedded_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(tmp_path / "no-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-torch"))
    monkeypatch.delenv("VBL_WEIGHTS_DIR", raising=False)
    dimension = I2VBackground(ScoringContext(backend="auto", weights_dir=tmp_path))
    dimension.setup()
    assert dimension.backend == "embedded"


# ---- a whole run --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def i2v_videos(tmp_path_factory) -> tuple[Path, Path]:
    """The same real clip under two prompts; the image folder pairs one with the clip's own first
    frame and the other with a frame of another clip (VBench's custom-input naming)."""
    root = tmp_path_factory.mktemp("i2v_run")
    videos, images = root / "videos", root / "images"
    videos.mkdir()
    images.mkdir()
    clip = cut_clip("carphone_pristine", videos / "own first frame-0.mp4", frames=12, start=0)
    shutil.copy(clip, videos / "another clip's frame-0.mp4")
    Image.fromarray(sample_frames("carphone_pristine")[0][0]).save(images / "own first frame.png")
    Image.fromarray(sample_frames("bikes")[0][100]).save(images / "another clip's frame.jpg")
    return videos, images


@pytest.mark.slow
def test_vbl_evaluate_with_images_is_an_i2v_run_where_the_own_first_frame_scores_higher(i2v_videos, tmp_path):
    from vbench_lite.cli import app

    videos, images = i2v_videos
    result = CliRunner().invoke(app, [
        "evaluate", "--videos", str(videos), "--images", str(images), "--dims", "i2v_subject,i2v_background",
        "--backend", "embedded", "--out", str(tmp_path / "run"), "--db", f"sqlite:///{tmp_path / 'vbl.db'}",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["task"] == "i2v" and manifest["aggregation"]["name"] == "vbench-i2v-v1"
    results = json.loads((tmp_path / "run" / "eval_results.json").read_text())
    for dimension in ("i2v_subject", "i2v_background"):
        by_name = {Path(v["video_path"]).name: v["video_results"] for v in results[dimension][1]}
        assert by_name["own first frame-0.mp4"] > by_name["another clip's frame-0.mp4"], dimension
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["aggregation"] == "vbench-i2v-v1"
    assert set(summary["missing"]) == {"quality", "i2v"} and "camera_motion" in summary["missing"]["i2v"]
    assert "semantic" not in summary


@pytest.mark.slow
def test_a_video_whose_image_is_missing_is_skipped_and_the_run_goes_on(i2v_videos, tmp_path):
    from vbench_lite.cli import app

    videos, images = i2v_videos
    partial = tmp_path / "images"
    partial.mkdir()
    shutil.copy(images / "own first frame.png", partial)
    result = CliRunner().invoke(app, [
        "evaluate", "--videos", str(videos), "--images", str(partial), "--dims", "i2v_subject",
        "--backend", "embedded", "--out", str(tmp_path / "run"), "--db", f"sqlite:///{tmp_path / 'vbl.db'}",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 video(s) have no conditioning image" in result.output
    results = json.loads((tmp_path / "run" / "eval_results.json").read_text())
    assert [Path(v["video_path"]).name for v in results["i2v_subject"][1]] == ["own first frame-0.mp4"]
