"""Real searches on the tiny space: every sampler, cheap-first constraints, resume, fronts."""

from __future__ import annotations

import itertools

import pytest

from hwnas.search import Experiment
from hwnas.search.pareto import minimisation_matrix, pareto_front
from hwnas.search.searchers import spec_samplers

#: The surrogate sampler models expensive objectives only; it runs its own searches in test_surrogate_search.py.
SAMPLERS = [("optuna", name) for name in spec_samplers() if name != "surrogate"] + [("evolution", "nsga2")]


@pytest.mark.parametrize("kind,sampler", SAMPLERS, ids=[f"{k}-{s}" for k, s in SAMPLERS])
def test_every_searcher_runs_to_budget_and_stores_archs(make_spec, tmp_path, kind, sampler):
    options = {"population_size": 6, "parents": 3} if kind == "evolution" else {}
    spec = make_spec(searcher={"kind": kind, "sampler": sampler, "options": options},
                     objectives=[{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}],
                     budget={"trials": 12})
    experiment = Experiment(spec, f"sqlite:///{tmp_path}/s.db")
    experiment.run()
    rows = experiment.rows()
    assert len(rows) == 12
    for row in rows:
        arch = experiment.space.validate(row.arch)
        assert arch.id == row.arch_id
        assert row.feasible == (row.metrics["params_m"] <= 0.08)


def test_cheap_constraint_failure_skips_expensive_objectives(make_spec, tmp_path):
    spec = make_spec(constraints=["params_m <= 0.02"], budget={"trials": 20},
                     searcher={"kind": "optuna", "sampler": "random"})
    experiment = Experiment(spec, f"sqlite:///{tmp_path}/s.db")
    experiment.run()
    rows = experiment.rows()
    pruned = [r for r in rows if r.state == "PRUNED"]
    complete = [r for r in rows if r.state == "COMPLETE"]
    assert pruned and complete
    assert all(not r.feasible and "naswot" not in r.metrics and r.metrics["params_m"] > 0.02 for r in pruned)
    assert all(r.feasible and "naswot" in r.metrics for r in complete)


