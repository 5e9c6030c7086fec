"""Search: experiment specs, samplers (Optuna's and evolution), durable runs, Pareto fronts."""

from hwnas.search.evolution import EvolutionSampler
from hwnas.search.objectives import ObjectiveSet, register_metric
from hwnas.search.pareto import QueryError, TrialRow, hypervolume, pareto_front, trial_rows
from hwnas.search.runner import Experiment, Progress, run_experiment
from hwnas.search.spec import ExperimentSpec, SpecError, load_spec, parse_spec
from hwnas.search.storage import list_experiments, load_study, open_storage

__all__ = [
    "EvolutionSampler", "Experiment", "ExperimentSpec", "ObjectiveSet", "Progress", "QueryError", "SpecError", "TrialRow",
    "hypervolume", "list_experiments", "load_spec", "load_study", "open_storage", "pareto_front", "parse_spec",
    "register_metric", "run_experiment", "trial_rows",
]
