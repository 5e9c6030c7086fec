"""The training progress bar: steps, epoch, loss, and the largest/smallest subnets' validation accuracy (mAP)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

#: What a supernet epoch's record scores its largest and smallest subnets by (`max_<key>`, `min_<key>`).
SCORES = {"map": "mAP", "acc": "acc", "distill": "distill loss"}


def epoch_score(record: dict[str, Any]) -> str | None:
    """`map`, `acc` or `distill`: the score a supernet epoch's record holds (None for a subnet's record)."""
    return next((key for key in SCORES if f"max_{key}" in record), None)


class TrainingProgress:
    """A rich bar over all steps of a run (starting where a resumed run left off); silent when disabled."""

    def __init__(self, total_steps: int, done_steps: int = 0, enabled: bool = True, label: str = "epoch") -> None:
        self.enabled, self.label = enabled, label
        self._bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), TextColumn("loss {task.fields[loss]}  {task.fields[acc]}"), disable=not enabled,
        )
        self._task = self._bar.add_task(f"{label} -", total=total_steps, completed=done_steps, loss="-", acc="")

    def __enter__(self) -> TrainingProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._bar.__exit__(kind, exc, tb)

    def advance(self, epoch: int, epochs: int, loss: float) -> None:
        self._bar.update(self._task, advance=1, description=f"{self.label} {epoch}/{epochs}", loss=f"{loss:.3f}")

    def epoch_done(self, record: dict[str, Any]) -> None:
        score = epoch_score(record)
        if score is not None:
            name = SCORES[score]
            acc = f"max {name} {record[f'max_{score}']:.3f}  min {name} {record[f'min_{score}']:.3f}"
        elif "val_map" in record:
            acc = f"val mAP {record['val_map']:.3f}"
        else:
            acc = f"val acc {record['val_acc']:.3f}"
        self._bar.update(self._task, acc=acc)
        if self.enabled:
            self._bar.console.log(f"epoch {record['epoch']}: loss {record['loss']:.4f}  {acc}  ({record['seconds']:.1f} s)")
