"""The trained-supernet directory: round trip through files, and one-line errors for every bad directory."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from hwnas.search_spaces import get_space
from hwnas.training import CheckpointError, build_meta, load_supernet, save_supernet
from hwnas.training.checkpoint import CHECKPOINT_FILE, FORMAT_VERSION, META_FILE


def _saved(tmp_path, name="mixed-attention", preset="tiny"):
    torch.manual_seed(3)
    space = get_space(name, preset)
    supernet = space.build_supernet()
    meta = build_meta(space, "mnist1d", {"num_samples": 500}, {"epochs": 1, "lr": 0.002}, epochs_done=1,
                      metrics=[{"epoch": 1, "loss": 2.0}])
    optimizer = torch.optim.AdamW(supernet.parameters())
    supernet(*space.example_input(2)).sum().backward()
    optimizer.step()
    save_supernet(tmp_path / "sn", supernet, meta, {"optimizer": optimizer.state_dict(), "sampler": [3, [1, 2], None]})
    return space, supernet, tmp_path / "sn"


def test_round_trip_restores_weights_meta_and_state(tmp_path):
    space, supernet, directory = _saved(tmp_path)
    loaded = load_supernet(directory, space="mixed-attention", preset="tiny")
    assert loaded.space.name == "mixed-attention" and loaded.space.preset == "tiny"
    assert not loaded.supernet.training
    for key, value in supernet.state_dict().items():
        assert torch.equal(loaded.supernet.state_dict()[key], value), key
    assert loaded.meta["epochs_done"] == 1 and loaded.meta["task"] == {"name": "mnist1d", "options": {"num_samples": 500}}
    assert loaded.meta["space_options"] == {"num_classes": 10}
    assert loaded.state["sampler"] == [3, [1, 2], None] and "state" in loaded.state["optimizer"]
    meta = json.loads((directory / META_FILE).read_text())
    assert meta["format_version"] == FORMAT_VERSION
    # plain tensors and values only: loadable without unpickling arbitrary objects
    payload = torch.load(directory / CHECKPOINT_FILE, weights_only=True)
    assert set(payload) >= {"model", "optimizer", "sampler"}
    x = space.example_input(3)
    with torch.no_grad():
        torch.testing.assert_close(loaded.supernet(*x), supernet.eval()(*x))


def test_space_options_are_stored_and_rebuilt(tmp_path):
    space = get_space("emov2", "tiny", num_classes=4)
    save_supernet(tmp_path / "sn", space.build_supernet(), build_meta(space, "digits", {}, {}))
    loaded = load_supernet(tmp_path / "sn")
    assert loaded.space.config["num_classes"] == 4
    assert loaded.supernet(torch.zeros(1, 3, 32, 32)).shape == (1, 4)


@pytest.mark.parametrize("space,preset,field", [("lighthubert", "tiny", "space"), ("mixed-attention", "cifar10-vit", "preset")])
def test_mismatched_space_or_preset_is_named_from_metadata(tmp_path, space, preset, field):
    _, _, directory = _saved(tmp_path)
    with pytest.raises(CheckpointError, match=rf"supernet.json: {field} is '[^']*'.*, expected '{preset if field == 'preset' else space}'"):
        load_supernet(directory, space=space, preset=preset)


def _edit_meta(directory, **changes):
    meta = json.loads((directory / META_FILE).read_text())
    meta.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del meta[key]
    (directory / META_FILE).write_text(json.dumps(meta))


def test_bad_directories_raise_one_line_naming_file_and_field(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_supernet(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="supernet.json: missing"):
        load_supernet(tmp_path / "empty")
    _, _, directory = _saved(tmp_path)

    good = (directory / META_FILE).read_text()
    (directory / META_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="supernet.json: corrupt JSON"):
        load_supernet(directory)
    (directory / META_FILE).write_text(good)
    _edit_meta(directory, format_version=FORMAT_VERSION + 1)
    with pytest.raises(CheckpointError, match="format_version 2 is newer"):
        load_supernet(directory)
    (directory / META_FILE).write_text(good)
    _edit_meta(directory, preset=None)
    with pytest.raises(CheckpointError, match="field 'preset' is missing"):
        load_supernet(directory)
    (directory / META_FILE).write_text(good)

    shutil.copy(directory / CHECKPOINT_FILE, tmp_path / "weights.pt")
    (directory / CHECKPOINT_FILE).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="checkpoint.pt: unreadable checkpoint"):
        load_supernet(directory)
    (directory / CHECKPOINT_FILE).unlink()
    with pytest.raises(CheckpointError, match="checkpoint.pt: missing checkpoint"):
        load_supernet(directory)
    # weights of another preset under matching metadata: refused with the file named, not a torch traceback
    _edit_meta(directory, space_options={"num_classes": 3})
    shutil.copy(tmp_path / "weights.pt", directory / CHECKPOINT_FILE)
    with pytest.raises(CheckpointError, match="checkpoint.pt: weights do not fit mixed-attention/tiny"):
        load_supernet(directory)
    for error in (CheckpointError("x"),):
        assert "\n" not in str(error)
