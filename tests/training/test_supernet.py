"""Sandwich training: every space learns on a real task, resume is exact, teachers and bad input."""

from __future__ import annotations

import statistics

import pytest
import torch

from hwnas.evaluators import InheritedAccuracyEvaluator
from hwnas.training import CheckpointError, TrainingError, TrainSettings, load_supernet, train_supernet
from hwnas.training import _loop
from hwnas.training._sharing import SHARING_SUBNETS, WEAK_SHARING, sharing_line, sharing_subnets, sharing_summary
from hwnas.training._teacher import load_teacher
from hwnas.training.supernet import SupernetTrainer
from tests.training.conftest import small


def _largest_loss(trainer: SupernetTrainer, x, y) -> float:
    trainer.supernet.train()  # BatchNorm on batch statistics: running ones lag after a few steps
    with torch.no_grad(), trainer.supernet.active(trainer.space.max_arch()):
        logits, targets, mask = _loop.forward(trainer.supernet, trainer.kind, x, y)
        return float(_loop.cross_entropy(logits, targets, mask))


@pytest.mark.parametrize("space_name,preset,task,lr", [
    ("mixed-attention", "tiny", None, 3e-3), ("lighthubert", "tiny", None, 3e-3), ("emov2", "tiny", None, 3e-3),
    ("mobiledets", "tiny", None, 3e-3), ("mixed-attention", "tiny-mt", "seq2seq", 3e-3),
])
def test_sandwich_steps_lower_the_loss_on_a_real_task(tmp_path, space_name, preset, task, lr):
    space, data, options = small(space_name, preset, task, n_train=64)
    torch.manual_seed(0)
    settings = TrainSettings(epochs=1, batch_size=32, lr=lr, num_random=1, warmup_steps=1)
    trainer = SupernetTrainer(space, space.build_supernet(), data, options, settings, tmp_path)
    x, y = data.x_train[:32], data.y_train[:32]
    before = _largest_loss(trainer, x, y)
    for step in range(8):
        trainer.step(x, y, step, 100)
    after = _largest_loss(trainer, x, y)
    assert after < 0.85 * before, (before, after)


@pytest.mark.parametrize("space_name", ["mixed-attention", "mobiledets"])
def test_resume_continues_bit_for_bit(tmp_path, space_name):
    space, data, options = small(space_name, n_train=96, n_val=32)
    settings = TrainSettings(epochs=2, batch_size=48, num_random=1, warmup_steps=2)
    straight = train_supernet(space, data, settings, tmp_path / "a", task_options=options, progress=False)
    train_supernet(space, data, settings, tmp_path / "b", task_options=options, stop_after=1, progress=False)
    assert load_supernet(tmp_path / "b").meta["epochs_done"] == 1
    resumed = train_supernet(space, data, TrainSettings(epochs=1), tmp_path / "b", resume=True, progress=False)
    assert resumed.meta["epochs_done"] == 2
    a, b = straight.supernet.state_dict(), resumed.supernet.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    drop = lambda ms: [{k: v for k, v in m.items() if k != "seconds"} for m in ms]  # noqa: E731
    assert drop(straight.meta["metrics"]) == drop(resumed.meta["metrics"])


@pytest.mark.parametrize("space_name", ["mixed-attention", "mobiledets"])
def test_the_last_epoch_scores_random_subnets_as_inherited_scores_would(tmp_path, space_name):
    space, data, options = small(space_name, n_train=96, n_val=48)
    trained = train_supernet(space, data, TrainSettings(epochs=1, batch_size=48, warmup_steps=2), tmp_path / "sn",
                             task_options=options, progress=False)
    sharing = load_supernet(tmp_path / "sn").meta["sharing"]
    assert sharing["metric"] == "acc" and sharing["random_subnets"] == SHARING_SUBNETS
    assert sharing["largest"] == trained.meta["metrics"][-1]["max_acc"]
    evaluator = InheritedAccuracyEvaluator(space, tmp_path / "sn", data)
    archs = sharing_subnets(space, seed=0)
    assert sharing["scores"] == [row["accuracy"] for row in evaluator.evaluate(archs)]
    share = statistics.median(sharing["scores"]) / sharing["largest"]
    assert sharing["median_share_of_largest"] == pytest.approx(share) and sharing["weak"] == (share < WEAK_SHARING)


