"""``piddm distill``: teacher pairs -> lambda = 0 student and PIDDM student -> evaluation -> report.

Run folder (``runs/<pde>-distill`` by default)::

    piddm/        the PIDDM student's run (student.pt, checkpoint.pt, loss.csv, val.csv, pairs.h5)
    lam0/         the lambda = 0 ablation (pure distillation, same pairs and budget)
    report.md     the table, the floors and the acceptance lines
    metrics.json  {"rows", "floor", "provenance"}
    panel.png     samples and residual maps per method

Options left unset take the defaults of :data:`FULL` (or :data:`QUICK` with ``--quick``).
"""

from __future__ import annotations

from pathlib import Path

import typer

# Chosen by measurement on the validation split: benchmarks/distill_tuning.md.
FULL = {"pairs": 2048, "pair_steps": 10, "steps": 500, "lam": 0.1, "lam_warmup": 200, "batch": 64, "lr": 1e-4,
        "boundary_weight": 1.0, "inputs": "soft", "samples": 256, "eval_batch": 128, "refine_steps": 5}
# Per-problem departures from FULL, chosen on that problem's validation split (README, distill
# sections; benchmarks/results/distill_tuning_<pde>.md).
FULL_BY_PROBLEM: dict[str, dict] = {"poisson": {"lam": 0.3}, "helmholtz": {"lam": 1.0}}
QUICK = {"pairs": 128, "pair_steps": 10, "steps": 60, "lam": 0.1, "lam_warmup": 20, "batch": 32, "lr": 1e-4,
         "boundary_weight": 1.0, "inputs": "soft", "samples": 64, "eval_batch": 64, "refine_steps": 3}


INPUT_WORDS = {"soft": "the network's continuous a",
               "hard": "the thresholded a (straight-through gradient)",
               "fixed": "the thresholded a, no gradient to a"}


