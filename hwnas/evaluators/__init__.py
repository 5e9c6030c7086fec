"""Objectives of a subnet. Each evaluator maps a batch of archs to metric values, cached by arch id.

Counts and predicted latency need no torch; the evaluators that run a network (inherited accuracy, the
zero-cost proxy, fvcore counts) load on first use, so a search over predicted objectives starts fast.
"""

from typing import Any

from hwnas.evaluators.base import Evaluator
from hwnas.evaluators.counts import CountEvaluator

__all__ = ["CountEvaluator", "Evaluator", "InheritedAccuracyEvaluator", "NaswotEvaluator", "SubnetCost", "fvcore_macs", "subnet_cost"]

_NEEDS_TORCH = {"InheritedAccuracyEvaluator": "hwnas.evaluators.accuracy", "NaswotEvaluator": "hwnas.evaluators.zero_cost",
                "SubnetCost": "hwnas.evaluators.cost", "fvcore_macs": "hwnas.evaluators.cost", "subnet_cost": "hwnas.evaluators.cost"}


def __getattr__(name: str) -> Any:
    if name in _NEEDS_TORCH:
        import importlib  # the names that need torch load on first use

        return getattr(importlib.import_module(_NEEDS_TORCH[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
