"""Storages for the dashboard tests: a synthetic experiment (two latency devices, infeasible and pruned
trials) and a real `Experiment` run, in SQLite; the synthetic one also as a journal file."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from hwnas.dashboard import write_synthetic_experiment
from hwnas.search import Experiment, parse_spec
from hwnas.search.storage import open_storage

REAL_SPEC = {
    "name": "real-run", "space": {"name": "mixed-attention", "preset": "tiny"},
    "objectives": [{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}],
    "constraints": ["params_m <= 0.06"], "searcher": {"kind": "optuna", "sampler": "random"}, "budget": {"trials": 20}, "seed": 3,
}


def run_real(storage_url: str, trials: int) -> Experiment:
    """The real-run experiment, run (or resumed) to `trials` finished trials."""
    spec = parse_spec({**REAL_SPEC, "budget": {"trials": trials}})
    experiment = Experiment(spec, storage_url)
    experiment.run()
    return experiment


@pytest.fixture(scope="session")
def storage_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite with `synthetic` (240 trials) and `real-run` (20 trials). Tests must not add trials to it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'dash.db'}"
    write_synthetic_experiment(url, 240, name="synthetic", seed=1)
    run_real(url, 20)
    return url


@pytest.fixture(scope="session")
def journal_url(storage_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The synthetic experiment copied into a journal file (fast to open: the fuzz test opens it per query)."""
    url = f"journal:///{tmp_path_factory.mktemp('journal') / 'dash.log'}"
    optuna.copy_study(from_study_name="synthetic", from_storage=open_storage(storage_url), to_storage=open_storage(url))
    return url


@pytest.fixture
def fresh_url(tmp_path: Path) -> str:
    """An empty SQLite storage of this test's own."""
    return f"sqlite:///{tmp_path / 'fresh.db'}"
