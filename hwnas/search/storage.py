"""Opening Optuna storage, and the experiment summaries kept in it."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sqlite3
import threading
import time
import warnings
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from hwnas.errors import StorageError, UnknownNameError
from hwnas.search import schema

#: A trial whose process died is failed after this long without a heartbeat, then retried once more.
HEARTBEAT_S, GRACE_S = 2, 8

#: What makes an SQLite file an Optuna storage: Optuna's own tables and its schema stamp.
OPTUNA_TABLES = frozenset({"studies", "trials", "version_info", "alembic_version"})


def open_storage(url: str, create_dirs: bool = False, *, read_only: bool = False) -> BaseStorage:
    """`sqlite:///file.db`, any SQLAlchemy URL (PostgreSQL for clusters), `journal:///file.log`, or
    `:memory:` (nothing kept; for benchmarks and throwaway runs).

    SQLite waits up to 60 s for a lock instead of failing with "database is locked"; RDB storages
    record heartbeats so trials of a killed process are failed and retried.

    `read_only=True` is for commands that only read (`experiments`, `pareto`, `trials`, `dashboard`,
    `extract --experiment`): the file must exist and hold Optuna's tables (a journal: Optuna's log), it is
    opened read-only and nothing is created, stamped or migrated; other SQLAlchemy URLs skip table creation.

    Raises `StorageError` (one line naming the URL) for a URL without a file (`sqlite:///`), a folder that
    does not exist, a driver error, and, when reading, a missing file or one that is not an hwnas storage.
    """
    if url == ":memory:":
        return optuna.storages.InMemoryStorage()
    given, url = url, sqlalchemy_url(url)
    try:
        if url.startswith("journal:///"):
            path = _file_path(url, "journal:///", create_dirs and not read_only)
            if read_only:
                _check_journal(url, path)
            else:
                _check_writable(url, path)
            return JournalStorage(JournalFileBackend(str(path)))
        if url.startswith("sqlite:"):
            path = _file_path(url, "sqlite:///", create_dirs and not read_only)
            if read_only:
                return _rdb_storage(url, read_only_file=_check_sqlite(url, path))
            _check_writable(url, path)
        return _rdb_storage(url, skip_table_creation=read_only)
    except StorageError:
        raise
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy / driver errors: one line naming the URL
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StorageError(f"storage {redact(given)!r} cannot be opened: {reason}") from None


#: The SQLAlchemy driver hwnas uses for a plain `postgresql://` URL (the optional extra `hwnas[postgres]`).
POSTGRES_DRIVER = "psycopg"


def sqlalchemy_url(url: str) -> str:
    """`postgresql://…` (and `postgres://…`) as SQLAlchemy's psycopg 3 URL; other URLs as given.

    SQLAlchemy's default PostgreSQL driver is psycopg2, which is in maintenance only; hwnas installs psycopg 3
    (`pip install 'hwnas[postgres]'`). An explicit driver (`postgresql+psycopg2://…`) is kept. Raises
    `StorageError` when the driver is not installed.
    """
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            url = f"postgresql+{POSTGRES_DRIVER}://" + url.removeprefix(scheme)
    if url.startswith(f"postgresql+{POSTGRES_DRIVER}://") and importlib.util.find_spec(POSTGRES_DRIVER) is None:
        raise StorageError(f"storage {redact(url)!r} needs the PostgreSQL driver: pip install 'hwnas[postgres]' (psycopg 3)")
    return url


def redact(url: str) -> str:
    """A storage URL fit for a message: a password in it becomes `***`."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


#: Beside a storage file: held while a worker reads the study and claims its next trials.
LOCK_SUFFIX = ".hwnas-lock"


def study_lock(url: str) -> AbstractContextManager[object]:
    """The lock workers of one storage hold while they read the study and claim trials (check, then write).

    Optuna assigns trial numbers atomically but has no "claim if still free": two processes that read the
    study at once would both take the last trial of the budget, or the same arch. For a storage file
    (SQLite, journal) this is a lock file beside it, so every process on the machine takes turns; in-memory
    storage lives in one process, where a thread lock is enough. PostgreSQL gets a session-level advisory
    lock on the server (`AdvisoryLock`), which workers on any machine share; other database servers get a
    thread lock only: there, workers in different processes may overshoot the budget by their number.
    """
    for prefix in ("journal:///", "sqlite:///"):
        if url.startswith(prefix):
            name = url.removeprefix(prefix).split("?", 1)[0]
            if name and name != ":memory:":
                return FileLock(f"{name}{LOCK_SUFFIX}", thread_local=False)
    server = sqlalchemy_url(url)
    if server.startswith("postgresql"):
        return AdvisoryLock(server)
    return threading.Lock()


