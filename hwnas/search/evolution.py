"""OFA/HAT evolutionary search as an Optuna sampler, so it resumes and shares storage like any other.

Each new trial's child architecture is decided in `before_trial` from the finished trials in storage
(random for the first `population_size`; afterwards mutation of, or crossover between, the best
`parents`), and written to the trial's system attributes, from which every param is then answered.
The child depends only on the seed, the trial number and the stored trials, so a resumed or
multi-worker search makes the same kind of decisions. In a co-design experiment the space is a
`hwnas.codesign.JointSpace`, so mutation and crossover act on the architecture and the hardware alike.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import moocore
import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from hwnas.errors import HwnasError
from hwnas.search_spaces import Arch

PARAMS_KEY = "hwnas:evolution_params"


class EvolvableSpace(Protocol):
    """What evolution needs of a space: a `SearchSpace`, or arch × hardware as a `JointSpace`."""

    def sample(self, rng: Any = None) -> Arch: ...
    def mutate(self, arch: Arch, rng: Any = None, prob: float = 0.3) -> Arch: ...
    def crossover(self, a: Arch, b: Arch, rng: Any = None) -> Arch: ...
    def to_params(self, arch: Arch) -> dict[str, Any]: ...
    def from_params(self, params: Mapping[str, Any]) -> Arch: ...


class EvolutionSampler(BaseSampler):
    """Constraint-aware evolution (HAT defaults: population 125, parents 25, mutation prob 0.3)."""

    def __init__(self, space: EvolvableSpace, population_size: int = 125, parents: int = 25, mutation_prob: float = 0.3,
                 crossover_share: float = 0.5, seed: int | None = None,
                 constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None) -> None:
        if population_size < 2 or not 1 <= parents <= population_size:
            raise ValueError(f"need population_size ≥ 2 and 1 ≤ parents ≤ population_size, got {population_size}, {parents}")
        if not 0 <= mutation_prob <= 1 or not 0 <= crossover_share <= 1:
            raise ValueError("mutation_prob and crossover_share must lie in [0, 1]")
        self.space, self.population_size, self.parents = space, population_size, parents
        self.mutation_prob, self.crossover_share = mutation_prob, crossover_share
        self.seed = 0 if seed is None else seed
        self.constraints_func = constraints_func

    # -- the BaseSampler interface -------------------------------------------------------------
    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        child = self._child(study, trial.number)
        study._storage.set_trial_system_attr(trial._trial_id, PARAMS_KEY, self.space.to_params(child))

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        planned = trial.system_attrs.get(PARAMS_KEY, {})
        choices = getattr(param_distribution, "choices", None)
        if param_name in planned and (choices is None or planned[param_name] in choices):
            return planned[param_name]
        rng = self._rng(trial.number, param_name)  # a param the plan lacks (e.g. enqueued trial): uniform
        assert isinstance(param_distribution, CategoricalDistribution), "spaces suggest categorical params only"
        return rng.choice(list(param_distribution.choices))

    # -- evolution -----------------------------------------------------------------------------
    def _rng(self, number: int, salt: str = "") -> random.Random:
        return random.Random(f"{self.seed}:{number}:{salt}")

    def _arch_of(self, trial: FrozenTrial) -> Arch | None:
        """The trial's point; None for one whose params are no point of the space (e.g. a hardware
        combination refused as impossible by another sampler's run of the same study)."""
        try:
            return self.space.from_params(trial.params)
        except HwnasError:
            return None

    def _violation(self, trial: FrozenTrial) -> float:
        values = self.constraints_func(trial) if self.constraints_func else trial.user_attrs.get("constraint_values", [])
        return float(sum(max(0.0, v) for v in values))

    def ranked(self, study: optuna.Study) -> list[FrozenTrial]:
        """Finished trials best first: feasible before infeasible (by total violation), then Pareto rank."""
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not done:
            return []
        signs = np.array([-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in study.directions])
        values = np.array([t.values for t in done], dtype=float) * signs
        ranks = moocore.pareto_rank(values) if values.shape[1] > 1 else np.argsort(np.argsort(values[:, 0]))
        order = sorted(range(len(done)), key=lambda i: (self._violation(done[i]), int(ranks[i]), float(values[i].sum()), done[i].number))
        return [done[i] for i in order]

    def _child(self, study: optuna.Study, number: int) -> Arch:
        rng = self._rng(number)
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        seen = {arch.id for arch in map(self._arch_of, finished) if arch is not None}
        ranked = [t for t in self.ranked(study) if self._arch_of(t) is not None]
        for _ in range(20):  # a few tries to avoid re-evaluating an arch already in storage
            if len(ranked) < self.population_size:
                child = self.space.sample(rng)
            else:
                parents = [self._arch_of(t) for t in ranked[: self.parents]]  # type: ignore[misc]
                if rng.random() < self.crossover_share and len(parents) > 1:
                    a, b = rng.sample(parents, 2)
                    child = self.space.crossover(a, b, rng)
                else:
                    child = self.space.mutate(rng.choice(parents), rng, prob=self.mutation_prob)
            if child.id not in seen:
                return child
        return child
