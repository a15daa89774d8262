"""Solve a comparison's methods in parallel worker processes (``piddm compare --jobs N``).

A comparison with DiffusionPDE-2000 takes CPU-hours, one method after another. With ``--jobs N``
the methods that stand on their own (not time-matched, not a "then the solver" variant reusing
another row) are handed to at most N fresh Python processes at once, each with its share of the
torch threads. A worker runs the same comparison for its one method and stages the result
(:mod:`piddm.compare.staging`), writing no report; the parent then builds the report from the
staged results, as ``--resume`` does, and solves the remaining rows itself with the workers' thread
count. Every answer is the one a sequential run gives up to round-off (a sample's noise depends only
on its index; other thread counts sum in another order); seconds per sample are measured beside the
other workers, and the report says so. A worker stops when its parent goes away, and the parent
stops its workers when it fails, is interrupted or is sent SIGTERM / SIGHUP.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pde_bench.conventions import InputError

__all__ = ["WorkerFailed", "LineProgress", "solve_in_workers", "worker_method"]


class WorkerFailed(InputError):
    """A worker process exited with an error; its own message is printed above the parent's one line."""


def worker_method(method) -> bool:
    """Whether a worker may solve ``method`` alone: a time-matched method takes its budget from another row,
    and a "then the solver" variant (``tuned_as``) reuses the result of the method it wraps."""
    return not method.time_matched and method.tuned_as is None


def solve_in_workers(options: dict, names: list[str], jobs: int, threads: int, handoff: dict,
                     on_done: Callable[[str], None] | None = None, poll_s: float = 0.5) -> None:
    """Solve ``names`` (method ids) with at most ``jobs`` worker processes at once, in the given order.

    ``options``: the comparison's :class:`~piddm.compare.solve.SolveOptions` as a dict; ``handoff``: the
    parent's staging commit and token ({"commit", "token"}: the workers stage under the parent's key, and
    a modified tree only for this run). A failed worker stops the others and raises :class:`WorkerFailed`
    naming its method.
    """
    pending, running = list(names), {}
    env = {**os.environ, **{k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    jobs_used = min(jobs, len(names))
    with tempfile.TemporaryDirectory(prefix="piddm-jobs-") as tmp, _signals_stop_the_run():
        try:
            while pending or running:
                while pending and len(running) < jobs:
                    name = pending.pop(0)
                    order = Path(tmp) / f"{name}.json"
                    order.write_text(json.dumps({"options": options, "parent": os.getpid(),
                                                 "worker": {**handoff, "method": name, "jobs": jobs_used,
                                                            "threads": threads}}))
                    # the worker's stdout goes to fd 2: the parent's stdout is the report's
                    running[name] = subprocess.Popen([sys.executable, "-m", "piddm.compare.parallel", str(order)],
                                                     env=env, stdin=subprocess.DEVNULL, stdout=2)
                time.sleep(poll_s)
                for name, proc in list(running.items()):
                    code = proc.poll()
                    if code is None:
                        continue
                    del running[name]
                    if code != 0:
                        how = (f"was killed by signal {-code}" if code < 0
                               else f"failed (exit {code}); its message is above")
                        raise WorkerFailed(f"--jobs: the worker solving {name} {how}")
                    if on_done:
                        on_done(name)
        finally:
            for proc in running.values():
                proc.terminate()
            for proc in running.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class _signals_stop_the_run:
    """While the workers run, SIGTERM and SIGHUP end the parent through Python (so it stops its workers) rather
    than killing it outright. Only in the main thread, where signal handlers can be set."""

    def __enter__(self):
        self.before = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)):
                if sig is not None:
                    self.before[sig] = signal.signal(sig, _exit_on_signal)
        return self

    def __exit__(self, *exc):
        for sig, handler in self.before.items():
            signal.signal(sig, handler)
        return False


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def _stop_with_parent(parent: int, period_s: float = 2.0) -> None:
    """A worker whose parent has gone (killed outright: no chance to stop it) exits instead of running on."""

    def watch():
        while True:
            time.sleep(period_s)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


class LineProgress:
    """A worker's progress as plain lines on stderr (bars of several processes would overwrite each other):
    one line per tenth of the samples, with the elapsed time and an ETA."""

    def __init__(self, label: str, total: int, stream=sys.stderr):
        self.label, self.total, self.stream = label, max(int(total), 1), stream
        self.done, self.next_tenth, self.t0 = 0, 1, time.perf_counter()

    def __call__(self, advance: int = 1) -> None:
        self.done += int(advance)
        tenths = 10 * self.done // self.total
        if tenths < self.next_tenth:
            return
        self.next_tenth = tenths + 1
        elapsed = time.perf_counter() - self.t0
        eta = elapsed * (self.total - self.done) / max(self.done, 1)
        print(f"piddm worker: {self.label}: {self.done}/{self.total} samples, {_clock(elapsed)} elapsed, "
              f"ETA {_clock(eta)}", file=self.stream, flush=True)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: ``python -m piddm.compare.parallel ORDER.json`` (written by :func:`solve_in_workers`)."""
    import torch

    from .solve import SolveOptions, run

    argv = sys.argv[1:] if argv is None else argv
    order = json.loads(Path(argv[0]).read_text())
    _stop_with_parent(int(order["parent"]))
    torch.set_num_threads(int(order["worker"]["threads"]))
    try:
        run(SolveOptions(**order["options"]), worker=order["worker"])
    except InputError as err:
        print(f"piddm worker ({order['worker']['method']}): error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
