"""The surrogate searcher: rounds of surrogate-guided picks stored as ordinary trials, with their predictions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml

from hwnas.errors import SpecError
from hwnas.search import Experiment, parse_spec, schema
from hwnas.search.surrogate import Prediction, _improvements, _Pool

#: Small rounds so a test sees several: 5 random trials, then rounds of 3 picks from a short evolution.
OPTIONS = {"initial": 5, "batch": 3, "population": 16, "generations": 3, "members": 2}


def _surrogate_spec(make_spec, trials: int, **options):
    return make_spec(searcher={"kind": "optuna", "sampler": "surrogate", "options": {**OPTIONS, **options}},
                     budget={"trials": trials})


def test_rounds_pick_feasible_unseen_archs_and_store_what_they_expected(make_spec, tmp_path):
    experiment = Experiment(_surrogate_spec(make_spec, 14), f"sqlite:///{tmp_path}/s.db")
    experiment.run()
    trials = sorted(experiment.study.get_trials(), key=lambda t: t.number)
    counted = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(counted) == 14 and len({t.user_attrs[schema.ARCH_ID] for t in counted}) == 14
    complete = [t for t in counted if t.state.name == "COMPLETE"]
    fifth = complete[OPTIONS["initial"] - 1].number  # rounds start once 5 trials hold every modelled value
    picked = [t for t in counted if t.number > fifth]
    assert picked and all(schema.SURROGATE in t.user_attrs for t in picked)
    assert not any(schema.SURROGATE in t.user_attrs for t in counted if t.number <= fifth)
    for trial in picked:
        guess = trial.user_attrs[schema.SURROGATE]
        assert set(guess) == {"naswot"} and guess["naswot"]["std"] >= 0 and np.isfinite(guess["naswot"]["mean"])
        # candidates are priced on the cheap constraint before they are picked: none is cut short by it
        assert trial.state.name == "COMPLETE" and trial.user_attrs[schema.METRICS]["params_m"] <= 0.08


def test_resume_continues_the_rounds_without_repeating_an_arch(make_spec, tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    first = Experiment(_surrogate_spec(make_spec, 9), url)
    first.run()
    before = {r.number: r.arch_id for r in first.rows()}
    second = Experiment(_surrogate_spec(make_spec, 15), url)
    assert second.remaining() == 6
    second.run()
    rows = second.rows()
    assert len(rows) == 15 and len({r.arch_id for r in rows}) == 15
    assert all(before[n] == r.arch_id for r in rows for n in [r.number] if n in before)


def test_a_fresh_run_is_reproducible(make_spec, tmp_path):
    runs = []
    for name in ("a", "b"):
        experiment = Experiment(_surrogate_spec(make_spec, 9), f"sqlite:///{tmp_path}/{name}.db")
        experiment.run()
        runs.append([r.arch_id for r in experiment.rows()])
    assert runs[0] == runs[1]


def test_only_cheap_objectives_are_one_line_naming_the_fix(make_spec, tmp_path):
    spec = make_spec(searcher={"kind": "optuna", "sampler": "surrogate"},
                     objectives=[{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}])
    with pytest.raises(SpecError, match="surrogate sampler models expensive objectives.*use nsga2 or evolution"):
        Experiment(spec, f"sqlite:///{tmp_path}/s.db")
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec.model_dump(exclude_none=True)))
    done = subprocess.run([sys.executable, "-m", "hwnas.cli", "run", str(path), "--storage", f"sqlite:///{tmp_path}/c.db"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "surrogate sampler models expensive objectives" in done.stderr


def test_bad_options_are_spec_errors(make_spec, tmp_path):
    with pytest.raises(SpecError, match="searcher.options: .*batch ≥ 1"):
        Experiment(_surrogate_spec(make_spec, 5, batch=0), f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(SpecError, match="no option 'bogus'"):
        Experiment(_surrogate_spec(make_spec, 5, bogus=1), f"sqlite:///{tmp_path}/s.db")


def test_hypervolume_improvement_of_candidates():
    front, reference = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([2.0, 2.0])
    candidates = np.array([[0.5, 0.5], [1.0, 1.0], [3.0, 0.5], [0.2, 0.9]])
    gains = _improvements(front, candidates, reference)
    np.testing.assert_allclose(gains, [0.25, 0.0, 0.0, 0.08])  # dominated and beyond-reference points add nothing
    np.testing.assert_allclose(_improvements(front[:0], candidates[:1], reference), [2.25])


def _pool(optimistic: list[list[float]], violation: list[float]) -> _Pool:
    """A round's candidates as `_Pool.pick` reads them (exact values: no spread)."""
    pool = _Pool.__new__(_Pool)
    pool.points = [f"arch-{i}" for i in range(len(optimistic))]  # type: ignore[list-item]
    pool.predictions = [Prediction({"score": 0.0}, {"score": float(i)}) for i in range(len(optimistic))]
    pool.optimistic, pool.mean, pool.violation = optimistic, optimistic, violation
    return pool


