"""Finished methods of an unfinished comparison, kept beside its output so ``--resume`` skips them.

A comparison with DiffusionPDE-2000 takes CPU-hours; one stopped by a session limit or a crash would
otherwise lose every method it had finished. After each method its :class:`SolveResult` is written
(atomically) to ``.<out>.partial/<method>.npz`` (arrays) and ``.json`` (costs, extras and the key it
was made under). A resumed run reuses a staged result only when its key matches: the method, its
resolved settings, the sample ids, the observation masks and values (hashed), the noise, the device,
the commit of the code (code at an unknown commit or from a modified tree, ``+dirty``, never reuses
anything), the library versions, the student /
teacher / training files and the method's own model files (path, size, mtime). The report lists
each reused result with the time it was made. The staging folder is removed once the report is
written; a run without ``--resume`` leaves earlier staged results in place until then. The worker
processes of ``--jobs`` (:mod:`piddm.compare.parallel`) hand their results to the parent the same
way; on a modified tree they stage under a token of that run, which no other run reuses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
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

    def __init__(self, out: Path, obs, ids, device, files: dict, commit: str, versions: dict | None = None,
                 token: str | None = None):
        self.folder = Path(out).with_name(f".{Path(out).name}.partial")
        digest = hashlib.sha256()
        for arr in (np.ascontiguousarray(obs.mask), np.ascontiguousarray(obs.values, dtype=np.float64)):
            digest.update(arr.tobytes())
        self.context = {"ids": [int(i) for i in ids], "observations": digest.hexdigest(),
                        "noise": _jsonable(obs.noise), "device": str(device),
                        "files": {k: _file_id(v) for k, v in files.items()}, "versions": dict(versions or {})}
        self.commit = str(commit or "")
        self.token = token  # set: results are staged for one run's own workers (piddm.compare.parallel)

    @property
    def reusable(self) -> bool:
        """Only code at a known, clean commit reuses anything (no git, or ``+dirty``: the code is unknown), except
        within one run: the results its worker processes stage under its token."""
        return bool(self.token) or (bool(self.commit) and self.commit != "None" and "+dirty" not in self.commit)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _key(self, method: str, settings, files=()) -> dict:
        key = {"method": method, "settings": _jsonable(settings.to_dict()), "commit": self.commit,
               "method_files": [_file_id(f) for f in files], **self.context}
        return {**key, "token": self.token} if self.token else key

    def load(self, method: str, settings, files=()) -> tuple[SolveResult, dict] | None:
        """The staged result of ``method`` made under the same key, with its {"commit", "made", "made_with"}
        (made_with: {"jobs", "threads"} for a row solved beside others, else None); else None.
        ``files``: the method's own model files."""
        meta_path, arr_path = self.folder / f"{method}.json", self.folder / f"{method}.npz"
        if not self.reusable or not (meta_path.exists() and arr_path.exists()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("key") != self._key(method, settings, files):
                return None
            with np.load(arr_path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in _ARRAYS}
                extra = {k[len("extra."):]: z[k] for k in z.files if k.startswith("extra.")}
            extra.update(meta["extra"])
            result = SolveResult(**arrays, nfe=meta["nfe"], grad_evals=meta["grad_evals"], seconds=meta["seconds"],
                                 extra=extra)
            return result, {"commit": meta["commit"], "made": meta["made"], "made_with": meta.get("made_with")}
        except Exception:  # noqa: BLE001 - a damaged staged file is solved again, never a failed run
            return None

    def save(self, method: str, settings, result: SolveResult, files=(), made_with: dict | None = None) -> bool:
        """Stage ``result`` (arrays first, then the JSON that makes it count). Never raises: False (nothing
        staged, a resumed run solves the method again) when it cannot be written, with the reason on stderr."""
        try:
            self._write(method, settings, result, files, made_with)
            return True
        except (OSError, TypeError, ValueError) as err:
            print(f"piddm: warning: {method} not staged for --resume ({err})", file=sys.stderr)
            return False

    def _write(self, method: str, settings, result: SolveResult, files, made_with: dict | None) -> None:
        extra = {k: _jsonable(v) for k, v in result.extra.items() if not isinstance(v, np.ndarray)}
        key = self._key(method, settings, files)
        self.folder.mkdir(parents=True, exist_ok=True)
        meta_path = self.folder / f"{method}.json"
        if meta_path.exists():
            os.remove(meta_path)  # a result is valid only once both its files are new
        arrays = {k: np.asarray(getattr(result, k)) for k in _ARRAYS}
        arrays.update({f"extra.{k}": v for k, v in result.extra.items() if isinstance(v, np.ndarray)})
        with atomic_output(self.folder / f"{method}.npz", overwrite=True) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        atomic_write_json(meta_path, {"key": key, "nfe": int(result.nfe),
                                      "grad_evals": int(result.grad_evals), "seconds": float(result.seconds),
                                      "extra": extra, "commit": self.commit,
                                      "made": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                      "made_with": made_with})
