"""The one registry type, and a blanket contract test per registry that runs every entry.

A new plug-in is one file plus its registration; these tests then run it (and fail until the example
table below covers it, so nothing registered goes untested).
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import soundfile

from hwnas.errors import HwnasError, UnknownNameError
from hwnas.registry import Registry
from hwnas.search import Experiment, parse_spec
from hwnas.search.objectives import METRICS, ObjectiveSet
from hwnas.search.searchers import SAMPLERS, SEARCHERS, spec_samplers
from hwnas.codesign import HARDWARE_KINDS, space_from_options
from hwnas.search_spaces import get_space
from hwnas.tasks import TASKS, get_task


# -- the type ---------------------------------------------------------------------------------------
def test_registry_names_gets_and_refuses():
    plugins: Registry[type] = Registry("widget")
    plugins.register("b", int)

    @plugins.register("a")
    class A:
        pass

    assert plugins.names() == ["a", "b"] and "a" in plugins and len(plugins) == 2
    assert plugins.get("a") is A and plugins.check("b") == "b"
    with pytest.raises(UnknownNameError, match="unknown widget 'c'; choose one of: a, b"):
        plugins.get("c")
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        plugins.register("a", float)
    plugins.register("a", A)  # the same entry again (a module imported twice) is fine


def test_lazy_entries_import_on_first_get_only():
    plugins: Registry[object] = Registry("codec")
    plugins.register_lazy("json", "json:JSONDecoder", summary="standard library")
    assert plugins.names() == ["json"] and plugins.summary("json") == "standard library"
    import json

    assert plugins.get("json") is json.JSONDecoder
    with pytest.raises(ValueError, match="module:attribute"):
        plugins.register_lazy("bad", "no-colon")


# -- searchers ----------------------------------------------------------------------------------------
def _search_spec(kind: str, sampler: str = "nsga2", **searcher: object) -> dict:
    return {
        "name": f"contract-{kind}-{sampler}", "space": {"name": "mixed-attention", "preset": "tiny"},
        "objectives": [{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}],
        "searcher": {"kind": kind, "sampler": sampler, **searcher}, "budget": {"trials": 6}, "seed": 3,
    }


def test_every_registered_sampler_is_offered_by_some_searcher_kind():
    fixed = {SEARCHERS.get(kind).sampler for kind in SEARCHERS.names()} - {None}
    assert set(SAMPLERS.names()) == set(spec_samplers()) | fixed


@pytest.mark.parametrize("kind", SEARCHERS.names())
def test_every_searcher_kind_runs_to_budget(kind):
    options = {"options": {"population_size": 4, "parents": 2}} if kind == "evolution" else {}
    extra = {"workers": 1} if kind == "ray" else {}
    experiment = Experiment(parse_spec(_search_spec(kind, "random", **options, **extra)), ":memory:")
    experiment.run()
    rows = experiment.rows()
    assert len(rows) == 6 and all(experiment.space.validate(r.arch).id == r.arch_id for r in rows)


def test_spec_errors_list_the_registered_names():
    with pytest.raises(HwnasError, match="searcher.kind: Input should be 'evolution', 'optuna' or 'ray', got 'anneal'"):
        parse_spec(_search_spec("anneal"))


# -- tasks ----------------------------------------------------------------------------------------------
def _task_examples(tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    for label in ("a", "b"):
        (images / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8, 3), 40 * i + (100 if label == "b" else 0), np.uint8)).save(images / label / f"{i}.png")
    arrays = tmp_path / "arrays"
    arrays.mkdir()
    np.save(arrays / "x.npy", np.random.default_rng(0).normal(size=(20, 1, 16)).astype(np.float32))
    np.save(arrays / "y.npy", np.arange(20) % 2)
    (tmp_path / "src.txt").write_text("\n".join(f"a b c {i}" for i in range(20)) + "\n")
    (tmp_path / "tgt.txt").write_text("\n".join(f"x y {i}" for i in range(20)) + "\n")
    coco = {"images": [{"id": i, "file_name": f"{label}/{i}.png", "width": 8, "height": 8} for i, label in enumerate("aaaa")],
            "annotations": [{"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 4, 5]} for i in range(4)],
            "categories": [{"id": 1, "name": "thing"}]}
    (images / "instances.json").write_text(json.dumps(coco))
    audio = tmp_path / "audio"
    for label in ("yes", "no"):
        (audio / label).mkdir(parents=True)
        for i in range(3):
            tone = np.sin(np.arange(8000) * (0.05 + 0.02 * i + (0.1 if label == "yes" else 0))).astype(np.float32)
            soundfile.write(audio / label / f"{i}.wav", tone, 8000)
    return {
        "digits": {}, "mnist1d": {"num_samples": 200}, "seq2seq": {"num_samples": 50}, "reversal": {"num_samples": 50},
        "synthetic": {"num_samples": 20, "input_shape": (1, 16)},
        "image-folder": {"path": str(images), "input_shape": (3, 8, 8), "val_fraction": 0.25},
        "npy": {"path": str(arrays)}, "parallel-text": {"source": str(tmp_path / "src.txt"), "target": str(tmp_path / "tgt.txt")},
        "shapes-detection": {"num_samples": 10, "input_shape": (3, 32, 32)},
        "cluttered-digits": {"num_samples": 20},
        "coco": {"path": str(images / "instances.json"), "input_shape": (3, 8, 8), "val_fraction": 0.25},
        "spoken-digits": {"num_samples": 10, "input_shape": (8000,)},
        "audio-folder": {"path": str(audio), "input_shape": (4000,), "val_fraction": 0.34},
    }


def test_every_task_builds_train_and_validation_data(tmp_path):
    examples = _task_examples(tmp_path)
    assert set(examples) == set(TASKS.names()), "add an example for every registered task"
    if shutil.which("espeak-ng") is None and not os.environ.get("CI"):
        del examples["spoken-digits"]  # synthesised with espeak-ng (tests.servers.needs_espeak)
    for name, options in examples.items():
        task = get_task(name, **options)
        train, val = task.loaders(batch_size=4)
        x, y = next(iter(train))
        assert len(x) == len(y) > 0 and len(val.dataset) > 0, name


# -- metrics --------------------------------------------------------------------------------------------
#: What each metric needs in a spec besides itself (a device, a hardware block); `supernet`: a trained one,
#: which this test does not train, so the spec without it must be refused naming it.
METRIC_NEEDS = {
    "params_m": {}, "flops_m": {}, "naswot": {"task": {"name": "synthetic"}},
    "latency_ms": {"device": "xeon"},
    "energy_mj": {"hardware": {"kind": "accelerator"}}, "accel_latency_ms": {"hardware": {"kind": "accelerator"}},
    "area_mm2": {"hardware": {"kind": "accelerator"}}, "deploy_latency_ms": {"hardware": {"kind": "deployment"}},
    "accuracy": {"supernet": True}, "bleu": {"supernet": True}, "map": {"supernet": True}, "map50": {"supernet": True},
    "deploy_accuracy": {"hardware": {"kind": "deployment"}, "supernet": True},
}


@pytest.mark.parametrize("metric", METRICS.names())
def test_every_metric_builds_an_evaluator_or_says_what_it_needs(metric):
    assert metric in METRIC_NEEDS, f"add metric {metric!r} to METRIC_NEEDS"
    needs = METRIC_NEEDS[metric]
    objective = {"metric": metric, "direction": "minimize", **({"device": needs["device"]} if "device" in needs else {})}
    data = {"name": "m", "space": {"name": "mixed-attention", "preset": "hat-wmt14-en-de", "options": {"attention": ["softmax"]}},
            "objectives": [objective], "budget": {"trials": 1},
            **{k: v for k, v in needs.items() if k not in ("device", "supernet")}}
    spec = parse_spec(data)
    space = get_space("mixed-attention", "hat-wmt14-en-de", attention=["softmax"])
    if needs.get("supernet"):
        with pytest.raises(HwnasError, match="supernet"):
            ObjectiveSet(spec, space)
        return
    objectives = ObjectiveSet(spec, space)
    if metric == "deploy_latency_ms":
        return  # measured on this CPU under the device lock; tests/codesign/test_deploy.py runs it
    hardware = None
    if "hardware" in needs:
        from hwnas.codesign import hardware_space

        hardware = hardware_space(needs["hardware"]["kind"]).sample(0)
    result = objectives.evaluate(space.sample(0), hardware)
    assert result.complete and np.isfinite(result.values[spec.objective_keys[0]])


# -- hardware kinds (co-design) -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", HARDWARE_KINDS.names())
def test_every_hardware_kind_samples_validates_and_serves_its_metrics(kind):
    entry = HARDWARE_KINDS.get(kind)
    space = entry.space(None)
    config = space.sample(0)
    assert space.validate(config.to_dict()) == config and config.id == space.validate(config).id
    assert set(entry.metrics) <= set(METRICS.names()), "every metric of a hardware kind is an objective"
    with pytest.raises(HwnasError, match="no option"):
        space_from_options(kind, {"no_such_option": 1})


# -- a profile directory as a device ---------------------------------------------------------------------
def test_a_profile_directory_names_its_metric(tmp_path):
    """`device: path/to/profile` keys the metric by the path the spec gives, everywhere (was a KeyError)."""
    import shutil

    from hwnas.hw_profiles import get_profile

    profile_dir = tmp_path / "my-xeon"
    shutil.copytree(get_profile("xeon").path, profile_dir)
    key = f"latency_ms@{profile_dir}"
    spec = parse_spec({"name": "dir-device", "space": {"name": "mixed-attention", "preset": "hat-wmt14-en-de",
                                                       "options": {"attention": ["softmax"]}},
                       "objectives": [{"metric": "latency_ms", "device": str(profile_dir), "direction": "minimize"}],
                       "constraints": [f"{key} <= 1000000"], "searcher": {"kind": "optuna", "sampler": "random"},
                       "budget": {"trials": 3}})
    experiment = Experiment(spec, ":memory:")
    experiment.run()
    rows = experiment.rows()
    assert len(rows) == 3 and all(r.feasible and r.metrics[key] > 0 for r in rows)
