"""`hwnas train-supernet`: a real run and resume as a user runs them, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from hwnas.cli import app
from hwnas.training._sharing import sharing_summary
from tests.cli_helpers import cli_error as _error
from tests.cli_helpers import cli_ok

SMALL = ["--space", "mixed-attention", "--preset", "tiny", "--task", "mnist1d", "--task-option", "num_samples=120",
         "--batch-size", "48", "--num-random", "1", "--quiet"]


def hwnas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwnas.cli", *args], capture_output=True, text=True, timeout=300)


def test_train_then_resume_to_more_epochs(tmp_path):
    out = tmp_path / "sn"
    first = hwnas("train-supernet", *SMALL, "--epochs", "1", "--out", str(out))
    assert first.returncode == 0, first.stderr
    meta = json.loads((out / "supernet.json").read_text())
    assert meta["epochs_done"] == 1 and meta["task"] == {"name": "mnist1d", "options": {"input_shape": [40], "num_samples": 120}}
    assert {"loss", "max_acc", "min_acc", "seconds"} <= set(meta["metrics"][0])
    again = CliRunner().invoke(app, ["train-supernet", "--space", "mixed-attention", "--out", str(out), "--resume",
                                      "--epochs", "2", "--quiet"])
    assert again.exit_code == 0, again.output
    meta = json.loads((out / "supernet.json").read_text())
    assert meta["epochs_done"] == 2
    kept = f"random subnets keep a median {meta['sharing']['median_share_of_largest']:.0%} of the largest subnet's acc"
    assert kept in " ".join(again.output.split())  # the sharing check of the run's last epoch, on one line or wrapped


def test_bad_input_is_one_line_and_exit_code_2(tmp_path, trained_vit):
    assert "unknown task 'imagenet'" in _error("train-supernet", "--space", "emov2", "--preset", "tiny", "--task", "imagenet",
                                               "--epochs", "1", "--out", str(tmp_path / "a"))
    assert "checkpoint.pt: missing checkpoint" in _error(*_resume_missing_checkpoint(tmp_path, trained_vit))
    assert "nothing to resume" in _error("train-supernet", "--space", "emov2", "--resume", "--out", str(tmp_path / "none"))
    assert "space is 'mixed-attention', expected 'lighthubert'" in _error(
        "train-supernet", "--space", "lighthubert", "--resume", "--out", str(trained_vit))
    assert "preset is 'tiny'" in _error("train-supernet", "--space", "mixed-attention", "--preset", "cifar10-vit",
                                        "--resume", "--out", str(trained_vit))
    assert "exists; pass --resume to continue it or --force" in _error("train-supernet", *SMALL, "--epochs", "1",
                                                                      "--out", str(trained_vit))
    assert "is a seq2seq task but mixed-attention/tiny needs a classification task" in _error(
        "train-supernet", "--space", "mixed-attention", "--task", "seq2seq", "--epochs", "1", "--out", str(tmp_path / "b"))
    assert "inputs of shape (40,); emov2/tiny takes (3, 32, 32)" in _error(
        "train-supernet", "--space", "emov2", "--preset", "tiny", "--task", "mnist1d", "--epochs", "1", "--out", str(tmp_path / "c"))
    assert "--teacher" in _error("train-supernet", *SMALL, "--epochs", "1", "--teacher", str(tmp_path / "nope"),
                                 "--out", str(tmp_path / "d"))
    assert "--task-option 'num_samples'" in _error("train-supernet", *SMALL, "--task-option", "num_samples",
                                                   "--epochs", "1", "--out", str(tmp_path / "e"))


def _resume_missing_checkpoint(tmp_path, trained_vit):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "supernet.json").write_text((trained_vit / "supernet.json").read_text())
    return ("train-supernet", "--space", "mixed-attention", "--resume", "--out", str(copy))


@pytest.mark.parametrize("flag", ["--force"])
def test_force_overwrites(tmp_path, flag):
    out = tmp_path / "sn"
    out.mkdir()
    (out / "supernet.json").write_text("{}")
    result = CliRunner().invoke(app, ["train-supernet", *SMALL, "--epochs", "1", "--out", str(out), flag])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "supernet.json").read_text())["epochs_done"] == 1


def test_a_search_on_a_weakly_sharing_supernet_says_so_first(tmp_path, trained_vit):
    supernet = tmp_path / "sn"
    shutil.copytree(trained_vit, supernet)
    meta_path = supernet / "supernet.json"
    meta = json.loads(meta_path.read_text())
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"""name: sharing
space: {{name: mixed-attention, preset: tiny}}
supernet: {supernet}
objectives:
  - {{metric: accuracy, direction: maximize}}
  - {{metric: params_m, direction: minimize}}
searcher: {{kind: optuna, sampler: random}}
budget: {{trials: 2}}
seed: 0
""")
    for weak in (True, False):
        meta["sharing"] = sharing_summary("acc", [0.10, 0.12, 0.11, 0.10] if weak else [0.80, 0.85, 0.90, 0.82], 0.9)
        meta_path.write_text(json.dumps(meta))
        output = " ".join(cli_ok("run", str(spec), "--storage", f"sqlite:///{tmp_path}/{weak}.db").split())
        assert ("random subnets keep a median 12% of the largest subnet's acc" in output) is weak
        assert ("will hardly rank subnets" in output) is weak
