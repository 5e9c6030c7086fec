"""Supernet training with the sandwich rule and in-place distillation (BigNAS / Once-for-All style).

Each step trains the largest subnet on the labels, then the smallest and `num_random` random subnets on the
largest subnet's detached predictions (KL), accumulating gradients for one optimizer step: the largest
subnet's accuracy pulls every subnet up, and the extremes bound the ones in between. With a teacher
(a trained supernet directory), every subnet is also distilled towards the teacher's logits and hidden
state. Detectors follow the same rule with the SSD loss on the labels and distillation on box and class
outputs (`hwnas.training.detection`). With `objective="masked-distillation"` there are no labels: every
subnet predicts a teacher's hidden states on masked frames (LightHuBERT's distillation stage,
`hwnas.training.masked_distillation`); `init_from` starts the task stage from its weights. A checkpoint is
written after every epoch and training resumes from it exactly: same weights, optimizer, RNG and
arch-sampler state, batches shuffled by (seed, epoch).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from hwnas.errors import TrainingError
from hwnas.search_spaces import Arch, SearchSpace, Supernet
from hwnas.tasks import Task
from hwnas.training import _loop
from hwnas.training._progress import TrainingProgress
from hwnas.training._sharing import sharing_subnets, sharing_summary
from hwnas.training._teacher import HiddenCapture, Teacher, load_teacher
from hwnas.training.checkpoint import (
    CHECKPOINT_FILE,
    META_FILE,
    CheckpointError,
    LoadedSupernet,
    build_meta,
    load_supernet,
    save_supernet,
)
from hwnas.training.detection import DetectionLoss, space_anchors
from hwnas.training.distributed import Ranks
from hwnas.training.evaluation import activate_for_scoring, subnet_accuracy, subnet_map
from hwnas.training.masked_distillation import MaskedDistillation, hidden_width, span_mask, supports_masked_distillation


@dataclass(frozen=True)
class TrainSettings:
    """How a supernet is trained; stored in `supernet.json` so a resumed run continues with the same ones."""

    epochs: int
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    seed: int = 0
    num_random: int = 1
    warmup_steps: int = 50
    grad_clip: float = 1.0
    teacher: str | None = None
    teacher_weight: float = 1.0
    hidden_weight: float = 1.0
    precision: str = "fp32"
    objective: str = "task"
    init_from: str | None = None

    def check(self) -> None:
        if self.precision not in PRECISIONS:
            raise TrainingError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.objective not in OBJECTIVES:
            raise TrainingError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.objective == MASKED and not self.teacher:
            raise TrainingError(f"objective {MASKED} distils a teacher's hidden states: give --teacher DIR")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "weight_decay", "grad_clip", "teacher_weight", "hidden_weight"):
            if not math.isfinite(getattr(self, name)):
                raise TrainingError(f"{name} must be a finite number, got {getattr(self, name)}")
        if self.lr <= 0:
            raise TrainingError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0 or self.grad_clip <= 0:
            raise TrainingError(f"weight_decay must be >= 0 and grad_clip > 0, got {self.weight_decay} and {self.grad_clip}")
        if self.num_random < 0 or self.warmup_steps < 0:
            raise TrainingError(f"num_random and warmup_steps must be >= 0, got {self.num_random} and {self.warmup_steps}")
        if not 0 <= self.seed < 2**32:
            raise TrainingError(f"seed must be in [0, 2**32), got {self.seed}")


#: Mixed precision (autocast) for the forward passes; fp16 also scales the loss (GPUs only).
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
#: `task`: the task's labels (sandwich rule); `masked-distillation`: LightHuBERT's distillation stage.
MASKED = "masked-distillation"
OBJECTIVES = ("task", MASKED)


def _sampler_state(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _restore_sampler(state: list[Any]) -> random.Random:
    rng = random.Random()
    rng.setstate((state[0], tuple(state[1]), state[2]))
    return rng


def _fingerprint(model: torch.nn.Module) -> float:
    """A number that differs between ranks whose starting weights differ (a checkpoint that is not shared)."""
    with torch.no_grad():
        return float(sum(p.double().sum().item() for p in model.parameters()))


def prepare_output(out: Path, resume: bool, force: bool) -> None:
    """Refuse to overwrite a trained supernet unless asked; `force` replaces only hwnas's own files."""
    if resume:
        if not (out / META_FILE).is_file():
            raise CheckpointError(f"--resume: {out / META_FILE}: missing; nothing to resume in {str(out)!r}")
        if not (out / CHECKPOINT_FILE).is_file():
            raise CheckpointError(f"--resume: {out / CHECKPOINT_FILE}: missing checkpoint")
        return
    if out.exists() and not out.is_dir():
        raise TrainingError(f"--out {str(out)!r} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise TrainingError(f"--out {str(out)!r} exists; pass --resume to continue it or --force to overwrite it")
        for name in (META_FILE, CHECKPOINT_FILE):
            (out / name).unlink(missing_ok=True)


class SupernetTrainer:
    """Runs sandwich epochs over a task and checkpoints into `out`; build with `start` or `resume`."""

    def __init__(self, space: SearchSpace, supernet: Supernet, task: Task, task_options: dict[str, Any],
                 settings: TrainSettings, out: Path, meta: dict[str, Any] | None = None,
                 state: dict[str, Any] | None = None, task_name: str | None = None, ranks: Ranks | None = None) -> None:
        settings.check()
        self.ranks = ranks or Ranks()
        if settings.precision == "fp16" and self.ranks.device.type != "cuda":
            raise TrainingError("--precision fp16 needs a GPU (--device cuda); on a CPU use bf16")
        self.space, self.supernet, self.task, self.settings, self.out = space, supernet.to(self.ranks.device), task, settings, out
        self.kind = _loop.task_kind(task)
        self.detection = DetectionLoss(space_anchors(space)).to(self.ranks.device) if self.kind == _loop.DETECTION else None
        self.meta = meta or build_meta(space, task_name or task.name, task_options, asdict(settings))
        self.meta["settings"] = asdict(settings)
        self.sampler = random.Random(settings.seed)
        self.calibration = _loop.calibration_batches(task, seed=settings.seed)
        self.teacher: Teacher | None = None
        if settings.teacher:
            self.teacher = load_teacher(settings.teacher, space.name, task, settings.hidden_weight)
            self.teacher.model.to(self.ranks.device)
        self.masked = self._masked_distillation(state)
        self._check_teacher()
        self.optimizer = torch.optim.AdamW(self.trained_parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        if state:
            self.optimizer.load_state_dict(state["optimizer"])
            self.sampler = _restore_sampler(state["sampler"])
            torch.set_rng_state(state["rng_torch"])
        self.steps = _loop.steps_per_epoch(task, settings.batch_size)
        self.scaler = torch.amp.GradScaler("cuda") if settings.precision == "fp16" else None
        self.ranks.agree({"space": space.name, "preset": space.preset, "space_options": self.meta["space_options"],
                          "task": self.meta["task"], **{f"settings.{k}": v for k, v in self.meta["settings"].items()},
                          "epochs_done": self.epochs_done, "weights": _fingerprint(self.supernet)})

    @property
    def epochs_done(self) -> int:
        return int(self.meta["epochs_done"])

    def _masked_distillation(self, state: dict[str, Any] | None) -> MaskedDistillation | None:
        if self.settings.objective != MASKED:
            return None
        if not supports_masked_distillation(self.supernet) or self.teacher is None:
            raise TrainingError(f"objective {MASKED} needs a speech encoder's per-frame hidden states; "
                                f"{self.space.name}/{self.space.preset} has none")
        masked = MaskedDistillation(hidden_width(self.supernet), hidden_width(self.teacher.model))
        if state and "distill_head" in state:
            masked.head.load_state_dict(state["distill_head"])
        masked.head.to(self.ranks.device)
        return masked

    @torch.no_grad()
    def _check_teacher(self) -> None:
        """A teacher whose outputs (or frames) do not line up with the supernet's is refused before training:
        a detector of another preset has other anchors, a speech encoder with another front end other frames."""
        if self.teacher is None:
            return
        x, y = self.task.x_train[:2].to(self.ranks.device), self.task.y_train[:2].to(self.ranks.device)
        was_training = self.supernet.training
        self.supernet.eval()
        try:
            self.supernet.set_active(self.space.max_arch())
            if self.masked is not None:
                theirs, ours = self.teacher.model.hidden_states(x).shape[:2], self.supernet.net.hidden_states(x).shape[:2]
            else:
                theirs, ours = (_loop.forward(m, self.kind, x, y)[0].shape for m in (self.teacher.model, self.supernet))
                if self.detection is None:  # classifiers: the same classes (widths may differ)
                    theirs, ours = theirs[-1:], ours[-1:]
        finally:
            self.supernet.train(was_training)
        if tuple(theirs) != tuple(ours):
            what = "frames" if self.masked is not None else "outputs"
            raise TrainingError(f"--teacher {self.teacher.path}: its {what} {tuple(theirs)} do not line up with "
                                f"{self.space.label}'s {tuple(ours)}")

    def trained_parameters(self) -> list[torch.nn.Parameter]:
        """The supernet's weights, and the distillation stage's prediction head when there is one."""
        head = list(self.masked.head.parameters()) if self.masked is not None else []
        return list(self.supernet.parameters()) + head

    # -- one step -------------------------------------------------------------------------------
    def _subnet_loss(self, arch: Arch, x: torch.Tensor, y: torch.Tensor, soft: torch.Tensor | None,
                     teacher_out: tuple[torch.Tensor, torch.Tensor | None] | None,
                     capture: HiddenCapture) -> tuple[torch.Tensor, torch.Tensor]:
        self.supernet.set_active(arch)
        with self._autocast():
            logits, targets, mask = _loop.forward(self.supernet, self.kind, x, y)
        logits = logits.float()
        if self.detection is not None:
            loss = self.detection(logits, targets) if soft is None else self.detection.distillation(logits, soft)
            if self.teacher is not None and teacher_out is not None:
                loss = loss + self.settings.teacher_weight * self.detection.distillation(logits, teacher_out[0].float())
            return loss, logits
        loss = _loop.cross_entropy(logits, targets, mask) if soft is None else _loop.distillation(logits, soft, mask)
        if self.teacher is not None and teacher_out is not None:
            loss = loss + self.settings.teacher_weight * self.teacher.loss(logits, capture.value, mask, *teacher_out)
        return loss, logits

    def _autocast(self) -> AbstractContextManager[object]:
        dtype = PRECISIONS[self.settings.precision]
        if dtype is None:
            return nullcontext()
        return torch.autocast(self.ranks.device.type, dtype=dtype)

    def _backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, x: torch.Tensor, y: torch.Tensor, global_step: int, total_steps: int) -> float:
        """One sandwich step on a global batch (this rank takes its slice); returns the largest subnet's loss
        over the whole batch."""
        s = self.settings
        _loop.set_lr(self.optimizer, _loop.cosine_lr(s.lr, global_step, total_steps, s.warmup_steps))
        self.optimizer.zero_grad(set_to_none=True)
        x, y, share = self.ranks.shard(x, y)
        archs = [self.space.min_arch()] + [self.space.sample(self.sampler) for _ in range(s.num_random)]
        self.supernet.train()
        if self.masked is not None:
            loss = self._masked_step(x, [self.space.max_arch(), *archs], share, global_step)
        else:
            loss = self._sandwich_step(x, y, archs, share)
        parameters = self.trained_parameters()
        (batch_loss,) = self.ranks.sum_gradients(parameters, loss.detach() * share)
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if s.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(parameters, s.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        return float(batch_loss)

    def _sandwich_step(self, x: torch.Tensor, y: torch.Tensor, archs: list[Arch], share: float) -> torch.Tensor:
        """Largest subnet on the labels, the others on its predictions (and a teacher's); returns its loss."""
        teacher_out = self.teacher.targets(x, y, self.kind) if self.teacher is not None else None
        capture = HiddenCapture(self.supernet)
        try:
            loss, logits = self._subnet_loss(self.space.max_arch(), x, y, None, teacher_out, capture)
            self._backward(loss * share)
            soft = logits.detach()
            for arch in archs:
                self._backward(self._subnet_loss(arch, x, y, soft, teacher_out, capture)[0] * share)
        finally:
            capture.close()
        return loss

    def _masked_step(self, x: torch.Tensor, archs: list[Arch], share: float, global_step: int) -> torch.Tensor:
        """Every subnet predicts the teacher's hidden states on the same masked frames; returns the largest's loss."""
        assert self.masked is not None and self.teacher is not None
        target = self.masked.targets(self.teacher.model, x)
        generator = torch.Generator().manual_seed(self.settings.seed * 1_000_003 + global_step)  # same masks on resume
        mask = span_mask(len(x), target.shape[1], generator).to(x.device)
        first = None
        for arch in archs:
            self.supernet.set_active(arch)
            with self._autocast():
                loss = self.masked.loss(self.supernet, x, mask, target)
            self._backward(loss * share)
            first = loss if first is None else first
        return first  # type: ignore[return-value]

    @torch.no_grad()
    def _masked_val_loss(self, arch: Arch) -> float:
        assert self.masked is not None and self.teacher is not None
        x = self.task.x_val[:256].to(self.ranks.device)
        target = self.masked.targets(self.teacher.model, x)
        mask = span_mask(len(x), target.shape[1], torch.Generator().manual_seed(self.settings.seed)).to(x.device)
        activate_for_scoring(self.supernet, arch, self.calibration)
        was_training = self.supernet.training
        self.supernet.eval()
        try:
            return float(self.masked.loss(self.supernet, x, mask, target))
        finally:
            self.supernet.train(was_training)

    # -- epochs ---------------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Validation accuracy (detectors: mAP and mAP@.5) of the smallest and largest subnets (BatchNorm
        recalibrated for each); the largest goes last, so the stored BatchNorm statistics are the largest subnet's."""
        if self.masked is not None:  # the distillation stage has no task head to score: its validation loss
            low_loss = self._masked_val_loss(self.space.min_arch())
            return {"max_distill": self._masked_val_loss(self.space.max_arch()), "min_distill": low_loss}
        low, high = self._scores(self.space.min_arch()), self._scores(self.space.max_arch())
        return {f"{side}_{key}": value for side, scores in (("max", high), ("min", low)) for key, value in scores.items()}

    def _scores(self, arch: Arch) -> dict[str, float]:
        """`arch`'s validation scores on the supernet's weights: `map` and `map50` for detectors, else `acc`."""
        if self.detection is not None:
            return subnet_map(self.supernet, arch, self.task, self.calibration, self.detection.anchors)
        return {"acc": subnet_accuracy(self.supernet, arch, self.task, self.calibration)}

    def _random_scores(self) -> tuple[str, list[float]]:
        """The sharing check's random subnets, scored (before the epoch's own evaluation, which ends on the
        largest subnet so that its BatchNorm statistics are the ones stored)."""
        metric = "map" if self.detection is not None else "acc"
        return metric, [self._scores(arch)[metric] for arch in sharing_subnets(self.space, self.settings.seed)]

    def run(self, stop_after: int | None = None, progress: bool = True,
            on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Train to `settings.epochs` (at most `stop_after` more epochs now), checkpointing each epoch.

        Returns the updated `supernet.json` content.
        """
        s, total_steps = self.settings, self.settings.epochs * self.steps
        todo = s.epochs - self.epochs_done
        if stop_after is not None:
            todo = min(todo, stop_after)
        with TrainingProgress(total_steps, self.epochs_done * self.steps, enabled=progress and self.ranks.is_main) as bar:
            for _ in range(max(0, todo)):
                epoch = self.epochs_done
                start, losses = time.perf_counter(), []
                for i, (x, y) in enumerate(_loop.epoch_batches(self.task, s.batch_size, s.seed, epoch)):
                    if len(x) < self.ranks.world_size:  # an epoch's last, tiny batch: not every rank would get a sample
                        continue
                    losses.append(self.step(x, y, epoch * self.steps + i, total_steps))
                    bar.advance(epoch + 1, s.epochs, loss=losses[-1])
                seconds = time.perf_counter() - start
                last = epoch + 1 == s.epochs and self.masked is None
                metric, randoms = self._random_scores() if last else ("", [])
                record = {"epoch": epoch + 1, "loss": sum(losses) / len(losses), "seconds": seconds, **self.evaluate()}
                if last:
                    self.meta["sharing"] = sharing_summary(metric, randoms, record[f"max_{metric}"])
                bar.epoch_done(record)
                self.meta["metrics"].append(record)
                self.meta["epochs_done"] = epoch + 1
                self.save()
                if on_epoch is not None:
                    on_epoch(record)
        self.supernet.eval()
        return self.meta

    def save(self) -> None:
        """Rank 0 writes the checkpoint; the other ranks wait for it (a resume then reads a whole one)."""
        if self.ranks.is_main:
            state = {"optimizer": self.optimizer.state_dict(), "sampler": _sampler_state(self.sampler),
                     "rng_torch": torch.get_rng_state(), "epoch": self.epochs_done}
            if self.masked is not None:
                state["distill_head"] = self.masked.head.state_dict()
            save_supernet(self.out, self.supernet, self.meta, state)
        self.ranks.barrier()


def initialise_from(supernet: Supernet, directory: str | Path, space: SearchSpace) -> int:
    """Start from another trained supernet of the same space and preset (LightHuBERT's second stage starts
    from the distillation stage): every weight of the same name and shape is copied; a classifier sized
    for another task keeps its fresh weights. Returns how many tensors were copied."""
    try:
        source = load_supernet(directory, space=space.name, preset=space.preset)
    except CheckpointError as exc:
        raise CheckpointError(f"--init-from: {exc}") from None
    own = supernet.state_dict()
    copied = {k: v for k, v in source.supernet.state_dict().items() if k in own and own[k].shape == v.shape}
    if not copied:
        raise CheckpointError(f"--init-from {str(directory)!r}: no weight of it fits this supernet")
    supernet.load_state_dict(copied, strict=False)
    return len(copied)


def train_supernet(space: SearchSpace, task: Task, settings: TrainSettings, out: str | Path, *,
                   task_name: str | None = None, task_options: dict[str, Any] | None = None, resume: bool = False,
                   force: bool = False, stop_after: int | None = None, progress: bool = True,
                   ranks: Ranks | None = None) -> LoadedSupernet:
    """Train (or, with `resume`, continue) a supernet of `space` on `task` into directory `out`.

    `task_name` and `task_options` are stored so the task can be rebuilt (`get_task(task_name, **options)`);
    `task_name` defaults to `task.name` (give the registry name when they differ, e.g. `seq2seq`).

    On resume, the stored settings are used (a larger `settings.epochs` extends the run) and the space and
    preset must match the stored ones. Raises `TrainingError`/`CheckpointError` (one line) for an existing
    `out` without `force`/`resume`, a missing or mismatched checkpoint, or bad settings.

    `ranks` (from `hwnas.training.distributed.ranks_from_environment`) makes this process one rank of a
    data-parallel run: every rank calls this with the same arguments; rank 0 writes `out`.
    """
    out = Path(out)
    prepare_output(out, resume, force)
    if resume:
        loaded = load_supernet(out, space=space.name, preset=space.preset)
        if task_name is not None and task_name != loaded.task_name:
            raise CheckpointError(f"{out / META_FILE}: task is {loaded.task_name!r}, expected {task_name!r}")
        known = {f.name for f in fields(TrainSettings)}
        try:
            stored = TrainSettings(**{k: v for k, v in loaded.meta["settings"].items() if k in known})
        except TypeError as exc:
            raise CheckpointError(f"{out / META_FILE}: field 'settings' is incomplete ({exc})") from None
        if settings.epochs < stored.epochs:
            settings = stored
        else:
            settings = TrainSettings(**{**asdict(stored), "epochs": settings.epochs})
        trainer = SupernetTrainer(loaded.space, loaded.supernet, task, loaded.task_options, settings, out,
                                  meta=loaded.meta, state=loaded.state, ranks=ranks)
    else:
        torch.manual_seed(settings.seed)
        supernet = space.build_supernet()
        if settings.init_from:
            initialise_from(supernet, settings.init_from, space)
        trainer = SupernetTrainer(space, supernet, task, dict(task_options or {}), settings, out,
                                  task_name=task_name, ranks=ranks)
    meta = trainer.run(stop_after=stop_after, progress=progress)
    return LoadedSupernet(trainer.space, trainer.supernet.eval(), meta, out)
