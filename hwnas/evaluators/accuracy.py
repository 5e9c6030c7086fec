"""Inherited accuracy: a subnet's validation accuracy with its trained supernet's weights, no training.

The supernet comes from `hwnas train-supernet` (a directory). For spaces with BatchNorm, each subnet's
statistics are re-estimated on a fixed set of training inputs before scoring (shared statistics fit no
subnet exactly), so a score depends only on the arch: results are cached by arch id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hwnas.errors import TaskMismatchError
from hwnas.evaluators.base import Evaluator
from hwnas.search_spaces import Arch, SearchSpace
from hwnas.tasks import get_task
from hwnas.training import LoadedSupernet, load_supernet, subnet_accuracy
from hwnas.training._loop import calibration_batches
from hwnas.training.checkpoint import check_identity
from hwnas.training.detection import space_anchors
from hwnas.training.evaluation import subnet_map


class InheritedAccuracyEvaluator(Evaluator):
    """`accuracy`: top-1 (token accuracy for seq2seq) on the task's validation split, as a fraction in [0, 1].

    `supernet` is a trained supernet directory or an already loaded one; it must be of `space`'s name and
    preset (`CheckpointError` otherwise). `task` defaults to the one the supernet was trained on.
    """

    metrics = ("accuracy",)
    cheap = False
    #: Task kinds this evaluator scores; another kind is refused when it is built.
    kinds: tuple[str, ...] = ("classification", "seq2seq")

    def __init__(self, space: SearchSpace, supernet: str | Path | LoadedSupernet, task: Any | None = None,
                 split: str = "val", batch_size: int = 256, calibration_batches_n: int = 8,
                 calibration_batch_size: int = 64, seed: int = 0) -> None:
        super().__init__()
        if isinstance(supernet, LoadedSupernet):
            check_identity(supernet.meta, supernet.path, space.name, space.preset)
            self.loaded = supernet
        else:
            self.loaded = load_supernet(supernet, space=space.name, preset=space.preset)
        if task is None:
            task = get_task(self.loaded.task_name, **self.loaded.task_options)
        self.space, self.task, self.split, self.batch_size = self.loaded.space, task, split, batch_size
        kind = getattr(task, "kind", "classification")
        if kind not in self.kinds:
            hint = " (score detectors by map / map50)" if kind == "detection" else ""
            raise TaskMismatchError(f"metric(s) {', '.join(self.metrics)} cannot score task {task.name!r}, a {kind} task{hint}")
        self.calibration = calibration_batches(task, calibration_batches_n, calibration_batch_size, seed)

    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        supernet = self.loaded.supernet.eval()
        return [{"accuracy": subnet_accuracy(supernet, self.space.validate(arch), self.task, self.calibration,
                                             self.split, self.batch_size)} for arch in archs]


class InheritedBleuEvaluator(InheritedAccuracyEvaluator):
    """`bleu`: corpus BLEU (sacrebleu, 0-100) of a seq2seq subnet's own translations of the validation split,
    on its supernet's weights: greedy decoding, or beam search with `beam` > 1."""

    metrics = ("bleu",)
    kinds = ("seq2seq",)

    def __init__(self, space: SearchSpace, supernet: str | Path | LoadedSupernet, task: Any | None = None,
                 split: str = "val", beam: int = 1, seed: int = 0) -> None:
        super().__init__(space, supernet, task, split, seed=seed)
        if beam < 1:
            raise TaskMismatchError(f"bleu_beam must be at least 1, got {beam}")
        self.beam = beam

    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        from hwnas.training.decoding import evaluate_bleu  # sacrebleu: only BLEU needs it

        supernet = self.loaded.supernet.eval()
        out = []
        for arch in archs:
            supernet.set_active(self.space.validate(arch))  # seq2seq spaces have no BatchNorm to recalibrate
            out.append({"bleu": evaluate_bleu(supernet, self.task, self.split, beam=self.beam)})
        return out


class InheritedMapEvaluator(InheritedAccuracyEvaluator):
    """`map` (COCO mAP@[.5:.95]) and `map50` (mAP@.5) of a detector subnet on its supernet's weights, as
    fractions in [0, 1], BatchNorm re-estimated per subnet (pycocotools' COCOeval on the validation split)."""

    metrics = ("map", "map50")
    kinds = ("detection",)

    def __init__(self, space: SearchSpace, supernet: str | Path | LoadedSupernet, task: Any | None = None,
                 split: str = "val", seed: int = 0) -> None:
        super().__init__(space, supernet, task, split, seed=seed)
        self.anchors = space_anchors(self.space)

    def _evaluate(self, archs: Sequence[Arch]) -> list[dict[str, float]]:
        supernet = self.loaded.supernet.eval()
        return [subnet_map(supernet, self.space.validate(arch), self.task, self.calibration, self.anchors, self.split,
                           self.batch_size) for arch in archs]
