"""Supernet accuracy (detectors: COCO mAP) and ranking fidelity of inherited scores, per tiny preset.

For each case, trains the supernet with the sandwich rule (as `hwnas train-supernet` does) and reports the
largest and smallest subnets' validation accuracy (mAP@[.5:.95] for detection cases), the gap between them,
seconds per epoch and total time. Targets: largest subnet >= 97% on digits (emov2, mobiledets), >= 85% on
MNIST-1D (mixed-attention, lighthubert); a tiny preset's training under 10 minutes. Ranking fidelity: random
subnets of one case (with `--ranking-selection flops`, subnets spread evenly by FLOPs over 50× as many random
ones), the inherited score (accuracy; mAP for detectors, BLEU for translation; supernet weights, BatchNorm
recalibrated) against the same subnets trained stand-alone from scratch; Kendall tau (scipy) >= 0.6; with
`--standalone-seeds 2` or more also `reference_tau`, the τ between the means of each subnet's first and second
halves of stand-alone runs, the most any inherited score can show against such a mean; `flops_tau` is what FLOPs
alone ranks, a baseline inherited scores should beat. With `--supernet-seeds K` the ranking case's supernet is
trained K times (seeds 0..K-1) and the study reports τ per supernet, how alike the supernets rank the subnets
(`supernet_agreement_tau`) and τ of their mean; `met` then asks the mean τ over supernets, since a search ranks on
one of them. `tau_ci95` is a 95 % bootstrap interval of that τ over the subnets drawn (with 8 subnets it spans
about ±0.3). `--jobs N` trains N stand-alone subnets at once, a process each. `--scoring-task-option KEY=VALUE` scores
both sides on the task built with that option too, e.g. a larger validation split on the same training images.
Stand-alone results are cached in results/accuracy-standalone.json. Trained supernets stay under
benchmarks/results/supernets/ for experiments. The speech case is trained in LightHuBERT's stages (`STAGED`): a
teacher, masked hidden-state distillation, then the task.

    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --json                 # everything
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --only emov2 --no-ranking --json
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --only mobiledets-detection --ranking-case mobiledets-detection \
        --ranking-subnets 8 --ranking-epochs 8 --json                     # MobileDets on shapes-detection, mAP
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --only emov2-cluttered --ranking-case emov2-cluttered \
        --ranking-subnets 8 --ranking-epochs 15 --standalone-seeds 4 --standalone-retries 4 --supernet-seeds 3 \
        --ranking-selection flops --json  # each reference the mean of four runs (a run stalled at chance is retried),
                                         # ranked on three supernets
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --ranking-only --ranking-case emov2-cluttered --ranking-subnets 16 \
        --ranking-epochs 15 --standalone-seeds 4 --standalone-retries 4 --supernet-seeds 3 --ranking-selection flops \
        --jobs 2 --json                  # 16 subnets on the same supernets, two stand-alone runs at a time
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --ranking-only --ranking-case emov2-cluttered --ranking-subnets 16 \
        --ranking-epochs 30 --standalone-seeds 2 --standalone-retries 2 --supernet-seeds 3 --ranking-selection flops \
        --jobs 2 --json                  # references trained as long as the supernets (30 epochs)
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --ranking-only --ranking-case emov2-cluttered --ranking-subnets 16 \
        --ranking-epochs 15 --standalone-seeds 2 --supernet-seeds 3 --ranking-selection flops --jobs 2 \
        --scoring-task-option val_samples=6000 --json    # both sides scored on 6,000 validation images, not 1,500
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --only emov2-cluttered-24k --ranking-case emov2-cluttered-24k \
        --ranking-subnets 8 --ranking-epochs 5 --standalone-seeds 4 --standalone-retries 2 --supernet-seeds 3 \
        --ranking-selection flops --jobs 2 --json   # four times the training images: EMOv2's references agree
    (the same with --ranking-only --ranking-subnets 16 --standalone-seeds 2: sixteen subnets, two runs each)
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --only lighthubert-speech --ranking-case lighthubert-speech \
        --ranking-subnets 8 --ranking-epochs 6 --json                     # LightHuBERT's two stages on spoken digits
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --ranking-only --ranking-case lighthubert-speech \
        --ranking-subnets 12 --ranking-epochs 6 --standalone-seeds 2 --ranking-selection flops --json
                                         # the same supernet, subnets spread evenly by FLOPs instead of random ones
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --only lighthubert-babble --ranking-case lighthubert-babble \
        --ranking-subnets 8 --ranking-epochs 12 --standalone-seeds 2 --ranking-selection flops --json
                                         # spoken digits with a second word 0-6 dB below each (`babble_db`)
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --only lighthubert-babble-8k --ranking-case lighthubert-babble-8k \
        --ranking-subnets 8 --ranking-epochs 5 --standalone-seeds 4 --supernet-seeds 3 --ranking-selection flops \
        --jobs 2 --json                  # the same on 8,000 clips: LightHuBERT's references agree
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import json
import math
import multiprocessing
import platform
import random
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import fmean
from typing import Any

import torch
from scipy.stats import kendalltau

from hwnas._cli_options import parse_key_values
from hwnas.errors import HwnasError
from hwnas.evaluators import CountEvaluator, InheritedAccuracyEvaluator
from hwnas.evaluators.accuracy import InheritedBleuEvaluator, InheritedMapEvaluator
from hwnas.export import extract_subnet, from_arch, train_extracted
from hwnas.search_spaces import SearchSpace
from hwnas.training import TrainSettings, train_subnet, train_supernet
from hwnas.training.decoding import evaluate_bleu
from hwnas.training.detection import space_anchors
from hwnas.training.tasks import space_and_task

RESULTS = Path(__file__).parent / "results"
MNIST1D = {"num_samples": 12000}
# name: (space, preset, task, task options, settings, target largest-subnet accuracy or None)
CASES: dict[str, tuple[str, str, str, dict[str, Any], dict[str, Any], float | None]] = {
    "emov2": ("emov2", "tiny", "digits", {}, dict(epochs=12, lr=3e-3), 0.97),
    "mobiledets": ("mobiledets", "tiny", "digits", {}, dict(epochs=12, lr=3e-3), 0.97),
    "mixed-attention": ("mixed-attention", "tiny", "mnist1d", MNIST1D, dict(epochs=15, lr=2e-3, num_random=2), 0.85),
    "lighthubert": ("lighthubert", "tiny", "mnist1d", MNIST1D, dict(epochs=12, lr=2e-3, num_random=1), 0.85),
    # the ranking study's supernet: longer, with more random subnets per step, so middle subnets are trained too
    "mixed-attention-ranking": ("mixed-attention", "tiny", "mnist1d", MNIST1D, dict(epochs=30, lr=2e-3, num_random=3), 0.85),
    # post-norm encoder-decoder: random middle subnets slowed learning here, so largest + smallest only
    "tiny-mt": ("mixed-attention", "tiny-mt", "seq2seq", {"num_samples": 4000}, dict(epochs=10, lr=1e-3, num_random=0), None),
    # the conv tiny presets on a task where size shows: digits rotated, scaled and shifted among clutter. EMOv2 warms
    # up for 5 epochs: its supernet's largest subnet reaches 84.9 % instead of 76.9 %; stand-alone runs still failed to
    # leave chance now and then (4 of 16 runs; 5 of 16 with 50 steps), until its downsampling blocks' layer scale
    # started at 1 instead of 1e-6 (INIT_REVISION). 30 epochs: random subnets inherit 83-86 % instead of 77-79 %
    # (below the smallest subnet's 79 % after 15)
    "emov2-cluttered": ("emov2", "tiny", "cluttered-digits", {}, dict(epochs=30, lr=3e-3, warmup_steps=500), None),
    # the same on four times the images (validation too: 6,000): more data for what capacity can learn, fewer epochs
    "emov2-cluttered-24k": ("emov2", "tiny", "cluttered-digits", {"num_samples": 24000},
                            dict(epochs=10, lr=3e-3, warmup_steps=500), None),
    "mobiledets-cluttered": ("mobiledets", "tiny", "cluttered-digits", {}, dict(epochs=15, lr=3e-3), None),
    # LightHuBERT on speech: spoken digits, held-out voices; trained as LightHuBERT is (see STAGED)
    "lighthubert-speech": ("lighthubert", "tiny-speech", "spoken-digits", {"num_samples": 2000},
                           dict(epochs=8, lr=2e-3, num_random=1), None),
    # the same with a second word 0-6 dB below each clip: without it every subnet trained to the end reaches ~97 %,
    # so only how fast a subnet learns (and seed noise) ranks it; with it size shows at the end (50-68 % alone)
    "lighthubert-babble": ("lighthubert", "tiny-speech", "spoken-digits", {"num_samples": 2000, "babble_db": [0, 6]},
                           dict(epochs=12, lr=2e-3, num_random=1), None),
    # the babble case on four times the clips (validation: 1,600 held-out-voice clips instead of 400), where two
    # references of a subnet on 2,000 agreed at only 0.25; as many steps as 24 epochs on 2,000
    "lighthubert-babble-8k": ("lighthubert", "tiny-speech", "spoken-digits", {"num_samples": 8000, "babble_db": [0, 6]},
                              dict(epochs=6, lr=2e-3, num_random=1), None),
    # MobileDets searched on detection (64×64 SSDLite, generated shapes): mAP; two random subnets a step,
    # since with 20 ops a layer the middle of the space gets little training from one; 40 epochs, since after 16
    # random subnets (mixing Tucker, IBN and fused layers) kept ~2 % of the largest's mAP (after 40: 25 %)
    "mobiledets-detection": ("mobiledets", "tiny-detection", "shapes-detection", {"num_samples": 3000},
                             dict(epochs=40, lr=3e-3, num_random=2), None),
}
#: Cases trained in LightHuBERT's stages: a teacher (the largest subnet trained alone for `teacher_epochs`),
#: stage 1 distilling its hidden states on masked frames (`distill_epochs`), then the task stage (the case's
#: settings) initialised from stage 1 and distilling the teacher's logits and last hidden state.
STAGED: dict[str, dict[str, int]] = {"lighthubert-speech": dict(teacher_epochs=6, distill_epochs=5),
                                     "lighthubert-babble": dict(teacher_epochs=12, distill_epochs=5),
                                     "lighthubert-babble-8k": dict(teacher_epochs=4, distill_epochs=2)}


def _score(space: SearchSpace) -> str:
    """What a supernet's epochs record for a case: `map` (COCO mAP@[.5:.95]) for detectors, else `acc`."""
    return "map" if space.io.is_detection else "acc"


