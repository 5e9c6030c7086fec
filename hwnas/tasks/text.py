"""`parallel-text`: the user's translation pairs, a source and a target file with one sentence per line.

Tokens are whitespace-separated; one vocabulary (shared by source and target, as HAT's WMT models share
theirs) is built from the training pairs, most frequent first; validation tokens outside it become UNK.
Sequences are padded to the longest training sentence (or cut at `max_length`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from hwnas.tasks._files import existing, split_index
from hwnas.tasks._task import BOS, EOS, PAD, UNK, Count, Fraction, Seed, Task, TaskDataError, register_task

NAME = "parallel-text"
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


def _lines(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TaskDataError(f"{NAME}: {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return [line.split() for line in text.splitlines()]


def _pairs(source: Path, target: Path) -> list[tuple[list[str], list[str]]]:
    src, tgt = _lines(source), _lines(target)
    if len(src) != len(tgt):
        raise TaskDataError(f"{NAME}: {source.name} has {len(src)} lines but {target.name} has {len(tgt)}")
    pairs = []
    for number, (s, t) in enumerate(zip(src, tgt), start=1):
        if bool(s) != bool(t):
            empty = source if not s else target
            raise TaskDataError(f"{NAME}: line {number} of {str(empty)!r} is empty but its pair is not")
        if s:
            pairs.append((s, t))
    if not pairs:
        raise TaskDataError(f"{NAME}: {source.name} and {target.name} hold no sentence pairs")
    return pairs


def _vocab(pairs: list[tuple[list[str], list[str]]], min_count: int) -> tuple[str, ...]:
    counts = Counter(token for s, t in pairs for token in (*s, *t))
    kept = sorted((tok for tok, n in counts.items() if n >= min_count), key=lambda tok: (-counts[tok], tok))
    return SPECIALS + tuple(kept)


def _encode(pairs: list[tuple[list[str], list[str]]], ids: dict[str, int], src_len: int, tgt_len: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.full((len(pairs), src_len), PAD, dtype=torch.long)
    y = torch.full((len(pairs), tgt_len + 2), PAD, dtype=torch.long)
    y[:, 0] = BOS
    for i, (s, t) in enumerate(pairs):
        s, t = s[:src_len], t[:tgt_len]
        x[i, :len(s)] = torch.tensor([ids.get(tok, UNK) for tok in s])
        y[i, 1:len(t) + 1] = torch.tensor([ids.get(tok, UNK) for tok in t])
        y[i, len(t) + 1] = EOS
    return x, y


@register_task(NAME)
def parallel_text(source: str | None = None, target: str | None = None, source_val: str | None = None,
                  target_val: str | None = None, val_fraction: Fraction = 0.1, max_length: Count | None = None,
                  min_count: Count = 1, seed: Seed = 0) -> Task:
    """Pairs from `source`/`target`; validation from `source_val`/`target_val` or a seeded split."""
    pairs = _pairs(existing(source, "source file (source)", NAME), existing(target, "target file (target)", NAME))
    if (source_val is None) != (target_val is None):
        raise TaskDataError(f"{NAME}: give both source_val and target_val, or neither")
    if source_val is not None:
        val_pairs = _pairs(existing(source_val, "file (source_val)", NAME), existing(target_val, "file (target_val)", NAME))
    else:
        train, val = split_index(len(pairs), val_fraction, seed, NAME)
        pairs, val_pairs = [pairs[i] for i in train.tolist()], [pairs[i] for i in val.tolist()]
    if max_length is not None and max_length < 1:
        raise TaskDataError(f"{NAME}: max_length must be at least 1, got {max_length}")
    vocab = _vocab(pairs, min_count)
    ids = {token: i for i, token in enumerate(vocab)}
    src_len = max(len(s) for s, _ in pairs)
    tgt_len = max(len(t) for _, t in pairs)
    if max_length is not None:
        src_len, tgt_len = min(src_len, max_length), min(tgt_len, max_length)
    x, y = _encode(pairs, ids, src_len, tgt_len)
    x_val, y_val = _encode(val_pairs, ids, src_len, tgt_len)
    return Task(NAME, x, y, x_val, y_val, num_classes=len(vocab), kind="seq2seq", vocab=vocab)
