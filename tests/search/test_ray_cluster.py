"""A real two-node Ray cluster (`ray start --head`, `ray start --address`): trials on both nodes, the driver
killed mid-run and resumed with nothing lost or repeated, and the faults a cluster user meets in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import sqlalchemy.exc
import yaml
from optuna.trial import TrialState

from hwnas.search.storage import GRACE_S
from tests.servers import free_port, ray_cluster

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with ray_cluster(tmp_path_factory.mktemp("cluster"), cpus_per_node=1) as running:
        yield running


def _spec_file(spec_dict, tmp_path, address: str, trials: int, **changes) -> str:
    spec_dict.update(budget={"trials": trials}, constraints=[],
                     searcher={"kind": "ray", "sampler": "random", "workers": 2, "ray_address": address},
                     objectives=[{"metric": "naswot", "direction": "maximize"}, {"metric": "params_m", "direction": "minimize"}])
    spec_dict.update(changes)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec_dict))
    return str(path)


def _hwnas(*args: str) -> list[str]:
    return [sys.executable, "-m", "hwnas.cli", *args]


def _trials(url: str, name: str = "tiny-search") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def test_a_search_spreads_over_both_nodes_and_resumes_after_the_driver_is_killed(cluster, spec_dict, tmp_path):
    spec = _spec_file(spec_dict, tmp_path, cluster.address, trials=24)
    url = f"sqlite:///{tmp_path}/cluster.db"
    command = _hwnas("run", spec, "--storage", url)
    driver = subprocess.Popen(command, env=cluster.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.5)
        if (tmp_path / "cluster.db").exists() and sum(t.state in FINISHED for t in _trials_or_none(url)) >= 8:
            break
    assert driver.poll() is None, f"the driver ended before it was killed: {driver.stderr.read()}"
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and anything it started
    driver.wait()
    before = {t.number: (t.user_attrs["arch_id"], t.values) for t in _trials(url) if t.state in FINISHED}
    assert 8 <= len(before) < 24

    time.sleep(GRACE_S + 1)  # the killed driver's claimed trials are stale after the grace period: failed, then retried
    resumed = subprocess.run(command, env=cluster.env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr

    trials = _trials(url)
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == 24, "the budget is exact across the kill"
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    archs = [t.user_attrs["arch_id"] for t in finished]
    assert len(set(archs)) == len(archs), "an arch was evaluated twice"
    kept = {t.number: (t.user_attrs["arch_id"], t.values) for t in finished if t.number in before}
    assert kept == before, "trials finished before the kill were changed or lost"
    nodes = {t.user_attrs["worker"]["node_id"] for t in finished}
    assert len(nodes) == 2, f"trials ran on {len(nodes)} node(s) of the 2"


def _trials_or_none(url: str) -> list[optuna.trial.FrozenTrial]:
    try:
        return _trials(url)
    except (KeyError, sqlalchemy.exc.SQLAlchemyError):  # the study, or the file's schema, is still being created
        return []


def test_a_device_no_node_offers_is_one_line(cluster, spec_dict, tmp_path):
    spec = _spec_file(spec_dict, tmp_path, cluster.address, trials=2,
                      objectives=[{"metric": "latency_ms", "device": "local-cpu", "direction": "minimize"}])
    out = subprocess.run(_hwnas("run", spec, "--storage", f"sqlite:///{tmp_path}/s.db"),
                         env=cluster.env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    assert "device:local-cpu" in out.stderr and "--resources" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_an_address_that_does_not_answer_is_one_line(spec_dict, tmp_path):
    address = f"127.0.0.1:{free_port()}"
    spec = _spec_file(spec_dict, tmp_path, address, trials=2)
    start = time.monotonic()
    out = subprocess.run(_hwnas("run", spec, "--storage", f"sqlite:///{tmp_path}/s.db"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and address in out.stderr and "does not answer" in out.stderr
    assert time.monotonic() - start < 60  # not Ray's minutes of retrying
