"""OFA/HAT evolutionary search as an Optuna sampler, so it resumes and shares storage like any other.

Each new trial's child is decided from the study's finished trials: random for the first
`population_size` points, afterwards mutation of, or crossover between, the best `parents`. With a
space (an arch space, or arch × hardware as a `hwnas.codesign.JointSpace`) the child is a whole
point drawn in `before_trial` through the space's `sample`/`mutate`/`crossover` and answered param by
param; without one the sampler is a GA over Optuna's relative search space (uniform crossover per
param, mutation by resampling from the param's distribution), as Optuna's own GA samplers are.
Params no plan covers go to an independent sampler, as `NSGAIISampler` does.

The child depends only on the seed, the trial number and the stored trials, so a resumed or
multi-worker search makes the same kind of decisions. Only public storage APIs are used, and nothing
but the trials' own params is written: the decision is held in this process for the trial's
lifetime and stored as the params it suggests (Optuna's GA samplers, by contrast, write generation
numbers through the private `study._storage`). Evolution is steady-state (each child sees every
trial finished before it), so the population is read per trial, but incrementally: a finished trial
is parsed once (its point added to the set of points seen), and the ranking (with its parents) is
recomputed only after a trial finished, so a batch of asks (`hwnas.search.batched`: a generation of
`population_size` children) costs one ranking, and a child costs no pass over the study's points.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import moocore
import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial, TrialState

from hwnas.errors import HwnasError
from hwnas.search_spaces import Arch

#: Evolutionary draws per child before falling back to fresh random points, and random draws after.
EVOLVE_TRIES = 20
RANDOM_TRIES = 20


class EvolvableSpace(Protocol):
    """What evolution needs of a space: a `SearchSpace`, or arch × hardware as a `JointSpace`."""

    def sample(self, rng: Any = None) -> Arch: ...
    def mutate(self, arch: Arch, rng: Any = None, prob: float = 0.3) -> Arch: ...
    def crossover(self, a: Arch, b: Arch, rng: Any = None) -> Arch: ...
    def to_params(self, arch: Arch) -> dict[str, Any]: ...
    def from_params(self, params: Mapping[str, Any]) -> Arch: ...


@dataclass
class _Population:
    """One study's finished trials as evolution reads them. Finished trials never change (Optuna
    refuses to update them), so each is read and parsed once, keyed by its number; the ranking is
    recomputed only after a trial finished."""

    directions: list[optuna.study.StudyDirection]
    points: dict[int, Arch | None] = field(default_factory=dict)  # every finished trial's point (None: none)
    seen: set[str] = field(default_factory=set)  # the ids of those points
    finished: list[FrozenTrial] = field(default_factory=list)
    complete: list[FrozenTrial] = field(default_factory=list)
    ranked: list[FrozenTrial] | None = None
    parents: list[Arch] = field(default_factory=list)  # the ranked trials' points, best first
    scanned: int = 0  # trials below this number were read (finished, or in `unfinished`)
    unfinished: set[int] = field(default_factory=set)  # numbers read while running or waiting


class EvolutionSampler(BaseSampler):
    """Constraint-aware evolution (HAT defaults: population 125, parents 25, mutation prob 0.3).

    Parents are the best `parents` complete trials: feasible before infeasible (by total violation,
    from `constraints_func`, the trial's `constraint_values` user attr, or `trial.set_constraint`),
    then Pareto rank. Until `population_size` complete trials hold a point, children are random.

    A child already in the study (finished, planned by this process, or running elsewhere with its
    params stored) is redrawn: up to `EVOLVE_TRIES` evolutionary draws, then up to `RANDOM_TRIES`
    random points, so a budget buys new points while any can be found; only a space (nearly)
    exhausted gets a repeat. Without a space the same rule applies to the relative params.

    Thread safety: one instance may serve `n_jobs` threads; its caches are locked. One instance
    serves one study (caches are keyed by study name).

    Raises:
        ValueError: a population, parents, probability or share out of range.
        TypeError: an `independent_sampler` that is no Optuna sampler.
    """

    def __init__(self, space: EvolvableSpace | None = None, population_size: int = 125, parents: int = 25,
                 mutation_prob: float = 0.3, crossover_share: float = 0.5, seed: int | None = None,
                 constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
                 independent_sampler: BaseSampler | None = None) -> None:
        if population_size < 2 or not 1 <= parents <= population_size:
            raise ValueError(f"need population_size ≥ 2 and 1 ≤ parents ≤ population_size, got {population_size}, {parents}")
        if not 0 <= mutation_prob <= 1 or not 0 <= crossover_share <= 1:
            raise ValueError(f"mutation_prob and crossover_share must lie in [0, 1], got {mutation_prob}, {crossover_share}")
        if independent_sampler is not None and not isinstance(independent_sampler, BaseSampler):
            raise TypeError(f"independent_sampler must be an optuna.samplers.BaseSampler, got {type(independent_sampler).__name__}")
        self.space, self.population_size, self.parents = space, population_size, parents
        self.mutation_prob, self.crossover_share = mutation_prob, crossover_share
        self.seed = 0 if seed is None else seed
        self.constraints_func = constraints_func
        self._independent = independent_sampler or RandomSampler(seed=seed)
        self._search_space = IntersectionSearchSpace()
        self._lock = threading.Lock()
        self._populations: dict[str, _Population] = {}
        self._plans: dict[tuple[str, int], tuple[str, dict[str, Any]]] = {}  # in-flight trials: (point id, params)

    def __getstate__(self) -> dict[str, Any]:
        """Picklable like Optuna's samplers (Ray ships the study's sampler): the settings, not the lock
        or the caches (rebuilt from storage on the next trial; in-flight plans belong to this process)."""
        state = self.__dict__.copy()
        del state["_lock"]
        state["_populations"], state["_plans"] = {}, {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- the BaseSampler interface -------------------------------------------------------------
    def reseed_rng(self) -> None:
        self._independent.reseed_rng()  # evolution's own draws are seeded per trial number

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        """Empty with a space (its plan answers the arch's params); else Optuna's intersection space."""
        if self.space is not None:
            return {}
        return {name: d for name, d in self._search_space.calculate(study).items() if not d.single()}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """A GA child over exactly the params of `search_space` (whatever space it is given)."""
        if not search_space:
            return {}
        return self._child_params(study, trial.number, search_space)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._independent.before_trial(study, trial)
        if self.space is not None:
            child = self._child(study, trial.number)
            with self._lock:
                self._plans[(study.study_name, trial.number)] = (child.id, self.space.to_params(child))

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        _, planned = self._plans.get((study.study_name, trial.number), ("", {}))
        if param_name in planned and _contains(param_distribution, planned[param_name]):
            return planned[param_name]
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        with self._lock:
            self._plans.pop((study.study_name, trial.number), None)
        self._independent.after_trial(study, trial, state, values)

    # -- the population ------------------------------------------------------------------------
    def _rng(self, number: int, salt: str = "") -> random.Random:
        return random.Random(f"{self.seed}:{number}:{salt}")

    def _point_of(self, params: Mapping[str, Any]) -> Arch | None:
        """The space's point of `params`; None for params that are no point of it (e.g. a hardware
        combination refused as impossible by another sampler's run of the same study)."""
        if self.space is None:
            return None
        try:
            return self.space.from_params(params)
        except HwnasError:
            return None

    def _violation(self, trial: FrozenTrial) -> float:
        if self.constraints_func is not None:
            values: Sequence[float] = self.constraints_func(trial)
        else:
            values = trial.user_attrs.get("constraint_values", list(trial.constraints.values()))
        return float(sum(max(0.0, v) for v in values))

    def _read(self, study: optuna.Study) -> tuple[_Population, list[FrozenTrial]]:
        """The study's population (new finished trials parsed once) and its running trials.

        Only trials not read before are looked at: those numbered from `scanned` on, and those that were
        unfinished when last read (Optuna lists a study's trials by number, and a finished one never changes).
        """
        trials = study.get_trials(deepcopy=False)
        with self._lock:
            population = self._populations.get(study.study_name)
            if population is None or population.directions != study.directions:
                population = self._populations[study.study_name] = _Population(list(study.directions))
            if trials and trials[-1].number != len(trials) - 1:  # not numbered 0..n-1: read them all
                population.scanned, population.unfinished = 0, set()
            fresh = [trials[n] for n in sorted(population.unfinished) if n < len(trials)] + trials[population.scanned:]
            population.scanned, population.unfinished = max(population.scanned, len(trials)), set()
            running, added = [], False
            for t in fresh:
                if not t.state.is_finished():
                    population.unfinished.add(t.number)
                    if t.state == TrialState.RUNNING:
                        running.append(t)
                elif t.state == TrialState.FAIL:
                    continue
                elif t.number not in population.points:
                    point = population.points[t.number] = self._point_of(t.params)
                    if point is not None:
                        population.seen.add(point.id)
                    population.finished.append(t)
                    if t.state == TrialState.COMPLETE:
                        population.complete.append(t)
                        added = True
            if added:
                population.complete.sort(key=lambda t: t.number)
                population.ranked = None
            if population.ranked is None:
                population.ranked = self._rank(population.complete, population.directions)
                population.parents = [p for p in (population.points[t.number] for t in population.ranked) if p is not None]
        return population, running

    def _rank(self, done: list[FrozenTrial], directions: list[optuna.study.StudyDirection]) -> list[FrozenTrial]:
        if not done:
            return []
        signs = np.array([-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in directions])
        values = np.array([t.values for t in done], dtype=float) * signs
        ranks = moocore.pareto_rank(values) if values.shape[1] > 1 else np.argsort(np.argsort(values[:, 0]))
        order = sorted(range(len(done)), key=lambda i: (self._violation(done[i]), int(ranks[i]), float(values[i].sum()), done[i].number))
        return [done[i] for i in order]

    def ranked(self, study: optuna.Study) -> list[FrozenTrial]:
        """Complete trials best first: feasible before infeasible (by total violation), then Pareto rank."""
        return list(self._read(study)[0].ranked or [])

    def _in_flight(self, study: optuna.Study, number: int) -> set[str]:
        with self._lock:
            return {pid for (name, n), (pid, _) in self._plans.items() if name == study.study_name and n != number}

    # -- children --------------------------------------------------------------------------------
    def _child(self, study: optuna.Study, number: int) -> Arch:
        """The space's child for trial `number` (see the class docstring for the no-repeat rule)."""
        assert self.space is not None
        rng = self._rng(number)
        population, running = self._read(study)
        elsewhere = self._in_flight(study, number)
        elsewhere |= {p.id for p in (self._point_of(t.params) for t in running if t.number != number) if p is not None}

        def seen(point_id: str) -> bool:
            return point_id in population.seen or point_id in elsewhere

        evolve = len(population.parents) >= self.population_size
        parents = population.parents[: self.parents]
        for attempt in range(EVOLVE_TRIES + RANDOM_TRIES):
            if not evolve or attempt >= EVOLVE_TRIES:
                child = self.space.sample(rng)
            elif rng.random() < self.crossover_share and len(parents) > 1:
                a, b = rng.sample(parents, 2)
                child = self.space.crossover(a, b, rng)  # type: ignore[arg-type]
            else:
                child = self.space.mutate(rng.choice(parents), rng, prob=self.mutation_prob)  # type: ignore[arg-type]
            if not seen(child.id):
                return child
        return child

    def _child_params(self, study: optuna.Study, number: int, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """A child over `search_space`'s params: uniform crossover per param, mutation by resampling."""
        rng, names = self._rng(number, "relative"), sorted(search_space)
        population, running = self._read(study)

        def covers(params: Mapping[str, Any]) -> bool:
            return all(n in params and _contains(search_space[n], params[n]) for n in names)

        def key(params: Mapping[str, Any]) -> Hashable:
            return tuple(search_space[n].to_internal_repr(params[n]) for n in names)

        seen = {key(t.params) for t in population.finished + running if t.number != number and covers(t.params)}
        parents = [t.params for t in population.ranked or [] if covers(t.params)]
        evolve = len(parents) >= self.population_size
        parents = parents[: self.parents]
        for attempt in range(EVOLVE_TRIES + RANDOM_TRIES):
            if not evolve or attempt >= EVOLVE_TRIES:
                child = {n: _draw(search_space[n], rng) for n in names}
            elif rng.random() < self.crossover_share and len(parents) > 1:
                a, b = rng.sample(parents, 2)
                child = {n: rng.choice((a, b))[n] for n in names}
            else:
                parent = rng.choice(parents)
                child = {n: _draw(search_space[n], rng) if rng.random() < self.mutation_prob else parent[n] for n in names}
            if key(child) not in seen:
                return child
        return child


def _contains(distribution: BaseDistribution, value: Any) -> bool:
    """Whether `value` is a point of `distribution`, by the same test `optuna.Trial` applies to
    relative params (`_contains` is Optuna's own, on every distribution)."""
    try:
        return bool(distribution._contains(distribution.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def _draw(distribution: BaseDistribution, rng: random.Random) -> Any:
    """A uniform point of `distribution` (log-uniform where it is log), as a plain Python value."""
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[rng.randrange(len(distribution.choices))]
    if isinstance(distribution, IntDistribution):
        low, high = distribution.low, distribution.high
        if distribution.log:  # Optuna's rule: log-uniform over [low - 0.5, high + 0.5], rounded
            value = round(math.exp(rng.uniform(math.log(low - 0.5), math.log(high + 0.5))))
            return int(min(high, max(low, value)))
        return int(low + distribution.step * rng.randint(0, (high - low) // distribution.step))
    if isinstance(distribution, FloatDistribution):
        low, high = distribution.low, distribution.high
        if distribution.log:
            return float(min(high, max(low, math.exp(rng.uniform(math.log(low), math.log(high))))))
        if distribution.step is not None:
            return float(min(high, low + distribution.step * rng.randint(0, round((high - low) / distribution.step))))
        return float(rng.uniform(low, high))
    raise TypeError(f"evolution cannot draw from {type(distribution).__name__}; known: Categorical, Int, Float")
