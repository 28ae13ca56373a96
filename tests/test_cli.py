"""The `vbl` command line: fast help without torch, discovery commands, aggregate and import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from clips import clip_folder
from typer.testing import CliRunner

from vbench_lite.cli import app


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
