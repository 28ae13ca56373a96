"""The `vbl gate` and `vbl baseline promote` commands; `register(app)` adds them to the CLI.

Exit codes (docs/gate.md): 0 pass, 1 regression, 2 usage error, 3 incompatible or incomplete
data, 4 internal error. A user's mistake ends in one line on stderr, never a traceback; only a
bug (exit 4) prints one. Heavy imports (pandas, scipy) happen inside the commands, so `vbl --help`
stays fast and torch is never imported.
"""

from __future__ import annotations

import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vbench_lite.errors import VblError
from vbench_lite.gate.errors import EXIT_INTERNAL, EXIT_USAGE

if TYPE_CHECKING:
    from vbench_lite.gate.engine import GateReport


class GithubMode(StrEnum):
    auto = "auto"
    on = "on"
    off = "off"


def register(app: typer.Typer) -> None:
    app.command("gate", help="Compare a candidate run with a baseline; exit 1 on a regression.")(gate)
    baseline_app = typer.Typer(help="Baselines for `vbl gate`.", no_args_is_help=True)
    baseline_app.command("promote", help="Write a run's scores and hashes as a baseline file.")(promote)
    app.add_typer(baseline_app, name="baseline")


def gate(
    candidate: Annotated[Path, typer.Option(help="Run directory of the checkpoint under test.")],
    baseline: Annotated[Path, typer.Option(help="Baseline .json (`vbl baseline promote`) or a run directory.")],
    policy: Annotated[Path | None, typer.Option(help="Gate policy TOML merged over the shipped default.")] = None,
    dims: Annotated[
        str | None,
        typer.Option(help="all | quality | semantic | comma list of dimension/aggregate names."),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here.")] = None,
    report_json: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    github: Annotated[
        GithubMode,
        typer.Option(help="GitHub annotations + step summary; auto: when GITHUB_ACTIONS=true."),
    ] = GithubMode.auto,
    strict: Annotated[bool, typer.Option("--strict", help="WARN fails the gate too.")] = False,
    seed: Annotated[int, typer.Option(help="Bootstrap seed; same seed, same report.")] = 0,
    allow_mismatch: Annotated[
        bool, typer.Option("--allow-mismatch", help="Compare only the overlap of differing inputs, with warnings.")
    ] = False,
) -> None:
    try:
        from vbench_lite.gate.engine import run_gate
        from vbench_lite.gate.policy import load_policy

        report = run_gate(
            candidate,
            baseline,
            policy=load_policy(policy),
            dims=dims,
            seed=seed,
            strict=strict,
            allow_mismatch=allow_mismatch,
        )
        for warning in report.warnings:
            typer.echo(f"warning: {warning}", err=True)
        _write_outputs(report, junit, report_json, github)
        code = report.exit_code
    except VblError as error:
        typer.echo(f"error: {error}", err=True)
        code = getattr(error, "exit_code", EXIT_USAGE)
    except Exception:  # a bug: keep the traceback for the report, and say so
        traceback.print_exc(file=sys.stderr)
        typer.echo("error: internal error in vbl gate (a bug; please report the traceback above)", err=True)
        code = EXIT_INTERNAL
    raise typer.Exit(code)


def _write_outputs(report: GateReport, junit: Path | None, report_json: Path | None, github: GithubMode) -> None:
    from vbench_lite.gate import github as gh
    from vbench_lite.gate.junit import write_junit
    from vbench_lite.gate.report import print_report, write_report_json

    for path, write in ((report_json, write_report_json), (junit, write_junit)):
        if path is None:
            continue
        try:
            write(report, path)
        except OSError as error:
            raise VblError(f"cannot write {path}: {error.strerror or error}") from None
    print_report(report)
    if gh.use_github(github.value):
        for line in gh.annotation_lines(report):
            typer.echo(line)
        try:
            gh.append_step_summary(report)
        except OSError as error:
            raise VblError(f"cannot append to $GITHUB_STEP_SUMMARY: {error}") from None


def promote(
    run: Annotated[Path, typer.Argument(help="A finished run directory.")],
    out: Annotated[Path, typer.Option(help="Where to write the baseline, e.g. baselines/NAME.json.")],
) -> None:
    try:
        from vbench_lite.gate.baseline import promote as promote_run
        from vbench_lite.gate.baseline import write_baseline
        from vbench_lite.gate.errors import GateUsageError

        if not run.is_dir():
            raise GateUsageError(f"run directory not found: {run}")
        record = promote_run(run)
        try:
            write_baseline(record, out)
        except OSError as error:
            raise GateUsageError(f"cannot write {out}: {error.strerror or error}") from None
        prompts = {p for table in record["per_prompt"].values() for p in table}
        typer.echo(
            f"baseline written: {out} ({len(record['per_prompt'])} dimension(s), "
            f"{len(prompts)} prompt(s)); review and commit it"
        )
        code = 0
    except VblError as error:
        typer.echo(f"error: {error}", err=True)
        code = getattr(error, "exit_code", EXIT_USAGE)
    except Exception:
        traceback.print_exc(file=sys.stderr)
        typer.echo("error: internal error in vbl baseline promote (a bug; please report the traceback above)", err=True)
        code = EXIT_INTERNAL
    raise typer.Exit(code)
