"""The MMSE / SMSE verdicts of the generation reports (``piddm distill``, ``piddm compare --task generate``)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ENSEMBLE_INTERVAL_NOTE", "ensemble_verdicts"]

ENSEMBLE_INTERVAL_NOTE = (
    "MMSE and SMSE ratios: normal intervals on the log ratio with a two-sample delete-one jackknife variance "
    "(pairs of draws from the same noise left out together, then each reference field); they estimate the ratio "
    "of the expected statistics at these sample sizes, floor included. In simulation on real fields with a known "
    "truth (benchmarks/results/ensemble_ratio_intervals_*.md: 100 and 256 samples) they covered MMSE ratios "
    "97-100 % and SMSE ratios 93.5-100 % of the time, where the basic bootstrap covered MMSE 65-82 %; they are "
    "conservative, and MMSE's are wide (x2.5-x103 between the ends), so read an MMSE ratio against the floor "
    "columns too.")


def ensemble_verdicts(ours, base, reference: np.ndarray, label: str, method: str, baseline: str,
                      base_label: str = "teacher") -> list:
    """"<label> MMSE / <base_label>'s" and SMSE, with jackknife intervals, for two :class:`Scored` generators
    whose sample i came from the same noise; no interval where a statistic is not finite (failed samples)."""
    from ..evaluate.bootstrap import ensemble_ratios_jackknife
    from ..report import Verdict

    finite = all(math.isfinite(s.ensemble[k]) for s in (ours, base) for k in ("mmse", "smse"))
    intervals = ensemble_ratios_jackknife(ours.u, base.u, reference) if finite else {}
    out = []
    for stat in ("mmse", "smse"):
        est, lo, hi = intervals.get(stat, (ours.ensemble[stat] / base.ensemble[stat], math.nan, math.nan))
        out.append(Verdict(f"{label} {stat.upper()} / {base_label}'s", method, baseline, stat, "ratio", est, lo, hi))
    return out
