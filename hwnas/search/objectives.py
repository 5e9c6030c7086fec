"""The objectives and constraints of an experiment, evaluated cheap-first for one arch at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hwnas.codesign import HARDWARE_KINDS, make_evaluator
from hwnas.errors import HwnasError, OutOfDomainError, shown
from hwnas.evaluators import CountEvaluator, Evaluator
from hwnas.evaluators.latency import LatencyEvaluator, NnMeterLatencyEvaluator
from hwnas.hw_profiles._common import DEVICES as MEASURABLE
from hwnas.hw_profiles.agent_client import is_agent
from hwnas.registry import Registry
from hwnas.search.spec import ExperimentSpec, SpecError
from hwnas.search_spaces import Arch, SearchSpace

if TYPE_CHECKING:
    from hwnas.tasks import Task


def proxy_inputs(spec: ExperimentSpec, space: SearchSpace, batch_size: int = 32) -> tuple:
    """One batch for a zero-cost proxy: the task's samples, or random inputs of the space's shape for
    the `synthetic` task (token ids for translation spaces)."""
    if spec.task is None:
        raise SpecError("task: the naswot proxy needs a task (e.g. task: {name: mnist1d}, or {name: synthetic})")
    from hwnas.tasks import get_task  # torch: only specs with a task load it

    if spec.task.name == "synthetic":
        shape = spec.task.options.get("input_shape")
        return space.example_input(batch_size, shape)
    options = {k: v for k, v in spec.task.options.items() if k not in EVALUATOR_OPTIONS}
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
    from hwnas.evaluators.zero_cost import NaswotEvaluator  # torch: only this path needs it

    batch = spec.task.options.get("proxy_batch", 32) if spec.task else 32
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SpecError(f"task.options.proxy_batch: must be a positive integer, got {shown(batch)}")
    return NaswotEvaluator(space, proxy_inputs(spec, space, batch), seed=spec.seed)


NNMETER_PREFIX = "nnmeter:"  # latency_ms@nnmeter:cortexA76cpu_tflite21


def _latency(spec: ExperimentSpec, space: SearchSpace, device: str | None) -> Evaluator:
    """Predicted from a shipped or local profile; `local-cpu` / `local-gpu` are measured here (under the device lock),
    `agent://HOST:PORT` on a device running `hwnas agent serve` (token: `HWNAS_AGENT_TOKEN`);
    `nnmeter:<predictor>` asks nn-Meter's own predictor (optional extra, files placed locally)."""
    if device and device.startswith(NNMETER_PREFIX):
        return NnMeterLatencyEvaluator(space, device.removeprefix(NNMETER_PREFIX))
    if device in MEASURABLE or is_agent(device):  # agent://HOST:PORT: timed on that device (`hwnas agent serve`)
        return LatencyEvaluator(space, device, measure=True)
    return LatencyEvaluator(space, device, name=device)  # type: ignore[arg-type]


def _spec_task(spec: ExperimentSpec, space: SearchSpace) -> Task | None:
    """The spec's task built to fit the space (evaluator options removed), or None: the supernet's own task."""
    from hwnas.training.tasks import space_and_task  # torch: only the inherited-score paths need it

    if spec.task is None:
        return None
    options = {k: v for k, v in spec.task.options.items() if k not in EVALUATOR_OPTIONS}
    return space_and_task(space.name, space.preset, spec.task.name, options)[1]


def _accuracy(spec: ExperimentSpec, space: SearchSpace, device: str | None) -> Evaluator:
    """Inherited accuracy on the spec's task (default: the task the supernet was trained on)."""
    from hwnas.evaluators.accuracy import InheritedAccuracyEvaluator  # torch: only this path needs it

    if spec.supernet is None:
        raise SpecError("supernet: metric 'accuracy' needs a trained supernet; train one with `hwnas train-supernet "
                        f"--space {space.name} --preset {space.preset} --task ... --epochs ... --out DIR` and set supernet: DIR")
    return InheritedAccuracyEvaluator(space, spec.supernet, _spec_task(spec, space), seed=spec.seed)


#: Task options that configure an evaluator, not the task: removed before the task is built.
EVALUATOR_OPTIONS = ("proxy_batch", "bleu_beam")


