"""The results store: runs, videos, per-video scores and aggregates, with their provenance.

SQLAlchemy 2 Core (no ORM) over a SQLite file (the embedded default) or a PostgreSQL server (the
team store), selected by URL; see docs/architecture.md, "The results store".

- Every write is one transaction: `record_video` stores a video and all its scores or nothing, so a
  killed run resumes from `finished_pairs` without half-stored videos.
- Upserts are keyed by the natural primary keys, so recording the same thing twice (resume,
  re-import) leaves one row.
- `read_only=True` (the leaderboard) issues no DDL and opens the database read-only at the
  driver level too: SQLite with `?mode=ro`, PostgreSQL with `default_transaction_read_only`.
- The `schema_version` table holds one row per applied schema version, so later migrations can
  tell what a database holds.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url

from vbench_lite import __version__
from vbench_lite.errors import InputError, StoreUnreachable
from vbench_lite.rundir import Manifest
from vbench_lite.weights import vbl_home

SCHEMA_VERSION = 1
POSTGRES_CONNECT_TIMEOUT_S = 3  # fail fast on a wrong host instead of hanging a CI job
SQLITE_BUSY_TIMEOUT_S = 30.0  # a second writer waits for the lock instead of failing at once
SCHEMA_LOCK_KEY = 0x76626C5F73746F72  # PostgreSQL advisory-lock id ("vbl_stor") for schema DDL


def default_db_url() -> str:
    """`$VBL_DB` if set, else a SQLite file in the vbl home folder."""
    if os.environ.get("VBL_DB"):
        return os.environ["VBL_DB"]
    return f"sqlite:///{vbl_home() / 'vbl.db'}"


@dataclass
class VideoRow:
    video_key: str  # unique within a run (path relative to the videos root)
    path: str
    prompt_id: str
    prompt: str
    sample_index: int
    seed: int | None
    fps: float | None = None
    num_frames: int | None = None
    width: int | None = None
    height: int | None = None
    status: str = "ok"  # ok | failed
    error: str | None = None


@dataclass
class ScoreRow:
    video_key: str
    dimension: str
    backend: str
    dimension_version: str
    status: str  # ok | failed | skipped
    value: float | None  # bools stored as 0.0/1.0
    extra: dict = field(default_factory=dict)  # stored as JSON text
    error: str | None = None


@dataclass
class AggregateRow:
    name: str  # a dimension name, or "quality" | "semantic" | "total"
    raw: float | None
    normalised: float | None
    n: int
    backend: str | None = None
    group: str | None = None  # quality | semantic | extra | summary


class RunExists(InputError):
    def __init__(self, run_id: str):
        self.run_id = run_id
        super().__init__(f"run {run_id} is already in the store; a stored run is never changed by an import")


# ---------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("vbl_version", sa.String, nullable=False),
)

runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String, nullable=False),
    # Denormalised from the manifest so the leaderboard and the gate filter without parsing JSON.
    sa.Column("model_name", sa.String),
    sa.Column("model_revision", sa.String),
    sa.Column("weights_sha256", sa.String),
    sa.Column("task", sa.String),
    sa.Column("prompt_suite", sa.String),
    sa.Column("prompt_suite_sha256", sa.String),
    sa.Column("config_hash", sa.String),
    sa.Column("aggregation", sa.String),
    sa.Column("vbl_version", sa.String),
    sa.Column("run_dir", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("manifest", sa.Text, nullable=False),  # the whole manifest.json, as JSON text
)

videos_table = sa.Table(
    "videos",
    metadata,
    sa.Column("run_id", sa.String, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("video_key", sa.String, primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("prompt_id", sa.String, nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("sample_index", sa.Integer, nullable=False),
    sa.Column("seed", sa.BigInteger),
    sa.Column("fps", sa.Double),
    sa.Column("num_frames", sa.Integer),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("error", sa.Text),
    sa.CheckConstraint("status IN ('ok', 'failed')", name="videos_status_known"),
)

scores_table = sa.Table(
    "scores",
    metadata,
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("video_key", sa.String, primary_key=True),
    sa.Column("dimension", sa.String, primary_key=True),
    sa.Column("backend", sa.String, nullable=False),
    sa.Column("dimension_version", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("value", sa.Double),
    sa.Column("error", sa.Text),
    sa.Column("extra", sa.Text, nullable=False),  # JSON text
    sa.ForeignKeyConstraint(["run_id", "video_key"], ["videos.run_id", "videos.video_key"], ondelete="CASCADE"),
    sa.CheckConstraint("status IN ('ok', 'failed', 'skipped')", name="scores_status_known"),
    sa.Index("scores_by_dimension", "run_id", "dimension"),
)

aggregates_table = sa.Table(
    "aggregates",
    metadata,
    sa.Column("run_id", sa.String, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("raw", sa.Double),
    sa.Column("normalised", sa.Double),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("backend", sa.String),
    sa.Column("group", sa.String),
)

RUN_COLUMNS = [
    "run_id",
    "created_at",
    "finished_at",
    "status",
    "model_name",
    "model_revision",
    "weights_sha256",
    "task",
    "prompt_suite",
    "prompt_suite_sha256",
    "config_hash",
    "aggregation",
    "vbl_version",
    "run_dir",
    "source",
]
VIDEO_COLUMNS = [c.name for c in videos_table.columns]
SCORE_COLUMNS = [
    "run_id",
    "video_key",
    "video_path",
    "prompt_id",
    "prompt",
    "sample_index",
    "seed",
    "dimension",
    "backend",
    "dimension_version",
    "status",
    "value",
    "error",
    "extra",
]
AGGREGATE_COLUMNS = [c.name for c in aggregates_table.columns]

# Integer columns that may be NULL become pandas' nullable Int64, not float.
_NULLABLE_INTS = {"sample_index", "seed", "num_frames", "width", "height", "n"}
_TIMESTAMPS = {"created_at", "finished_at"}


# ---------------------------------------------------------------------------------------------
# Value conversion
# ---------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    # SQLite keeps no offset, so every timestamp is stored as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_time(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return _utc(text)
    if not isinstance(text, str):
        return None
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def _json_default(value: Any) -> Any:
    # Scorers hand numpy scalars and arrays in `extra`; anything else is a bug worth a TypeError.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} in a score's extra is not JSON-serialisable")


def _to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True)


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)  # bools become 0.0 / 1.0
    # SQLite turns NaN into NULL; do the same everywhere so both backends read back alike.
    return None if math.isnan(number) else number


def _dig(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _run_columns(manifest: dict) -> dict[str, Any]:
    """The denormalised run columns; every key of the manifest is optional."""
    return {
        "model_name": _text_or_none(_dig(manifest, "model", "name")),
        "model_revision": _text_or_none(_dig(manifest, "model", "revision")),
        "weights_sha256": _text_or_none(_dig(manifest, "model", "weights_sha256")),
        "task": _text_or_none(_dig(manifest, "model", "task")),
        "prompt_suite": _text_or_none(_dig(manifest, "prompt_suite", "name")),
        "prompt_suite_sha256": _text_or_none(_dig(manifest, "prompt_suite", "sha256")),
        "config_hash": _text_or_none(manifest.get("config_hash")),
        "aggregation": _text_or_none(_dig(manifest, "aggregation", "name")),
        "vbl_version": _text_or_none(_dig(manifest, "vbl", "version")),
        "run_dir": _text_or_none(manifest.get("run_dir")),
        "source": _text_or_none(manifest.get("source")),
    }


def _aggregate_rows(run_id: str, aggregates: list[AggregateRow]) -> list[dict[str, Any]]:
    return [
        {"run_id": run_id, "name": a.name, "raw": _float_or_none(a.raw), "normalised": _float_or_none(a.normalised),
         "n": int(a.n), "backend": a.backend, "group": a.group}
        for a in aggregates
    ]


def _one_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None)  # the driver's own message, without SQLAlchemy's footer
    text = str(orig if orig is not None else error) or type(error).__name__
    return " ".join(text.split())[:300]  # the whole message, folded: drivers put the cause on line 2


# ---------------------------------------------------------------------------------------------
# Engine set-up
# ---------------------------------------------------------------------------------------------


def _normalise_url(url: str) -> URL:
    parsed = make_url(url)
    # Users type postgresql:// (psycopg2: not installed) or postgres://; we ship psycopg 3.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_file(parsed: URL) -> Path | None:
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser().resolve()


def _enable_wal(cursor: Any) -> None:
    """Switch a database to WAL. The first switch of a new file needs an exclusive lock and SQLite
    does not wait for it on the busy timeout, so writers that open a new store at once retry."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(parsed: URL, shown: str, read_only: bool) -> Engine:
    path = _sqlite_file(parsed)
    if path is None and not (parsed.database or "").startswith("file:"):
        # sqlite:// is an in-memory database: every result would be gone when vbl exits.
        raise StoreUnreachable(shown, "it is an in-memory database that forgets everything at exit; "
                                      "give a file, e.g. sqlite:///runs/vbl.db")
    if path is not None:
        if read_only:
            if not path.exists():
                raise StoreUnreachable(shown, f"no database file at {path}")
            # A driver-level read-only open: even a bug cannot write through this engine.
            parsed = URL.create("sqlite", database=path.as_uri(), query={"mode": "ro", "uri": "true"})
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                reason = error.strerror or type(error).__name__
                raise StoreUnreachable(shown, f"cannot create folder {path.parent}: {reason}") from None
            parsed = parsed.set(database=str(path))
    engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below start transactions, not pysqlite's implicit ones, so DDL
        # and reads are transactional too (the SQLAlchemy pysqlite "serializable isolation" recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not read_only:
            # WAL: readers (the leaderboard) never block the writer (the runner), and vice versa.
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")  # safe in WAL mode, and no fsync per video
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writing transaction takes the write lock up front, so it waits on the busy timeout
        # rather than failing when another writer commits between its read and its write.
        writes = connection.get_execution_options().get("vbl_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    return engine


def _postgres_engine(parsed: URL, read_only: bool) -> Engine:
    connect_args: dict[str, Any] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    if read_only:
        options = parsed.query.get("options", "")
        options = options if isinstance(options, str) else " ".join(options)
        connect_args["options"] = f"{options} -c default_transaction_read_only=on".strip()
    return sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)


