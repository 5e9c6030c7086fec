"""Two `hwnas run` processes on one SQLite file: no "database is locked", one shared budget, no arch twice."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest
import yaml
from optuna.trial import TrialState


@pytest.mark.parametrize("sampler", ["random", "nsga2"])
def test_two_processes_share_one_sqlite_study(spec_dict, tmp_path, sampler):
    options = {"population_size": 8} if sampler == "nsga2" else {}
    spec_dict.update(budget={"trials": 24}, searcher={"kind": "optuna", "sampler": sampler, "options": options},
                     objectives=[{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}])
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec_dict))
    url = f"sqlite:///{tmp_path}/shared.db"
    command = [sys.executable, "-m", "hwnas.cli", "run", str(spec_path), "--storage", url]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
        assert "database is locked" not in err
    trials = optuna.load_study(study_name="tiny-search", storage=url).get_trials()
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 24  # workers claim trials before evaluating: the budget is exact
    assert len({t.number for t in trials}) == len(trials)
    archs = [t.user_attrs["arch_id"] for t in finished]
    assert len(set(archs)) == len(archs), "a worker evaluated an arch the other already had"
    refused = [t for t in trials if t.state == TrialState.FAIL]
    assert all("duplicate_of" in t.user_attrs or "arch_id" not in t.user_attrs for t in refused)
