"""A real tiny experiment in a temporary SQLite file, and a real trained tiny supernet, shared by the tests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hwnas.search import Experiment, parse_spec

SPEC = {
    "name": "tiny-export",
    "space": {"name": "mixed-attention", "preset": "tiny"},
    "task": {"name": "mnist1d", "options": {"num_samples": 400}},
    "objectives": [{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}],
    "searcher": {"kind": "optuna", "sampler": "random"},
    "budget": {"trials": 6},
    "seed": 3,
}


def run_experiment(url: str, **changes) -> Experiment:
    experiment = Experiment(parse_spec({**SPEC, **changes}), url)
    experiment.run()
    return experiment


@pytest.fixture(scope="session")
def experiment(tmp_path_factory):
    """(storage URL, Experiment) of 6 finished trials of mixed-attention/tiny."""
    url = f"sqlite:///{tmp_path_factory.mktemp('exp')}/exp.db"
    return url, run_experiment(url)


@pytest.fixture(scope="session")
def trained_supernet(tmp_path_factory):
    """A mixed-attention/tiny supernet trained for one epoch on a small MNIST-1D (`hwnas.training`)."""
    from hwnas.training import TrainSettings, train_supernet
    from hwnas.training.tasks import space_and_task

    space, task, options = space_and_task("mixed-attention", "tiny", "mnist1d", {"num_samples": 400})
    out = tmp_path_factory.mktemp("supernet") / "ma-tiny"
    train_supernet(space, task, TrainSettings(epochs=1, num_random=0), out, task_options=options, progress=False)
    return out


@pytest.fixture
def cli():
    """Run `hwnas ARGS…` in-process; returns the click Result (exit_code, stdout, stderr)."""
    from hwnas.cli import app

    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])
