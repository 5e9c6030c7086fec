"""Many trials to and from Optuna storage at once: a finished batch written in one transaction (one journal
append, one SQL commit), and a study's trials read back lean.

Optuna's public `Study.add_trials` writes each trial on its own: one SQLite commit (with its fsyncs) or
one journal append per trial, and ~40 statements per trial for a space of 37 params. A batch of cheap
trials is written here in one go instead: the journal's own CREATE_TRIAL operation for each trial, in one
append, or, for an RDB storage, the trial rows through Optuna's model and every param, value and attribute
row as one multi-row insert per table, in one session. Either way the batch is atomic: a process killed
while writing leaves all of the batch or none of it (a journal line cut short is skipped on replay).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC
from typing import Any

import optuna
from optuna.distributions import distribution_to_json, json_to_distribution
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.trial import FrozenTrial

from hwnas.search.proposals import SharedParts


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


def read_trials(storage: BaseStorage, study_id: int, first_number: int = 0) -> list[FrozenTrial]:
    """The study's trials numbered `first_number` and up, by number (what resuming a batched run reads).

    An RDB storage is read with one query per table, and the trials share what they have in common: one
    distribution object per distinct distribution, one name string per param, one distributions dict per set
    of params. Optuna's own read builds an ORM object per param row and a distribution per param: for a
    100,000-trial study of a 37-param space that took 274 s and 10 GB here. Other storages: Optuna's read.
    """
    backend = getattr(storage, "_backend", storage)
    if not isinstance(backend, RDBStorage):
        return storage.get_all_trials(study_id, deepcopy=False)[first_number:]
    from optuna.storages._rdb import models  # Optuna's own tables (imported only for an RDB storage)
    from sqlalchemy import select  # Optuna's RDB storage is built on SQLAlchemy, imported by it only when used

    session = backend.scoped_session()
    try:
        trial_rows = (session.query(models.TrialModel)  # ORM rows for the trials alone: Optuna's own datetime handling
                      .filter(models.TrialModel.study_id == study_id, models.TrialModel.number >= first_number)
                      .order_by(models.TrialModel.number).all())
        parts: dict[int, dict[str, Any]] = {r.trial_id: {"params": {}, "dists": {}, "values": {}, "user": {}, "system": {},
                                                          "steps": {}} for r in trial_rows}
        low, high = (min(parts), max(parts)) if parts else (0, -1)

        def chunks(model: Any, *columns: str) -> Iterator[list[tuple]]:
            """(trial id, *columns) of `model`'s table for these trials, as the driver's tuples, in chunks: the range
            of their ids is one index scan (rows of other studies in it are skipped), no join, no sort."""
            table = model.__table__
            query = select(table.c.trial_id, *(table.c[c] for c in columns)).where(table.c.trial_id.between(low, high))
            cursor = session.execute(query).cursor
            while chunk := cursor.fetchmany(20_000):
                yield [row for row in chunk if row[0] in parts]

        def rows(model: Any, *columns: str) -> Iterator[tuple]:
            for chunk in chunks(model, *columns):
                yield from chunk

        distributions: dict[str, Any] = {}
        names: dict[str, str] = {}
        for tid, name, value, text in rows(models.TrialParamModel, "param_name", "param_value", "distribution_json"):
            distribution = distributions.get(text)
            if distribution is None:
                distribution = distributions[text] = json_to_distribution(text)
            name = names.setdefault(name, name)
            parts[tid]["params"][name] = distribution.to_external_repr(value)
            parts[tid]["dists"][name] = distribution
        for tid, objective, value, kind in rows(models.TrialValueModel, "objective", "value", "value_type"):
            kind = models.TrialValueModel.TrialValueType[kind] if isinstance(kind, str) else kind  # the driver's enum name
            parts[tid]["values"][objective] = models.TrialValueModel.stored_repr_to_value(value, kind)
        for model, key in ((models.TrialUserAttributeModel, "user"), (models.TrialSystemAttributeModel, "system")):
            for found in chunks(model, "key", "value_json"):
                decoded = json.loads("[" + ",".join(r[2] for r in found) + "]")  # one call a chunk: 3x faster than one a row
                for (tid, name, _), value in zip(found, decoded):
                    parts[tid][key][name] = value
        for tid, step, value, kind in rows(models.TrialIntermediateValueModel, "step", "intermediate_value",
                                           "intermediate_value_type"):
            model = models.TrialIntermediateValueModel
            kind = model.TrialIntermediateValueType[kind] if isinstance(kind, str) else kind
            parts[tid]["steps"][step] = model.stored_repr_to_intermediate_value(value, kind)
        shared = SharedParts()
        out = []
        for row in trial_rows:
            p = parts[row.trial_id]
            dists = shared.distributions(p["dists"])
            values = [p["values"][k] for k in sorted(p["values"])] or None
            out.append(FrozenTrial(number=row.number, state=row.state, value=None, values=values,
                                   datetime_start=row.datetime_start, datetime_complete=row.datetime_complete,
                                   params=p["params"], distributions=dists, user_attrs=p["user"], system_attrs=p["system"],
                                   intermediate_values=p["steps"], trial_id=row.trial_id))
        return out
    finally:
        session.close()
