"""A sampler's proposals without `optuna.Trial`: the `BaseSampler` protocol called in Trial's own order.

`optuna.Trial` costs ~30 µs a param around the sampler's work (a storage write, distribution checks and
copies per `suggest_*`, the relative search space recomputed per trial), which for a 37-param space is
most of a predicted trial. A `Proposal` makes the same calls on the same sampler, in the same order, so
it proposes the same points (tested against Optuna's ask/tell):

1. `before_trial(study, trial)`; the relative search space `infer_relative_search_space` (once per batch:
   it depends only on finished trials, and none finishes while a batch is proposed);
2. per param: a one-value distribution's value; else the relative value (`sample_relative(study, trial,
   space)`, drawn at the first such param, as `Trial.relative_params` is) when the space holds that param
   and the value fits; otherwise `sample_independent(study, trial, name, distribution)`;
4. `after_trial(study, trial, state, values)` before the trial is stored finished.

The trial a sampler sees is a running trial of a scratch study in the same in-memory storage, numbered
as the trial it becomes, so system attributes a sampler writes (NSGA-II's generation) land on it and are
carried over when the finished trial is created in the real study.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    _get_single_value,  # Trial's own rule for a one-value distribution
    check_distribution_compatibility,
)
from optuna.trial import FrozenTrial, TrialState

_CONSTRAINTS = "constraints"  # Optuna's system-attribute prefix for `Trial.set_constraint`


class Proposal:
    """One proposed trial, duck-typed as the part of `optuna.Trial` hwnas's spaces and schema use."""

    def __init__(self, proposals: ProposalRound, number: int) -> None:
        self._round, self.number = proposals, number
        storage = proposals.study._storage
        self._trial_id = storage.create_new_trial(proposals.scratch_id)
        self._frozen = storage.get_trial(self._trial_id)
        self._frozen.number = number
        self.params: dict[str, Any] = self._frozen.params
        self.distributions: dict[str, BaseDistribution] = self._frozen.distributions
        self.user_attrs: dict[str, Any] = {}
        self.datetime_start = datetime.datetime.now()
        _forget_trials(proposals.study)
        proposals.study.sampler.before_trial(proposals.study, self._frozen)
        self._relative: dict[str, Any] | None = None  # sampled at the first param that needs the sampler, as in Trial

    @property
    def relative(self) -> dict[str, Any]:
        if self._relative is None:
            study = self._round.study
            self._relative = study.sampler.sample_relative(study, self._frozen, self._round.relative_space)
        return self._relative

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._suggest(*self._round.shared.categorical(name, choices))

    def _suggest(self, name: str, distribution: BaseDistribution) -> Any:
        if name in self.params:
            return self.params[name]
        relative_space = self._round.relative_space
        if distribution.single():
            value = _get_single_value(distribution)
        elif name in self.relative and name in relative_space and self._round.fits(name, distribution, self.relative[name]):
            value = self.relative[name]
        else:
            value = self._round.study.sampler.sample_independent(self._round.study, self._frozen, name, distribution)
        self.params[name], self.distributions[name] = value, distribution
        return value

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value
        self._frozen.user_attrs[key] = value

    def set_constraint(self, key: str, value: float) -> None:
        self._round.study._storage.set_trial_system_attr(self._trial_id, f"{_CONSTRAINTS}:{key}", float(value))

    def finish(self, state: TrialState, values: Sequence[float] | None = None) -> FrozenTrial:
        """Tell the sampler, then store the finished trial in the study (with the sampler's system attrs)."""
        study, storage = self._round.study, self._round.study._storage
        _forget_trials(study)
        self._frozen.system_attrs.update(storage.get_trial_system_attrs(self._trial_id))
        study.sampler.after_trial(study, self._frozen, state, values)
        system_attrs = storage.get_trial_system_attrs(self._trial_id)
        # FrozenTrial itself, not `create_trial`: that rebuilds the distributions dict (and converts each
        # distribution, ~13 µs a param), where the trial can share the run's one dict for its set of params
        trial = FrozenTrial(number=-1, state=state, value=None, values=list(values) if values is not None else None,
                            datetime_start=self.datetime_start, datetime_complete=datetime.datetime.now(),
                            params=self.params, distributions=self._round.shared.distributions(self.distributions),
                            user_attrs=self.user_attrs, system_attrs=system_attrs, intermediate_values={}, trial_id=-1)
        trial_id = storage.create_new_trial(study._study_id, template_trial=trial)
        assert storage.get_trial_number_from_id(trial_id) == self.number, "proposals are finished in order"
        return trial


