"""Samples per second of supernet training on 1 process vs N data-parallel processes (torchrun, gloo, one
thread each), goal: 2 processes ≥ 1.6× one, at each global batch size asked for (each process gets its share:
a tiny model's step does not halve with half the batch, so small per-process batches scale less).

Each run is a real `hwnas train-supernet` (under `torchrun --nproc_per_node N` for N > 1); the rate comes from
the training seconds `supernet.json` records per epoch (steps only: no start-up, no evaluation). Runs of 1 and
N processes alternate, `--repeats` times, and medians are compared, so machine noise hits both alike. Also
checks that the runs' losses agree (the same global batches, the same subnets). Prints a table and, with
--json, writes benchmarks/results/ddp_scaling.json.

    python benchmarks/ddp_scaling.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train(processes: int, batch: int, out: Path, args: argparse.Namespace) -> dict:
    """One training run; its supernet.json."""
    hwnas = ["-m", "hwnas", "train-supernet", "--space", args.space, "--preset", args.preset, "--task", args.task,
             "-o", f"num_samples={args.samples}", "--epochs", str(args.epochs), "--batch-size", str(batch),
             "--num-random", "1", "--quiet", "--out", str(out)]
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_addr", "127.0.0.1",
                     "--master_port", str(free_port())]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(launcher + hwnas, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{processes} process(es) failed:\n{done.stderr[-2000:]}")
    return json.loads((out / "supernet.json").read_text())


def samples_per_s(meta: dict, train_samples: int) -> float:
    seconds = sum(m["seconds"] for m in meta["metrics"])
    return train_samples * len(meta["metrics"]) / seconds


def scaling(batch: int, args: argparse.Namespace, scratch: Path) -> dict:
    """Alternating runs of 1 and N processes at one global batch size; their medians and ratio."""
    train_samples = int(args.samples * 0.8)
    rates: dict[int, list[float]] = {1: [], args.processes: []}
    losses: dict[int, list[float]] = {}
    for repeat in range(args.repeats):
        for processes in (1, args.processes):
            meta = train(processes, batch, scratch / f"{batch}-{processes}-{repeat}", args)
            rates[processes].append(samples_per_s(meta, train_samples))
            losses[processes] = [m["loss"] for m in meta["metrics"]]
            print(f"batch {batch}, repeat {repeat + 1}: {processes} process(es): {rates[processes][-1]:.0f} samples/s",
                  flush=True)
    one, many = statistics.median(rates[1]), statistics.median(rates[args.processes])
    gap = max(abs(a - b) for a, b in zip(losses[1], losses[args.processes]))
    print(f"{args.space}/{args.preset}, global batch {batch}: 1 process {one:.0f} samples/s, {args.processes} processes "
          f"{many:.0f} samples/s → {many / one:.2f}× (goal ≥ 1.6×); largest epoch-loss gap {gap:.2e}")
    return {"global_batch": batch, "per_process_batch": batch // args.processes,
            "samples_per_s": {"1": rates[1], str(args.processes): rates[args.processes]},
            "median_samples_per_s": {"1": one, str(args.processes): many}, "speedup": many / one,
            "meets_goal": many / one >= 1.6, "max_epoch_loss_gap": gap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mixed-attention")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--samples", type=int, default=6400, help="task samples (80 %% train)")
    parser.add_argument("--batch-sizes", default="256,512", help="global batch sizes, comma-separated")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hwnas-ddp-") as scratch:
        runs = [scaling(int(b), args, Path(scratch)) for b in args.batch_sizes.split(",")]
    result = {
        "benchmark": "ddp_scaling", "space": args.space, "preset": args.preset, "task": args.task,
        "train_samples": int(args.samples * 0.8), "epochs": args.epochs, "threads_per_process": 1,
        "processes": args.processes, "goal_speedup": 1.6, "runs": runs,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
    }
    if args.json:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "ddp_scaling.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
