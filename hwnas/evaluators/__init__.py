"""Objectives of a subnet. Each evaluator maps a batch of archs to metric values, cached by arch id."""

from hwnas.evaluators.accuracy import InheritedAccuracyEvaluator
from hwnas.evaluators.base import Evaluator
from hwnas.evaluators.cost import SubnetCost, fvcore_macs, subnet_cost
from hwnas.evaluators.counts import CountEvaluator
from hwnas.evaluators.zero_cost import NaswotEvaluator

__all__ = ["CountEvaluator", "Evaluator", "InheritedAccuracyEvaluator", "NaswotEvaluator", "SubnetCost", "fvcore_macs", "subnet_cost"]
