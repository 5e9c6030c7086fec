"""Inherited accuracy: scores subnets on supernet weights, recalibrates BatchNorm, caches by arch id; the
`accuracy` metric of experiment specs."""

from __future__ import annotations

import random

import pytest
import torch

from hwnas.evaluators import InheritedAccuracyEvaluator
from hwnas.search import parse_spec
from hwnas.search.objectives import ObjectiveSet
from hwnas.search.spec import SpecError
from hwnas.search_spaces import get_space, recalibrate_bn
from hwnas.training import CheckpointError, evaluate_accuracy, load_supernet
from hwnas.training._loop import calibration_batches
from tests.training.conftest import small


def test_evaluate_accuracy_is_top1_and_token_accuracy():
    _, task, _ = small("mixed-attention", n_train=64, n_val=64)
    torch.manual_seed(0)
    model = torch.nn.Linear(40, 10)
    with torch.no_grad():
        expected = float((model(task.x_val).argmax(1) == task.y_val).float().mean())
    assert evaluate_accuracy(model, task, batch_size=7) == pytest.approx(expected)

    space, seq, _ = small("mixed-attention", "tiny-mt", "seq2seq", n_train=32, n_val=40, min_length=4)
    net = space.build_supernet().extract(space.max_arch()).eval()
    with torch.no_grad():
        predicted = net(seq.x_val, seq.y_val[:, :-1]).argmax(-1)
    targets = seq.y_val[:, 1:]
    expected = float(((predicted == targets) & (targets != 0)).sum() / (targets != 0).sum())
    assert evaluate_accuracy(net, seq, batch_size=16) == pytest.approx(expected)
    assert (targets == 0).any()  # padding is really excluded: the task has shorter sequences


def test_inherited_accuracy_recalibrates_batchnorm_and_caches(trained_mobiledets):
    space, task, _ = small("mobiledets", n_train=128, n_val=64)
    evaluator = InheritedAccuracyEvaluator(space, trained_mobiledets, task)
    arch = space.sample(random.Random(5))
    calls = []
    original = evaluator._evaluate
    evaluator._evaluate = lambda archs: calls.append(len(archs)) or original(archs)  # count real evaluations
    first = evaluator.evaluate([arch, space.min_arch()])
    again = evaluator.evaluate([space.min_arch(), arch])
    assert calls == [2] and [first[1], first[0]] == again
    assert 0.0 <= first[0]["accuracy"] <= 1.0
    # the score is that of the subnet with its own BatchNorm statistics on the fixed calibration set
    reference = load_supernet(trained_mobiledets).supernet
    recalibrate_bn(reference, arch, calibration_batches(task))
    assert first[0]["accuracy"] == pytest.approx(evaluate_accuracy(reference.extract(arch), task))
    stale = load_supernet(trained_mobiledets).supernet  # statistics stored by training (the largest subnet's)
    stale.set_active(arch)
    running = [m.running_mean.clone() for m in stale.modules() if hasattr(m, "running_mean") and m.running_mean is not None]
    recal = [m.running_mean for m in reference.modules() if hasattr(m, "running_mean") and m.running_mean is not None]
    assert any(not torch.equal(a, b) for a, b in zip(running, recal))
    evaluator.prime("0" * 16, {"accuracy": 0.5})
    assert evaluator._cache["0" * 16] == {"accuracy": 0.5}


def test_evaluator_refuses_another_space(trained_vit):
    with pytest.raises(CheckpointError, match="space is 'mixed-attention', expected 'emov2'"):
        InheritedAccuracyEvaluator(get_space("emov2", "tiny"), trained_vit)


def _spec(**extra):
    return parse_spec({
        "name": "acc", "space": {"name": "mixed-attention", "preset": "tiny"},
        "objectives": [{"metric": "accuracy", "direction": "maximize"}, {"metric": "flops_m", "direction": "minimize"}],
        "budget": {"trials": 2}, **extra,
    })


def test_accuracy_metric_in_specs(trained_vit):
    with pytest.raises(SpecError, match="supernet: metric 'accuracy' needs a trained supernet; train one with `hwnas train-supernet"):
        ObjectiveSet(_spec(task={"name": "mnist1d"}), get_space("mixed-attention", "tiny"))
    space = get_space("mixed-attention", "tiny")
    objectives = ObjectiveSet(_spec(supernet=str(trained_vit), task={"name": "mnist1d", "options": {"num_samples": 300}}), space)
    result = objectives.evaluate(space.max_arch())
    assert result.complete and 0.0 <= result.values["accuracy"] <= 1.0 and result.values["flops_m"] > 0
    # without a task, the supernet's own training task is used
    default = ObjectiveSet(_spec(supernet=str(trained_vit)), space).evaluate(space.max_arch())
    assert 0.0 <= default.values["accuracy"] <= 1.0
    with pytest.raises(SpecError, match="objectives.0: .*supernet.json: preset is 'tiny'"):
        ObjectiveSet(_spec(supernet=str(trained_vit), space={"name": "mixed-attention", "preset": "cifar10-vit"}),
                     get_space("mixed-attention", "cifar10-vit"))


def test_seq2seq_supernet_scores_token_accuracy(tmp_path):
    from hwnas.training import TrainSettings, train_supernet

    space, task, options = small("mixed-attention", "tiny-mt", "seq2seq", n_train=64, n_val=32, num_samples=200)
    trained = train_supernet(space, task, TrainSettings(epochs=1, batch_size=32, num_random=1), tmp_path / "mt",
                             task_name="seq2seq", task_options=options, progress=False)
    assert trained.meta["task"] == {"name": "seq2seq", "options": {"length": 8, "num_samples": 200, "vocab_size": 16}}
    evaluator = InheritedAccuracyEvaluator(space, tmp_path / "mt")  # rebuilds the stored task by its registry name
    assert evaluator.task.kind == "seq2seq" and len(evaluator.task.x_val) == 40
    [score] = evaluator.evaluate([space.max_arch()])
    with torch.no_grad(), trained.supernet.active(space.max_arch()):
        assert score["accuracy"] == pytest.approx(evaluate_accuracy(trained.supernet, evaluator.task))
