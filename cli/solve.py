"""``piddm solve``: forward, inverse and sparse reconstruction from partial observations.

Output folder (``runs/<pde>-solve-<task>`` by default), written under a temporary name and
renamed when complete::

    <method>.nc          prediction, std, best member, masks, observations, truth, per-sample metrics
    panels/<method>/     one PNG per sample: truth, prediction, |error|, std, observed points
    report.md            the summary table and the settings
    metrics.json         {"rows", "settings", "provenance"}

Methods: ``piddm`` (the student's input noise optimised, K starts per sample) and ``physics``
(the physics-only baseline: the fields optimised directly, no network). With both, the
baseline gets PIDDM's measured seconds per sample as its time budget.
"""

from __future__ import annotations

from pathlib import Path

import typer

METHODS = ("piddm", "physics")


def parse_range(text: str) -> range:
    """``0:100`` -> samples 0..99; ``7`` -> sample 7."""
    from pde_bench.conventions import InputError

    try:
        if ":" in text:
            lo, hi = (int(t) if t.strip() else None for t in text.split(":", 1))
            lo = lo or 0
            if hi is None or hi <= lo or lo < 0:
                raise ValueError
            return range(lo, hi)
        i = int(text)
        if i < 0:
            raise ValueError
        return range(i, i + 1)
    except ValueError:
        raise InputError(f"--test {text!r}: expected START:STOP with 0 <= START < STOP, or one index") from None