def _bleu(spec: ExperimentSpec, space: SearchSpace, device: str | None) -> Evaluator:
    """BLEU of the subnet's greedy (or `task.options.bleu_beam`-wide beam) translations, on the supernet's weights."""
    from hwnas.evaluators.accuracy import InheritedBleuEvaluator  # torch and sacrebleu: only this path needs them

    if spec.supernet is None:
        raise SpecError("supernet: metric 'bleu' needs a trained seq2seq supernet; train one with `hwnas train-supernet "
                        f"--space {space.name} --preset {space.preset} --task seq2seq ... --out DIR` and set supernet: DIR")
    beam = spec.task.options.get("bleu_beam", 1) if spec.task is not None else 1
    if not isinstance(beam, int) or isinstance(beam, bool) or beam < 1:
        raise SpecError(f"task.options.bleu_beam: must be a positive integer, got {shown(beam)}")
    return InheritedBleuEvaluator(space, spec.supernet, _spec_task(spec, space), beam=beam, seed=spec.seed)


def _map(spec: ExperimentSpec, space: SearchSpace, device: str | None) -> Evaluator:
    """COCO mAP and mAP@.5 of a detector subnet on the spec's detection task, on the supernet's weights."""
    from hwnas.evaluators.accuracy import InheritedMapEvaluator  # torch and pycocotools: only this path needs them

    if spec.supernet is None:
        raise SpecError("supernet: metrics 'map'/'map50' need a trained detection supernet; train one with `hwnas "
                        f"train-supernet --space {space.name} --preset {space.preset} --task shapes-detection ... --out DIR` "
                        "and set supernet: DIR")
    return InheritedMapEvaluator(space, spec.supernet, _spec_task(spec, space), seed=spec.seed)


def _hardware(spec: ExperimentSpec, space: SearchSpace, device: str | None, metric: str) -> Evaluator:
    """Co-design metrics of (arch, hardware) pairs: accelerator cost models or measured deployment knobs."""
    hardware = spec.hardware
    return make_evaluator(metric, hardware.kind if hardware else None, hardware.options if hardware else {}, space, spec.supernet)


def _hardware_metric(metric: str) -> EvaluatorFactory:
    return lambda spec, space, device: _hardware(spec, space, device, metric)


#: Metric name -> its source; `register_metric` adds one (a new objective is one evaluator plus this call).
METRICS: Registry[MetricSource] = Registry("metric")


def register_metric(name: str, source: str, needs_device: bool, factory: EvaluatorFactory) -> None:
    METRICS.register(name, MetricSource(source, needs_device, factory))


for _name, _source, _factory in (("params_m", "counts", _counts), ("flops_m", "counts", _counts),
                                  ("naswot", "naswot", _naswot), ("accuracy", "accuracy", _accuracy)):
    register_metric(_name, _source, False, _factory)
register_metric("bleu", "bleu", False, _bleu)
for _name in ("map", "map50"):  # one evaluator scores both
    register_metric(_name, "map", False, _map)
register_metric("latency_ms", "latency", True, _latency)
for _kind_name, _kind in HARDWARE_KINDS.items():  # co-design metrics: each hardware kind names its own
    for _metric in _kind.metrics:
        register_metric(_metric, _kind.source(_kind_name, _metric), False, _hardware_metric(_metric))