def test_resume_continues_to_the_budget_without_repeating(make_spec, tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    first = Experiment(make_spec(budget={"trials": 10}), url)
    first.run()
    before = {r.number: r for r in first.rows()}
    second = Experiment(make_spec(budget={"trials": 16}), url)
    assert second.remaining() == 6
    second.run()
    after = second.rows()
    assert len(after) == 16 and len({r.number for r in after}) == 16
    for row in after:
        if row.number in before:
            assert row.metrics == before[row.number].metrics
    Experiment(make_spec(budget={"trials": 16}), url).run()  # budget spent: nothing more
    assert len(Experiment(make_spec(budget={"trials": 16}), url).rows()) == 16


def test_front_is_exactly_the_non_dominated_feasible_set(make_spec, tmp_path):
    experiment = Experiment(make_spec(budget={"trials": 24}, searcher={"kind": "optuna", "sampler": "random"}),
                            f"sqlite:///{tmp_path}/s.db")
    experiment.run()
    rows, keys, directions = experiment.rows(), experiment.spec.objective_keys, experiment.spec.directions
    front = pareto_front(rows, keys, directions)
    feasible = [r for r in rows if r.state == "COMPLETE" and r.feasible]
    values = {r.number: minimisation_matrix([r], keys, directions)[0] for r in feasible}

    def dominated(a):
        return any(all(values[b] <= values[a]) and any(values[b] < values[a]) for b in values if b != a)

    assert {r.number for r in front} == {n for n in values if not dominated(n)}
    filtered = pareto_front(rows, keys, directions, where="flops_m < 0.4")
    assert all(r.metrics["flops_m"] < 0.4 for r in filtered)


def test_evolution_children_come_from_parents(make_spec, tmp_path):
    spec = make_spec(searcher={"kind": "evolution", "options": {"population_size": 8, "parents": 3, "crossover_share": 0.0,
                                                                "mutation_prob": 0.2}},
                     objectives=[{"metric": "params_m", "direction": "minimize"}], constraints=[], budget={"trials": 20})
    experiment = Experiment(spec, f"sqlite:///{tmp_path}/s.db")
    experiment.run()
    rows = experiment.rows()
    sampler = experiment.study.sampler
    best_of_first = sorted(rows[:8], key=lambda r: r.metrics["params_m"])[:3]
    child = experiment.space.validate(rows[8].arch)
    parents = [experiment.space.validate(r.arch) for r in best_of_first]

    def distance(a, b):
        flat = lambda arch: list(itertools.chain.from_iterable(v if isinstance(v, tuple) else (v,) for _, v in sorted(arch.items())))  # noqa: E731
        fa, fb = flat(a), flat(b)
        return sum(x != y for x, y in zip(fa, fb)) + abs(len(fa) - len(fb))

    assert min(distance(child, p) for p in parents) < distance(experiment.space.min_arch(), experiment.space.max_arch())
    assert [t.number for t in sampler.ranked(experiment.study)][:1] == [min(rows, key=lambda r: r.metrics["params_m"]).number]
    assert min(r.metrics["params_m"] for r in rows[8:]) <= min(r.metrics["params_m"] for r in rows[:8])


def test_predicted_latency_objectives_and_out_of_domain_archs(make_spec, tmp_path):
    """An arch whose ops a profile cannot price (EMOv2's 224×224 ops on a Xeon HELP measured at 32×32) is stored as
    infeasible, with the reason; the others get their latency."""
    from hwnas.errors import OutOfDomainError
    from hwnas.hw_profiles import get_profile, predict_archs_ms
    from hwnas.search_spaces import get_space

    spec = make_spec(space={"name": "emov2", "preset": "imagenet"}, task=None, constraints=[],
                     objectives=[{"metric": "latency_ms", "device": "gold-6226", "direction": "minimize"},
                                 {"metric": "params_m", "direction": "minimize"}],
                     searcher={"kind": "optuna", "sampler": "random"}, budget={"trials": 12})
    experiment = Experiment(spec, f"sqlite:///{tmp_path}/s.db")
    experiment.run()
    rows = experiment.rows()
    reasons = {t.number: t.user_attrs.get("infeasible_reason", "") for t in experiment.study.trials}
    space, profile = get_space("emov2", "imagenet"), get_profile("gold-6226")
    states = set()
    for row in rows:
        try:
            expected = float(predict_archs_ms(profile, space, [row.arch])[0])
        except OutOfDomainError:
            assert row.state == "PRUNED" and not row.feasible and "op class" in reasons[row.number]
        else:
            assert row.state == "COMPLETE" and row.metrics["latency_ms@gold-6226"] == pytest.approx(expected)
        states.add(row.state)
    assert len(rows) == 12 and states == {"COMPLETE", "PRUNED"}


def test_unknown_device_is_a_spec_error(make_spec, tmp_path):
    from hwnas.search import SpecError

    spec = make_spec(objectives=[{"metric": "latency_ms", "device": "pixel99", "direction": "minimize"}])
    with pytest.raises(SpecError, match="objectives.0: .*pixel99"):
        Experiment(spec, f"sqlite:///{tmp_path}/s.db")


def test_front_rows_print_an_extract_command_for_their_own_storage(make_spec, tmp_path):
    from hwnas._defaults import DEFAULT_STORAGE
    from hwnas.search.pareto import extract_command
    from hwnas.search.queries import front_rows

    url = f"sqlite:///{tmp_path}/s.db"
    Experiment(make_spec(budget={"trials": 6}, searcher={"kind": "optuna", "sampler": "random"}), url).run()
    rows = front_rows(url, "tiny-search")
    assert rows and all(r["extract"].startswith(f"hwnas extract --experiment tiny-search --trial {r['trial']} --storage {url} ")
                        for r in rows)
    assert "--storage" not in extract_command("quickstart", 3, DEFAULT_STORAGE)


@pytest.mark.parametrize("sampler", ["random", "tpe", "nsga2", "nsga3", "qmc"])
def test_resumed_runs_continue_instead_of_replaying(make_spec, tmp_path, sampler):
    """Every process seeds its sampler by its first trial number: a resumed run proposes new archs, and a
    proposal the study already has is stored as FAIL (`duplicate_of`), never evaluated or counted twice."""
    options = {"population_size": 6} if sampler.startswith("nsga") else {}
    objectives = [{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}]
    url = f"sqlite:///{tmp_path}/s.db"
    for budget in (8, 16, 24):  # two resumes
        make = make_spec(searcher={"kind": "optuna", "sampler": sampler, "options": options}, objectives=objectives,
                         constraints=[], budget={"trials": budget})
        experiment = Experiment(make, url)
        experiment.run()
    rows = experiment.rows()
    assert len(rows) == 24 and len({r.arch_id for r in rows}) == 24
    refused = [t for t in experiment.study.get_trials() if t.state.name == "FAIL"]
    assert all(t.user_attrs["duplicate_of"] in {r.number for r in rows} for t in refused)


def test_a_fresh_run_is_reproducible(make_spec, tmp_path):
    spec = make_spec(searcher={"kind": "optuna", "sampler": "tpe"}, budget={"trials": 6}, constraints=[],
                     objectives=[{"metric": "params_m", "direction": "minimize"}])
    first, again = (Experiment(spec, f"sqlite:///{tmp_path}/{name}.db") for name in ("a", "b"))
    first.run()
    again.run()
    assert [r.arch_id for r in first.rows()] == [r.arch_id for r in again.rows()]
