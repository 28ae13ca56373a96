"""`vbl evaluate`: check every input, open the run, generate if asked, decode each video once, score
it on every requested dimension, commit after every video, then aggregate and write the run
directory.

The runner alone writes the manifest, once per phase (opened, generated, scorers ready, finished);
the executor (local or Ray) does the work and returns outcomes. A killed run continues with
`--resume`: the store knows which (video, dimension) pairs are finished, and only the rest is
redone (failed pairs too, unless --keep-failed). Per-video problems become failed rows with
their reason; the run goes on and the summary counts them.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from vbench_lite import registry
from vbench_lite.aggregate import AggregationScheme, load_scheme, scheme_for_task
from vbench_lite.backbones import BackboneCache
from vbench_lite.dimension import Option, ScoringContext, scoring_precision
from vbench_lite.errors import InputError, VblError
from vbench_lite.executors.base import Executor, ExecutorSettings
from vbench_lite.generator import Generator
from vbench_lite.long_video import LongMode
from vbench_lite.manifest import config_hash, new_manifest, new_run_id
from vbench_lite.outputs import RunSummary, summarise, write_run_outputs
from vbench_lite.prompts import PromptSuite, load_suite
from vbench_lite.rundir import (
    MANIFEST,
    AggregationRecord,
    Manifest,
    ModelRecord,
    RunStatus,
    SuiteRecord,
    has_manifest,
    read_manifest,
    write_manifest,
)
from vbench_lite.store import ResultStore, ScoreRow, VideoRow, default_db_url
from vbench_lite.worklist import WorkList, attach_images, custom_input, run_task, standard_mode, suite_requests

log = logging.getLogger(__name__)

DEFAULT_SUITE = "vbl-mini"


@dataclass
class EvaluateOptions:
    out: Path
    dims: str = "all"
    videos: Path | None = None
    model: str | None = None
    prompts: str | None = None
    prompt_file: Path | None = None
    images: Path | None = None  # image-to-video conditioning images (VBench's custom image folder)
    resume: bool = False
    device: str = "cpu"
    batch_size: int = 16
    videos_per_batch: int = 4
    backend: str = "auto"
    db: str | None = None
    weights: Path | None = None
    samples: int | None = None
    seed: int = 0
    model_options: dict[str, Any] = field(default_factory=dict)
    dimension_options: dict[str, Any] = field(default_factory=dict)
    generate_only: bool = False
    accept_license: list[str] = field(default_factory=list)
    name: str | None = None  # the model's label on the leaderboard (default: --model, or "videos")
    revision: str | None = None  # checkpoint / revision label
    keep_failed: bool = False  # --resume --keep-failed: failed (video, dimension) pairs stay failed
    long: str | None = None  # VBench-Long mode: "fixed" clips, or "scenes" (scene cuts, then clips)
    executor: str = "local"  # local | ray; not in config(): either executor resumes a run
    ray_address: str | None = None  # None/"local": Ray on this host; "auto" or HOST:PORT: a cluster

    def __post_init__(self) -> None:
        if self.long not in (None, "fixed", "scenes"):
            raise InputError(f"--long-split must be fixed or scenes, not '{self.long}'")
        if self.executor not in ("local", "ray"):
            raise InputError(f"--executor must be local or ray, not '{self.executor}'")
        if self.executor == "ray":
            from vbench_lite.executors.ray_executor import import_ray, require_shared_store

            import_ray(self.ray_address)
            require_shared_store(self.ray_address, self.db or default_db_url())

    def config(self, dims: list[str], suite: PromptSuite | None) -> dict[str, Any]:
        """The settings that can change a number: the config hash covers exactly these."""
        return {
            "dims": dims,
            "backend": self.backend,
            "videos": str(self.videos.resolve()) if self.videos else None,
            "model": self.model,
            "model_options": self.model_options,
            "prompts": suite.sha256 if suite is not None else None,
            "prompt_file": str(self.prompt_file) if self.prompt_file else None,
            "samples": self.samples,
            "seed": self.seed,
            "dimension_options": self.dimension_options,
            # Only when set, so that runs made before VBench-Long mode keep their config hash.
            **({"long": self.long} if self.long else {}),
            # Only when given, so that runs made before --images existed keep their config hash
            **({"images": str(self.images.resolve())} if self.images else {}),
        }

    def executor_settings(self) -> ExecutorSettings:
        return ExecutorSettings(device=self.device, videos_per_batch=self.videos_per_batch,
                                generator_weights=self.weights, ray_address=self.ray_address,
                                long=LongMode(self.long) if self.long else None)  # type: ignore[arg-type]


@dataclass
class RunReport:
    run_id: str
    run_dir: Path
    summary: RunSummary | None
    failed_videos: int = 0
    unavailable: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if (self.failed_videos or self.unavailable) else 0


def evaluate(options: EvaluateOptions, console: Console | None = None) -> RunReport:
    """Run the evaluation; progress bars go to `console` (none by default), messages to logging."""
    console = console or Console(stderr=True, quiet=True)
    # Every input is checked before anything is written: a bad flag leaves no run behind.
    if (options.videos is None) == (options.model is None):
        raise InputError("give exactly one of --videos DIR or --model NAME")
    _check_settings(options)
    dims = _resolve_dims(options)
    options.dimension_options = checked_dimension_options(options.dimension_options, dims)
    suite = _load_suite(options)
    generator_task = registry.load_generator_class(options.model).task if options.model else None
    task = run_task(generator_task, options.images, suite, dims)  # the task picks prompts and scheme
    suite = suite.for_task(task) if suite is not None else None
    scheme = load_scheme(scheme_for_task(task))
    generator, work = _work_list(options, dims, suite)
    store = ResultStore(options.db or default_db_url())
    with RunLock(options.out):
        created = not has_manifest(options.out)
        manifest = _open_run(options, dims, suite, scheme, store, task)
        try:
            return _run(options, dims, scheme, generator, work, store, manifest, console)
        except VblError:
            if created and not store.finished_pairs(manifest.run_id):
                _remove_run(options.out, manifest.run_id, store)  # nothing done yet: leave no orphan run
            raise


def _run(
    options: EvaluateOptions, dims: list[str], scheme: AggregationScheme, generator: Generator | None,
    work: WorkList, store: ResultStore, manifest: Manifest, console: Console,
) -> RunReport:
    run_id, run_dir = manifest.run_id, options.out
    report = RunReport(run_id=run_id, run_dir=run_dir, summary=None, missing=work.missing)
    for name in work.missing[:1]:
        log.warning("%d expected video(s) not found, e.g. %s", len(work.missing), name)
    if work.ignored:
        log.info("ignored %d non-video file(s) in the folder, e.g. %s", len(work.ignored), work.ignored[0])

    def record(video: VideoRow, rows: list[ScoreRow]) -> None:
        store.record_video(run_id, video, rows)

    context = ScoringContext(
        device=options.device, backend=options.backend,  # type: ignore[arg-type]
        batch_size=options.batch_size, backbones=BackboneCache(),
        weights_dir=options.weights if options.videos else None,
        options=options.dimension_options,
    )
    dimensions = {name: registry.load_dimension_class(name)(context) for name in dims}
    executor = _executor(options, console, run_id)
    try:
        if generator is not None:
            for item in work.items:
                manifest.seeds[item.video_key] = item.seed
            todo = [item for item in work.items if not item.path.exists()]
            if todo:
                made = executor.generate(generator, todo, record)
                _record_generation(manifest, made.provenance, made.made)
            if options.generate_only:
                manifest.status = RunStatus.GENERATED
            _save(manifest, run_dir, store)
            if options.generate_only:
                return report

        # Failed pairs are redone on --resume (the file or the option may be fixed), unless kept.
        done = store.finished_pairs(run_id, include_failed=options.keep_failed)
        pending = [(item, [d for d in item.dimensions if (item.video_key, d) not in done]) for item in work.items]
        pending = [(item, names) for item, names in pending if names]
        needed = {name: dimensions[name] for name in dims if any(name in names for _, names in pending)}
        scored_dims = {d for _, d in done}
        keep = {name: str(r.backend) for name, r in manifest.dimensions.items() if name in scored_dims}
        setup = executor.prepare(needed, keep, len(pending))
        for name, scorer in setup.ready.items():
            manifest.dimensions[name] = scorer
            dimensions[name].backend = str(scorer.backend)  # the summary labels rows with it
            log.info("%s: backend %s", name, scorer.backend)
        for name, message in setup.unavailable.items():
            report.unavailable[name] = message
            log.error("%s", message)
        manifest.environment["kernel_routes"] = dict(context.backbones.routes)  # filled as models load
        _save(manifest, run_dir, store)
        executor.score(pending, record)
    finally:
        executor.close()

    scores = store.scores_frame(run_id)
    summary = summarise(scores, dimensions, scheme, dims, long=options.long is not None)
    report.summary, report.failed_videos = summary, summary.failed_videos
    manifest.status = RunStatus.PARTIAL if (report.unavailable or report.failed_videos) else RunStatus.COMPLETE
    write_run_outputs(run_dir, scores, summary, dimensions)
    _save(manifest, run_dir, store)
    store.finish_run(run_id, manifest.status, summary.aggregate_rows())
    return report


def _remove_run(run_dir: Path, run_id: str, store: ResultStore) -> None:
    """Undo a run that stopped on a user error before any work was stored."""
    store.delete_run(run_id)
    for name in (MANIFEST, MANIFEST + ".part"):
        (run_dir / name).unlink(missing_ok=True)


def _save(manifest: Manifest, run_dir: Path, store: ResultStore) -> None:
    """One phase of the run is done: the manifest file and the store's run row say so."""
    write_manifest(run_dir, manifest)
    store.begin_run(manifest.run_id, manifest)


