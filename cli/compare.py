"""``piddm compare``: every way of enforcing observations and physics on the same teacher, in one report.

A solve comparison (:func:`piddm.compare.solve.run`) whose observations come from the task
(forward: a observed, inverse: u, reconstruction: both, each at ``--observed`` percent) and whose
default rows are PIDDM, DiffusionPDE, DPS, ECI-sampling and D-Flow on the shipped teacher and
student, the best non-generative baseline and, where exact, the Bayes limit
(:func:`piddm.defaults.compare_methods`).
"""

from __future__ import annotations

from pathlib import Path

import typer

TASKS = {"forward": ("a",), "inverse": ("u",), "reconstruction": ("a", "u"), "reconstruct": ("a", "u"), "generate": ()}


def compare(
    pde: str = typer.Option(..., "--pde", help="darcy | poisson | helmholtz | navier-stokes"),
    task: str = typer.Option(..., "--task", help="forward (a observed) | inverse (u observed) | reconstruction "
                             "(both) | generate (no observations: PIDDM-1 against the guided teacher samplers)"),
    observed: float = typer.Option(3.0, "--observed", help="percent of the observed channel(s)' pixels"),
    test: str = typer.Option("0:100", "--test", help="samples START:STOP of the data split (generate: 0:N, N samples "
                             "per method against the first N)"),
    split: str = typer.Option("test", "--split", help="test | val"),
    input_file: Path | None = typer.Option(None, "--input", help="observation file (as piddm solve) instead of "
                                           "--test/--observed"),
    method: list[str] = typer.Option([], "--method", help="a solve method (piddm solve --help lists them); "
                                     "repeat; default: piddm, dpde, dps, eci, dflow, kriging (+ kriging-solver "
                                     "forward, + bayes on Poisson/Helmholtz)"),
    setting: list[str] = typer.Option([], "--set", help="METHOD.FIELD=VALUE, e.g. dpde.steps=500 or "
                                      "dpde.residual=original (repeatable)"),
    student: Path | None = typer.Option(None, "--student", help="student.pt or distill run folder [shipped]"),
    teacher: Path | None = typer.Option(None, "--teacher", help="teacher.pt or run folder [shipped]"),
    data: Path | None = typer.Option(None, "--data", help="data-set folder [data/<pde>-<res>, else made]"),
    out: Path | None = typer.Option(None, "-o", "--out", help="output folder [runs/<pde>-compare-<task>]"),
    obs_noise: float = typer.Option(0.0, "--obs-noise", help="observation noise std in physical units"),
    mask_seed: int = typer.Option(0, "--mask-seed", help="masks of sample i drawn from (mask seed, channel, i)"),
    max_panels: int = typer.Option(4, "--max-panels", help="per-sample PNG panels per method (first samples)"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
    resume: bool = typer.Option(False, "--resume", help="reuse the methods an unfinished run of the same command "
                                "finished (same settings, samples, masks, models and device); solve the rest"),
    jobs: int = typer.Option(1, "--jobs", help="methods solved at once, each in its own process with its share of "
                             "the torch threads; the same answers up to round-off, timings measured side by side"),
):
    """Compare PIDDM with DiffusionPDE, DPS, ECI-sampling and D-Flow on the same teacher, data and masks."""
    from piddm.compare.solve import run

    from .progress import bars

    task = _checked_task(task, observed)
    if task == "generate":
        _refuse_observation_flags(observed, obs_noise, mask_seed, max_panels, resume, jobs)
        return _generate(pde, test, split, method, setting, student, teacher, data, out, device, overwrite, input_file)
    opts = _solve_options(pde, task, observed, test, split, input_file, method, setting, student, teacher, data, out,
                          obs_noise, mask_seed, max_panels, device, overwrite)
    opts.resume, opts.jobs = resume, jobs
    with bars() as b:
        comparison, folder = run(opts, progress=b.task)
    typer.echo(comparison.markdown())
    typer.echo(f"report    {folder / 'report.md'}")


def _checked_task(task: str, observed: float) -> str:
    import math

    from pde_bench.conventions import InputError

    if task not in TASKS:
        raise InputError(f"task must be one of forward, inverse, reconstruction, generate, got {task!r}")
    if not (math.isfinite(observed) and 0 < observed <= 100):
        raise InputError(f"--observed must be a percentage in (0, 100], got {observed:g}")
    return "reconstruction" if task == "reconstruct" else task


def _refuse_observation_flags(observed, obs_noise, mask_seed, max_panels, resume, jobs) -> None:
    from pde_bench.conventions import InputError

    unused = [flag for flag, value, default in (("--observed", observed, 3.0), ("--obs-noise", obs_noise, 0.0),
                                                ("--mask-seed", mask_seed, 0), ("--max-panels", max_panels, 4),
                                                ("--resume", resume, False), ("--jobs", jobs, 1))
              if value != default]
    if unused:
        raise InputError(f"{', '.join(unused)}: no meaning for --task generate (no observations; its rows run one "
                         "at a time)")


def _solve_options(pde, task, observed, test, split, input_file, method, setting, student, teacher, data, out,
                   obs_noise, mask_seed, max_panels, device, overwrite):
    from pde_bench import get_problem
    from piddm.compare.solve import SolveOptions, parse_settings
    from piddm.defaults import compare_methods

    name = get_problem(pde).name
    methods = list(method) or compare_methods(name, task)
    observe = [] if input_file is not None else [f"{ch}:{observed:g}%" for ch in TASKS[task]]
    return SolveOptions(pde=name, observe=observe, test=test, split=split,
                        input_file=None if input_file is None else str(input_file),
                        student=None if student is None else str(student),
                        teacher=None if teacher is None else str(teacher), data=None if data is None else str(data),
                        out=str(out or Path("runs") / f"{name}-compare-{task}"), obs_noise=obs_noise,
                        mask_seed=mask_seed, methods=methods, settings=parse_settings(setting, {}, methods),
                        max_panels=max_panels, device=device, overwrite=overwrite)

def _generate(pde, test, split, method, setting, student, teacher, data, out, device, overwrite, input_file):
    from pde_bench import get_problem
    from pde_bench.conventions import InputError
    from piddm.compare.generate import GENERATE_METHODS, GenerateOptions, run
    from piddm.compare.solve import parse_range, parse_settings

    from .progress import bars

    if input_file is not None:
        raise InputError("--input holds observations; generation takes none")
    samples = parse_range(test)
    if samples.start != 0:
        raise InputError(f"--test {test}: generation draws N samples against the first N of the split; use 0:N")
    name = get_problem(pde).name
    methods = list(method) or list(GENERATE_METHODS)
    settings = parse_settings(setting, {}, [m for m in methods if m in ("dpde", "eci")])
    opts = GenerateOptions(pde=name, student=None if student is None else str(student),
                           teacher=None if teacher is None else str(teacher), data=None if data is None else str(data),
                           out=str(out or Path("runs") / f"{name}-compare-generate"), samples=len(samples),
                           split=split, methods=methods, settings=settings, device=device, overwrite=overwrite)
    with bars() as b:
        comparison, folder = run(opts, progress=b.task)
    typer.echo(comparison.markdown())
    typer.echo(f"report    {folder / 'report.md'}")
