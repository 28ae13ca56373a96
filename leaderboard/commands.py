"""`vbl leaderboard`: start the Streamlit app on a results store.

`register(app)` adds the command to the `vbl` CLI. Only typer and the standard library are
imported here, so `vbl --help` never imports Streamlit (or torch). The app runs as a
`streamlit run leaderboard/app.py` subprocess and gets its settings through environment
variables (see `vbench_lite.leaderboard.settings`).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

APP_PATH = Path(__file__).with_name("app.py")
DEFAULT_STALE_AFTER_HOURS = 2.0  # the app's own default (settings.py); kept here so `vbl --help` imports no app code
DEFAULT_PORT = 8501
STOP_TIMEOUT_S = 10


def register(app: typer.Typer) -> None:
    app.command("leaderboard", help="Start the leaderboard web app (Streamlit) on a results store.")(leaderboard)


def app_environment(
    db: str | None,
    results: Path | None,
    published: Path | None = None,
    allow_import: bool = False,
    base: dict[str, str] | None = None,
    stale_after: float | None = None,
) -> dict[str, str]:
    """The environment of the app process: the caller's, plus the leaderboard settings."""
    env = dict(os.environ if base is None else base)
    if db:
        env["VBL_DB"] = db
    if results is not None:
        env["VBL_RESULTS_ROOT"] = str(results.expanduser().resolve())
    if published is not None:
        env["VBL_PUBLISHED"] = str(published.expanduser().resolve())
    if allow_import:
        # The import page opens its own writable store on this URL; the rest of the app stays read-only.
        env["VBL_IMPORT_DB"] = db or env.get("VBL_DB", "")
    else:
        env.pop("VBL_IMPORT_DB", None)
    if stale_after is not None:
        env["VBL_STALE_AFTER_HOURS"] = str(stale_after)
    env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    return env


def streamlit_command(port: int, address: str = "127.0.0.1", headless: bool = True) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",  # no "Deploy" button on a results board
        "--client.showErrorDetails",
        "none",  # a visitor sees "an error occurred", never a traceback with server paths
    ]


def leaderboard(
    db: Annotated[str | None, typer.Option(help="results store URL (default: $VBL_DB or ~/.vbl/vbl.db)")] = None,
    results: Annotated[
        Path | None, typer.Option(help="results root: videos are played from it (and from each run's own input folder)")
    ] = None,
    port: Annotated[int, typer.Option(help="port to serve on")] = DEFAULT_PORT,
    address: Annotated[str, typer.Option(help="address to listen on (0.0.0.0 for a team server)")] = "127.0.0.1",
    published: Annotated[
        Path | None, typer.Option(help="CSV/JSON of published VBench rows to show next to our runs")
    ] = None,
    allow_import: Annotated[
        bool, typer.Option("--allow-import", help="let the Import page write accepted bundles into --db")
    ] = False,
    stale_after: Annotated[
        float, typer.Option(help="hours after which a run still 'running' is marked stale (probably killed)")
    ] = DEFAULT_STALE_AFTER_HOURS,
    browser: Annotated[bool, typer.Option("--browser", help="open a browser tab")] = False,
) -> None:
    problem = _problem(results, published, port) or (None if stale_after > 0 else "--stale-after must be > 0 hours")
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    typer.echo(f"leaderboard on http://{address}:{port} (Ctrl+C stops it)", err=True)
    process = subprocess.Popen(
        streamlit_command(port, address, headless=not browser),
        env=app_environment(db, results, published, allow_import, stale_after=stale_after),
    )
    raise typer.Exit(_wait(process))


def _wait(process: subprocess.Popen) -> int:
    """Wait for the app; a SIGTERM or Ctrl+C to `vbl` stops it too (no orphaned server)."""

    def stop(_signum: int, _frame: object) -> None:
        process.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _problem(results: Path | None, published: Path | None, port: int) -> str | None:
    if importlib.util.find_spec("streamlit") is None:
        return "the leaderboard needs Streamlit: pip install 'vbench-lite[app]'"
    if results is not None and not results.is_dir():
        return f"--results {results} is not a folder; give the folder that holds your run directories"
    if published is not None and not published.is_file():
        return f"--published {published} is not a file; give a CSV or JSON of published rows"
    if not 0 < port < 65536:
        return f"--port {port} is not a TCP port (1-65535)"
    return None
