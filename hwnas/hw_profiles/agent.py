"""The measuring agent: `hwnas agent serve`, run on the device to measure (a Jetson, a Raspberry Pi, a laptop).

It accepts ONNX models and nothing executable: a request carries models as ONNX protobufs (base64 in JSON),
each is checked (`onnx.checker`, standard-domain operators only, no external-data references that would read
the agent's files) before ONNX Runtime loads it, and timed with hwnas's measuring method
(`_timing.interleaved_samples`: warm-up, interleaved rounds in blocks some seconds apart) under the device's
exclusive lock, one request at a time. The reply holds every sample, so the client reduces them exactly as a
local measurement would. `GET /v1/facts` reports the device: CPU model, cores, ONNX Runtime version and
providers, GPU if any.

Every request needs `Authorization: Bearer <token>` (compared in constant time). A request without it, an
oversized body, malformed JSON, a model that is not ONNX, an unknown operator or a dynamic input shape is a
4xx reply with a one-line `error`; the agent keeps serving. It binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import platform
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.errors import MeasurementError

API = "/v1"
#: Largest request body accepted (all models of one request together).
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: Most models one request may time together, and the limits of the method's numbers.
MAX_MODELS, MAX_REPEATS, MAX_BLOCKS, MAX_PAUSE_S, MAX_WARMUP, MAX_THREADS = 512, 1000, 20, 60.0, 100, 256
#: ONNX operator domains the agent runs: the standard ones (no custom-op libraries are ever loaded).
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
MIN_TOKEN_CHARS = 16


class BadRequest(Exception):  # noqa: N818 - a reply, not a failure of the agent
    """A request the agent refuses: the HTTP status and the one line it answers with."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def new_token(path: Path) -> str:
    """Write a fresh random token to `path` (readable by its owner only) and return it."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def read_token(path: Path) -> str:
    """The token in `path`; raises `MeasurementError` for a missing, empty or short one."""
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise MeasurementError(
            f"--token-file {str(path)!r}: {exc.strerror or exc}; make one with `hwnas agent token {path}`"
        ) from None
    if len(token) < MIN_TOKEN_CHARS:
        raise MeasurementError(
            f"--token-file {str(path)!r}: the token must be at least {MIN_TOKEN_CHARS} characters "
            f"(make one with `hwnas agent token {path}`)"
        )
    return token


def device_facts() -> dict[str, Any]:
    """What the agent's machine is: host, CPU model, cores, ONNX Runtime and its providers, GPU if any."""
    import onnxruntime  # the runtime the agent measures in

    facts: dict[str, Any] = {
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "providers": onnxruntime.get_available_providers(),
        "gpu": None,
    }
    try:
        import torch  # only to name a GPU; an agent without torch has none to report

        if torch.cuda.is_available():
            facts["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return facts


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# -- checking what arrives ---------------------------------------------------------------------------


def check_model(data: bytes, index: int) -> Any:
    """The ONNX model in `data`, checked; raises `BadRequest` naming model `index` and the problem."""
    import onnx  # the agent's one parser of what it is sent

    where = f"model {index}"
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf's errors: the bytes are not an ONNX model
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"{where} is not an ONNX model ({type(exc).__name__})") from None
    if not model.graph.node:
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"{where} is not an ONNX model (no graph nodes)")
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise BadRequest(
                HTTPStatus.BAD_REQUEST,
                f"{where}: initializer {tensor.name!r} refers to external data; send the weights inside the model",
            )
    for node in _all_nodes(model.graph):
        if node.domain not in STANDARD_DOMAINS or not onnx.defs.has(node.op_type, node.domain):
            domain = f" (domain {node.domain!r})" if node.domain else ""
            raise BadRequest(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                f"{where}: unknown operator {node.op_type!r}{domain}; the agent runs standard ONNX operators only",
            )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - onnx.checker's ValidationError, first line
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"{where} fails onnx.checker: {str(exc).strip().splitlines()[0]}") from None
    return model


def _all_nodes(graph: Any) -> list[Any]:
    """Every node of `graph`, including those of subgraphs (If / Loop / Scan bodies)."""
    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attribute in node.attribute:
            if attribute.g is not None and attribute.g.node:
                nodes += _all_nodes(attribute.g)
            for sub in attribute.graphs:
                nodes += _all_nodes(sub)
    return nodes


def _number(request: dict[str, Any], key: str, default: float, low: float, high: float, integer: bool = True) -> Any:
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and int(value) != value):
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"field {key!r} must be {'an integer' if integer else 'a number'}")
    if not low <= value <= high:
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"field {key!r} must be in [{low:g}, {high:g}], got {value:g}")
    return int(value) if integer else float(value)


