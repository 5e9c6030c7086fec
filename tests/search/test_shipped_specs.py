"""Every spec shipped in experiments/ validates and builds its space and objectives."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwnas.search import Experiment, load_spec

SPECS = sorted(Path("experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_spec_builds(path, tmp_path):
    spec = load_spec(path)
    experiment = Experiment(spec, f"sqlite:///{tmp_path}/s.db")
    arch = experiment.space.sample(0)
    assert set(experiment.objectives.keys) >= set(spec.objective_keys)
    values = experiment.objectives.evaluate(arch).values
    assert all(k in values for k in ("params_m", "flops_m"))
