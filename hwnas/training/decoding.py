"""Translating with a seq2seq model (greedy or beam search) and scoring it by BLEU (sacrebleu).

Token accuracy under teacher forcing says how often the next token is right given the true prefix; BLEU
says how good the translations a model writes on its own are, which is what the mixed-attention paper and
HAT report on WMT. Decoding runs the model on the growing prefix (`model(x, prefix)` → logits; the decoder is
causal, so the last position's logits are the next token's). Detokenised text is the task's vocabulary
joined by spaces (ids as numbers for generated tasks without one), special tokens dropped; sacrebleu's
corpus BLEU scores it against the references (0-100).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hwnas.tasks._task import BOS, EOS, FIRST_TOKEN, PAD, UNK


@torch.no_grad()
def greedy_decode(model: nn.Module, x: torch.Tensor, max_len: int) -> torch.Tensor:
    """(N, ≤ max_len + 1) ids starting with BOS: each step the most likely next token, until every row ends (EOS)."""
    out = torch.full((len(x), 1), BOS, dtype=torch.long, device=x.device)
    done = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for _ in range(max_len):
        logits = model(x, out)[:, -1]
        logits[:, PAD] = float("-inf")  # padding is never written
        nxt = torch.where(done, torch.full_like(done, PAD, dtype=torch.long), logits.argmax(-1))
        out = torch.cat([out, nxt[:, None]], dim=1)
        done |= nxt == EOS
        if done.all():
            break
    return out


@torch.no_grad()
def beam_decode(model: nn.Module, x: torch.Tensor, max_len: int, beam: int = 4, length_penalty: float = 1.0) -> torch.Tensor:
    """Beam search per source row: the `beam` best prefixes by summed log-probability; a finished hypothesis
    (EOS) is scored by its log-probability over length^`length_penalty` (fairseq's normalisation). `beam=1`
    is greedy decoding."""
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    rows = [_beam_one(model, x[i:i + 1], max_len, beam, length_penalty) for i in range(len(x))]
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), PAD, dtype=torch.long, device=x.device)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r, device=x.device)
    return out


def _beam_one(model: nn.Module, x: torch.Tensor, max_len: int, beam: int, length_penalty: float) -> list[int]:
    alive: list[tuple[float, list[int]]] = [(0.0, [BOS])]
    finished: list[tuple[float, list[int]]] = []
    for _ in range(max_len):
        prefixes = torch.tensor([seq for _, seq in alive], device=x.device)
        logp = torch.log_softmax(model(x.expand(len(alive), -1), prefixes)[:, -1].float(), dim=-1)
        logp[:, PAD] = float("-inf")
        candidates = []
        for (score, seq), row in zip(alive, logp):
            values, ids = row.topk(min(beam, row.numel()))
            candidates += [(score + float(v), seq + [int(t)]) for v, t in zip(values, ids)]
        candidates.sort(key=lambda c: c[0], reverse=True)
        alive = []
        for score, seq in candidates[:2 * beam]:  # as fairseq: the best 2·beam, of which finished ones are set aside
            if seq[-1] == EOS:
                finished.append((score / (len(seq) - 1) ** length_penalty, seq))
            elif len(alive) < beam:
                alive.append((score, seq))
        if not alive or len(finished) >= beam:  # fairseq's stop: `beam` hypotheses have ended
            break
    if not finished:
        finished = [(score / (len(seq) - 1) ** length_penalty, seq) for score, seq in alive]
    return max(finished, key=lambda f: f[0])[1]


def detokenise(ids: Sequence[int], vocab: Sequence[str] | None) -> str:
    """Ids after BOS up to EOS as text: the vocabulary's tokens joined by spaces (or the ids themselves)."""
    words = []
    for token in ids:
        token = int(token)
        if token == EOS:
            break
        if token in (PAD, BOS):
            continue
        if vocab is not None and token < len(vocab):
            words.append(vocab[token] if token >= FIRST_TOKEN or token == UNK else "")
        else:
            words.append(str(token))
    return " ".join(w for w in words if w)


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's corpus BLEU (13a tokenisation, 0-100) of `hypotheses` against one reference each."""
    import sacrebleu  # only BLEU needs it

    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


@torch.no_grad()
def evaluate_bleu(model: nn.Module, task: Any, split: str = "val", beam: int = 1, batch_size: int = 128,
                  max_len: int | None = None) -> float:
    """BLEU (0-100) of `model`'s translations of a seq2seq task's split: greedy (`beam=1`) or beam search."""
    from hwnas.training._loop import split_tensors  # the task's tensors, as accuracy reads them

    x_all, y_all = split_tensors(task, split)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    max_len = max_len or int(y_all.shape[1]) - 1
    vocab = getattr(task, "vocab", None)
    was_training = model.training
    model.eval()
    hypotheses, references = [], []
    try:
        for start in range(0, len(x_all), batch_size):
            x = x_all[start:start + batch_size].to(device)
            out = greedy_decode(model, x, max_len) if beam == 1 else beam_decode(model, x, max_len, beam)
            hypotheses += [detokenise(row.tolist(), vocab) for row in out]
            references += [detokenise(row.tolist(), vocab) for row in y_all[start:start + batch_size]]
    finally:
        model.train(was_training)
    if not references:
        raise ValueError(f"task {getattr(task, 'name', '?')!r} has no {split} samples to translate")
    return corpus_bleu(hypotheses, references)
