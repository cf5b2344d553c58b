"""Which sampler a search job recommends, from its verify stage's fresh measurements: a
candidate only when its gain over uniform is outside the noise, else uniform.

The test: for each candidate, the paired differences ``candidate − uniform`` over the verify
seeds (the same training seed for both members of a pair), one-sided t-test that their mean is
above 0, at level ``alpha / k`` for ``k`` candidates (Bonferroni: the candidates were picked as
the best of many, so one of them looking good by chance must not count). Among the candidates
that pass, the one with the largest mean gain is recommended. Pure: numbers in, decision out.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import t as student_t

DEFAULT_ALPHA = 0.1


@dataclass(frozen=True)
class CandidateCheck:
    """One verified candidate: its trial, the GP's posterior mean at it (what ranked it), its
    objective on each verify seed, and the paired test against uniform."""

    trial: int
    posterior_mean: float
    values: list[float]
    mean_gain: float
    p_value: float


def paired_gain(values: list[float], uniform: list[float]) -> tuple[float, float]:
    """``(mean of candidate − uniform, one-sided p-value that it is > 0)`` over paired seeds."""
    gains = [c - u for c, u in zip(values, uniform, strict=True)]
    mean = statistics.fmean(gains)
    spread = statistics.stdev(gains) if len(gains) > 1 else 0.0
    if spread == 0.0:
        return mean, 0.0 if mean > 0 else 1.0
    statistic = mean / (spread / math.sqrt(len(gains)))
    return mean, float(student_t.sf(statistic, df=len(gains) - 1))


def recommend(candidates: list[tuple[int, float, list[float]]], uniform: list[float], seeds: list[int],
              alpha: float = DEFAULT_ALPHA, scored: str = "the objective") -> dict[str, Any]:
    """The recommendation, as stored in ``Job.recommendation``.

    Args:
        candidates: ``(trial index, posterior mean, objective per verify seed)``.
        uniform: the uniform sampler's objective per verify seed (same order).
        seeds: the verify seeds.
        alpha: family-wise level of the test (see the module docstring).
        scored: what the values are, for the reason's wording.
    """
    checks = []
    for trial, mean, values in candidates:
        gain, p_value = paired_gain(values, uniform)
        checks.append(CandidateCheck(trial, mean, values, gain, p_value))
    level = alpha / max(1, len(checks))
    passing = [c for c in checks if c.mean_gain > 0 and c.p_value < level]
    test = (f"one-sided paired t-test of candidate - uniform over {len(seeds)} verify seeds, "
            f"level {alpha:g}/{len(checks)} (Bonferroni over the candidates)")
    record: dict[str, Any] = {"test": test, "alpha": alpha, "seeds": seeds, "uniform": {"values": uniform},
                              "candidates": [asdict(c) for c in checks]}
    if passing:
        chosen = max(passing, key=lambda c: c.mean_gain)
        return {**record, "choice": "trial", "trial": chosen.trial,
                "reason": f"trial {chosen.trial} beat uniform by {100 * chosen.mean_gain:+.2f} points of {scored} "
                          f"on fresh seeds (p = {chosen.p_value:.3g} < {level:.3g})"}
    best = max(checks, key=lambda c: c.mean_gain, default=None)
    detail = "" if best is None else (f"; the best, trial {best.trial}, gained {100 * best.mean_gain:+.2f} points "
                                      f"(p = {best.p_value:.3g}, needed < {level:.3g})")
    return {**record, "choice": "uniform", "trial": None,
            "reason": "no candidate beat uniform outside the noise on fresh seeds" + detail}