def distill(
    pde: str = typer.Option(..., "--pde", help="darcy | poisson | helmholtz | navier-stokes"),
    teacher: Path | None = typer.Option(None, "--teacher", help="teacher.pt or run folder [shipped reference]"),
    data: Path | None = typer.Option(None, "--data", help="evaluation data set [data/<pde>-<res>, else "
                                     "data/<pde>-<res>-eval, made if absent]"),
    out: Path | None = typer.Option(None, "-o", "--out", help="run folder [runs/<pde>-distill]"),
    lam: float | None = typer.Option(None, "--lam", help="weight of the PDE residual in the student's loss "
                                                   "[0.1; poisson 0.3, helmholtz 1: chosen on validation]"),
    lam_warmup: int | None = typer.Option(None, "--lam-warmup", help="steps over which lam ramps up linearly"),
    inputs: str | None = typer.Option(None, "--inputs", help="what the residual in the loss sees of a: soft "
                                      "(continuous) | hard (thresholded, straight-through gradient) | fixed "
                                      "(thresholded, no gradient to a)"),
    boundary_weight: float | None = typer.Option(None, "--boundary-weight", help="weight of the boundary term in R"),
    pairs: int | None = typer.Option(None, "--pairs", help="teacher pairs (eps, x0)"),
    pair_steps: int | None = typer.Option(None, "--pair-steps", help="Heun steps N_s of each teacher solve"),
    refresh_every: int = typer.Option(0, "--refresh-every", help="steps between pair refreshes (0: never)"),
    refresh_fraction: float = typer.Option(0.1, "--refresh-fraction", help="fraction of pairs refreshed"),
    steps: int | None = typer.Option(None, "--steps", help="optimiser steps per student"),
    minutes: float | None = typer.Option(None, "--minutes", help="wall-time budget per student"),
    batch: int | None = typer.Option(None, "--batch", help="global batch (split over torchrun processes)"),
    lr: float | None = typer.Option(None, "--lr", help="peak learning rate (AdamW)"),
    ablation: bool = typer.Option(True, "--ablation/--no-ablation", help="also train the lambda = 0 student"),
    refine_steps: int | None = typer.Option(None, "--refine-steps", help="PIDDM-ref: gradient steps on eps (0: no row)"),
    refine_lr: float = typer.Option(0.05, "--refine-lr", help="PIDDM-ref: Adam step size on eps"),
    samples: int | None = typer.Option(None, "--eval-samples", help="samples per method in the evaluation"),
    eval_batch: int | None = typer.Option(None, "--eval-batch", help="batch of the timed evaluation"),
    quick: bool = typer.Option(False, "--quick", help="smoke run (about 1.5 minutes on 2 CPU cores): smaller everything"),
    seed: int = typer.Option(0, "--seed", help="seed of the pairs' noise and of training"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    resume: bool = typer.Option(False, "--resume", help="continue the students in --out from their checkpoints "
                                "(only --steps/--minutes may change), then evaluate again"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing run folder"),
):
    """Distil the teacher into a one-step student with the PDE residual in its loss, evaluate, report."""
    import shutil

    from pde_bench import get_problem
    from pde_bench.conventions import InputError, check_output, provenance
    from piddm.distill import (
        DistillOptions,
        distill,
        stored_options,
        teacher_pairs,
    )
    from piddm.distributed import setup
    from piddm.models import load_model
    from piddm.models import reference_model
    from piddm.training import TrainConfig

    from piddm.models import load_student
    from .progress import progress_bar, training_bar

    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other")
    given = {"pairs": pairs, "pair_steps": pair_steps, "steps": steps, "lam": lam, "lam_warmup": lam_warmup,
             "batch": batch, "lr": lr, "boundary_weight": boundary_weight, "inputs": inputs, "samples": samples,
             "eval_batch": eval_batch, "refine_steps": refine_steps}
    name = get_problem(pde).name
    defaults = QUICK if quick else {**FULL, **FULL_BY_PROBLEM.get(name, {})}
    cfg = {k: v if v is not None else defaults[k] for k, v in given.items()}
    for k in ("pairs", "pair_steps", "batch", "samples", "eval_batch"):
        if cfg[k] < 1:
            raise InputError(f"--{k.replace('_', '-')} must be >= 1, got {cfg[k]}")
    if cfg["steps"] < 1 or cfg["refine_steps"] < 0:
        raise InputError(f"--steps must be >= 1 and --refine-steps >= 0, got {cfg['steps']}, {cfg['refine_steps']}")
    from piddm.physics import INPUT_MODES

    if cfg["inputs"] not in INPUT_MODES:
        raise InputError(f"--inputs must be one of {', '.join(INPUT_MODES)}, got {cfg['inputs']!r}")
    teacher_path = teacher or reference_model(name, "teacher")
    out = out or Path("runs") / f"{name}-distill"
    if not resume:
        check_output(out, overwrite)
    elif not out.exists():
        raise InputError(f"{out}: nothing to resume (no such folder)")

    ctx = setup(device)
    try:
        t_model = load_model(teacher_path, "teacher", problem=name, device=ctx.device)
        ref = None
        if ctx.is_main:  # the evaluation data are checked before any training
            from piddm.compare.distill import check_reference_data

            data_dir = _eval_data(data, t_model, cfg["samples"], "piddm distill")
            ref = _reference_sets(data_dir, cfg["samples"])
            check_reference_data(ref, t_model)
        if ctx.is_main and overwrite and out.exists():
            shutil.rmtree(out)
        ctx.barrier()

        def options(lam_value: float, sub: str) -> DistillOptions:
            return DistillOptions(
                pde=name, teacher=str(t_model.path), out=str(out / sub), pairs=cfg["pairs"],
                pair_steps=cfg["pair_steps"], refresh_every=refresh_every, refresh_fraction=refresh_fraction,
                lam=lam_value, lam_warmup=cfg["lam_warmup"], inputs=cfg["inputs"],
                boundary_weight=cfg["boundary_weight"], seed=seed, device=device,
                train=TrainConfig(steps=cfg["steps"], minutes=minutes, batch=cfg["batch"], lr=cfg["lr"], warmup=50,
                                  ema_halflife=5_000, seed=seed, checkpoint_every=200, log_every=10))

        runs = {"piddm": options(cfg["lam"], "piddm")}
        if ablation:
            runs = {"lam0": options(0.0, "lam0"), **runs}
        shared = None
        if not resume or not all((out / s / "checkpoint.pt").exists() for s in runs):
            first = next(iter(runs.values()))
            first.check()
            if ctx.is_main:
                with progress_bar(f"teacher pairs (Heun-{first.pair_steps})", first.pairs) as advance:
                    shared = teacher_pairs(first, t_model, ctx.device, advance)
            else:
                shared = teacher_pairs(first, t_model, ctx.device)
        results = {}
        for sub, opts in runs.items():
            again = resume and (out / sub / "checkpoint.pt").exists()
            if again:
                opts = stored_options(out / sub)
                opts.train.steps, opts.train.minutes, opts.device = cfg["steps"], minutes, device
                runs[sub] = opts  # the report states the options the run really has
            label = f"student {sub} (λ={opts.lam:g})"
            # resuming, a student stopped before its first checkpoint starts again from scratch
            call = {"resume": again, "overwrite": resume and not again, "pairs": shared}
            if ctx.is_main:
                with training_bar(label, opts.train.steps) as update:
                    results[sub] = distill(opts, ctx, on_progress=update, **call)
            else:
                results[sub] = distill(opts, ctx, **call)
    finally:
        ctx.close()
    if not ctx.is_main:
        return
    students = {}
    if ablation:
        students["student λ=0"] = load_student(out / "lam0" / "student.pt", problem=name, device=ctx.device)
    students["PIDDM-1"] = load_student(out / "piddm" / "student.pt", problem=name, device=ctx.device)
    _report(out, t_model, students, ref, data_dir, cfg, quick, results, runs,
            provenance({**cfg, "pde": name, "teacher": str(t_model.path), "data": str(data_dir), "out": str(out),
                        "quick": quick, "seed": seed, "minutes": minutes, "ablation": ablation,
                        "refine_lr": refine_lr, "refresh_every": refresh_every}),
            refine_lr)


def _reference_sets(data_dir: Path, samples: int):
    from pde_bench.conventions import InputError
    from piddm.evaluate.scoring import ReferenceSets

    try:
        return ReferenceSets(data_dir, samples, split="test")
    except ValueError as err:  # too few samples for the asked evaluation
        raise InputError(f"{err} (lower --eval-samples or give a larger data set)") from None


def _report(out: Path, t_model, students: dict, ref, data_dir: Path, cfg: dict, quick: bool, results: dict, runs: dict,
            prov: dict, refine_lr: float) -> None:
    from piddm.compare.distill import (
        TEACHER_STEPS,
        EvalSettings,
        acceptance,
        evaluate_distilled,
    )
    from piddm.report.comparison import save_panel, write_metrics, write_report

    from .progress import task_bars

    settings = EvalSettings(samples=cfg["samples"], batch=cfg["eval_batch"], refine_steps=cfg["refine_steps"],
                            refine_lr=refine_lr)
    with task_bars() as add:
        scored, floor = evaluate_distilled(t_model, students, ref, settings, progress=add)
    rows = [s.row for s in scored]
    name = t_model.problem.name
    smoke = "SMOKE RUN (--quick): tiny budgets, numbers say only that the pipeline works. " if quick else ""
    budget = "; ".join(f"{sub}: {r.step} steps in {r.elapsed / 60:.1f} min (stopped by {r.stopped_by})"
                       for sub, r in results.items())
    opts = runs["piddm"]
    notes = [
        (f"{smoke}{name} at {t_model.resolution}², {cfg['samples']} samples per method against the "
         f"{cfg['samples']}-sample test split of `{data_dir}`, batch {settings.batch}, noise seed {settings.seed}."),
        "",
        (f"Students: {opts.pairs} pairs from teacher Heun-{opts.pair_steps}; λ = {opts.lam:g} "
         f"(warm-up {opts.lam_warmup} steps) for PIDDM, 0 for the ablation; the residual in the loss sees "
         f"{INPUT_WORDS[opts.inputs]}; boundary weight {opts.boundary_weight:g}. {budget}."),
    ]
    after = [
        ("Residual: per-sample RMS of the PDE residual / the data set's residual scale (Darcy: a thresholded). "
         "bc: RMS of u on the boundary / RMS of u. MMSE/SMSE: per-pixel mean / std of u against the test "
         "split's (ECI-sampling's metrics); the floor row compares two disjoint real sets of the same size."),
        "",
        "Acceptance (distill issue):", *acceptance(rows),
    ]
    prov = {**prov, "smoke": quick, "title": f"piddm distill: {name}"}
    title = f"{'[SMOKE] ' if quick else ''}piddm distill — {name} {t_model.resolution}²"
    text = write_report(out / "report.md", title, rows, floor, baseline=f"teacher Heun-{TEACHER_STEPS}", notes=notes,
                        after=after, provenance=prov)
    write_metrics(out / "metrics.json", rows, floor, prov)
    fields = {"test data": (ref.a_test, ref.u_test)}
    fields.update({s.row["method"].split(" (")[0]: (s.a, s.u) for s in scored})
    save_panel(out / "panel.png", t_model.problem, fields, ref.scale,
               title=f"{title}: samples and log10 |residual| / scale")
    typer.echo(text)
    typer.echo(f"report    {out / 'report.md'}\nmetrics   {out / 'metrics.json'}\npanel     {out / 'panel.png'}\n"
               f"student   {out / 'piddm' / 'student.pt'}")


def _eval_data(data, model, samples, made_by):
    from piddm.compare.data import evaluation_data

    from .progress import task_bars

    with task_bars() as add:
        return evaluation_data(data, model, samples, made_by, progress=add)
