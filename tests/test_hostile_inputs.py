"""Hostile and clumsy inputs: each one tried, one test each, with real files.

Each input, and what must happen:
- a bundle reusing a stored run id (`vbl import`, the board's check): refused, the run unchanged;
- a bundle whose summary.json claims other numbers: aggregates recomputed from the scores;
- a bundle that fails halfway into the store: nothing of it is left;
- a GIF over PIL's decompression-bomb limit, a GIF above our frame limit, a frame folder with a
  malformed fps.json: that video's failed row, the run goes on, --resume goes on too;
- an input error found after the run would open (empty or missing folder, bad prompt file,
  missing generator weights): exit 2, no manifest, no store row, and a retry works;
- a failed video, fixed, then --resume: retried (with --keep-failed: kept failed);
- a 1.5 MB zip that unpacks to 1.5 GiB: checked without unpacking; extraction stops at the limit
  and cleans up;
- a relative --videos path: stored absolute, and the board resolves it;
- --batch-size 0 / -3, --videos-per-batch 0, --option flow_memory_bytes=abc, an unknown
  --option, --device nonsense, --device cuda without a GPU, --dims "", --db sqlite://: one line,
  exit 2, nothing written;
- --out a file, --out where nothing can be written: one line, exit 2;
- two runs on one --out at once: the second is refused;
- a FIFO named x.mp4 in the folder: skipped, never read (a read would hang);
- --backend embedded with the weight-free temporal_flickering: runs;
- --resume with another --device: the manifest records the device that scored;
- --executor ray on one machine: Ray's servers listen on loopback only.

The leaderboard's hostile inputs (Markdown in names and prompts, a NUL byte in a stored path, CSV
formula cells, error details) are in tests/test_leaderboard_hostile.py.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from clips import clip_folder, sample_frames
from PIL import Image
from typer.testing import CliRunner

from vbench_lite.cli import app
from vbench_lite.errors import InputError
from vbench_lite.importer import import_path
from vbench_lite.leaderboard import bundle, data
from vbench_lite.runner import RunLock
from vbench_lite.store import ResultStore

FLICKER = "temporal_flickering"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def evaluate(videos: Path, out: Path, db: str, *extra: str):
    return run("evaluate", "--videos", str(videos), "--dims", FLICKER, "--out", str(out), "--db", db, *extra)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'vbl.db'}"


@pytest.fixture
def evaluated(tmp_path: Path, db: str) -> Path:
    """A finished real run (two real clips, temporal flickering) in `db`."""
    clip_folder(tmp_path / "videos", count=2)
    result = evaluate(tmp_path / "videos", tmp_path / "run", db)
    assert result.exit_code == 0, result.output
    return tmp_path / "run"


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder)}")
    return buffer.getvalue()


# -- 1. forged results ---------------------------------------------------------------------------


def test_a_bundle_reusing_a_stored_run_id_is_refused_and_the_run_is_unchanged(
    tmp_path: Path, db: str, evaluated: Path
) -> None:
    forged = tmp_path / "forged"
    shutil.copytree(evaluated, forged)
    manifest = json.loads((forged / "manifest.json").read_text())
    manifest["model"]["name"] = "someone else's model"
    (forged / "manifest.json").write_text(json.dumps(manifest))
    scores = pd.read_parquet(forged / "scores.parquet")
    scores["value"] = 1.0
    scores.to_parquet(forged / "scores.parquet")
    with ResultStore(db) as store:
        before = (store.runs_frame(), store.scores_frame(), store.aggregates_frame())
        board = data.load_board(db)

    with bundle.unpacked_metadata("forged.zip", zipped(forged)) as target:
        check = bundle.check_bundle(target, board)
    assert not check.accepted
    assert any(f.check == "run id" and "never changes a stored run" in f.detail for f in check.findings)

    result = run("import", str(forged), "--db", db)
    assert_one_line_error(result, "already in the store", "--new-id")
    with ResultStore(db) as store:
        after = (store.runs_frame(), store.scores_frame(), store.aggregates_frame())
    for old, new in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(old, new)

    result = run("import", str(forged), "--db", db, "--new-id")
    assert result.exit_code == 0, result.output
    with ResultStore(db) as store:
        assert len(store.run_ids()) == 2
        pd.testing.assert_frame_equal(store.scores_frame(manifest["run_id"]), before[1])


def test_an_imported_summary_is_never_trusted(tmp_path: Path, evaluated: Path) -> None:
    summary = json.loads((evaluated / "summary.json").read_text())
    honest = summary["dimensions"][FLICKER]["raw"]
    summary["dimensions"][FLICKER].update(raw=0.999, normalised=0.999)
    summary["quality"] = summary["total"] = 0.999
    (evaluated / "summary.json").write_text(json.dumps(summary))

    with ResultStore(f"sqlite:///{tmp_path / 'other.db'}") as store:
        run_id = import_path(store, evaluated)
        stored = store.aggregates_frame(run_id).set_index("name")
    assert stored.loc[FLICKER, "raw"] == pytest.approx(honest, abs=1e-12)
    assert pd.isna(stored.loc["total", "raw"])  # one dimension cannot make a Total


@pytest.mark.postgres
@pytest.mark.slow
def test_an_import_that_fails_halfway_leaves_nothing(fresh_postgres_url: str, evaluated: Path) -> None:
    """PostgreSQL refuses text with a NUL byte: the third video's insert fails inside the import."""
    scores = pd.read_parquet(evaluated / "scores.parquet")
    last = scores["video_key"].iloc[-1]
    scores.loc[scores["video_key"] == last, "prompt"] = "a cat\x00"
    scores.to_parquet(evaluated / "scores.parquet")
    with ResultStore(fresh_postgres_url) as store:
        with pytest.raises(Exception, match="(?i)nul|0x00"):
            import_path(store, evaluated)
        assert store.run_ids() == [] and store.scores_frame().empty and store.videos_frame().empty


