"""The `HardwareSpace` contract, run over both hardware spaces: the choice algebra on hardware choices, and the
registry of hardware kinds."""

from __future__ import annotations

import random

import numpy as np
import optuna
import pytest

from hwnas.codesign import (
    HARDWARE_KINDS, METRIC_KIND, PREFIX, Accelerator, HardwareConfig, HardwareKind, HardwareSpace, InvalidHardwareError,
    accelerator_space, deployment_space, hardware_space, make_evaluator, space_from_options,
)
from hwnas.search_spaces import Arch, ChoiceSpace, SearchSpace

SPACES = {"accelerator": accelerator_space, "deployment": deployment_space}


@pytest.fixture(params=sorted(SPACES))
def space(request) -> HardwareSpace:
    return SPACES[request.param]()


def test_sample_is_seeded_valid_and_has_a_stable_id(space):
    a, b = space.sample(3), space.sample(3)
    assert a == b and a.id == b.id and len(a.id) == 16
    assert space.validate(a) == a
    configs = {space.sample(i).id for i in range(40)}
    assert len(configs) > 5  # it does explore


def test_mutate_and_crossover_stay_in_the_space_and_draw_from_parents(space):
    rng = random.Random(0)
    a, b = space.sample(1), space.sample(2)
    for _ in range(20):
        child = space.crossover(a, b, rng)
        assert all(child[k] in (a[k], b[k]) for k in space.choices)
        mutant = space.mutate(a, rng, prob=0.5)
        assert space.validate(mutant) == mutant
    assert space.mutate(a, rng, prob=0.0) == a
    assert any(space.mutate(a, rng, prob=1.0) != a for _ in range(10))


def test_encode_matches_feature_names_and_separates_configs(space):
    a, b = space.min_config(), space.max_config()
    assert space.encode(a).shape == (len(space.feature_names()),)
    assert all(name.startswith(PREFIX) for name in space.feature_names())
    assert not np.array_equal(space.encode(a), space.encode(b))


def test_suggest_round_trips_through_optuna_with_prefixed_params(space):
    study = optuna.create_study()
    config = space.sample(5)
    study.enqueue_trial(space.to_params(config))
    trial = study.ask()
    assert space.suggest(trial) == config
    assert set(trial.params) == {PREFIX + name for name in space.choices}
    assert space.from_params({**trial.params, "embed_dim": 64}) == config  # arch params are ignored


def test_validate_names_the_bad_field(space):
    config = dict(space.sample(0))
    name = next(iter(space.choices))
    with pytest.raises(InvalidHardwareError, match=f"hardware field '{name}'"):
        space.validate({**config, name: "nonsense"})
    with pytest.raises(InvalidHardwareError, match="unknown hardware field 'bogus'"):
        space.validate({**config, "bogus": 1})
    missing = {k: v for k, v in config.items() if k != name}
    with pytest.raises(InvalidHardwareError, match=f"'{name}' is missing"):
        space.validate(missing)
    with pytest.raises(InvalidHardwareError, match=f"lack '{PREFIX}"):
        space.from_params({})


def test_num_configs_counts_the_grid():
    assert deployment_space().num_configs() == 8
    assert accelerator_space().num_configs() == 3 ** 6


def test_choices_narrow_or_pin_the_space():
    pinned = accelerator_space({"dataflow": ["rs"], "pe_rows": 16, "pe_cols": [16]})
    assert {pinned.sample(i)["dataflow"] for i in range(20)} == {"rs"}
    assert {pinned.sample(i)["pe_rows"] for i in range(20)} == {16}
    with pytest.raises(InvalidHardwareError, match="unknown choice 'pe_depth'"):
        accelerator_space({"pe_depth": [2]})
    with pytest.raises(InvalidHardwareError, match="kind 'fpga'"):
        hardware_space("fpga")


def test_accelerator_configs_are_accelerators_with_the_same_id():
    config = accelerator_space().sample(7)
    assert Accelerator.from_config(config).id == config.id


def test_an_invalid_combination_is_refused_by_suggest_and_never_sampled():
    """SRAM of 1 KB is smaller than one tile of a 32×32 array (1,184 bytes) but fits an 8×8 one."""
    space = accelerator_space({"pe_rows": [8, 32], "pe_cols": [32], "sram_kb": [1]})
    assert {space.sample(i)["pe_rows"] for i in range(30)} == {8}
    study = optuna.create_study()
    study.enqueue_trial({f"{PREFIX}pe_rows": 32})
    with pytest.raises(InvalidHardwareError, match="'sram_kb' = 1 is smaller than one tile"):
        space.suggest(study.ask())
    assert not space.is_valid(Arch({**space.sample(0), "pe_rows": 32}))


def test_hardware_spaces_are_choice_spaces_without_a_supernet(space):
    assert isinstance(space, ChoiceSpace) and not isinstance(space, SearchSpace)
    for name in ("build_supernet", "ops", "blocks", "io", "example_input"):
        assert not hasattr(space, name), name
    config = space.sample(0)
    assert isinstance(config, HardwareConfig) and isinstance(space.validate(dict(config)), HardwareConfig)
    plain = Arch(dict(config))  # hw_id and JSON are those of an Arch with the same choices
    assert config.id == plain.id and config.to_json() == plain.to_json() and config == plain
    assert isinstance(config.replace(), HardwareConfig)
    assert space.validate({**config, "hw_id": config.id}) == config  # stored rows carry their id


def test_hardware_kinds_registry_knows_spaces_options_and_metrics():
    assert HARDWARE_KINDS.names() == ["accelerator", "deployment"]
    for name, kind in HARDWARE_KINDS.items():
        assert isinstance(kind, HardwareKind) and kind.space(None).kind == name and "choices" in kind.options
        assert all(METRIC_KIND[m] == name for m in kind.metrics)
        assert hardware_space(name).choices == kind.space(None).choices
    assert set(METRIC_KIND) == {"energy_mj", "accel_latency_ms", "area_mm2", "deploy_latency_ms", "deploy_accuracy"}
    with pytest.raises(InvalidHardwareError, match="unknown hardware kind 'fpga'; choose one of: accelerator, deployment"):
        space_from_options("fpga", {})
    with pytest.raises(InvalidHardwareError, match="accelerator hardware has no option 'repeats'; options: choices"):
        space_from_options("accelerator", {"repeats": 3})
    with pytest.raises(InvalidHardwareError, match="needs `hardware: {kind: deployment}`"):
        make_evaluator("deploy_latency_ms", "accelerator", {}, None)  # type: ignore[arg-type]
