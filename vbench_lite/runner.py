"""`vbl evaluate`: build the work list, generate if asked, decode each video once, score it on every
requested dimension, commit after every video, then aggregate and write the run directory.

A killed run continues with `--resume`: the store knows which (video, dimension) pairs are
finished (ok, failed or skipped), and only the rest is redone. Per-video problems become failed
rows with their reason; the run goes on and the summary counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from vbench_lite import registry
from vbench_lite.aggregate import load_scheme, scheme_for_task
from vbench_lite.backbones import BackboneCache
from vbench_lite.dimension import Dimension, ScoringContext
from vbench_lite.errors import InputError, VblError, WeightsMissing
from vbench_lite.executors.local import progress_bar, record_failure
from vbench_lite.generator import GenerationRequest, Generator
from vbench_lite.manifest import build_manifest, new_run_id, read_manifest, write_json_atomic
from vbench_lite.outputs import RunSummary, summarise, write_run_outputs
from vbench_lite.store import ResultStore, default_db_url
from vbench_lite.worklist import (
    VideoItem,
    WorkList,
    attach_images,
    custom_input,
    run_task,
    standard_mode,
    suite_requests,
)

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
    executor: str = "local"  # local | ray (issue 8); not in config(): either executor resumes a run
    ray_address: str | None = None  # None/"local": Ray on this host; "auto" or HOST:PORT: a cluster

    def __post_init__(self) -> None:
        if self.executor not in ("local", "ray"):
            raise InputError(f"--executor must be local or ray, not '{self.executor}'")
        if self.executor == "ray":
            from vbench_lite.executors.ray_executor import import_ray, require_shared_store

            import_ray()
            require_shared_store(self.ray_address, self.db or default_db_url())

    def config(self, dims: list[str], suite: Any) -> dict[str, Any]:
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
            # only when given, so that runs made before --images existed keep their config hash
            **({"images": str(self.images.resolve())} if self.images else {}),
        }


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
    console = console or Console(stderr=True)
    if (options.videos is None) == (options.model is None):
        raise InputError("give exactly one of --videos DIR or --model NAME")
    dims = _resolve_dims(options)
    suite = _load_suite(options)
    generator_task = registry.load_generator_class(options.model).task if options.model else None
    task = run_task(generator_task, options.images, suite, dims)  # the task picks prompts and scheme
    suite = suite.for_task(task) if suite is not None else None
    scheme = load_scheme(scheme_for_task(task))
    store = ResultStore(options.db or default_db_url())
    run_dir = options.out
    manifest = _open_run(options, dims, suite, scheme, store, task)
    run_id = manifest["run_id"]

    generator, work = _work_list(options, dims, suite, run_dir, console)
    context = ScoringContext(
        device=options.device, backend=options.backend,  # type: ignore[arg-type]
        batch_size=options.batch_size, backbones=BackboneCache(),
        weights_dir=options.weights if options.videos else None,
        options=options.dimension_options,
    )
    dimensions = {name: registry.load_dimension_class(name)(context) for name in dims}
    report = RunReport(run_id=run_id, run_dir=run_dir, summary=None, missing=work.missing)
    for name in work.missing[:1]:
        console.print(f"[yellow]warning:[/] {len(work.missing)} expected video(s) not found, e.g. {name}")
    if work.ignored:
        console.print(f"note: ignored {len(work.ignored)} non-video file(s) in the folder, e.g. {work.ignored[0]}")

    if generator is not None:
        _generate(generator, work.items, options, manifest, store, run_id, console)
        if options.generate_only:
            manifest["status"] = "generated"
        write_json_atomic(run_dir / "manifest.json", manifest)
        if options.generate_only:
            return report

    done = store.finished_pairs(run_id)
    pending = [
        (item, [d for d in item.dimensions if (item.video_key, d) not in done])
        for item in work.items
    ]
    pending = [(item, names) for item, names in pending if names]
    needed = {name for _, names in pending for name in names}
    active = _set_up(dimensions, needed, manifest, report, console, options.executor)
    write_json_atomic(run_dir / "manifest.json", manifest)
    store.begin_run(run_id, manifest)

    todo = [(item, [n for n in names if n in active]) for item, names in pending]
    todo = [(item, names) for item, names in todo if names]
    _score(todo, active, store, run_id, options, console, manifest, report)

    scores = store.scores_frame(run_id)
    summary = summarise(scores, dimensions, scheme, dims)
    report.summary, report.failed_videos = summary, summary.failed_videos
    manifest["status"] = "complete" if not (report.unavailable or report.failed_videos) else "partial"
    write_run_outputs(run_dir, scores, summary, dimensions)
    write_json_atomic(run_dir / "manifest.json", manifest)
    store.begin_run(run_id, manifest)
    store.finish_run(run_id, manifest["status"], summary.aggregate_rows())
    return report


# -- setup ------------------------------------------------------------------------------------


def _resolve_dims(options: EvaluateOptions) -> list[str]:
    if options.dims.strip() == "available":
        return available_dimensions(options)
    return registry.parse_dimension_list(options.dims)


def available_dimensions(options: EvaluateOptions) -> list[str]:
    """Every installed dimension that can run here with the chosen backend and weights."""
    context = ScoringContext(backend=options.backend, weights_dir=options.weights)  # type: ignore[arg-type]
    names = []
    for name in registry.dimension_names():
        try:
            dimension = registry.load_dimension_class(name)(context)
        except Exception:  # a broken plugin must not hide the others
            continue
        if dimension.unavailable_reason() is None:
            names.append(name)
    return names


def _load_suite(options: EvaluateOptions) -> Any:
    from vbench_lite.prompts import load_suite

    if options.model and not options.prompts:
        return load_suite(DEFAULT_SUITE)
    return load_suite(options.prompts) if options.prompts else None


def _open_run(
    options: EvaluateOptions, dims: list[str], suite: Any, scheme: Any, store: ResultStore, task: str = "t2v"
) -> dict[str, Any]:
    """The run's manifest: a new one, or the existing one when resuming the same config."""
    run_dir = options.out
    config = options.config(dims, suite)
    existing = read_manifest(run_dir) if run_dir.exists() else None
    if existing is not None:
        if not options.resume:
            raise InputError(
                f"{run_dir} already holds run {existing['run_id']}; pass --resume to continue it "
                "or choose a new --out"
            )
        fresh = build_manifest(
            run_id=existing["run_id"], config=config, model={}, prompt_suite=None,
            aggregation={}, device=options.device, run_dir=run_dir,
        )
        if fresh["config_hash"] != existing["config_hash"]:
            changed = sorted(k for k in config if config.get(k) != existing["config"].get(k))
            raise InputError(
                f"{run_dir} holds a run with other settings ({', '.join(changed)}); "
                "resume with the same flags or choose a new --out"
            )
        return existing
    if run_dir.exists() and any(run_dir.iterdir()):
        raise InputError(f"{run_dir} is not empty and holds no vbl run; choose a new --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    model = {"name": options.name or options.model or "videos", "adapter": options.model,
             "task": task, "revision": options.revision, "weights_sha256": None,
             "options": options.model_options}
    suite_info = (
        {"name": suite.name, "version": suite.version, "sha256": suite.sha256}
        if suite is not None else None
    )
    manifest = build_manifest(
        run_id=new_run_id(), config=config, model=model, prompt_suite=suite_info,
        aggregation={"name": scheme.name, "version": scheme.version},
        device=options.device, run_dir=run_dir,
    )
    write_json_atomic(run_dir / "manifest.json", manifest)
    store.begin_run(manifest["run_id"], manifest)
    return manifest


