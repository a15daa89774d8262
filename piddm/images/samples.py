"""Samples of an image model (teacher: Heun/Euler; PID student: one call) as ``samples.npz`` + ``samples.png``."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pde_bench.conventions import atomic_output, check_output, provenance

__all__ = ["is_image_model", "write_image_samples"]


def is_image_model(path: Path | str) -> bool:
    """Whether a model file (or run folder) holds an image model (its ``problem`` is an image set)."""
    from ..models import resolve_model_path
    from .datasets import IMAGE_SETS

    path = Path(path)
    if path.is_dir():
        found = [p for p in (path / "teacher.pt", path / "student.pt") if p.exists()]
        if not found:
            return False
        path = found[0]
    elif not path.exists():
        resolve_model_path(path, "teacher")  # the usual one-line error
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - not ours to judge here: load_model says what is wrong
        return False
    return isinstance(blob, dict) and blob.get("problem") in IMAGE_SETS


def write_image_samples(ckpt: Path | str, out: Path | str, *, n: int = 64, steps: int = 18, sampler: str = "heun",
                        seed: int = 0, batch: int = 64, device: str = "auto", overwrite: bool = False,
                        progress: Callable[[str, int], Callable[[int], None]] | None = None) -> dict:
    """``n`` images (sample i from noise (evaluation stream, seed, i); labels i mod classes if conditional):
    ``samples.npz`` (``images`` uint8 (n, C, R, R), ``labels``) and a PNG grid of the first 64."""
    from ..distributed import resolve_device
    from ..models import load_model
    from ..noise import standard_noise
    from ..samples import check_sample_options
    from ..sampling import generate, heun_nfe
    from .distill import load_pid_student
    from .teacher import labelled, save_image_grid

    check_sample_options(n, steps, batch, sampler)
    out = Path(out)
    check_output(out, overwrite)
    dev = resolve_device(device)
    path = Path(ckpt)
    student = path.name == "student.pt" or (path.is_dir() and not (path / "teacher.pt").exists())
    if student:
        model, loaded = load_pid_student(path / "student.pt" if path.is_dir() else path, device=dev)
        make, nfe, what = (lambda e, y: model.sample(e, y)), 1, "PID student, 1 step"
    else:
        loaded = load_model(path, "teacher", device=dev)
        make = lambda e, y: generate(labelled(loaded.denoiser, y), e, steps=steps, sampler=sampler).x  # noqa: E731
        nfe = heun_nfe(steps) if sampler == "heun" else steps
        what = f"teacher, {sampler}-{steps}"
    spec, classes = loaded.problem, int(loaded.info.params.get("classes", 0))
    shape = (spec.channels, spec.resolution, spec.resolution)
    advance = progress(f"sampling {spec.name}", n) if progress else None
    images, labels, t0 = [], np.arange(n) % classes if classes else np.zeros(n, dtype=np.int64), time.perf_counter()
    for start in range(0, n, batch):
        m = min(batch, n - start)
        eps = standard_noise(m, shape, seed=seed, start=start, stream="evaluation").to(dev)
        y = torch.from_numpy(labels[start:start + m]).to(dev) if classes else None
        with torch.no_grad():
            images.append(make(eps, y).float().clamp(-1, 1).cpu())
        if advance:
            advance(m)
    seconds = time.perf_counter() - t0
    x = torch.cat(images)
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        np.savez_compressed(tmp / "samples.npz", images=((x.numpy() + 1) * 127.5).round().astype(np.uint8),
                            labels=labels, provenance=str(provenance({"ckpt": str(ckpt), "n": n, "what": what})))
        save_image_grid(x[:64], tmp / "samples.png")
    return {"file": out / "samples.npz", "figure": out / "samples.png", "n": n, "resolution": spec.resolution,
            "nfe": nfe, "ms_per_sample": 1000 * seconds / n, "batch": min(batch, n), "what": what}
