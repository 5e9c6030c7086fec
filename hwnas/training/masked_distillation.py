"""LightHuBERT's distillation stage: subnets predict a teacher's hidden states on masked frames.

The teacher (a trained supernet's largest subnet, or an extracted subnet) hears the whole clip; the student
subnet hears it with spans of frames replaced by the mask embedding, and a prediction head (a bias-free
linear layer from the subnet's width to the teacher's, elastic in its input as LightHuBERT's layer heads
are) maps the student's last hidden states to the teacher's. The loss is the mean squared error over the
masked frames only: the student must infer what it did not hear from the context. Spans follow HuBERT's
masking (span starts drawn at random, `MASK_LENGTH` frames each, about `MASK_PROB` of the frames covered
before overlaps). The head exists only for this stage: it is saved in the training state, not in the
supernet's weights, so the second stage (`--init-from`) and extraction never see it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.search_spaces.elastic.linear import ElasticLinear

MASK_PROB, MASK_LENGTH = 0.65, 5


def span_mask(batch: int, frames: int, generator: torch.Generator, prob: float = MASK_PROB,
              length: int = MASK_LENGTH) -> torch.Tensor:
    """(batch, frames) bool: spans of `length` frames starting at ⌈prob·frames/length⌉ random frames per row."""
    length = min(length, frames)
    spans = max(1, round(prob * frames / length))
    starts = torch.randint(0, frames - length + 1, (batch, spans), generator=generator)
    covered = (starts[..., None] + torch.arange(length)).reshape(batch, -1)
    mask = torch.zeros(batch, frames, dtype=torch.bool)
    mask.scatter_(1, covered, True)
    return mask


def hidden_width(module: nn.Module) -> int:
    """Width of a waveform encoder's hidden states (its projection's output)."""
    net = getattr(module, "net", module)
    return int(net.projection.active_out if hasattr(net.projection, "active_out") else net.projection.out_features)


def supports_masked_distillation(module: nn.Module) -> bool:
    return hasattr(getattr(module, "net", module), "hidden_states")


class MaskedDistillation:
    """The prediction head and loss of one distillation run (`head` is trained with the supernet)."""

    def __init__(self, max_width: int, teacher_width: int) -> None:
        self.head = ElasticLinear(max_width, teacher_width, bias=False)

    def loss(self, student: nn.Module, waveform: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """MSE between the head's prediction from the masked clip and the teacher's states, on masked frames."""
        net = getattr(student, "net", student)
        predicted = self.head(net.hidden_states(waveform, mask.to(waveform.device)))
        return F.mse_loss(predicted[mask], target[mask])

    @torch.no_grad()
    def targets(self, teacher: nn.Module, waveform: torch.Tensor) -> torch.Tensor:
        return teacher.hidden_states(waveform).float()
