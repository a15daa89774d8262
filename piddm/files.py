"""Atomic writes of the files a run leaves behind (pde_bench's temporary-name-then-rename)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pde_bench.conventions import atomic_output

__all__ = ["atomic_torch_save", "atomic_write_text", "atomic_write_json"]


def atomic_torch_save(obj, path: Path) -> None:
    with atomic_output(path, overwrite=True) as tmp:
        torch.save(obj, tmp)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")
