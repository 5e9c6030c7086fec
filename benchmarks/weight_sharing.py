"""Where weight sharing fails: the inherited score of the largest subnet with one choice shrunk, and of random subnets.

A trained supernet (`benchmarks/accuracy.py` leaves each case's under results/supernets/CASE) is probed without
training: for every choice of the space, the largest subnet with that choice set to its smallest value (a per-layer
choice in every layer; a depth with its layers dropped) is scored on the supernet's weights, BatchNorm recalibrated,
as accuracy.py's ranking scores it (mAP for detectors, BLEU for translation, else accuracy), and reported as a share
of the largest subnet's score. A choice whose share is far below its neighbours' names the weights the supernet
did not learn to share. The ranking study's random subnets follow, inherited; with `--standalone-epochs` their
stand-alone scores come from accuracy.py's cache (trained there if missing) with Kendall τ.

    OMP_NUM_THREADS=1 python benchmarks/weight_sharing.py --case mobiledets-detection --json
    OMP_NUM_THREADS=1 python benchmarks/weight_sharing.py --case mobiledets-detection --standalone-epochs 16 --json
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from accuracy import CASES, RANKERS, RESULTS, pick_subnets, ranked_by, standalone
from scipy.stats import kendalltau

from hwnas.search_spaces import Arch, Depth, PerLayer, SearchSpace
from hwnas.training.tasks import space_and_task


def one_choice_shrunk(space: SearchSpace) -> dict[str, Arch]:
    """The largest subnet with each choice in turn at its smallest value (named by the choice)."""
    largest, variants = dict(space.max_arch()), {}
    declaration = space.declaration  # type: ignore[attr-defined]
    for decl in declaration:
        if isinstance(decl, PerLayer):
            arch = {**largest, decl.name: (decl.choice.smallest,) * len(largest[decl.name])}
        elif isinstance(decl, Depth):
            depth = int(decl.smallest)  # type: ignore[arg-type]
            layers = [p.name for p in declaration if isinstance(p, PerLayer) and p.depth == decl.name]
            arch = {**largest, decl.name: depth, **{name: tuple(largest[name][:depth]) for name in layers}}
        else:
            arch = {**largest, decl.name: decl.smallest}
        if arch != largest:
            variants[decl.name] = space.validate(arch)
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="mobiledets-detection", choices=list(CASES))
    parser.add_argument("--random", type=int, default=8, help="random subnets (the ranking study's, same seed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--standalone-epochs", type=int, default=0,
                        help="also compare with stand-alone runs of this many epochs (accuracy.py's cache)")
    parser.add_argument("--json", action="store_true", help="write benchmarks/results/weight_sharing.json")
    args = parser.parse_args()
    path = RESULTS / "supernets" / args.case
    if not (path / "supernet.json").is_file():
        parser.error(f"{path}: no trained supernet; train it with benchmarks/accuracy.py --only {args.case} --no-ranking")
    space_name, preset, task_name, options, _, _ = CASES[args.case]
    space, task, _ = space_and_task(space_name, preset, task_name, options)
    evaluator_class, metric = RANKERS[ranked_by(space)]
    evaluator = evaluator_class(space, path, task)

    def score(arch: Arch) -> float:
        return float(evaluator.evaluate([arch])[0][metric])

    start = time.perf_counter()
    largest, smallest = score(space.max_arch()), score(space.min_arch())
    print(f"{args.case}: {metric} largest {largest:.4f}, smallest {smallest:.4f}")
    shrunk: dict[str, Any] = {}
    for name, arch in one_choice_shrunk(space).items():
        value = score(arch)
        shrunk[name] = {"score": value, "share_of_largest": value / largest if largest else None}
        print(f"  largest with {name} smallest: {value:.4f} ({value / largest if largest else float('nan'):.2f} of largest)")
    archs = pick_subnets(space, args.random, args.seed)
    inherited = [score(a) for a in archs]
    rows = [{"id": a.id, "inherited": x} for a, x in zip(archs, inherited)]
    tau = None
    if args.standalone_epochs:
        alone = standalone(args.case, args.random, args.standalone_epochs, args.seed, progress=False)
        for row, run in zip(rows, alone):
            row["standalone"] = run["val_score"]
        tau = float(kendalltau(inherited, [r["val_score"] for r in alone])[0])
    for row in rows:
        print(f"  random {row['id']}: inherited {row['inherited']:.4f}"
              + (f", stand-alone {row['standalone']:.4f}" if "standalone" in row else ""))
    if tau is not None:
        print(f"  Kendall τ inherited vs stand-alone: {tau:.2f}")
    summary = {"case": args.case, "metric": metric, "largest": largest, "smallest": smallest, "one_choice_shrunk": shrunk,
               "random": rows, "standalone_epochs": args.standalone_epochs or None, "kendall_tau": tau,
               "seconds": time.perf_counter() - start}
    if args.json:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "weight_sharing.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