#: Seed offset of a subnet's further stand-alone runs (subnet i's runs: seed + i, seed + i + SEED_STRIDE, ...; with
#: 1,000 subnets or more seeds repeat across subnets, which the cache tells apart by arch id).
SEED_STRIDE = 1000
#: A classification run that ends below this many times chance accuracy stalled (left the plateau late or never:
#: on cluttered-digits, runs ended at 8-27 % or above 60 %).
STALLED = 4.0
#: Random subnets drawn per subnet picked when the study spreads its subnets by FLOPs (`--ranking-selection flops`).
FLOPS_POOL = 50
#: Spaces whose fresh weights changed since runs were first cached, and how often (part of their cache keys):
#: EMOv2's downsampling blocks start with layer scale 1 instead of 1e-6 (`layer_scale_init`).
INIT_REVISION = {"emov2": 2}
#: What the ranking study compares, per kind of case: the inherited evaluator and its metric.
RANKERS = {"map": (InheritedMapEvaluator, "map"), "bleu": (InheritedBleuEvaluator, "bleu"),
           "acc": (InheritedAccuracyEvaluator, "accuracy")}


def ranked_by(space: SearchSpace) -> str:
    """Detectors by mAP, translation by BLEU, the rest by accuracy."""
    return "bleu" if space.io.is_seq2seq else _score(space)


