"""Measuring on a device that runs `hwnas agent serve`: `--device agent://HOST:PORT` wherever `local-cpu` works.

The client exports each subnet (or single op) to ONNX here, sends the models of one measurement in one
request, and gets every sample back, so the agent's numbers go through the same reduction (median or min)
and the same profile fitting as this machine's. The token comes from `--token-file F` or the environment
variable `HWNAS_AGENT_TOKEN`.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import MeasurementError

PREFIX = "agent://"
TOKEN_VARIABLE = "HWNAS_AGENT_TOKEN"
#: Seconds a request may take: a measurement of many subnets in blocks some seconds apart takes minutes.
REQUEST_TIMEOUT_S = 1800.0


def is_agent(device: str | None) -> bool:
    return isinstance(device, str) and device.startswith(PREFIX)


@dataclass
class AgentClient:
    """One agent, `agent://HOST:PORT`, and the token it wants."""

    host: str
    port: int
    token: str = field(repr=False)

    @property
    def device(self) -> str:
        return f"{PREFIX}{self.host}:{self.port}"

    @classmethod
    def for_device(cls, device: str, token_file: str | Path | None = None) -> AgentClient:
        """The client of `agent://HOST:PORT`; raises `MeasurementError` for a malformed address or no token."""
        rest = device.removeprefix(PREFIX)
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in rest:
            raise MeasurementError(f"device {device!r} must look like agent://HOST:PORT, e.g. agent://127.0.0.1:8765")
        if token_file is not None:
            from hwnas.hw_profiles.agent import read_token  # the same rules as the agent's own file

            token = read_token(Path(token_file))
        else:
            token = os.environ.get(TOKEN_VARIABLE, "").strip()
            if not token:
                raise MeasurementError(f"{device}: no token; pass --token-file F or set {TOKEN_VARIABLE}")
        return cls(host.strip("[]"), int(port), token)

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"http://{self.host}:{self.port}/v1/{path}", data=data, method=method,
                                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                reason = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                reason = exc.reason
            raise MeasurementError(f"{self.device} refused the request ({exc.code}): {reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MeasurementError(f"{self.device} does not answer ({reason}); start it there with "
                                   f"`hwnas agent serve --port {self.port} --token-file F`") from None

    def facts(self) -> dict[str, Any]:
        """The device's own description (CPU model, cores, ONNX Runtime and providers, GPU)."""
        return self._request("GET", "facts")

    def samples(self, models: Sequence[bytes], warmup: int, repeats: int, blocks: int = 1, pause_s: float = 0.0,
                threads: int = 1) -> np.ndarray:
        """(models, repeats) ms measured on the device in interleaved rounds (see `_timing.interleaved_samples`)."""
        payload = {"models": [base64.b64encode(m).decode() for m in models], "warmup": warmup, "repeats": repeats,
                   "blocks": blocks, "pause_s": pause_s, "threads": threads}
        reply = self._request("POST", "measure", payload)
        samples = np.asarray(reply.get("samples_ms"), dtype=float)
        if samples.shape != (len(models), repeats):
            raise MeasurementError(f"{self.device} answered {samples.shape} samples for {len(models)} models × {repeats} rounds")
        return samples


def agent_subnet_samples(client: AgentClient, space: Any, archs: Sequence[Any], shape: Sequence[int], warmup: int,
                         repeats: int, threads: int = 1, blocks: int = 1, pause_s: float = 0.0) -> np.ndarray:
    """`_timing.subnet_samples` on the agent's device: each arch's extracted subnet (batch 1), as ONNX."""
    from hwnas.hw_profiles._runtimes import onnx_bytes  # torch: only measuring needs it
    from hwnas.hw_profiles._timing import check_forward_latency  # torch, likewise

    check_forward_latency(space)
    supernet = space.build_supernet().eval()
    inputs = space.example_input(1, tuple(shape))
    models = [onnx_bytes(supernet.extract(arch).eval(), inputs) for arch in archs]
    return client.samples(models, warmup, repeats, blocks, pause_s, threads)
