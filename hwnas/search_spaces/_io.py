"""`SpaceIO`: what a space's networks take and give, typed, so other packages never read preset dicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskKind = Literal["classification", "seq2seq", "detection"]


@dataclass(frozen=True)
class SpaceIO:
    """The inputs and outputs of one preset's networks.

    `input_shape` is per sample: (C, H, W) images, (L,) signals or waveforms, (source, target) token
    lengths for seq2seq. `num_classes` is None for an encoder without a head (its hidden states are the
    output) and for seq2seq, whose outputs are `vocab_size` token logits. Detectors' `num_classes` excludes
    the background slot.
    """

    task_kind: TaskKind
    input_shape: tuple[int, ...]
    num_classes: int | None = None
    vocab_size: int | None = None
    padding_idx: int | None = None

    @property
    def is_seq2seq(self) -> bool:
        return self.task_kind == "seq2seq"

    @property
    def is_detection(self) -> bool:
        return self.task_kind == "detection"

    @property
    def outputs(self) -> int | None:
        """Width of the output's last dimension that a task must match: vocabulary or classes."""
        return self.vocab_size if self.is_seq2seq else self.num_classes

    def shape_options(self) -> dict[str, int]:
        """The options a space was built with that change its weights' shapes (`get_space(..., **options)`)."""
        return {key: value for key, value in (("num_classes", self.num_classes), ("vocab_size", self.vocab_size))
                if value is not None}
