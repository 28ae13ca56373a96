"""Checking an uploaded results bundle before it may enter the store (issue 6, item 5).

A bundle is a zip of one vbl run directory (manifest.json, scores.parquet, summary.json, ...)
or a bare VBench `eval_results.json`. `check_bundle` says, finding by finding, what is accepted,
what only deserves a warning and what is rejected and why:

- schema: the manifest's `schema_version`, its required keys, a finished status (a half-written
  "running" run is rejected), a readable scores table with the known columns and statuses, and
  scores whose backend and scorer version agree with the manifest;
- prompt suite: a suite the board already holds under the same name must have the same sha256;
- scorer versions: a (dimension, backend) the board already holds must have the same scorer
  version, else the numbers are not comparable.

Pure: no Streamlit, no writing to the store. `unpack_upload` refuses zip members that would
land outside the target folder (absolute names, `..`, symlinks).
"""

from __future__ import annotations

import json
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from vbench_lite.aggregate import canonical_dimension_name, known_schemes
from vbench_lite.errors import InputError
from vbench_lite.importer import read_eval_results
from vbench_lite.leaderboard.data import FINISHED, Board

MAX_BUNDLE_BYTES = 2 * 1024**3  # unpacked size; a run's videos can be large, a zip bomb larger
SCHEMA_VERSION = 1
REQUIRED_SCORE_COLUMNS = ("video_key", "prompt_id", "dimension", "backend", "dimension_version", "status", "value")
KNOWN_STATUSES = {"ok", "failed", "skipped"}


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


def unpack_upload(name: str, content: bytes, into: Path) -> Path:
    """Write an uploaded file under `into`; a zip is extracted safely. Returns what to check."""
    into.mkdir(parents=True, exist_ok=True)
    safe_name = PurePosixPath(name.replace("\\", "/")).name or "upload"
    target = into / safe_name
    target.write_bytes(content)
    if not zipfile.is_zipfile(target):
        return target
    folder = into / (target.stem or "bundle")
    with zipfile.ZipFile(target) as archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > MAX_BUNDLE_BYTES:
            raise InputError(f"{name} unpacks to more than {MAX_BUNDLE_BYTES // 1024**3} GiB; upload fewer videos")
        for member in members:
            parts = PurePosixPath(member.filename).parts
            if member.filename.startswith(("/", "\\")) or ".." in parts or ":" in member.filename:
                raise InputError(f"{name}: refused member {member.filename!r}: it would land outside the bundle folder")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise InputError(f"{name}: refused member {member.filename!r}: symlinks are not accepted in a bundle")
        archive.extractall(folder)
    target.unlink()
    # A zip of a folder holds that folder: descend to where manifest.json is.
    manifests = sorted(folder.rglob("manifest.json"), key=lambda p: len(p.parts))
    if manifests:
        return manifests[0].parent
    results = sorted(folder.rglob("*eval_results.json"))
    return results[0] if len(results) == 1 else folder


def check_bundle(path: Path, board: Board | None) -> BundleCheck:
    """All findings for a run directory or an eval_results.json (see the module docstring)."""
    if path.is_file() and path.name.endswith("eval_results.json"):
        return _check_eval_results(path)
    if path.is_dir() and (path / "manifest.json").exists():
        return _check_run_dir(path, board)
    check = BundleCheck("unknown", path)
    check.add("rejected", "schema", "neither a vbl run directory (no manifest.json) nor a VBench *eval_results.json")
    return check


def _check_eval_results(path: Path) -> BundleCheck:
    check = BundleCheck("VBench eval_results.json", path)
    try:
        results = read_eval_results(path)
    except InputError as error:
        check.add("rejected", "schema", str(error))
        return check
    check.add("accepted", "schema", f"{len(results.dimensions)} dimension(s): {', '.join(sorted(results.dimensions))}")
    check.run_id = "vbench-" + results.sha256[:16]
    check.model = path.stem.removesuffix("_eval_results").removesuffix("eval_results") or path.stem
    check.add(
        "warning",
        "prompt suite",
        "a VBench file names no prompt suite or hash: it is ranked in its own group ('no suite')",
    )
    check.add("accepted", "scorer version", "scores as computed by VBench itself (backend 'vbench')")
    return check


