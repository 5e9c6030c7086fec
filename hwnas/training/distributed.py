"""Data-parallel supernet training across processes and machines (`torchrun … -m hwnas train-supernet`).

Why not `DistributedDataParallel`: a sandwich step runs several subnets of one supernet, each leaving a
different set of weights without a gradient, and accumulates their gradients before one optimizer step. DDP's
per-backward bucket reduction assumes one forward per step (or `find_unused_parameters` and `no_sync`
tricks). Here every rank runs the same subnets (the arch sampler is seeded alike), so after the step's
backward passes the same weights hold gradients on every rank; they are summed with one `all_reduce` over a
flat buffer, which is what DDP's reducer does, once per step. Each rank gets a slice of the global batch
(`--batch-size` is the global batch), and its losses are weighted by its share, so the summed gradient is
the gradient of the global batch's mean loss: a step on N processes equals a step of one process on the
same batch, up to float summation order.

BatchNorm is the one difference: in training mode each rank normalises with its own slice's statistics (as
DDP does without SyncBatchNorm; the elastic BatchNorm slices its channels, which SyncBatchNorm cannot).
Running statistics are re-estimated per subnet before every evaluation, so evaluation does not depend on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from hwnas.errors import ClusterError, TrainingError

#: torchrun's environment: a process is one rank of a distributed run when WORLD_SIZE > 1.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
#: How long ranks wait for each other to join (a rank that never starts ends the run with one line).
JOIN_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a (possibly one-process) training run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the checkpoint and `supernet.json` and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
        """This rank's slice of a global batch, on its device, and the slice's share of the batch's samples
        (a rank's mean loss times its share, summed over ranks, is the batch's mean loss; for seq2seq the
        mean is over a rank's tokens, so it is exact only when ranks hold as many target tokens)."""
        total = len(x)
        if self.distributed:
            x, y = x.tensor_split(self.world_size)[self.rank], y.tensor_split(self.world_size)[self.rank]
        return x.to(self.device), y.to(self.device), len(x) / total

    def sum_gradients(self, parameters: list[torch.nn.Parameter], *extra: torch.Tensor) -> list[torch.Tensor]:
        """Sum the gradients of `parameters` (those that have one) and the `extra` scalars over all ranks.

        Every rank must hold gradients on the same parameters (same subnets); the count is checked.
        Returns the summed `extra` values.
        """
        if not self.distributed:
            return list(extra)
        grads = [p.grad for p in parameters if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads] + [e.reshape(1).to(self.device, torch.float32) for e in extra]
                         + [torch.tensor([float(len(grads))], device=self.device)])
        dist.all_reduce(flat)
        if int(round(flat[-1].item())) != len(grads) * self.world_size:
            raise ClusterError(f"rank {self.rank}: ranks trained different subnets this step "
                               f"({len(grads)} weights with gradients here); they must share space, preset and seed")
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
        return [flat[offset + i] for i in range(len(extra))]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def agree(self, identity: dict[str, Any]) -> None:
        """Refuse (one line, on every rank) a run whose ranks were started with different settings."""
        if not self.distributed:
            return
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, identity)
        for rank, other in enumerate(gathered):
            if other != identity:
                differ = sorted(k for k in set(identity) | set(other) if identity.get(k) != other.get(k))
                shown = ", ".join(f"{k}: rank 0 has {gathered[0].get(k)!r}, rank {rank} has {other.get(k)!r}"
                                  for k in differ)
                raise ClusterError(f"torchrun ranks disagree ({shown}); start every rank with the same arguments")


def ranks_from_environment(device: str = "cpu") -> Ranks:
    """This process's ranks from torchrun's variables (one process when they are absent), the process group
    started: gloo on CPU, NCCL on CUDA (`device="cuda"` uses GPU LOCAL_RANK)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device not in ("cpu", "cuda"):
        raise TrainingError(f"--device must be cpu or cuda, got {device!r}")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError("--device cuda: no CUDA GPU is visible to this process")
        if local >= torch.cuda.device_count():
            raise ClusterError(f"rank {rank}: LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s) here")
        torch.cuda.set_device(local)
    where = torch.device(f"cuda:{local}") if device == "cuda" else torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        missing = [v for v in TORCHRUN_VARIABLES if v not in os.environ]
        if missing:
            raise ClusterError(f"WORLD_SIZE={world} but {', '.join(missing)} not set; start the ranks with torchrun")
        try:
            dist.init_process_group("nccl" if device == "cuda" else "gloo", timeout=JOIN_TIMEOUT,
                                    device_id=where if device == "cuda" else None)
        except Exception as exc:  # noqa: BLE001 - the rendezvous' errors, in one line
            raise ClusterError(f"rank {rank}: cannot join the process group at "
                               f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}: {str(exc).splitlines()[0]}") from None
    return Ranks(rank, world, local, where)


def end(ranks: Ranks) -> None:
    """Leave the process group (every rank, after the last checkpoint)."""
    if ranks.distributed and dist.is_initialized():
        dist.destroy_process_group()