def _create_engine(url: str, shown: str, read_only: bool) -> Engine:
    try:
        parsed = _normalise_url(url)
    except sa.exc.ArgumentError as error:
        raise StoreUnreachable(shown, f"not a database URL ({_one_line(error)})") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, shown, read_only)
        if parsed.get_backend_name() == "postgresql":
            return _postgres_engine(parsed, read_only)
    except ImportError as error:
        fix = (
            "pip install 'vbench-lite[postgres]' and use postgresql+psycopg://"
            if parsed.get_backend_name() == "postgresql"
            else f"pip install {error.name}"
        )
        raise StoreUnreachable(shown, f"database driver '{error.name}' is not installed; {fix}") from None
    raise StoreUnreachable(
        shown,
        f"unsupported database kind '{parsed.drivername}'; use sqlite:///FILE or postgresql://USER@HOST/DB",
    )


# ---------------------------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------------------------


class ResultStore:
    """Runs, videos, scores and aggregates in one SQL database. Safe to share across threads."""

    def __init__(self, url: str, read_only: bool = False):
        self.url = url
        self.read_only = read_only
        self._shown_url = self._hide_password(url)
        self.engine = _create_engine(url, self._shown_url, read_only)
        self._schema_ready = False
        try:
            with self._transaction(write=not read_only) as conn:
                if not read_only:
                    self._ensure_schema(conn)
                    self._schema_ready = True
                self._check_schema_version(conn)
        except sa.exc.DBAPIError as error:
            self.engine.dispose()
            raise StoreUnreachable(self._shown_url, _one_line(error)) from None
        except StoreUnreachable:
            self.engine.dispose()
            raise

    @staticmethod
    def _hide_password(url: str) -> str:
        try:
            return make_url(url).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            return url

    @property
    def safe_url(self) -> str:
        """The URL with its password masked: the one to print or log."""
        return self._shown_url

    def __repr__(self) -> str:
        return f"ResultStore({self._shown_url!r}, read_only={self.read_only})"

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        if write and self.read_only:
            raise PermissionError(f"results store {self._shown_url} is open read-only")
        with self.engine.connect() as conn:
            conn.execution_options(vbl_write=write)
            with conn.begin():
                yield conn

    def _ensure_schema(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            # Concurrent first opens (parallel CI jobs) would race on CREATE TABLE; queue them.
            # SQLite needs nothing: its writing transaction is already exclusive.
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
        metadata.create_all(conn, checkfirst=True)
        self._upsert(
            conn,
            schema_version,
            [
                {
                    "version": SCHEMA_VERSION,
                    "applied_at": _now(),
                    "vbl_version": __version__,
                }
            ],
            update=False,
        )

    def _check_schema_version(self, conn: Connection) -> None:
        if not sa.inspect(conn).has_table("schema_version"):
            return  # an empty database opened read-only: it reads as a store with no runs
        found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
        if found is not None and found > SCHEMA_VERSION:
            raise StoreUnreachable(
                self._shown_url,
                f"its schema version {found} is newer than "
                f"this vbl understands ({SCHEMA_VERSION}); upgrade vbench-lite",
            )

    def _has_schema(self) -> bool:
        # A reader may open a database before any writer made the tables; look until they exist.
        if not self._schema_ready:
            with self.engine.connect() as conn:
                self._schema_ready = sa.inspect(conn).has_table("runs")
        return self._schema_ready

    @staticmethod
    def _upsert(
        conn: Connection,
        table: sa.Table,
        rows: list[dict[str, Any]],
        update: bool = True,
        keep: frozenset[str] = frozenset(),
    ) -> None:
        """Insert `rows`, replacing (or, with update=False, keeping) rows with the same key.

        `keep` names columns an update leaves as they were (a run's created_at on resume).
        """
        if not rows:
            return
        keys = [column.name for column in table.primary_key.columns]
        # Both supported dialects speak INSERT ... ON CONFLICT (_create_engine admits no other).
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        statement = insert(table)
        if update:
            changed = {
                c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys and c.name not in keep
            }
            statement = statement.on_conflict_do_update(index_elements=keys, set_=changed)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=keys)
        conn.execute(statement, rows)

    # -- writing ---------------------------------------------------------------------------------

    def begin_run(self, run_id: str, manifest: Manifest | dict[str, Any]) -> None:
        """Create the run, or refresh it on resume (its created_at stays the first one)."""
        if isinstance(manifest, Manifest):
            manifest = manifest.to_json()
        row = {
            "run_id": run_id,
            "created_at": _parse_time(manifest.get("created_at")) or _now(),
            "finished_at": None,
            "status": str(manifest.get("status") or "running"),
            **_run_columns(manifest),
            "manifest": _to_json(manifest),
        }
        with self._transaction(write=True) as conn:
            self._upsert(conn, runs_table, [row], keep=frozenset({"created_at"}))

    def record_video(self, run_id: str, video: VideoRow, scores: list[ScoreRow]) -> None:
        """Store one video and its scores in one transaction: all of it, or none of it."""
        with self._transaction(write=True) as conn:
            self._write_video(conn, run_id, video, scores)

    def has_run(self, run_id: str) -> bool:
        if not self._has_schema():
            return False
        query = sa.select(runs_table.c.run_id).where(runs_table.c.run_id == run_id)
        with self._transaction(write=False) as conn:
            return conn.execute(query).first() is not None

    def add_run(
        self, manifest: Manifest, videos: list[tuple[VideoRow, list[ScoreRow]]], aggregates: list[AggregateRow]
    ) -> None:
        """Store a whole finished run (an import) in one transaction. A run id already stored is
        refused (RunExists) and nothing is written: an existing run is never modified this way."""
        run_id = manifest.run_id
        with self._transaction(write=True) as conn:
            if conn.execute(sa.select(runs_table.c.run_id).where(runs_table.c.run_id == run_id)).first():
                raise RunExists(run_id)
            conn.execute(runs_table.insert(), [{
                "run_id": run_id,
                "created_at": _parse_time(manifest.created_at) or _now(),
                "finished_at": _now(),
                "status": str(manifest.status),
                **_run_columns(manifest.to_json()),
                "manifest": _to_json(manifest.to_json()),
            }])
            for video, scores in videos:
                self._write_video(conn, run_id, video, scores)
            rows = _aggregate_rows(run_id, aggregates)
            if rows:
                conn.execute(aggregates_table.insert(), rows)

    def _write_video(self, conn: Connection, run_id: str, video: VideoRow, scores: list[ScoreRow]) -> None:
        video_row = {"run_id": run_id, **{k: getattr(video, k) for k in VIDEO_COLUMNS[1:]}}
        video_row["fps"] = _float_or_none(video.fps)
        strays = sorted({s.video_key for s in scores} - {video.video_key})
        if strays:
            raise ValueError(f"scores of {strays} handed in with video {video.video_key!r}")
        by_dimension: dict[str, ScoreRow] = {s.dimension: s for s in scores}  # last one wins
        self._upsert(conn, videos_table, [video_row])
        # Serialised inside the transaction: an extra that is not JSON undoes the video too.
        score_rows = [
            {
                "run_id": run_id,
                "video_key": video.video_key,
                "dimension": s.dimension,
                "backend": s.backend,
                "dimension_version": str(s.dimension_version),
                "status": s.status,
                "value": _float_or_none(s.value),
                "error": s.error,
                "extra": _to_json(s.extra or {}),
            }
            for s in by_dimension.values()
        ]
        self._upsert(conn, scores_table, score_rows)

    def finish_run(self, run_id: str, status: str, aggregates: list[AggregateRow]) -> None:
        """Replace the run's aggregates and mark it finished with `status`."""
        rows = _aggregate_rows(run_id, aggregates)
        with self._transaction(write=True) as conn:
            query = sa.select(runs_table.c.manifest).where(runs_table.c.run_id == run_id)
            stored = conn.execute(query).scalar()
            if stored is None:
                raise KeyError(f"run {run_id!r} is not in the store; call begin_run first")
            manifest = json.loads(stored)
            manifest["status"] = status  # so run_manifest() agrees with the status column
            conn.execute(
                runs_table.update()
                .where(runs_table.c.run_id == run_id)
                .values(status=status, finished_at=_now(), manifest=_to_json(manifest))
            )
            conn.execute(aggregates_table.delete().where(aggregates_table.c.run_id == run_id))
            if rows:
                conn.execute(aggregates_table.insert(), rows)

    def delete_run(self, run_id: str) -> None:
        with self._transaction(write=True) as conn:
            # Children first, explicitly: not every SQLite connection has foreign keys on.
            for table in (scores_table, videos_table, aggregates_table, runs_table):
                conn.execute(table.delete().where(table.c.run_id == run_id))

    # -- reading ---------------------------------------------------------------------------------

    def finished_pairs(self, run_id: str, include_failed: bool = True) -> set[tuple[str, str]]:
        """{(video_key, dimension)} already stored for the run (failed ones only if asked)."""
        if not self._has_schema():
            return set()
        table = scores_table
        query = sa.select(table.c.video_key, table.c.dimension).where(table.c.run_id == run_id)
        if not include_failed:
            query = query.where(table.c.status != "failed")
        with self._transaction(write=False) as conn:
            return {(row.video_key, row.dimension) for row in conn.execute(query)}

    def run_ids(self) -> list[str]:
        if not self._has_schema():
            return []
        table = runs_table
        query = sa.select(table.c.run_id).order_by(table.c.created_at, table.c.run_id)
        with self._transaction(write=False) as conn:
            return list(conn.execute(query).scalars())

    def run_manifest(self, run_id: str) -> dict | None:
        if not self._has_schema():
            return None
        query = sa.select(runs_table.c.manifest).where(runs_table.c.run_id == run_id)
        with self._transaction(write=False) as conn:
            stored = conn.execute(query).scalar()
        return None if stored is None else json.loads(stored)

    def runs_frame(self) -> pd.DataFrame:
        query = sa.select(*(runs_table.c[name] for name in RUN_COLUMNS)).order_by(
            runs_table.c.created_at, runs_table.c.run_id
        )
        return self._frame(query, RUN_COLUMNS)

    def videos_frame(self, run_id: str | None = None) -> pd.DataFrame:
        query = sa.select(videos_table).order_by(videos_table.c.run_id, videos_table.c.video_key)
        if run_id is not None:
            query = query.where(videos_table.c.run_id == run_id)
        return self._frame(query, VIDEO_COLUMNS)

    def scores_frame(self, run_id: str | None = None) -> pd.DataFrame:
        """Long format, one row per (run, video, dimension), with the video's prompt and seed."""
        s, v = scores_table.c, videos_table.c
        joined = scores_table.outerjoin(videos_table, sa.and_(v.run_id == s.run_id, v.video_key == s.video_key))
        query = (
            sa.select(
                s.run_id,
                s.video_key,
                v.path.label("video_path"),
                v.prompt_id,
                v.prompt,
                v.sample_index,
                v.seed,
                s.dimension,
                s.backend,
                s.dimension_version,
                s.status,
                s.value,
                s.error,
                s.extra,
            )
            .select_from(joined)
            .order_by(s.run_id, s.video_key, s.dimension)
        )
        if run_id is not None:
            query = query.where(s.run_id == run_id)
        return self._frame(query, SCORE_COLUMNS)

    def aggregates_frame(self, run_id: str | None = None) -> pd.DataFrame:
        table = aggregates_table
        query = sa.select(table).order_by(table.c.run_id, table.c.name)
        if run_id is not None:
            query = query.where(table.c.run_id == run_id)
        return self._frame(query, AGGREGATE_COLUMNS)

    def _frame(self, query: sa.Select, columns: list[str]) -> pd.DataFrame:
        rows: list[Any] = []
        if self._has_schema():
            with self._transaction(write=False) as conn:
                rows = [tuple(row) for row in conn.execute(query)]
        frame = pd.DataFrame(rows, columns=columns)
        for name in columns:
            if name in _TIMESTAMPS:
                frame[name] = pd.to_datetime(frame[name], utc=True)
            elif name in _NULLABLE_INTS:
                frame[name] = frame[name].astype("Int64")
            elif name in ("value", "raw", "normalised", "fps"):
                frame[name] = frame[name].astype("float64")
        return frame

    def close(self) -> None:
        self.engine.dispose()
