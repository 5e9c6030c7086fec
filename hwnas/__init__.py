"""hwnas: hardware-aware neural architecture search and hardware co-design."""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`hwnas.predict_model` and `hwnas.predict_onnx` load on first use (they need torch and onnx)."""
    if name in ("predict_model", "predict_onnx"):
        from hwnas.hw_profiles import model_latency  # heavy: only these names need it

        return getattr(model_latency, name)
    raise AttributeError(f"module 'hwnas' has no attribute {name!r}")
