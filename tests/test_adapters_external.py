"""The `external` adapter, driving a small Python script that speaks the JSON-lines protocol."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from vbench_lite.errors import InputError
from vbench_lite.generator import GenerationRequest
from vbench_lite.reference_models.adapters.external import ExternalGenerator
from vbench_lite.video import decode_video

# A stand-in for e.g. Step-Video-T2V's own code: loads "a model", then answers requests.
SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    from vbench_lite.video import write_mp4
    print("loading on", os.environ["VBL_DEVICE"], file=sys.stderr)
    print(json.dumps({"ready": True, "name": "toy-external", "revision": "r1", "licence": "MIT"}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["type"] == "shutdown":
            break
        if "fail" in request["prompt"]:
            print(json.dumps({"ok": False, "error": "cannot draw that"}), flush=True)
            continue
        if "crash" in request["prompt"]:
            sys.exit(3)
        frames = int(request["params"].get("num_frames", 5))
        level = request["seed"] % 256
        video = np.full((frames, 32, 32, 3), level, np.uint8)
        write_mp4(request["out_path"], video, fps=12)
        print(json.dumps({"ok": True, "fps": 12, "num_frames": frames, "params": {"seed": request["seed"]}}),
              flush=True)
""")


@pytest.fixture
def script(tmp_path) -> Path:
    path = tmp_path / "toy_generator.py"
    path.write_text(SCRIPT)
    return path


def _request(tmp_path: Path, prompt: str, seed: int = 7) -> GenerationRequest:
    return GenerationRequest("p", prompt, 0, seed, tmp_path / f"{prompt}.mp4")


def test_external_command_generates_videos_through_the_json_protocol(script, tmp_path):
    generator = ExternalGenerator({"command": [sys.executable, str(script)], "num_frames": 6})
    generator.load("cpu", "auto", None)
    try:
        results = generator.generate([_request(tmp_path, "a cat", 100), _request(tmp_path, "please fail")])
        assert generator.provenance()["name"] == "toy-external"
    finally:
        generator.close()
    ok, failed = results
    frames, fps = decode_video(ok.path)
    assert frames.shape == (6, 32, 32, 3) and fps == pytest.approx(12) and ok.num_frames == 6
    assert abs(int(frames.mean()) - 100) <= 2 and ok.params == {"seed": 100}
    assert failed.path is None and failed.error == "external: cannot draw that"


def test_a_crashing_command_fails_the_request_with_its_exit_code(script, tmp_path):
    generator = ExternalGenerator({"command": f"{sys.executable} {script}", "timeout_s": 30})
    generator.load("cpu", "auto", None)
    crashed, after = generator.generate([_request(tmp_path, "crash now"), _request(tmp_path, "a dog")])
    generator.close()
    assert crashed.path is None and "exited (code 3)" in crashed.error
    assert after.path is None and after.error.startswith("external:")


def test_a_command_that_never_reports_ready_is_a_clear_error(tmp_path):
    silent = tmp_path / "silent.py"
    silent.write_text("print('hello, not json')\n")
    with pytest.raises(InputError, match="did not report ready"):
        ExternalGenerator({"command": [sys.executable, str(silent)]}).load("cpu", "auto", None)
    with pytest.raises(InputError, match="needs a command"):
        ExternalGenerator().load("cpu", "auto", None)
