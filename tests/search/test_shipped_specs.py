"""Every spec shipped in experiments/ validates and builds its space and objectives."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwnas.search import Experiment, load_spec
from hwnas.tasks import task_options
from hwnas.training import TrainSettings, train_supernet
from hwnas.training.tasks import space_and_task
from tests.servers import needs_espeak

SPECS = sorted(Path("experiments").glob("*.yaml"))


def _one_epoch_supernet(spec, out: Path) -> str:
    """A spec that scores on a trained supernet gets a real one, trained for one epoch here."""
    space, task, options = space_and_task(spec.space.name, spec.space.preset, spec.task.name, spec.task.options)
    train_supernet(space, task, TrainSettings(epochs=1, num_random=0), out, task_name=spec.task.name,
                   task_options=options, progress=False)
    return str(out)


@pytest.mark.parametrize("path", [pytest.param(p, marks=needs_espeak) if "spoken-digits" in p.read_text() else p for p in SPECS],
                         ids=[p.stem for p in SPECS])
def test_shipped_spec_builds(path, tmp_path):
    spec = load_spec(path)
    if spec.task is not None and "num_samples" in task_options(spec.task.name) and spec.supernet:  # seconds, not minutes
        task = spec.task.model_copy(update={"options": {**spec.task.options, "num_samples": 200}})
        spec = spec.model_copy(update={"task": task})
    if spec.supernet:
        spec = spec.model_copy(update={"supernet": _one_epoch_supernet(spec, tmp_path / "supernet")})
    experiment = Experiment(spec, f"sqlite:///{tmp_path}/s.db")
    arch = experiment.space.sample(0)
    assert set(experiment.objectives.keys) >= set(spec.objective_keys)
    hardware = experiment.hardware_space.sample(0) if experiment.hardware_space else None  # co-design: a point of both
    values = experiment.objectives.evaluate(arch, hardware).values
    assert all(k in values for k in spec.objective_keys)
