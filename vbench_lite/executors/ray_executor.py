"""The Ray executor (`--executor ray`, issue 8; research in spec/ecosystem.md §5).

The same run as the local executor, spread over a Ray cluster:
- decoding runs as Ray CPU tasks;
- each scorer replica is an actor that builds its own Dimension objects (from their class paths
  and the run's ScoringContext settings) and loads their models once; each generator replica
  likewise loads the generator once. A replica asks for one GPU when the device is cuda, one CPU
  otherwise, or the resources in `$VBL_RAY_ACTOR_RESOURCES` (JSON, e.g. {"vbl_gpu": 1}; tests use
  a custom resource standing in for GPUs);
- work units are keyed by (run, prompt, sample, stage), stage "generate" or "score"; the two stages
  are separate, so a crash never regenerates a finished video (generators write atomically);
- results stream back to this driver, which alone commits each video to the store (so SQLite
  works on one host; a multi-node cluster needs PostgreSQL);
- when a replica dies in the middle of a unit, Ray restarts it and the unit is retried alone, up
  to MAX_ATTEMPTS tries; then it is stored as failed with its reason and the run goes on.

Only imported when `--executor ray` is asked for; `ray` itself comes with `vbench-lite[ray]`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console

from vbench_lite.dimension import Dimension, ScoringContext
from vbench_lite.errors import VblError
from vbench_lite.executors.local import decoded_videos, progress_bar, record_failure, score_batch
from vbench_lite.generator import GeneratedVideo, GenerationRequest, Generator
from vbench_lite.registry import DIMENSIONS_GROUP, GENERATORS_GROUP
from vbench_lite.store import ResultStore, ScoreRow, VideoRow
from vbench_lite.video import Video
from vbench_lite.worklist import VideoItem

if TYPE_CHECKING:
    from vbench_lite.runner import EvaluateOptions, RunReport

MAX_ATTEMPTS = 3  # tries per unit whose replica died; then the unit is stored as failed
MAX_REPLICA_RESTARTS = 10  # per replica; one that keeps dying (say, while loading) is given up
REPLICA_RECOVERY_S = 600.0  # a replica not restarted (models loaded) by then is given up
PING_INTERVAL_S = 0.2
RESOURCES_ENV = "VBL_RAY_ACTOR_RESOURCES"
LOCAL_ADDRESSES = (None, "", "local")  # start a Ray instance on this host only
# The driver's settings that decide where weights are found: replicas on this host must see the
# same ones, or their backend could differ from the one the driver recorded. On a cluster each node
# keeps its own (paths differ between hosts); a backend that differs is reported, never mixed.
FORWARDED_ENV = ("VBL_HOME", "VBL_WEIGHTS_DIR", "VBL_DB", "VBENCH_CACHE_DIR", "TORCH_HOME", "HF_HOME",
                 "HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")

Stage = Literal["generate", "score"]


# -- cluster ----------------------------------------------------------------------------------


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise VblError("--executor ray needs Ray: pip install 'vbench-lite[ray]'") from None
    return ray


def is_multi_node(ray_address: str | None) -> bool:
    return ray_address not in LOCAL_ADDRESSES


def require_shared_store(ray_address: str | None, db_url: str) -> None:
    """A cluster's replicas may run anywhere, and SQLite is a file on one host: refuse early."""
    from sqlalchemy.engine import make_url

    if not is_multi_node(ray_address):
        return
    try:
        kind = make_url(db_url).get_backend_name()
    except Exception:  # an unparsable URL is the store's own error to report
        return
    if kind == "sqlite":
        raise VblError(
            f"a multi-node Ray run (--ray-address {ray_address}) needs a PostgreSQL store, as SQLite "
            "lives on one host: pass --db postgresql://USER@HOST/DB (or set VBL_DB)"
        )


def connect(ray_address: str | None) -> Any:
    """Join the cluster at `ray_address`, or start Ray on this host; reuse an existing session."""
    ray = import_ray()
    if not ray.is_initialized():  # a caller (a test session, a notebook) may have chosen already
        if is_multi_node(ray_address):
            ray.init(address=ray_address, logging_level="WARNING")
        else:  # "local": a new instance on this host, even where $RAY_ADDRESS names a cluster
            ray.init(address="local", include_dashboard=False, logging_level="WARNING")
    return ray