def _check_run_dir(path: Path, board: Board | None) -> BundleCheck:
    check = BundleCheck("run directory", path)
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        check.add("rejected", "schema", f"manifest.json is not readable JSON ({str(error).splitlines()[0]})")
        return check
    if not isinstance(manifest, dict):
        check.add("rejected", "schema", "manifest.json is not a JSON object")
        return check
    check.run_id = str(manifest.get("run_id") or "")
    check.model = str((manifest.get("model") or {}).get("name") or "")
    _check_manifest(check, manifest)
    dims = manifest.get("dimensions") if isinstance(manifest.get("dimensions"), dict) else {}
    _check_scores(check, path, dims)
    if board is not None:
        _check_against_board(check, manifest, dims, board)
    return check


def _check_manifest(check: BundleCheck, manifest: dict) -> None:
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        check.add(
            "rejected", "schema", f"manifest schema_version is {version!r}; this vbl reads version {SCHEMA_VERSION}"
        )
    missing = [key for key in ("run_id", "model", "dimensions", "status") if not manifest.get(key)]
    if missing:
        check.add("rejected", "schema", f"manifest lacks {', '.join(missing)}")
    status = manifest.get("status")
    if status and status not in FINISHED:
        check.add("rejected", "schema", f"run status is {status!r}: a half-written run; finish or resume it first")
    aggregation = (
        (manifest.get("aggregation") or {}).get("name") if isinstance(manifest.get("aggregation"), dict) else None
    )
    if aggregation and aggregation not in known_schemes():
        check.add(
            "rejected",
            "aggregation",
            f"unknown aggregation scheme {aggregation!r} (known: {', '.join(known_schemes())})",
        )
    if not [f for f in check.findings if f.level == "rejected"]:
        check.add(
            "accepted", "schema", f"manifest v{version}, run {check.run_id}, model {check.model}, status {status}"
        )


def _check_scores(check: BundleCheck, path: Path, dims: dict) -> None:
    scores_path = path / "scores.parquet"
    if not scores_path.exists():
        if (path / "eval_results.json").exists():
            check.add("warning", "schema", "no scores.parquet; per-video scores come from eval_results.json")
        else:
            check.add("rejected", "schema", "neither scores.parquet nor eval_results.json: no scores to import")
        return
    try:
        scores = pd.read_parquet(scores_path)
    except Exception as error:  # pyarrow raises several unrelated types for a broken file
        check.add("rejected", "schema", f"scores.parquet is unreadable ({str(error).splitlines()[0]})")
        return
    missing = [c for c in REQUIRED_SCORE_COLUMNS if c not in scores.columns]
    if missing:
        check.add("rejected", "schema", f"scores.parquet lacks column(s) {', '.join(missing)}")
        return
    unknown = sorted(set(scores["status"].astype(str)) - KNOWN_STATUSES)
    if unknown:
        check.add("rejected", "schema", f"scores.parquet has unknown status value(s) {', '.join(unknown)}")
    declared = {canonical_dimension_name(k): v for k, v in dims.items() if isinstance(v, dict)}
    for (dim, backend, version), _ in scores.groupby(["dimension", "backend", "dimension_version"]):
        info = declared.get(canonical_dimension_name(str(dim)))
        if info is None:
            check.add("rejected", "scorer version", f"{dim} is scored but not declared in the manifest")
        elif str(info.get("backend")) != str(backend) or str(info.get("version")) != str(version):
            check.add(
                "rejected",
                "scorer version",
                f"{dim}: scores say backend {backend} v{version}, the manifest says "
                f"{info.get('backend')} v{info.get('version')}",
            )
    if not any(f.level == "rejected" and f.check in ("schema", "scorer version") for f in check.findings):
        check.add(
            "accepted", "schema", f"scores.parquet: {len(scores)} scores of {scores['video_key'].nunique()} videos"
        )


def _check_against_board(check: BundleCheck, manifest: dict, dims: dict, board: Board) -> None:
    suite = manifest.get("prompt_suite") if isinstance(manifest.get("prompt_suite"), dict) else None
    if suite and suite.get("name"):
        name, sha = str(suite["name"]), str(suite.get("sha256") or "")
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
    for dim, info in sorted(dims.items()):
        if not isinstance(info, dict):
            continue
        same = stored[(stored["dimension"] == dim) & (stored["backend"] == str(info.get("backend")))]
        versions = sorted(set(same["dimension_version"].astype(str)) - {str(info.get("version"))})
        if versions:
            check.add(
                "rejected",
                "scorer version",
                f"{dim} ({info.get('backend')}) is scorer v{info.get('version')} here, v{versions[0]} on the board",
            )
        else:
            check.add("accepted", "scorer version", f"{dim}: {info.get('backend')} v{info.get('version')}")
    if check.run_id and check.run_id in set(board.runs["run_id"]):
        check.add("warning", "run id", f"run {check.run_id} is already on the board; importing replaces it")
