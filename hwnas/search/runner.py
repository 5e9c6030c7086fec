"""`run_experiment`: one spec, one Optuna study in durable storage, run to its budget (and resumed)."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from hwnas.codesign import HardwareSpace, InvalidHardwareError, JointSpace, space_from_options
from hwnas.errors import HwnasError
from hwnas.registry import load_target
from hwnas.search import schema
from hwnas.search.batched import BatchedTrials, batch_size, run_batched
from hwnas.search.objectives import ObjectiveSet
from hwnas.search.pareto import TrialRow, hypervolume, pareto_front, running_reference, trial_rows
from hwnas.search.schema import TrialRecord
from hwnas.search.searchers import SEARCHERS, SessionSeededSampler, make_sampler, sampler_name, session_seed
from hwnas.search.spec import ExperimentSpec, SpecError
from hwnas.search.storage import fail_orphaned_trials, open_storage, redact, study_lock
from hwnas.search_spaces import Arch, get_space

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
#: The search stops when this many proposals in a row were archs the study already has (the sampler converged).
MAX_DUPLICATES_IN_A_ROW = 100
#: Random draws for a point the study does not have, after a duplicate proposal.
FRESH_POINT_TRIES = 50


class ProposalRefused(Exception):  # noqa: N818 - control flow inside a trial, never reaches a user
    """A trial that is not evaluated: its arch is already in the study, or the trial budget is spent.

    The trial is stored as FAIL with the reason (`duplicate_of`), so it counts neither toward the budget
    nor in any front; Optuna's warning for it is filtered (`_QuietRefusals`).
    """


class _QuietRefusals(logging.Filter):
    """Drops Optuna's "Trial N failed" warnings for refused proposals (they are expected, and stored)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("ProposalRefused" in message or (message.startswith("Trial ") and "failed with value None" in message))


logging.getLogger("optuna.study._optimize").addFilter(_QuietRefusals())


@dataclass
class Progress:
    """What a progress display shows after each trial."""

    done: int
    budget: int | None
    feasible: int
    front_size: int
    hypervolume: float


def _identity(spec: ExperimentSpec) -> dict[str, object]:
    """The parts of a spec a resumed study must share (others, like the budget, may change)."""
    identity: dict[str, object] = {"space": spec.space.model_dump(), "objectives": spec.objective_keys,
                                   "directions": spec.directions, "constraints": [str(c) for c in spec.constraints]}
    if spec.hardware is not None:  # only then: studies made before co-design keep their identity
        identity["hardware"] = spec.hardware.model_dump()
    return identity


def _hardware_space(spec: ExperimentSpec) -> HardwareSpace | None:
    if spec.hardware is None:
        return None
    try:
        return space_from_options(spec.hardware.kind, spec.hardware.options)
    except HwnasError as exc:
        raise SpecError(f"hardware: {exc}") from None


