"""Checking an uploaded results bundle before it may enter the store.

A bundle is a zip of one vbl run directory (manifest.json, scores.parquet, …, videos/) or a bare
VBench `eval_results.json`. `check_bundle` says, finding by finding, what is accepted, what only
deserves a warning and what is rejected and why:

- schema: the manifest (read as `vbench_lite.rundir` reads it), a finished status (a half-written
  "running" run is rejected), a readable scores table with the known columns and statuses, and
  scores whose backend and scorer version agree with the manifest;
- run id: a run the board already holds is rejected, since an import never changes a stored run;
- prompt suite: a suite the board already holds under the same name must have the same sha256;
- scorer versions: a (dimension, backend) the board already holds must have the same scorer
  version, else the numbers are not comparable.

Uploads are never unpacked whole to be checked: `unpacked_metadata` extracts only the small run
files, streaming and counting bytes, into a temporary folder that is removed afterwards.
`extract_bundle` (only when importing is allowed) extracts everything the same way. Both refuse
members that would land outside the target folder (absolute names, `..`, symlinks) and stop at
MAX_BUNDLE_BYTES of real, decompressed data, whatever the zip's headers claim.
"""

from __future__ import annotations

import io
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from vbench_lite.aggregate import known_schemes
from vbench_lite.errors import InputError
from vbench_lite.importer import vbench_run_id
from vbench_lite.leaderboard.data import Board
from vbench_lite.rundir import (
    EVAL_RESULTS,
    MANIFEST,
    SCORES,
    SUMMARY,
    Manifest,
    RunDirError,
    canonical_dimension_name,
    read_eval_results,
    read_manifest,
    read_scores,
)

MAX_BUNDLE_BYTES = 2 * 1024**3  # unpacked size; a run's videos can be large, a zip bomb larger
MAX_METADATA_BYTES = 256 * 1024**2  # manifest, scores, summary, eval_results of one run
METADATA_FILES = (MANIFEST, SCORES, SUMMARY, EVAL_RESULTS, "videos.parquet")
REQUIRED_SCORE_COLUMNS = ("video_key", "prompt_id", "dimension", "backend", "dimension_version", "status", "value")
_CHUNK = 1024 * 1024


@dataclass
class Finding:
    level: str  # accepted | warning | rejected
    check: str  # schema | prompt suite | scorer version | ...
    detail: str


@dataclass
class BundleCheck:
    kind: str  # "run directory" | "VBench eval_results.json" | "unknown"
    path: Path
    findings: list[Finding] = field(default_factory=list)
    run_id: str = ""
    model: str = ""

    @property
    def accepted(self) -> bool:
        return not any(f.level == "rejected" for f in self.findings)

    def add(self, level: str, check: str, detail: str) -> None:
        self.findings.append(Finding(level, check, detail))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([vars(f) for f in self.findings], columns=["level", "check", "detail"])


@contextmanager
def unpacked_metadata(name: str, content: bytes) -> Iterator[Path]:
    """The upload's run files (no videos) in a temporary folder, removed on exit; yields what to
    check: a run directory or an eval_results.json."""
    with tempfile.TemporaryDirectory(prefix="vbl-upload-") as folder:
        yield _unpack(name, content, Path(folder), metadata_only=True)


def extract_bundle(name: str, content: bytes, into: Path) -> Path:
    """Everything in the upload under `into` (created; removed again if extraction fails)."""
    into.mkdir(parents=True, exist_ok=False)
    try:
        return _unpack(name, content, into, metadata_only=False)
    except BaseException:
        shutil.rmtree(into, ignore_errors=True)
        raise


def unpack_upload(name: str, content: bytes, into: Path) -> Path:
    """Write an uploaded file under `into`, a zip extracted whole and safely; returns what to check."""
    into.mkdir(parents=True, exist_ok=True)
    return _unpack(name, content, into, metadata_only=False)