#: The advisory-lock key hwnas's workers share in one PostgreSQL database (any fixed 64-bit number).
ADVISORY_KEY = int.from_bytes(b"hwnasclm", "big") >> 1


class AdvisoryLock:
    """PostgreSQL's `pg_advisory_lock`, taken on a connection of its own after a thread lock.

    Session-level advisory locks stack within one connection, so the threads of a process take turns on the
    thread lock first. The server drops the lock when the session ends, so a worker killed while holding it
    (SIGKILL, a lost machine) never blocks the others. The connection is opened on first use and kept.
    """

    def __init__(self, url: str, key: int = ADVISORY_KEY) -> None:
        self.url, self.key = url, key
        self._threads = threading.Lock()
        self._engine: Any = None
        self._connection: Any = None

    def __enter__(self) -> AdvisoryLock:
        from sqlalchemy import create_engine, text  # Optuna's RDB storage depends on it; only server URLs get here

        self._threads.acquire()
        try:
            if self._engine is None:  # one connection, checked before each use (a server restart drops it)
                self._engine = create_engine(self.url, pool_size=1, max_overflow=0, pool_pre_ping=True)
            self._connection = self._engine.connect()
            self._connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
            self._connection.commit()
        except BaseException:
            self._release_connection(unlock=False)
            self._threads.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._release_connection(unlock=True)
        finally:
            self._threads.release()

    def _release_connection(self, unlock: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        from sqlalchemy import text  # see __enter__

        try:
            if unlock:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                connection.commit()
        finally:
            connection.close()  # back to the pool; a broken connection is discarded, its lock gone with it

    def __getstate__(self) -> dict[str, object]:  # pickled with an Experiment (Ray): no live connection travels
        return {"url": self.url, "key": self.key}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["url"], state["key"])  # type: ignore[misc]


def _check_writable(url: str, path: Path) -> None:
    """A search writes its trials (and SQLite its journal beside the file): say so before Optuna fails deep inside."""
    if path.is_dir():
        raise StorageError(f"storage {url!r}: {str(path)!r} is a directory, not a storage file")
    if path.exists() and not os.access(path, os.W_OK):
        raise StorageError(f"storage {url!r}: {str(path)!r} is read-only; a search writes its trials there")
    if not os.access(path.parent, os.W_OK):
        raise StorageError(f"storage {url!r}: folder {str(path.parent)!r} is read-only; a search writes its trials there")


def _file_path(url: str, prefix: str, create_dirs: bool) -> Path:
    """The file of a file-backed storage URL; its folder must exist (or is made, for hwnas's default).

    `sqlite:///` and `journal:///` without a file (and SQLite's in-memory `sqlite://`) are refused: a search
    would run and keep nothing.
    """
    name = url.removeprefix(prefix).split("?", 1)[0] if url.startswith(prefix) else ""
    if name in ("", ":memory:"):
        raise StorageError(f"storage {url!r} names no file; write {prefix}FILE (or :memory: for a run that keeps nothing)")
    path = Path(name)
    if create_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not path.parent.is_dir():
        raise StorageError(f"storage {url!r} cannot be opened: folder {str(path.parent)!r} does not exist")
    return path


def _check_exists(url: str, path: Path) -> None:
    if not path.exists():
        raise StorageError(f"{url}: not found (no file {str(path)!r}; `hwnas run SPEC --storage {url}` makes one)")
    if not path.is_file():
        raise StorageError(f"{url}: not an hwnas storage ({str(path)!r} is not a file)")


def _check_sqlite(url: str, path: Path) -> str:
    """The read-only SQLite URI of an existing file holding Optuna's tables, checked without writing."""
    _check_exists(url, path)
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=60)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{url}: not an hwnas storage ({exc})") from None
    missing = OPTUNA_TABLES - tables
    if missing == OPTUNA_TABLES:
        raise StorageError(f"{url}: not an hwnas storage (no Optuna tables)")
    if missing:
        raise StorageError(f"{url}: not an hwnas storage (Optuna tables missing: {', '.join(sorted(missing))})")
    return uri


