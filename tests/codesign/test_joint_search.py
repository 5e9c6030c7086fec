"""Joint searches: every trial picks an arch and an accelerator; both are stored, searched and resumed."""

from __future__ import annotations

import copy

import pytest

from hwnas.codesign import PREFIX, JointSpace, accelerator_space
from hwnas.search import Experiment, SpecError, parse_spec
from hwnas.search.objectives import ObjectiveSet
from hwnas.search_spaces import get_space

BASE = {
    "name": "joint",
    "space": {"name": "emov2", "preset": "tiny"},
    "hardware": {"kind": "accelerator"},
    "objectives": [{"metric": "flops_m", "direction": "maximize"}, {"metric": "energy_mj", "direction": "minimize"},
                   {"metric": "area_mm2", "direction": "minimize"}],
    "constraints": ["accel_latency_ms <= 0.3"],
    "searcher": {"kind": "optuna", "sampler": "nsga2", "options": {"population_size": 6}},
    "budget": {"trials": 14},
    "seed": 2,
}


def spec(**changes):
    data = copy.deepcopy(BASE)
    data.update(changes)
    return parse_spec(data)


SEARCHERS = [{"kind": "optuna", "sampler": "tpe"}, {"kind": "optuna", "sampler": "nsga2", "options": {"population_size": 6}},
             {"kind": "evolution", "options": {"population_size": 6, "parents": 3}}]


@pytest.mark.parametrize("searcher", SEARCHERS, ids=["tpe", "nsga2", "evolution"])
def test_every_searcher_searches_arch_and_hardware_and_stores_both(searcher):
    experiment = Experiment(spec(searcher=searcher), ":memory:")
    experiment.run()
    rows, trials = experiment.rows(), experiment.study.get_trials()
    assert len(rows) == 14
    hardware = accelerator_space()
    for row, trial in zip(rows, trials):
        config = hardware.validate(row.hardware)
        assert row.hardware["hw_id"] == config.id
        assert {k for k in trial.params if k.startswith(PREFIX)} == {PREFIX + k for k in hardware.choices}
        assert hardware.from_params(trial.params) == config
        assert set(row.metrics) >= {"energy_mj", "accel_latency_ms", "area_mm2", "flops_m"}
        assert row.feasible == (row.metrics["accel_latency_ms"] <= 0.3)
    assert len({r.hardware["hw_id"] for r in rows}) > 3  # the hardware is searched, not fixed


def test_evolution_mutates_and_crosses_the_hardware_too():
    experiment = Experiment(spec(searcher=SEARCHERS[2], budget={"trials": 20}), ":memory:")
    assert isinstance(experiment.search_space, JointSpace)
    experiment.run()
    rows = experiment.rows()
    parents = {r.hardware["hw_id"] for r in rows[:6]}
    children = [r for r in rows[6:]]
    assert any(r.hardware["hw_id"] in parents for r in children)  # inherited from the population
    assert len({(r.arch_id, r.hardware["hw_id"]) for r in rows}) == 20  # no (arch, hardware) pair twice


def test_a_pinned_accelerator_is_an_arch_only_search():
    pinned = {"choices": {"pe_rows": [16], "pe_cols": [16], "rf_bytes": [64], "sram_kb": [64], "dram_gbps": [8.0],
                          "dataflow": ["os"]}}
    experiment = Experiment(spec(hardware={"kind": "accelerator", "options": pinned}, budget={"trials": 8}), ":memory:")
    experiment.run()
    assert {r.hardware["hw_id"] for r in experiment.rows()} == {accelerator_space(pinned["choices"]).sample(0).id}


def test_resume_primes_the_cost_cache_by_arch_and_hardware(tmp_path):
    url = f"sqlite:///{tmp_path}/j.db"
    Experiment(spec(budget={"trials": 3}), url).run()
    resumed = Experiment(spec(budget={"trials": 3}), url)
    evaluator = resumed.objectives.evaluators["accelerator"]
    stored = {f"{r.arch_id}:{r.hardware['hw_id']}": r.metrics["energy_mj"] for r in resumed.rows()}
    assert {k: v["energy_mj"] for k, v in evaluator._cache.items()} == stored


def test_an_impossible_hardware_combination_is_an_infeasible_trial():
    options = {"choices": {"pe_rows": [8, 32], "pe_cols": [32], "sram_kb": [1]}}
    experiment = Experiment(spec(hardware={"kind": "accelerator", "options": options},
                                 searcher={"kind": "optuna", "sampler": "random"}, budget={"trials": 10}), ":memory:")
    experiment.run()
    rows = experiment.rows()
    bad = [t for t in experiment.study.get_trials() if t.params.get(f"{PREFIX}pe_rows") == 32]
    assert bad and all(t.state.name == "PRUNED" and "smaller than one tile" in t.user_attrs["infeasible_reason"] for t in bad)
    assert all(r.arch for r in rows)  # the arch of a refused trial is still stored


@pytest.mark.parametrize(("changes", "message"), [
    ({"hardware": None}, "objectives.1: metric 'energy_mj' needs `hardware: {kind: accelerator}` in the spec, got no hardware block"),
    ({"hardware": {"kind": "deployment"}}, "metric 'energy_mj' needs `hardware: {kind: accelerator}`.*got kind 'deployment'"),
    ({"hardware": {"kind": "accelerator", "options": {"choices": {"pe_depth": [2]}}}}, "hardware: accelerator hardware: unknown choice 'pe_depth'"),
    ({"hardware": {"kind": "accelerator", "options": {"backend": "zigzag"}}}, "accelerator hardware has no option 'backend'"),
    ({"hardware": {"kind": "asic"}}, "hardware.kind: Input should be 'accelerator' or 'deployment'"),
])
def test_spec_errors_name_the_key(changes, message):
    with pytest.raises(SpecError, match=message.replace("{", r"\{").replace("}", r"\}").replace("(", r"\(")):
        Experiment(spec(**changes), ":memory:")


def test_deploy_accuracy_needs_a_trained_supernet():
    data = spec(hardware={"kind": "deployment"}, objectives=[{"metric": "deploy_accuracy", "direction": "maximize"}],
                constraints=[])
    with pytest.raises(SpecError, match="deploy_accuracy' needs a trained supernet"):
        ObjectiveSet(data, get_space("emov2", "tiny"))


def test_ray_workers_search_arch_and_hardware():
    experiment = Experiment(spec(searcher={"kind": "ray", "sampler": "tpe", "workers": 1}, budget={"trials": 4}), ":memory:")
    experiment.run()
    rows = experiment.rows()
    assert len(rows) == 4
    for row in rows:
        assert accelerator_space().validate(row.hardware).id == row.hardware["hw_id"]
        assert {"energy_mj", "accel_latency_ms", "area_mm2"} <= set(row.metrics)


def test_measured_deployment_trials_hold_the_cpu_under_ray():
    from hwnas.search.ray_runner import device_resources

    deploy = spec(hardware={"kind": "deployment"}, objectives=[{"metric": "deploy_latency_ms", "direction": "minimize"}],
                  constraints=[])
    assert device_resources(deploy) == {"device:local-cpu": 1.0}
    assert device_resources(spec()) == {}
