"""Hardware co-design: hardware spaces (accelerator parameters, deployment knobs) searched together with
the architecture, and the cost models of (arch, hardware) pairs.

- `HardwareSpace` is a `ChoiceSpace` (the choice algebra of `SearchSpace`, no supernet) whose points are
  `HardwareConfig`s; `accelerator_space()`, `deployment_space()`, and `HARDWARE_KINDS`, the registry of
  hardware kinds (space, spec options, metrics) that `hardware_space(kind)` and specs read.
- `Accelerator` is one checked accelerator config; `AcceleratorCostModel` prices (arch, accelerator)
  pairs in energy (mJ), latency (ms) and area (mm²): ZigZag for dense layers (reference), a roofline
  calibrated on ZigZag for search.
- `JointSpace` merges an arch space and a hardware space for samplers that mutate and cross over both.
"""

from hwnas.codesign._accelerator import DATAFLOWS, Accelerator
from hwnas.codesign._area import area_mm2
from hwnas.codesign._cost import BACKENDS, AcceleratorCostModel, load_calibration
from hwnas.codesign._evaluators import (
    ACCELERATOR_METRICS, AcceleratorEvaluator, DeploymentAccuracyEvaluator, DeploymentLatencyEvaluator,
    HardwareEvaluator, joint_key,
)
from hwnas.codesign._factory import (
    HARDWARE_KINDS, METRIC_KIND, HardwareKind, hardware_space, make_evaluator, space_from_options,
)
from hwnas.codesign._joint import JointSpace
from hwnas.codesign._roofline import PRICED_KINDS, roofline_cost
from hwnas.codesign._space import PREFIX, HardwareConfig, HardwareSpace
from hwnas.codesign._spaces import accelerator_space, deployment_space
from hwnas.errors import InvalidHardwareError, UnsupportedOpError

__all__ = [
    "ACCELERATOR_METRICS", "BACKENDS", "DATAFLOWS", "HARDWARE_KINDS", "METRIC_KIND", "PREFIX", "PRICED_KINDS", "Accelerator",
    "AcceleratorCostModel", "AcceleratorEvaluator", "DeploymentAccuracyEvaluator", "DeploymentLatencyEvaluator",
    "HardwareConfig", "HardwareEvaluator", "HardwareKind", "HardwareSpace", "InvalidHardwareError", "JointSpace",
    "UnsupportedOpError", "accelerator_space", "area_mm2", "deployment_space", "hardware_space", "joint_key",
    "load_calibration", "make_evaluator", "roofline_cost", "space_from_options",
]