def parse_measure_request(body: bytes) -> tuple[list[bytes], dict[str, Any]]:
    """The models and the method of a `POST /v1/measure` body; raises `BadRequest`."""
    try:
        request = json.loads(body)
    except ValueError as exc:
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"the body is not JSON ({exc})") from None
    if not isinstance(request, dict) or not isinstance(request.get("models"), list) or not request["models"]:
        raise BadRequest(
            HTTPStatus.BAD_REQUEST, "the body must be an object whose 'models' is a non-empty list of base64 ONNX models"
        )
    if len(request["models"]) > MAX_MODELS:
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"at most {MAX_MODELS} models a request, got {len(request['models'])}")
    models = []
    for i, text in enumerate(request["models"]):
        if not isinstance(text, str):
            raise BadRequest(HTTPStatus.BAD_REQUEST, f"model {i} must be a base64 string")
        try:
            models.append(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise BadRequest(HTTPStatus.BAD_REQUEST, f"model {i} is not valid base64") from None
    method = {
        "warmup": _number(request, "warmup", 5, 0, MAX_WARMUP),
        "repeats": _number(request, "repeats", 30, 1, MAX_REPEATS),
        "blocks": _number(request, "blocks", 1, 1, MAX_BLOCKS),
        "threads": _number(request, "threads", 1, 1, MAX_THREADS),
        "pause_s": _number(request, "pause_s", 0.0, 0.0, MAX_PAUSE_S, integer=False),
    }
    unknown = sorted(set(request) - {"models", *method})
    if unknown:
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"unknown field(s): {', '.join(unknown)}")
    return models, method


# -- timing ------------------------------------------------------------------------------------------


_ONNX_TO_NUMPY = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
}


def _session(data: bytes, index: int, threads: int) -> tuple[Any, dict[str, np.ndarray]]:
    """An ONNX Runtime session of the model and a feed of its inputs: random floats, zeros for integers."""
    import onnxruntime  # see device_facts

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime refuses the graph: one line
        raise BadRequest(
            HTTPStatus.UNPROCESSABLE_ENTITY, f"model {index}: ONNX Runtime cannot load it ({str(exc).strip().splitlines()[0]})"
        ) from None
    rng, feed = np.random.default_rng(0), {}
    for spec in session.get_inputs():
        if any(not isinstance(d, int) or d < 1 for d in spec.shape):
            raise BadRequest(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                f"model {index}: input {spec.name!r} has a dynamic shape {spec.shape}; export it with fixed shapes",
            )
        dtype = _ONNX_TO_NUMPY.get(spec.type)
        if dtype is None:
            raise BadRequest(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                f"model {index}: input {spec.name!r} of type {spec.type} is not one the agent can feed",
            )
        shape = tuple(spec.shape)
        feed[spec.name] = (
            rng.standard_normal(shape).astype(dtype) if np.issubdtype(dtype, np.floating) else np.zeros(shape, dtype)
        )
    return session, feed


def measure_models(models: list[bytes], method: dict[str, Any], lock_timeout_s: float = 600.0) -> np.ndarray:
    """(models, repeats) ms of one inference of each model, in interleaved rounds under the device lock."""
    from hwnas.hw_profiles._lock import device_lock  # fcntl: POSIX only, like the rest of measuring
    from hwnas.hw_profiles._timing import interleaved_samples

    for i, data in enumerate(models):
        check_model(data, i)
    sessions = [_session(data, i, method["threads"]) for i, data in enumerate(models)]
    runners = [lambda s=session, f=feed: s.run(None, f) for session, feed in sessions]
    try:
        with device_lock("local-cpu", lock_timeout_s):
            return interleaved_samples(runners, method["warmup"], method["repeats"], method["blocks"], method["pause_s"])
    except MeasurementError as exc:
        raise BadRequest(HTTPStatus.SERVICE_UNAVAILABLE, str(exc)) from None


# -- serving -----------------------------------------------------------------------------------------


class AgentServer(ThreadingHTTPServer):
    """The HTTP server; measurements run one at a time (a second waits for the first)."""

    daemon_threads = True

    def __init__(self, host: str, port: int, token: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__((host, port), _Handler)
        self.token, self.max_bytes = token, max_bytes
        self.measuring = threading.Lock()
        self.facts = device_facts()


class _Handler(BaseHTTPRequestHandler):
    server: AgentServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass  # the CLI prints one line per measurement instead

    def _reply(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> None:
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise BadRequest(HTTPStatus.UNAUTHORIZED, "missing or wrong token (Authorization: Bearer TOKEN)")

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "a request body needs a Content-Length")
        if int(length) > self.server.max_bytes:
            raise BadRequest(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body is {int(length)} bytes; the agent accepts at most {self.server.max_bytes}",
            )
        return self.rfile.read(int(length))

    def _handle(self, method: str) -> None:
        try:
            self._authorised()
            if method == "GET" and self.path == f"{API}/facts":
                self._reply(HTTPStatus.OK, self.server.facts)
            elif method == "POST" and self.path == f"{API}/measure":
                models, settings = parse_measure_request(self._body())
                with self.server.measuring:
                    samples = measure_models(models, settings)
                self._reply(HTTPStatus.OK, {"samples_ms": samples.tolist(), "facts": self.server.facts, "method": settings})
            else:
                raise BadRequest(
                    HTTPStatus.NOT_FOUND, f"no {method} {self.path}; the agent serves GET {API}/facts and POST {API}/measure"
                )
        except BadRequest as refused:
            if refused.status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, HTTPStatus.LENGTH_REQUIRED):
                self.close_connection = True  # the unread body would be taken for the next request
            self._reply(refused.status, {"error": refused.message})
        except Exception as exc:  # noqa: BLE001 - the agent keeps serving whatever one request does
            self._reply(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"},
            )

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's names
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")
