"""Objectives of a subnet: FLOPs/params now; latency and accuracy evaluators build on the same shape."""

from hwnas.evaluators.cost import SubnetCost, fvcore_macs, subnet_cost

__all__ = ["SubnetCost", "fvcore_macs", "subnet_cost"]
