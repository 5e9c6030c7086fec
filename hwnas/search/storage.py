"""Opening Optuna storage, and the experiment summaries kept in it."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import optuna
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from hwnas.errors import StorageError, UnknownNameError
from hwnas.search import schema

#: A trial whose process died is failed after this long without a heartbeat, then retried once more.
HEARTBEAT_S, GRACE_S = 2, 8


def open_storage(url: str, create_dirs: bool = False) -> BaseStorage:
    """`sqlite:///file.db`, any SQLAlchemy URL (PostgreSQL for clusters), `journal:///file.log`, or
    `:memory:` (nothing kept; for benchmarks and throwaway runs).

    SQLite waits up to 60 s for a lock instead of failing with "database is locked"; RDB storages
    record heartbeats so trials of a killed process are failed and retried.
    """
    if url == ":memory:":
        return optuna.storages.InMemoryStorage()
    try:
        if url.startswith("journal:///"):
            return JournalStorage(JournalFileBackend(str(_file_path(url, "journal:///", create_dirs))))
        if url.startswith("sqlite:///"):
            _file_path(url, "sqlite:///", create_dirs)
        return _rdb_storage(url)
    except StorageError:
        raise
    except Exception as exc:  # SQLAlchemy / driver errors: one line naming the URL
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StorageError(f"storage {url!r} cannot be opened: {reason}") from None


def _file_path(url: str, prefix: str, create_dirs: bool) -> Path:
    """The file of a file-backed storage URL; its folder must exist (or is made, for hwnas's default)."""
    path = Path(url.removeprefix(prefix))
    if create_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not path.parent.is_dir():
        raise StorageError(f"storage {url!r} cannot be opened: folder {str(path.parent)!r} does not exist")
    return path


def _rdb_storage(url: str, attempts: int = 5) -> RDBStorage:
    """RDB storage with heartbeats; retried when another worker is creating the same fresh schema."""
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna; they are what resume needs
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                  heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3))
        except Exception as exc:  # noqa: BLE001 - only the schema race is retried
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
    from optuna.storages._rdb.models import TrialHeartbeatModel  # Optuna's own table; no public query exists

    session = backend.scoped_session()
    try:
        with_heartbeat = {row.trial_id for row in session.query(TrialHeartbeatModel.trial_id).all()}
    finally:
        session.close()
    now, retry, failed = datetime.now(), RetryHeartbeatStaleTrialCallback(max_retry=3), 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start
        if trial._trial_id in with_heartbeat or started is None or (now - started).total_seconds() <= GRACE_S:
            continue
        if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
            failed += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                retry(study, storage.get_trial(trial._trial_id))
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
