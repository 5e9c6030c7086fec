"""Trials at predictor speed: a batch of proposals, one call per evaluator, one storage transaction.

When every objective and constraint of a spec is cheap (counts, predicted latency, roofline energy: each
evaluator's `cheap`), a trial is microseconds of arithmetic, and Optuna's per-trial storage writes (~40
statements a trial for a 37-param space, each its own SQLite commit) were the whole cost of a search.
`run_batched` keeps the study in memory instead (a mirror: loaded from storage when it starts, then
updated with other workers' trials before every batch) and, per batch:

1. under the storage's lock (`study_lock`), brings the mirror up to date and lets the sampler propose a
   batch of points there (the spec's sampler, called through its protocol: `hwnas.search.proposals`);
2. refuses a point the study already holds (stored as FAIL with `duplicate_of`, not evaluated, not counted
   toward the budget: the same rule as one-at-a-time trials) and stops at the budget;
3. evaluates the batch with one call per evaluator (`ObjectiveSet.evaluate_many`), tells the mirror, and
   appends the finished batch to durable storage in one transaction (`hwnas.search.bulk`).

The mirror holds exactly the stored trials in the stored order, so trial numbers agree with storage.
A batch is written whole or not at all, so a killed run loses at most the batch it was evaluating, and
leaves nothing RUNNING. The batch size is the sampler's generation (`population_size` for NSGA-II/III and
evolution), so a generational sampler proposes what one sequential worker would: a duplicate is replaced
within its batch (from the same generation), and a batch in which some trials were pruned (infeasible) is
followed by a top-up batch of that many, as a generation only fills with complete trials. Model-based
samplers (TPE, GP) take one trial a batch.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import optuna
from optuna.trial import FrozenTrial, TrialState

from hwnas.codesign import InvalidHardwareError
from hwnas.search import schema
from hwnas.search.bulk import add_finished_trials, count_trials, read_trials
from hwnas.search.pareto import TrialRow
from hwnas.search.proposals import Proposal, ProposalRound, SharedParts

if TYPE_CHECKING:
    from hwnas.search.runner import Experiment
    from hwnas.search_spaces import Arch

#: Batch size for samplers with no generation whose proposals do not depend on earlier results.
INDEPENDENT_BATCH = 64
INDEPENDENT_SAMPLERS = frozenset({"random", "qmc"})

Point = tuple[str, "str | None"]


class MirrorStorage(optuna.storages.InMemoryStorage):
    """In-memory storage that keeps the finished trials it is given instead of deep-copying each (Optuna's
    `create_new_trial(template_trial=...)` copies, which for a batch of HAT-sized trials cost more than the
    proposals). The mirror is the only owner of the trials `Proposal.finish` and `sync` hand it."""

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        if template_trial is None or not template_trial.state.is_finished():
            return super().create_new_trial(study_id, template_trial)
        with self._lock:  # `InMemoryStorage.create_new_trial` without its copy
            self._check_study_id(study_id)
            trial = template_trial
            self._max_trial_id += 1
            trial_id = self._max_trial_id
            trial.number = len(self._studies[study_id].trials)
            trial._trial_id = trial_id
            self._trial_id_to_study_id_and_number[trial_id] = (study_id, trial.number)
            self._studies[study_id].trials.append(trial)
            self._update_cache(trial_id, study_id)
            return trial_id


def _row_fields(attrs: dict) -> tuple:
    """A row's fields from a trial's attributes, sharing its dicts (`TrialRecord.of` copies them; a row here
    lives as long as the trial it describes, and neither changes)."""
    return (str(attrs.get(schema.ARCH_ID, "")), attrs.get(schema.ARCH) or {}, attrs.get(schema.METRICS) or {},
            bool(attrs.get(schema.FEASIBLE, False)), attrs.get(schema.HARDWARE) or {})


def batch_size(sampler: optuna.samplers.BaseSampler, name: str) -> int:
    """The sampler's generation, or `INDEPENDENT_BATCH` for random/QMC points, else 1 (TPE, GP)."""
    population = getattr(sampler, "population_size", None) or getattr(sampler, "_population_size", None)
    if isinstance(population, int) and population > 0:
        return population
    return INDEPENDENT_BATCH if name in INDEPENDENT_SAMPLERS else 1


