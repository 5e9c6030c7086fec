"""EvolutionSampler: with a space and without, independent params, no repeats, one read per trial, resume."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from hwnas.errors import InvalidArchError
from hwnas.search import EvolutionSampler
from hwnas.search_spaces import Arch


class GridSpace:
    """A tiny EvolvableSpace: `fields` binary choices (2**fields archs); counts the params it parses."""

    def __init__(self, fields: int = 2) -> None:
        self.names = [f"f{i}" for i in range(fields)]
        self.parsed = 0

    def sample(self, rng: Any = None) -> Arch:
        return Arch({n: rng.choice((0, 1)) for n in self.names})

    def mutate(self, arch: Arch, rng: Any = None, prob: float = 0.3) -> Arch:
        return Arch({n: rng.choice((0, 1)) if rng.random() < prob else arch[n] for n in self.names})

    def crossover(self, a: Arch, b: Arch, rng: Any = None) -> Arch:
        return Arch({n: rng.choice((a, b))[n] for n in self.names})

    def to_params(self, arch: Arch) -> dict[str, Any]:
        return dict(arch)

    def from_params(self, params: Mapping[str, Any]) -> Arch:
        self.parsed += 1
        if any(n not in params for n in self.names):
            raise InvalidArchError("params lack a field")
        return Arch({n: params[n] for n in self.names})

    def suggest(self, trial: optuna.Trial) -> Arch:
        return Arch({n: trial.suggest_categorical(n, [0, 1]) for n in self.names})


def _optimize(sampler: EvolutionSampler, space: GridSpace, n_trials: int, storage: Any = None, extra: bool = False) -> optuna.Study:
    def objective(trial: optuna.Trial) -> float:
        arch = space.suggest(trial)
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True) if extra else 0.0
        return sum(arch.values()) + lr

    study = optuna.create_study(sampler=sampler, storage=storage, study_name="evo", load_if_exists=True)
    study.optimize(objective, n_trials=n_trials)
    return study


def test_constructor_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="population_size ≥ 2.*got 1, 1"):
        EvolutionSampler(population_size=1, parents=1)
    with pytest.raises(ValueError, match=r"\[0, 1\], got 1.5, 0.5"):
        EvolutionSampler(mutation_prob=1.5)
    with pytest.raises(TypeError, match="independent_sampler must be an optuna.samplers.BaseSampler, got str"):
        EvolutionSampler(independent_sampler="random")  # type: ignore[arg-type]


def test_no_arch_is_repeated_while_a_fresh_one_exists():
    """Mutation that never changes anything would repeat parents; the random fallback finds the rest."""
    space = GridSpace(fields=3)
    sampler = EvolutionSampler(space, population_size=2, parents=1, mutation_prob=0.0, crossover_share=0.0, seed=3)
    study = _optimize(sampler, space, 10)
    archs = [tuple(t.params[n] for n in space.names) for t in study.trials]
    assert len(set(archs[:8])) == 8  # all 2**3 archs before any repeat
    assert all(t.state == TrialState.COMPLETE for t in study.trials)  # exhausted: a repeat, still a valid arch


def test_params_outside_the_plan_go_to_the_independent_sampler():
    calls: list[str] = []

    class Spy(optuna.samplers.RandomSampler):
        def sample_independent(self, study, trial, param_name, param_distribution):  # type: ignore[no-untyped-def]
            calls.append(param_name)
            return super().sample_independent(study, trial, param_name, param_distribution)

    space = GridSpace()
    study = _optimize(EvolutionSampler(space, population_size=2, parents=1, independent_sampler=Spy(seed=0)), space, 6, extra=True)
    assert calls == ["lr"] * 6
    assert all(1e-4 <= t.params["lr"] <= 1e-1 for t in study.trials)


def test_each_finished_trial_is_parsed_once_and_nothing_private_is_written():
    space = GridSpace(fields=6)
    study = _optimize(EvolutionSampler(space, population_size=4, parents=2, seed=0), space, 30)
    assert space.parsed == 30 - 1  # trial n reads trials 0..n-1, each parsed the first time it is seen
    assert all(not t.system_attrs for t in study.trials)


def test_children_evolve_from_the_best_parents():
    space = GridSpace(fields=8)
    sampler = EvolutionSampler(space, population_size=6, parents=2, mutation_prob=0.0, crossover_share=1.0, seed=1)
    study = _optimize(sampler, space, 7)
    best = [space.from_params(t.params) for t in sampler.ranked(study) if t.number < 6][:2]
    child = space.from_params(study.trials[6].params)
    assert all(child[n] in (best[0][n], best[1][n]) for n in space.names)  # uniform crossover of the two best
    assert sampler.ranked(study)[0].number == min(study.trials, key=lambda t: t.value).number


def test_a_pickled_sampler_continues_the_same_search():
    space = GridSpace(fields=10)
    sampler = EvolutionSampler(space, population_size=4, parents=2, seed=5)
    study = _optimize(sampler, space, 6)
    study.sampler = pickle.loads(pickle.dumps(sampler))
    study.optimize(lambda t: sum(space.suggest(t).values()), n_trials=6)
    straight = _optimize(EvolutionSampler(space, population_size=4, parents=2, seed=5), space, 12)
    assert [t.params for t in study.trials] == [t.params for t in straight.trials]


def test_a_resumed_search_makes_the_same_decisions(tmp_path):
    url = f"sqlite:///{tmp_path}/evo.db"
    space = GridSpace(fields=10)
    straight = _optimize(EvolutionSampler(space, population_size=4, parents=2, seed=5), space, 12)
    _optimize(EvolutionSampler(space, population_size=4, parents=2, seed=5), space, 7, storage=url)
    resumed = _optimize(EvolutionSampler(space, population_size=4, parents=2, seed=5), space, 5, storage=url)
    assert [t.params for t in resumed.trials] == [t.params for t in straight.trials]


def test_without_a_space_it_is_a_ga_over_the_relative_search_space():
    """Float, int and categorical params: children inherit floats from earlier trials (a random draw
    never repeats a float exactly), stay in range, and the search improves on its first population."""

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5, 5)
        n = trial.suggest_int("n", 0, 20)
        c = trial.suggest_categorical("c", ["a", "b", "c"])
        return x**2 + abs(n - 7) + {"a": 1.0, "b": 0.0, "c": 2.0}[c]

    sampler = EvolutionSampler(population_size=8, parents=3, mutation_prob=0.3, seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=40)
    assert sampler.infer_relative_search_space(study, study.trials[-1]).keys() == {"x", "n", "c"}
    xs = [t.params["x"] for t in study.trials]
    inherited = [i for i in range(8, 40) if xs[i] in xs[:i]]
    assert len(inherited) >= 16
    assert all(isinstance(x, float) and -5 <= x <= 5 for x in xs)
    assert all(isinstance(t.params["n"], int) and 0 <= t.params["n"] <= 20 for t in study.trials)
    assert study.best_value < min(t.value for t in study.trials[:8])


def test_relative_children_repeat_no_point_while_fresh_ones_exist():
    def objective(trial: optuna.Trial) -> float:
        return sum(trial.suggest_categorical(k, [0, 1]) for k in "abc")

    study = optuna.create_study(sampler=EvolutionSampler(population_size=2, parents=1, mutation_prob=0.0, crossover_share=0.0, seed=0))
    study.optimize(objective, n_trials=8)
    points = [tuple(t.params[k] for k in "abc") for t in study.trials]
    assert len(set(points)) == 8  # all 2**3 points; trial 0 (no relative space yet) is sampled independently
