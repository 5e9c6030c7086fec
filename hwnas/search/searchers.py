"""Searchers by name: every sampler a spec can ask for, and how each searcher kind runs its trials.

Two registries of one type (`hwnas.registry.Registry`):
- `SAMPLERS`: Optuna's samplers and hwnas's evolution, each a factory of an `optuna.samplers.BaseSampler`
  (registered lazily, so listing them imports nothing);
- `SEARCHERS`: the spec's `searcher.kind`: which sampler it implies (evolution) and which engine runs its
  trials (`None`: this process, Optuna's optimize loop; otherwise a `module:function` such as Ray Tune's).

A new sampler is one `SAMPLERS.register(...)` call; spec validation, errors and tests read the registry.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hwnas.errors import SpecError
from hwnas.registry import Registry

if TYPE_CHECKING:
    import optuna

    from hwnas.search.spec import ExperimentSpec

SamplerFactory = Callable[..., "optuna.samplers.BaseSampler"]
SAMPLERS: Registry[SamplerFactory] = Registry("sampler")
for _name, _target, _summary in (
    ("tpe", "optuna.samplers:TPESampler", "Tree-structured Parzen estimator (Optuna)"),
    ("nsga2", "optuna.samplers:NSGAIISampler", "NSGA-II genetic algorithm (Optuna)"),
    ("nsga3", "optuna.samplers:NSGAIIISampler", "NSGA-III, reference points for many objectives (Optuna)"),
    ("random", "optuna.samplers:RandomSampler", "uniform random archs (Optuna)"),
    ("qmc", "optuna.samplers:QMCSampler", "quasi-Monte Carlo (Sobol/Halton) points (Optuna)"),
    ("gp", "optuna.samplers:GPSampler", "Gaussian-process Bayesian optimisation (Optuna)"),
    ("evolution", "hwnas.search.evolution:EvolutionSampler", "OFA/HAT-style evolution through the space's mutate/crossover"),
):
    SAMPLERS.register_lazy(_name, _target, summary=_summary)

#: Samplers a spec's `searcher.sampler` may name (evolution is chosen with `kind: evolution`).
OPTUNA_SAMPLERS = ("tpe", "nsga2", "nsga3", "random", "qmc", "gp")


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

_HIDDEN_OPTIONS = ("space", "seed", "constraints_func")


def sampler_name(spec: ExperimentSpec) -> str:
    return SEARCHERS.get(spec.searcher.kind).sampler or spec.searcher.sampler


def make_sampler(spec: ExperimentSpec, space: Any) -> optuna.samplers.BaseSampler:
    """The sampler a spec asks for, seeded; unknown options are one line naming them.

    A factory that takes `space` gets the space searched (the arch space, or arch × hardware), so it can
    mutate and cross over whole archs. Constraints reach Optuna's samplers through `trial.set_constraint`
    (set by the runner), and the evolution sampler through the violations stored on each trial.
    """
    name = sampler_name(spec)
    factory = SAMPLERS.get(name)
    options: dict[str, Any] = dict(spec.searcher.options)
    accepted = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = ", ".join(p for p in accepted if p not in _HIDDEN_OPTIONS)
        raise SpecError(f"searcher.options: {name} sampler has no option {unknown[0]!r}; options: {allowed}")
    if "space" in accepted:
        options["space"] = space
    if "seed" in accepted:
        options["seed"] = spec.seed
    try:
        return factory(**options)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"searcher.options: {exc}") from None