# -- 2. one bad file never blocks a run ------------------------------------------------------------


def gif_with_canvas(path: Path, width: int, height: int) -> Path:
    """A real GIF89a whose logical screen is `width` x `height`, holding a 1x1 image (a few bytes)."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    path.write_bytes(header + image + b"\x3b")
    return path


@pytest.mark.slow
def test_oversized_gifs_and_a_broken_frame_folder_are_failed_rows_and_the_run_goes_on(
    tmp_path: Path, db: str
) -> None:
    videos = tmp_path / "videos"
    good = clip_folder(videos, count=1)
    gif_with_canvas(videos / "bomb-0.gif", 65535, 65535)  # 4.3 G pixels: PIL refuses to open it
    frames, _ = sample_frames("carphone_pristine")
    big = [Image.fromarray(np.ascontiguousarray(f)).resize((3000, 2000)) for f in frames[:2]]
    big[0].save(videos / "large-0.gif", save_all=True, append_images=big[1:])  # above 2560x1440
    folder = videos / "frames-0"
    folder.mkdir()
    for index, frame in enumerate(frames[:4]):
        Image.fromarray(np.ascontiguousarray(frame)).save(folder / f"{index:03d}.png")
    (folder / "fps.json").write_text('{"fps": "fast"}')

    result = evaluate(videos, tmp_path / "run", db)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    rows = pd.read_parquet(tmp_path / "run" / "scores.parquet").set_index("video_key")
    assert rows.loc[good[0].name, "status"] == "ok"
    assert "2560x1440" in rows.loc["bomb-0.gif", "error"]
    assert "2560x1440" in rows.loc["large-0.gif", "error"]
    assert "fps.json" in rows.loc["frames-0", "error"]
    assert all("\n" not in e for e in rows.loc[rows["status"] == "failed", "error"])
    again = evaluate(videos, tmp_path / "run", db, "--resume")  # the same files: no crash either
    assert again.exit_code == 1 and "Traceback" not in again.output


# -- 3. no orphan runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["empty folder", "missing folder", "bad prompt file"])
def test_an_input_error_leaves_no_run_behind_and_a_retry_works(tmp_path: Path, db: str, problem: str) -> None:
    videos, out = tmp_path / "videos", tmp_path / "run"
    extra: list[str] = []
    if problem == "empty folder":
        videos.mkdir()
    elif problem == "bad prompt file":
        clip_folder(videos, count=1)
        (tmp_path / "p.json").write_text("{not json")
        extra = ["--prompt-file", str(tmp_path / "p.json")]
    assert evaluate(videos, out, db, *extra).exit_code == 2
    assert not (out / "manifest.json").exists()
    with ResultStore(db) as store:
        assert store.run_ids() == []
    if videos.exists():
        shutil.rmtree(videos)
    clip_folder(videos, count=1)
    assert evaluate(videos, out, db).exit_code == 0


def test_missing_generator_weights_after_the_run_opened_leave_no_run(tmp_path: Path, db: str) -> None:
    out = tmp_path / "run"
    result = run("evaluate", "--model", "contentv", "--weights", str(tmp_path / "nowhere"), "--dims", FLICKER,
                 "--out", str(out), "--db", db)
    assert result.exit_code == 2, result.output
    assert not (out / "manifest.json").exists()
    with ResultStore(db) as store:
        assert store.run_ids() == []


# -- 4. failed rows are retried -----------------------------------------------------------------------


def test_resume_retries_a_fixed_video_unless_told_to_keep_failures(tmp_path: Path, db: str) -> None:
    videos = tmp_path / "videos"
    good = clip_folder(videos, count=2)
    broken = videos / "late-0.mp4"
    broken.write_bytes(b"not yet a video")
    for out in (tmp_path / "retry", tmp_path / "keep"):
        assert evaluate(videos, out, db).exit_code == 1
    shutil.copy(good[0], broken)  # the file is fixed

    assert evaluate(videos, tmp_path / "retry", db, "--resume").exit_code == 0
    assert evaluate(videos, tmp_path / "keep", db, "--resume", "--keep-failed").exit_code == 1
    retried = pd.read_parquet(tmp_path / "retry" / "scores.parquet").set_index("video_key")
    kept = pd.read_parquet(tmp_path / "keep" / "scores.parquet").set_index("video_key")
    assert retried.loc["late-0.mp4", "status"] == "ok" and kept.loc["late-0.mp4", "status"] == "failed"


# -- 5. uploads do not fill the disk -----------------------------------------------------------------


def zip_bomb(evaluated: Path, unpacked_bytes: int) -> bytes:
    """The run's small files plus a video of `unpacked_bytes` zeros: about 1/1000 of that zipped."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in evaluated.iterdir():
            if path.is_file():
                archive.write(path, f"run/{path.name}")
        with archive.open("run/videos/huge-0.mp4", "w", force_zip64=True) as member:
            chunk = bytes(64 * 1024 * 1024)
            for _ in range(unpacked_bytes // len(chunk)):
                member.write(chunk)
    return buffer.getvalue()


@pytest.mark.slow
def test_a_zip_bomb_is_checked_without_unpacking_and_extraction_stops_at_the_limit(
    tmp_path: Path, evaluated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = zip_bomb(evaluated, 3 * 512 * 1024 * 1024)  # 1.5 GiB of zeros
    assert len(bomb) < 4 * 1024 * 1024
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))

    with bundle.unpacked_metadata("bomb.zip", bomb) as target:
        written = sum(p.stat().st_size for p in scratch.rglob("*") if p.is_file())
        assert bundle.check_bundle(target, None).accepted
    assert written < 1024 * 1024 and not any(scratch.iterdir())  # checked from its run files, cleaned

    monkeypatch.setattr(bundle, "MAX_BUNDLE_BYTES", 256 * 1024 * 1024)
    with pytest.raises(InputError, match="unpacks to more than 256 MiB"):
        bundle.extract_bundle("bomb.zip", bomb, tmp_path / "import")
    assert not (tmp_path / "import").exists()