def _check_journal(url: str, path: Path) -> None:
    """An existing file whose first line is an Optuna journal operation (an empty file is an empty journal)."""
    _check_exists(url, path)
    with path.open("rb") as f:
        first = f.readline(1 << 20)
    if not first:
        return
    try:
        operation = json.loads(first)
    except ValueError:
        operation = None
    if not isinstance(operation, dict) or "op_code" not in operation:
        raise StorageError(f"{url}: not an hwnas storage (not an Optuna journal)")


def _rdb_storage(url: str, attempts: int = 5, read_only_file: str | None = None,
                 skip_table_creation: bool = False) -> RDBStorage:
    """RDB storage with heartbeats; retried when another worker is creating the same fresh schema.

    With `read_only_file` (a `file:…?mode=ro` URI) SQLite connections are read-only: Optuna can neither
    create nor stamp anything, and no heartbeats are recorded.
    """
    if read_only_file is not None:
        connect = partial(sqlite3.connect, read_only_file, uri=True, timeout=60, check_same_thread=False)
        return RDBStorage(url, engine_kwargs={"creator": connect}, skip_table_creation=True)
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna; they are what resume needs
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                  heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
                                  skip_table_creation=skip_table_creation)
        except Exception as exc:  # only the schema race is retried
            if not _lost_schema_race(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _lost_schema_race(exc: Exception) -> bool:
    """Another process created the tables (or stamped the schema version) between our check and our write."""
    text = str(exc)
    return "already exists" in text or "UNIQUE constraint failed: alembic_version" in text


def fail_orphaned_trials(study: optuna.Study) -> int:
    """Fail (and retry) RUNNING trials that never recorded a heartbeat and started over `GRACE_S` ago.

    A process killed between creating a trial and its first heartbeat leaves such a trial; Optuna's
    stale-trial check only sees trials with a heartbeat, so without this it would stay RUNNING forever.
    Live workers record a heartbeat within milliseconds of starting a trial, so they are never touched.
    """
    storage = study._storage
    backend = getattr(storage, "_backend", storage)  # Optuna wraps RDB storages in a cache
    if not isinstance(backend, RDBStorage):
        return 0
    from optuna.storages._rdb.models import TrialHeartbeatModel, TrialModel  # Optuna's own tables; no public query exists

    session = backend.scoped_session()
    try:  # the running trials alone (`study.get_trials` would read every trial of the study first)
        with_heartbeat = {row.trial_id for row in session.query(TrialHeartbeatModel.trial_id).all()}
        running = [(row.trial_id, row.datetime_start) for row in session.query(TrialModel).filter(
            TrialModel.study_id == study._study_id, TrialModel.state == TrialState.RUNNING)]
    finally:
        session.close()
    with warnings.catch_warnings():  # experimental in Optuna, as above
        warnings.simplefilter("ignore", ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=3)
    now, failed = datetime.now(), 0
    for trial_id, started in running:
        if trial_id in with_heartbeat or started is None or (now - started).total_seconds() <= GRACE_S:
            continue
        if storage.set_trial_state_values(trial_id, TrialState.FAIL):
            failed += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                retry(study, storage.get_trial(trial_id))
    return failed


def load_study(storage: BaseStorage, name: str) -> optuna.Study:
    names = [s.study_name for s in storage.get_all_studies()]
    if name not in names:
        raise UnknownNameError("experiment", name, names)
    return optuna.load_study(study_name=name, storage=storage)


@dataclass(frozen=True)
class ExperimentSummary:
    name: str
    space: str
    preset: str
    searcher: str
    objectives: list[str]
    trials_done: int
    trials_feasible: int
    last_update: str | None

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def summarize(study: optuna.Study) -> ExperimentSummary:
    spec = schema.study_spec(study.user_attrs)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    last = max((t.datetime_complete for t in trials if t.datetime_complete), default=None)
    searcher = spec.get("searcher", {})
    return ExperimentSummary(
        name=study.study_name, space=spec.get("space", {}).get("name", "?"), preset=spec.get("space", {}).get("preset") or "",
        searcher=searcher.get("kind", "?") + (f"/{searcher.get('sampler')}" if searcher.get("kind") != "evolution" else ""),
        objectives=schema.objective_keys(study.user_attrs), trials_done=len(trials),
        trials_feasible=sum(1 for t in trials if t.user_attrs.get(schema.FEASIBLE)),
        last_update=last.isoformat(timespec="seconds") if last else None,
    )


def list_experiments(storage: BaseStorage) -> list[ExperimentSummary]:
    return [summarize(optuna.load_study(study_name=s.study_name, storage=storage)) for s in storage.get_all_studies()]
