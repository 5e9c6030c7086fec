"""Latency of any model on a device: an ONNX file (or a torch module, exported) priced op by op.

`onnx_ops` maps the graph to hwnas ops; an op-level profile (`op-level-v1`: the shipped HELP devices, or
one measured here or on an agent with `hwnas profile measure --kernels`) prices them after its runtime's
fusion, and says which milliseconds are measured, composed or extrapolated. An operator no op class covers is
named, never priced as zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnas.hw_profiles._predict import Explanation, explain_ops
from hwnas.hw_profiles._profile import Profile
from hwnas.hw_profiles._registry import get_profile
from hwnas.hw_profiles.onnx_ops import onnx_ops


def predict_onnx(model: str | Path | bytes | Any, device: str | Path | Profile) -> Explanation:
    """Predicted latency (batch as exported) of an ONNX model on `device` (a profile name, directory or object).

    Raises `UnsupportedOpError` listing operators hwnas cannot price, `OutOfDomainError` for an op outside the
    profile's domain or a profile that is not op-level."""
    profile = device if isinstance(device, Profile) else get_profile(device)
    found = onnx_ops(model)
    return explain_ops(profile, found.check(), found.source)


def predict_model(module: Any, example_input: Any, device: str | Path | Profile) -> Explanation:
    """`predict_onnx` of a torch module, exported to ONNX on `example_input` (a tensor or a tuple of them)."""
    from hwnas.hw_profiles._runtimes import onnx_bytes  # torch's exporter

    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    return predict_onnx(onnx_bytes(module.eval(), inputs), device)
