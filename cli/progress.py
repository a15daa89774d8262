"""Progress bars on stderr (rich), with rate and ETA."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

stderr = Console(stderr=True)
LOG_EVERY_S = 30.0


def _advancer(bar: Progress, description: str, total: int):
    """``advance(n)`` for a new task; redirected to a file, it also prints a plain line every 30 s."""
    import time

    task = bar.add_task(description, total=total)
    state = {"done": 0, "t0": time.monotonic(), "last": time.monotonic()}

    def advance(n: int = 1) -> None:
        bar.advance(task, n)
        state["done"] += n
        now = time.monotonic()
        if not stderr.is_terminal and (now - state["last"] >= LOG_EVERY_S or state["done"] >= total):
            state["last"] = now
            elapsed = now - state["t0"]
            eta = elapsed / state["done"] * (total - state["done"]) if state["done"] else float("nan")
            stderr.print(f"{description}: {state['done']}/{total} elapsed {elapsed / 60:.1f} min "
                         f"ETA {eta / 60:.1f} min")

    return advance


_COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn())


@contextlib.contextmanager
def progress_bar(description: str, total: int):
    """Yield ``advance(n)``: a callback that moves a bar of ``total`` items on stderr."""
    with Progress(*_COLUMNS, console=stderr, transient=False) as bar:
        yield _advancer(bar, description, total)


@contextlib.contextmanager
def training_bar(description: str, total: int):
    """Yield ``update(step, total, info)`` for a training loop: step count, loss, rate and ETA."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    last_line = [0.0]
    with Progress(*columns, console=stderr, transient=False) as bar:
        task = bar.add_task(description, total=total, loss="-", rate="")

        def update(step: int, total: int, info: dict) -> None:
            bar.update(task, completed=step, total=total, loss=f"{info['loss']:.4g}",
                       rate=f"{info['it_s']:.1f} it/s {info['samples_s']:.0f} samples/s")
            if not stderr.is_terminal and info["elapsed"] - last_line[0] >= LOG_EVERY_S:
                # redirected to a log file: a plain line now and then instead of a live bar
                last_line[0] = info["elapsed"]
                stderr.print(f"{description}: step {step}/{total} loss {info['loss']:.4g} "
                             f"{info['samples_s']:.0f} samples/s elapsed {info['elapsed'] / 60:.1f} min")

        yield update


class Bars:
    """Bars one after another on stderr: ``task(label, total) -> advance(n)`` and ``training(label, total)``
    (a context manager yielding ``update``). Only one live display exists at a time: each new bar
    closes the previous one, so library code can ask for bars in any order."""

    def __init__(self):
        self._live: Progress | None = None

    def task(self, description: str, total: int):
        self.close()
        self._live = Progress(*_COLUMNS, console=stderr, transient=False)
        self._live.start()
        return _advancer(self._live, description, total)

    @contextlib.contextmanager
    def training(self, description: str, total: int):
        self.close()
        with training_bar(description, total) as update:
            yield update

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


@contextlib.contextmanager
def bars():
    """Yield a :class:`Bars`; the last bar is closed on exit."""
    b = Bars()
    try:
        yield b
    finally:
        b.close()
