"""Searchers by name: every sampler a spec can ask for, and how each searcher kind runs its trials.

Two registries of one type (`hwnas.registry.Registry`):
- `SAMPLERS`: Optuna's samplers and hwnas's evolution, each a factory of an `optuna.samplers.BaseSampler`
  (registered lazily, so listing them imports no sampler module);
- `SEARCHERS`: the spec's `searcher.kind`: which sampler it implies (evolution) and which engine runs its
  trials (`None`: this process, Optuna's optimize loop; otherwise a `module:function` such as Ray Tune's).

A new sampler is one `SAMPLERS.register(...)` call; spec validation, errors and tests read the registry.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna

from hwnas.errors import SpecError, shown
from hwnas.registry import Registry

if TYPE_CHECKING:
    from hwnas.search.spec import ExperimentSpec

SamplerFactory = Callable[..., optuna.samplers.BaseSampler]
SAMPLERS: Registry[SamplerFactory] = Registry("sampler")
for _name, _target, _summary in (
    ("tpe", "optuna.samplers:TPESampler", "Tree-structured Parzen estimator (Optuna)"),
    ("nsga2", "optuna.samplers:NSGAIISampler", "NSGA-II genetic algorithm (Optuna)"),
    ("nsga3", "optuna.samplers:NSGAIIISampler", "NSGA-III, reference points for many objectives (Optuna)"),
    ("random", "optuna.samplers:RandomSampler", "uniform random archs (Optuna)"),
    ("qmc", "optuna.samplers:QMCSampler", "quasi-Monte Carlo (Sobol/Halton) points (Optuna)"),
    ("gp", "optuna.samplers:GPSampler", "Gaussian-process Bayesian optimisation (Optuna)"),
    ("evolution", "hwnas.search.evolution:EvolutionSampler", "OFA/HAT-style evolution through the space's mutate/crossover"),
    ("surrogate", "hwnas.search.surrogate:SurrogateSampler",
     "rounds of surrogate-guided picks: an accuracy ensemble steers the few real evaluations"),
):
    SAMPLERS.register_lazy(_name, _target, summary=_summary)



@dataclass(frozen=True)
class Searcher:
    """A `searcher.kind`: the sampler it fixes (None: the spec's `sampler`) and the engine running trials."""

    sampler: str | None = None
    engine: str | None = None  # "module:function(experiment, workers, address)"; None runs in this process


SEARCHERS: Registry[Searcher] = Registry("searcher kind")
SEARCHERS.register("optuna", Searcher(), summary="an Optuna sampler, trials in this process (threads with workers: N)")
SEARCHERS.register("evolution", Searcher(sampler="evolution"), summary="evolution, trials in this process")
SEARCHERS.register("ray", Searcher(engine="hwnas.search.ray_runner:run_with_ray"),
                   summary="an Optuna sampler in the driver, trials on Ray Tune workers (locally or on a cluster)")

_HIDDEN_OPTIONS = ("space", "objectives", "seed", "constraints_func", "independent_sampler")
#: Samplers whose every decision is seeded by (seed, trial number) already: a resumed or parallel run
#: continues them exactly, so they need no session seed.
TRIAL_SEEDED = frozenset({"evolution", "surrogate"})


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _check_option_type(sampler: str, key: str, value: Any, default: Any) -> None:
    """An option of the wrong type is named here, not deep inside the sampler ("'<' not supported ...")."""
    kind = type(default)
    if kind not in _KINDS:
        return
    fits = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if kind is float:
        fits = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not fits:
        raise SpecError(f"searcher.options.{key}: the {sampler} sampler takes {_KINDS[kind]}, got {shown(value)}")


def spec_samplers() -> list[str]:
    """The samplers a spec's `searcher.sampler` may name: all but those a searcher kind fixes (evolution)."""
    fixed = {SEARCHERS.get(kind).sampler for kind in SEARCHERS.names()}
    return [name for name in SAMPLERS.names() if name not in fixed]


def sampler_name(spec: ExperimentSpec) -> str:
    return SEARCHERS.get(spec.searcher.kind).sampler or spec.searcher.sampler


def make_sampler(spec: ExperimentSpec, space: Any, objectives: Any = None) -> optuna.samplers.BaseSampler:
    """The sampler a spec asks for, seeded; unknown options are one line naming them.

    A factory that takes `space` gets the space searched (the arch space, or arch × hardware), so it can
    mutate and cross over whole archs; one that takes `objectives` gets the experiment's `ObjectiveSet`
    (the surrogate sampler prices candidates with its cheap evaluators). Constraints reach Optuna's samplers
    through `trial.set_constraint` (set by the runner), and the evolution sampler through the violations
    stored on each trial.
    """
    name = sampler_name(spec)
    factory = SAMPLERS.get(name)
    options: dict[str, Any] = dict(spec.searcher.options)
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(options) - (set(accepted) - set(_HIDDEN_OPTIONS)))  # seed comes from the spec, objects from code
    if unknown:
        allowed = ", ".join(p for p in accepted if p not in _HIDDEN_OPTIONS)
        raise SpecError(f"searcher.options: {name} sampler has no option {unknown[0]!r}; options: {allowed}")
    for key, value in options.items():
        _check_option_type(name, key, value, accepted[key].default)
    if "space" in accepted:
        options["space"] = space
    if "objectives" in accepted:
        options["objectives"] = objectives
    if "seed" in accepted:
        options["seed"] = spec.seed
    try:
        sampler = factory(**options)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"searcher.options: {exc}") from None
    if "seed" not in accepted or name in TRIAL_SEEDED:
        return sampler
    return SessionSeededSampler(lambda seed: factory(**{**options, "seed": seed}), spec.seed, sampler)


