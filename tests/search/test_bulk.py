"""A batch written in one transaction reads back exactly as Optuna's own per-trial `add_trials` writes it."""

from __future__ import annotations

import datetime
import random

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from hwnas.search.bulk import add_finished_trials, count_trials, read_trials
from hwnas.search.storage import open_storage


def _trials(n: int) -> list[optuna.trial.FrozenTrial]:
    rng = random.Random(0)
    shared = {"width": CategoricalDistribution([64, 128, 256]), "kind": CategoricalDistribution(["a", "b"]),
              "depth": IntDistribution(1, 6), "rate": FloatDistribution(1e-4, 1e-1, log=True)}
    out = []
    for i in range(n):
        state = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL][i % 3]
        params = {"width": rng.choice([64, 128, 256]), "kind": rng.choice("ab"), "depth": rng.randint(1, 6),
                  "rate": 10 ** rng.uniform(-4, -1)}
        values = [rng.random(), float("inf") if i == 3 else -rng.random()] if state == TrialState.COMPLETE else None
        trial = create_trial(state=state, values=values, params=params, distributions=shared,
                             user_attrs={"arch_id": f"a{i}", "metrics": {"m": i * 0.5}, "feasible": i % 2 == 0},
                             system_attrs={"nsga2:generation": i // 4, "constraints:c": 0.5 - i},
                             intermediate_values={0: 0.25, 1: float("nan")} if i == 4 else {})
        trial.datetime_start = datetime.datetime(2026, 12, 1, 10, 0, i)
        out.append(trial)
    return out


def _comparable(trial: optuna.trial.FrozenTrial) -> tuple:
    return (trial.number, trial.state, trial.values, trial.params, trial.distributions, trial.user_attrs,
            trial.system_attrs, trial.datetime_start, trial.datetime_complete is not None)


@pytest.mark.parametrize("kind", ["sqlite", "journal", "memory"])
def test_a_bulk_batch_reads_back_as_add_trials_writes_it(tmp_path, kind):
    url = {"sqlite": f"sqlite:///{tmp_path}/s.db", "journal": f"journal:///{tmp_path}/s.log", "memory": ":memory:"}[kind]
    storage = open_storage(url)
    bulk = optuna.create_study(study_name="bulk", storage=storage, directions=["minimize", "maximize"])
    reference = optuna.create_study(study_name="reference", storage=storage, directions=["minimize", "maximize"])
    trials = _trials(9)
    add_finished_trials(bulk._storage, bulk._study_id, trials[:4])
    add_finished_trials(bulk._storage, bulk._study_id, trials[4:])  # numbers continue after the first batch
    reference.add_trials(trials)
    if kind != "memory":  # read back from the file, through a fresh storage
        storage = open_storage(url)
    got = optuna.load_study(study_name="bulk", storage=storage).get_trials()
    want = optuna.load_study(study_name="reference", storage=storage).get_trials()
    assert [t.number for t in got] == list(range(9))
    assert [_comparable(t) for t in got] == [_comparable(t) for t in want]
    assert count_trials(storage, optuna.load_study(study_name="bulk", storage=storage)._study_id) == 9


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_read_trials_is_optunas_read(tmp_path, kind):
    """The lean reader (one query per table, shared distributions) returns what Optuna's `get_trials` does."""
    url = {"sqlite": f"sqlite:///{tmp_path}/s.db", "journal": f"journal:///{tmp_path}/s.log"}[kind]
    study = optuna.create_study(study_name="s", storage=open_storage(url), directions=["minimize", "maximize"])
    trials = _trials(9)
    study.add_trials(trials[:3])
    add_finished_trials(study._storage, study._study_id, trials[3:])
    twins = {"left": CategoricalDistribution([1, 2]), "right": CategoricalDistribution([1, 2])}  # one JSON, two names
    study.add_trial(create_trial(state=TrialState.FAIL, params={"left": 1, "right": 2}, distributions=twins))
    study.add_trial(create_trial(state=TrialState.FAIL, params={"up": 1, "down": 2},
                                 distributions={"up": twins["left"], "down": twins["right"]}))
    study.enqueue_trial({"width": 64})  # a WAITING trial, read as it is
    storage = open_storage(url)
    loaded = optuna.load_study(study_name="s", storage=storage)
    want = loaded.get_trials()
    fresh = open_storage(url)
    got = read_trials(fresh, optuna.load_study(study_name="s", storage=fresh)._study_id)
    steps = lambda t: repr(t.intermediate_values)  # noqa: E731 - NaN compares by its repr
    assert [_comparable(t) + (steps(t),) for t in got] == [_comparable(t) + (steps(t),) for t in want]
    assert [t.number for t in read_trials(fresh, optuna.load_study(study_name="s", storage=fresh)._study_id, 4)] == list(range(4, 12))
