"""`hwnas train`: real training of an extracted subnet on built-in and user tasks, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hwnas.errors import ExportError
from hwnas.export import extract_subnet, from_arch, load_subnet, read_arch_json, train_extracted
from hwnas.tasks import get_task
from hwnas.training import evaluate_accuracy
from hwnas.training.decoding import evaluate_bleu
from tests.export.test_extract import _one_line_error


@pytest.fixture
def lighthubert_subnet(tmp_path):
    out = tmp_path / "lh"
    extract_subnet(from_arch("min", "lighthubert", "tiny"), out)
    return out


def test_train_from_scratch_improves_accuracy_and_writes_metrics(lighthubert_subnet, cli):
    out = lighthubert_subnet
    before_weights = torch.load(out / "model.pt", weights_only=True)
    result = cli("train", out, "--task", "mnist1d", "-o", "num_samples=2000", "--epochs", 1, "--from-scratch")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["from_scratch"] is True and metrics["task"]["name"] == "mnist1d"
    assert metrics["task"]["train_samples"] == 1600 and metrics["seconds_per_epoch"] > 0
    assert metrics["accuracy_after"] > metrics["accuracy_before"] + 0.04  # measured: 0.10 → 0.185
    # the new weights are saved, load back, and score what metrics.json says
    after_weights = torch.load(out / "model.pt", weights_only=True)
    assert any(not torch.equal(before_weights[k], after_weights[k]) for k in before_weights)
    task = get_task("mnist1d", num_samples=2000)
    assert evaluate_accuracy(load_subnet(out), task) == pytest.approx(metrics["accuracy_after"])
    meta = read_arch_json(out)
    assert meta["weights"]["from"] == "trained" and meta["weights"]["from_scratch"] is True
    assert "mnist1d" in meta["onnx"]["checked_on"] and meta["onnx"]["max_abs_diff"] <= 1e-4
    assert "trained by `hwnas train` on `mnist1d`" in (out / "README.md").read_text()


def test_warmup_steps_set_the_schedule(lighthubert_subnet, cli):
    """A warm-up longer than the run keeps the learning rate near zero: the weights barely move."""
    out = lighthubert_subnet
    before = torch.load(out / "model.pt", weights_only=True)
    result = cli("train", out, "--task", "mnist1d", "-o", "num_samples=2000", "--epochs", 1, "--warmup-steps", 10**9)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["warmup_steps"] == 10**9
    after = torch.load(out / "model.pt", weights_only=True)
    moved = max(float((after[k] - before[k]).abs().max()) for k in before if before[k].is_floating_point())
    assert moved < 1e-4
    with pytest.raises(ExportError, match="--warmup-steps must be at least 0, got -1"):
        train_extracted(out, "mnist1d", 1, {"num_samples": 2000}, warmup_steps=-1, progress=False)


def test_fine_tune_on_a_user_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for label, name in enumerate(("dark", "bright")):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(12):
            pixels = np.clip(rng.normal(50 + 150 * label, 30, (20, 20, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / name / f"{i}.png")
    out = tmp_path / "md"
    extract_subnet(from_arch("min", "mobiledets", "tiny"), out)
    metrics = train_extracted(out, "image-folder", 2, {"path": str(tmp_path / "imgs"), "val_fraction": 0.25},
                              lr=1e-2, progress=False)
    assert metrics["task"]["options"]["input_shape"] == [3, 32, 32]  # implied by the subnet's space
    assert metrics["task"]["train_samples"] == 18 and metrics["task"]["val_samples"] == 6
    assert read_arch_json(out)["weights"]["previous"]["from"] == "initial"
    assert 0.0 <= metrics["accuracy_after"] <= 1.0 and len(metrics["history"]) == 2


def test_train_an_encoder_decoder_on_generated_reversal(tmp_path, cli):
    out = tmp_path / "mt"
    extract_subnet(from_arch("max", "mixed-attention", "tiny-mt"), out)
    result = cli("train", out, "--task", "reversal", "-o", "num_samples=4000", "--epochs", 2, "--from-scratch", "--lr", 5e-3)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"]["kind"] == "seq2seq" and metrics["task"]["options"]["length"] == 8  # implied by the preset
    assert metrics["accuracy_after"] > metrics["accuracy_before"] + 0.2  # measured: 0.065 → 0.36 token accuracy
    assert metrics["bleu_after"] > metrics["bleu_before"]  # its own translations, scored by sacrebleu
    onnx = read_arch_json(out)["onnx"]
    assert "reverse" in onnx["checked_on"] and onnx["max_abs_diff"] <= 1e-4


def test_train_an_encoder_decoder_on_user_parallel_text(tmp_path):
    words = "ein zwei drei vier fünf sechs".split()
    rng = np.random.default_rng(1)
    lines = [" ".join(rng.choice(words, 5)) for _ in range(40)]
    (tmp_path / "src.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "tgt.txt").write_text("\n".join(" ".join(reversed(line.split())) for line in lines) + "\n")
    out = tmp_path / "mt"
    extract_subnet(from_arch("min", "mixed-attention", "tiny-mt"), out)
    metrics = train_extracted(out, "parallel-text", 1, {"source": str(tmp_path / "src.txt"), "target": str(tmp_path / "tgt.txt")},
                              progress=False)
    assert metrics["task"]["kind"] == "seq2seq" and metrics["task"]["train_samples"] == 36
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] and set(vocab[4:]) == set(words)
    assert read_arch_json(out)["onnx"]["max_abs_diff"] <= 1e-4
    task = get_task("parallel-text", source=str(tmp_path / "src.txt"), target=str(tmp_path / "tgt.txt"))
    assert evaluate_accuracy(load_subnet(out), task) == pytest.approx(metrics["accuracy_after"])
    assert evaluate_bleu(load_subnet(out), task) == pytest.approx(metrics["bleu_after"])


def test_train_errors_are_one_line(lighthubert_subnet, cli, tmp_path):
    out = lighthubert_subnet
    _one_line_error(cli("train", out, "--task", "imagenet", "--epochs", 1), "unknown task 'imagenet'")
    _one_line_error(cli("train", out, "--task", "seq2seq", "--epochs", 1), "is a seq2seq task", "classification")
    _one_line_error(cli("train", tmp_path / "nothing", "--task", "mnist1d", "--epochs", 1), "not found")
    np.save(tmp_path / "x.npy", np.zeros((20, 40), np.float32))
    np.save(tmp_path / "y.npy", np.arange(20) % 12)
    _one_line_error(cli("train", out, "--task", "npy", "-o", f"path={tmp_path}", "--epochs", 1),
                    "12 classes but the subnet predicts 10")
    np.save(tmp_path / "x.npy", np.zeros((20, 7), np.float32))
    np.save(tmp_path / "y.npy", np.arange(20) % 2)
    _one_line_error(cli("train", out, "--task", "npy", "-o", f"path={tmp_path}", "--epochs", 1), "do not fit the subnet")
    _one_line_error(cli("train", out, "--task", "mnist1d", "-o", "oops", "--epochs", 1), "KEY=VALUE")
    assert not (out / "metrics.json").exists()
