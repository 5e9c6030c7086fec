"""A real Ray Tune run: two workers evaluate, the driver writes the same kind of trials to storage."""

from __future__ import annotations

from hwnas.search import Experiment
from hwnas.search.ray_runner import device_resources


def test_ray_workers_fill_the_same_storage(make_spec, tmp_path):
    spec = make_spec(objectives=[{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}],
                     constraints=["params_m <= 0.05"], searcher={"kind": "ray", "sampler": "tpe", "workers": 2},
                     budget={"trials": 6})
    url = f"sqlite:///{tmp_path}/s.db"
    experiment = Experiment(spec, url)
    experiment.run()
    rows = Experiment(spec, url).rows()
    assert len(rows) == 6 and len({r.number for r in rows}) == 6
    for row in rows:
        arch = experiment.space.validate(row.arch)
        assert row.arch_id == arch.id and row.feasible == (row.metrics["params_m"] <= 0.05)
        assert row.state == "COMPLETE"  # only cheap objectives: infeasible trials still complete, marked infeasible


def test_measuring_trials_hold_their_device(make_spec):
    spec = make_spec(objectives=[{"metric": "params_m", "direction": "minimize"}])
    assert device_resources(spec) == {}