def test_a_batch_spreads_over_the_front_and_skips_infeasible_candidates():
    # two near-identical candidates in one corner, one in the other, the best one infeasible
    pool = _pool([[0.1, 0.9], [0.11, 0.9], [0.9, 0.1], [0.0, 0.0]], [0.0, 0.0, 0.0, 1.0])
    picks = [point for point, _ in pool.pick(np.zeros((0, 2)), np.array([1.0, 1.0]), 2, rng=None)]  # type: ignore[arg-type]
    assert picks == ["arch-0", "arch-2"]  # the second pick goes where the first (believed at its mean) left room
    nothing_better = pool.pick(np.array([[0.0, 0.0]]), np.array([1.0, 1.0]), 1, rng=None)  # type: ignore[arg-type]
    assert [p for p, _ in nothing_better] == ["arch-2"]  # no gain anywhere: the most uncertain feasible one


def test_co_design_picks_arch_and_hardware_together():
    spec = parse_spec({"name": "joint-surrogate", "space": {"name": "emov2", "preset": "tiny"}, "hardware": {"kind": "accelerator"},
                       "task": {"name": "synthetic", "options": {"input_shape": [3, 32, 32]}},
                       "objectives": [{"metric": "naswot", "direction": "maximize"}, {"metric": "energy_mj", "direction": "minimize"}],
                       "searcher": {"sampler": "surrogate", "options": {**OPTIONS, "initial": 4}}, "budget": {"trials": 8}})
    experiment = Experiment(spec, ":memory:")
    experiment.run()
    trials = [t for t in experiment.study.get_trials() if t.state.name == "COMPLETE"]
    assert len(trials) == 8
    picked = [t for t in trials if schema.SURROGATE in t.user_attrs]
    assert picked and all(t.user_attrs[schema.HARDWARE]["hw_id"] for t in picked)
    points = {(t.user_attrs[schema.ARCH_ID], t.user_attrs[schema.HARDWARE]["hw_id"]) for t in trials}
    assert len(points) == 8


@pytest.mark.parametrize("anchors", [True, False])
def test_the_first_trials_anchor_the_fronts_ends(make_spec, tmp_path, anchors):
    experiment = Experiment(_surrogate_spec(make_spec, 3, anchors=anchors), f"sqlite:///{tmp_path}/s.db")
    experiment.run()
    first = [t.user_attrs[schema.ARCH_ID] for t in sorted(experiment.study.get_trials(), key=lambda t: t.number)][:2]
    extremes = [experiment.space.min_arch().id, experiment.space.max_arch().id]
    assert (first == extremes) == anchors


def test_an_enqueued_trial_keeps_its_arch_and_claims_no_prediction(make_spec, tmp_path):
    """A killed trial's retry is enqueued with its params: it runs that arch, and no pick's prediction is stored on it."""
    url = f"sqlite:///{tmp_path}/s.db"
    Experiment(_surrogate_spec(make_spec, 8), url).run()
    resumed = Experiment(_surrogate_spec(make_spec, 10), url)
    taken = {r.arch_id for r in resumed.rows()}
    retry = next(a for a in (resumed.space.sample(seed) for seed in range(100)) if a.id not in taken)
    resumed.study.enqueue_trial(resumed.space.to_params(retry))
    resumed.run()
    trial = next(t for t in resumed.study.get_trials() if t.user_attrs.get(schema.ARCH_ID) == retry.id)
    assert trial.state.name in ("COMPLETE", "PRUNED") and schema.SURROGATE not in trial.user_attrs
    assert len({r.arch_id for r in resumed.rows()}) == 10
