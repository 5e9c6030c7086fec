"""The objectives and constraints of an experiment, evaluated cheap-first for one arch at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hwnas.errors import HwnasError, OutOfDomainError
from hwnas.evaluators import CountEvaluator, Evaluator, NaswotEvaluator
from hwnas.search.spec import ExperimentSpec, SpecError
from hwnas.search_spaces import Arch, SearchSpace
from hwnas.tasks import get_task


def proxy_inputs(spec: ExperimentSpec, space: SearchSpace, batch_size: int = 32) -> tuple:
    """One batch for a zero-cost proxy: the task's samples, or random inputs of the space's shape for
    the `synthetic` task (token ids for translation spaces)."""
    if spec.task is None:
        raise SpecError("task: the naswot proxy needs a task (e.g. task: {name: mnist1d}, or {name: synthetic})")
    if spec.task.name == "synthetic":
        shape = spec.task.options.get("input_shape")
        return space.example_input(batch_size, shape)
    options = {k: v for k, v in spec.task.options.items() if k != "proxy_batch"}
    x, _ = get_task(spec.task.name, **options).batch(batch_size, seed=spec.seed)
    return (x,) * len(space.example_input(1))  # translation spaces read the same tokens as source and target


EvaluatorFactory = Callable[[ExperimentSpec, SearchSpace, "str | None"], Evaluator]


@dataclass(frozen=True)
class MetricSource:
    """Where a metric comes from; metrics of one `source` (and device) share one evaluator."""

    source: str
    needs_device: bool
    factory: EvaluatorFactory


def _counts(spec: ExperimentSpec, space: SearchSpace, device: str | None) -> Evaluator:
    return CountEvaluator(space)


def _naswot(spec: ExperimentSpec, space: SearchSpace, device: str | None) -> Evaluator:
    batch = spec.task.options.get("proxy_batch", 32) if spec.task else 32
    return NaswotEvaluator(space, proxy_inputs(spec, space, batch), seed=spec.seed)


def _latency(spec: ExperimentSpec, space: SearchSpace, device: str | None) -> Evaluator:
    """Predicted from a shipped or local profile; `local-cpu` is measured here (under the device lock)."""
    from hwnas.evaluators.latency import LatencyEvaluator

    if device == "local-cpu":
        return LatencyEvaluator(space, device, measure=True)
    return LatencyEvaluator(space, device)  # type: ignore[arg-type]


#: metric name -> its source. Latency and accuracy register themselves where they live.
METRICS: dict[str, MetricSource] = {
    "params_m": MetricSource("counts", False, _counts),
    "flops_m": MetricSource("counts", False, _counts),
    "naswot": MetricSource("naswot", False, _naswot),
    "latency_ms": MetricSource("latency", True, _latency),
}


def register_metric(name: str, source: str, needs_device: bool, factory: EvaluatorFactory) -> None:
    METRICS[name] = MetricSource(source, needs_device, factory)


@dataclass
class TrialResult:
    values: dict[str, float]
    violations: list[float]
    complete: bool  # False: a cheap constraint failed (or a predictor refused the arch); the rest was skipped
    reason: str = ""

    @property
    def feasible(self) -> bool:
        return not self.reason and all(v <= 0 for v in self.violations)


class ObjectiveSet:
    """Builds one evaluator per distinct metric source and runs them cheap-first."""

    def __init__(self, spec: ExperimentSpec, space: SearchSpace) -> None:
        self.spec, self.space = spec, space
        keys = [(f"objectives.{i}", o.metric, o.device) for i, o in enumerate(spec.objectives)]
        keys += [(f"constraints.{i}", *self._split(c.key)) for i, c in enumerate(spec.constraints)]
        self.evaluators: dict[str, Evaluator] = {}  # one per source (e.g. CountEvaluator serves two metrics)
        self._by_key: dict[str, Evaluator] = {}
        for where, metric, device in keys:
            self._add(where, metric, device)

    @staticmethod
    def _split(key: str) -> tuple[str, str | None]:
        metric, _, device = key.partition("@")
        return metric, device or None

    def _add(self, where: str, metric: str, device: str | None) -> None:
        if metric not in METRICS:
            raise SpecError(f"{where}: unknown metric {metric!r}; choose one of: {', '.join(sorted(METRICS))}")
        needs_device, factory = METRICS[metric].needs_device, METRICS[metric].factory
        if needs_device and not device:
            raise SpecError(f"{where}: metric {metric!r} needs a device (e.g. {metric}@pixel4 or device: pixel4)")
        if not needs_device and device:
            raise SpecError(f"{where}: metric {metric!r} takes no device, got {device!r}")
        key = f"{metric}@{device}" if device else metric
        if key in self._by_key:
            return
        source = f"{METRICS[metric].source}@{device}" if needs_device else METRICS[metric].source
        try:
            evaluator = self.evaluators.get(source) or factory(self.spec, self.space, device)
        except SpecError:
            raise
        except HwnasError as exc:
            raise SpecError(f"{where}: {exc}") from None
        self._by_key[key] = evaluator
        self.evaluators[source] = evaluator

    @property
    def keys(self) -> list[str]:
        return list(self._by_key)

    def prime(self, arch_id: str, values: dict[str, float]) -> None:
        for evaluator in self.evaluators.values():
            evaluator.prime(arch_id, values)

    def evaluate(self, arch: Arch) -> TrialResult:
        """Cheap evaluators first; stops early when a constraint already fails or a predictor refuses
        the arch as out of its domain (recorded as infeasible, with the reason)."""
        values: dict[str, float] = {}
        ordered = sorted(self.evaluators.values(), key=lambda e: not e.cheap)
        for evaluator in ordered:
            if not evaluator.cheap and self._violated(values):
                return TrialResult(values, self._violations(values), complete=False)
            try:
                values.update(evaluator.evaluate([arch])[0])
            except OutOfDomainError as exc:
                return TrialResult(values, [1.0] * len(self.spec.constraints), complete=False, reason=str(exc))
        return TrialResult(values, self._violations(values), complete=True)

    def _violations(self, values: dict[str, float]) -> list[float]:
        return [c.violation(values[c.key]) if c.key in values else 0.0 for c in self.spec.constraints]

    def _violated(self, values: dict[str, float]) -> bool:
        return any(v > 0 for v in self._violations(values))
