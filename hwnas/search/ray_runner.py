"""Ray Tune as the distributed engine: trials evaluated on N workers, the study in the driver.

The driver owns the Optuna study (ask, tell, storage), so a Ray run writes the same trials, to the same
storage, as an in-process run, and many workers never contend for the database. Workers only evaluate:
each Ray worker builds the spec's objectives once and reuses them for every trial it runs. A trial that
measures a device asks for that device's custom resource (`device:local-cpu`), so two measurements
never share a device.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import warnings
from typing import Any

import optuna

from hwnas.codesign import InvalidHardwareError
from hwnas.errors import ClusterError
from hwnas.search import schema
from hwnas.search.objectives import ObjectiveSet
from hwnas.search.runner import Experiment, ProposalRefused
from hwnas.search.spec import ExperimentSpec
from hwnas.search_spaces import Arch, get_space

_WORKER_OBJECTIVES: dict[str, Any] = {}  # per Ray worker process: spec JSON -> ObjectiveSet


def _evaluate_on_worker(config: dict[str, Any], spec_json: str, driver_cwd: str) -> dict[str, Any]:
    """Ray Tune trainable: one arch through the spec's objectives (cheap first).

    Relative paths in a spec (a supernet, a profile) mean what they mean where `hwnas run` was started: the
    worker works in that folder when its node has it (Tune would otherwise run it in a trial folder).
    """
    if os.path.isdir(driver_cwd):
        os.chdir(driver_cwd)
    if spec_json not in _WORKER_OBJECTIVES:
        spec = ExperimentSpec.model_validate_json(spec_json)
        space = get_space(spec.space.name, spec.space.preset, **spec.space.options)
        _WORKER_OBJECTIVES[spec_json] = ObjectiveSet(spec, space)
    hardware = Arch(config["hardware"]) if config.get("hardware") is not None else None
    result = _WORKER_OBJECTIVES[spec_json].evaluate(Arch(config["arch"]), hardware)
    payload = {"values": result.values, "violations": result.violations, "complete": result.complete,
               "worker": _where_this_runs()}
    return {"hwnas_done": 1, "hwnas_result": json.dumps(payload)}  # a string: Tune flattens nested dicts


def _where_this_runs() -> dict[str, Any]:
    """The Ray node, host and process of this worker (stored per trial as `schema.WORKER`)."""
    import ray  # already loaded: this runs inside a Ray worker

    return {"node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "pid": os.getpid()}


MEASURED_DEVICES = ("local-cpu",)
MEASURED_HARDWARE_METRICS = ("deploy_latency_ms",)


def device_resources(spec: ExperimentSpec) -> dict[str, float]:
    """Custom Ray resources a trial holds: one unit of each device it measures on (e.g. `device:local-cpu`)."""
    keys = [o.key for o in spec.objectives] + [c.key for c in spec.constraints]
    devices = {key.partition("@")[2] for key in keys} & set(MEASURED_DEVICES)
    if any(key.partition("@")[0] in MEASURED_HARDWARE_METRICS for key in keys):  # deployment knobs are timed here
        devices.add("local-cpu")
    return {f"device:{d}": 1.0 for d in sorted(devices)}


class StudySearcher:
    """Adapts an `Experiment`'s study to Ray Tune's `Searcher` protocol (built lazily: ray is optional)."""

    def __new__(cls, experiment: Experiment):  # noqa: ANN204
        from ray.tune.search import Searcher  # heavy (Ray, ~2 s): only searcher kind ray imports it

        class _Searcher(Searcher):
            def __init__(self) -> None:
                super().__init__(metric="hwnas_done", mode="max")
                self.pending: dict[str, optuna.Trial] = {}

            def suggest(self, trial_id: str) -> dict[str, Any] | None:
                while True:  # a hardware combination that cannot exist is stored as infeasible, and another asked
                    with warnings.catch_warnings():  # heartbeats only run inside study.optimize; the driver here asks/tells
                        warnings.simplefilter("ignore", UserWarning)
                        trial = experiment.study.ask()
                    try:
                        arch, hardware = experiment.suggest(trial)
                        experiment.claim(trial, arch, hardware)
                        break
                    except InvalidHardwareError as exc:
                        schema.mark_infeasible(trial, str(exc))
                        experiment.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    except ProposalRefused:  # stored as FAIL (a duplicate, or the budget is spent)
                        experiment.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                        if experiment.stopped_early:
                            return Searcher.FINISHED
                self.pending[trial_id] = trial
                return {"arch": arch.to_dict(), "hardware": hardware.to_dict() if hardware is not None else None,
                        "trial_number": trial.number}

            def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
                trial = self.pending.pop(trial_id)
                if error or result is None or "hwnas_result" not in result:
                    experiment.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    return
                payload = json.loads(result["hwnas_result"])
                trial.set_user_attr(schema.WORKER, payload["worker"])
                experiment.record(trial, payload["values"], payload["violations"], payload["complete"])

        return _Searcher()


#: How long the driver waits for a Ray address to accept a connection before saying it does not answer.
CONNECT_TIMEOUT_S = 5.0


def connect(address: str) -> None:
    """`ray.init(address=…)`, after checking that the address answers: Ray itself retries for minutes.

    `auto` (the cluster this machine is a node of) is passed as is. Raises `ClusterError` in one line.
    """
    import ray  # see run_with_ray

    if address != "auto":
        host, port = _host_port(address)
        try:
            socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            raise ClusterError(f"ray_address {address!r} does not answer ({exc.strerror or exc}); "
                               "start the head with `ray start --head --port PORT`") from None
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    except Exception as exc:  # noqa: BLE001 - Ray's own errors (a token mismatch, a version mismatch): one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"ray_address {address!r}: {reason}") from None


def _host_port(address: str) -> tuple[str, int]:
    """`HOST:PORT` or `ray://HOST:PORT` (Ray Client, port 10001 by default)."""
    client = address.startswith("ray://")
    rest = address.removeprefix("ray://")
    host, _, port = rest.rpartition(":")
    if not host:
        host, port = rest, "10001" if client else "6379"
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ClusterError(f"ray_address {address!r} must look like HOST:PORT (or ray://HOST:PORT, or auto)") from None


def check_resources(address: str, resources: dict[str, float]) -> None:
    """Every device resource a trial holds must be offered by some node, else Tune would wait forever."""
    import ray  # see run_with_ray

    offered = ray.cluster_resources()
    missing = [name for name in resources if offered.get(name, 0) < resources[name]]
    if missing:
        shown = ", ".join(f'"{name}": 1' for name in missing)
        raise ClusterError(f"the Ray cluster at {address!r} has no node offering {', '.join(missing)}; start the node "
                           f"of that device with `ray start --address {address} --resources '{{{shown}}}'`")


def run_with_ray(experiment: Experiment, workers: int, address: str | None = None) -> None:
    """Evaluate the remaining budget's trials with Ray Tune on `workers` concurrent workers."""
    import ray  # heavy (Ray, ~2 s): only searcher kind ray imports it
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no TensorBoard/CSV files per trial
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    spec = experiment.spec
    remaining = experiment.remaining()
    if remaining == 0:
        return
    resources = device_resources(spec)
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            connect(address)
        else:
            ray.init(num_cpus=workers, resources={k: 1.0 for k in resources} or None, include_dashboard=False,
                     log_to_driver=False, logging_level="ERROR")
    try:
        if address:
            check_resources(address, resources)
        trainable = tune.with_resources(tune.with_parameters(_evaluate_on_worker, spec_json=spec.model_dump_json(),
                                                             driver_cwd=os.getcwd()), {"cpu": 1, **resources})
        searcher = ConcurrencyLimiter(StudySearcher(experiment), max_concurrent=workers)
        with tempfile.TemporaryDirectory(prefix="hwnas-ray-") as scratch:
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(search_alg=searcher, num_samples=remaining if remaining is not None else -1,
                                            time_budget_s=None if spec.budget.minutes is None else spec.budget.minutes * 60,
                                            reuse_actors=True, max_concurrent_trials=workers),
                run_config=tune.RunConfig(storage_path=scratch, verbose=0, log_to_file=False),
            )
            tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