class SharedParts:
    """What every trial of a run can share instead of holding its own copy: one name string and one
    distribution object per param, one distributions dict per set of params (a 100k-trial study in memory
    then holds its trials' values, not 100k copies of the space's description)."""

    def __init__(self) -> None:
        self._params: dict[tuple[str, tuple[Any, ...]], tuple[str, CategoricalDistribution]] = {}
        self._distribution_sets: dict[tuple[tuple[str, int], ...], dict[str, BaseDistribution]] = {}

    def categorical(self, name: str, choices: Sequence[Any]) -> tuple[str, CategoricalDistribution]:
        key = (name, tuple(choices))
        shared = self._params.get(key)
        if shared is None:
            shared = self._params[key] = (name, CategoricalDistribution(choices))
        return shared

    def distributions(self, distributions: dict[str, BaseDistribution]) -> dict[str, BaseDistribution]:
        """The one dict equal to `distributions` (its values are shared objects: names and ids identify it)."""
        key = tuple((name, id(d)) for name, d in distributions.items())
        return self._distribution_sets.setdefault(key, distributions)


class ProposalRound:
    """The proposals of one batch in `study` (an in-memory study): one relative search space, one scratch study."""

    def __init__(self, study: optuna.Study, shared: SharedParts | None = None) -> None:
        self.study = study
        self.shared = shared or SharedParts()
        storage = study._storage
        self.scratch_id = storage.create_new_study(list(study.directions), f"{study.study_name}:proposals")
        probe = FrozenTrial(number=len(study.get_trials(deepcopy=False)), state=TrialState.RUNNING, value=None,
                            datetime_start=None, datetime_complete=None, params={}, distributions={}, user_attrs={},
                            system_attrs={}, intermediate_values={}, trial_id=-1)
        self.relative_space = study.sampler.infer_relative_search_space(study, probe)
        self.trials: list[Proposal] = []
        self._compatible: dict[tuple[str, int], bool] = {}  # (param, id of its shared distribution) -> compatible

    def fits(self, name: str, distribution: BaseDistribution, value: Any) -> bool:
        """Optuna's `Trial._is_relative_param` test for `value` of `name`, compatibility checked once a round: the
        relative space is fixed for the round and `distribution` is the run's one object for that param (comparing
        two categorical distributions compares every choice, ~15 µs for a param of several choices)."""
        key = (name, id(distribution))
        compatible = self._compatible.get(key)
        if compatible is None:
            compatible = self._compatible[key] = _compatible(self.relative_space[name], distribution)
        return compatible and bool(distribution._contains(distribution.to_internal_repr(value)))

    def propose(self, number: int) -> Proposal:
        """The next trial (numbered as it will be stored: proposals are finished in the order proposed)."""
        proposal = Proposal(self, number)
        self.trials.append(proposal)
        return proposal

    def close(self) -> None:
        self.study._storage.delete_study(self.scratch_id)


def _forget_trials(study: optuna.Study) -> None:
    """Drop the study's per-trial cache of its trials, as `Study.ask` and `Study.tell` do (samplers read
    the study through it: NSGA-II's generation count, TPE's observations)."""
    study._thread_local.cached_all_trials = None


def _compatible(relative: BaseDistribution, distribution: BaseDistribution) -> bool:
    """The first half of Optuna's `Trial._is_relative_param` test (the second: the value is a point of the new
    distribution, `ProposalRound.fits`)."""
    try:
        check_distribution_compatibility(relative, distribution)
    except ValueError:
        return False
    return True
