"""A MobileDets detector as a user runs it: train the supernet on shapes, search mAP against Pixel 4 latency,
extract the chosen detector to ONNX (boxes and scores), fine-tune it; and the one-line refusals."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch
from typer.testing import CliRunner

from hwnas.artifacts import load_subnet
from hwnas.cli import app
from hwnas.search import Experiment, parse_spec
from hwnas.search_spaces import get_space
from hwnas.tasks import get_task
from hwnas.training.detection import DecodedDetector, space_anchors
from tests.cli_helpers import cli_error, cli_ok

OPTIONS = {"num_samples": 96}
TASK = ["--task", "shapes-detection", "--task-option", "num_samples=96"]




@pytest.fixture(scope="module")
def detector_supernet(tmp_path_factory):
    out = tmp_path_factory.mktemp("det") / "supernet"
    cli_ok("train-supernet", "--space", "mobiledets", "--preset", "tiny-detection", *TASK, "--epochs", "1",
           "--batch-size", "32", "--quiet", "--out", str(out))
    return out


def _spec(supernet, trials=3, **changes):
    spec = {"name": "det", "space": {"name": "mobiledets", "preset": "tiny-detection"}, "supernet": str(supernet),
            "task": {"name": "shapes-detection", "options": OPTIONS},
            "objectives": [{"metric": "map", "direction": "maximize"},
                           {"metric": "latency_ms", "device": "pixel4", "direction": "minimize"}],
            "constraints": ["map50 >= 0"], "searcher": {"kind": "optuna", "sampler": "random"},
            "budget": {"trials": trials}, "seed": 0}
    return parse_spec({**spec, **changes})


def test_supernet_records_map_per_epoch(detector_supernet):
    meta = json.loads((detector_supernet / "supernet.json").read_text())
    record = meta["metrics"][0]
    assert {"max_map", "min_map", "max_map50", "min_map50"} <= set(record) and "max_acc" not in record
    assert all(0.0 <= record[k] <= 1.0 for k in ("max_map", "min_map", "max_map50", "min_map50"))


def test_search_extract_and_train_a_detector(detector_supernet, tmp_path):
    storage = f"sqlite:///{tmp_path}/det.db"
    experiment = Experiment(_spec(detector_supernet), storage)
    experiment.run()
    rows = experiment.rows()
    assert len(rows) == 3 and all(0.0 <= r.metrics["map"] <= r.metrics["map50"] <= 1.0 for r in rows)
    assert all(r.metrics["latency_ms@pixel4"] > 0 for r in rows)

    out = tmp_path / "subnet"
    cli_ok("extract", "--experiment", "det", "--trial", str(rows[0].number), "--storage", storage, "--out", str(out))
    meta = json.loads((out / "arch.json").read_text())
    assert meta["onnx"]["outputs"] == ["boxes", "scores"] and meta["onnx"]["max_abs_diff"] < 1e-4
    space = get_space("mobiledets", "tiny-detection")
    images = get_task("shapes-detection", **OPTIONS).x_val[:4]
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    boxes, scores = session.run(None, {"input": images.numpy()})
    with torch.no_grad():
        want_boxes, want_scores = DecodedDetector(load_subnet(out), space_anchors(space)).eval()(images)
    assert boxes.shape == (4, 84, 4) and scores.shape == (4, 84, 4)
    assert np.abs(boxes - want_boxes.numpy()).max() < 1e-4 and np.abs(scores - want_scores.numpy()).max() < 1e-4

    priced = CliRunner().invoke(app, ["predict", str(out / "model.onnx"), "--device", "pixel3", "--json"])
    assert priced.exit_code == 0 and json.loads(priced.stdout)["latency_ms"] > 0, priced.output  # the decoding priced too

    cli_ok("train", str(out), *TASK, "--epochs", "1")
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"map_before", "map_after", "map50_before", "map50_after"} <= set(metrics) and "accuracy_after" not in metrics
    assert metrics["map_before"] == pytest.approx(rows[0].metrics["map"], abs=1e-6), "extracted weights score as their trial"


def test_detection_refusals_are_one_line(detector_supernet, tmp_path):
    assert "is a detection task but mobiledets/tiny needs a classification task" in cli_error(
        "train-supernet", "--space", "mobiledets", "--preset", "tiny", *TASK, "--epochs", "1", "--out", str(tmp_path / "a"))
    assert "is a classification task but mobiledets/tiny-detection needs a detection task" in cli_error(
        "train-supernet", "--space", "mobiledets", "--preset", "tiny-detection", "--task", "digits", "--epochs", "1",
        "--out", str(tmp_path / "b"))
    (tmp_path / "bad.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    assert "lists no images" in cli_error("train-supernet", "--space", "mobiledets", "--preset", "tiny-detection", "--task",
                                          "coco", "--task-option", f"path={tmp_path / 'bad.json'}", "--epochs", "1",
                                          "--out", str(tmp_path / "c"))
    spec = tmp_path / "acc.yaml"
    spec.write_text(json.dumps({"name": "acc", "space": {"name": "mobiledets", "preset": "tiny-detection"},
                                "supernet": str(detector_supernet), "task": {"name": "shapes-detection", "options": OPTIONS},
                                "objectives": [{"metric": "accuracy", "direction": "maximize"}], "budget": {"trials": 1}}))
    assert "score detectors by map" in cli_error("run", str(spec), "--storage", f"sqlite:///{tmp_path}/acc.db")
