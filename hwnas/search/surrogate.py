"""Predictor-in-the-loop search: real evaluations go where a surrogate expects them to move the front.

With a trained supernet an `accuracy` evaluation costs a BatchNorm re-estimation and a validation pass,
while predicted latency and counted FLOPs cost microseconds. `SurrogateSampler` spends the expensive
evaluations in rounds:

1. the first `initial` trials are the smallest and the largest subnet, then random ones (the surrogate needs
   something to learn from, and the two extremes anchor the front's ends);
2. each round fits a `SurrogateEnsemble` per expensive key (objective or constraint) on the study's
   evaluated trials (`ArchFeatures`: the arch's encoding, its per-layer summary, log params and FLOPs),
   evolves a population on surrogate scores and the exact cheap objectives (thousands of candidates,
   priced in batches), and
3. picks `batch` candidates greedily by hypervolume improvement of their optimistic values (mean plus
   `kappa` standard deviations of the ensemble) over the real front, each pick joining the front at its
   predicted mean before the next is chosen, so one round does not spend its batch on one corner.

The picks are ordinary trials: resume, threads or Ray workers, the dashboard and `hwnas pareto` read them
as any other; the surrogate's prediction for each is stored beside it (`schema.SURROGATE`). Decisions
depend on the seed and the study's trials only, so a resumed search picks up where it stopped.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import moocore
import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState

from hwnas.codesign import JointSpace
from hwnas.errors import HwnasError
from hwnas.evaluators import CountEvaluator
from hwnas.predictors import metrics
from hwnas.predictors._surrogate import SurrogateEnsemble
from hwnas.search import schema
from hwnas.search.pareto import reference_point
from hwnas.search_spaces import Arch

if TYPE_CHECKING:
    from hwnas.search.objectives import ObjectiveSet

#: Draws for a random point the study does not hold yet.
RANDOM_TRIES = 50
#: Count metrics every point gets as features (analytic, so free).
COUNT_FEATURES = ("params_m", "flops_m")


class ArchFeatures:
    """The rows a surrogate reads for points of `space`: the encoding (a column per layer slot), the per-layer
    summary (`encode_summary`) and log params and FLOPs; in co-design the hardware's encoding too.

    Only the space is needed, so a surrogate saved by `hwnas surrogate` prices any arch of it later."""

    def __init__(self, space: Any) -> None:
        self.space = space
        self.arch_space = space.space if isinstance(space, JointSpace) else space
        self._counts = CountEvaluator(self.arch_space)
        hardware = self.space.hardware.feature_names() if isinstance(self.space, JointSpace) else []
        self._names = [*self.arch_space.feature_names(), *self.arch_space.summary_names(), *hardware,
                       *(f"log {key}" for key in COUNT_FEATURES)]

    def names(self) -> list[str]:
        return list(self._names)

    def rows(self, points: Sequence[Arch]) -> np.ndarray:
        if isinstance(self.space, JointSpace):
            parts = [self.space.split(p) for p in points]
            archs = [a for a, _ in parts]
            hardware = [self.space.hardware.encode(h) for _, h in parts]
        else:
            archs, hardware = list(points), [np.zeros(0)] * len(points)
        counts = self._counts.evaluate(archs)
        return np.array([np.hstack([self.arch_space.encode(a), self.arch_space.encode_summary(a), h,
                                    [math.log(max(c[k], 1e-9)) for k in COUNT_FEATURES]])
                         for a, h, c in zip(archs, hardware, counts)]).reshape(len(points), len(self._names))


@dataclass(frozen=True)
class Prediction:
    """A surrogate's guess for one point: per modelled key its mean and spread."""

    mean: dict[str, float]
    std: dict[str, float]

    def to_json(self) -> dict[str, dict[str, float]]:
        return {key: {"mean": round(self.mean[key], 6), "std": round(self.std[key], 6)} for key in self.mean}


@dataclass
class _Evaluated:
    """The study's finished trials as the sampler reads them: points, and the metrics of complete ones."""

    taken: set[str] = field(default_factory=set)  # every point finished, running or planned
    points: list[Arch] = field(default_factory=list)  # complete trials' points ...
    metrics: list[dict[str, float]] = field(default_factory=list)  # ... their stored metrics
    feasible: list[bool] = field(default_factory=list)


