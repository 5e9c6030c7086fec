"""Data-parallel supernet training under torchrun: two gloo ranks on this CPU step like one process on the
same global batch, resume under torchrun, and refuse ranks started with different arguments."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hwnas.training.distributed import Ranks
from tests.servers import free_port

# mixed-attention has no BatchNorm; 400 MNIST-1D samples leave 320 to train on: one step per epoch at batch 320.
# No warm-up and no clipping, so the step follows the gradient's size (Adam's first step would hide a scale).
ARGS = [
    "train-supernet",
    "--space",
    "mixed-attention",
    "--preset",
    "tiny",
    "--task",
    "mnist1d",
    "-o",
    "num_samples=400",
    "--batch-size",
    "320",
    "--warmup-steps",
    "0",
    "--grad-clip",
    "1e9",
    "--quiet",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _torchrun(*args: str, ranks: int = 2) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(ranks),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "hwnas",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=600)


def _single(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwnas", *args], capture_output=True, text=True, env=ENV, timeout=600)


def _checkpoint(directory: Path) -> dict:
    return torch.load(directory / "checkpoint.pt", weights_only=True)


def _relative(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    flat_a, flat_b = torch.cat([t.flatten().double() for t in a]), torch.cat([t.flatten().double() for t in b])
    return float((flat_a - flat_b).norm() / flat_a.norm())


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    """The same first epoch (one step) trained by one process and by two gloo ranks."""
    root = tmp_path_factory.mktemp("ddp")
    single = _single(*ARGS, "--epochs", "1", "--out", str(root / "single"))
    assert single.returncode == 0, single.stderr
    ranks = _torchrun(*ARGS, "--epochs", "1", "--out", str(root / "ranks"))
    assert ranks.returncode == 0, ranks.stderr
    return root


def test_two_ranks_take_the_step_one_process_takes_on_the_same_global_batch(one_epoch):
    single, ranks = _checkpoint(one_epoch / "single"), _checkpoint(one_epoch / "ranks")
    assert single["model"].keys() == ranks["model"].keys()
    for name, weight in single["model"].items():
        torch.testing.assert_close(ranks["model"][name], weight, rtol=1e-5, atol=1e-5, msg=name)
    ids = sorted(single["optimizer"]["state"])
    assert ids == sorted(ranks["optimizer"]["state"])
    # Adam's first moment is 0.1 × the step's gradient: the all-reduced gradient is the global batch's, in size too
    # (a gradient twice too large, or one rank's alone, would be off by about 1.0 here).
    for moment in ("exp_avg", "exp_avg_sq"):
        error = _relative(
            [single["optimizer"]["state"][i][moment] for i in ids], [ranks["optimizer"]["state"][i][moment] for i in ids]
        )
        assert error < 1e-4, (moment, error)
    assert not (one_epoch / "ranks" / "checkpoint.pt.tmp").exists()


def test_resume_under_torchrun_continues_exactly(one_epoch, tmp_path):
    straight = _torchrun(*ARGS, "--epochs", "2", "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    shutil.copytree(one_epoch / "ranks", tmp_path / "resumed")
    resumed = _torchrun(*ARGS, "--epochs", "2", "--resume", "--out", str(tmp_path / "resumed"))
    assert resumed.returncode == 0, resumed.stderr
    a, b = _checkpoint(tmp_path / "straight"), _checkpoint(tmp_path / "resumed")
    for name, weight in a["model"].items():
        torch.testing.assert_close(b["model"][name], weight, rtol=0, atol=1e-6, msg=name)


def test_ranks_started_with_different_arguments_are_refused_in_one_line(tmp_path):
    port = str(free_port())
    processes = []
    for rank, lr in enumerate(("0.002", "0.001")):
        env = {
            **ENV,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "hwnas", *ARGS, "--epochs", "1", "--lr", lr, "--out", str(tmp_path / f"out{rank}")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "ranks disagree" in lines[0] and "settings.lr" in lines[0], err
    assert not (tmp_path / "out0" / "checkpoint.pt").exists()


def test_fp16_without_a_gpu_is_one_line(tmp_path):
    out = _single(*ARGS, "--epochs", "1", "--precision", "fp16", "--out", str(tmp_path / "x"))
    assert out.returncode == 2 and "bf16" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_bf16_autocast_trains_on_the_cpu(tmp_path):
    out = _single(*ARGS, "--epochs", "1", "--precision", "bf16", "--out", str(tmp_path / "x"))
    assert out.returncode == 0, out.stderr
    assert '"precision": "bf16"' in (tmp_path / "x" / "supernet.json").read_text()


def test_a_rank_takes_its_slice_of_the_global_batch():
    x, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    slices = [Ranks(rank=r, world_size=3).shard(x, y) for r in range(3)]
    assert torch.equal(torch.cat([s[1] for s in slices]), y)
    assert sum(s[2] for s in slices) == pytest.approx(1.0)
    assert Ranks().shard(x, y)[2] == 1.0
