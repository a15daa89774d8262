"""The data set an experiment evaluates on when the user names none (shared by distill and solve)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["evaluation_data"]

Progress = Callable[[str, int], Callable[[int], None]]


def evaluation_data(data: Path | None, model, samples: int, made_by: str, progress: Progress | None = None) -> Path:
    """The data set to evaluate on: the user's, the full default one, or a small one made now.

    With no data named: ``data/<pde>-<res>`` if it has test and train splits, else
    ``data/<pde>-<res>-eval``, generated here from the model's data seed (so its test split is
    the one the model was held out from) when absent. ``progress(label, total)`` returns a
    callback advanced per generated sample.
    """
    from pde_bench.conventions import InputError
    from pde_bench.datasets import generate_dataset, split_files

    if data is not None:
        if not Path(data).exists():
            raise InputError(f"{data}: no such data-set folder")
        return Path(data)
    name, res = model.problem.name, model.resolution
    full = Path("data") / f"{name}-{res}"
    if split_files(full).get("test") and split_files(full).get("train"):
        return full
    small = Path("data") / f"{name}-{res}-eval"
    if split_files(small).get("test"):
        return small
    seed = int(model.info.data.get("seed", 0))  # the model's data seed: the test split it was held out from
    n = max(samples, 256)  # enough for a full run after a --quick one
    sizes = {"train": n, "val": 16, "test": n}
    advance = progress(f"evaluation data {name} {res}² (seed {seed})", sum(sizes.values())) if progress else None
    generate_dataset(model.problem, small, sizes=sizes, resolution=res, seed=seed, on_progress=advance,
                     options={"pde": name, "resolution": res, "seed": seed, "sizes": sizes,
                              "made_by": f"{made_by} (evaluation data)"})
    return small