def session_seed(seed: int, first_trial: int) -> int:
    """The seed of a process whose first trial is `first_trial`: the spec's seed for the first process
    (a fresh run is reproducible), a different stream for every later or concurrent one."""
    if first_trial == 0:
        return seed
    return int(np.random.SeedSequence([seed, first_trial]).generate_state(1)[0])


class SessionSeededSampler(optuna.samplers.BaseSampler):
    """Builds the spec's sampler when this process starts its first trial, seeded by that trial's number.

    Optuna's samplers draw from their seed alone, so every process seeded with the spec's seed proposes
    the same points: a resumed NSGA-II run re-proposed trials 0–9 as 10–19, two workers spent half their
    budget on each other's archs. Trial numbers are unique per study (the storage assigns them), so the
    first one a process gets names its stream: resume and parallel workers continue, never replay.
    """

    def __init__(self, build: Callable[[int], optuna.samplers.BaseSampler], seed: int,
                 seeded: optuna.samplers.BaseSampler) -> None:
        """`build(seed)` makes the sampler; `seeded` is the one already built with the spec's `seed`."""
        self._build, self._seed, self._seeded = build, seed, seeded
        self._inner: optuna.samplers.BaseSampler | None = None
        self._lock = threading.Lock()
        self._queued: list[dict[str, Any]] = []  # params the next trials take instead of the sampler's
        self._overrides: dict[int, dict[str, Any]] = {}  # trial number -> its params

    def __getstate__(self) -> dict[str, Any]:  # pickled with the study (Ray Tune's searcher holds it)
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def queue_params(self, params: dict[str, Any]) -> None:
        """The next trial of this process takes `params` (e.g. a fresh arch after a duplicate proposal)."""
        with self._lock:
            self._queued.append(dict(params))

    @property
    def inner(self) -> optuna.samplers.BaseSampler:
        """The wrapped sampler (built with the spec's seed until this process's first trial)."""
        with self._lock:
            if self._inner is None:
                self._inner = self._seeded
            return self._inner

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        with self._lock:
            if self._inner is None:
                seed = session_seed(self._seed, trial.number)
                self._inner = self._seeded if seed == self._seed else self._build(seed)
            if self._queued:
                self._overrides[trial.number] = self._queued.pop(0)
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, search_space: dict[str, Any]) -> dict[str, Any]:
        override = self._overrides.get(trial.number)
        if override is not None:
            return {name: override[name] for name in search_space if name in override}
        return self.inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, param_name: str,
                           param_distribution: Any) -> Any:
        override = self._overrides.get(trial.number)
        if override is not None and param_name in override:
            return override[param_name]
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial, state: Any, values: Any) -> None:
        with self._lock:
            self._overrides.pop(trial.number, None)
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()

    def __getattr__(self, name: str) -> Any:  # the wrapped sampler's own API (e.g. NSGA-II's settings)
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.inner, name)
