"""Experiment specs: every bad input is one line naming the key path; storage stays untouched."""

from __future__ import annotations

import pytest
import yaml

from hwnas.search import Experiment, SpecError, load_spec, parse_spec
from hwnas.search.spec import Constraint
from hwnas.search.storage import StorageError


def test_quickstart_spec_is_valid():
    spec = load_spec("experiments/quickstart.yaml")
    assert spec.objective_keys[0] == "naswot" and spec.budget.trials


@pytest.mark.parametrize("change,message", [
    ({"searcher": {"sampler": "annealing"}}, "searcher.sampler: Input should be 'gp', 'nsga2', 'nsga3', 'qmc', 'random', 'surrogate' or 'tpe', got 'annealing'"),
    ({"budget": {"trials": 0}}, "budget.trials: Input should be greater than 0"),
    ({"budget": {}}, "budget: give trials and/or minutes"),
    ({"objectives": []}, "objectives: List should have at least 1 item"),
    ({"objectives": [{"metric": "naswot", "direction": "up"}]}, "objectives.0.direction"),
    ({"constraints": ["latency_ms@pixel4 < 20"]}, "constraints.0: constraint 'latency_ms@pixel4 < 20' must look like"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"name": "has space"}, "name: String should match pattern"),
])
def test_schema_errors_name_the_key_path(spec_dict, change, message):
    spec_dict.update(change)
    with pytest.raises(SpecError) as err:
        parse_spec(spec_dict, "x.yaml")
    assert message in str(err.value) and str(err.value).startswith("x.yaml: ") and "\n" not in str(err.value)


@pytest.mark.parametrize("change,message", [
    ({"objectives": [{"metric": "top5_accuracy", "direction": "maximize"}]},
     "objectives.0: unknown metric 'top5_accuracy'; choose one of:"),
    ({"constraints": ["foo_ms <= 3"]}, "constraints.0: unknown metric 'foo_ms'"),
    ({"objectives": [{"metric": "params_m", "direction": "minimize", "device": "pixel4"}]}, "takes no device"),
    ({"space": {"name": "resnet"}}, "space: unknown search space 'resnet'"),
    ({"space": {"name": "mixed-attention", "preset": "huge"}}, "space: unknown preset"),
    ({"searcher": {"sampler": "nsga2", "options": {"populaton_size": 8}}}, "nsga2 sampler has no option 'populaton_size'"),
    ({"task": None}, "task: the naswot proxy needs a task"),
])
def test_semantic_errors_before_anything_is_stored(make_spec, tmp_path, change, message):
    storage = tmp_path / "s.db"
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Experiment(make_spec(**change), f"sqlite:///{storage}")
    assert not storage.exists() or storage.stat().st_size == 0 or "tiny-search" not in storage.read_bytes().decode("latin1")


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nspace: [unclosed\n")
    with pytest.raises(SpecError, match=r"bad.yaml: malformed YAML at line \d+"):
        load_spec(bad)
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(SpecError, match="must be a YAML mapping"):
        load_spec(listy)


def test_unopenable_storage_is_one_line(make_spec, tmp_path):
    with pytest.raises(StorageError, match="cannot be opened: folder"):
        Experiment(make_spec(), f"sqlite:///{tmp_path}/no/such/dir/x.db")
    with pytest.raises(StorageError, match="cannot be opened"):
        Experiment(make_spec(), "nosuchdialect://x")


def test_constraint_violation_sign():
    le, ge = Constraint.parse("latency_ms@pixel4 <= 20"), Constraint.parse("params_m >= 1.5")
    assert (le.key, le.violation(18), le.violation(25)) == ("latency_ms@pixel4", -2, 5)
    assert ge.violation(2.0) == -0.5 and ge.violation(1.0) == 0.5


def test_devices_with_a_colon_parse_in_constraints_and_queries():
    """nn-Meter devices are named `nnmeter:<predictor>`; constraints and `--where` clauses read them whole."""
    from hwnas.search.pareto import parse_where

    key = "latency_ms@nnmeter:cortexA76cpu_tflite21"
    assert Constraint.parse(f"{key} <= 30").key == key
    assert parse_where(f"{key} < 30 and params_m >= 1", [key, "params_m"]) == [(key, "<", 30.0), ("params_m", ">=", 1.0)]


def test_same_name_with_other_objectives_is_refused(make_spec, tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    Experiment(make_spec(budget={"trials": 2}), url).run()
    other = make_spec(objectives=[{"metric": "params_m", "direction": "minimize"}])
    with pytest.raises(SpecError, match="already exists"):
        Experiment(other, url)
    assert len(Experiment(make_spec(budget={"trials": 2}), url).rows()) == 2  # nothing lost