def stage_settings(name: str, out_root: Path) -> dict[str, str]:
    """What a STAGED case's task stage adds to its settings: where its teacher and distillation stage live."""
    return {"init_from": str(out_root / f"{name}-stage1"), "teacher": str(out_root / f"{name}-teacher")}


def train_stages(name: str, space: SearchSpace, task: Any, used: dict[str, Any], out_root: Path,
                 progress: bool) -> dict[str, str]:
    """A STAGED case's teacher and distillation stage on its built `task`; returns the settings its task stage adds."""
    space_name, preset, task_name, _, settings, _ = CASES[name]
    stages, lr, added = STAGED[name], settings.get("lr", 2e-3), stage_settings(name, out_root)
    teacher, stage1 = Path(added["teacher"]), Path(added["init_from"])
    extract_subnet(from_arch("max", space_name, preset), teacher, force=True)  # fresh weights, the largest shape
    train_extracted(teacher, task_name, stages["teacher_epochs"], used, from_scratch=True, lr=lr, progress=progress)
    train_supernet(space, task, TrainSettings(epochs=stages["distill_epochs"], lr=lr, num_random=settings.get("num_random", 1),
                                              objective="masked-distillation", teacher=str(teacher)),
                   stage1, task_name=task_name, task_options=used, force=True, progress=progress)
    return added