def test_the_sharing_line_warns_only_when_random_subnets_keep_little():
    weak, fine = sharing_summary("map", [0.001, 0.004, 0.007], 0.16), sharing_summary("acc", [0.75, 0.8], 0.85)
    assert weak["weak"] and not fine["weak"]
    assert "[yellow]" in sharing_line(weak) and "will hardly rank" in sharing_line(weak) and "2% of" in sharing_line(weak)
    assert "[yellow]" not in sharing_line(fine) and "91% of the largest subnet's acc" in sharing_line(fine)
    assert sharing_summary("acc", [0.1], 0.0)["weak"]  # a largest subnet at zero: nothing shared to speak of


def test_resume_can_extend_the_run(tmp_path, trained_vit):
    space, data, _ = small("mixed-attention", n_train=128)
    extended = train_supernet(space, data, TrainSettings(epochs=2), trained_vit, resume=True, progress=False)
    assert extended.meta["epochs_done"] == 2 and extended.meta["settings"]["epochs"] == 2
    assert [m["epoch"] for m in extended.meta["metrics"]] == [1, 2]


def test_output_directory_rules(tmp_path, trained_vit):
    space, data, options = small("mixed-attention", n_train=64)
    settings = TrainSettings(epochs=1, batch_size=64, num_random=0)
    with pytest.raises(TrainingError, match="exists; pass --resume to continue it or --force"):
        train_supernet(space, data, settings, trained_vit, progress=False)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train_supernet(space, data, settings, tmp_path / "new", resume=True, progress=False)
    other, other_data, _ = small("lighthubert", n_train=64)
    with pytest.raises(CheckpointError, match="space is 'mixed-attention', expected 'lighthubert'"):
        train_supernet(other, other_data, settings, trained_vit, resume=True, progress=False)
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.txt").write_text("mine")
    train_supernet(space, data, settings, tmp_path / "keep", task_options=options, force=True, progress=False)
    assert (tmp_path / "keep" / "notes.txt").read_text() == "mine"  # --force replaces only hwnas's files
    with pytest.raises(TrainingError, match="epochs must be at least 1"):
        train_supernet(space, data, TrainSettings(epochs=0), tmp_path / "zero", progress=False)


def test_teacher_distillation(tmp_path, trained_vit):
    space, data, options = small("mixed-attention", n_train=64)
    teacher = load_teacher(trained_vit, "mixed-attention", data)
    x, y = data.x_val[:16], data.y_val[:16]
    t_logits, t_hidden = teacher.targets(x, y, "classification")
    assert t_hidden is not None and t_hidden.shape == (16, max(space.config["embed_dim"]))
    mask = torch.ones(16, dtype=torch.bool)
    # the teacher's own outputs cost nothing; a narrower student's prefix of the hidden state is what it matches
    assert float(teacher.loss(t_logits, t_hidden, mask, t_logits, t_hidden)) == pytest.approx(0.0, abs=1e-6)
    assert float(teacher.loss(t_logits, t_hidden[:, :32], mask, t_logits, t_hidden)) == pytest.approx(0.0, abs=1e-6)
    assert float(teacher.loss(torch.zeros_like(t_logits), t_hidden, mask, t_logits, t_hidden)) > 0
    settings = TrainSettings(epochs=1, batch_size=32, num_random=1, teacher=str(trained_vit))
    student = train_supernet(space, data, settings, tmp_path / "student", task_options=options, progress=False)
    assert student.meta["settings"]["teacher"] == str(trained_vit)
    plain = train_supernet(space, data, TrainSettings(epochs=1, batch_size=32, num_random=1), tmp_path / "plain",
                           task_options=options, progress=False)
    assert student.meta["metrics"][0]["loss"] != plain.meta["metrics"][0]["loss"]  # the teacher term is in the loss
    other, other_data, _ = small("lighthubert", n_train=64)
    with pytest.raises(CheckpointError, match="--teacher: .*space is 'mixed-attention', expected 'lighthubert'"):
        train_supernet(other, other_data, settings, tmp_path / "bad", progress=False)


def test_extracted_subnet_as_teacher(tmp_path, trained_vit):
    from hwnas.export import extract_subnet, from_arch

    space, data, _ = small("mixed-attention", n_train=64)
    extract_subnet(from_arch("max", None, supernet=str(trained_vit)), tmp_path / "teacher")
    teacher = load_teacher(tmp_path / "teacher", "mixed-attention", data)
    reference = load_supernet(trained_vit).supernet
    with torch.no_grad(), reference.active(space.max_arch()):
        expected = reference(data.x_val[:8])
    torch.testing.assert_close(teacher.targets(data.x_val[:8], data.y_val[:8], "classification")[0], expected)
    with pytest.raises(CheckpointError, match="arch.json: space is 'mixed-attention', expected 'lighthubert'"):
        load_teacher(tmp_path / "teacher", "lighthubert", data)
