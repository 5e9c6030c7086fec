"""BLEU of a seq2seq supernet's subnets: greedy and beam decoding, sacrebleu's score, the `bleu` metric in specs."""

from __future__ import annotations

import pytest
import torch

from hwnas.search import Experiment, parse_spec
from hwnas.search.spec import SpecError
from hwnas.search_spaces import get_space
from hwnas.tasks import get_task
from hwnas.tasks._task import BOS, EOS, PAD
from hwnas.training import TrainSettings, train_supernet
from hwnas.training.decoding import beam_decode, corpus_bleu, detokenise, evaluate_bleu, greedy_decode

TASK_OPTIONS = {"num_samples": 1500, "op": "sort"}  # sorting: BLEU ~40 for the largest subnet after 5 epochs


@pytest.fixture(scope="module")
def reversal(tmp_path_factory):
    """A tiny encoder-decoder supernet trained for a few epochs on token sorting (~13 s here)."""
    out = tmp_path_factory.mktemp("mt") / "supernet"
    space, task = get_space("mixed-attention", "tiny-mt"), get_task("seq2seq", **TASK_OPTIONS)
    loaded = train_supernet(space, task, TrainSettings(epochs=5, lr=3e-3, num_random=0, warmup_steps=10), out,
                            task_name="seq2seq", task_options=TASK_OPTIONS, progress=False)
    return loaded, task, out


def test_detokenise_drops_special_tokens_and_uses_the_vocabulary():
    assert detokenise([BOS, 5, 6, EOS, 7], None) == "5 6"
    assert detokenise([BOS, 4, PAD, 5, EOS], ("<pad>", "<bos>", "<eos>", "<unk>", "ein", "zwei")) == "ein zwei"
    assert corpus_bleu(["ein zwei drei vier"], ["ein zwei drei vier"]) == pytest.approx(100.0)
    assert corpus_bleu(["vier drei"], ["ein zwei drei vier"]) < 10


def test_trained_largest_subnet_translates_better_than_an_untrained_one(reversal):
    loaded, task, _ = reversal
    supernet = loaded.supernet.eval()
    supernet.set_active(loaded.space.max_arch())
    trained = evaluate_bleu(supernet, task)
    fresh = get_space("mixed-attention", "tiny-mt").build_supernet().eval()
    fresh.set_active(loaded.space.max_arch())
    assert trained > evaluate_bleu(fresh, task) + 10.0, "training must show in BLEU"
    supernet.set_active(loaded.space.min_arch())
    assert trained > evaluate_bleu(supernet, task) + 5.0, "the largest subnet translates better than the smallest"
    assert 0.0 <= trained <= 100.0


def test_greedy_follows_the_models_argmax_and_beam_one_is_greedy(reversal):
    loaded, task, _ = reversal
    model = loaded.supernet.eval()
    model.set_active(loaded.space.max_arch())
    x = task.x_val[:6]
    greedy = greedy_decode(model, x, max_len=task.y_val.shape[1] - 1)
    assert (greedy[:, 0] == BOS).all()
    with torch.no_grad():
        first = model(x, greedy[:, :1])[:, -1]
        first[:, PAD] = float("-inf")
    assert torch.equal(greedy[:, 1], first.argmax(-1))
    beam_one = beam_decode(model, x, max_len=task.y_val.shape[1] - 1, beam=1)
    for g, b in zip(greedy.tolist(), beam_one.tolist()):
        assert detokenise(g, None) == detokenise(b, None)
    wide = beam_decode(model, x, max_len=task.y_val.shape[1] - 1, beam=3)
    assert (wide[:, 0] == BOS).all() and wide.shape[0] == len(x)
    with pytest.raises(ValueError, match="beam"):
        beam_decode(model, x, 4, beam=0)


def test_bleu_is_a_spec_objective(reversal, tmp_path):
    _, _, out = reversal
    base = {"name": "mt-bleu", "space": {"name": "mixed-attention", "preset": "tiny-mt"}, "supernet": str(out),
            "task": {"name": "seq2seq", "options": TASK_OPTIONS},
            "objectives": [{"metric": "bleu", "direction": "maximize"}, {"metric": "params_m", "direction": "minimize"}],
            "searcher": {"kind": "optuna", "sampler": "random"}, "budget": {"trials": 3}, "seed": 0}
    experiment = Experiment(parse_spec(base), f"sqlite:///{tmp_path}/s.db")
    experiment.run()
    rows = experiment.rows()
    assert len(rows) == 3 and all(0.0 <= r.metrics["bleu"] <= 100.0 for r in rows)
    bad = {**base, "task": {"name": "seq2seq", "options": {**TASK_OPTIONS, "bleu_beam": 0}}}
    with pytest.raises(SpecError, match="bleu_beam"):
        Experiment(parse_spec(bad), f"sqlite:///{tmp_path}/t.db")
    no_supernet = {k: v for k, v in base.items() if k != "supernet"}
    with pytest.raises(SpecError, match="bleu"):
        Experiment(parse_spec(no_supernet), f"sqlite:///{tmp_path}/u.db")
