"""Reference models shipped inside the package: ``piddm/reference/<pde>/{teacher,student}.pt``.

Each model file sits next to ``<kind>.json``: the command, commit, data seed, steps, wall
time and quality figures of the run that made it. Commands use them when the user names no
model of their own.
"""

from __future__ import annotations

import json
from pathlib import Path

from pde_bench import get_problem
from pde_bench.conventions import InputError

__all__ = ["REFERENCE_DIR", "available_references", "reference_model", "reference_provenance"]

REFERENCE_DIR = Path(__file__).parent / "reference"


def reference_model(pde: str, kind: str = "teacher") -> Path:
    """Path of the shipped ``kind`` model of problem ``pde``, or a one-line error saying what exists."""
    name = get_problem(pde).name
    path = REFERENCE_DIR / name / f"{kind}.pt"
    if not path.exists():
        have = ", ".join(f"{p}/{k}" for p, k in available_references()) or "none"
        make = "train-teacher" if kind == "teacher" else "distill"
        raise InputError(f"no shipped reference {kind} for {name} (shipped: {have}); make one with "
                         f"`piddm {make} --pde {name}` and pass it explicitly")
    return path


def reference_provenance(pde: str, kind: str = "teacher") -> dict:
    path = reference_model(pde, kind).with_suffix(".json")
    return json.loads(path.read_text()) if path.exists() else {}


def available_references() -> list[tuple[str, str]]:
    if not REFERENCE_DIR.exists():
        return []
    return sorted((p.parent.name, p.stem) for p in REFERENCE_DIR.glob("*/*.pt"))
