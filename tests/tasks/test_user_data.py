"""The user-data tasks on small files the tests write: image folders, .npy arrays, parallel text."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hwnas.tasks import BOS, EOS, PAD, UNK, TaskDataError, get_task


def _image_folder(root, classes=("cat", "dog"), per_class=5, size=(12, 10)):
    rng = np.random.default_rng(0)
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(rng.normal(60 + 120 * label, 20, (*size, 3)), 0, 255).astype(np.uint8)
            suffix = ".png" if i % 2 else ".jpg"
            Image.fromarray(pixels).save(root / name / f"{i}{suffix}")
    return root


# -- image-folder -------------------------------------------------------------------------------
def test_image_folder_loads_resizes_normalises_and_splits(tmp_path):
    task = get_task("image-folder", path=str(_image_folder(tmp_path / "imgs")), input_shape=(3, 16, 16), val_fraction=0.3)
    assert task.num_classes == 2 and task.class_names == ("cat", "dog") and task.kind == "classification"
    assert task.x_train.shape == (7, 3, 16, 16) and task.x_val.shape == (3, 3, 16, 16)
    assert abs(float(task.x_train.mean())) < 1e-4
    # the two classes were drawn dark and bright: their normalised means are apart
    assert float(task.x_train[task.y_train == 1].mean()) > float(task.x_train[task.y_train == 0].mean()) + 1


def test_image_folder_grey_and_separate_validation_folder(tmp_path):
    _image_folder(tmp_path / "train")
    _image_folder(tmp_path / "val", per_class=2)
    task = get_task("image-folder", path=str(tmp_path / "train"), val_path=str(tmp_path / "val"), input_shape=(1, 8, 8))
    assert task.x_train.shape == (10, 1, 8, 8) and task.x_val.shape == (4, 1, 8, 8)
    assert task.y_val.tolist() == [0, 0, 1, 1]


def test_image_folder_errors(tmp_path):
    with pytest.raises(TaskDataError, match="is not a directory"):
        get_task("image-folder", path=str(tmp_path / "missing"))
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(TaskDataError, match="at least 2 class subfolders, found 1"):
        get_task("image-folder", path=str(tmp_path / "one"))
    root = _image_folder(tmp_path / "imgs")
    (root / "empty").mkdir()
    with pytest.raises(TaskDataError, match="holds no images"):
        get_task("image-folder", path=str(root))
    (root / "empty" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(TaskDataError, match="cannot read image .*broken.png"):
        get_task("image-folder", path=str(root))


# -- npy ----------------------------------------------------------------------------------------
def test_npy_classification_with_split(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 40)).astype(np.float32)
    y = np.arange(20) % 3
    np.save(tmp_path / "x.npy", x), np.save(tmp_path / "y.npy", y)
    task = get_task("npy", path=str(tmp_path), val_fraction=0.25)
    assert task.kind == "classification" and task.num_classes == 3
    assert task.x_train.shape == (15, 40) and task.x_val.shape == (5, 40) and task.x_train.dtype == torch.float32
    rows = {tuple(r) for r in np.concatenate([task.x_train.numpy(), task.x_val.numpy()])}
    assert rows == {tuple(r) for r in x}


def test_npy_seq2seq_with_validation_files(tmp_path):
    x = np.array([[4, 5, 6], [7, 8, 0]])
    y = np.array([[1, 6, 5, 4, 2], [1, 8, 7, 2, 0]])
    for prefix in ("", "_val"):
        np.save(tmp_path / f"x{prefix}.npy", x), np.save(tmp_path / f"y{prefix}.npy", y)
    task = get_task("npy", path=str(tmp_path), num_classes=20)
    assert task.kind == "seq2seq" and task.vocab_size == 20 and task.x_train.dtype == torch.long
    assert torch.equal(task.y_val, torch.as_tensor(y))


@pytest.mark.parametrize("files, message", [
    ({"x.npy": np.zeros((4, 2))}, "y.npy' not found"),
    ({"x.npy": np.zeros((4, 2)), "y.npy": np.zeros(3, int)}, "x.npy has 4 samples but y.npy has 3"),
    ({"x.npy": np.zeros((0, 2)), "y.npy": np.zeros(0, int)}, "is empty"),
    ({"x.npy": np.array([[1.0], [np.nan]]), "y.npy": np.zeros(2, int)}, "NaN"),
    ({"x.npy": np.array([{"a": 1}, None], dtype=object), "y.npy": np.zeros(2, int)}, "not a plain numeric"),
    ({"x.npy": np.zeros((4, 2)), "y.npy": np.zeros(4, int), "x_val.npy": np.zeros((2, 2))}, "only one of"),
    ({"x.npy": np.zeros((4, 2)), "y.npy": np.array([0, 1, 0.5, 1])}, "integer labels"),
])
def test_npy_errors(tmp_path, files, message):
    for name, array in files.items():
        np.save(tmp_path / name, array, allow_pickle=array.dtype == object)
    with pytest.raises(TaskDataError, match=message):
        get_task("npy", path=str(tmp_path))


# -- parallel-text ------------------------------------------------------------------------------
def test_parallel_text_builds_the_vocabulary_from_training_pairs(tmp_path):
    (tmp_path / "train.de").write_text("ein haus\nein kleines haus\n\nhallo\n")
    (tmp_path / "train.en").write_text("a house\na small house\n\nhello\n")
    (tmp_path / "val.de").write_text("ein boot\n")
    (tmp_path / "val.en").write_text("a house\n")
    task = get_task("parallel-text", source=str(tmp_path / "train.de"), target=str(tmp_path / "train.en"),
                    source_val=str(tmp_path / "val.de"), target_val=str(tmp_path / "val.en"))
    assert task.kind == "seq2seq" and task.vocab[:4] == ("<pad>", "<bos>", "<eos>", "<unk>")
    ids = {tok: i for i, tok in enumerate(task.vocab)}
    assert task.num_classes == len(task.vocab) == 4 + 8 and "boot" not in ids
    assert task.x_train.shape == (3, 3) and task.y_train.shape == (3, 3 + 2)
    assert task.x_train[1].tolist() == [ids["ein"], ids["kleines"], ids["haus"]]
    assert task.y_train[2].tolist() == [BOS, ids["hello"], EOS, PAD, PAD]
    assert task.x_val[0].tolist() == [ids["ein"], UNK, PAD]


def test_parallel_text_split_and_max_length(tmp_path):
    (tmp_path / "s").write_text("".join(f"w{i} x y z\n" for i in range(10)))
    (tmp_path / "t").write_text("".join(f"v{i} q\n" for i in range(10)))
    task = get_task("parallel-text", source=str(tmp_path / "s"), target=str(tmp_path / "t"), val_fraction=0.2, max_length=2)
    assert len(task.x_train) == 8 and len(task.x_val) == 2 and task.x_train.shape[1] == 2
    assert task.y_train.shape[1] == 4  # BOS + 2 tokens + EOS


@pytest.mark.parametrize("source, target, message", [
    ("a b\nc\n", "x\n", "has 2 lines but .* has 1"),
    ("", "", "hold no sentence pairs"),
    ("a\n\n", "x\ny\n", "line 2 of .*src' is empty"),
])
def test_parallel_text_errors(tmp_path, source, target, message):
    (tmp_path / "src").write_text(source), (tmp_path / "tgt").write_text(target)
    with pytest.raises(TaskDataError, match=message):
        get_task("parallel-text", source=str(tmp_path / "src"), target=str(tmp_path / "tgt"))


def test_parallel_text_missing_file(tmp_path):
    with pytest.raises(TaskDataError, match="source file .* not found"):
        get_task("parallel-text", source=str(tmp_path / "nope"), target=str(tmp_path / "nope2"))
