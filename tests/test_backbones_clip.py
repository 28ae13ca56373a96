"""dimensions/backbones/clip.py: the shared CLIP loads every real on-disk format, strictly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_clip_models import tiny_openai_clip, write_tiny_openai_clip

from vbench_lite.dimension import ScoringContext
from vbench_lite.dimensions.backbones.clip import build_clip, clip_weight_spec, load_clip
from vbench_lite.errors import InputError, WeightsMissing

pytest.importorskip("clip", reason="the `clip` package builds the reference CLIP architecture")


def _pixels(n: int = 2) -> torch.Tensor:
    return torch.randn(n, 3, 224, 224, generator=torch.Generator().manual_seed(1))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["torchscript", "state_dict"])
def test_openai_files_give_the_features_of_the_clip_package(tmp_path: Path, fmt: str) -> None:
    import clip

    path = write_tiny_openai_clip(tmp_path, "ViT-B-32", fmt)
    ours = build_clip(path, "ViT-B-32", "cpu")
    # The reference is what VBench's `clip.load(path, device="cpu")` builds from the same weights.
    reference = clip.model.build_model(ours.network.state_dict()).float().eval()
    if fmt == "torchscript":
        reference, _ = clip.load(str(path), device="cpu")
    pixels, texts = _pixels(), ["a cat on a mat", "Van Gogh style"]
    with torch.no_grad():
        # oneDNN sums in another order than MKL: equal to rounding
        torch.testing.assert_close(ours.encode_image(pixels), reference.encode_image(pixels), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(
            ours.encode_text(texts), reference.encode_text(clip.tokenize(texts)), rtol=1e-5, atol=1e-6
        )
    assert ours.dtype == torch.float32  # VBench runs OpenAI CLIP in fp32 on the CPU


@pytest.mark.parametrize("fmt", ["open_clip_bin", "open_clip_safetensors"])
@pytest.mark.slow
def test_open_clip_checkpoints_load_to_the_same_network(tmp_path: Path, fmt: str) -> None:
    path = write_tiny_openai_clip(tmp_path, "ViT-L-14", fmt, seed=3)
    ours = build_clip(path, "ViT-L-14", "cpu")
    reference = tiny_openai_clip("ViT-L-14", seed=3)
    pixels = _pixels(1)
    with torch.no_grad():
        torch.testing.assert_close(ours.encode_image(pixels), reference.encode_image(pixels))


def test_loading_is_strict_about_missing_and_unexpected_keys(tmp_path: Path) -> None:
    state_dict = tiny_openai_clip().state_dict()
    missing = dict(state_dict)
    missing.pop("ln_final.weight")
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(InputError, match="not an OpenAI CLIP checkpoint.*ln_final.weight"):
        build_clip(tmp_path / "missing.pt", "ViT-B-32", "cpu")
    torch.save({**state_dict, "visual.surplus": torch.zeros(1)}, tmp_path / "extra.pt")
    with pytest.raises(InputError, match="Unexpected key.*visual.surplus"):
        build_clip(tmp_path / "extra.pt", "ViT-B-32", "cpu")


def test_a_file_of_another_architecture_is_refused(tmp_path: Path) -> None:
    path = write_tiny_openai_clip(tmp_path, "ViT-L-14", "state_dict")
    with pytest.raises(InputError, match="14-px patches, not ViT-B-32"):
        build_clip(path, "ViT-B-32", "cpu")


def test_one_instance_per_process_is_shared(weights_home: Path) -> None:
    write_tiny_openai_clip(weights_home / "clip_model", "ViT-B-32", "torchscript")
    context = ScoringContext()
    first, second = load_clip(context), load_clip(context, "ViT-B-32")
    assert first is second
    assert len(context.backbones.loads) == 1
    assert first.weights_path == weights_home / "clip_model" / "ViT-B-32.pt"
    assert len(first.weights_sha256()) == 64


def test_a_hugging_face_snapshot_of_open_clip_is_found(weights_home: Path, tmp_path: Path) -> None:
    snapshot = (tmp_path / "hf" / "hub" / "models--timm--vit_base_patch32_clip_224.openai"
                / "snapshots" / "0123abc")
    write_tiny_openai_clip(snapshot, "ViT-B-32", "open_clip_safetensors")
    (snapshot / "config.json").write_text("{}")
    model = load_clip(ScoringContext())
    assert model.weights_path == snapshot


def test_a_missing_file_is_one_line_naming_the_file_and_the_folder(weights_home: Path) -> None:
    with pytest.raises(WeightsMissing) as error:
        load_clip(ScoringContext(), "ViT-L-14")
    message = str(error.value)
    assert "ViT-L-14.pt" in message and "clip_model" in message and "\n" not in message
    assert clip_weight_spec("ViT-L-14").url.endswith("/ViT-L-14.pt")


def test_an_open_clip_folder_in_the_weights_dir_is_found_and_counts_as_present(
        weights_home: Path) -> None:
    from tiny_clip_models import write_tiny_aesthetic_head

    from vbench_lite.dimensions.aesthetic_quality import AestheticQuality

    folder = weights_home / "vit_large_patch14_clip_224.openai"
    write_tiny_openai_clip(folder, "ViT-L-14", "open_clip_safetensors")
    (folder / "config.json").write_text("{}")
    write_tiny_aesthetic_head(weights_home)
    assert load_clip(ScoringContext(), "ViT-L-14").weights_path == folder
    assert AestheticQuality(ScoringContext()).unavailable_reason() is None