def supernet_dir(out_root: Path, case: str, seed: int = 0) -> Path:
    """Where a case's supernet trained with `seed` lives (seed 0: the case's own name, as it always was)."""
    return out_root / (case if seed == 0 else f"{case}-seed{seed}")


def train_case(name: str, out_root: Path, progress: bool, seed: int = 0) -> dict[str, Any]:
    """Trains a case's supernet (a STAGED case's stages too; another `seed` reuses seed 0's teacher and
    distillation stage and trains the task stage again) and returns its row."""
    space_name, preset, task_name, options, settings, target = CASES[name]
    space, task, used = space_and_task(space_name, preset, task_name, options)
    start = time.perf_counter()
    staged = {}
    if name in STAGED:
        staged = train_stages(name, space, task, used, out_root, progress) if seed == 0 else stage_settings(name, out_root)
    result = train_supernet(space, task, TrainSettings(**settings, **staged, seed=seed), supernet_dir(out_root, name, seed),
                            task_name=task_name, task_options=used, force=True, progress=progress)
    total = time.perf_counter() - start
    last, score = result.meta["metrics"][-1], _score(space)
    largest, smallest = last[f"max_{score}"], last[f"min_{score}"]
    row = {
        "case": name, "supernet_seed": seed, "space": space_name, "preset": preset, "task": task_name, "task_options": used,
        "train_samples": len(task.x_train), "val_samples": len(task.x_val), **settings, "score": score,
        "largest": largest, "smallest": smallest, "gap": largest - smallest,
        **({"largest_map50": last["max_map50"], "smallest_map50": last["min_map50"]} if score == "map" else {}),
        "seconds_per_epoch": sum(m["seconds"] for m in result.meta["metrics"]) / len(result.meta["metrics"]),
        "total_seconds": total, "target_largest": target, **({"stages": STAGED[name]} if name in STAGED else {}),
        "met": None if target is None else bool(largest >= target), "under_10_minutes": total < 600,
        "dir": str(result.path),
    }
    print(json.dumps(row), flush=True)
    return row


def pick_subnets(space, n: int, seed: int, selection: str = "random") -> list:  # noqa: ANN001
    """`n` distinct subnets: the first `n` random ones (`random`), or `n` spread evenly by FLOPs over a pool of
    `FLOPS_POOL`× as many random ones, the pool's least and most included (`flops`: a search compares subnets
    across the whole trade-off; random subnets crowd the middle of it)."""
    rng, archs, wanted = random.Random(seed), {}, n if selection == "random" else FLOPS_POOL * n
    for _ in range(100 * wanted):  # a space with fewer subnets than the pool wants gives what it has
        if len(archs) == wanted:
            break
        arch = space.sample(rng)
        archs.setdefault(arch.id, arch)
    archs = list(archs.values())
    if selection == "random":
        return archs
    flops = [row["flops_m"] for row in CountEvaluator(space).evaluate(archs)]
    order = sorted(range(len(archs)), key=lambda i: (flops[i], archs[i].id))
    return [archs[order[round(q * (len(order) - 1) / (n - 1))]] for q in range(n)]


