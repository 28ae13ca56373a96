"""`vbl evaluate --model i2vgen-xl --prompts <VBench++ I2V suite> --images DIR`: a tiny real I2VGen-XL
pipeline generates from each prompt's image, and the videos are scored against those images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_adapters_diffusers import tiny_i2vgen_folder  # noqa: F401  (the fixture)
from typer.testing import CliRunner

pytest.importorskip("diffusers")

SUITE = [  # VBench++'s vbench2_i2v_full_info.json layout
    {"prompt_en": "a cat", "dimension": ["i2v_subject", "subject_consistency"], "image_type": "animal",
     "image_name": "a cat.jpg"},
    {"prompt_en": "a dog on the beach", "dimension": ["i2v_background"], "image_type": "scenery",
     "image_name": "beach.png"},
]  # fmt: skip


@pytest.mark.slow
def test_i2v_generator_on_a_vbench_i2v_suite_is_generated_scored_and_aggregated_as_i2v(
    tiny_i2vgen_folder: Path,  # noqa: F811
    tmp_path: Path,
):
    from vbench_lite.cli import app

    suite, images = tmp_path / "vbench2_i2v_full_info.json", tmp_path / "crop" / "1-1"
    suite.write_text(json.dumps(SUITE))
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a cat.jpg", "beach.png"):
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(images / name)
    run = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "evaluate", "--model", "i2vgen-xl", "--prompts", str(suite), "--images", str(images),
        "--weights", str(tiny_i2vgen_folder), "--samples", "1", "--dims", "i2v_subject,i2v_background",
        "--backend", "embedded", "--out", str(run), "--db", f"sqlite:///{tmp_path / 'vbl.db'}",
        "--model-option", "num_frames=4", "--model-option", "height=32", "--model-option", "width=32",
        "--model-option", "steps=2",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (run / "videos").iterdir()) == ["a cat-0.mp4", "a dog on the beach-0.mp4"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert (manifest["model"]["task"], manifest["aggregation"]["name"]) == ("i2v", "vbench-i2v-v1")
    results = json.loads((run / "eval_results.json").read_text())
    assert [Path(v["video_path"]).name for v in results["i2v_subject"][1]] == ["a cat-0.mp4"]  # tagged prompts only
    assert [Path(v["video_path"]).name for v in results["i2v_background"][1]] == ["a dog on the beach-0.mp4"]
    assert 0 <= results["i2v_subject"][0] <= 1


def test_an_i2v_suite_without_images_folder_is_one_line_error(tmp_path):
    from vbench_lite.cli import app

    suite = tmp_path / "vbench2_i2v_full_info.json"
    suite.write_text(json.dumps(SUITE))
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a cat-0.mp4").write_bytes(b"")
    result = CliRunner().invoke(app, ["evaluate", "--videos", str(videos), "--prompts", str(suite),
                                      "--out", str(tmp_path / "run"), "--db", f"sqlite:///{tmp_path / 'db'}"])
    assert result.exit_code == 2
    assert "no --images DIR was given" in result.output
