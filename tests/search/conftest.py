from __future__ import annotations

import copy

import pytest

from hwnas.search import parse_spec

BASE = {
    "name": "tiny-search",
    "space": {"name": "mixed-attention", "preset": "tiny"},
    "task": {"name": "mnist1d", "options": {"num_samples": 400}},
    "objectives": [{"metric": "naswot", "direction": "maximize"}, {"metric": "flops_m", "direction": "minimize"}],
    "constraints": ["params_m <= 0.08"],
    "searcher": {"kind": "optuna", "sampler": "nsga2", "options": {"population_size": 8}},
    "budget": {"trials": 16},
    "seed": 1,
}


@pytest.fixture
def spec_dict():
    return copy.deepcopy(BASE)


@pytest.fixture
def make_spec(spec_dict):
    def make(**changes):
        data = copy.deepcopy(spec_dict)
        data.update(changes)
        return parse_spec(data)

    return make
