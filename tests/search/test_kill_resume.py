"""A search killed with SIGKILL mid-run, then re-run: no completed trial lost, none recorded twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from hwnas.search.storage import GRACE_S


def _count(url: str, name: str, states) -> int:  # noqa: ANN001
    try:
        study = optuna.load_study(study_name=name, storage=url)
    except KeyError:
        return 0
    return len(study.get_trials(deepcopy=False, states=states))


def _kill_when(command: list[str], url: str, name: str, finished: int, log: Path, poll_s: float) -> str:
    """Start `hwnas run`, SIGKILL it once the study has `finished` finished trials (or after 240 s); its stderr."""
    with log.open("w") as err:
        worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.time() + 240
        while _count(url, name, (TrialState.COMPLETE, TrialState.PRUNED)) < finished and time.time() < deadline \
                and worker.poll() is None:
            time.sleep(poll_s)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    return log.read_text()


def _run_command(tmp_path, spec: dict) -> tuple:
    """(spec file, storage URL, the `hwnas run` command line) of `spec` on a fresh SQLite storage in `tmp_path`."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    url = f"sqlite:///{tmp_path}/s.db"
    return spec_path, url, [sys.executable, "-m", "hwnas.cli", "run", str(spec_path), "--storage", url]


@pytest.mark.parametrize("searcher", [
    {"kind": "optuna", "sampler": "random"},
    {"kind": "optuna", "sampler": "surrogate", "options": {"initial": 5, "batch": 3, "population": 16, "generations": 2}},
], ids=["random", "surrogate"])
def test_sigkill_then_resume(spec_dict, tmp_path, searcher):
    spec_dict["budget"] = {"trials": 30}
    spec_dict["searcher"] = searcher
    spec_path, url, command = _run_command(tmp_path, spec_dict)
    finished = (TrialState.COMPLETE, TrialState.PRUNED)

    log = _kill_when(command, url, "tiny-search", 8, tmp_path / "worker.log", poll_s=0.2)
    assert _count(url, "tiny-search", finished) >= 8, f"the worker made no progress: {log[-2000:]}"
    study = optuna.load_study(study_name="tiny-search", storage=url)
    completed_before = {t.number: t.values for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert completed_before and 8 <= _count(url, "tiny-search", finished) < 30  # (the largest arch is pruned: params)

    time.sleep(GRACE_S + 3)  # the killed trial's heartbeat goes stale, so the re-run fails and retries it
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr

    study = optuna.load_study(study_name="tiny-search", storage=url)
    trials = study.get_trials()
    done = [t for t in trials if t.state in finished]
    assert len(done) == 30
    assert len({t.user_attrs["arch_id"] for t in done}) == 30  # the re-run continued, it did not replay
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    after = {t.number: t.values for t in trials if t.state == TrialState.COMPLETE}
    assert all(after[n] == v for n, v in completed_before.items())  # nothing lost or rewritten
    assert len({t.number for t in trials}) == len(trials)


def test_a_trial_killed_before_its_first_heartbeat_is_failed_and_retried(make_spec, tmp_path):
    """The narrowest window: a trial created, then the process gone before any heartbeat was written."""
    from datetime import datetime, timedelta

    from hwnas.search import Experiment

    url = f"sqlite:///{tmp_path}/s.db"
    spec = make_spec(budget={"trials": 3}, searcher={"kind": "optuna", "sampler": "random"})
    experiment = Experiment(spec, url)
    orphan = experiment.study.ask()  # RUNNING, no heartbeat: as if SIGKILLed right here
    orphan.suggest_categorical("embed_dim", [32, 48, 64])
    storage = experiment.storage
    from optuna.storages._rdb.models import TrialHeartbeatModel, TrialModel

    session = storage.scoped_session()
    session.query(TrialHeartbeatModel).filter_by(trial_id=orphan._trial_id).delete(synchronize_session=False)
    session.query(TrialModel).filter_by(trial_id=orphan._trial_id).update(
        {TrialModel.__table__.c.datetime_start: datetime.now() - timedelta(seconds=GRACE_S + 5)},
        synchronize_session=False)
    session.commit()
    session.close()
    resumed = Experiment(spec, url)
    states = {t.number: t.state for t in resumed.study.get_trials()}
    assert states[orphan.number] == TrialState.FAIL
    assert TrialState.WAITING in states.values()  # the retry, with the same params
    resumed.run()
    assert not resumed.study.get_trials(states=(TrialState.RUNNING,))


def test_sigkill_during_a_batched_run_then_resume(tmp_path):
    """Cheap objectives run in batches, each written in one transaction: a kill at any moment leaves whole
    batches, nothing RUNNING, and the re-run continues to the exact budget without replaying an arch."""
    spec = {"name": "batched", "space": {"name": "mixed-attention", "preset": "hat-wmt14-en-de"},
            "objectives": [{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}],
            "searcher": {"kind": "optuna", "sampler": "nsga2", "options": {"population_size": 20}},
            "budget": {"trials": 100000}}
    spec_path, url, command = _run_command(tmp_path, spec)
    finished = (TrialState.COMPLETE, TrialState.PRUNED)
    log = _kill_when(command, url, "batched", 150, tmp_path / "worker.log", poll_s=0.05)
    study = optuna.load_study(study_name="batched", storage=url)
    before = {t.number: t.values for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert len(before) >= 150, f"the worker made no progress: {log[-2000:]}"
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))  # batches land whole
    budget = len(study.get_trials(states=finished)) + 60
    spec_path.write_text(yaml.safe_dump({**spec, "budget": {"trials": budget}}))
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    trials = optuna.load_study(study_name="batched", storage=url).get_trials()
    done = [t for t in trials if t.state in finished]
    assert len(done) == budget
    assert len({t.user_attrs["arch_id"] for t in done}) == budget
    assert [t.number for t in trials] == list(range(len(trials)))
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert all(trials[n].values == values for n, values in before.items())