def solve(
    pde: str = typer.Option(..., "--pde", help="darcy | poisson | helmholtz | navier-stokes"),
    observe: list[str] = typer.Option([], "--observe", help="CHANNEL:AMOUNT, e.g. a:3% (fraction), u:500 "
                                      "(points), a:all; repeat for several channels"),
    test: str = typer.Option("0:100", "--test", help="samples START:STOP of the data split (with --observe)"),
    split: str = typer.Option("test", "--split", help="test | val (tune on val)"),
    input_file: Path | None = typer.Option(None, "--input", help="observation file (mask_a, obs_a, mask_u, obs_u, "
                                           "each (n, N, N); optional a_true, u_true) instead of --test/--observe"),
    student: Path | None = typer.Option(None, "--student", help="student.pt or distill run folder [shipped]"),
    data: Path | None = typer.Option(None, "--data", help="data set [data/<pde>-<res>, else made]"),
    out: Path | None = typer.Option(None, "-o", "--out", help="output folder [runs/<pde>-solve-<task>]"),
    obs_noise: float = typer.Option(0.0, "--obs-noise", help="observation noise std in physical units "
                                    "(0: noise-free, imposed exactly)"),
    mask_seed: int = typer.Option(0, "--mask-seed", help="masks of sample i drawn from (mask seed, channel, i)"),
    method: list[str] = typer.Option(["piddm"], "--method", help="piddm | physics (physics-only baseline); repeat "
                                     "for both"),
    starts: int | None = typer.Option(None, "--starts", help="K random starts per sample (one batch)"),
    iters: int | None = typer.Option(None, "--iters", help="optimiser steps"),
    lam: float | None = typer.Option(None, "--lam", help="lambda_infer: weight of the PDE residual"),
    lr: float | None = typer.Option(None, "--lr", help="Adam step size on the noise"),
    optimizer: str | None = typer.Option(None, "--optimizer", help="adam | lbfgs"),
    polish: int | None = typer.Option(None, "--polish", help="L-BFGS iterations on each member's fields after "
                                      "the noise search (0: none)"),
    batch: int = typer.Option(16, "--batch", help="samples per optimisation batch"),
    seed: int = typer.Option(0, "--seed", help="seed of the starts' noise"),
    physics_iters: int | None = typer.Option(None, "--physics-iters", help="baseline: optimiser steps"),
    physics_lam: float | None = typer.Option(None, "--physics-lam", help="baseline: weight of the residual"),
    physics_mu: float | None = typer.Option(None, "--physics-mu", help="baseline: weight of the smoothness term"),
    regulariser: str | None = typer.Option(None, "--regulariser", help="baseline: tikhonov | tv"),
    physics_lr: float | None = typer.Option(None, "--physics-lr", help="baseline: Adam step size"),
    physics_optimizer: str | None = typer.Option(None, "--physics-optimizer", help="baseline: lbfgs | adam"),
    physics_precondition: bool | None = typer.Option(None, "--physics-precondition/--no-physics-precondition",
                                                     help="baseline: smoothing preconditioner on the fields"),
    physics_budget: float | None = typer.Option(None, "--physics-budget", help="baseline: seconds per sample "
                                                "[PIDDM's measured time when both run, else none]"),
    max_panels: int = typer.Option(100, "--max-panels", help="PNG panels per method (first samples)"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:k]"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
):
    """Solve forward / inverse / reconstruction problems from partial observations, with uncertainty."""
    import numpy as np

    from pde_bench import get_problem
    from pde_bench.conventions import (
        InputError,
        atomic_output,
        check_output,
        provenance,
    )
    from piddm.models import load_student
    from piddm.physics import PhysicsLoss
    from piddm.distributed import resolve_device
    from piddm.solve.observation import Observation, parse_observe, read_observation
    from piddm.solve.physics_only import PhysicsSettings
    from piddm.models import reference_model
    from piddm.solve.noise_search import SolveSettings
    from piddm.defaults import physics_defaults, solve_defaults


    name = get_problem(pde).name
    for m in method:
        if m not in METHODS:
            raise InputError(f"--method must be one of {', '.join(METHODS)}, got {m!r}")
    methods = list(dict.fromkeys(method))
    if split not in ("test", "val"):
        raise InputError(f"--split must be test or val, got {split!r}")
    if not obs_noise >= 0:
        raise InputError(f"--obs-noise must be >= 0, got {obs_noise}")
    if max_panels < 0:
        raise InputError(f"--max-panels must be >= 0, got {max_panels}")
    specs = [parse_observe(s) for s in observe]
    if input_file is not None and specs:
        raise InputError("give either --input or --observe, not both")
    if input_file is None and not specs:
        raise InputError("nothing is observed: give --observe CHANNEL:AMOUNT (e.g. a:3%) or --input obs.h5")

    dev = resolve_device(device)
    student_path = student or reference_model(name, "student")
    net, model = load_student(student_path, problem=name, device=dev)
    res = model.resolution
    if input_file is not None:
        obs, truth = read_observation(input_file, noise=obs_noise)
        if obs.resolution != res:
            raise InputError(f"{input_file}: observations are {obs.resolution}x{obs.resolution}, the student "
                             f"works at {res}x{res}")
        task = obs.task()
    else:
        for s in specs:
            s.pixels(res)  # a count larger than the grid fails here, before any data is made
        task = Observation.task_of({s.channel for s in specs})
    out = out or Path("runs") / f"{name}-solve-{task}"
    check_output(out, overwrite)
    if input_file is not None:
        ids = np.arange(len(obs))
        source = str(input_file)
    else:
        ids = np.asarray(parse_range(test))
        data_dir = _eval_data(data, model, int(ids[-1]) + 1, "piddm solve")
        a_true, u_true = _split_fields(data_dir, split, model, ids)
        obs = Observation.from_specs(specs, a_true, u_true, seed=mask_seed, start=int(ids[0]), noise=obs_noise)
        truth = {"a": a_true, "u": u_true}
        source = f"{data_dir} ({split} {ids[0]}:{ids[-1] + 1})"

    cfg = {**solve_defaults(name, task)}
    cfg.update({k: v for k, v in {"starts": starts, "iters": iters, "lam": lam, "lr": lr,
                                  "optimizer": optimizer, "polish": polish}.items() if v is not None})
    settings = SolveSettings(**cfg, seed=seed, batch=batch)
    settings.check()
    pcfg = {**physics_defaults(name, task)}
    pcfg.update({k: v for k, v in {"iters": physics_iters, "lam": physics_lam, "mu": physics_mu,
                                   "regulariser": regulariser, "lr": physics_lr,
                                   "optimizer": physics_optimizer,
                                   "precondition": physics_precondition}.items() if v is not None})
    p_settings = PhysicsSettings(**pcfg, budget_s=physics_budget)
    p_settings.check()
    t = model.info.training
    physics = PhysicsLoss.for_model(model)

    prov = provenance({"pde": name, "student": str(model.path), "source": source, "observe": [str(s) for s in specs],
                       "obs_noise": obs_noise, "mask_seed": mask_seed, "methods": methods, "task": task,
                       "piddm": settings.to_dict(), "physics": p_settings.to_dict(), "device": str(dev)})
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        rows = _run_methods(tmp, methods, net, physics, obs, truth, ids, settings, p_settings, dev, task,
                            max_panels, prov)
        text = _write_report(tmp, rows, name, res, task, obs, source, settings, p_settings, methods, prov)
    typer.echo(text)
    typer.echo("\n".join(f"{m:9s} {out / (m + '.nc')}" for m in methods) + f"\nreport    {out / 'report.md'}")


def _split_fields(data_dir: Path, split: str, model, ids):
    """True (a, u) of the asked samples, after checking the data fit the student."""
    import numpy as np

    from pde_bench.conventions import InputError
    from pde_bench.loading import load

    ds = load(data_dir, split)
    prob = ds.problem
    if prob.name != model.problem.name or dict(prob.params) != dict(model.problem.params):
        raise InputError(f"{ds.path}: data of {prob.name} {dict(prob.params)}, the student is "
                         f"{model.problem.name} {dict(model.problem.params)}")
    if ds.u.shape[-1] != model.resolution:
        raise InputError(f"{ds.path}: data at {ds.u.shape[-1]}^2, the student works at {model.resolution}^2")
    if ids[-1] >= len(ds.u):
        raise InputError(f"--test {ids[0]}:{ids[-1] + 1}: the {split} split of {data_dir} has {len(ds.u)} samples")
    return np.asarray(ds.a[ids], dtype=np.float64), np.asarray(ds.u[ids], dtype=np.float64)