@dataclass(frozen=True)
class ReplicaPlan:
    """How many replicas to start and what each asks Ray for."""

    options: dict[str, Any]
    replicas: int
    device: str  # the device a replica uses: Ray gives each GPU replica its own visible GPU


def replica_plan(ray: Any, device: str, units: int) -> ReplicaPlan:
    cluster = ray.cluster_resources()
    custom = os.environ.get(RESOURCES_ENV)
    if custom:
        try:
            wanted = {str(k): float(v) for k, v in json.loads(custom).items()}
        except (ValueError, AttributeError):
            raise VblError(f"${RESOURCES_ENV} must be a JSON object of Ray resources, e.g. "
                           '{"accelerator": 1}, not ' + repr(custom)) from None
        # No CPU held: the stand-in resource plays the GPU, the CPUs stay free for decoding.
        options: dict[str, Any] = {"num_cpus": 0, "resources": wanted}
        capacity = min(int(cluster.get(k, 0) // v) for k, v in wanted.items())
        missing = f"resources {wanted}"
    elif device.startswith("cuda"):
        options = {"num_gpus": 1, "num_cpus": 1}
        capacity = int(cluster.get("GPU", 0))
        device = "cuda"  # CUDA_VISIBLE_DEVICES holds the replica's one GPU
        missing = "a GPU"
    else:
        options = {"num_cpus": 1}
        capacity = max(1, int(cluster.get("CPU", 1)) - 1)  # leave a CPU for the decoding tasks
        missing = "a CPU"
    if capacity < 1:
        raise VblError(f"the Ray cluster has no room for a replica needing {missing}; "
                       f"add nodes or change --device / ${RESOURCES_ENV}")
    return ReplicaPlan(options=options, replicas=max(1, min(capacity, units)), device=device)


def forwarded_env(ray_address: str | None) -> dict[str, str | None]:
    if is_multi_node(ray_address):
        return {}
    return {name: os.environ.get(name) for name in FORWARDED_ENV}


def _apply_env(env: dict[str, str | None]) -> None:
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def class_path(obj: object) -> str:
    """`module:Class` of an object's class, which the replica imports by itself."""
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


# -- work units and their tally -----------------------------------------------------------------


@dataclass(frozen=True)
class WorkUnit:
    """One (run, prompt, sample, stage): generate one video, or score one video on its dimensions.

    The durable record of a finished unit is in the store (a score unit's rows, `finished_pairs`)
    or on disk (a generated mp4), so a resumed run rebuilds only the units still missing.
    """

    run_id: str
    stage: Stage
    item: VideoItem
    dimensions: tuple[str, ...]
    attempts: int = 0  # tries that ended with the replica dying
    decoded: Any = None  # ObjectRef of the decoded video, kept so a retry does not decode again

    @property
    def key(self) -> tuple[str, str, int, Stage]:
        return (self.run_id, self.item.prompt_id, self.item.sample_index, self.stage)


@dataclass
class UnitTally:
    stage: Stage
    total: int
    done: int = 0
    failed: int = 0
    retried: int = 0

    def line(self) -> str:
        return (f"ray {self.stage}: {self.total} units, {self.done} done, {self.failed} failed, "
                f"{self.retried} retried")


# -- replicas (Ray actors) -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScorerSpec:
    """Everything a scorer replica needs to build its dimensions itself, in any process."""

    dimension_classes: dict[str, str]  # name -> "module:Class"
    device: str
    backend: str
    batch_size: int
    weights_dir: Path | None
    options: dict[str, Any]
    env: dict[str, str | None] = field(default_factory=dict)


class ScorerReplica:
    """A Ray actor: the run's dimensions, set up once, scoring batches of decoded videos."""

    def __init__(self, spec: ScorerSpec):
        _apply_env(spec.env)
        context = ScoringContext(
            device=spec.device, backend=spec.backend,  # type: ignore[arg-type]
            batch_size=spec.batch_size, weights_dir=spec.weights_dir, options=spec.options,
        )
        self.dimensions: dict[str, Dimension] = {}
        self.errors: dict[str, str] = {}
        for name, path in spec.dimension_classes.items():
            try:
                dimension = EntryPoint(name, path, DIMENSIONS_GROUP).load()(context)
                dimension.setup()
            except Exception as error:  # a replica reports; the driver decides (it has the report)
                self.errors[name] = str(error) if isinstance(error, VblError) else _one_line(error)
                continue
            self.dimensions[name] = dimension

    def ping(self) -> bool:
        return True

    def report(self) -> dict[str, dict[str, Any]]:
        """Per dimension: the backend and weights_sha256 it loaded, or why it could not."""
        found: dict[str, dict[str, Any]] = {name: {"error": e} for name, e in self.errors.items()}
        for name, dimension in self.dimensions.items():
            found[name] = {"backend": dimension.backend, "weights_sha256": dimension.weights_sha256()}
        return found

    def score(
        self, wanted: dict[str, list[str]], items: list[VideoItem], *videos: Video | str
    ) -> list[tuple[VideoRow, list[ScoreRow]]]:
        """The local executor's own batch scoring, with the rows handed back instead of stored."""
        sink = _RowSink()
        batch = [(item, _writable(video)) for item, video in zip(items, videos, strict=True)]
        score_batch(batch, wanted, self.dimensions, sink, run_id="")  # type: ignore[arg-type]
        return sink.recorded


class _RowSink:
    """Stands where the store stands in `score_batch`: the driver commits what it collects."""

    def __init__(self) -> None:
        self.recorded: list[tuple[VideoRow, list[ScoreRow]]] = []

    def record_video(self, run_id: str, video: VideoRow, scores: list[ScoreRow]) -> None:
        self.recorded.append((video, scores))


def _writable(video: Video | str) -> Video | str:
    # Frames from Ray's object store are read-only views; the local executor hands writable ones.
    if isinstance(video, Video) and not video.frames.flags.writeable:
        return video.with_frames(video.frames.copy())
    return video


def decode_item(item: VideoItem) -> Video | str:
    """A Ray CPU task: decode one video as the local executor does; any failure becomes its reason."""
    try:
        return next(decoded_videos([item]))[1]
    except Exception as error:  # on a cluster a bad file must cost its own row, not the run
        return _one_line(error)


@dataclass(frozen=True)
class GeneratorSpec:
    class_path: str
    name: str
    options: dict[str, Any]
    device: str
    weights: Path | None
    env: dict[str, str | None] = field(default_factory=dict)


class GeneratorReplica:
    """A Ray actor: one generator, loaded once, making one video per call."""

    def __init__(self, spec: GeneratorSpec):
        _apply_env(spec.env)
        self.error: tuple[bool, str] | None = None
        try:
            generator = EntryPoint(spec.name, spec.class_path, GENERATORS_GROUP).load()(spec.options)
            generator.load(spec.device, "auto", spec.weights)
            self.generator: Generator = generator
        except VblError as error:
            self.error = (True, str(error))
        except Exception as error:
            self.error = (False, _one_line(error))

    def ping(self) -> bool:
        return True

    def ready(self) -> dict[str, Any]:
        if self.error is not None:
            user_error, message = self.error
            return {"user_error": user_error, "error": message}
        return {"provenance": self.generator.provenance()}

    def generate(self, request: GenerationRequest) -> GeneratedVideo:
        (result,) = self.generator.generate([request])
        return result

    def close(self) -> None:
        """Let the generator free what it holds (as the local path does) before the actor goes."""
        if self.error is None:
            self.generator.close()


def _start_replicas(ray: Any, actor_class: type, spec: Any, plan: ReplicaPlan) -> list[Any]:
    # Ray restarts a dead replica (bounded, so a crash loop while loading ends); the driver retries
    # units itself (MAX_ATTEMPTS), so it knows which unit was retried and can run it alone.
    remote = ray.remote(actor_class).options(max_restarts=MAX_REPLICA_RESTARTS, max_task_retries=0,
                                             **plan.options)
    return [remote.remote(spec) for _ in range(plan.replicas)]


def _ask_all(ray: Any, replicas: list[Any], method: str, kind: str) -> list[Any]:
    """Each replica's answer once it has loaded its models; one that dies loading them ends the run."""
    try:
        return list(ray.get([getattr(replica, method).remote() for replica in replicas]))
    except ray.exceptions.RayActorError as error:
        raise VblError(f"a {kind} replica died while loading its models ({type(error).__name__}); "
                       "the Ray worker logs (/tmp/ray/session_latest/logs) say why") from None


def _stop_replicas(ray: Any, replicas: Iterable[Any]) -> None:
    for replica in replicas:
        ray.kill(replica, no_restart=True)


# -- the driver loop ------------------------------------------------------------------------------


def _run_units(
    ray: Any, replicas: list[Any], units: list[WorkUnit], per_call: int,
    submit: Callable[[Any, list[WorkUnit]], Any], finish: Callable[[list[WorkUnit], Any], None],
    give_up: Callable[[WorkUnit, str], None], tally: UnitTally, console: Console,
    prepare: Callable[[WorkUnit], WorkUnit] = lambda unit: unit, lookahead: int = 0,
) -> None:
    """Keep one call in flight per replica; handle results as they arrive.

    One call per replica means a replica's death fails only the batch it was running. Each unit
    of that batch is then retried alone (so a unit that kills its replica cannot take others down
    with it again) until MAX_ATTEMPTS, then given up. A dead replica gets no work until Ray has
    restarted it (it answers `ping`), so no unit is lost on a replica that is still restarting.
    `prepare` starts a unit's input early (decoding) for up to `lookahead` units beyond those running.
    """
    waiting: deque[WorkUnit] = deque(units)
    ready: deque[WorkUnit] = deque()
    retries: deque[WorkUnit] = deque()
    idle = list(replicas)
    running: dict[Any, tuple[Any, list[WorkUnit]]] = {}
    pings: dict[Any, tuple[Any, float]] = {}  # ping ref -> (restarting replica, give up at)
    with progress_bar(console) as progress:
        bar = progress.add_task(tally.line(), total=tally.total)

        def advance(count: int) -> None:
            progress.update(bar, advance=count, description=tally.line())

        while waiting or ready or retries or running:
            while waiting and len(ready) < lookahead + per_call * len(idle):
                ready.append(prepare(waiting.popleft()))
            while idle and (retries or ready):
                batch = [retries.popleft()] if retries else [ready.popleft() for _ in range(min(per_call, len(ready)))]
                replica = idle.pop()
                running[submit(replica, batch)] = (replica, batch)
            if not running:
                if not pings:  # the units left are not stored, so --resume redoes them
                    raise VblError(f"every {tally.stage} replica died {MAX_REPLICA_RESTARTS} times or "
                                   "more; see the Ray worker logs (/tmp/ray/session_latest/logs), then "
                                   "continue with --resume")
                _await_pings(ray, pings, idle)
                continue
            done, _ = ray.wait([*running, *pings], num_returns=1)
            if done[0] in pings:
                _await_pings(ray, pings, idle)
                continue
            replica, batch = running.pop(done[0])
            try:
                outcome = ray.get(done[0])
            except ray.exceptions.RayActorError as error:
                pings[replica.ping.remote()] = (replica, time.monotonic() + REPLICA_RECOVERY_S)
                for unit in batch:
                    if unit.attempts + 1 < MAX_ATTEMPTS:
                        retries.append(replace(unit, attempts=unit.attempts + 1))
                        tally.retried += 1
                    else:
                        give_up(unit, f"the {tally.stage} replica died on each of {MAX_ATTEMPTS} "
                                      f"tries of this video ({type(error).__name__})")
                        tally.failed += 1
                        advance(1)
                progress.update(bar, description=tally.line())
                continue
            except ray.exceptions.RayError as error:  # a bug in the unit's code, a lost input: no retry
                idle.append(replica)
                for unit in batch:
                    give_up(unit, _one_line(getattr(error, "cause", None) or error))
                    tally.failed += 1
                advance(len(batch))
                continue
            idle.append(replica)
            finish(batch, outcome)
            advance(len(batch))
    console.print(tally.line())


def _await_pings(ray: Any, pings: dict[Any, tuple[Any, float]], idle: list[Any]) -> None:
    """Return restarted replicas to `idle`; ping again those still restarting, until their deadline."""
    answered, _ = ray.wait(list(pings), num_returns=len(pings), timeout=PING_INTERVAL_S)
    for ref in answered:
        replica, deadline = pings.pop(ref)
        try:
            ray.get(ref)
        except ray.exceptions.ActorDiedError:
            continue  # out of restarts: Ray will not bring it back
        except ray.exceptions.RayActorError:  # still restarting
            if time.monotonic() < deadline:
                time.sleep(PING_INTERVAL_S)
                pings[replica.ping.remote()] = (replica, deadline)
            continue
        idle.append(replica)


# -- scoring stage --------------------------------------------------------------------------------


def score_on_ray(
    todo: list[tuple[VideoItem, list[str]]], dimensions: dict[str, Dimension], store: ResultStore,
    run_id: str, options: EvaluateOptions, console: Console, manifest: dict[str, Any],
    report: RunReport,
) -> UnitTally:
    """Score `todo` on scorer replicas; every video is committed here, one transaction each."""
    ray = connect(options.ray_address)
    units = [WorkUnit(run_id, "score", item, tuple(names)) for item, names in todo]
    tally = UnitTally("score", total=len(units))
    if not units:
        return tally
    plan = replica_plan(ray, options.device, math.ceil(len(units) / options.videos_per_batch))
    first = next(iter(dimensions.values()))
    spec = ScorerSpec(
        dimension_classes={name: class_path(d) for name, d in dimensions.items()},
        device=plan.device, backend=first.context.backend, batch_size=first.context.batch_size,
        weights_dir=first.context.weights_dir, options=first.context.options,
        env=forwarded_env(options.ray_address),
    )
    replicas = _start_replicas(ray, ScorerReplica, spec, plan)
    try:
        already = {dimension for _, dimension in store.finished_pairs(run_id)}
        reports = _ask_all(ray, replicas, "report", "scorer")
        usable = _reconcile(reports, already, manifest, report, console)
        for name in usable:  # the summary's fallback reads the driver's objects
            dimensions[name].backend = manifest["dimensions"][name]["backend"]
        units = [replace(u, dimensions=tuple(n for n in u.dimensions if n in usable)) for u in units]
        units = [u for u in units if u.dimensions]
        tally.total = len(units)
        decode = ray.remote(num_cpus=1)(decode_item)

        def prepare(unit: WorkUnit) -> WorkUnit:
            return replace(unit, decoded=decode.remote(unit.item))

        def submit(replica: Any, batch: list[WorkUnit]) -> Any:
            wanted = {u.item.video_key: list(u.dimensions) for u in batch}
            return replica.score.remote(wanted, [u.item for u in batch], *(u.decoded for u in batch))

        def finish(batch: list[WorkUnit], results: list[tuple[VideoRow, list[ScoreRow]]]) -> None:
            for video, rows in results:
                store.record_video(run_id, video, rows)
                if video.status == "failed":
                    tally.failed += 1
                else:
                    tally.done += 1

        def give_up(unit: WorkUnit, reason: str) -> None:
            record_failure(store, run_id, unit.item, list(unit.dimensions), reason)

        _run_units(ray, replicas, units, options.videos_per_batch, submit, finish, give_up, tally,
                   console, prepare=prepare, lookahead=plan.replicas * options.videos_per_batch)
    finally:
        _stop_replicas(ray, replicas)
    return tally


def _reconcile(
    reports: list[dict[str, dict[str, Any]]], already_scored: set[str], manifest: dict[str, Any],
    report: RunReport, console: Console,
) -> set[str]:
    """Record the backend and weights the replicas loaded (the driver only predicted the backend).

    A dimension is left out with its reason, as the local executor leaves out one that cannot set
    up, when a replica failed to load it, when replicas loaded different weights, or when it
    loaded another backend than the one this run already stored scores of: backends never mix.
    """
    usable = set()
    for name in reports[0]:
        seen = [r[name] for r in reports]
        errors = [s["error"] for s in seen if "error" in s]
        loaded = {(s["backend"], s["weights_sha256"]) for s in seen if "error" not in s}
        recorded = manifest["dimensions"][name]
        if not errors and len(loaded) > 1:
            errors = [f"replicas loaded different weights ({sorted(map(str, loaded))}); give every "
                      "node the same weights"]
        backend, sha256 = next(iter(loaded)) if len(loaded) == 1 else (None, None)
        if not errors and backend != recorded["backend"] and name in already_scored:
            errors = [f"this run was scored with backend {recorded['backend']}, which the replicas "
                      f"now load as {backend}; pass --backend or choose a new --out"]
        if errors:
            message = errors[0] if errors[0].startswith(name) else f"{name}: {errors[0]}"
            report.unavailable[name] = message
            console.print(f"[red]error:[/] {message}")
            continue
        if backend != recorded["backend"]:
            console.print(f"{name}: backend [bold]{backend}[/] (as the replicas loaded it)")
        recorded.update(backend=backend, weights_sha256=sha256)
        usable.add(name)
    return usable


# -- generation stage -----------------------------------------------------------------------------


def generate_on_ray(
    generator: Generator, todo: list[VideoItem], options: EvaluateOptions, manifest: dict[str, Any],
    store: ResultStore, run_id: str, console: Console,
) -> UnitTally:
    """Generate the videos of `todo` (none on disk yet) on generator replicas, one per call."""
    ray = connect(options.ray_address)
    units = [WorkUnit(run_id, "generate", item, tuple(item.dimensions)) for item in todo]
    tally = UnitTally("generate", total=len(units))
    if not units:
        return tally
    plan = replica_plan(ray, manifest["environment"]["device"], len(units))
    spec = GeneratorSpec(class_path=class_path(generator), name=generator.name,
                         options=generator.options, device=plan.device, weights=options.weights,
                         env=forwarded_env(options.ray_address))
    replicas = _start_replicas(ray, GeneratorReplica, spec, plan)
    try:
        states = _ask_all(ray, replicas, "ready", "generator")
        failed = [s for s in states if "error" in s]
        if failed:
            if failed[0]["user_error"]:
                raise VblError(failed[0]["error"])
            raise RuntimeError(f"generator {generator.name} could not load: {failed[0]['error']}")
        labels = {k: v for k, v in manifest["model"].items() if k in ("name", "revision") and v}
        manifest["model"].update(states[0]["provenance"])
        manifest["model"].update(labels)  # the user's --name/--revision win, as in the local path

        def submit(replica: Any, batch: list[WorkUnit]) -> Any:
            (unit,) = batch
            item = unit.item
            return replica.generate.remote(GenerationRequest(
                prompt_id=item.prompt_id, prompt=item.prompt, sample_index=item.sample_index,
                seed=item.seed or 0, out_path=item.path, image=Path(item.image) if item.image else None,
            ))

        def finish(batch: list[WorkUnit], result: GeneratedVideo) -> None:
            (unit,) = batch
            if result.path is not None:
                unit.item.path = result.path
                manifest["generation"][unit.item.video_key] = {
                    "seconds": round(result.seconds, 3), "params": result.params,
                }
                tally.done += 1
            else:
                give_up(unit, result.error or "generation failed")
                tally.failed += 1

        def give_up(unit: WorkUnit, reason: str) -> None:
            record_failure(store, run_id, unit.item, list(unit.dimensions), reason)

        _run_units(ray, replicas, units, 1, submit, finish, give_up, tally, console)
        ray.wait([r.close.remote() for r in replicas], num_returns=len(replicas), timeout=60)
    finally:
        _stop_replicas(ray, replicas)
    return tally
