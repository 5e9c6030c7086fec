"""Generated sequence-to-sequence tasks (reverse or sort token sequences) for the encoder-decoder presets.

Generated, not downloaded: a translation-like task a tiny encoder-decoder can learn in a few epochs, with
the token convention every seq2seq task in hwnas uses (see `Task`): x (N, S) source ids, y (N, S + 2) =
BOS, the transformed source, EOS; sequences shorter than `length` are padded with PAD at the end.
"""

from __future__ import annotations

from functools import partial

import torch

from hwnas.tasks._task import BOS, EOS, FIRST_TOKEN, PAD, Count, Fraction, Seed, Task, TaskDataError, register_task

OPS = ("reverse", "sort")


def _transform(tokens: torch.Tensor, op: str) -> torch.Tensor:
    return tokens.flip(0) if op == "reverse" else tokens.sort().values


@register_task("seq2seq")
def seq2seq(op: str = "reverse", num_samples: Count = 2000, length: Count = 8, min_length: Count | None = None,
            vocab_size: Count = 16, seed: Seed = 0, val_fraction: Fraction = 0.2) -> Task:
    """`num_samples` random sequences of `min_length`..`length` content tokens and their `op` (reverse|sort)."""
    if op not in OPS:
        raise TaskDataError(f"seq2seq: op {op!r} must be one of {', '.join(OPS)}")
    min_length = length if min_length is None else min_length
    if not 1 <= min_length <= length:
        raise TaskDataError(f"seq2seq: need 1 <= min_length <= length, got min_length={min_length}, length={length}")
    if vocab_size <= FIRST_TOKEN:
        raise TaskDataError(f"seq2seq: vocab_size must exceed {FIRST_TOKEN} (ids 0-3 are PAD, BOS, EOS, UNK), got {vocab_size}")
    if num_samples < 2 or not 0 < val_fraction < 1:
        raise TaskDataError(f"seq2seq: need num_samples >= 2 and 0 < val_fraction < 1, got {num_samples}, {val_fraction}")
    generator = torch.Generator().manual_seed(seed)
    content = torch.randint(FIRST_TOKEN, vocab_size, (num_samples, length), generator=generator)
    lengths = torch.randint(min_length, length + 1, (num_samples,), generator=generator)
    x = torch.full((num_samples, length), PAD, dtype=torch.long)
    y = torch.full((num_samples, length + 2), PAD, dtype=torch.long)
    y[:, 0] = BOS
    for i, n in enumerate(lengths.tolist()):
        x[i, :n] = content[i, :n]
        y[i, 1:n + 1] = _transform(content[i, :n], op)
        y[i, n + 1] = EOS
    cut = max(1, min(num_samples - 1, int(round((1 - val_fraction) * num_samples))))
    return Task(f"seq2seq-{op}", x[:cut], y[:cut], x[cut:], y[cut:], num_classes=vocab_size, kind="seq2seq")


#: The `seq2seq` task with op=reverse (a short name for specs).
reversal = register_task("reversal")(partial(seq2seq, op="reverse"))
