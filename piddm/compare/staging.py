"""Finished methods of an unfinished comparison, kept beside its output so ``--resume`` skips them.

A comparison with DiffusionPDE-2000 takes CPU-hours; one stopped by a session limit or a crash would
otherwise lose every method it had finished. After each method its :class:`SolveResult` is written
(atomically) to ``.<out>.partial/<method>.npz`` (arrays) and ``.json`` (costs, extras and the key it
was made under). A resumed run reuses a staged result only when its key matches: the method, its
resolved settings, the sample ids, the observation masks and values (hashed), the noise, the device
and the student / teacher / training files (path, size, mtime). The commit and time each reused
result was made are listed in the report. The staging folder is removed once the report is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from pde_bench.conventions import atomic_output

from ..files import atomic_write_json
from ..solve.result import SolveResult

__all__ = ["Staging"]

_ARRAYS = [f.name for f in fields(SolveResult) if f.name not in ("nfe", "grad_evals", "seconds", "extra")]


def _file_id(path) -> list | None:
    if path is None:
        return None
    p = Path(path)
    st = p.stat() if p.exists() else None
    return [str(p.resolve()), st.st_size if st else None, st.st_mtime_ns if st else None]


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot stage a value of type {type(value).__name__}")


class Staging:
    """The staged results of one output folder; ``context`` holds what every key shares."""

    def __init__(self, out: Path, obs, ids, device, files: dict, commit: str):
        self.folder = Path(out).with_name(f".{Path(out).name}.partial")
        digest = hashlib.sha256()
        for arr in (np.ascontiguousarray(obs.mask), np.ascontiguousarray(obs.values, dtype=np.float64)):
            digest.update(arr.tobytes())
        self.context = {"ids": [int(i) for i in ids], "observations": digest.hexdigest(),
                        "noise": _jsonable(obs.noise), "device": str(device),
                        "files": {k: _file_id(v) for k, v in files.items()}}
        self.commit = commit

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _key(self, method: str, settings) -> dict:
        return {"method": method, "settings": _jsonable(settings.to_dict()), **self.context}

    def load(self, method: str, settings) -> tuple[SolveResult, dict] | None:
        """The staged result of ``method`` made under the same key, with its {"commit", "made"}; else None."""
        meta_path, arr_path = self.folder / f"{method}.json", self.folder / f"{method}.npz"
        if not (meta_path.exists() and arr_path.exists()):
            return None
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != self._key(method, settings):
            return None
        with np.load(arr_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in _ARRAYS}
            extra = {k[len("extra."):]: z[k] for k in z.files if k.startswith("extra.")}
        extra.update(meta["extra"])
        result = SolveResult(**arrays, nfe=meta["nfe"], grad_evals=meta["grad_evals"], seconds=meta["seconds"],
                             extra=extra)
        return result, {"commit": meta["commit"], "made": meta["made"]}

    def save(self, method: str, settings, result: SolveResult) -> bool:
        """Stage ``result`` (arrays first, then the JSON that makes it count); False (nothing staged) when an
        extra cannot be written, so a resumed run solves that method again."""
        try:
            extra = {k: _jsonable(v) for k, v in result.extra.items() if not isinstance(v, np.ndarray)}
        except TypeError:
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        meta_path = self.folder / f"{method}.json"
        if meta_path.exists():
            os.remove(meta_path)  # a result is valid only once both its files are new
        arrays = {k: np.asarray(getattr(result, k)) for k in _ARRAYS}
        arrays.update({f"extra.{k}": v for k, v in result.extra.items() if isinstance(v, np.ndarray)})
        with atomic_output(self.folder / f"{method}.npz", overwrite=True) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        atomic_write_json(meta_path, {"key": self._key(method, settings), "nfe": int(result.nfe),
                                      "grad_evals": int(result.grad_evals), "seconds": float(result.seconds),
                                      "extra": extra, "commit": self.commit,
                                      "made": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        return True