# -- 6. relative paths ---------------------------------------------------------------------------------


def test_a_relative_videos_path_is_stored_absolute_and_plays(tmp_path: Path, db: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    clip_folder(tmp_path / "videos", count=1)
    monkeypatch.chdir(tmp_path)
    assert evaluate(Path("videos"), Path("run"), db).exit_code == 0
    with ResultStore(db) as store:
        stored = store.videos_frame()["path"].iloc[0]
    assert Path(stored).is_absolute() and Path(stored).is_file()
    from vbench_lite.leaderboard.paths import resolve_video

    assert resolve_video(tmp_path, stored, str(tmp_path / "run")) == Path(stored).resolve()


# -- 8. bad option values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--batch-size", "0"], ["--batch-size must be at least 1"]),
        (["--batch-size", "-3"], ["--batch-size must be at least 1"]),
        (["--videos-per-batch", "0"], ["--videos-per-batch must be at least 1"]),
        (["--option", "flow_memory_bytes=abc"], ["unknown --option flow_memory_bytes"]),
        (["--dims", "dynamic_degree", "--option", "flow_memory_bytes=abc"], ["flow_memory_bytes='abc'", "number"]),
        (["--option", "nonsense=1"], ["unknown --option nonsense", "temporal_flickering.backend"]),
        (["--device", "nonsense"], ["--device 'nonsense' is not a device"]),
        (["--dims", ""], ["--dims"]),
        (["--db", "sqlite://"], ["in-memory"]),
    ],
)
def test_a_bad_setting_is_one_line_before_anything_runs(tmp_path: Path, db: str, flags: list[str],
                                                         fragments: list[str]) -> None:
    clip_folder(tmp_path / "videos", count=1)
    args = ["evaluate", "--videos", str(tmp_path / "videos"), "--dims", FLICKER, "--out", str(tmp_path / "run"),
            "--db", db, *flags]
    assert_one_line_error(run(*args), *fragments)
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_cuda_without_a_gpu_is_one_line(tmp_path: Path, db: str) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    clip_folder(tmp_path / "videos", count=1)
    assert_one_line_error(evaluate(tmp_path / "videos", tmp_path / "run", db, "--device", "cuda"), "no CUDA GPU")


