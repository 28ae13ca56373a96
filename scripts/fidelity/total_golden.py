"""Record what VBench's own final-score script makes of a vbl run: tests/data/total_golden.json.

VBench computes its leaderboard Quality, Semantic and Total with `scripts/cal_final_score.py` of
github.com/Vchitect/VBench (it imports `scripts/constant.py` from its own folder; neither ships in
the pip package). Give the script's path, from the repository root:

    python scripts/fidelity/total_golden.py /path/to/VBench/scripts/cal_final_score.py
    python scripts/fidelity/total_golden.py /path/to/VBench/scripts/cal_final_score.py --rerun \
        --vbench-commit $(git -C /path/to/VBench rev-parse HEAD)

--rerun first makes the input: the run of `tests/total_suite.py` (`vbl evaluate --dims all
--backend vbench` over a small VBench-format suite, all 16 dimensions, seeded random weights, real
clips; needs the project's test environment: vbench, pyiqa and openai-clip importable). Its
eval_results.json, with each video path made relative to the video folder, becomes
tests/data/total_eval_results.json.

Then the file is handed to VBench's script as a submission is: zipped, and
`python cal_final_score.py --zip_file Z --model_name M` run in a temporary folder (it needs only
Python's standard library, so this interpreter runs it). Recorded: the
dict the script prints (its reading of the file: "subject consistency" -> the aggregate, 0 for a
dimension the file lacks), its quality, semantic and total score lines (floats as Python prints
them, so they read back exactly), and the sha256 of the script, of constant.py and of the input.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "total_eval_results.json"
GOLDEN = ROOT / "tests" / "data" / "total_golden.json"
SCORE_LINE = re.compile(r"^\|\s*(quality|semantic|total) score\|(.+)\|$")
SUBMISSION = "your submission info:"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rerun() -> None:
    """Run the suite of tests/total_suite.py as the test does, and store its eval_results.json."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for variable in ("VBL_HOME", "VBENCH_CACHE_DIR", "TORCH_HOME", "HF_HOME"):  # no cache of this machine
            os.environ[variable] = str(work / variable.lower())
        os.environ.pop("VBL_WEIGHTS_DIR", None)
        import total_suite

        videos = total_suite.write_videos(work / "videos")
        full_info = total_suite.write_full_info(work / "full_info.json")
        weights = total_suite.write_weights(work / "weights")
        result = total_suite.evaluate(videos, full_info, weights, work / "run")
        if result.exit_code != 0:
            sys.exit(f"vbl evaluate exited {result.exit_code}:\n{result.output}")
        eval_results = json.loads((work / "run" / "eval_results.json").read_text())
        FIXTURE.write_text(json.dumps(total_suite.deterministic(eval_results, videos), indent=1) + "\n")
    print(f"wrote {FIXTURE.relative_to(ROOT)}")


def cal_final_score(script: Path, eval_results: Path) -> dict:
    """VBench's script on `eval_results` as a submission zip: what it read and the three scores."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        archive = work / "evaluation_results.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.write(eval_results, eval_results.name)
        printed = subprocess.run([sys.executable, str(script), "--zip_file", str(archive), "--model_name", "model"],
                                 cwd=work, capture_output=True, text=True, check=True).stdout
    lines = [line.strip() for line in printed.splitlines()]  # the script prints trailing spaces
    read = ast.literal_eval(lines[lines.index(SUBMISSION) + 1])
    scores = {m[1]: float(m[2]) for m in map(SCORE_LINE.match, lines) if m}
    if set(scores) != {"quality", "semantic", "total"}:
        sys.exit(f"{script.name} printed no quality/semantic/total lines:\n{printed}")
    return {"read": read, **scores, "printed": printed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script", type=Path, help="VBench's scripts/cal_final_score.py (constant.py beside it)")
    parser.add_argument("--rerun", action="store_true", help="first rewrite tests/data/total_eval_results.json")
    parser.add_argument("--vbench-commit", default=None, help="the VBench commit the two scripts come from (recorded)")
    args = parser.parse_args()
    script = args.script.resolve()
    if args.rerun:
        rerun()
    result = cal_final_score(script, FIXTURE)
    golden = {
        "oracle": "scripts/cal_final_score.py of github.com/Vchitect/VBench",
        "vbench_commit": args.vbench_commit,
        "script_sha256": sha256(script),
        "constant_sha256": sha256(script.with_name("constant.py")),
        "input": FIXTURE.relative_to(ROOT).as_posix(),
        "input_sha256": sha256(FIXTURE),
        "python": sys.version.split()[0],
        **result,
    }
    GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")
    print(f"wrote {GOLDEN.relative_to(ROOT)}: quality {result['quality']!r}, semantic {result['semantic']!r}, "
          f"total {result['total']!r}")


if __name__ == "__main__":
    main()
