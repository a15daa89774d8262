"""A toy solve method for the registry test: one module, as every real method is.

"Observed mean": each unobserved pixel of a channel takes the mean of that sample's observed
values of the channel (the training mean where none is observed). No network, one member.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from piddm.solve import Method, SolveResult


@dataclass
class ToySettings:
    shrink: float = 1.0  # the filled value is shrink * (observed mean)
    fail_first: bool = False  # return NaN for the first sample (a method that fails on a hard sample)

    def check(self) -> None:
        pass

    def to_dict(self) -> dict:
        return asdict(self)


def solve_toy(context, obs, settings: ToySettings, sample_ids=None, on_progress=None) -> SolveResult:
    n = context.physics.normaliser
    means = (n.mean_a, n.mean_u)
    fields = []
    for c in range(2):
        mask, values = obs.mask[:, c], obs.values[:, c]
        count = mask.sum((1, 2))
        mean = np.where(count > 0, (values * mask).sum((1, 2)) / np.maximum(count, 1), means[c])
        fields.append(np.where(mask, values, settings.shrink * mean[:, None, None]))
    if settings.fail_first:
        fields[1][0] = np.nan
    if on_progress:
        on_progress(len(obs))
    return SolveResult.single(context.physics.problem, fields[0], fields[1], loss=np.zeros((len(obs), 1)), nfe=0,
                              grad_evals=0, seconds=0.0)


METHOD = Method(name="toy", label="observed mean", solve=solve_toy, settings=ToySettings)
