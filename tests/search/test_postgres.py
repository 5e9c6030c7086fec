"""A real PostgreSQL server (initdb + pg_ctl in a temp dir): workers share a study over `postgresql://`,
survive a SIGKILLed peer, and the read-only commands and the dashboard read what they stored."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from hwnas.errors import StorageError
from hwnas.search import storage as storage_module
from hwnas.search.storage import AdvisoryLock, open_storage, redact, sqlalchemy_url, study_lock
from tests.servers import PG_PASSWORD, postgres_server

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture(scope="module")
def server():
    with postgres_server() as running:
        yield running


_databases = iter(range(1_000))


@pytest.fixture
def database(server):
    """A fresh database per test on the shared server."""
    return server.create_database(f"test_{next(_databases)}")


def _hwnas(*args: str) -> list[str]:
    return [sys.executable, "-m", "hwnas.cli", *args]


def _finished(url: str) -> list[optuna.trial.FrozenTrial]:
    try:
        study = optuna.load_study(study_name="tiny-search", storage=sqlalchemy_url(url))
    except KeyError:  # not created yet
        return []
    return [t for t in study.get_trials(deepcopy=False) if t.state in FINISHED]


def test_two_workers_share_a_study_and_one_survives_the_others_sigkill(database, spec_dict, tmp_path):
    budget = 200  # ~0.1 s a trial: the survivor outlives the grace period after which the victim's trial is retried
    spec_dict.update(budget={"trials": budget}, constraints=[], searcher={"kind": "optuna", "sampler": "random"},
                     objectives=[{"metric": "naswot", "direction": "maximize"}, {"metric": "params_m", "direction": "minimize"}])
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_dict))
    command = _hwnas("run", str(spec), "--storage", database)
    victim, survivor = (subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                        for _ in range(2))
    deadline = time.monotonic() + 300
    while len(_finished(database)) < 20 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.2)
    assert victim.poll() is None, victim.stderr.read()
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    _, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, err

    study = optuna.load_study(study_name="tiny-search", storage=sqlalchemy_url(database))
    trials = study.get_trials(deepcopy=False)
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == budget, "the survivor finishes the shared budget, exactly"
    archs = [t.user_attrs["arch_id"] for t in finished]
    assert len(set(archs)) == len(archs), "an arch was evaluated twice"
    assert not [t for t in trials if t.state == TrialState.RUNNING], "the victim's trial was failed and retried"

    pareto = subprocess.run(_hwnas("pareto", "--experiment", "tiny-search", "--storage", database, "--format", "json"),
                            capture_output=True, text=True, timeout=120)
    assert pareto.returncode == 0, pareto.stderr
    assert PG_PASSWORD not in pareto.stdout + pareto.stderr

    from hwnas.dashboard import create_app  # Dash is heavy; only this test needs it

    client = create_app(database).server.test_client()
    listed = client.get("/api/experiments").get_json()
    assert [e["name"] for e in listed] == ["tiny-search"] and listed[0]["trials_done"] == budget
    rows = client.get("/api/experiments/tiny-search/trials").get_json()
    assert len(rows) == budget


def test_bad_credentials_are_one_line_without_the_password(server, tmp_path, spec_dict):
    url = server.url(password="not-the-password")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_dict))
    out = subprocess.run(_hwnas("run", str(spec), "--storage", url), capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "password authentication failed" in out.stderr and "not-the-password" not in out.stderr


def test_a_missing_driver_names_the_extra(monkeypatch, server):
    monkeypatch.setattr(storage_module, "POSTGRES_DRIVER", "hwnas_no_such_driver")
    with pytest.raises(StorageError, match=r"pip install 'hwnas\[postgres\]'") as raised:
        open_storage(server.url())
    assert PG_PASSWORD not in str(raised.value)


def test_postgres_urls_mean_psycopg_3():
    assert sqlalchemy_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert sqlalchemy_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert sqlalchemy_url("postgresql+psycopg2://u:p@h/db") == "postgresql+psycopg2://u:p@h/db"
    assert sqlalchemy_url("sqlite:///x.db") == "sqlite:///x.db"
    assert redact("postgresql://user:secret@host:5432/db") == "postgresql://user:***@host:5432/db"


def test_the_claim_lock_is_held_across_processes_and_freed_when_its_holder_dies(database):
    assert isinstance(study_lock(database), AdvisoryLock)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom hwnas.search.storage import study_lock\n"
        "lock = study_lock(sys.argv[1]); lock.__enter__(); print('held', flush=True); time.sleep(600)"), database],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        acquired = threading.Event()

        def take() -> None:
            with study_lock(database):
                acquired.set()

        threading.Thread(target=take, daemon=True).start()
        assert not acquired.wait(1.5), "a second process took the lock while the first held it"
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        assert acquired.wait(30), "the lock of a killed holder was never freed"
    finally:
        holder.kill()