def _work_list(
    options: EvaluateOptions, dims: list[str], suite: Any, run_dir: Path, console: Console
) -> tuple[Generator | None, WorkList]:
    if options.videos is not None:
        if suite is None:
            work = custom_input(options.videos, dims, options.prompt_file)
        else:
            samples = options.samples or suite.samples_per_prompt
            work = standard_mode(options.videos, suite, dims, samples, options.seed)
        _attach_images(work, options, suite, dims, console)
        return None, work
    assert options.model is not None
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
        item.path = run_dir / "videos" / item.video_key
        item.video_key = f"videos/{item.video_key}"
    work = WorkList(items=items)
    _attach_images(work, options, suite, dims, console, generating=generator_class.task == "i2v")
    return generator, work


def _attach_images(
    work: WorkList, options: EvaluateOptions, suite: Any, dims: list[str], console: Console, generating: bool = False
) -> None:
    """Image-to-video runs: pair each video with its conditioning image (VBench++). Images are
    required when the generator or a requested dimension needs them."""
    if options.images is None and (suite is None or not suite.is_image_to_video(dims)):
        return
    required = generating or any(registry.load_dimension_class(d).needs_image for d in dims)
    missing = attach_images(work.items, options.images, required)
    if missing and required:
        console.print(f"[yellow]warning:[/] {len(missing)} video(s) have no conditioning image, e.g. {missing[0]}")