def _unpack(name: str, content: bytes, into: Path, metadata_only: bool) -> Path:
    safe_name = PurePosixPath(name.replace("\\", "/")).name or "upload"
    if not zipfile.is_zipfile(io.BytesIO(content)):
        if len(content) > MAX_METADATA_BYTES:
            raise InputError(f"{name} is larger than {MAX_METADATA_BYTES // 1024**2} MiB; upload a smaller file")
        target = into / safe_name
        target.write_bytes(content)
        return target
    folder = into / (PurePosixPath(safe_name).stem or "bundle")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        for member in members:
            parts = PurePosixPath(member.filename).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts or ":" in member.filename:
                raise InputError(f"{name}: refused member {member.filename!r}: it would land outside the bundle folder")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise InputError(f"{name}: refused member {member.filename!r}: symlinks are not accepted in a bundle")
        if metadata_only:
            members = [m for m in members if PurePosixPath(m.filename).name in METADATA_FILES
                       or m.filename.endswith("eval_results.json")]
        limit = MAX_METADATA_BYTES if metadata_only else MAX_BUNDLE_BYTES
        written = 0
        for member in members:
            destination = folder.joinpath(*PurePosixPath(member.filename).parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, destination.open("wb") as sink:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise InputError(f"{name} unpacks to more than {_size(limit)}; "
                                         + ("its run files are too large" if metadata_only else "upload fewer videos"))
                    sink.write(chunk)
    # A zip of a folder holds that folder: descend to where manifest.json is.
    manifests = sorted(folder.rglob(MANIFEST), key=lambda p: len(p.parts))
    if manifests:
        return manifests[0].parent
    results = sorted(folder.rglob("*eval_results.json"))
    return results[0] if len(results) == 1 else folder


def _size(count: int) -> str:
    return f"{count // 1024**3} GiB" if count >= 1024**3 else f"{count // 1024**2} MiB"


def check_bundle(path: Path, board: Board | None) -> BundleCheck:
    """All findings for a run directory or an eval_results.json (see the module docstring)."""
    if path.is_file() and path.name.endswith("eval_results.json"):
        check = _check_eval_results(path)
        if board is not None:
            _check_run_id(check, board)
        return check
    if path.is_dir() and (path / MANIFEST).exists():
        return _check_run_dir(path, board)
    check = BundleCheck("unknown", path)
    check.add("rejected", "schema", "neither a vbl run directory (no manifest.json) nor a VBench *eval_results.json")
    return check


def _check_eval_results(path: Path) -> BundleCheck:
    check = BundleCheck("VBench eval_results.json", path)
    try:
        results = read_eval_results(path)
    except RunDirError as error:
        check.add("rejected", "schema", str(error))
        return check
    check.add("accepted", "schema", f"{len(results.dimensions)} dimension(s): {', '.join(sorted(results.dimensions))}")
    empty = sorted(name for name, d in results.dimensions.items() if not d.entries)
    if empty:
        check.add("rejected", "schema", f"no per-video results for {', '.join(empty)}: aggregates are recomputed "
                                        "from them on import")
    check.run_id = vbench_run_id(results)
    check.model = path.stem.removesuffix("_eval_results").removesuffix("eval_results").strip("_-") or ""
    check.add(
        "warning",
        "prompt suite",
        "a VBench file names no prompt suite or hash: it is ranked in its own group ('no suite')",
    )
    recorded = {name: sorted({str(e["backend"]) for e in d.entries if e.get("backend")})
                for name, d in results.dimensions.items()}
    named = {name: backends for name, backends in recorded.items() if backends}
    if named:
        shown = "; ".join(f"{name}: {', '.join(backends)}" for name, backends in sorted(named.items()))
        check.add("accepted", "backend", f"backend as recorded in the file ({shown})")
    bare = sorted(name for name, backends in recorded.items() if not backends)
    if bare:
        check.add("warning", "backend", "no backend recorded: assumed VBench's own code"
                  + (f" ({', '.join(bare)})" if named else ""))
    return check


def _check_run_dir(path: Path, board: Board | None) -> BundleCheck:
    check = BundleCheck("run directory", path)
    try:
        manifest = read_manifest(path)
    except RunDirError as error:
        check.add("rejected", "schema", str(error))
        return check
    check.run_id = manifest.run_id
    check.model = manifest.model.name or ""
    _check_manifest(check, manifest)
    _check_scores(check, path, manifest)
    if board is not None:
        _check_against_board(check, manifest, board)
    return check


def _check_manifest(check: BundleCheck, manifest: Manifest) -> None:
    missing = [what for what, present in (("model name", manifest.model.name), ("dimensions", manifest.dimensions))
               if not present]
    if missing:
        check.add("rejected", "schema", f"manifest lacks {', '.join(missing)}")
    if not manifest.status.finished:
        check.add("rejected", "schema",
                  f"run status is {str(manifest.status)!r}: a half-written run; finish or resume it first")
    aggregation = manifest.aggregation.name if manifest.aggregation else None
    if aggregation and aggregation not in known_schemes():
        check.add(
            "rejected",
            "aggregation",
            f"unknown aggregation scheme {aggregation!r} (known: {', '.join(known_schemes())})",
        )
    if not [f for f in check.findings if f.level == "rejected"]:
        check.add("accepted", "schema", f"manifest v{manifest.schema_version}, run {check.run_id}, "
                                        f"model {check.model}, status {manifest.status}")


def _check_scores(check: BundleCheck, path: Path, manifest: Manifest) -> None:
    if not (path / SCORES).exists():
        if (path / EVAL_RESULTS).exists():
            check.add("warning", "schema", "no scores.parquet; per-video scores come from eval_results.json")
        else:
            check.add("rejected", "schema", "neither scores.parquet nor eval_results.json: no scores to import")
        return
    try:
        scores = read_scores(path)
    except RunDirError as error:
        check.add("rejected", "schema", str(error))
        return
    missing = [c for c in REQUIRED_SCORE_COLUMNS if c not in scores.columns]
    if missing:
        check.add("rejected", "schema", f"scores.parquet lacks column(s) {', '.join(missing)}")
        return
    declared = {canonical_dimension_name(k): v for k, v in manifest.dimensions.items()}
    for (dim, backend, version), _ in scores.groupby(["dimension", "backend", "dimension_version"]):
        info = declared.get(canonical_dimension_name(str(dim)))
        if info is None:
            check.add("rejected", "scorer version", f"{dim} is scored but not declared in the manifest")
        elif str(info.backend) != str(backend) or str(info.version) != str(version):
            check.add(
                "rejected",
                "scorer version",
                f"{dim}: scores say backend {backend} v{version}, the manifest says {info.backend} v{info.version}",
            )
    if not any(f.level == "rejected" and f.check in ("schema", "scorer version") for f in check.findings):
        check.add(
            "accepted", "schema", f"scores.parquet: {len(scores)} scores of {scores['video_key'].nunique()} videos"
        )


def _check_against_board(check: BundleCheck, manifest: Manifest, board: Board) -> None:
    suite = manifest.prompt_suite
    if suite and suite.name:
        name, sha = str(suite.name), str(suite.sha256 or "")
        known = board.runs[board.runs["prompt_suite"] == name]["prompt_suite_sha256"].dropna().unique()
        others = [h for h in known if h != sha]
        if others:
            check.add(
                "rejected",
                "prompt suite",
                f"suite {name!r} has sha256 {sha[:12]} here but {others[0][:12]} on the board: "
                "different prompts under one name would be ranked together",
            )
        else:
            check.add("accepted", "prompt suite", f"{name} (sha256 {sha[:12]})")
    else:
        check.add("warning", "prompt suite", "no prompt suite (custom input): ranked in its own group")
    stored = board.scores.drop_duplicates(["dimension", "backend", "dimension_version"])
    for dim, info in sorted(manifest.dimensions.items()):
        same = stored[(stored["dimension"] == dim) & (stored["backend"] == str(info.backend))]
        versions = sorted(set(same["dimension_version"].astype(str)) - {str(info.version)})
        if versions:
            check.add(
                "rejected",
                "scorer version",
                f"{dim} ({info.backend}) is scorer v{info.version} here, v{versions[0]} on the board",
            )
        else:
            check.add("accepted", "scorer version", f"{dim}: {info.backend} v{info.version}")
    _check_run_id(check, board)


def _check_run_id(check: BundleCheck, board: Board) -> None:
    if check.run_id and check.run_id in set(board.runs["run_id"]):
        check.add("rejected", "run id", f"run {check.run_id} is already on the board; an import never changes a "
                                        "stored run (`vbl import --new-id` stores it as a new run)")
