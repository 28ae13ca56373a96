"""The `vbl` command line: fast help without torch, discovery commands, aggregate and import."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar

import pytest
from clips import clip_folder
from typer.testing import CliRunner

from vbench_lite import registry
from vbench_lite.cli import app
from vbench_lite.dimension import Dimension
from vbench_lite.weights import WeightSpec


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_help_does_not_import_torch() -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from vbench_lite.cli import app\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'evaluate' in result.output\n"
        "heavy = sorted(m for m in ('torch', 'torchvision', 'cv2', 'av', 'decord') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_console_script_help_lists_every_command() -> None:
    result = subprocess.run([sys.executable, "-m", "vbench_lite.cli", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0
    for command in ("evaluate", "aggregate", "import", "dims", "models", "weights"):
        assert command in result.stdout


def test_dims_lists_installed_dimensions_with_their_status() -> None:
    result = run("dims")
    assert result.exit_code == 0, result.output
    assert "temporal_flickering" in result.output and "ready" in result.output


def test_models_lists_installed_generators() -> None:
    result = run("models")
    assert result.exit_code == 0, result.output
    assert "folder" in result.output


def test_weights_lists_where_it_looks() -> None:
    result = run("weights")
    assert result.exit_code == 0, result.output
    assert "VBL_WEIGHTS_DIR" in result.output


def test_aggregate_recomputes_total_from_a_vbench_eval_results_file(tmp_path) -> None:
    published = Path(__file__).parent / "data" / "published_vbench_rows.json"
    row = json.loads(published.read_text())["rows"][0]  # HunyuanVideo, Total 83.24 %
    scores = row["dimensions"]
    file = tmp_path / "model_eval_results.json"
    file.write_text(json.dumps({name: [value / 100, []] for name, value in scores.items()}))
    result = CliRunner().invoke(app, ["aggregate", str(file)], terminal_width=200)
    assert result.exit_code == 0, result.output
    total_line = next(line for line in result.output.splitlines() if "Total" in line)
    assert f"{row['total']:.2f}%" in total_line


def test_aggregate_of_a_missing_file_is_one_line(tmp_path) -> None:
    result = run("aggregate", str(tmp_path / "nope.json"))
    assert result.exit_code == 2 and result.output.startswith("error: ")


def test_import_adds_a_run_directory_to_another_store(tmp_path) -> None:
    clip_folder(tmp_path / "videos", count=2)
    assert run("evaluate", "--videos", str(tmp_path / "videos"), "--dims", "temporal_flickering",
               "--out", str(tmp_path / "run")).exit_code == 0
    other = f"sqlite:///{tmp_path / 'team.db'}"
    result = run("import", str(tmp_path / "run"), "--db", other)
    assert result.exit_code == 0, result.output
    from vbench_lite.store import ResultStore

    store = ResultStore(other)
    (run_id,) = store.run_ids()
    assert len(store.scores_frame(run_id)) == 2


class NeedsAFile(Dimension):
    name: ClassVar[str] = "needs_a_file"
    version: ClassVar[str] = "1"
    group: ClassVar = "extra"
    backends: ClassVar[tuple[str, ...]] = ("vbench",)

    def weights(self) -> list[WeightSpec]:
        return [WeightSpec(key="w", file="tiny.pth", backend="vbench", vbench_subdir="tiny_model",
                           sha256=hashlib.sha256(b"right bytes").hexdigest())]

    def score_batch(self, videos):
        return []


@pytest.mark.slow
def test_weights_checks_sha256_and_says_where_a_missing_file_goes(tmp_path, monkeypatch) -> None:
    real = registry._entry_points
    point = EntryPoint("needs_a_file", f"{__name__}:NeedsAFile", registry.DIMENSIONS_GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda group: {
        **real(group), **({"needs_a_file": point} if group == registry.DIMENSIONS_GROUP else {})})
    monkeypatch.setenv("VBL_WEIGHTS_DIR", str(tmp_path))
    missing = CliRunner().invoke(app, ["weights", "--for", "needs_a_file"])
    assert "tiny.pth" in missing.output and "missing" in missing.output
    assert str(tmp_path) in missing.output

    (tmp_path / "tiny_model").mkdir()
    (tmp_path / "tiny_model" / "tiny.pth").write_bytes(b"right bytes")
    assert "sha256 ok" in CliRunner().invoke(app, ["weights", "--for", "needs_a_file"]).output
    (tmp_path / "tiny_model" / "tiny.pth").write_bytes(b"wrong bytes")
    assert "sha256 mismatch" in CliRunner().invoke(app, ["weights", "--for", "needs_a_file"]).output

    code = CliRunner().invoke(app, ["evaluate", "--videos", str(tmp_path), "--dims", "needs_a_file",
                                    "--out", str(tmp_path / "run")])
    assert code.exit_code == 2  # an empty folder: checked before any model is touched
