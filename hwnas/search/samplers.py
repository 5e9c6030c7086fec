"""Optuna samplers by name, with constraints wired in where the sampler supports them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import optuna

from hwnas.search.evolution import EvolutionSampler
from hwnas.search.spec import ExperimentSpec, SpecError
from hwnas.search_spaces import SearchSpace

SAMPLER_CLASSES: dict[str, Callable[..., optuna.samplers.BaseSampler]] = {
    "tpe": optuna.samplers.TPESampler,
    "nsga2": optuna.samplers.NSGAIISampler,
    "nsga3": optuna.samplers.NSGAIIISampler,
    "random": optuna.samplers.RandomSampler,
    "qmc": optuna.samplers.QMCSampler,
    "gp": optuna.samplers.GPSampler,
}


def make_sampler(spec: ExperimentSpec, space: SearchSpace) -> optuna.samplers.BaseSampler:
    """The sampler a spec asks for, seeded; unknown options are one line naming them.

    Constraints reach Optuna's samplers through `trial.set_constraint` (set by the runner), and the
    evolution sampler through the violations stored on each trial.
    """
    options: dict[str, Any] = dict(spec.searcher.options)
    if spec.searcher.kind == "evolution":
        cls: Callable[..., optuna.samplers.BaseSampler] = EvolutionSampler
        options["space"] = space
    else:
        cls = SAMPLER_CLASSES[spec.searcher.sampler]
    accepted = inspect.signature(cls).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        name = "evolution" if spec.searcher.kind == "evolution" else spec.searcher.sampler
        allowed = ", ".join(p for p in accepted if p not in ("space", "seed", "constraints_func"))
        raise SpecError(f"searcher.options: {name} sampler has no option {unknown[0]!r}; options: {allowed}")
    if "seed" in accepted:
        options["seed"] = spec.seed
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"searcher.options: {exc}") from None