def standalone(case: str, n: int, epochs: int, seed: int, progress: bool, seeds: int = 1,
               retries: int = 0, selection: str = "random", jobs: int = 1, scoring: str = "") -> list[dict[str, Any]]:
    """Stand-alone accuracy of `n` subnets (`pick_subnets`) trained from scratch, each `seeds` times (the mean is its score);
    with `retries`, a classification run that ends stalled (below `STALLED`× chance: it never left the plateau,
    which says how the run went, not what the subnet can learn) is replaced by a run of the next seed, at most
    `retries` times a subnet. Runs are cached in results/ by what they depend on (space, task, arch id, epochs, lr,
    seed), so a retrained supernet can be compared without retraining them. `jobs` subnets train at once, each
    in a process of its own (one thread each under OMP_NUM_THREADS=1; they share the cache file under a lock).
    `scoring` (see `case_task`) scores the runs on another validation split; they train on the same images."""
    space, _, _ = case_task(case, scoring)
    archs = pick_subnets(space, n, seed, selection)
    work = [(case, i, arch, epochs, seed, seeds, retries, progress and jobs == 1, scoring) for i, arch in enumerate(archs)]
    if jobs == 1:
        rows = [_subnet_runs(*args) for args in work]
    else:  # fork: the workers inherit the imported modules and the task built above
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            rows = list(pool.map(_subnet_runs, *zip(*work)))
    for row, arch in zip(rows, archs):  # the pool keeps their order; a worker returns no arch, only its scores
        row["arch"] = arch
    return rows


def _subnet_runs(case: str, i: int, arch, epochs: int, seed: int, seeds: int, retries: int,  # noqa: ANN001
                 progress: bool, scoring: str = "") -> dict[str, Any]:
    """Subnet `i`'s stand-alone runs (cached ones reused), its stalled runs replaced as `standalone` says."""
    space, task, used = case_task(case, scoring)
    stalled_below = STALLED / task.num_classes if ranked_by(space) == "acc" else -1.0
    cache_path = RESULTS / "accuracy-standalone.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}  # with what other workers stored
    kept, stalled = [], []
    for attempt in range(seeds + retries):
        if len(kept) == seeds:
            break
        run_seed = seed + i + SEED_STRIDE * attempt  # the first run keeps the seed (and cache key) it always had
        run = _standalone_run(case, space, task, used, arch, epochs=epochs, run_seed=run_seed, progress=progress,
                              cache=cache, cache_path=cache_path)
        (stalled if run["val_score"] < stalled_below and len(stalled) < retries else kept).append(run)
    scores, stalled_scores = [r["val_score"] for r in kept], [r["val_score"] for r in stalled]
    print(json.dumps({"arch": arch.id, "standalone": scores, "stalled": stalled_scores}), flush=True)
    return {"val_score": fmean(scores), "runs": scores, "stalled_runs": stalled_scores,
            "seconds_per_epoch": fmean(r["seconds_per_epoch"] for r in kept)}


@functools.cache
def case_task(case: str, scoring: str = "") -> tuple[SearchSpace, Any, dict[str, Any]]:
    """A case's space, built task and the options it used, built once per process (and inherited by forked workers).
    `scoring`, task options as JSON text, are added to the case's: a larger validation split for the ranking study
    (`--scoring-task-option`), whose training split is the same, so the case's supernets still fit it."""
    space_name, preset, task_name, options, _, _ = CASES[case]
    return space_and_task(space_name, preset, task_name, {**options, **json.loads(scoring or "{}")})


