"""How well a trained supernet shares its weights: random subnets' inherited scores against the largest's.

Inherited scores rank subnets only when subnets other than the ones the sandwich rule trains directly keep
most of what they would learn alone. After the last epoch a few random subnets are scored on the supernet's
weights; `supernet.json` keeps the median of their scores as a share of the largest subnet's, so a search
can be told before it ranks noise (a MobileDets detector supernet trained 16 epochs here keeps 1.5 %: layers of
different kinds have not learned interchangeable features yet).
"""

from __future__ import annotations

import random
import statistics
from typing import Any

from hwnas.search_spaces import Arch, SearchSpace

#: Random subnets scored after the last epoch.
SHARING_SUBNETS = 4
#: Below this median share of the largest subnet's score, inherited scores are called weak.
WEAK_SHARING = 0.5


def sharing_subnets(space: SearchSpace, seed: int, n: int = SHARING_SUBNETS) -> list[Arch]:
    """The subnets the check scores: drawn from their own generator, so the training sampler (and a resumed
    run's subnets) are untouched and a rerun scores the same ones."""
    rng = random.Random(f"sharing-{seed}")
    return [space.sample(rng) for _ in range(n)]


def sharing_summary(metric: str, scores: list[float], largest: float) -> dict[str, Any]:
    """The `sharing` entry of `supernet.json`."""
    median = statistics.median(scores)
    share = median / largest if largest > 0 else 0.0
    return {"metric": metric, "random_subnets": len(scores), "scores": scores, "largest": largest,
            "median_share_of_largest": share, "weak": share < WEAK_SHARING}


def sharing_line(sharing: dict[str, Any]) -> str:
    """One line (rich markup) saying how much of the largest subnet's score random subnets keep."""
    scores, metric = sharing["scores"], sharing["metric"]
    text = (f"random subnets keep a median {sharing['median_share_of_largest']:.0%} of the largest subnet's {metric} "
            f"({len(scores)} subnets: {min(scores):.4f}-{max(scores):.4f} against {sharing['largest']:.4f})")
    if not sharing["weak"]:
        return text
    return (f"[yellow]{text}: inherited scores will hardly rank subnets; train longer or with more random subnets "
            "a step (--num-random)[/]")