# -- inputs -----------------------------------------------------------------------------------


def _check_settings(options: EvaluateOptions) -> None:
    for flag, value in (("--batch-size", options.batch_size), ("--videos-per-batch", options.videos_per_batch)):
        if value < 1:
            raise InputError(f"{flag} must be at least 1, not {value}")
    check_device(options.device, on_this_host=options.executor == "local" or options.ray_address in (None, "local"))
    out = options.out
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the run directory")
    if out.is_dir() and not has_manifest(out) and any(p.name != RunLock.NAME for p in out.iterdir()):
        raise InputError(f"{out} is not empty and holds no vbl run; choose a new --out")
    parent = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: cannot write in {parent}; choose a folder you can write to")


def check_device(device: str, on_this_host: bool = True) -> None:
    """One line for a device torch does not know, or a GPU this host does not have."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f"--device {device!r} is not a device; use cpu, cuda or cuda:N") from None
    if parsed.type not in ("cpu", "cuda"):
        raise InputError(f"--device {device!r}: vbl scores on cpu or cuda")
    if parsed.type == "cuda" and on_this_host:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(f"--device {device}: no CUDA GPU is visible on this machine; use --device cpu")
        if parsed.index is not None and parsed.index >= count:
            raise InputError(f"--device {device}: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}")


def checked_dimension_options(given: dict[str, Any], dims: list[str]) -> dict[str, Any]:
    """`--option` values parsed by the dimensions that read them; an unknown key or a bad value is
    one line (exit 2) before anything runs."""
    accepted: dict[str, Option] = {}
    for name in dims:
        accepted.update(registry.load_dimension_class(name).accepted_options())
    parsed = {}
    for key, value in given.items():
        option = accepted.get(key)
        if option is None:
            known = ", ".join(sorted(accepted)) or "none"
            raise InputError(f"unknown --option {key}; the chosen dimensions read: {known}")
        try:
            parsed[key] = option.parse(value)
        except ValueError as error:
            raise InputError(f"--option {key}={value!r}: the value must be {error}") from None
    return parsed


def _resolve_dims(options: EvaluateOptions) -> list[str]:
    if options.dims.strip() == "available":
        dims = available_dimensions(options)
        if not dims:
            raise InputError("no installed dimension can run here with these weights; see `vbl dims`")
        return dims
    return registry.parse_dimension_list(options.dims)


def available_dimensions(options: EvaluateOptions) -> list[str]:
    """Every installed dimension that can run here with the chosen backend and weights, and that can
    score these videos: a folder of videos without --images has no conditioning image to compare to."""
    context = ScoringContext(backend=options.backend, weights_dir=options.weights)  # type: ignore[arg-type]
    no_images = options.videos is not None and options.images is None and not options.prompts
    names = []
    for name in registry.dimension_names():
        try:
            dimension = registry.load_dimension_class(name)(context)
        except Exception:  # a broken plugin must not hide the others
            continue
        if dimension.unavailable_reason() is None and not (dimension.needs_image and no_images):
            names.append(name)
    return names


def _load_suite(options: EvaluateOptions) -> PromptSuite | None:
    if options.model and not options.prompts:
        return load_suite(DEFAULT_SUITE)
    return load_suite(options.prompts) if options.prompts else None


def _work_list(
    options: EvaluateOptions, dims: list[str], suite: PromptSuite | None
) -> tuple[Generator | None, WorkList]:
    if options.videos is not None:
        if suite is None:
            work = custom_input(options.videos, dims, options.prompt_file)
        else:
            samples = options.samples or suite.samples_per_prompt
            work = standard_mode(options.videos, suite, dims, samples, options.seed)
        _attach_images(work, options, suite, dims)
        return None, work
    assert options.model is not None and suite is not None
    generator_class = registry.load_generator_class(options.model)
    if generator_class.licence_needs_acceptance and options.model not in options.accept_license:
        raise InputError(
            f"{options.model} is licensed under {generator_class.licence}; read it, then pass "
            f"--accept-license {options.model} to use the model"
        )
    generator = generator_class(options.model_options)
    samples = options.samples or suite.samples_per_prompt
    items = suite_requests(suite, dims, samples, options.seed)
    for item in items:
        item.path = options.out.resolve() / "videos" / item.video_key  # absolute: the store keeps it
        item.video_key = f"videos/{item.video_key}"
    work = WorkList(items=items)
    _attach_images(work, options, suite, dims, generating=generator_class.task == "i2v")
    return generator, work


def _attach_images(
    work: WorkList, options: EvaluateOptions, suite: PromptSuite | None, dims: list[str], generating: bool = False
) -> None:
    """Image-to-video runs: pair each video with its conditioning image (VBench++). Images are
    required when the generator or a requested dimension needs them."""
    if options.images is None and (suite is None or not suite.is_image_to_video(dims)):
        return
    required = generating or any(registry.load_dimension_class(d).needs_image for d in dims)
    missing = attach_images(work.items, options.images, required)
    if missing and required:
        log.warning("%d video(s) have no conditioning image, e.g. %s", len(missing), missing[0])


class RunLock:
    """One `vbl evaluate` per run directory at a time: a second one is refused, not interleaved."""

    NAME = ".vbl.lock"

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.file: Any = None

    def __enter__(self) -> RunLock:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.file = (self.run_dir / self.NAME).open("a+")
        except OSError as error:
            reason = error.strerror or str(error)
            raise InputError(f"--out {self.run_dir}: {reason}; choose a folder you can write to") from None
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise InputError(
                f"another vbl is writing to {self.run_dir}; wait for it to finish or choose another --out"
            ) from None
        return self

    def __exit__(self, *_exc: object) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def _executor(options: EvaluateOptions, console: Console, run_id: str) -> Executor:
    if options.executor == "ray":
        from vbench_lite.executors.ray_executor import RayExecutor

        return RayExecutor(options.executor_settings(), console, run_id)
    from vbench_lite.executors.local import LocalExecutor

    return LocalExecutor(options.executor_settings(), console)


# -- the manifest ---------------------------------------------------------------------------------


def _open_run(
    options: EvaluateOptions, dims: list[str], suite: PromptSuite | None, scheme: AggregationScheme,
    store: ResultStore, task: str = "t2v",
) -> Manifest:
    """The run's manifest: a new one, or the existing one when resuming the same config."""
    run_dir = options.out
    config = options.config(dims, suite)
    if has_manifest(run_dir):
        existing = read_manifest(run_dir)
        if not options.resume:
            raise InputError(
                f"{run_dir} already holds run {existing.run_id}; pass --resume to continue it or choose a new --out"
            )
        if config_hash(config) != existing.config_hash:
            changed = sorted(k for k in config if config.get(k) != existing.config.get(k))
            raise InputError(
                f"{run_dir} holds a run with other settings ({', '.join(changed)}); "
                "resume with the same flags or choose a new --out"
            )
        # A resumed run scores on today's device.
        existing.environment.update(device=options.device, dtype=scoring_precision(options.device))
        existing.status = RunStatus.RUNNING
        _save(existing, run_dir, store)
        return existing
    run_dir.mkdir(parents=True, exist_ok=True)
    model = ModelRecord(name=options.name or options.model or "videos", adapter=options.model, task=task,
                        revision=options.revision, options=options.model_options)
    suite_record = (
        SuiteRecord(name=suite.name, version=suite.version, sha256=suite.sha256) if suite is not None else None
    )
    manifest = new_manifest(
        run_id=new_run_id(), config=config, model=model, prompt_suite=suite_record,
        aggregation=AggregationRecord(name=scheme.name, version=scheme.version),
        device=options.device, dtype=scoring_precision(options.device), run_dir=run_dir,
    )
    _save(manifest, run_dir, store)
    return manifest


def _record_generation(manifest: Manifest, provenance: dict[str, Any], made: dict[str, dict[str, Any]]) -> None:
    labels = {k: v for k, v in manifest.model.to_json().items() if k in ("name", "revision") and v}
    # The adapter's provenance, then the user's --name/--revision over the adapter's defaults.
    manifest.model = ModelRecord.model_validate({**manifest.model.to_json(), **provenance, **labels})
    manifest.generation.update(made)