def _refusal_or(evaluate: Callable[[], dict[str, float]]) -> dict[str, float] | OutOfDomainError:
    try:
        return evaluate()
    except OutOfDomainError as exc:
        return exc


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
            raise SpecError(f"{where}: unknown metric {metric!r}; choose one of: {', '.join(METRICS.names())}")
        needs_device, factory = METRICS.get(metric).needs_device, METRICS.get(metric).factory
        if needs_device and not device:
            raise SpecError(f"{where}: metric {metric!r} needs a device (e.g. {metric}@pixel4 or device: pixel4)")
        if not needs_device and device:
            raise SpecError(f"{where}: metric {metric!r} takes no device, got {device!r}")
        key = f"{metric}@{device}" if device else metric
        if key in self._by_key:
            return
        source = f"{METRICS.get(metric).source}@{device}" if needs_device else METRICS.get(metric).source
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

    def prime(self, arch_id: str, values: dict[str, float], hw_id: str | None = None) -> None:
        for evaluator in self.evaluators.values():
            if getattr(evaluator, "needs_hardware", False):
                if hw_id is not None:
                    evaluator.prime_joint(arch_id, hw_id, values)  # type: ignore[attr-defined]
            else:
                evaluator.prime(arch_id, values)

    @property
    def expensive_keys(self) -> list[str]:
        """Objective and constraint keys whose evaluator runs a network (accuracy, proxies, measurements)."""
        return [key for key, evaluator in self._by_key.items() if not evaluator.cheap]

    def evaluate_cheap(self, points: Sequence[tuple[Arch, Arch | None]]) -> list[TrialResult]:
        """The cheap evaluators' values for many points, no network run: what a surrogate search prices
        thousands of candidates with. Constraints on expensive keys count as met (their values are unknown);
        a point a predictor refuses is incomplete, with the reason."""
        values: list[dict[str, float]] = [{} for _ in points]
        refused: dict[int, str] = {}
        for evaluator in (e for e in self.evaluators.values() if e.cheap):
            live = [i for i in range(len(points)) if i not in refused]
            for i, outcome in zip(live, self._run(evaluator, [points[i] for i in live])):
                if isinstance(outcome, OutOfDomainError):
                    refused[i] = str(outcome)
                else:
                    values[i].update(outcome)
        return [TrialResult(v, self._violations(v), complete=i not in refused, reason=refused.get(i, ""))
                for i, v in enumerate(values)]

    @property
    def all_cheap(self) -> bool:
        """Every objective and constraint is cheap (predicted, counted): trials can run in batches."""
        return all(e.cheap for e in self.evaluators.values())

    def evaluate(self, arch: Arch, hardware: Arch | None = None) -> TrialResult:
        """Cheap evaluators first; stops early when a constraint already fails or a predictor refuses
        the arch as out of its domain (recorded as infeasible, with the reason). Co-design metrics are
        priced on `hardware`; without it (an arch alone) they are left out."""
        return self.evaluate_many([(arch, hardware)])[0]

    def evaluate_many(self, points: Sequence[tuple[Arch, Arch | None]]) -> list[TrialResult]:
        """`evaluate` for many (arch, hardware) points, with one call per evaluator for the points still in
        play: a point leaves the batch where `evaluate` would stop it (a failed constraint before an expensive
        evaluator, or a predictor refusing its arch), with the same values and reason."""
        values: list[dict[str, float]] = [{} for _ in points]
        results: dict[int, TrialResult] = {}
        live = list(range(len(points)))
        for evaluator in sorted(self.evaluators.values(), key=lambda e: not e.cheap):
            if not evaluator.cheap:
                for i in [i for i in live if self._violated(values[i])]:
                    results[i] = TrialResult(values[i], self._violations(values[i]), complete=False)
                live = [i for i in live if i not in results]
            for i, outcome in zip(live, self._run(evaluator, [points[i] for i in live])):
                if isinstance(outcome, OutOfDomainError):
                    results[i] = TrialResult(values[i], [1.0] * len(self.spec.constraints), complete=False, reason=str(outcome))
                else:
                    values[i].update(outcome)
            live = [i for i in live if i not in results]
        for i in live:
            results[i] = TrialResult(values[i], self._violations(values[i]), complete=True)
        return [results[i] for i in range(len(points))]

    @staticmethod
    def _run(evaluator: Evaluator, points: Sequence[tuple[Arch, Arch | None]]) -> list[dict[str, float] | OutOfDomainError]:
        """One evaluator's values per point (an arch it refuses: the error). Co-design metrics are priced
        per (arch, hardware) pair, and left out for an arch alone; the rest in one batched call, arch by arch
        only when the batch holds an arch out of the predictor's domain (to tell which)."""
        if getattr(evaluator, "needs_hardware", False):
            return [_refusal_or(lambda a=a, h=h: evaluator.evaluate_joint(a, h)) if h is not None else {}  # type: ignore[attr-defined]
                    for a, h in points]
        archs = [a for a, _ in points]
        try:
            return list(evaluator.evaluate(archs))
        except OutOfDomainError:
            return [_refusal_or(lambda arch=arch: evaluator.evaluate([arch])[0]) for arch in archs]

    def _violations(self, values: dict[str, float]) -> list[float]:
        return [c.violation(values[c.key]) if c.key in values else 0.0 for c in self.spec.constraints]

    def _violated(self, values: dict[str, float]) -> bool:
        return any(v > 0 for v in self._violations(values))