class SurrogateSampler(BaseSampler):
    """Rounds of surrogate-guided picks (see the module docstring); one instance serves one study.

    Args:
        space: the space searched (an arch space, or arch × hardware); given by the experiment.
        objectives: the experiment's `ObjectiveSet` (its directions, constraints and cheap evaluators).
        initial: trials before the first round (the two anchors, then random points).
        batch: real evaluations per round (each round refits the surrogates).
        population, generations: the inner evolution on surrogate scores (population × generations candidates).
        kappa: optimism, in ensemble standard deviations, of the values candidates are picked by.
        members: bootstrap members per surrogate.
        mlp: each member fits a small MLP besides its boosted trees (on inherited accuracy it ranked no better
            and cost ten times the fitting time: `benchmarks/surrogate_search.py`).
        anchors: the initial trials start with the space's smallest and largest archs.

    Raises:
        ValueError: options out of range, or a spec whose objectives are all cheap (nothing to model).
    """

    def __init__(self, space: Any = None, objectives: ObjectiveSet | None = None, initial: int = 10, batch: int = 4,
                 population: int = 128, generations: int = 16, kappa: float = 1.0, members: int = 5,
                 mlp: bool = False, anchors: bool = True, seed: int | None = None) -> None:
        if space is None or objectives is None:
            raise ValueError("the surrogate sampler is built by an experiment (it needs the space and objectives)")
        if initial < 2 or batch < 1 or population < 4 or generations < 1 or kappa < 0 or members < 2:
            raise ValueError("the surrogate sampler needs initial ≥ 2, batch ≥ 1, population ≥ 4, generations ≥ 1, "
                             f"kappa ≥ 0 and members ≥ 2, got {initial}, {batch}, {population}, {generations}, {kappa}, "
                             f"{members}")
        self.modelled = objectives.expensive_keys
        if not self.modelled:
            raise ValueError("the surrogate sampler models expensive objectives (accuracy, naswot, measured latency); "
                             "every objective and constraint here is predicted or counted: use nsga2 or evolution")
        self.space, self.objectives = space, objectives
        self.initial, self.batch, self.population, self.generations = initial, batch, population, generations
        self.kappa, self.members, self.mlp, self.anchors = float(kappa), members, bool(mlp), bool(anchors)
        self.seed = 0 if seed is None else seed
        spec = objectives.spec
        self.keys, self.directions, self.constraints = spec.objective_keys, spec.directions, list(spec.constraints)
        self.features = ArchFeatures(space)
        self._independent = RandomSampler(seed=seed)
        self._lock = threading.Lock()
        self._queue: list[tuple[Arch, Prediction]] = []  # this round's picks not yet handed to a trial
        self._plans: dict[int, tuple[dict[str, Any], Prediction | None]] = {}  # trial number -> its point's params

    def __getstate__(self) -> dict[str, Any]:  # pickled with the study (Ray's searcher holds it)
        state = self.__dict__.copy()
        del state["_lock"]
        state["_queue"], state["_plans"] = [], {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- the BaseSampler interface -------------------------------------------------------------
    def reseed_rng(self) -> None:
        self._independent.reseed_rng()

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}  # the plan answers every param of the point

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        fixed = self._point_of(trial.system_attrs.get("fixed_params") or {})  # an enqueued trial (a killed one's retry)
        with self._lock:  # one round at a time: threads wait for it (a round costs less than an evaluation)
            point, prediction = (fixed, None) if fixed is not None else self._next(study, trial.number)
            self._plans[trial.number] = (self.space.to_params(point), prediction)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        params = self._plans.get(trial.number, ({}, None))[0]
        if param_name in params:
            return params[param_name]
        return self._independent.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None) -> None:
        with self._lock:
            self._plans.pop(trial.number, None)

    def predicted(self, number: int) -> dict[str, dict[str, float]] | None:
        """What the surrogate predicted for trial `number`'s point (None: a random initial trial)."""
        planned = self._plans.get(number)
        return planned[1].to_json() if planned and planned[1] is not None else None

    # -- decisions ---------------------------------------------------------------------------------
    def _next(self, study: optuna.Study, number: int) -> tuple[Arch, Prediction | None]:
        evaluated = self._read(study, number)
        while self._queue:
            point, prediction = self._queue.pop(0)
            if point.id not in evaluated.taken:
                return point, prediction
        if len(evaluated.points) >= self.initial:
            self._queue = self._round(evaluated, random.Random(f"{self.seed}:round:{len(evaluated.points)}:{number}"))
            if self._queue:
                return self._queue.pop(0)
        return self._initial_point(evaluated.taken, random.Random(f"{self.seed}:{number}:random")), None

    def _point_of(self, params: Mapping[str, Any]) -> Arch | None:
        try:
            return self.space.from_params(params)
        except HwnasError:
            return None

    def _read(self, study: optuna.Study, number: int) -> _Evaluated:
        planned = (self._point_of(params) for n, (params, _) in self._plans.items() if n != number)
        evaluated = _Evaluated(taken={point.id for point in planned if point is not None})
        for trial in study.get_trials(deepcopy=False):
            if trial.number == number or trial.state == TrialState.FAIL:
                continue
            point = self._point_of(trial.params)
            if point is None:
                continue
            evaluated.taken.add(point.id)
            metrics = schema.TrialRecord.of(trial.user_attrs).metrics
            if trial.state == TrialState.COMPLETE and all(k in metrics for k in self.modelled):
                evaluated.points.append(point)
                evaluated.metrics.append(metrics)
                evaluated.feasible.append(bool(trial.user_attrs.get(schema.FEASIBLE, False)))
        return evaluated

    def _initial_point(self, taken: set[str], rng: random.Random) -> Arch:
        """The space's smallest and largest archs first (they anchor the front's two ends), then random ones."""
        for anchor in ("min_arch", "max_arch") if self.anchors else ():
            point = getattr(self.space, anchor, None)
            if callable(point) and (point := point()).id not in taken:
                return point
        point = self.space.sample(rng)
        for _ in range(RANDOM_TRIES):
            if point.id not in taken:
                break
            point = self.space.sample(rng)
        return point

    # -- one round -----------------------------------------------------------------------------
    def _round(self, evaluated: _Evaluated, rng: random.Random) -> list[tuple[Arch, Prediction]]:
        """Fit, evolve on the surrogates, pick `batch` points (best first)."""
        features = self.features.rows(evaluated.points)
        models = {key: SurrogateEnsemble(self.members, self.mlp, seed=self.seed + len(evaluated.points))
                  .fit(features, [m[key] for m in evaluated.metrics]) for key in self.modelled}
        pool = _Pool(self, models)
        real = np.array([self._minimised(m) for m in evaluated.metrics])
        front = real[np.array(evaluated.feasible, dtype=bool)]
        order = np.argsort(moocore.pareto_rank(real) if real.shape[1] > 1 else real[:, 0], kind="stable")
        best_real = [evaluated.points[i] for i in order[: max(2, self.population // 8)]]  # bred from in every generation
        pool.score([self.space.sample(rng) for _ in range(self.population // 2)], evaluated.taken)
        for _ in range(self.generations):
            parents = best_real + pool.elite(max(2, self.population // 4))
            children = [self.space.crossover(*rng.sample(parents, 2), rng) if rng.random() < 0.5
                        else self.space.mutate(rng.choice(parents), rng) for _ in range(self.population)]
            pool.score(children, evaluated.taken)
        return pool.pick(front, reference_point(real), self.batch, rng)

    def _minimised(self, values: Mapping[str, float], shift: Mapping[str, float] | None = None) -> list[float]:
        """Objective values, each to be minimised (maximised ones negated); `shift` moves modelled keys first."""
        shift = shift or {}
        return [(-1.0 if d == "maximize" else 1.0) * (values[k] + shift.get(k, 0.0)) for k, d in zip(self.keys, self.directions)]


class _Pool:
    """Candidates of one round: each point priced once (cheap objectives exactly, modelled keys by surrogate)."""

    def __init__(self, sampler: SurrogateSampler, models: dict[str, SurrogateEnsemble]) -> None:
        self.sampler, self.models = sampler, models
        self.points: list[Arch] = []
        self.ids: set[str] = set()
        self.predictions: list[Prediction] = []
        self.mean: list[list[float]] = []  # minimised objective vectors at the predicted mean ...
        self.optimistic: list[list[float]] = []  # ... and at mean + kappa std in each objective's better direction
        self.violation: list[float] = []  # total optimistic constraint violation (0: feasible)

    def score(self, points: Sequence[Arch], taken: set[str]) -> None:
        fresh = list({p.id: p for p in points if p.id not in taken and p.id not in self.ids}.values())
        if not fresh:
            return
        s = self.sampler
        pairs = [s.space.split(p) if isinstance(s.space, JointSpace) else (p, None) for p in fresh]
        cheap = s.objectives.evaluate_cheap(pairs)
        priced = [(p, r) for p, r in zip(fresh, cheap) if r.complete]  # a predictor refused the others
        if not priced:
            return
        features = s.features.rows([p for p, _ in priced])
        spread = {key: model.predict_with_spread(features) for key, model in self.models.items()}
        kappa = s.kappa
        for i, (point, result) in enumerate(priced):
            mean = {k: float(spread[k][0][i]) for k in self.models}
            std = {k: float(spread[k][1][i]) for k in self.models}
            values = {**result.values, **mean}
            better = {k: kappa * std[k] * (1.0 if d == "maximize" else -1.0) for k, d in zip(s.keys, s.directions) if k in std}
            violation = sum(max(0.0, v) for v in result.violations)
            for c in s.constraints:
                if c.key in mean:
                    violation += max(0.0, c.violation(mean[c.key]) - kappa * std[c.key])
            self.points.append(point)
            self.ids.add(point.id)
            self.predictions.append(Prediction(mean, std))
            self.mean.append(s._minimised(values))
            self.optimistic.append(s._minimised(values, better))
            self.violation.append(violation)

    def elite(self, n: int) -> list[Arch]:
        """The `n` best candidates so far: least violation, then Pareto rank of optimistic values."""
        if not self.points:
            return []
        optimistic = np.array(self.optimistic)
        ranks = moocore.pareto_rank(optimistic) if optimistic.shape[1] > 1 else np.argsort(np.argsort(optimistic[:, 0]))
        order = sorted(range(len(self.points)), key=lambda i: (self.violation[i], int(ranks[i]), float(optimistic[i].sum())))
        return [self.points[i] for i in order[:n]]

    def pick(self, front: np.ndarray, reference: np.ndarray, batch: int, rng: random.Random) -> list[tuple[Arch, Prediction]]:
        """Greedy batch: the candidate of largest optimistic hypervolume improvement, its mean added to the
        front, again; feasible candidates first; the most uncertain one when none improves the front."""
        if not self.points:
            return []
        optimistic, mean = np.array(self.optimistic), np.array(self.mean)
        feasible = [i for i in range(len(self.points)) if self.violation[i] <= 0]
        open_ = feasible or sorted(range(len(self.points)), key=lambda i: self.violation[i])[: max(batch, 1)]
        front = front.reshape(-1, optimistic.shape[1])
        picks: list[int] = []
        for _ in range(min(batch, len(open_))):
            left = [i for i in open_ if i not in picks]
            gains = _improvements(front, optimistic[left], reference)
            best = int(np.argmax(gains))
            if gains[best] <= 0:  # nothing promises a better front: learn where the surrogate knows least
                spread = [sum(self.predictions[i].std.values()) for i in left]
                best = int(np.argmax(spread))
            picks.append(left[best])
            front = np.vstack([front, mean[left[best]]])
        return [(self.points[i], self.predictions[i]) for i in picks]


def _improvements(front: np.ndarray, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Hypervolume each candidate adds to `front` (minimised objectives, `reference` the nadir bound)."""
    gains = np.zeros(len(candidates))
    inside = np.all(candidates < reference, axis=1)
    if len(front):
        dominated = np.any(np.all(front[None, :, :] <= candidates[:, None, :], axis=2), axis=1)
        inside &= ~dominated
        base = moocore.hypervolume(front, ref=reference)
    else:
        base = 0.0
    for i in np.flatnonzero(inside):
        gains[i] = moocore.hypervolume(np.vstack([front, candidates[i]]), ref=reference) - base
    return gains


# -- a surrogate of a stored experiment (`hwnas surrogate fit`) -------------------------------------------
@dataclass(frozen=True)
class FittedSurrogate:
    """A surrogate of one metric of an experiment's trials, and how well it ranks subnets it did not see."""

    model: SurrogateEnsemble
    trials: int
    cross_validation: dict[str, float]


def fit_surrogate(space: Any, points: Sequence[Arch], values: Sequence[float], members: int = 5, mlp: bool = False,
                  folds: int = 5, seed: int = 0, about: Mapping[str, Any] | None = None) -> FittedSurrogate:
    """Fit on every point; `folds`-fold cross-validation (pooled held-out predictions) says how well it ranks.

    Raises `HwnasError` with fewer than `folds` (at least 4) points."""
    features = ArchFeatures(space)
    rows, target = features.rows(points), np.asarray(values, dtype=float)
    if len(target) < max(folds, 4):
        raise HwnasError(f"a surrogate with {folds}-fold validation needs at least {max(folds, 4)} evaluated trials, "
                         f"got {len(target)}")
    held_out = np.empty(len(target))
    order = np.random.default_rng(seed).permutation(len(target))
    for fold in np.array_split(order, folds):
        train = np.setdiff1d(order, fold)
        held_out[fold] = SurrogateEnsemble(members, mlp, seed).fit(rows[train], target[train]).predict(rows[fold])
    validation = {"folds": folds, "kendall_tau": metrics.kendall_tau(target, held_out),
                  "mae": float(np.mean(np.abs(target - held_out)))}
    details = {**(about or {}), "features": features.names(), "trials": len(target), "cross_validation": validation}
    model = SurrogateEnsemble(members, mlp, seed, details).fit(rows, target)
    return FittedSurrogate(model, len(target), validation)
