"""The measuring agent as a real separate process over loopback: measure and validate a profile through it, a
search whose latency is measured there, and the bad tokens and payloads it refuses while it keeps serving."""

from __future__ import annotations

import base64
import copy
import http.client
import json
import os
import subprocess
import sys
import time

import onnx
import pytest
import torch
import yaml
from onnx import helper

from hwnas.errors import MeasurementError
from hwnas.hw_profiles._runtimes import onnx_bytes
from hwnas.hw_profiles.agent import new_token
from hwnas.hw_profiles.agent_client import AgentClient
from tests.search.conftest import BASE as SEARCH_BASE
from tests.servers import free_port


def _wait_until_up(port: int, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the agent exited: {process.stderr.read()}")
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/v1/facts")
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the agent did not start")


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """`hwnas agent serve` in its own process (requests of at most 16 MiB), its device name and token file."""
    root = tmp_path_factory.mktemp("agent")
    token_file = root / "token"
    new_token(token_file)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hwnas", "agent", "serve", "--token-file", str(token_file), "--port", str(port), "--max-mb", "16"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HWNAS_LOCK_DIR": str(root)},
    )
    try:
        _wait_until_up(port, process)
        yield {
            "device": f"agent://127.0.0.1:{port}",
            "port": port,
            "token_file": token_file,
            "token": token_file.read_text().strip(),
            "process": process,
        }
    finally:
        process.terminate()
        process.wait(timeout=30)


def _post(agent, body: bytes, token: str | None = "ok", path: str = "/v1/measure", length: int | None = None) -> tuple[int, dict]:
    """POST `body`; with `length`, only the headers, claiming a body of that many bytes (the agent must refuse it unread)."""
    connection = http.client.HTTPConnection("127.0.0.1", agent["port"], timeout=60)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(body) if length is None else length))
    if token is not None:
        connection.putheader("Authorization", f"Bearer {agent['token'] if token == 'ok' else token}")
    connection.endheaders(body if length is None else None)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def _linear_onnx() -> bytes:
    return onnx_bytes(torch.nn.Linear(16, 8).eval(), (torch.randn(1, 16),))


def _request(*models: bytes, **method) -> bytes:
    return json.dumps({"models": [base64.b64encode(m).decode() for m in models], "warmup": 1, "repeats": 3, **method}).encode()


def _still_serving(agent) -> None:
    assert AgentClient.for_device(agent["device"], agent["token_file"]).facts()["cores"] >= 1
    assert agent["process"].poll() is None


def test_the_agent_times_models_and_reports_its_device(agent):
    client = AgentClient.for_device(agent["device"], agent["token_file"])
    facts = client.facts()
    assert facts["onnxruntime"] and "CPUExecutionProvider" in facts["providers"] and facts["cores"] >= 1 and facts["cpu"]
    samples = client.samples([_linear_onnx(), _linear_onnx()], warmup=1, repeats=4)
    assert samples.shape == (2, 4) and (samples > 0).all()


