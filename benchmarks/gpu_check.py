"""What a lent GPU machine should check, in one run of under 10 minutes; writes JSON.

1. A `local-gpu` latency profile measured for every tiny preset (`hwnas profile measure --device local-gpu`),
   then validated on fresh subnets (`hwnas profile validate`): share within ±10 %, Spearman.
2. Supernet training on the GPU: one epoch with `--device cuda` in fp32 and bf16 (and fp16 with its loss
   scaler), and, when the machine has two GPUs or more, the same epoch on two NCCL ranks under torchrun,
   whose loss must match the one-GPU run's.

Every step has its own time limit, so one that hangs costs its limit, not the machine's whole lease. On a
machine without a GPU it says so and writes `{"gpu": false}`.

    python benchmarks/gpu_check.py --json [--out DIR]   # profiles and results under DIR (default benchmarks/results/gpu_check)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

TINY_PRESETS = [("mixed-attention", "tiny"), ("emov2", "tiny"), ("mobiledets", "tiny"), ("lighthubert", "tiny"),
                ("ofa-mbv3", "tiny")]
TRAIN = ["train-supernet", "--space", "mixed-attention", "--preset", "tiny", "--task", "mnist1d", "-o", "num_samples=4000",
         "--epochs", "1", "--batch-size", "256", "--quiet", "--device", "cuda"]
#: A detector on the GPU: anchors, matching, focal loss and mAP with CUDA outputs.
DETECTION = ["train-supernet", "--space", "mobiledets", "--preset", "tiny-detection", "--task", "shapes-detection",
             "-o", "num_samples=512", "--epochs", "1", "--batch-size", "64", "--quiet", "--device", "cuda"]


def hwnas(*args: str, limit_s: int, launcher: list[str] | None = None) -> dict:
    """Run one `hwnas` command with a time limit; its exit code, seconds, and JSON output when it printed some."""
    command = (launcher or [sys.executable]) + ["-m", "hwnas", *args]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        return {"command": " ".join(args), "rc": None, "error": f"over its {limit_s} s limit", "seconds": limit_s}
    record: dict = {"command": " ".join(args), "rc": done.returncode, "seconds": round(time.perf_counter() - start, 1)}
    if done.returncode != 0:
        record["error"] = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
    try:
        record["json"] = json.loads(done.stdout)
    except ValueError:
        pass
    return record


def profiles(out: Path, n: int, repeats: int) -> list[dict]:
    results = []
    for space, preset in TINY_PRESETS:
        directory = out / "profiles" / f"local-gpu-{space}-{preset}"
        measured = hwnas("profile", "measure", "--device", "local-gpu", "--space", space, "--preset", preset, "-n", str(n),
                         "--repeats", str(repeats), "--out", str(directory), "--json", limit_s=150)
        entry = {"space": space, "preset": preset, "measure": measured}
        if measured["rc"] == 0:
            entry["validate"] = hwnas("profile", "validate", "--profile", str(directory), "--space", space, "--preset", preset,
                                      "-n", "20", "--repeats", str(repeats), "--json", limit_s=90)
        results.append(entry)
        validated = f", validate rc {entry['validate']['rc']}" if "validate" in entry else ""
        print(f"{space}/{preset}: measure rc {measured['rc']}{validated}", flush=True)
    return results


def _loss(directory: Path) -> float | None:
    meta = directory / "supernet.json"
    return json.loads(meta.read_text())["metrics"][-1]["loss"] if meta.exists() else None


def training(out: Path) -> dict:
    runs: dict = {}
    for precision in ("fp32", "bf16", "fp16"):
        directory = out / "train" / precision
        record = hwnas(*TRAIN, "--precision", precision, "--force", "--out", str(directory), limit_s=120)
        record["loss"] = _loss(directory)
        runs[precision] = record
    directory = out / "train" / "detection"
    runs["detection"] = hwnas(*DETECTION, "--force", "--out", str(directory), limit_s=180)
    runs["detection"]["loss"] = _loss(directory)
    if torch.cuda.device_count() >= 2:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        directory = out / "train" / "nccl-2"
        launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port)]
        record = hwnas(*TRAIN, "--precision", "fp32", "--force", "--out", str(directory), limit_s=180, launcher=launcher)
        record["loss"] = _loss(directory)
        if record["loss"] is not None and runs["fp32"]["loss"] is not None:
            record["loss_gap_vs_one_gpu"] = abs(record["loss"] - runs["fp32"]["loss"])
        runs["nccl-2"] = record
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "gpu_check")
    parser.add_argument("-n", type=int, default=60, help="subnets measured per profile")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result: dict = {"benchmark": "gpu_check", "gpu": torch.cuda.is_available()}
    if result["gpu"]:
        result["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        result["torch"], result["cuda"] = torch.__version__, torch.version.cuda
        os.environ.setdefault("OMP_NUM_THREADS", "4")
        start = time.perf_counter()
        result["profiles"] = profiles(args.out, args.n, args.repeats)
        result["training"] = training(args.out)
        result["seconds"] = round(time.perf_counter() - start, 1)
        failed = [e["space"] for e in result["profiles"] if e["measure"]["rc"] != 0 or e.get("validate", {}).get("rc") != 0]
        failed += [name for name, run in result["training"].items() if run["rc"] != 0]
        result["failed"] = failed
        print(f"{len(result['gpus'])} GPU(s) ({result['gpus'][0]}): {len(failed)} failed step(s) {failed} "
              f"in {result['seconds']:.0f} s")
    else:
        print("no CUDA GPU here (torch.cuda.is_available() is False): nothing to check")
    if args.json:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
