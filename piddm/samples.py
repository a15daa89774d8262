"""Teacher samples as a data-set file: ``samples.h5`` (the data format, physical units) and ``samples.png``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from pde_bench.conventions import InputError, atomic_output, check_output, provenance

__all__ = ["check_sample_options", "write_teacher_samples"]


def check_sample_options(n: int, steps: int, batch: int, sampler: str) -> None:
    """One-line errors for the counts and sampler of ``piddm sample`` (fields and images alike)."""
    from .sampling import SAMPLERS

    if n < 1 or steps < 1 or batch < 1:
        raise InputError(f"n, steps and batch must be >= 1, got {n}, {steps}, {batch}")
    if sampler not in SAMPLERS:
        raise InputError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")


def write_teacher_samples(ckpt: Path | str, out: Path | str, *, n: int = 64, steps: int = 18, sampler: str = "heun",
                          resolution: int | None = None, seed: int = 0, batch: int = 64, device: str = "auto",
                          overwrite: bool = False, progress: Callable[[str, int], Callable[[int], None]] | None = None,
                          ) -> dict:
    """Draw ``n`` samples (sample i from noise (evaluation stream, seed, i)), write them, return what was made.

    Darcy's a is finalised (thresholded). Returns ``{"file", "figure", "n", "resolution", "nfe",
    "ms_per_sample", "batch"}``.
    """
    from pde_bench.storage import write_fields

    from .distributed import resolve_device
    from .models import load_model
    from .plots import save_field_grid
    from .teacher import sample_teacher

    check_sample_options(n, steps, batch, sampler)
    out = Path(out)
    check_output(out, overwrite)
    dev = resolve_device(device)
    teacher = load_model(ckpt, "teacher", resolution=resolution, device=dev)
    res = resolution or teacher.resolution
    advance = progress(f"sampling {teacher.problem.name}", n) if progress else None
    t0 = time.perf_counter()
    a_raw, u, nfe = sample_teacher(teacher, n, steps=steps, sampler=sampler, seed=seed, batch=batch,
                                   resolution=res, device=dev, on_progress=advance)
    seconds = time.perf_counter() - t0
    a = teacher.problem.finalize_inputs(a_raw)
    stats = {f"norm_{k}": v for k, v in asdict(teacher.normaliser).items() if k != "sigma_data"}
    attrs = {**teacher.problem.describe(), "resolution": res, "seed": seed, "split": "samples",
             "sampler": sampler, "steps": steps, "nfe": nfe, "teacher": str(teacher.path),
             **({"residual_scale": teacher.info.data["residual_scale"]} if "residual_scale" in teacher.info.data
                else {}), **stats,
             "sigma_data": teacher.normaliser.sigma_data, "statistics_from": "teacher training data",
             "provenance": provenance({"ckpt": str(ckpt), "n": n, "steps": steps, "sampler": sampler, "seed": seed})}
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        write_fields(tmp / "samples.h5", a, u, teacher.problem.coordinates(res), attrs)
        save_field_grid({"a": a, "u": u}, tmp / "samples.png",
                        title=f"{teacher.problem.name} teacher, {sampler}-{steps} ({nfe} NFE)")
    return {"file": out / "samples.h5", "figure": out / "samples.png", "n": n, "resolution": res, "nfe": nfe,
            "ms_per_sample": 1000 * seconds / n, "batch": min(batch, n)}
