"""The Ray executor (`--executor ray`).

The same run as the local executor, spread over a Ray cluster:
- each scorer replica is an actor that decodes its own videos, streaming (as the local executor
  does: once, in chunks, a background thread ahead), so no decoded video crosses the object store
  and memory stays flat whatever a video's length;
- each scorer replica that builds its own Dimension objects (from their class paths
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
from typing import Any, Literal

from rich.console import Console

from vbench_lite.dimension import Dimension, ScoringContext
from vbench_lite.errors import VblError, one_line
from vbench_lite.executors.base import (
    ExecutorSettings,
    GenerationOutcome,
    Recorder,
    ScorerSetup,
    ScoringOutcome,
    backend_conflict,
    failed_rows,
)
from vbench_lite.executors.local import (
    generation_request,
    progress_bar,
    scorer_record,
    unavailable_message,
)
from vbench_lite.executors.streaming import score_videos
from vbench_lite.generator import GeneratedVideo, GenerationRequest, Generator
from vbench_lite.long_video import LongMode
from vbench_lite.registry import DIMENSIONS_GROUP, GENERATORS_GROUP
from vbench_lite.rundir import ScorerRecord
from vbench_lite.store import ScoreRow, VideoRow
from vbench_lite.worklist import VideoItem

MAX_ATTEMPTS = 3  # tries per unit whose replica died; then the unit is stored as failed
MAX_REPLICA_RESTARTS = 10  # per replica; one that keeps dying (say, while loading) is given up
REPLICA_RECOVERY_S = 600.0  # a replica not restarted (models loaded) by then is given up
PING_INTERVAL_S = 0.2
RESOURCES_ENV = "VBL_RAY_ACTOR_RESOURCES"
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray's single-host mode, servers on 127.0.0.1
LOCAL_ADDRESSES = (None, "", "local")  # start a Ray instance on this host only
# The driver's settings that decide where weights are found: replicas on this host must see the
# same ones, or their backend could differ from the one the driver recorded. On a cluster each node
# keeps its own (paths differ between hosts); a backend that differs is reported, never mixed.
FORWARDED_ENV = ("VBL_HOME", "VBL_WEIGHTS_DIR", "VBL_DB", "VBENCH_CACHE_DIR", "TORCH_HOME", "HF_HOME",
                 "HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")

Stage = Literal["generate", "score"]


# -- cluster ----------------------------------------------------------------------------------


def import_ray(ray_address: str | None = None) -> Any:
    """Ray, imported so that a single-host instance keeps its servers on loopback.

    Ray binds its gRPC servers to 127.0.0.1 only when its node address is the loopback one, which
    it chooses where its cluster mode is off (`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, read when Ray
    is imported). Off for a run on this host; a cluster (`--ray-address`) keeps Ray's default.
    """
    if not is_multi_node(ray_address):
        os.environ.setdefault(LOOPBACK_ENV, "0")
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
    ray = import_ray(ray_address)
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
    long: LongMode | None = None


class ScorerReplica:
    """A Ray actor: the run's dimensions, set up once, scoring batches of decoded videos."""

    def __init__(self, spec: ScorerSpec):
        _apply_env(spec.env)
        context = ScoringContext(
            device=spec.device, backend=spec.backend,  # type: ignore[arg-type]
            batch_size=spec.batch_size, weights_dir=spec.weights_dir, options=spec.options,
        )
        self.long = spec.long
        self.dimensions: dict[str, Dimension] = {}
        self.records: dict[str, ScorerRecord | str] = {}  # per dimension: what loaded, or why not
        for name, path in spec.dimension_classes.items():
            try:
                dimension = EntryPoint(name, path, DIMENSIONS_GROUP).load()(context)
            except Exception as error:
                self.records[name] = f"{name}: cannot load the dimension ({one_line(error)})"
                continue
            try:
                dimension.check_weights()
                dimension.setup()
            except VblError as error:  # a replica reports; the driver decides (it has the report)
                self.records[name] = unavailable_message(dimension, error)
                continue
            except Exception as error:
                self.records[name] = f"{name}: {one_line(error)}"
                continue
            self.dimensions[name] = dimension
            self.records[name] = scorer_record(dimension)

    def ping(self) -> bool:
        return True

    def report(self) -> dict[str, ScorerRecord | str]:
        return self.records

    def score(self, todo: list[tuple[VideoItem, list[str]]]) -> list[tuple[VideoRow, list[ScoreRow]]]:
        """The local executor's scoring on this replica's dimensions: the replica decodes the videos
        itself, streaming, so no decoded video ever crosses the object store."""
        return list(score_videos(todo, self.dimensions, videos_per_batch=len(todo), long=self.long))


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
            self.error = (False, one_line(error))

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
) -> None:
    """Keep one call in flight per replica; handle results as they arrive.

    One call per replica means a replica's death fails only the batch it was running. Each unit
    of that batch is then retried alone (so a unit that kills its replica cannot take others down
    with it again) until MAX_ATTEMPTS, then given up. A dead replica gets no work until Ray has
    restarted it (it answers `ping`), so no unit is lost on a replica that is still restarting.
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
            while waiting and len(ready) < per_call * len(idle):
                ready.append(waiting.popleft())
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
                    give_up(unit, one_line(getattr(error, "cause", None) or error))
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


# -- the executor ----------------------------------------------------------------------------------


class RayExecutor:
    """Generation and scoring on Ray replicas; the driver (this object) commits every video."""

    def __init__(self, settings: ExecutorSettings, console: Console, run_id: str):
        self.settings = settings
        self.console = console
        self.run_id = run_id
        self.ray = connect(settings.ray_address)
        self.scorers: list[Any] = []
        self.ready: set[str] = set()

    def generate(self, generator: Generator, items: list[VideoItem], record: Recorder) -> GenerationOutcome:
        """Generate the videos of `items` (none on disk yet) on generator replicas, one per call."""
        ray, settings = self.ray, self.settings
        units = [WorkUnit(self.run_id, "generate", item, tuple(item.dimensions)) for item in items]
        tally = UnitTally("generate", total=len(units))
        outcome = GenerationOutcome()
        if not units:
            return outcome
        plan = replica_plan(ray, settings.device, len(units))
        spec = GeneratorSpec(class_path=class_path(generator), name=generator.name, options=generator.options,
                             device=plan.device, weights=settings.generator_weights,
                             env=forwarded_env(settings.ray_address))
        replicas = _start_replicas(ray, GeneratorReplica, spec, plan)
        try:
            states = _ask_all(ray, replicas, "ready", "generator")
            failed = [s for s in states if "error" in s]
            if failed:
                if failed[0]["user_error"]:
                    raise VblError(failed[0]["error"])
                raise RuntimeError(f"generator {generator.name} could not load: {failed[0]['error']}")
            outcome.provenance = states[0]["provenance"]

            def submit(replica: Any, batch: list[WorkUnit]) -> Any:
                (unit,) = batch
                return replica.generate.remote(generation_request(unit.item))

            def finish(batch: list[WorkUnit], result: GeneratedVideo) -> None:
                (unit,) = batch
                if result.path is not None:
                    unit.item.path = result.path
                    outcome.made[unit.item.video_key] = {"seconds": round(result.seconds, 3), "params": result.params}
                    tally.done += 1
                else:
                    give_up(unit, result.error or "generation failed")
                    tally.failed += 1

            def give_up(unit: WorkUnit, reason: str) -> None:
                record(*failed_rows(unit.item, list(unit.dimensions), reason))

            _run_units(ray, replicas, units, 1, submit, finish, give_up, tally, self.console)
            ray.wait([r.close.remote() for r in replicas], num_returns=len(replicas), timeout=60)
        finally:
            _stop_replicas(ray, replicas)
        outcome.failed = tally.failed
        return outcome

    def prepare(self, dimensions: dict[str, Dimension], keep_backends: dict[str, str], videos: int) -> ScorerSetup:
        """Start the scorer replicas (each loads every dimension once) and reconcile their reports.

        A dimension is unavailable, as under the local executor, when a replica could not load it,
        when replicas loaded different weights, or when it would mix backends inside this run.
        """
        setup = ScorerSetup()
        if not dimensions:
            return setup
        first = next(iter(dimensions.values()))
        plan = replica_plan(self.ray, self.settings.device, math.ceil(videos / self.settings.videos_per_batch))
        spec = ScorerSpec(
            dimension_classes={name: class_path(d) for name, d in dimensions.items()},
            device=plan.device, backend=first.context.backend, batch_size=first.context.batch_size,
            weights_dir=first.context.weights_dir, options=first.context.options,
            env=forwarded_env(self.settings.ray_address), long=self.settings.long,
        )
        self.scorers = _start_replicas(self.ray, ScorerReplica, spec, plan)
        reports = _ask_all(self.ray, self.scorers, "report", "scorer")
        for name in dimensions:
            seen = [r[name] for r in reports]
            errors = [s for s in seen if isinstance(s, str)]
            loaded = {(s.backend, s.weights_sha256) for s in seen if isinstance(s, ScorerRecord)}
            if not errors and len(loaded) > 1:
                errors = [f"{name}: replicas loaded different weights ({sorted(map(str, loaded))}); give every "
                          "node the same weights"]
            if not errors:
                record = next(s for s in seen if isinstance(s, ScorerRecord))
                conflict = backend_conflict(name, keep_backends.get(name), str(record.backend))
                if conflict is None:
                    setup.ready[name] = record
                    continue
                errors = [conflict]
            setup.unavailable[name] = errors[0]
        self.ready = set(setup.ready)
        return setup

    def score(self, todo: list[tuple[VideoItem, list[str]]], record: Recorder) -> ScoringOutcome:
        """Score `todo` on the replicas; every video is committed here, one transaction each."""
        ray = self.ray
        units = [WorkUnit(self.run_id, "score", item, tuple(n for n in names if n in self.ready))
                 for item, names in todo]
        units = [u for u in units if u.dimensions]
        tally = UnitTally("score", total=len(units))
        if not units:
            return ScoringOutcome()
        per_call = self.settings.videos_per_batch
        def submit(replica: Any, batch: list[WorkUnit]) -> Any:
            return replica.score.remote([(u.item, list(u.dimensions)) for u in batch])

        def finish(batch: list[WorkUnit], results: list[tuple[VideoRow, list[ScoreRow]]]) -> None:
            for video, rows in results:
                record(video, rows)
                if video.status == "failed":
                    tally.failed += 1
                else:
                    tally.done += 1

        def give_up(unit: WorkUnit, reason: str) -> None:
            record(*failed_rows(unit.item, list(unit.dimensions), reason))

        _run_units(ray, self.scorers, units, per_call, submit, finish, give_up, tally, self.console)
        return ScoringOutcome(scored=tally.done, failed=tally.failed)

    def close(self) -> None:
        _stop_replicas(self.ray, self.scorers)
        self.scorers = []
