"""Synthetic experiments of any size, written in seconds: for the dashboard's tests, its 10,000-trial
load benchmark and demos. Archs and params/FLOPs are real (sampled from a space, counted from its ops);
the proxy score and the latencies are made-up functions of them, and the spec's name says so.

Optuna writes one transaction per trial (about 20 ms each here), so trials go into an RDB storage in
bulk through Optuna's own table definitions; other storages get them through `study.add_trials`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from typing import Any

import optuna
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.trial import TrialState

from hwnas.evaluators import CountEvaluator
from hwnas.search import schema
from hwnas.search.spec import parse_spec
from hwnas.search.storage import open_storage
from hwnas.search_spaces import Arch, get_space

#: The made-up devices: a phone that pays for FLOPs, a server CPU that pays for attention kinds and depth.
_KIND_COST = {"softmax": 1.0, "cosformer": 0.7, "relative": 1.3}


def synthetic_spec(name: str, space: str, preset: str, latency_bound_ms: float) -> dict[str, Any]:
    return {
        "name": name, "space": {"name": space, "preset": preset}, "task": {"name": "synthetic"},
        "objectives": [{"metric": "naswot", "direction": "maximize"},
                       {"metric": "latency_ms", "device": "pixel4", "direction": "minimize"},
                       {"metric": "params_m", "direction": "minimize"}],
        "constraints": [f"latency_ms@xeon <= {latency_bound_ms:g}"],
        "searcher": {"kind": "optuna", "sampler": "random"}, "budget": {"trials": 1}, "seed": 0,
    }


def _metrics(arch: Arch, counts: dict[str, float], rng: random.Random) -> dict[str, float]:
    layers = [v for v in arch.values() if isinstance(v, tuple)]
    kinds = next((v for v in layers if v and isinstance(v[0], str)), ())
    depth = max((len(v) for v in layers), default=1)
    kind_cost = sum(_KIND_COST.get(k, 1.0) for k in kinds) / max(len(kinds), 1)
    flops, params = counts["flops_m"], counts["params_m"]
    return {
        **counts,
        "naswot": 40.0 * math.log1p(1e3 * params) + 8.0 * depth + rng.gauss(0.0, 6.0),
        "latency_ms@pixel4": 0.03 * flops * (0.8 + 0.2 * kind_cost) + 0.5 * depth + abs(rng.gauss(0.0, 0.002 * flops + 0.05)),
        "latency_ms@xeon": 0.008 * flops * kind_cost ** 2 + 0.3 * depth + abs(rng.gauss(0.0, 0.001 * flops + 0.03)),
    }


def write_synthetic_experiment(storage_url: str, n_trials: int, name: str | None = None, space: str = "mixed-attention",
                               preset: str = "tiny", seed: int = 0, pruned_share: float = 0.05) -> str:
    """Write an experiment of `n_trials` finished trials (some infeasible, `pruned_share` stopped early
    with only the cheap metrics) and return its name. Raises optuna's `DuplicatedStudyError` if the name is taken."""
    rng = random.Random(seed)
    search_space = get_space(space, preset)
    archs = [search_space.sample(rng) for _ in range(n_trials)]
    counts = CountEvaluator(search_space).evaluate(archs)
    metrics = [_metrics(a, c, rng) for a, c in zip(archs, counts)]
    xeon = sorted(m["latency_ms@xeon"] for m in metrics)
    bound = xeon[int(0.9 * (len(xeon) - 1))] if xeon else 1.0  # about one trial in ten is infeasible
    spec = parse_spec(synthetic_spec(name or f"synthetic-{n_trials}", space, preset, float(f"{bound:.3g}")))
    storage = open_storage(storage_url)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=spec.name, storage=storage, directions=spec.directions)
    schema.write_study(study, spec.model_dump_json(), spec.objective_keys)
    start = dt.datetime.now() - dt.timedelta(seconds=0.1 * n_trials)
    trials = []
    for number, (arch, values) in enumerate(zip(archs, metrics)):
        violation = values["latency_ms@xeon"] - spec.constraints[0].bound
        pruned = violation > 0 and rng.random() < pruned_share * 10
        if pruned:
            values = {k: v for k, v in values.items() if k in ("params_m", "flops_m")}
        attrs = {schema.ARCH: arch.to_dict(), schema.ARCH_ID: arch.id, schema.METRICS: values,
                 schema.CONSTRAINT_VALUES: [0.0 if pruned else violation], schema.FEASIBLE: violation <= 0}
        finished = start + dt.timedelta(seconds=0.1 * number)
        trials.append((number, TrialState.PRUNED if pruned else TrialState.COMPLETE,
                       None if pruned else [values[k] for k in spec.objective_keys], attrs, finished))
    if isinstance(storage, RDBStorage):
        _bulk_insert(storage, storage.get_study_id_from_name(spec.name), trials)
    else:
        study.add_trials([optuna.trial.create_trial(state=state, values=values, user_attrs=attrs)
                          for _, state, values, attrs, _ in trials])
    return spec.name


def _bulk_insert(storage: RDBStorage, study_id: int, trials: list[tuple]) -> None:
    with storage.engine.begin() as conn:
        first = conn.execute(models.TrialModel.__table__.select().with_only_columns(
            models.TrialModel.__table__.c.trial_id).order_by(models.TrialModel.__table__.c.trial_id.desc()).limit(1)).scalar()
        base = (first or 0) + 1
        conn.execute(models.TrialModel.__table__.insert(), [
            {"trial_id": base + i, "number": number, "study_id": study_id, "state": state,
             "datetime_start": finished - dt.timedelta(seconds=0.05), "datetime_complete": finished}
            for i, (number, state, _, _, finished) in enumerate(trials)])
        conn.execute(models.TrialValueModel.__table__.insert(), [
            {"trial_id": base + i, "objective": k, "value": v, "value_type": "FINITE"}
            for i, (_, _, values, _, _) in enumerate(trials) for k, v in enumerate(values or [])])
        conn.execute(models.TrialUserAttributeModel.__table__.insert(), [
            {"trial_id": base + i, "key": key, "value_json": json.dumps(value)}
            for i, (_, _, _, attrs, _) in enumerate(trials) for key, value in attrs.items()])
