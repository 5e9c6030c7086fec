"""`hwnas extract` from a stored experiment, from an arch (with or without a trained supernet), and its
errors; `load_subnet` rebuilds the very module that was extracted."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import optuna
import pytest
import torch

from hwnas.errors import InvalidArchError
from hwnas.export import ExportError, extract_subnet, from_arch, load_subnet, read_arch_json
from hwnas.search_spaces import get_space
from hwnas.tasks import get_task
from tests.export.conftest import run_experiment


def _mnist_batch(n: int = 16) -> torch.Tensor:
    return get_task("mnist1d", num_samples=400).x_val[:n]


def test_extract_a_trial_writes_a_directory_that_loads_back(experiment, cli, tmp_path):
    url, exp = experiment
    row = exp.rows()[2]
    out = tmp_path / "subnet"
    result = cli("extract", "--experiment", "tiny-export", "--trial", row.number, "--out", out, "--storage", url)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "arch.json", "model.onnx", "model.pt"]
    meta = read_arch_json(out)
    assert meta["arch"] == row.arch and meta["arch_id"] == row.arch_id
    assert meta["source"]["experiment"] == "tiny-export" and meta["source"]["trial"] == row.number
    assert meta["metrics"] == pytest.approx(row.metrics)
    assert meta["weights"] == {"from": "initial", "seed": 3, "note": meta["weights"]["note"]}
    assert "mnist1d" in meta["onnx"]["checked_on"] and meta["onnx"]["max_abs_diff"] <= 1e-4

    # the weights are the experiment's seeded supernet initialisation, restricted to the trial's arch
    space = get_space("mixed-attention", "tiny")
    torch.manual_seed(3)
    reference = space.build_supernet().eval()
    reference.set_active(space.validate(row.arch))
    model = load_subnet(out)
    x = _mnist_batch()
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x), atol=1e-6)
    state = torch.load(out / "model.pt", weights_only=True)
    assert set(state) == set(model.state_dict())

    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        diff = np.abs(session.run(None, {"input": x.numpy()})[0] - model(x).numpy()).max()
    assert diff <= 1e-4

    readme = (out / "README.md").read_text()
    assert "from hwnas.export import load_subnet" in readme and f"model = load_subnet({str(out)!r})" in readme
    assert "untrained" in readme and row.arch_id in readme


def test_hardware_choices_of_a_codesign_trial_are_written(experiment, tmp_path):
    url, _ = experiment
    storage = optuna.storages.RDBStorage(url)
    study = optuna.load_study(study_name="tiny-export", storage=storage)
    space = get_space("mixed-attention", "tiny")
    arch = space.sample(11)
    hardware = {"pe_rows": 16, "pe_cols": 8, "dataflow": "output-stationary"}
    study.add_trial(optuna.trial.create_trial(
        values=[0.01, 0.2], user_attrs={"arch": arch.to_dict(), "arch_id": arch.id, "metrics": {"params_m": 0.01},
                                        "feasible": True, "hardware": hardware}))
    number = max(t.number for t in study.trials)
    from hwnas.search.trial_source import trial_source as from_trial

    result = extract_subnet(from_trial(url, "tiny-export", number), tmp_path / "hw")
    assert json.loads((tmp_path / "hw" / "hardware.json").read_text()) == hardware
    assert "dataflow" in (tmp_path / "hw" / "README.md").read_text()
    assert result.meta["arch_id"] == arch.id
    # an ordinary trial has no hardware.json
    extract_subnet(from_trial(url, "tiny-export", 0), tmp_path / "plain")
    assert not (tmp_path / "plain" / "hardware.json").exists()


def test_a_trial_without_an_architecture_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/f.db"
    run_experiment(url, name="failing", budget={"trials": 1})
    study = optuna.load_study(study_name="failing", storage=url)
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    from hwnas.search.trial_source import trial_source as from_trial

    with pytest.raises(ExportError, match="trial 1 of experiment 'failing' recorded no architecture .state FAIL."):
        from_trial(url, "failing", 1)


def test_extract_from_an_experiment_with_a_trained_supernet(trained_supernet, tmp_path):
    from hwnas.training import load_supernet

    url = f"sqlite:///{tmp_path}/sn.db"
    exp = run_experiment(url, name="with-supernet", supernet=str(trained_supernet), budget={"trials": 3})
    row = exp.rows()[1]
    from hwnas.search.trial_source import trial_source as from_trial

    result = extract_subnet(from_trial(url, "with-supernet", row.number), tmp_path / "out")
    weights = result.meta["weights"]
    assert weights["from"] == "supernet" and weights["epochs_done"] == 1
    loaded = load_supernet(trained_supernet)
    loaded.supernet.set_active(loaded.space.validate(row.arch))
    x = _mnist_batch()
    with torch.no_grad():
        assert torch.allclose(load_subnet(tmp_path / "out")(x), loaded.supernet(x), atol=1e-6)
    assert "trained supernet" in (tmp_path / "out" / "README.md").read_text()


def test_conv_subnet_from_a_supernet_dir_gets_batchnorm_statistics_for_its_arch(tmp_path):
    """The extracted module scores exactly as the accuracy evaluator scores the subnet on the supernet."""
    from hwnas.training import build_meta, save_supernet, subnet_accuracy
    from hwnas.training._loop import calibration_batches, evaluate_accuracy

    space = get_space("mobiledets", "tiny")
    torch.manual_seed(0)
    supernet = space.build_supernet()
    save_supernet(tmp_path / "sn", supernet, build_meta(space, "digits", {"input_shape": [3, 32, 32]}, {}, epochs_done=1))
    arch = space.sample(4)
    result = extract_subnet(from_arch(arch.to_json(), None, supernet=str(tmp_path / "sn")), tmp_path / "out")
    assert result.meta["weights"]["bn_recalibrated_on"] == "digits"
    task = get_task("digits")
    expected = subnet_accuracy(supernet.eval(), arch, task, calibration_batches(task))
    model = load_subnet(tmp_path / "out")
    assert evaluate_accuracy(model, task) == pytest.approx(expected)
    x = task.x_val[:32]
    with torch.no_grad():  # subnet_accuracy left `arch` active with its own statistics
        assert torch.allclose(model(x), supernet(x), atol=1e-5)
        assert float((model(x)[0] - model(x)[1]).abs().max()) > 1e-4


def test_arch_file_named_and_min_archs(cli, tmp_path):
    space = get_space("lighthubert", "tiny")
    arch = space.sample(2)
    (tmp_path / "a.json").write_text(arch.to_json())
    result = cli("extract", "--arch", tmp_path / "a.json", "--space", "lighthubert", "--preset", "tiny", "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    meta = read_arch_json(tmp_path / "a")
    assert meta["arch_id"] == arch.id and meta["source"]["arch_file"].endswith("a.json")
    # an arch.json of an extracted subnet is itself an arch file
    result = cli("extract", "--arch", tmp_path / "a" / "arch.json", "--space", "lighthubert", "--out", tmp_path / "b")
    assert result.exit_code == 0 and read_arch_json(tmp_path / "b")["arch_id"] == arch.id
    assert cli("extract", "--arch", "min", "--space", "lighthubert", "--preset", "tiny", "--out", tmp_path / "c").exit_code == 0
    assert read_arch_json(tmp_path / "c")["arch"] == space.min_arch().to_dict()


def test_force_replaces_only_the_subnet_files(cli, tmp_path):
    out = tmp_path / "s"
    args = ("extract", "--arch", "min", "--space", "mixed-attention", "--preset", "tiny", "--out", out)
    assert cli(*args).exit_code == 0
    (out / "notes.txt").write_text("mine")
    refused = cli(*args)
    assert refused.exit_code == 2 and "exists; pass --force" in refused.stderr
    assert cli("extract", "--arch", "max", "--space", "mixed-attention", "--preset", "tiny", "--out", out, "--force").exit_code == 0
    assert read_arch_json(out)["arch"] == get_space("mixed-attention", "tiny").max_arch().to_dict()
    assert (out / "notes.txt").read_text() == "mine"
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no staging folder left behind


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwnas: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_errors_are_one_line(experiment, cli, tmp_path, trained_supernet):
    url, _ = experiment
    out = tmp_path / "x"
    _one_line_error(cli("extract", "--experiment", "tiny-export", "--trial", 99, "--out", out, "--storage", url),
                    "trial 99 is not in experiment 'tiny-export'")
    _one_line_error(cli("extract", "--experiment", "nope", "--trial", 0, "--out", out, "--storage", url),
                    "unknown experiment 'nope'", "tiny-export")
    bad = get_space("mixed-attention", "tiny").max_arch().to_dict() | {"embed_dim": 40}
    _one_line_error(cli("extract", "--arch", json.dumps(bad), "--space", "mixed-attention", "--preset", "tiny", "--out", out),
                    "embed_dim")
    _one_line_error(cli("extract", "--arch", "min", "--space", "lighthubert", "--preset", "tiny", "--supernet",
                        trained_supernet, "--out", out), "space is 'mixed-attention', expected 'lighthubert'")
    _one_line_error(cli("extract", "--arch", "min", "--space", "mixed-attention", "--supernet", trained_supernet,
                        "--preset", "cifar10-vit", "--out", out), "preset is 'tiny'")
    _one_line_error(cli("extract", "--arch", "min", "--supernet", tmp_path / "missing", "--out", out), "not found")
    _one_line_error(cli("extract", "--arch", "min", "--out", out), "--arch needs --space")
    _one_line_error(cli("extract", "--arch", "min", "--experiment", "tiny-export", "--trial", 0, "--out", out), "not both")
    _one_line_error(cli("extract", "--arch", "biggest", "--space", "emov2", "--preset", "tiny", "--out", out), "'biggest'")
    assert not out.exists()


def test_load_subnet_refuses_bad_directories(tmp_path):
    with pytest.raises(ExportError, match="not found"):
        load_subnet(tmp_path / "none")
    extract_subnet(from_arch("min", "mixed-attention", "tiny"), tmp_path / "s")
    (tmp_path / "s" / "model.pt").write_bytes(b"garbage")
    with pytest.raises(ExportError, match="unreadable weights"):
        load_subnet(tmp_path / "s")
    torch.save(get_space("mixed-attention", "tiny").build_supernet().extract(
        get_space("mixed-attention", "tiny").max_arch()).state_dict(), tmp_path / "s" / "model.pt")
    with pytest.raises(ExportError, match="weights do not fit"):
        load_subnet(tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "arch.json").read_text())
    meta["arch"]["embed_dim"] = 40
    (tmp_path / "s" / "arch.json").write_text(json.dumps(meta))
    with pytest.raises(InvalidArchError, match="embed_dim"):
        load_subnet(tmp_path / "s")