def _set_up(
    dimensions: dict[str, Dimension], needed: set[str], manifest: dict[str, Any],
    report: RunReport, console: Console, executor: str = "local",
) -> dict[str, Dimension]:
    """Load each needed dimension once; one that cannot run is reported and left out.

    Under Ray the driver loads no model: it resolves the backend, and the scorer replicas load
    the models and report their weights' sha256 (ray_executor.score_on_ray).
    """
    active = {}
    for name, dimension in dimensions.items():
        recorded = manifest["dimensions"].get(name)
        if name not in needed:
            continue
        try:
            dimension.check_weights()  # WeightsMissing names the file and where it goes
            reason = dimension.unavailable_reason()
            if reason:
                raise VblError(f"{name}: {reason}")
            if executor == "ray":
                dimension.backend = dimension.resolve_backend()
            else:
                dimension.setup()
        except VblError as error:
            message = str(error) if str(error).startswith(name) else f"{name}: {error}"
            if isinstance(error, WeightsMissing) and any(b != "vbench" for b in dimension.backends):
                message += "; or use --backend embedded, which needs no download"
            report.unavailable[name] = message
            console.print(f"[red]error:[/] {message}", soft_wrap=True, highlight=False)
            continue
        if recorded and recorded.get("backend") != dimension.backend:
            message = (f"{name}: this run was scored with backend {recorded['backend']}, which now "
                       f"resolves to {dimension.backend}; pass --backend or choose a new --out")
            report.unavailable[name] = message
            console.print(f"[red]error:[/] {message}", soft_wrap=True, highlight=False)
            continue
        manifest["dimensions"][name] = {
            "version": dimension.version, "backend": dimension.backend,
            "weights_sha256": dimension.weights_sha256(), "group": dimension.group,
            "value_scale": dimension.video_value_scale,
        }
        console.print(f"{name}: backend [bold]{dimension.backend}[/]")
        active[name] = dimension
    return active


# -- generation -------------------------------------------------------------------------------


def _generate(
    generator: Generator, items: list[VideoItem], options: EvaluateOptions, manifest: dict[str, Any],
    store: ResultStore, run_id: str, console: Console,
) -> None:
    """Generate the videos not yet on disk; an mp4 appears only once complete (atomic write)."""
    todo = [item for item in items if not item.path.exists()]
    for item in items:
        manifest["seeds"][item.video_key] = item.seed
    if not todo:
        return
    if options.executor == "ray":
        from vbench_lite.executors.ray_executor import generate_on_ray

        generate_on_ray(generator, todo, options, manifest, store, run_id, console)
        return
    generator.load(manifest["environment"]["device"], "auto", options.weights)
    labels = {k: v for k, v in manifest["model"].items() if k in ("name", "revision") and v}
    manifest["model"].update(generator.provenance())
    manifest["model"].update(labels)  # the user's --name/--revision win over the adapter's defaults
    try:
        _generate_each(generator, todo, manifest, store, run_id, console)
    finally:
        generator.close()


def _generate_each(
    generator: Generator, todo: list[VideoItem], manifest: dict[str, Any], store: ResultStore,
    run_id: str, console: Console,
) -> None:
    with progress_bar(console) as progress:
        task = progress.add_task("generating", total=len(todo))
        for item in todo:
            request = GenerationRequest(
                prompt_id=item.prompt_id, prompt=item.prompt, sample_index=item.sample_index,
                seed=item.seed or 0, out_path=item.path, image=Path(item.image) if item.image else None,
            )
            (result,) = generator.generate([request])
            if result.path is not None:
                item.path = result.path
                manifest["generation"][item.video_key] = {
                    "seconds": round(result.seconds, 3), "params": result.params,
                }
            else:
                reason = result.error or "generation failed"
                record_failure(store, run_id, item, item.dimensions, reason)
            progress.advance(task)


# -- scoring ----------------------------------------------------------------------------------


def _score(
    todo: list[tuple[VideoItem, list[str]]], dimensions: dict[str, Dimension],
    store: ResultStore, run_id: str, options: EvaluateOptions, console: Console,
    manifest: dict[str, Any], report: RunReport,
) -> None:
    if options.executor == "ray":  # replicas report their weights into manifest, failures into report
        from vbench_lite.executors.ray_executor import score_on_ray

        score_on_ray(todo, dimensions, store, run_id, options, console, manifest, report)
        return
    from vbench_lite.executors.local import score_locally

    score_locally(todo, dimensions, store, run_id, options.videos_per_batch, console)
