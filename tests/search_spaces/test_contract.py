"""The SearchSpace/Supernet contract, run over every registered space and preset."""

from __future__ import annotations

import random

import optuna
import pytest
import torch

from hwnas.errors import InvalidArchError
from hwnas.evaluators import subnet_cost
from hwnas.search_spaces import Arch, PerLayer
from hwnas.search_spaces._ops import total_params
from tests.conftest import SPACE_PRESETS, TEST_INPUT_SHAPES

ids = [f"{n}/{p}" for n, p in SPACE_PRESETS]


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=ids)
def test_extracted_subnets_match_supernet(supernets, name, preset):
    space, supernet = supernets(name, preset)
    inputs = space.example_input(2, TEST_INPUT_SHAPES.get((name, preset)))
    rng = random.Random(7)
    archs = [space.min_arch(), space.max_arch()] + [space.sample(rng) for _ in range(48)]
    for arch in archs:
        supernet.set_active(arch)
        subnet = supernet.extract(arch)
        with torch.no_grad():
            expected, got = supernet(*inputs), subnet(*inputs)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0, msg=lambda m: f"{arch.id}: {m}")
        assert sum(p.numel() for p in subnet.parameters()) == total_params(space.ops(arch)), arch
        assert not any(type(m).__name__.startswith(("Elastic", "Mixed")) for m in subnet.modules())


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=ids)
def test_ops_agree_with_fvcore(supernets, name, preset):
    space, supernet = supernets(name, preset)
    shape = TEST_INPUT_SHAPES.get((name, preset))
    for arch in [space.min_arch(), space.max_arch(), space.sample(1), space.sample(2)]:
        cost = subnet_cost(space, arch, shape, module=supernet.extract(arch))
        assert cost.macs > 0
        assert abs(cost.ops_macs - cost.macs) <= 0.02 * cost.macs, (arch, cost)
        assert cost.params == total_params(space.ops(arch, shape))


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=ids)
def test_min_max_and_sampling_are_valid(supernets, name, preset):
    space, _ = supernets(name, preset)
    small, large = space.validate(space.min_arch()), space.validate(space.max_arch())
    assert total_params(space.ops(small)) < total_params(space.ops(large))
    rng = random.Random(3)
    for _ in range(30):
        a, b = space.sample(rng), space.sample(rng)
        assert space.mutate(a, rng) in space
        assert space.crossover(a, b, rng) in space
        assert space.mutate(a, rng, prob=0.0) == a
        assert space.crossover(a, a, rng) == a
    assert space.num_subnets() >= 2


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=ids)
def test_invalid_archs_name_the_field(supernets, name, preset):
    space, supernet = supernets(name, preset)
    arch = space.max_arch()
    glob = next((d.name for d in space.declaration if not isinstance(d, PerLayer)), None)  # fbnet has per-layer choices only
    per_layer = next(d for d in space.declaration if isinstance(d, PerLayer))
    cases = {
        f"{per_layer.name}.0": arch.replace(**{per_layer.name: (999,) + tuple(arch[per_layer.name][1:])}),
        f"'{per_layer.name}' has": arch.replace(**{per_layer.name: tuple(arch[per_layer.name]) + (per_layer.values[0],)}),
        "bogus": arch.replace(bogus=1),
        **({glob: arch.replace(**{glob: 12345})} if glob else {}),
    }
    for field, bad in cases.items():
        with pytest.raises(InvalidArchError, match=field):
            space.validate(bad)
    dropped = glob or per_layer.name
    missing = Arch({k: v for k, v in arch.items() if k != dropped})
    with pytest.raises(InvalidArchError, match=f"'{dropped}' is missing"):
        space.validate(missing)
    before = supernet.active_arch
    with pytest.raises(InvalidArchError):
        supernet.set_active(cases["bogus"])
    assert supernet.active_arch == before


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=ids)
def test_json_round_trip_and_encoding(supernets, name, preset):
    space, _ = supernets(name, preset)
    rng = random.Random(5)
    for _ in range(20):
        arch = space.sample(rng)
        again = space.validate(Arch.from_json(arch.to_json(indent=2)))
        assert again == arch and again.id == arch.id and hash(again) == hash(arch)
        assert space.from_params(space.to_params(arch)) == arch
        vector = space.encode(arch)
        assert vector.shape == (len(space.feature_names()),)
    assert space.encode(space.min_arch()).tolist() != space.encode(space.max_arch()).tolist()


@pytest.mark.parametrize("name,preset", SPACE_PRESETS, ids=ids)
def test_optuna_suggest_reaches_every_choice(supernets, name, preset):
    space, _ = supernets(name, preset)
    seen: dict[str, set] = {d.name: set() for d in space.declaration}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        arch = space.suggest(trial)
        assert space.from_params(trial.params) == arch
        for key, value in arch.items():
            seen[key].update(value if isinstance(value, tuple) else (value,))
        return float(len(arch.to_json()))

    most = max(len(d.values) for d in space.declaration)
    study.optimize(objective, n_trials=max(80, 8 * most))  # enough draws to see each of `most` values
    for decl in space.declaration:
        assert seen[decl.name] == set(decl.values), decl.name
