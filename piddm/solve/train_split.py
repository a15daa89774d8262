"""The training split the fitted baselines use, read once and checked against the model.

Kriging and nearest neighbour (DESIGN rule 8) are fitted on the same training split as the
teacher, so a comparison with them measures what the learned prior adds over the data
themselves. The fields are read lazily (only methods that need them pay) and kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pde_bench.conventions import InputError

__all__ = ["TrainSplit", "split_fields"]


def split_fields(data_dir: Path, split: str, model, ids=None) -> dict[str, np.ndarray]:
    """True (a, u) (float64) of samples ``ids`` (None: all) of a split, after checking the data fit the model:
    same problem and parameters, the model's resolution and the residual scale of its data."""
    from pde_bench.loading import load

    from ..evaluate.scoring import SCALE_TOLERANCE
    from ..physics import PhysicsLoss

    ds = load(data_dir, split)
    prob = ds.problem
    if prob.name != model.problem.name or dict(prob.params) != dict(model.problem.params):
        raise InputError(f"{ds.path}: data of {prob.name} {dict(prob.params)}, the student is "
                         f"{model.problem.name} {dict(model.problem.params)}")
    if ds.u.shape[-1] != model.resolution:
        raise InputError(f"{ds.path}: data at {ds.u.shape[-1]}^2, the student works at {model.resolution}^2")
    if ids is not None and ids[-1] >= len(ds.u):
        raise InputError(f"samples {ids[0]}:{ids[-1] + 1}: the {split} split of {data_dir} has {len(ds.u)} samples")
    ours, stored = PhysicsLoss.for_model(model).scale, float(ds.attrs.get("residual_scale", "nan"))
    if not abs(stored - ours) <= SCALE_TOLERANCE * ours:
        raise InputError(f"{ds.path}: stored residual scale {stored:.4g} differs from the model's {ours:.4g} by more "
                         f"than {100 * SCALE_TOLERANCE:.0f} %: not the model's data")
    pick = slice(None) if ids is None else ids
    return {"a": np.asarray(ds.a[pick], dtype=np.float64), "u": np.asarray(ds.u[pick], dtype=np.float64),
            "path": str(ds.path)}


@dataclass
class TrainSplit:
    """The training split of a data-set folder, read on first use: ``fields(n)`` -> (a, u) of the first n."""

    data_dir: Path
    model: object
    _cache: dict = field(default_factory=dict, repr=False)

    def fields(self, max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if "a" not in self._cache:
            self._cache.update(split_fields(Path(self.data_dir), "train", self.model))
        a, u = self._cache["a"], self._cache["u"]
        if max_samples is not None:
            if max_samples < 1:
                raise InputError(f"max_train must be >= 1, got {max_samples}")
            a, u = a[:max_samples], u[:max_samples]
        return a, u

    @property
    def path(self) -> str:
        self.fields()
        return self._cache["path"]

    def describe(self, used: int | None = None) -> str:
        n = len(self.fields()[0])
        return f"{self.path} ({used if used is not None and used < n else n} of {n} samples)"
