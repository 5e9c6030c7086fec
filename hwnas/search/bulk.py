"""Writing many finished trials to Optuna storage in one transaction (one journal append, one SQL commit).

Optuna's public `Study.add_trials` writes each trial on its own: one SQLite commit (with its fsyncs) or
one journal append per trial, and ~40 statements per trial for a space of 37 params. A batch of cheap
trials is written here in one go instead, through the storage's own code for one trial: the journal's
CREATE_TRIAL operation (`JournalStorage.create_new_trial`'s log line) or the RDB storage's
`_get_prepared_new_trial` inside one session. Either way the batch is atomic: a process killed while
writing leaves all of the batch or none of it (a journal line cut short is skipped on replay).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import optuna
from optuna.distributions import distribution_to_json
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.trial import FrozenTrial


def add_finished_trials(storage: BaseStorage, study_id: int, trials: Sequence[FrozenTrial]) -> None:
    """Append `trials` (finished, in order) to the study; their numbers follow the study's last trial."""
    if not trials:
        return
    backend = getattr(storage, "_backend", storage)  # Optuna wraps RDB storages in a cache
    if isinstance(storage, JournalStorage):
        _journal_append(storage, study_id, trials)
    elif isinstance(backend, RDBStorage):
        _rdb_insert(backend, study_id, trials)
    else:  # in-memory (and any other storage): its own per-trial path
        for trial in trials:
            storage.create_new_trial(study_id, template_trial=trial)


def count_trials(storage: BaseStorage, study_id: int) -> int:
    """How many trials the study has, without reading them (Optuna's `get_n_trials` reads every trial
    through an RDB storage's cache)."""
    backend = getattr(storage, "_backend", storage)
    if not isinstance(backend, RDBStorage):
        return storage.get_n_trials(study_id)
    from optuna.storages._rdb import models  # Optuna's own tables (imported only for an RDB storage)
    from sqlalchemy import func  # Optuna's RDB storage is built on SQLAlchemy, imported by it only when used

    session = backend.scoped_session()
    try:
        return session.query(func.count(models.TrialModel.trial_id)).filter(models.TrialModel.study_id == study_id).scalar()
    finally:
        session.close()


def _iso(moment: Any) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def _journal_log(study_id: int, trial: FrozenTrial, worker_id: str) -> dict[str, Any]:
    """The CREATE_TRIAL operation Optuna's journal writes for `create_new_trial(study_id, trial)`."""
    many = trial.values is not None and len(trial.values) > 1
    log: dict[str, Any] = {
        "op_code": optuna.storages.journal._storage.JournalOperation.CREATE_TRIAL, "worker_id": worker_id,
        "study_id": study_id, "state": trial.state, "value": None if many else trial.value,
        "values": trial.values if many else None, "datetime_start": _iso(trial.datetime_start),
        "distributions": {k: distribution_to_json(d) for k, d in trial.distributions.items()},
        "params": {k: trial.distributions[k].to_internal_repr(v) for k, v in trial.params.items()},
        "user_attrs": trial.user_attrs, "system_attrs": trial.system_attrs, "intermediate_values": trial.intermediate_values,
    }
    if trial.datetime_complete:
        log["datetime_complete"] = _iso(trial.datetime_complete)
    return log


def _journal_append(storage: JournalStorage, study_id: int, trials: Sequence[FrozenTrial]) -> None:
    with storage._thread_lock:
        worker_id = storage._replay_result.worker_id
        storage._backend.append_logs([_journal_log(study_id, t, worker_id) for t in trials])
        storage._sync_with_backend()


def _rdb_insert(storage: RDBStorage, study_id: int, trials: Sequence[FrozenTrial]) -> None:
    """One session: the trial rows through Optuna's model (its own datetime and state handling), then
    every param, value and attribute row of the batch as one multi-row insert per table.

    Optuna's per-trial path also checks each param's distribution against the study's earlier trials (a
    query per param); a batch holds one space's points, whose distributions are the study's by construction.
    """
    from optuna.storages._rdb import models  # Optuna's own tables; no public bulk insert exists
    from optuna.storages._rdb.storage import _create_scoped_session  # ... and its session handling
    from sqlalchemy import func, insert  # Optuna's RDB storage is built on SQLAlchemy, imported by it only when used

    with _create_scoped_session(storage.scoped_session) as session:
        models.StudyModel.find_or_raise_by_id(study_id, session, for_update=True)  # numbers are counted under it
        base = session.query(func.count(models.TrialModel.trial_id)).filter(models.TrialModel.study_id == study_id).scalar()
        rows = [models.TrialModel(study_id=study_id, number=base + i, state=t.state, datetime_start=t.datetime_start,
                                  datetime_complete=t.datetime_complete) for i, t in enumerate(trials)]
        session.add_all(rows)
        session.flush()  # assigns the trial ids the rows below point to
        params, values, user, system, steps = [], [], [], [], []
        as_json: dict[int, str] = {}  # a batch's trials share their distribution objects: each written once
        for row, trial in zip(rows, trials):
            tid = row.trial_id
            for name, value in trial.params.items():
                distribution = trial.distributions[name]
                text = as_json.get(id(distribution))
                if text is None:
                    text = as_json[id(distribution)] = distribution_to_json(distribution)
                params.append({"trial_id": tid, "param_name": name, "param_value": distribution.to_internal_repr(value),
                               "distribution_json": text})
            for objective, value in enumerate(trial.values or ()):
                stored, kind = models.TrialValueModel.value_to_stored_repr(value)
                values.append({"trial_id": tid, "objective": objective, "value": stored, "value_type": kind})
            user += [{"trial_id": tid, "key": k, "value_json": json.dumps(v)} for k, v in trial.user_attrs.items()]
            system += [{"trial_id": tid, "key": k, "value_json": json.dumps(v)} for k, v in trial.system_attrs.items()]
            for step, value in trial.intermediate_values.items():
                stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(value)
                steps.append({"trial_id": tid, "step": step, "intermediate_value": stored, "intermediate_value_type": kind})
        for model, batch in ((models.TrialParamModel, params), (models.TrialValueModel, values),
                             (models.TrialUserAttributeModel, user), (models.TrialSystemAttributeModel, system),
                             (models.TrialIntermediateValueModel, steps)):
            if batch:
                session.execute(insert(model.__table__), batch)  # Core: one executemany per table