class BatchedTrials:
    """One process's batched run of an `Experiment` (see the module docstring)."""

    def __init__(self, experiment: Experiment, size: int) -> None:
        self.experiment, self.size = experiment, size
        self.durable = experiment.study
        self.mirror = optuna.create_study(storage=MirrorStorage(), sampler=self.durable.sampler,
                                          directions=experiment.spec.directions, study_name=self.durable.study_name)
        self._synced = 0  # stored trials copied into the mirror (= the mirror's trials)
        self.taken: dict[Point, int] = {}  # point -> number of the trial holding it
        self.counted = 0  # trials that count toward the budget (finished, not refused)
        self.unfinished_ids: list[int] = []  # stored trials copied while running or waiting (their storage ids)
        self.shared = SharedParts()  # param names and distributions, one copy for all trials
        self.rows: list[TrialRow] = []  # finished trials' rows, oldest first (kept as trials arrive)

    # -- the mirror ------------------------------------------------------------------------------
    def sync(self) -> None:
        """Copy the stored trials the mirror lacks (other workers', or all of them on resume), in order."""
        if count_trials(self.durable._storage, self.durable._study_id) == self._synced:
            return
        for trial in read_trials(self.durable._storage, self.durable._study_id, self._synced):
            self._copy(trial)

    def _copy(self, trial: FrozenTrial) -> None:
        if not trial.state.is_finished():  # another process's trial in flight (or left by a killed one)
            self.unfinished_ids.append(trial._trial_id)
            trial = optuna.trial.create_trial(state=TrialState.FAIL, params=trial.params, distributions=trial.distributions,
                                              user_attrs=trial.user_attrs, system_attrs=trial.system_attrs)
        else:  # the mirror renumbers what it is given: a shallow copy leaves the storage's own trial as it is
            trial = copy.copy(trial)
        self.mirror._storage.create_new_trial(self.mirror._study_id, template_trial=trial)
        self._note(trial, self._synced)
        self._synced += 1

    def _note(self, trial: FrozenTrial, number: int) -> None:
        attrs = trial.user_attrs
        if attrs.get(schema.DUPLICATE_OF) is not None:  # stored FAIL: no row, not counted, holds no point
            return
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):  # a row of `hwnas pareto` and progress
            self.rows.append(TrialRow(number, trial.state.name, *_row_fields(attrs)))
            self.counted += 1
        point = schema.point_of(attrs)
        if point is not None:
            self.taken.setdefault(point, number)

    # -- one batch -------------------------------------------------------------------------------
    def step(self, limit: int | None) -> int:
        """Propose, evaluate and store one batch of at most `limit` counted trials; returns how many of its
        counted trials did not complete (pruned: the next batch's size, when any)."""
        x = self.experiment
        with x._claims_lock, x._study_lock:
            self.sync()
            room = self.size if limit is None else min(self.size, limit - self.counted)
            if room <= 0:
                return 0
            proposals = ProposalRound(self.mirror, self.shared)
            try:
                finished, accepted = self._propose(proposals, room)
                results = x.objectives.evaluate_many([(arch, hardware) for _, arch, hardware in accepted])
                for (trial, _, _), result in zip(accepted, results):
                    x._annotate(trial, result.values, result.violations)
                    if result.reason:
                        schema.mark_infeasible(trial, result.reason)
                    finished[trial.number] = ((TrialState.COMPLETE, [result.values[k] for k in x.spec.objective_keys])
                                              if result.complete else (TrialState.PRUNED, None))
                batch = [trial.finish(*finished[trial.number]) for trial in proposals.trials]
            finally:
                proposals.close()
            add_finished_trials(self.durable._storage, self.durable._study_id, batch)
            for trial, proposal in zip(batch, proposals.trials):
                self._note(trial, proposal.number)
            self._synced += len(batch)
        return sum(t.state == TrialState.PRUNED for t in batch)

    def _propose(self, proposals: ProposalRound, room: int) -> tuple[dict[int, tuple[TrialState, list[float] | None]],
                                                                      list[tuple[Proposal, Arch, Arch | None]]]:
        """Propose until `room` trials count toward the budget: a duplicate is refused (and stored, as one-at-a-time
        trials are) and the batch proposes another in its place, from the same generation, as a one-at-a-time run
        does. Returns the refused trials' outcomes by number, and the accepted trials with their points."""
        x = self.experiment
        refused: dict[int, tuple[TrialState, list[float] | None]] = {}
        accepted: list[tuple[Proposal, Arch, Arch | None]] = []
        counted = 0  # accepted, or pruned as impossible hardware: both count toward the budget
        while counted < room and x.stopped_early is None:
            trial = proposals.propose(self._synced + len(proposals.trials))
            arch = x.space.suggest(trial)
            try:
                hardware = x.hardware_space.suggest(trial) if x.hardware_space else None
            except InvalidHardwareError as exc:  # infeasible with the reason, as in `Experiment.objective`
                schema.claim(trial, arch)
                x._annotate(trial, {}, [1.0] * len(x.spec.constraints))
                schema.mark_infeasible(trial, str(exc))
                refused[trial.number] = (TrialState.PRUNED, None)
                counted += 1
                continue
            key = (arch.id, hardware.id if hardware is not None else None)
            holder = self.taken.get(key)
            if holder is not None:
                x.refuse_duplicate(trial, holder, self.taken)
                refused[trial.number] = (TrialState.FAIL, None)
                continue
            x._duplicates_in_a_row = 0
            schema.claim(trial, arch, hardware)
            self.taken[key] = trial.number
            accepted.append((trial, arch, hardware))
            counted += 1
        return refused, accepted


def run_batched(batches: BatchedTrials, on_batch: Callable[[], None] | None = None, timeout_s: float | None = None) -> None:
    """Run batches until the trial budget is counted, the time is up, or the sampler has converged."""
    experiment, size = batches.experiment, batches.size
    budget = experiment.spec.budget.trials
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    top_up = 1 if batches.counted == 0 else 0  # a fresh study's first trial alone: samplers that learn
    try:  # the search space from the first finished trial (QMC) then propose as they would one at a time
        while experiment.stopped_early is None and (deadline is None or time.monotonic() < deadline):
            batches.size = top_up or size
            top_up = batches.step(budget)
            if budget is not None and batches.counted >= budget:
                break
            if on_batch is not None:
                on_batch()
    finally:
        batches.size = size
