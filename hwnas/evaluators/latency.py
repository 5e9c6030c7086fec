"""`LatencyEvaluator`: latency of archs on one device, predicted from a profile or measured here.

`evaluate(archs)` is batched and cached by arch id (the `Evaluator` contract) and returns
`{"latency_ms@<device>": ms}` per arch. Predicted: an arch outside the profile's domain raises
`OutOfDomainError` naming the op and the domain, and nothing of that batch is cached. Phone profiles
(`pixel1/4/6`, nn-Meter's block tables) price EMOv2 and MobileDets subnets as sums of nn-Meter blocks
(`hwnas.hw_profiles._blocks`). Measured: the
uncached archs' extracted subnets are timed under the device's exclusive lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hwnas.evaluators.base import Evaluator
from hwnas.hw_profiles import Profile, get_profile
from hwnas.hw_profiles._common import DEVICES
from hwnas.hw_profiles._lock import device_lock
from hwnas.hw_profiles._predict import priced_archs
from hwnas.hw_profiles.agent_client import AgentClient, agent_subnet_samples, is_agent
from hwnas.search_spaces import Arch, SearchSpace


class LatencyEvaluator(Evaluator):
    """Latency of `space`'s archs on `device`: a profile (shipped name, directory or `Profile`), or
    `"local-cpu"` with `measure=True` to time archs on this machine (warm-up, repeats, median, lock), or
    `"agent://HOST:PORT"` with `measure=True` to time them on a device running `hwnas agent serve` (token from
    `HWNAS_AGENT_TOKEN`).
    `name` names the metric (`latency_ms@<name>`; default: the profile's device)."""

    def __init__(self, space: SearchSpace, device: str | Path | Profile, measure: bool = False, warmup: int = 5,
                 repeats: int = 30, threads: int = 1, statistic: str = "median", name: str | None = None) -> None:
        super().__init__()
        self.space, self.measure = space, measure
        self.warmup, self.repeats, self.threads, self.statistic = warmup, repeats, threads, statistic
        self.profile: Profile | None = None
        self.agent: AgentClient | None = None
        if measure:  # torch is loaded only here: predicted latency needs none
            from hwnas.hw_profiles._measure import check_device  # torch: only this path needs it
            from hwnas.hw_profiles._timing import STATISTICS, check_forward_latency

            check_forward_latency(space)  # when the spec loads, not in its first trial
            self.agent = AgentClient.for_device(str(device)) if is_agent(str(device)) else None
            check_device(str(device), "onnxruntime" if self.agent else "torch")
            if statistic not in STATISTICS:
                raise ValueError(f"statistic {statistic!r} is not one of {', '.join(STATISTICS)}")
            self.device = str(device)
        else:
            self.profile = device if isinstance(device, Profile) else get_profile(device)
            self.device = self.profile.device
        #: The metric is named as the spec names the device (a profile directory keeps its path).
        self.metrics = (f"latency_ms@{name or self.device}",)
        self.cheap = not measure

    def evaluate(self, archs: Sequence[Arch | Any]) -> list[dict[str, float]]:
        """Raises `InvalidArchError` for an arch outside the space, `OutOfDomainError` outside the profile."""
        return super().evaluate([self.space.validate(a) for a in archs])

    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        if self.measure:
            return [{self.metrics[0]: float(v)} for v in self._measured(archs)]
        values, shares = priced_archs(self.profile, self.space, archs)  # type: ignore[arg-type]
        if shares is None:
            return [{self.metrics[0]: float(v)} for v in values]
        return [{self.metrics[0]: float(v), self.unmeasured_key: float(s)} for v, s in zip(values, shares)]

    @property
    def unmeasured_key(self) -> str:
        """Stored beside an op-level prediction: the share of its ms composed or extrapolated, not measured."""
        return self.metrics[0].replace("latency_ms@", "latency_unmeasured@", 1)

    def _measured(self, archs: Sequence[Arch]) -> list[float]:
        from hwnas.hw_profiles._timing import STATISTICS, Threads, measure_subnets  # torch: only this path needs it

        shape = tuple(self.space.default_input_shape)
        with device_lock(self.device), Threads(self.threads):
            if self.agent is not None:  # timed there, in ONNX Runtime; the agent serialises its measurements too
                samples = agent_subnet_samples(self.agent, self.space, archs, shape, self.warmup, self.repeats, self.threads)
                return [STATISTICS[self.statistic](list(row)) for row in samples]
            return list(measure_subnets(self.space, archs, tuple(self.space.default_input_shape), self.warmup, self.repeats,
                                        self.statistic, device=DEVICES[self.device]))


class NnMeterLatencyEvaluator(Evaluator):
    """Latency of `space`'s archs from nn-Meter's own predictor `predictor` (optional extra `hwnas[nnmeter]`):
    each extracted subnet → nn-Meter's IR → its kernel predictors. Construction checks the predictor files
    and raises `ProfileError` (which files, where nn-Meter looks, how to place them) when they are missing."""

    def __init__(self, space: SearchSpace, predictor: str = "cortexA76cpu_tflite21", version: float | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        from hwnas.hw_profiles.nnmeter_backend import NnMeterPredictor  # torch: only this path needs it

        super().__init__()
        self.space, self.input_shape = space, input_shape
        self.predictor = NnMeterPredictor(predictor, version)
        self.metrics = (f"latency_ms@nnmeter:{self.predictor.config['name']}",)
        self.cheap = False  # exports every subnet to ONNX

    def evaluate(self, archs: Sequence[Arch | Any]) -> list[dict[str, float]]:
        return super().evaluate([self.space.validate(a) for a in archs])

    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        return [{self.metrics[0]: ms} for ms in self.predictor.predict_ms(self.space, archs, self.input_shape)]


__all__ = ["LatencyEvaluator", "NnMeterLatencyEvaluator"]
