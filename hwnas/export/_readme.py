"""The README.md written beside an extracted subnet: what it is, and the lines that load it."""

from __future__ import annotations

import json
from typing import Any


def _weights_line(weights: dict[str, Any]) -> str:
    if weights["from"] == "supernet":
        task = (weights.get("task") or {}).get("name", "?")
        return (f"inherited from the trained supernet `{weights['supernet']}` ({weights.get('epochs_done')} epochs on "
                f"`{task}`)" + (f"; BatchNorm statistics re-estimated on `{weights['bn_recalibrated_on']}`"
                                if "bn_recalibrated_on" in weights else ""))
    if weights["from"] == "trained":
        start = "from scratch" if weights.get("from_scratch") else "from the extracted weights"
        if weights.get("previous"):
            start += f", which were {_weights_line(weights['previous'])}"
        return f"trained by `hwnas train` on `{weights['task']['name']}` for {weights['epochs']} epoch(s) {start}"
    return f"the supernet's initial weights (seed {weights['seed']}), untrained ({weights['note']})"


def _source_line(source: dict[str, Any]) -> str:
    if "experiment" in source:
        return f"trial {source['trial']} of experiment `{source['experiment']}` (`{source['storage']}`)"
    if "arch_file" in source:
        return f"the arch file `{source['arch_file']}`"
    return f"the arch given as `{source.get('arch', '?')}`"


def readme_text(meta: dict[str, Any], directory: str, hardware: dict[str, Any] | None = None) -> str:
    """Markdown for a subnet directory described by `meta` (the content of its arch.json)."""
    onnx = meta.get("onnx", {})
    inputs = ", ".join(meta["inputs"])
    lines = [
        f"# Subnet {meta['arch_id']} of {meta['space']}/{meta['preset']}",
        "",
        f"Extracted by hwnas from {_source_line(meta['source'])}; {meta['params']:,} parameters.",
        f"Weights: {_weights_line(meta['weights'])}.",
        "",
        "Load it in PyTorch (rebuilds the module from `arch.json`, loads `model.pt` with `weights_only=True`):",
        "",
        "```python",
        "from hwnas.export import load_subnet",
        f"model = load_subnet({directory!r})",
        "```",
        "",
        f"Or run `model.onnx` (opset {onnx.get('opset')}, inputs `{inputs}`, output `logits`) in ONNX Runtime; it was "
        f"checked against torch on {onnx.get('checked_on')}: max abs difference {onnx.get('max_abs_diff', 0):.2g}.",
        "",
        "```python",
        "import onnxruntime",
        f"session = onnxruntime.InferenceSession({(directory.rstrip('/') + '/model.onnx')!r})",
        "```",
        "",
        f"Fine-tune or train it: `hwnas train {directory} --task TASK --epochs 5` (writes `metrics.json`).",
    ]
    if meta.get("metrics"):
        lines += ["", "## Metrics from the search", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.6g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in sorted(meta["metrics"].items())]
    if hardware:
        lines += ["", "## Hardware choices (`hardware.json`)", "", "```json", json.dumps(hardware, indent=2, sort_keys=True), "```"]
    lines += ["", "## Architecture", "", "```json", json.dumps(meta["arch"], indent=2, sort_keys=True), "```", ""]
    return "\n".join(lines)
