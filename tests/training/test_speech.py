"""LightHuBERT's two stages on spoken digits: a teacher, masked hidden-state distillation into a fresh supernet,
then task training from its weights; resume of the distillation stage and its one-line refusals."""

from __future__ import annotations

import json

import pytest
import torch

from hwnas.training import load_supernet
from hwnas.training.checkpoint import CHECKPOINT_FILE
from hwnas.training.masked_distillation import MASK_LENGTH, MASK_PROB, span_mask
from tests.cli_helpers import cli_error, cli_ok
from tests.servers import needs_espeak

pytestmark = needs_espeak

BASE = ["--space", "lighthubert", "--preset", "tiny-speech", "--task", "spoken-digits", "--task-option", "num_samples=64",
        "--batch-size", "32", "--num-random", "0", "--warmup-steps", "2", "--quiet"]




@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech")
    cli_ok("train-supernet", *BASE, "--epochs", "1", "--out", str(root / "teacher"))
    cli_ok("train-supernet", *BASE, "--epochs", "3", "--lr", "0.003", "--objective", "masked-distillation",
           "--teacher", str(root / "teacher"), "--out", str(root / "stage1"))
    cli_ok("train-supernet", *BASE, "--epochs", "1", "--init-from", str(root / "stage1"), "--out", str(root / "stage2"))
    return root


def test_span_masks_cover_about_the_asked_share():
    mask = span_mask(200, 49, torch.Generator().manual_seed(0))
    share = mask.float().mean().item()
    assert 0.35 < share < MASK_PROB + 0.05  # spans overlap, so a little under MASK_PROB
    starts = mask[:, 1:] & ~mask[:, :-1]
    assert mask[:, :MASK_LENGTH].any() and starts.any()


def test_distillation_stage_learns_the_teachers_states(stages):
    meta = json.loads((stages / "stage1" / "supernet.json").read_text())
    losses = [m["max_distill"] for m in meta["metrics"]]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert all(m["min_distill"] > 0 for m in meta["metrics"]) and "max_acc" not in meta["metrics"][0]
    state = torch.load(stages / "stage1" / CHECKPOINT_FILE, weights_only=True)
    assert "distill_head.weight" not in state["model"] and state["distill_head"]["weight"].shape[0] == 128


def test_task_stage_starts_from_the_distilled_weights(stages):
    stage1 = load_supernet(stages / "stage1").supernet.state_dict()
    teacher = load_supernet(stages / "teacher").supernet.state_dict()
    meta = json.loads((stages / "stage2" / "supernet.json").read_text())
    assert meta["settings"]["init_from"] == str(stages / "stage1") and "max_acc" in meta["metrics"][0]
    key = "net.features.0.weight"  # the front end: trained one epoch after the copy, still far nearer stage 1
    after = load_supernet(stages / "stage2").supernet.state_dict()[key]
    assert (after - stage1[key]).norm() < (after - teacher[key]).norm()


def test_distillation_resumes_with_its_head(stages, tmp_path):
    out = tmp_path / "again"
    cli_ok("train-supernet", *BASE, "--epochs", "1", "--objective", "masked-distillation", "--teacher",
           str(stages / "teacher"), "--out", str(out))
    cli_ok("train-supernet", "--space", "lighthubert", "--resume", "--epochs", "2", "--quiet", "--out", str(out))
    meta = json.loads((out / "supernet.json").read_text())
    assert meta["epochs_done"] == 2 and meta["settings"]["objective"] == "masked-distillation"


def test_speech_refusals_are_one_line(stages, tmp_path):
    assert "give --teacher DIR" in cli_error("train-supernet", *BASE, "--epochs", "1", "--objective", "masked-distillation",
                                             "--out", str(tmp_path / "a"))
    assert "objective must be one of" in cli_error("train-supernet", *BASE, "--epochs", "1", "--objective", "mlm",
                                                   "--out", str(tmp_path / "b"))
    assert "space is 'lighthubert', expected 'emov2'" in cli_error(
        "train-supernet", "--space", "emov2", "--preset", "tiny", "--task", "digits", "--epochs", "1", "--quiet",
        "--init-from", str(stages / "stage1"), "--out", str(tmp_path / "c"))
    cli_ok("train-supernet", "--space", "lighthubert", "--preset", "tiny", "--task", "mnist1d", "--task-option",
           "num_samples=100", "--epochs", "1", "--quiet", "--out", str(tmp_path / "other"))
    assert "do not line up with lighthubert/tiny-speech" in cli_error(  # another front end: other frames
        "train-supernet", *BASE, "--epochs", "1", "--objective", "masked-distillation", "--teacher", str(tmp_path / "other"),
        "--out", str(tmp_path / "e"))
    assert "spoken-digits: input_shape must be (samples ≥ 4000,), got [40]" in cli_error(  # lighthubert/tiny: 40 samples
        "train-supernet", "--space", "lighthubert", "--preset", "tiny", "--task", "spoken-digits", "--task-option",
        "num_samples=8", "--epochs", "1", "--out", str(tmp_path / "d"))
