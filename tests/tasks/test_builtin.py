"""Registry contract over every task that needs no files, and the generated seq2seq task's convention."""

from __future__ import annotations

import pytest
import torch

from hwnas.errors import UnknownNameError
from hwnas.tasks import BOS, EOS, FIRST_TOKEN, PAD, Task, TaskDataError, get_task, list_tasks

SMALL = {"mnist1d": dict(num_samples=200), "digits": {}, "synthetic": dict(num_samples=20),
         "seq2seq": dict(num_samples=50), "reversal": dict(num_samples=50), "cluttered-digits": dict(num_samples=40)}


def test_user_data_tasks_are_registered():
    assert {"image-folder", "npy", "parallel-text", "seq2seq", "reversal"} <= set(list_tasks())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_generated_task_is_a_consistent_task(name):
    task = get_task(name, **SMALL[name])
    assert isinstance(task, Task) and task.kind in ("classification", "seq2seq")
    assert len(task.x_train) == len(task.y_train) > 0 and len(task.x_val) == len(task.y_val) > 0
    assert task.x_train.shape[1:] == task.x_val.shape[1:]
    assert int(task.y_train.max()) < task.num_classes


def test_cluttered_digits_are_seeded_posed_differently_and_colour():
    task = get_task("cluttered-digits", num_samples=40, seed=2)
    assert torch.equal(task.x_train, get_task("cluttered-digits", num_samples=40, seed=2).x_train)
    assert task.x_train.shape == (40, 3, 32, 32) and task.x_val.shape == (10, 3, 32, 32)
    assert set(task.y_train.tolist()) <= set(range(10)) and len(set(task.y_train.tolist())) >= 6
    channels = task.x_train.mean(dim=(2, 3))
    assert (channels.std(dim=1) > 0).all(), "colour images, not grey replicated"
    same_label = [i for i in range(1, 40) if task.y_train[i] == task.y_train[0]]
    assert not torch.allclose(task.x_train[0], task.x_train[same_label[0]]), "every image has its own pose"
    with pytest.raises(TaskDataError, match="input_shape"):
        get_task("cluttered-digits", input_shape=[3, 8, 8])


def test_cluttered_digits_validation_size_leaves_training_images_alone():
    default = get_task("cluttered-digits", num_samples=40, seed=1)
    larger = get_task("cluttered-digits", num_samples=40, seed=1, val_samples=30)
    assert larger.x_val.shape[0] == 30 and default.x_val.shape[0] == 10
    assert torch.equal(larger.x_train, default.x_train) and torch.equal(larger.y_train, default.y_train)
    with pytest.raises(TaskDataError, match="val_samples"):
        get_task("cluttered-digits", num_samples=40, val_samples=0)


@pytest.mark.parametrize("op", ["reverse", "sort"])
def test_seq2seq_targets_follow_the_token_convention(op):
    task = get_task("seq2seq", op=op, num_samples=40, length=6, min_length=3, vocab_size=12, seed=3)
    assert task.kind == "seq2seq" and task.vocab_size == 12
    assert task.x_train.shape[1] == 6 and task.y_train.shape[1] == 8
    for x, y in zip(task.x_train, task.y_train):
        content = x[x != PAD]
        assert 3 <= len(content) <= 6 and int(content.min()) >= FIRST_TOKEN and int(content.max()) < 12
        expected = content.flip(0) if op == "reverse" else content.sort().values
        assert y[0] == BOS and torch.equal(y[1:len(content) + 1], expected) and y[len(content) + 1] == EOS
        assert (y[len(content) + 2:] == PAD).all()


def test_seq2seq_is_seeded_and_reversal_is_its_short_name():
    a, b = get_task("seq2seq", num_samples=30, seed=5), get_task("reversal", num_samples=30, seed=5)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    assert not torch.equal(a.x_train, get_task("seq2seq", num_samples=30, seed=6).x_train)


@pytest.mark.parametrize("options, message", [
    (dict(op="shuffle"), "op 'shuffle'"),
    (dict(vocab_size=4), "vocab_size must exceed 4"),
    (dict(length=3, min_length=5), "min_length"),
    (dict(colour="red"), "unknown option(s) colour"),
])
def test_seq2seq_bad_options_are_one_line_errors(options, message):
    with pytest.raises(TaskDataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        get_task("seq2seq", **options)


def test_unknown_task_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown task 'imagenet'.*digits"):
        get_task("imagenet")


def test_task_kind_is_checked():
    x = torch.zeros(2, 3)
    with pytest.raises(TaskDataError, match="kind 'regression'"):
        Task("t", x, torch.zeros(2), x, torch.zeros(2), num_classes=2, kind="regression")
