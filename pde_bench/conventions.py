"""Project-wide conventions for inputs and outputs (DESIGN.md "Outputs").

One small module that every layer uses:

* :class:`InputError` -- the error type for bad user input. The CLI prints its message as one
  line and exits with code 2 (``--debug`` shows the traceback).
* :func:`atomic_output` -- write a file or folder under a temporary name and rename it into
  place only when writing succeeded, so a failure never leaves half-written output and never
  destroys what the user already had.
* :func:`check_output` -- refuse to replace an existing output unless ``overwrite`` is set.
* :func:`provenance` -- the command, package versions, git commit and hardware that made an
  output, stored next to it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import platform
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = ["OutputExists", "InputError", "atomic_output", "check_output", "is_finite", "is_int", "provenance"]


class InputError(ValueError):
    """Bad user input: a one-line message naming the file, key, shape or value at fault."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class OutputExists(InputError):
    """An output that already exists and was not to be replaced (a command line adds its flag to the message)."""


def is_int(value) -> bool:
    """An integer setting: int or numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_finite(value) -> bool:
    """A finite real setting: int, float or numpy number, not a bool, neither inf nor NaN."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)


def check_output(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Return ``path`` as a Path, raising :class:`OutputExists` if it exists and ``overwrite`` is off."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExists(f"{path} already exists (overwrite is off)")
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write to; rename it to ``path`` on success.

    Works for a file or a folder. On an exception the temporary is removed and an existing
    ``path`` is left untouched. With ``overwrite`` an existing ``path`` is replaced only after
    the new output is complete.
    """
    final = check_output(path, overwrite)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written to the temporary output for {final}")
        if final.exists() and tmp.is_dir():
            # os.replace cannot replace a non-empty directory: move the old one aside first.
            old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(final, old)
            os.replace(tmp, final)
            _remove(old)
        else:
            os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


_VERSIONED = ("piddm", "torch", "numpy", "scipy", "h5py", "xarray", "neuraloperator")


def _git_commit() -> str | None:
    """Commit of the source tree this package was imported from (``+dirty`` if a file git does not ignore is
    modified or new, e.g. an uncommitted script; results under benchmarks/results/ are outputs, not source,
    and do not count)."""
    src = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=normal", "--", ".",
             ":(exclude)benchmarks/results"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _hardware() -> dict:
    info = {"machine": platform.machine(), "processor": platform.processor() or None,
            "cpu_count": os.cpu_count()}
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["cuda_devices"] = [torch.cuda.get_device_name(i)
                                    for i in range(torch.cuda.device_count())]
    return info


def provenance(options: dict | None = None) -> dict:
    """What made an output: command line, options, versions, git commit, hardware, time."""
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else None,
        "options": options or {},
        "versions": versions,
        "git_commit": _git_commit(),
        "hardware": _hardware(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
