"""Atomic writes of the files a run leaves behind (pde_bench's temporary-name-then-rename)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pde_bench.conventions import atomic_output

__all__ = ["atomic_torch_save", "atomic_write_json", "atomic_write_text", "load_tensor_state", "tensor_state"]


def atomic_torch_save(obj, path: Path) -> None:
    with atomic_output(path, overwrite=True) as tmp:
        torch.save(obj, tmp)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=str) + "\n")


def tensor_state(module: torch.nn.Module) -> dict:
    """A module's state dict with tensors only, on the CPU.

    neuraloperator's FNO adds a ``_metadata`` dict entry that its parents' ``load_state_dict``
    rejects; weights are all we store.
    """
    return {k: v.detach().cpu() for k, v in module.state_dict().items() if torch.is_tensor(v)}


def load_tensor_state(module: torch.nn.Module, state: dict) -> None:
    module.load_state_dict({k: v for k, v in state.items() if torch.is_tensor(v)})