def _standalone_run(case: str, space, task, used: dict[str, Any], arch, *, epochs: int, run_seed: int,  # noqa: ANN001
                    progress: bool, cache: dict[str, Any], cache_path: Path) -> dict[str, Any]:
    """One stand-alone run of `arch` (from the cache, else trained and cached)."""
    space_name, preset, task_name, _, settings, _ = CASES[case]
    lr, score = settings.get("lr", 2e-3), ranked_by(space)
    warmup = settings.get("warmup_steps")  # None: train_subnet's default (50 steps)
    kind = [score] if score != "acc" else []  # keys cached before other scores (and warm-ups) stay valid
    key = json.dumps([space_name, preset, task_name, used, arch.id, epochs, lr, run_seed, *kind,
                      *([{"warmup_steps": warmup}] if warmup is not None else []),
                      *([{"init": INIT_REVISION[space_name]}] if space_name in INIT_REVISION else [])])
    if key not in cache:
        torch.manual_seed(run_seed)
        module = space.build_supernet().extract(arch)  # fresh initialisation, the subnet's own shape
        anchors = space_anchors(space) if space.io.is_detection else None
        metrics = train_subnet(module, task, epochs, lr=lr, seed=run_seed, progress=progress, anchors=anchors,
                               **({"warmup_steps": warmup} if warmup is not None else {}))
        value = evaluate_bleu(module, task) if score == "bleu" else metrics[f"val_{score}"]
        cache[key] = {"val_score": value, "seconds_per_epoch": metrics["seconds_per_epoch"]}
        _store(cache_path, key, cache[key])
    cache[key].setdefault("val_score", cache[key].pop("val_acc", None))  # entries cached before detection cases
    return cache[key]


def _store(cache_path: Path, key: str, entry: dict[str, Any]) -> None:
    """Adds one run to the cache file, merged under a lock with what other studies running beside this one added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(cache_path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
        stored[key] = entry
        partial = cache_path.with_suffix(".tmp")
        partial.write_text(json.dumps(stored, indent=1))
        partial.replace(cache_path)


def ranking(case: str, out_root: Path, n: int, epochs: int, seed: int, progress: bool, seeds: int = 1,
            retries: int = 0, selection: str = "random", supernet_seeds: int = 1, jobs: int = 1,
            scoring: str = "") -> dict[str, Any]:
    """Inherited vs stand-alone accuracy (mAP, BLEU) of `n` subnets of a trained case, picked by `selection`;
    with `supernet_seeds` > 1, on each of that many supernets (`supernet_dir`) trained alike from other seeds."""
    space, task, _ = case_task(case, scoring)
    evaluator_class, metric = RANKERS[ranked_by(space)]
    alone = standalone(case, n, epochs, seed, progress, seeds, retries, selection, jobs, scoring)
    archs = [row["arch"] for row in alone]
    by_seed = [[v[metric] for v in evaluator_class(space, supernet_dir(out_root, case, s), task).evaluate(archs)]
               for s in range(supernet_seeds)]
    inherited, scratch = by_seed[0], [row["val_score"] for row in alone]
    tau, p_value = kendalltau(inherited, scratch)
    per_supernet = [float(tau)] + [float(kendalltau(scores, scratch)[0]) for scores in by_seed[1:]]
    flops = [row["flops_m"] for row in CountEvaluator(space).evaluate(archs)]
    return {"case": case, "score": ranked_by(space), "selection": selection, "subnets": n, "standalone_epochs": epochs,
            "standalone_seeds": seeds, "standalone_retries": retries, "scoring_task_options": json.loads(scoring or "{}"),
            "kendall_tau": float(tau),
            "p_value": float(p_value), "tau_ci95": tau_interval(by_seed, scratch),
            "reference_tau": reference_tau([row["runs"] for row in alone]),
            "flops_tau": float(kendalltau(flops, scratch)[0]),  # a baseline: what size alone ranks
            **(seed_spread(by_seed, scratch, per_supernet) if supernet_seeds > 1 else {}),
            # a search ranks on one supernet: met when a typical one (the mean over seeds) reaches the target
            "target_tau": 0.6, "met": bool(fmean(per_supernet) >= 0.6),
            "standalone_seconds_per_epoch": sum(r["seconds_per_epoch"] for r in alone) / len(alone),
            "archs": [{"id": a.id, "arch": json.loads(a.to_json()), "flops_m": f, "inherited": x, "standalone": y,
                       "standalone_runs": row["runs"], "stalled_runs": row["stalled_runs"]}
                      for a, f, x, y, row in zip(archs, flops, inherited, scratch, alone)]}


def seed_spread(by_seed: list[list[float]], scratch: list[float], per_supernet: list[float]) -> dict[str, Any]:
    """How much a ranking owes to the supernet's seed: τ against the references per supernet, how alike the
    supernets rank the subnets (mean τ over pairs), and τ of the subnets' mean inherited scores."""
    pairs = [float(kendalltau(a, b)[0]) for i, a in enumerate(by_seed) for b in by_seed[i + 1:]]
    means = [fmean(scores) for scores in zip(*by_seed)]
    return {"supernet_seeds": len(by_seed), "kendall_tau_per_supernet": per_supernet,
            "supernet_agreement_tau": fmean(pairs), "mean_inherited_tau": float(kendalltau(means, scratch)[0]),
            "inherited_per_supernet": by_seed}


