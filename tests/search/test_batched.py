"""Batched trials (every objective cheap): the same trials as one at a time, exact budgets, nothing left over."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from hwnas.search import Experiment, parse_spec

CHEAP = [{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}]


def _spec(spec_dict, sampler: str, trials: int = 40):
    searcher = ({"kind": "evolution", "options": {"population_size": 8, "parents": 3}} if sampler == "evolution" else
                {"kind": "optuna", "sampler": sampler, "options": {"population_size": 8} if sampler.startswith("nsga") else {}})
    return parse_spec({**spec_dict, "objectives": CHEAP, "constraints": ["params_m <= 0.08"], "searcher": searcher,
                       "budget": {"trials": trials}})


def _trials(experiment: Experiment) -> list[tuple]:
    return [(t.number, t.state, t.user_attrs.get("arch_id"), t.values, t.user_attrs.get("duplicate_of"))
            for t in experiment.study.get_trials()]


def _run(spec, url: str, batched: bool) -> Experiment:
    experiment = Experiment(spec, url)
    experiment.batched = batched
    experiment.run()
    return experiment


def test_cheap_specs_run_batched_and_expensive_ones_do_not(spec_dict):
    assert Experiment(_spec(spec_dict, "random"), ":memory:").batched
    assert not Experiment(parse_spec(spec_dict), ":memory:").batched  # naswot runs networks


@pytest.mark.parametrize("sampler", ["random", "tpe", "qmc"])
def test_batched_trials_are_the_trials_of_a_one_at_a_time_run(spec_dict, tmp_path, sampler):
    """These samplers' proposals do not depend on a batch boundary: batched and sequential runs store the same trials."""
    spec = _spec(spec_dict, sampler)
    batched = _run(spec, f"sqlite:///{tmp_path}/batched.db", batched=True)
    one_at_a_time = _run(spec, f"sqlite:///{tmp_path}/sequential.db", batched=False)
    assert _trials(batched) == _trials(one_at_a_time)


@pytest.mark.parametrize("sampler", ["nsga2", "evolution"])
def test_generational_samplers_are_reproducible_with_an_exact_budget_and_no_repeats(spec_dict, tmp_path, sampler):
    spec = _spec(spec_dict, sampler, trials=30)
    first = _run(spec, f"sqlite:///{tmp_path}/a.db", batched=True)
    again = _run(spec, f"journal:///{tmp_path}/b.log", batched=True)
    assert _trials(first) == _trials(again)
    finished = first.study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 30
    assert len({t.user_attrs["arch_id"] for t in finished}) == 30
    assert not first.study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    refused = first.study.get_trials(states=(TrialState.FAIL,))
    assert all(t.user_attrs["duplicate_of"] < t.number for t in refused)


def test_a_resumed_batched_run_continues_to_the_budget_without_replaying(spec_dict, tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    _run(_spec(spec_dict, "nsga2", trials=12), url, batched=True)
    resumed = _run(_spec(spec_dict, "nsga2", trials=28), url, batched=True)
    finished = resumed.study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 28
    assert len({t.user_attrs["arch_id"] for t in finished}) == 28
    assert [t.number for t in resumed.study.get_trials()] == list(range(len(resumed.study.get_trials())))


def test_batched_results_match_one_arch_at_a_time_evaluation(spec_dict, tmp_path):
    experiment = _run(_spec(spec_dict, "random", trials=20), f"sqlite:///{tmp_path}/s.db", batched=True)
    for trial in experiment.study.get_trials(states=(TrialState.COMPLETE,)):
        arch = experiment.space.validate(trial.user_attrs["arch"])
        alone = experiment.objectives.evaluate(arch)
        assert trial.user_attrs["metrics"] == pytest.approx(alone.values)
        assert trial.user_attrs["feasible"] == alone.feasible
        assert list(trial.values) == pytest.approx([alone.values[k] for k in experiment.spec.objective_keys])


def test_a_retry_left_waiting_when_the_budget_is_spent_is_failed(spec_dict, tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    spec = _spec(spec_dict, "random", trials=6)
    done = _run(spec, url, batched=True)
    done.study.enqueue_trial(done.study.get_trials()[0].params)  # as the stale-trial check queues a killed trial's retry
    _run(spec, url, batched=True)
    study = optuna.load_study(study_name=spec.name, storage=url)
    assert not study.get_trials(states=(TrialState.WAITING, TrialState.RUNNING))
    assert study.get_trials(states=(TrialState.FAIL,))[-1].user_attrs["not_run"]


def test_resuming_leaves_the_stored_trials_as_they_are(spec_dict, tmp_path):
    """The in-memory copy renumbers the trials it holds; the storage's own trial objects keep their ids."""
    url = f"sqlite:///{tmp_path}/s.db"
    _run(_spec(spec_dict, "random", trials=8), url, batched=True)
    resumed = Experiment(_spec(spec_dict, "random", trials=16), url)
    before = {t.number: t._trial_id for t in resumed.study.get_trials(deepcopy=False)}
    resumed.run()
    after = {t.number: t._trial_id for t in resumed.study.get_trials(deepcopy=False)}
    assert all(after[n] == before[n] for n in before)
    assert [t.number for t in resumed.batches().mirror.get_trials()] == sorted(after)