@pytest.mark.parametrize(
    "case, status, message",
    [
        ("no token", 401, "token"),
        ("wrong token", 401, "token"),
        ("not json", 400, "not JSON"),
        ("no models", 400, "non-empty list"),
        ("not base64", 400, "base64"),
        ("not onnx", 400, "not an ONNX model"),
        ("custom operator", 422, "unknown operator 'Evil'"),
        ("external data", 400, "external data"),
        ("dynamic shape", 422, "dynamic shape"),
        ("bad repeats", 400, "'repeats'"),
        ("unknown field", 400, "unknown field"),
        ("too large", 413, "at most"),
        ("unknown path", 404, "/v1/measure"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_the_agent_keeps_serving(agent, case, status, message):
    body, token, path, length = _request(_linear_onnx()), "ok", "/v1/measure", None
    if case == "no token":
        token = None
    elif case == "wrong token":
        token = "x" * 40
    elif case == "not json":
        body = b"{models: nope"
    elif case == "no models":
        body = json.dumps({"models": []}).encode()
    elif case == "not base64":
        body = json.dumps({"models": ["***"]}).encode()
    elif case == "not onnx":
        body = _request(b"\x00\x01 certainly not a protobuf of a model \xff" * 10)
    elif case == "custom operator":
        body = _request(_custom_op_model())
    elif case == "external data":
        body = _request(_external_data_model())
    elif case == "dynamic shape":
        body = _request(_dynamic_model())
    elif case == "bad repeats":
        body = _request(_linear_onnx(), repeats=0)
    elif case == "unknown field":
        body = _request(_linear_onnx(), code="import os")
    elif case == "too large":
        length = 17 * 1024 * 1024
    elif case == "unknown path":
        path = "/v1/run-this"
    got, reply = _post(agent, body, token, path, length)
    assert got == status, reply
    assert message in reply["error"] and "\n" not in reply["error"]
    _still_serving(agent)


def _custom_op_model() -> bytes:
    node = helper.make_node("Evil", ["x"], ["y"], domain="com.example")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    return model.SerializeToString()


def _external_data_model() -> bytes:
    weight = helper.make_tensor("w", onnx.TensorProto.FLOAT, [4, 4], [0.0] * 16)
    weight.data_location = onnx.TensorProto.EXTERNAL
    weight.ClearField("float_data")
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "../../../../etc/passwd"
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
        [weight],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _dynamic_model() -> bytes:
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", 4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _hwnas(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwnas", *args], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


def test_profile_measure_and_validate_through_the_agent(agent, tmp_path):
    out = tmp_path / "profile"
    measured = _hwnas(
        "profile",
        "measure",
        "--device",
        agent["device"],
        "--token-file",
        str(agent["token_file"]),
        "--space",
        "mixed-attention",
        "--preset",
        "tiny",
        "-n",
        "8",
        "--warmup",
        "1",
        "--repeats",
        "3",
        "--blocks",
        "1",
        "--pause",
        "0",
        "--out",
        str(out),
        "--json",
    )
    assert measured.returncode == 0, measured.stderr
    summary = json.loads(measured.stdout)
    assert summary["name"] == agent["device"]
    text = (out / "profile.yaml").read_text()
    assert "through hwnas agent serve" in text and "onnxruntime" in text
    validated = _hwnas(
        "profile",
        "validate",
        "--profile",
        str(out),
        "--space",
        "mixed-attention",
        "--preset",
        "tiny",
        "-n",
        "4",
        "--repeats",
        "3",
        "--max-drift",
        "5",
        "--json",
        env={"HWNAS_AGENT_TOKEN": agent["token"]},
    )
    assert validated.returncode == 0, validated.stderr
    report = json.loads(validated.stdout)
    assert report["n"] == 4 and all(row["measured_ms"] > 0 for row in report["archs"]) and report["agent"]["cores"] >= 1


def test_a_kernel_profile_measured_through_the_agent(agent, tmp_path):
    out = tmp_path / "kernels"
    measured = _hwnas(
        "profile",
        "measure",
        "--kernels",
        "-n",
        "30",
        "--repeats",
        "3",
        "--warmup",
        "1",
        "--device",
        agent["device"],
        "--token-file",
        str(agent["token_file"]),
        "--out",
        str(out),
        "--json",
    )
    assert measured.returncode == 0, measured.stderr
    text = (out / "profile.yaml").read_text()
    assert "through hwnas agent serve" in text and "op-level-v1" in text


def test_a_search_measures_its_latency_on_the_agent(agent, tmp_path):
    spec_dict = copy.deepcopy(SEARCH_BASE)
    spec_dict.update(
        objectives=[
            {"metric": "latency_ms", "device": agent["device"], "direction": "minimize"},
            {"metric": "params_m", "direction": "minimize"},
        ],
        constraints=[],
        budget={"trials": 4},
        searcher={"kind": "optuna", "sampler": "random"},
    )
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_dict))
    url = f"sqlite:///{tmp_path}/s.db"
    ran = _hwnas("run", str(spec), "--storage", url, env={"HWNAS_AGENT_TOKEN": agent["token"]})
    assert ran.returncode == 0, ran.stderr
    import optuna

    trials = optuna.load_study(study_name="tiny-search", storage=url).get_trials()
    key = f"latency_ms@{agent['device']}"
    assert len(trials) == 4 and all(t.user_attrs["metrics"][key] > 0 for t in trials)


def test_client_faults_are_one_line(agent, tmp_path, monkeypatch):
    wrong = tmp_path / "wrong"
    wrong.write_text("y" * 40)
    refused = _hwnas(
        "profile",
        "measure",
        "--device",
        agent["device"],
        "--token-file",
        str(wrong),
        "--space",
        "mixed-attention",
        "--preset",
        "tiny",
        "-n",
        "8",
        "--out",
        str(tmp_path / "p"),
    )
    assert refused.returncode == 2 and "(401)" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    silent = f"agent://127.0.0.1:{free_port()}"
    nobody = _hwnas(
        "profile",
        "measure",
        "--device",
        silent,
        "--space",
        "mixed-attention",
        "--preset",
        "tiny",
        "-n",
        "8",
        "--out",
        str(tmp_path / "q"),
        env={"HWNAS_AGENT_TOKEN": agent["token"]},
    )
    assert nobody.returncode == 2 and "does not answer" in nobody.stderr and len(nobody.stderr.strip().splitlines()) == 1
    torch_there = _hwnas(
        "profile",
        "measure",
        "--device",
        agent["device"],
        "--runtime",
        "torch",
        "--space",
        "mixed-attention",
        "-n",
        "8",
        "--out",
        str(tmp_path / "r"),
        env={"HWNAS_AGENT_TOKEN": agent["token"]},
    )
    assert torch_there.returncode == 2 and "onnxruntime" in torch_there.stderr
    monkeypatch.delenv("HWNAS_AGENT_TOKEN", raising=False)
    with pytest.raises(MeasurementError, match="no token"):
        AgentClient.for_device(agent["device"])
    with pytest.raises(MeasurementError, match="agent://HOST:PORT"):
        AgentClient.for_device("agent://nohost", wrong)