#: Bootstrap resamples of the subnets behind `tau_ci95`.
BOOTSTRAP = 2000


def tau_interval(by_seed: list[list[float]], scratch: list[float], seed: int = 0) -> list[float]:
    """95 % bootstrap interval (subnets drawn with replacement) of the mean τ over supernets: with 8 subnets τ
    alone moves by about ±0.3 from which subnets were drawn, so a τ near the target says little without it."""
    rng, n, taus = random.Random(seed), len(scratch), []
    while len(taus) < BOOTSTRAP:
        pick = [rng.randrange(n) for _ in range(n)]
        ranked = [scratch[i] for i in pick]
        if len(set(ranked)) < 2:  # τ is undefined when every drawn reference ties
            continue
        taus.append(fmean(float(kendalltau([scores[i] for i in pick], ranked)[0]) for scores in by_seed))
    taus = [t for t in taus if not math.isnan(t)] or [float("nan")]  # a draw where the inherited scores all tie has no τ
    taus.sort()
    return [taus[int(0.025 * (len(taus) - 1))], taus[int(0.975 * (len(taus) - 1))]]


def reference_tau(runs: list[list[float]]) -> float | None:
    """Kendall τ between the means of the subnets' first and second halves of stand-alone runs (with two seeds,
    run against run): how well the references rank the subnets the same way twice, a ceiling on what any inherited
    score can reach against a reference of half as many runs; None with one run."""
    if any(len(r) < 2 for r in runs):
        return None
    firsts, seconds = zip(*[(fmean(r[: len(r) // 2]), fmean(r[len(r) // 2:])) for r in runs])
    return float(kendalltau(firsts, seconds)[0])


#: What the summary keeps of each trained case's row.
SUMMARY_FIELDS = ("score", "largest", "smallest", "gap", "seconds_per_epoch", "total_seconds", "met", "under_10_minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(CASES), help="cases to train (default: all)")
    parser.add_argument("--no-ranking", action="store_true", help="skip the ranking-fidelity study")
    parser.add_argument("--ranking-case", default="mixed-attention-ranking", choices=list(CASES))
    parser.add_argument("--ranking-only", action="store_true", help="no training: rank with the trained ranking supernet")
    parser.add_argument("--standalone-only", action="store_true", help="only train (and cache) the stand-alone subnets")
    parser.add_argument("--ranking-subnets", type=int, default=12)
    parser.add_argument("--ranking-selection", choices=("random", "flops"), default="random",
                        help="which subnets the study ranks: random ones, or ones spread evenly by FLOPs")
    parser.add_argument("--ranking-epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--standalone-seeds", type=int, default=1, help="stand-alone runs per subnet (their mean is its score)")
    parser.add_argument("--supernet-seeds", type=int, default=1,
                        help="rank on this many supernets of the ranking case, trained alike from seeds 0, 1, ...")
    parser.add_argument("--standalone-retries", type=int, default=0,
                        help="runs per subnet that may replace stalled ones (ending below STALLED × chance)")
    parser.add_argument("--jobs", type=int, default=1, help="stand-alone subnets trained at once, a process each")
    parser.add_argument("--scoring-task-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a task option the ranking study scores with, inherited and stand-alone, e.g. val_samples=6000 "
                             "(cluttered-digits) or val_fraction=0.95 (spoken-digits): a larger validation split "
                             "than the supernet's, the same training split")
    parser.add_argument("--progress", action="store_true", help="show progress bars (with one job)")
    parser.add_argument("--json", action="store_true", help="write benchmarks/results/accuracy.json")
    args = parser.parse_args()
    if min(args.standalone_seeds, args.supernet_seeds, args.jobs) < 1 or args.standalone_retries < 0 or args.ranking_subnets < 2:
        parser.error("--standalone-seeds, --supernet-seeds and --jobs must be at least 1, --standalone-retries at least 0, "
                     "--ranking-subnets at least 2")
    out_root = RESULTS / "supernets"
    try:
        scoring_options = parse_key_values(args.scoring_task_option, "--scoring-task-option", "val_samples=6000")
    except HwnasError as exc:
        parser.error(str(exc))
    scoring = json.dumps(scoring_options, sort_keys=True) if scoring_options else ""  # hashable: case_task caches by it
    start = time.perf_counter()
    if args.standalone_only:
        standalone(args.ranking_case, args.ranking_subnets, args.ranking_epochs, args.seed, args.progress, args.standalone_seeds,
                   args.standalone_retries, args.ranking_selection, args.jobs, scoring)
        return
    rows = [] if args.ranking_only else [train_case(name, out_root, args.progress) for name in (args.only or list(CASES))]
    fidelity = None
    if not args.no_ranking:
        retrained = any(row["case"] == args.ranking_case for row in rows)  # then so are its other seeds' supernets
        for supernet_seed in range(args.supernet_seeds):
            stored = (supernet_dir(out_root, args.ranking_case, supernet_seed) / "supernet.json").is_file()
            if not stored or (retrained and supernet_seed > 0):
                rows.append(train_case(args.ranking_case, out_root, args.progress, supernet_seed))
        fidelity = ranking(args.ranking_case, out_root, args.ranking_subnets, args.ranking_epochs, args.seed, args.progress,
                           args.standalone_seeds, args.standalone_retries, args.ranking_selection, args.supernet_seeds,
                           args.jobs, scoring)
    summary = {
        "machine": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
        "cases": {supernet_dir(Path(), r["case"], r["supernet_seed"]).name: {k: r[k] for k in SUMMARY_FIELDS} for r in rows},
        "kendall_tau": None if fidelity is None else fidelity["kendall_tau"],
        "tau_ci95": None if fidelity is None else fidelity["tau_ci95"],
        "reference_tau": None if fidelity is None else fidelity["reference_tau"],
        "flops_tau": None if fidelity is None else fidelity["flops_tau"],
        **({k: fidelity[k] for k in ("kendall_tau_per_supernet", "supernet_agreement_tau", "mean_inherited_tau")}
           if fidelity is not None and "supernet_seeds" in fidelity else {}),
        "total_seconds": time.perf_counter() - start,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        RESULTS.mkdir(parents=True, exist_ok=True)
        partial = args.only or args.no_ranking or args.ranking_only
        selection = "" if args.ranking_selection == "random" else f"-{args.ranking_selection}"
        name = f"accuracy-{'-'.join(args.only or ['ranking'])}{selection}.json" if partial else f"accuracy{selection}.json"
        (RESULTS / name).write_text(json.dumps({"summary": summary, "rows": rows, "ranking": fidelity}, indent=2))


if __name__ == "__main__":
    main()
