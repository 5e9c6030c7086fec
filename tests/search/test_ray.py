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


def test_ray_workers_evaluate_the_surrogates_picks(make_spec, tmp_path):
    """The surrogate sampler runs in the driver; Ray workers evaluate its picks like any trials."""
    spec = make_spec(searcher={"kind": "ray", "sampler": "surrogate", "workers": 2,
                               "options": {"initial": 4, "batch": 2, "population": 16, "generations": 2, "members": 2}},
                     constraints=[], budget={"trials": 9})
    url = f"sqlite:///{tmp_path}/s.db"
    Experiment(spec, url).run()
    trials = [t for t in Experiment(spec, url).study.get_trials() if t.state.name == "COMPLETE"]
    assert len(trials) == 9 and len({t.user_attrs["arch_id"] for t in trials}) == 9
    picked = [t for t in trials if "surrogate" in t.user_attrs]
    assert len(picked) >= 3 and all("naswot" in t.user_attrs["metrics"] for t in picked)