class Experiment:
    """A spec bound to its space, objectives, sampler and study."""

    def __init__(self, spec: ExperimentSpec, storage_url: str | None = None, base_dir: Path = Path("experiments"),
                 objectives: ObjectiveSet | None = None) -> None:
        self.spec = spec
        try:
            self.space = get_space(spec.space.name, spec.space.preset, **spec.space.options)
        except TypeError as exc:
            raise SpecError(f"space.options: {exc}") from None
        except HwnasError as exc:
            raise SpecError(f"space: {exc}") from None
        self.hardware_space = _hardware_space(spec)
        #: What the samplers search: the arch space, or arch × hardware as one joint space.
        self.search_space = JointSpace(self.space, self.hardware_space) if self.hardware_space else self.space
        self.objectives = objectives or ObjectiveSet(spec, self.space)  # shared sets share their caches
        #: Trials run in batches (`hwnas.search.batched`) when every objective and constraint is cheap.
        self.batched = self.objectives.all_cheap
        self._batches: BatchedTrials | None = None
        self._claims_lock = threading.Lock()  # worker threads of this process claim points one at a time
        self._local_claims: dict[tuple[str, str | None], int] = {}
        self._duplicates_in_a_row = 0
        #: Why this process stops before its budget: the sampler converged, or other workers took the last trials.
        self.stopped_early: str | None = None
        self.storage_url = storage_url or spec.storage_url(base_dir)
        self.storage = open_storage(self.storage_url, create_dirs=storage_url is None and spec.storage is None)
        self._study_lock = study_lock(self.storage_url)  # ... and workers in other processes, through the storage
        self.study = self._open_study()
        if isinstance(self.storage, optuna.storages.RDBStorage):
            with warnings.catch_warnings():  # experimental in Optuna, and exactly what resume needs
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(self.study)  # a killed run's trials: failed, then retried
            fail_orphaned_trials(self.study)  # ... including one killed before its first heartbeat
        self._prime()

    def _prime(self) -> None:
        """Seed the evaluators' caches with the stored metrics (a resumed run never re-evaluates an arch)."""
        if self.batched:  # from the in-memory copy, which reads the storage once, lean
            for row in self._synced_batches().rows:
                if row.arch_id:
                    self.objectives.prime(row.arch_id, row.metrics, row.hardware.get("hw_id"))
            return
        for trial in self.study.get_trials(deepcopy=False, states=FINISHED):
            stored = TrialRecord.of(trial.user_attrs)
            if stored.has_arch:
                self.objectives.prime(stored.arch_id, stored.metrics, stored.hw_id)

    def __getstate__(self) -> dict[str, object]:  # Ray Tune pickles its searcher, which holds the experiment
        state = dict(self.__dict__)
        del state["_claims_lock"], state["_study_lock"]
        state["_batches"] = None
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._claims_lock = threading.Lock()
        self._study_lock = study_lock(self.storage_url)

    def _open_study(self) -> optuna.Study:
        """Create the study, or load it (many workers may race here; both outcomes are the same)."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(study_name=self.spec.name, storage=self.storage, directions=self.spec.directions,
                                    sampler=make_sampler(self.spec, self.search_space, self.objectives), load_if_exists=True)
        identity = json.dumps(_identity(self.spec))
        stored = study.user_attrs.get(schema.IDENTITY)
        if stored is None:
            schema.write_study(study, self.spec.model_dump_json(), self.spec.objective_keys, identity)
        elif json.loads(stored) != json.loads(identity):
            raise SpecError(f"experiment {self.spec.name!r} already exists in {redact(self.storage_url)} with another "
                            "space, hardware, objectives or constraints; rename the experiment or use another storage")
        return study

    # -- trials --------------------------------------------------------------------------------
    def suggest(self, trial: optuna.Trial) -> tuple[Arch, Arch | None]:
        """The trial's arch and, in a co-design experiment, its hardware (`hw.`-prefixed params).

        Raises `InvalidHardwareError` for a combination that cannot exist (e.g. SRAM below one tile)."""
        arch = self.space.suggest(trial)
        return arch, self.hardware_space.suggest(trial) if self.hardware_space else None

    def claim(self, trial: optuna.Trial, arch: Arch, hardware: Arch | None) -> None:
        """Record that `trial` evaluates (arch, hardware), unless the study already has that point or its
        trial budget is spent: then raise `ProposalRefused` (the caller stores the trial as FAIL).

        The budget buys new information: `budget.trials` counts distinct points, and a point that a
        finished trial (or one running in another worker) already holds is never evaluated twice.
        """
        key = (arch.id, hardware.id if hardware is not None else None)
        with self._claims_lock, self._study_lock:  # read, check and write as one step among all workers
            taken, claimed = self._taken_points(trial.number)
            if key in taken:
                self.refuse_duplicate(trial, taken[key], taken)
                raise ProposalRefused(f"arch {arch.id} is trial {taken[key]}'s")
            if self.spec.budget.trials is not None and claimed >= self.spec.budget.trials:
                self.stopped_early = "the trial budget is spent (other workers hold the last trials)"
                raise ProposalRefused(self.stopped_early)
            self._duplicates_in_a_row = 0
            schema.claim(trial, arch, hardware)  # other workers see it while this one runs
            self._local_claims[key] = trial.number
        predicted = getattr(self.study.sampler, "predicted", None)  # a surrogate search: what it expected here
        if callable(predicted) and (prediction := predicted(trial.number)) is not None:
            trial.set_user_attr(schema.SURROGATE, prediction)

    def refuse_duplicate(self, trial: optuna.Trial, holder: int, taken: dict[tuple[str, str | None], int]) -> None:
        """Mark `trial` as a repeat of trial `holder` (its caller stores it as FAIL) and steer the sampler away."""
        self._duplicates_in_a_row += 1
        trial.set_user_attr(schema.DUPLICATE_OF, holder)
        if self._duplicates_in_a_row >= MAX_DUPLICATES_IN_A_ROW:
            self.stopped_early = f"{MAX_DUPLICATES_IN_A_ROW} proposals in a row were archs already evaluated"
        self._queue_fresh_point(trial.number, taken)

    def _queue_fresh_point(self, number: int, taken: dict[tuple[str, str | None], int]) -> None:
        """After a duplicate, the sampler's next trial takes a random point the study does not have yet
        (a greedy sampler such as TPE would otherwise propose the same arch again and again)."""
        sampler = self.study.sampler
        if not isinstance(sampler, SessionSeededSampler):
            return  # evolution avoids evaluated archs itself
        rng = random.Random(session_seed(self.spec.seed, number))
        for _ in range(FRESH_POINT_TRIES):
            point = self.search_space.sample(rng)
            arch, hardware = self.search_space.split(point) if isinstance(self.search_space, JointSpace) else (point, None)
            if (arch.id, hardware.id if hardware is not None else None) not in taken:
                sampler.queue_params(self.search_space.to_params(point))
                return

    def _taken_points(self, number: int) -> tuple[dict[tuple[str, str | None], int], int]:
        """(point -> trial number holding it, number of trials that count toward the budget) from storage."""
        taken: dict[tuple[str, str | None], int] = dict(self._local_claims)
        counted = 0
        for other in self.study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)):
            point = schema.point_of(other.user_attrs)
            if other.number == number or other.user_attrs.get(schema.DUPLICATE_OF) is not None:
                continue
            if other.state in FINISHED or point is not None:
                counted += 1
            if point is not None:
                taken.setdefault(point, other.number)
        return taken, counted

    def objective(self, trial: optuna.Trial) -> tuple[float, ...]:
        arch = self.space.suggest(trial)
        try:
            hardware = self.hardware_space.suggest(trial) if self.hardware_space else None
        except InvalidHardwareError as exc:  # stored as infeasible, with the reason, like an out-of-domain arch
            schema.claim(trial, arch)
            self._annotate(trial, {}, [1.0] * len(self.spec.constraints))
            schema.mark_infeasible(trial, str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        try:
            self.claim(trial, arch, hardware)
        except ProposalRefused:
            if self.stopped_early:
                self.study.stop()  # this worker's loop ends after this trial; the others end on their own claims
            raise
        return self.evaluate_into(trial, arch, hardware)

    def evaluate_into(self, trial: optuna.Trial, arch: Arch, hardware: Arch | None = None) -> tuple[float, ...]:
        """Evaluate the claimed `arch` (on `hardware`) cheap-first and record the results on `trial`; raises
        TrialPruned if cut short."""
        result = self.objectives.evaluate(arch, hardware)
        self._annotate(trial, result.values, result.violations)
        if result.reason:
            schema.mark_infeasible(trial, result.reason)
        if not result.complete:
            raise optuna.TrialPruned(result.reason or "infeasible on a cheap constraint; expensive objectives skipped")
        return tuple(result.values[k] for k in self.spec.objective_keys)

    def _annotate(self, trial: optuna.Trial, values: dict[str, float], violations: list[float]) -> None:
        schema.record(trial, values, violations)
        for constraint, violation in zip(self.spec.constraints, violations):
            trial.set_constraint(str(constraint), violation)

    def record(self, trial: optuna.Trial, values: dict[str, float], violations: list[float], complete: bool) -> None:
        """Store a result evaluated elsewhere (a Ray worker) on a claimed trial, and finish it."""
        self._annotate(trial, values, violations)
        if complete:
            self.study.tell(trial, [values[k] for k in self.spec.objective_keys])
        else:
            self.study.tell(trial, state=TrialState.PRUNED)

    def finished(self) -> int:
        if self.batched:  # counted in the in-memory copy, brought up to date (storage reads every trial)
            return self._synced_batches().counted
        return len(self.study.get_trials(deepcopy=False, states=FINISHED))

    def remaining(self) -> int | None:
        return None if self.spec.budget.trials is None else max(0, self.spec.budget.trials - self.finished())

    def batches(self) -> BatchedTrials:
        """The in-memory copy of the study that batched trials are proposed in (made on first use)."""
        if self._batches is None:
            self._batches = BatchedTrials(self, batch_size(self.study.sampler, sampler_name(self.spec)))
        return self._batches

    def _synced_batches(self) -> BatchedTrials:
        """`batches()` with the trials other workers stored since it last looked."""
        batches = self.batches()
        with self._study_lock:
            batches.sync()
        return batches

    def rows(self) -> list[TrialRow]:
        if self.batched:  # the in-memory copy, brought up to date, is read far faster than storage
            return list(self._synced_batches().rows)
        return trial_rows(self.study)

    def progress(self) -> Progress:
        rows, keys, directions = self.rows(), self.spec.objective_keys, self.spec.directions
        front = pareto_front(rows, keys, directions)
        return Progress(len(rows), self.spec.budget.trials, sum(r.feasible for r in rows), len(front),
                        hypervolume(rows, keys, directions, running_reference(rows, keys, directions)))

    def run(self, on_trial: Callable[..., None] | None = None, lazy_progress: bool = False) -> Progress:
        """Run trials in this process until the budget (trials and/or minutes) is spent: in batches when
        every objective is cheap (`self.batched`), else one trial at a time (`workers` threads), or on Ray.

        `on_trial` gets a fresh `Progress` after every trial (every batch), or nothing with `lazy_progress`
        (the caller then decides when the storage query behind `progress()` is worth making).
        """
        if self.remaining() == 0:
            self._drop_retries()
            return self.progress()
        callbacks = []
        if self.spec.budget.trials is not None:  # counts stored trials of every worker; refused proposals are FAIL
            callbacks.append(optuna.study.MaxTrialsCallback(self.spec.budget.trials, states=FINISHED))
        if on_trial is not None:
            callbacks.append(lambda study, trial: on_trial() if lazy_progress else on_trial(self.progress()))
        engine = SEARCHERS.get(self.spec.searcher.kind).engine
        if engine is not None:  # trials run elsewhere (Ray Tune workers); this process owns the study
            load_target(engine)(self, self.spec.searcher.workers, self.spec.searcher.ray_address)
            return self.progress()
        timeout = None if self.spec.budget.minutes is None else self.spec.budget.minutes * 60
        if self.batched:  # predicted objectives: a batch per storage transaction
            on_batch = None if on_trial is None else (lambda: on_trial() if lazy_progress else on_trial(self.progress()))
            run_batched(self.batches(), on_batch, timeout)
        else:
            self.study.optimize(self.objective, timeout=timeout, callbacks=callbacks, catch=(ProposalRefused,),
                                n_jobs=self.spec.searcher.workers)  # threads; torch and SQLite release the GIL
            fail_orphaned_trials(self.study)  # a peer killed before its trial's first heartbeat (Optuna sees only those)
        if self.remaining() == 0:
            self._drop_retries()
        return self.progress()

    def _drop_retries(self) -> int:
        """Fail the retries still WAITING once the budget is spent: a killed trial's retry (queued by the
        stale-trial check) that no trial was left to run would otherwise wait in the study forever."""
        dropped, storage = 0, self.study._storage
        with self._claims_lock, self._study_lock:
            if self.batched:  # the in-memory copy knows which stored trials were unfinished: read only those
                ids = self.batches().unfinished_ids
            else:
                ids = [t._trial_id for t in self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,))]
            for trial_id in ids:
                if storage.get_trial(trial_id).state == TrialState.WAITING:
                    storage.set_trial_user_attr(trial_id, schema.NOT_RUN, "the trial budget was spent first")
                    dropped += storage.set_trial_state_values(trial_id, TrialState.FAIL)
        return dropped


def run_experiment(spec: ExperimentSpec, storage_url: str | None = None, base_dir: Path = Path("experiments"),
                   on_trial: Callable[[Progress], None] | None = None) -> Experiment:
    experiment = Experiment(spec, storage_url, base_dir)
    start = time.perf_counter()
    experiment.run(on_trial)
    experiment.elapsed_s = time.perf_counter() - start
    return experiment


def trial_arch(trial: FrozenTrial) -> Arch:
    return Arch(TrialRecord.of(trial.user_attrs).arch)