def _run_methods(folder: Path, methods, net, physics, obs, truth, ids, settings, p_settings, dev, task,
                 max_panels, prov) -> list[dict]:
    from piddm.solve.physics_only import solve_physics_only
    from piddm.solve.noise_search import solve_noise
    from piddm.report.solution import (
        sample_metrics,
        save_sample_panel,
        summary_row,
        write_solution,
    )

    from .progress import task_bars

    problem = physics.problem
    rows = []
    with task_bars() as add:
        for m in methods:
            if m == "piddm":
                result = solve_noise(net, physics, obs, settings, sample_ids=ids, device=dev,
                                     on_progress=add(f"PIDDM solve ({task}, K={settings.starts}, {settings.iters} "
                                                     f"{settings.optimizer} steps)", len(obs)))
                label, batch = "PIDDM", settings.batch
            else:
                if p_settings.budget_s is None and rows:
                    p_settings.budget_s = rows[0]["s_per_sample"]  # the same wall time as PIDDM's solve
                result = solve_physics_only(physics, obs, p_settings, device=dev,
                                            on_progress=add(f"physics-only ({task}, {p_settings.regulariser})",
                                                            len(obs)))
                label, batch = "physics-only", p_settings.batch
            metrics = sample_metrics(problem, result, obs, truth, physics.scale, physics.u_rms,
                                     ensemble=(m == "piddm" and settings.starts > 1))
            write_solution(folder / f"{m}.nc", problem, result, obs, truth, metrics, ids,
                           {"method": label, "task": task, "problem": problem.name, "nfe": result.nfe,
                            "grad_evals": result.grad_evals, "seconds_per_sample": result.seconds_per_sample,
                            "command": prov["command"], "git_commit": str(prov["git_commit"])})
            row = summary_row(label, task, metrics, result, samples=len(obs), batch=batch)
            if m == "physics":
                row["evaluations"] = result.extra["evaluations"]
            rows.append(row)
            n_panels = min(max_panels, len(obs))
            if n_panels:
                draw = add(f"panels {m}", n_panels)
                for i in range(n_panels):
                    save_sample_panel(folder / "panels" / m / f"sample_{int(ids[i]):05d}.png", i, problem, result,
                                      obs, truth, title=f"{label} {task}: {problem.name} sample {int(ids[i])}")
                    draw(1)
    return rows


def _write_report(folder: Path, rows, name, res, task, obs, source, settings, p_settings, methods, prov) -> str:
    from piddm.files import atomic_write_json, atomic_write_text
    from piddm.report.solution import solve_table

    observed = ", ".join(f"{ch}: {100 * obs.fraction(ch):.2f} % of pixels" for ch in ("a", "u")
                         if obs.fraction(ch) > 0)
    noise = "noise-free (imposed exactly)" if obs.noise[0] == 0 else f"noise std {obs.noise[0]:g}"
    lines = [f"# piddm solve — {name} {res}², {task}", "",
             f"{len(obs)} samples from {source}; observed {observed}; {noise}.", "",
             solve_table(rows), "",
             ("err: relative L2 of the ensemble mean against the truth (Darcy a: error rate of the thresholded "
              "a); mean ± std over samples. residual: normalised PDE residual of the prediction (a finalised). "
              "coverage: fraction of unobserved pixels whose truth lies within prediction ± 2 std (calibrated "
              "bands give about 0.95). NFE / grad evals per sample (all K starts)."), ""]
    if "piddm" in methods:
        lines.append(f"PIDDM: K = {settings.starts} starts, {settings.iters} {settings.optimizer} steps"
                     + (f" (lr {settings.lr:g})" if settings.optimizer == "adam" else "")
                     + f", λ_infer = {settings.lam:g}, noise on the Gaussian shell"
                     + (f"; then up to {settings.polish} L-BFGS iterations on each member's fields" if settings.polish
                        else "") + ".")
    if "physics" in methods:
        lines.append(f"Physics-only: fields optimised directly, {p_settings.optimizer}, λ = {p_settings.lam:g}, "
                     f"{p_settings.regulariser} weight μ = {p_settings.mu:g}"
                     + (", preconditioned" if p_settings.precondition else "") + f", at most {p_settings.iters} steps"
                     + (f" and {p_settings.budget_s:.2f} s per sample" if p_settings.budget_s else "") + ".")
    lines += ["", f"Command: `{prov.get('command', '')}`  ",
              f"Commit: {prov.get('git_commit', '')}; created {prov.get('created', '')}", ""]
    text = "\n".join(lines)
    atomic_write_text(folder / "report.md", text)
    atomic_write_json(folder / "metrics.json", {"rows": rows, "settings": {"piddm": settings.to_dict(),
                                                                          "physics": p_settings.to_dict()},
                                                "provenance": prov})
    return text


def _eval_data(data, model, samples, made_by):
    from piddm.compare.data import evaluation_data

    from .progress import task_bars

    with task_bars() as add:
        return evaluation_data(data, model, samples, made_by, progress=add)