@pytest.mark.parametrize("where", ["file", "unwritable"])
def test_an_unusable_out_is_one_line(tmp_path: Path, db: str, where: str) -> None:
    clip_folder(tmp_path / "videos", count=1)
    out = tmp_path / "taken.txt" if where == "file" else Path("/proc/vbl-run/out")
    if where == "file":
        out.write_text("mine")
    result = evaluate(tmp_path / "videos", out, db)
    assert_one_line_error(result, "--out")


# -- low: locks, FIFOs, weight-free backends, devices, Ray ---------------------------------------------


def test_a_second_run_on_the_same_out_is_refused(tmp_path: Path, db: str) -> None:
    clip_folder(tmp_path / "videos", count=1)
    with RunLock(tmp_path / "run"):
        assert_one_line_error(evaluate(tmp_path / "videos", tmp_path / "run", db), "another vbl is writing")
    assert evaluate(tmp_path / "videos", tmp_path / "run", db).exit_code == 0


def test_a_fifo_named_like_a_video_is_skipped(tmp_path: Path, db: str) -> None:
    clip_folder(tmp_path / "videos", count=1)
    os.mkfifo(tmp_path / "videos" / "pipe-0.mp4")
    result = evaluate(tmp_path / "videos", tmp_path / "run", db)  # a read would block forever
    assert result.exit_code == 0, result.output
    assert "pipe-0.mp4" not in set(pd.read_parquet(tmp_path / "run" / "scores.parquet")["video_key"])


def test_embedded_backend_runs_a_weight_free_dimension(tmp_path: Path, db: str) -> None:
    clip_folder(tmp_path / "videos", count=1)
    result = evaluate(tmp_path / "videos", tmp_path / "run", db, "--backend", "embedded")
    assert result.exit_code == 0, result.output


def test_resume_on_another_device_records_it(tmp_path: Path, db: str) -> None:
    videos = tmp_path / "videos"
    clip_folder(videos, count=2)
    (videos / "late-0.mp4").write_bytes(b"broken")
    assert evaluate(videos, tmp_path / "run", db, "--device", "cpu").exit_code == 1
    evaluate(videos, tmp_path / "run", db, "--device", "cpu:0", "--resume")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["environment"]["device"] == "cpu:0"


@pytest.mark.slow
def test_ray_on_one_machine_listens_on_loopback_only() -> None:
    pytest.importorskip("ray")
    probe = (
        "import psutil\n"
        "from vbench_lite.executors.ray_executor import connect\n"
        "ray = connect(None)\n"
        "ray.get(ray.remote(lambda: 1).remote())\n"
        "mine = {p.pid for p in psutil.process_iter() if 'ray' in ' '.join(p.cmdline() or []) or\n"
        "        p.name() in ('raylet', 'gcs_server')}\n"
        "listening = {c.laddr.ip for c in psutil.net_connections('inet') if c.status == 'LISTEN' and c.pid in mine}\n"
        "print(sorted(listening))\n"
        "ray.shutdown()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    addresses = json.loads(result.stdout.strip().splitlines()[-1].replace("'", '"'))
    assert addresses and set(addresses) <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, addresses
