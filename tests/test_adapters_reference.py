"""The `reference-tiny` and `contentv` generators behind the Generator contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vbench_lite.errors import WeightsMissing
from vbench_lite.generator import GenerationRequest
from vbench_lite.reference_models.adapters.reference import ContentVGenerator, ReferenceTinyGenerator
from vbench_lite.reference_models.contentv.pipeline import ContentVPipeline
from vbench_lite.video import decode_video


def _requests(folder: Path, n: int = 2) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            prompt_id=f"p{i}", prompt=f"a dog number {i}", sample_index=0, seed=100 + i, out_path=folder / f"p{i}-0.mp4"
        )
        for i in range(n)
    ]


@pytest.mark.slow
def test_reference_tiny_writes_one_decodable_mp4_per_request(tmp_path):
    torch.set_num_threads(2)
    generator = ReferenceTinyGenerator({"num_frames": 9})
    generator.load("cpu", "auto", None)
    results = generator.generate(_requests(tmp_path))
    assert [r.error for r in results] == [None, None]
    for result in results:
        frames, fps = decode_video(result.path)
        assert frames.shape == (9, 64, 64, 3) and result.num_frames == 9
        assert fps == pytest.approx(8) and result.fps == 8
        assert result.params["seed"] == result.request.seed and result.params["steps"] == 4
        assert set(result.params["timings"]) == {"text", "denoise", "decode", "write"}
    provenance = generator.provenance()
    assert provenance["revision"] == "random-init seed 0" and len(provenance["weights_sha256"]) == 64
    again = ReferenceTinyGenerator()
    again.load("cpu", "auto", None)
    assert again.provenance()["weights_sha256"] == provenance["weights_sha256"]  # same seed, same weights


@pytest.mark.slow
def test_a_request_that_cannot_be_written_fails_alone(tmp_path):
    generator = ReferenceTinyGenerator({"num_frames": 5})
    generator.load("cpu", "auto", None)
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    bad, good = _requests(tmp_path)
    bad.out_path = blocked / "x.mp4"
    results = generator.generate([bad, good])
    assert results[0].path is None and "Error" in results[0].error
    assert results[1].path is not None


@pytest.mark.slow
def test_flicker_option_makes_a_degraded_checkpoint(tmp_path):
    request = _requests(tmp_path, 1)[0]
    steps = {}
    for flicker in (0.0, 0.1):
        generator = ReferenceTinyGenerator({"num_frames": 5, "height": 32, "width": 32, "flicker": flicker})
        generator.load("cpu", "auto", None)
        request.out_path = tmp_path / f"flicker{flicker}.mp4"
        (result,) = generator.generate([request])
        frames, _ = decode_video(result.path)
        steps[flicker] = np.abs(np.diff(frames.astype(float), axis=0)).mean()
        assert result.params["flicker"] == flicker
    assert steps[0.1] > 1.5 * steps[0.0]


def test_contentv_without_weights_is_a_weights_missing_error(tmp_path, monkeypatch):
    monkeypatch.setenv("VBL_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(WeightsMissing, match="ContentV-8B/model_index.json"):
        ContentVGenerator().load("cpu", "auto", None)


def test_contentv_loads_a_diffusers_folder_from_weights_dir(tmp_path, monkeypatch):
    # A tiny-shaped checkpoint in ContentV's folder layout: the config comes from the shapes.
    ContentVPipeline.random("tiny").save(tmp_path / "ContentV-8B", max_shard_bytes=500_000)
    monkeypatch.setenv("VBL_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("VBL_HOME", str(tmp_path / "home"))  # the sha256 cache
    generator = ContentVGenerator({"num_frames": 5, "height": 32, "width": 32, "steps": 2})
    generator.load("cpu", "float32", None)
    assert generator.pipeline.transformer.config.num_layers == 2
    (result,) = generator.generate(_requests(tmp_path, 1))
    assert result.error is None and decode_video(result.path)[0].shape == (5, 32, 32, 3)
    assert result.params["shift"] == 3.0 and result.params["negative_prompt"].startswith("overexposed")
    assert len(generator.provenance()["weights_sha256"]) == 64


@pytest.fixture
def registered(monkeypatch):
    """The entry points this package declares, also before pyproject lists them."""
    from importlib.metadata import EntryPoint

    from vbench_lite import registry

    real = registry._entry_points
    ours = {
        "reference-tiny": EntryPoint(
            "reference-tiny",
            "vbench_lite.reference_models.adapters.reference:ReferenceTinyGenerator",
            registry.GENERATORS_GROUP,
        ),
        "contentv": EntryPoint(
            "contentv", "vbench_lite.reference_models.adapters.reference:ContentVGenerator", registry.GENERATORS_GROUP
        ),
    }
    monkeypatch.setattr(
        registry, "_entry_points", lambda group: {**real(group), **(ours if group == registry.GENERATORS_GROUP else {})}
    )


def _summary_raw(run_dir: Path, dimension: str) -> float:
    import json

    return json.loads((run_dir / "summary.json").read_text())["dimensions"][dimension]["raw"]


@pytest.mark.slow
def test_vbl_evaluate_reference_tiny_and_its_flickering_variant(registered, tmp_path, monkeypatch):
    monkeypatch.setenv("VBL_HOME", str(tmp_path / "home"))
    from typer.testing import CliRunner

    from vbench_lite.cli import app

    common = [
        "--dims",
        "temporal_flickering",
        "--samples",
        "1",
        "--model-option",
        "num_frames=5",
        "--db",
        f"sqlite:///{tmp_path / 'vbl.db'}",
    ]
    clean = CliRunner().invoke(
        app, ["evaluate", "--model", "reference-tiny", "--out", str(tmp_path / "clean"), *common]
    )
    assert clean.exit_code == 0, clean.output
    degraded = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--model",
            "reference-tiny",
            "--out",
            str(tmp_path / "bad"),
            "--model-option",
            "flicker=0.1",
            *common,
        ],
    )
    assert degraded.exit_code == 0, degraded.output
    assert (
        _summary_raw(tmp_path / "bad", "temporal_flickering")
        < _summary_raw(tmp_path / "clean", "temporal_flickering") - 0.05
    )
