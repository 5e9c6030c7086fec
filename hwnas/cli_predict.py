"""`hwnas predict MODEL.onnx --device D`: the latency of any ONNX model on a device with an op-level profile."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from hwnas._cli_common import user_errors
from hwnas.cli_latency import show_explanation


def register(app: typer.Typer, console: Console) -> None:
    """Add `predict` to the `hwnas` app."""

    @app.command("predict")
    @user_errors
    def predict(
        model: Path = typer.Argument(..., metavar="MODEL.onnx", help="An ONNX model with fixed input shapes."),
        device: str = typer.Option(..., "--device", help="An op-level profile: a shipped name or a profile directory."),
        explain: bool = typer.Option(False, "--explain", help="Ms per op class and its provenance."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Predicted latency of any ONNX model on a device, op by op; unpriceable operators are named."""
        from hwnas.hw_profiles.model_latency import predict_onnx  # onnx and the profile: only this command needs them

        explanation = predict_onnx(model, device).to_dict()
        if as_json:
            print(json.dumps({"model": str(model), "device": device, "latency_ms": explanation["ms"],
                              **({"explain": explanation} if explain else {})}))
            return
        console.print(f"{model}: {explanation['ms']:.3f} ms on {device}", markup=False)
        if explain:
            show_explanation(console, explanation)
