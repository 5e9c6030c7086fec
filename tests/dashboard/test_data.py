from __future__ import annotations

from dataclasses import replace

import optuna
import pytest

from hwnas.dashboard import TrialStore, write_synthetic_experiment
from hwnas.errors import UnknownNameError
from hwnas.search import list_experiments, load_study, open_storage, trial_rows
from tests.dashboard.conftest import run_real


@pytest.mark.parametrize("name", ["synthetic", "real-run"])
def test_rows_are_the_cli_rows(storage_url: str, name: str) -> None:
    """The fast SQL read gives exactly the rows `hwnas trials` / `hwnas pareto` build through Optuna."""
    data = TrialStore(storage_url).experiment(name)
    cli = trial_rows(load_study(open_storage(storage_url), name))
    assert data.rows_with_archs() == cli
    assert data.rows == [replace(r, arch={}) for r in cli]  # read lean: an arch is read when shown
    assert all(data.row_with_arch(r.number) == r for r in cli[:5])
    assert [r.number for r in data.rows] == sorted(r.number for r in data.rows)


def test_journal_storage_reads_through_optuna(journal_url: str, storage_url: str) -> None:
    assert TrialStore(journal_url).experiment("synthetic").rows == TrialStore(storage_url).experiment("synthetic").rows_with_archs()


def test_summaries_match_hwnas_experiments(storage_url: str) -> None:
    ours = {s["name"]: s for s in TrialStore(storage_url).summaries()}
    for summary in list_experiments(open_storage(storage_url)):
        row = ours[summary.name]
        assert {k: row[k] for k in summary.to_dict()} == summary.to_dict()
        assert row["hypervolume"] > 0


def test_synthetic_experiment_has_what_the_page_shows(storage_url: str) -> None:
    data = TrialStore(storage_url).experiment("synthetic")
    assert len(data.rows) == 240
    assert data.objective_keys == ["naswot", "latency_ms@pixel4", "params_m"]
    assert data.directions == ["maximize", "minimize", "minimize"]
    assert data.latency_keys == ["latency_ms@pixel4", "latency_ms@xeon"]
    assert 0 < (~data.feasible).sum() < 60 and (~data.complete).sum() > 0  # infeasible ones, some stopped early
    assert data.constraints == [f"latency_ms@xeon <= {data.spec['constraints'][0]['bound']:g}"]
    assert data.direction("flops_m") == "minimize" and data.direction("naswot") == "maximize"


def test_unknown_experiment_names_the_known_ones(storage_url: str) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown experiment 'nope'; choose one of: real-run, synthetic"):
        TrialStore(storage_url).experiment("nope")


def test_new_trials_are_read_as_they_finish(fresh_url: str) -> None:
    """A running search: the store tops up with only the new trials, and the version changes."""
    run_real(fresh_url, 6)
    store = TrialStore(fresh_url, min_check_s=0.0)
    before = store.experiment("real-run")
    assert len(before.rows) == 6 and store.experiment("real-run") is before  # nothing new: the same object
    run_real(fresh_url, 10)
    after = store.experiment("real-run")
    assert len(after.rows) == 10 and after.version != before.version
    assert after.rows[:6] == before.rows
    assert after.rows_with_archs() == trial_rows(load_study(open_storage(fresh_url), "real-run"))  # the top-up reads their archs too


def test_checks_are_throttled(fresh_url: str) -> None:
    run_real(fresh_url, 3)
    store = TrialStore(fresh_url, min_check_s=60.0)
    first = store.experiment("real-run")
    run_real(fresh_url, 5)
    assert store.experiment("real-run") is first  # within min_check_s: no query at all


def test_synthetic_names_are_unique(fresh_url: str) -> None:
    write_synthetic_experiment(fresh_url, 5, name="twice")
    with pytest.raises(optuna.exceptions.DuplicatedStudyError):
        write_synthetic_experiment(fresh_url, 5, name="twice")
