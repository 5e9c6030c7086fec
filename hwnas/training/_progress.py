"""The training progress bar: steps, epoch, loss, and the largest/smallest subnets' validation accuracy."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


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
        if "max_acc" in record:
            acc = f"max acc {record['max_acc']:.3f}  min acc {record['min_acc']:.3f}"
        else:
            acc = f"val acc {record['val_acc']:.3f}"
        self._bar.update(self._task, acc=acc)
        if self.enabled:
            self._bar.console.log(f"epoch {record['epoch']}: loss {record['loss']:.4f}  {acc}  ({record['seconds']:.1f} s)")
