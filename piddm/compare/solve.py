"""The solve experiment: observations -> every asked method -> per-sample metrics -> one Comparison.

Output folder, written under a temporary name and renamed when complete::

    <method>.nc          prediction, std, members, best member, masks, observations, truth, per-sample metrics
    panels/<method>/     one PNG per sample: truth, prediction, |error|, std, observed points
    report.md            the table, the verdicts with paired bootstrap intervals, the settings
    metrics.json         the Comparison (rows keyed by method id), options, provenance
    options.json         the options that made it

Methods come from :data:`piddm.solve.METHODS`, run and reported generative first, then the
baselines, time-matched ones (the physics-only baseline, which gets the first generative
method's measured seconds per sample: the fairness rule of :class:`piddm.solve.Method`), and the
Bayes limit last.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pde_bench.conventions import InputError, atomic_output, check_output, is_int, provenance

__all__ = ["SolveOptions", "parse_range", "parse_settings", "run"]

Progress = Callable[[str, int], Callable[[int], None]]


@dataclass
class SolveOptions:
    """Everything a solve comparison depends on (saved as options.json beside the report)."""

    pde: str
    observe: list[str] = field(default_factory=list)  # CHANNEL:AMOUNT specs, e.g. a:3%
    test: str = "0:100"  # samples START:STOP of the split (with observe)
    split: str = "test"
    input_file: str | None = None  # an observation file instead of observe/test
    student: str | None = None  # student.pt or distill run folder [shipped]
    teacher: str | None = None  # teacher.pt or run folder, for the methods that sample it [shipped]
    data: str | None = None  # data-set folder [data/<pde>-<res>, else made]
    out: str | None = None  # [runs/<pde>-solve-<task>]
    obs_noise: float = 0.0
    mask_seed: int = 0
    methods: list[str] = field(default_factory=lambda: ["piddm"])
    settings: dict = field(default_factory=dict)  # per method id: overrides of its settings fields
    max_panels: int = 100
    device: str = "auto"
    overwrite: bool = False
    resume: bool = False  # reuse the methods an unfinished run of the same output staged (piddm.compare.staging)
    jobs: int = 1  # methods solved at once in worker processes (piddm.compare.parallel)

    def check(self) -> None:
        from ..solve import METHODS

        for m in self.methods:
            if m not in METHODS:
                raise InputError(f"method must be one of {', '.join(METHODS)}, got {m!r}")
        if not self.methods:
            raise InputError("no method to run")
        unknown = sorted(set(self.settings) - set(METHODS))
        if unknown:
            raise InputError(f"settings given for unknown method(s) {', '.join(unknown)}")
        if self.split not in ("test", "val"):
            raise InputError(f"split must be test or val, got {self.split!r}")
        if not (math.isfinite(self.obs_noise) and self.obs_noise >= 0):
            raise InputError(f"obs_noise must be finite and >= 0, got {self.obs_noise}")
        if self.max_panels < 0:
            raise InputError(f"max_panels must be >= 0, got {self.max_panels}")
        if self.input_file is not None and self.observe:
            raise InputError("give either an observation file or observe specs, not both")
        if self.input_file is None and not self.observe:
            raise InputError("nothing is observed: give observe specs (e.g. a:3%) or an observation file")
        if self.input_file is None:
            parse_range(self.test)
        if self.mask_seed < 0:
            raise InputError(f"mask_seed must be >= 0, got {self.mask_seed}")
        if not is_int(self.jobs) or self.jobs < 1:
            raise InputError(f"jobs must be an integer >= 1, got {self.jobs!r}")


def parse_range(text: str) -> range:
    """``0:100`` -> samples 0..99; ``7`` -> sample 7."""
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
        raise InputError(f"sample range {text!r}: expected START:STOP with 0 <= START < STOP, or one index") from None


def parse_settings(texts: list[str], settings: dict | None = None, methods: list[str] | None = None) -> dict:
    """``METHOD.FIELD=VALUE`` overrides (``kriging.rank=256``, ``bayes.steps=4000``) merged into ``settings``.

    Values are read as int, float, true/false or none where they parse so, else kept as text;
    each method's settings check them before any work. With ``methods`` (those to run), an
    override for a method that is not run (nor wrapped by one that is) is refused, not ignored.
    """
    from ..solve import METHODS

    running = None
    if methods is not None:
        running = {m for m in methods if m in METHODS} | {METHODS[m].tuned_as for m in methods if m in METHODS}
    out = {k: dict(v) for k, v in (settings or {}).items()}
    for text in texts:
        m = re.fullmatch(r"\s*([A-Za-z0-9_-]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*", text)
        if not m:
            raise InputError(f"setting {text!r}: expected METHOD.FIELD=VALUE, e.g. kriging.rank=256")
        method, name, value = m.groups()
        if method not in METHODS:
            raise InputError(f"setting {text!r}: method must be one of {', '.join(METHODS)}, got {method!r}")
        if running is not None and method not in running:
            raise InputError(f"setting {text!r}: {method} is not among the methods run ({', '.join(methods)})")
        out.setdefault(method, {})[name] = _literal(value)
    return out


def _literal(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run(opts: SolveOptions, progress: Progress | None = None, *, worker: dict | None = None) -> tuple[object, Path]:
    """Solve, score and report; returns (the Comparison, the output folder).

    ``worker`` (from :mod:`piddm.compare.parallel`: {"method", "token", "commit"}): solve that one method,
    stage its result under the parent run's commit and token, and return (None, the output folder),
    writing no report."""
    from ..distributed import resolve_device
    from ..models import load_student, reference_model
    from ..physics import PhysicsLoss
    from ..solve import METHODS, SolveContext, tuning_task
    from ..solve.observation import Observation, parse_observe, read_observation
    from ..solve.then_solver import result_key
    from ..solve.train_split import split_fields
    from .staging import Staging
    from pde_bench import get_problem

    opts.check()
    name = get_problem(opts.pde).name
    specs = [parse_observe(s) for s in opts.observe]
    methods = [METHODS[m] for m in dict.fromkeys(opts.methods)]
    # the fairness rule: time-matched methods run after, and within the time of, the first generative one;
    # the Bayes limit (a bound) is reported last, and a variant runs after the method it wraps (and reuses it)
    methods = sorted(methods, key=lambda m: (m.role == "bound", m.time_matched, m.role != "generative",
                                             m.tuned_as is not None))
    device = resolve_device(opts.device)
    student, model = load_student(opts.student or reference_model(name, "student"), problem=name, device=device)
    res = model.resolution
    if opts.input_file is not None:
        obs, truth = read_observation(opts.input_file, noise=opts.obs_noise)
        if obs.resolution != res:
            raise InputError(f"{opts.input_file}: observations are {obs.resolution}x{obs.resolution}, the student "
                             f"works at {res}x{res}")
        task = tuning_task(obs)
    else:
        for s in specs:
            s.pixels(res)  # a count larger than the grid fails here, before any data is made
        task = Observation.task_of({s.channel for s in specs})
        if task == "forward" and all(s.fraction == 1 for s in specs):
            task = "forward-full"
    # a variant ("<method>-solver") takes the settings given to the method it wraps, then its own
    given = {m.name: {**opts.settings.get(m.tuned_as, {}), **opts.settings.get(m.name, {})} for m in methods}
    settings = {m.name: m.make_settings(name, task, given[m.name]) for m in methods}
    out = Path(opts.out) if opts.out else Path("runs") / f"{name}-solve-{task}"
    if worker is None:
        check_output(out, opts.overwrite)
    if opts.input_file is not None:
        ids, source = np.arange(len(obs)), str(opts.input_file)
    else:
        from .data import evaluation_data

        ids = np.asarray(parse_range(opts.test))
        if opts.data is None and opts.split == "val" and ids[-1] >= 16:
            from pde_bench.datasets import split_files

            default = Path("data") / f"{name}-{res}"
            if not (split_files(default).get("val") and split_files(default).get("train")):
                raise InputError(f"samples {ids[0]}:{ids[-1] + 1} of the val split: the evaluation data made here "
                                 f"hold 16 val samples; give a data set with more")
        data_dir = evaluation_data(Path(opts.data) if opts.data else None, model, int(ids[-1]) + 1,
                                   "piddm solve", progress)
        truth = split_fields(data_dir, opts.split, model, ids)
        truth.pop("path")
        obs = Observation.from_specs(specs, truth["a"], truth["u"], seed=opts.mask_seed, start=int(ids[0]),
                                     noise=opts.obs_noise)
        source = f"{data_dir} ({opts.split} {ids[0]}:{ids[-1] + 1})"
    train = train_dir = None
    if any(m.needs_train for m in methods):
        from ..solve.train_split import TrainSplit
        from .data import evaluation_data

        train_dir = data_dir if opts.input_file is None else evaluation_data(
            Path(opts.data) if opts.data else None, model, 1, "piddm solve", progress)
        train = TrainSplit(train_dir, model)
        train.fields()  # read and checked before any method runs
    teacher = None
    if any(m.needs_teacher for m in methods):
        from ..models import load_model

        teacher = load_model(opts.teacher or reference_model(name, "teacher"), "teacher", problem=name,
                             resolution=res, device=device)
    context = SolveContext(physics=PhysicsLoss.for_model(model), student=student, model=model, device=device,
                           train=train, teacher=teacher)
    options = {**asdict(opts), "pde": name, "task": task, "source": source, "student": str(model.path),
               "teacher": None if teacher is None else str(teacher.path)}
    prov = provenance({**options, "device": str(device)})
    staging = Staging(out, obs, ids, device, {"student": model.path, "teacher": teacher and teacher.path,
                                              "data": opts.input_file or data_dir,
                                              "train": train_dir},
                      prov["git_commit"] if worker is None else worker["commit"], prov["versions"],
                      token=None if worker is None else worker["token"])
    if worker is not None:
        if prov["git_commit"] != worker["commit"]:
            raise InputError(f"the code changed since the run started (commit {worker['commit']}, now "
                             f"{prov['git_commit']}): its worker would stage results under the wrong commit")
        _solve_alone(next(m for m in methods if m.name == worker["method"]), settings, context, obs, ids, staging,
                     name, worker)
        return None, out
    parallel, threads = (_solve_in_workers(opts, methods, settings, staging, name, obs, progress) if opts.jobs > 1
                         else (set(), None))
    options["resumed"], options["parallel"] = {}, {}
    if parallel:
        options["parallel_run"] = {"jobs": min(opts.jobs, len(parallel)), "threads": threads}
    with atomic_output(out, overwrite=opts.overwrite) as tmp, _torch_threads(threads if parallel else None):
        tmp.mkdir(parents=True)
        scored = []
        for m in methods:
            # only a generative method sets the budget; without one, a time-matched method runs to its own stop
            reference = next((r.seconds_per_sample for q, r, _ in scored if q.role == "generative"), None)
            s = m.fair(settings[m.name], reference)
            files = m.reads(s, name, obs.task()) if m.reads else []
            staged = staging.load(m.name, s, files) if opts.resume or m.name in parallel else None
            if staged is not None:
                result, made = staged
                options["parallel" if m.name in parallel else "resumed"][m.label] = made
            else:
                bar = progress(f"{m.label} ({task})", len(obs)) if progress else None
                result = m.solve(context, obs, s, ids, bar)
                staging.save(m.name, s, result, files)
            context.cache[result_key(m.name, s, obs)] = result  # a "then the solver" variant reuses it
            scored.append((m, result, _score_and_save(tmp, m, s, result, context, obs, truth, ids, task, prov,
                                                      opts.max_panels, progress)))
        options["resolved_settings"] = {k: v.to_dict() for k, v in settings.items()}  # budgets as given
        comparison = _comparison(name, res, task, obs, source, scored, settings, options, prov, model, train, truth)
        comparison.write(tmp)
        _figures(tmp, comparison, scored, truth, context, task, res)
    staging.clear()
    return comparison, out


def _solve_alone(m, settings, context, obs, ids, staging, name: str, worker: dict) -> None:
    """A worker's job: solve one method and stage the result (the parent has left out what it may reuse)."""
    from .parallel import LineProgress

    s = settings[m.name]  # a worker's method is not time-matched: no budget to take
    files = m.reads(s, name, obs.task()) if m.reads else []
    result = m.solve(context, obs, s, ids, LineProgress(m.label, len(obs)))
    if not staging.save(m.name, s, result, files, made_with={"jobs": worker["jobs"], "threads": worker["threads"]}):
        raise InputError(f"{m.name}: the result could not be staged in {staging.folder}")


def _solve_in_workers(opts: SolveOptions, methods, settings, staging, name: str, obs,
                      progress) -> tuple[set[str], int | None]:
    """Solve the methods that stand alone in ``opts.jobs`` worker processes; returns their ids and the torch
    threads each had (the parent then solves the other rows with as many, so a time-matched budget measured
    beside the workers buys the same compute). A modified tree (whose staged results a later run must never
    reuse) stages under a token of this run only."""
    import json
    import os
    import sys
    import uuid

    import torch

    from .parallel import WorkerFailed, solve_in_workers, worker_method

    options = {**asdict(opts), "jobs": 1, "resume": False}
    if SolveOptions(**json.loads(json.dumps(options))) != SolveOptions(**options):
        raise InputError("--jobs: the options do not survive the hand-over to a worker process (a setting that is "
                         "not a plain number, text or list); run without --jobs")
    todo = [m.name for m in methods if worker_method(m)
            and not (opts.resume and _staged(m, settings[m.name], staging, name, obs) is not None)]
    if len(todo) < 2:
        return set(), None  # nothing to run side by side: the sequential loop solves it with its own progress bar
    if not staging.reusable:
        staging.token = uuid.uuid4().hex
    jobs = min(opts.jobs, len(todo))
    if jobs > (os.cpu_count() or 1):
        print(f"piddm: warning: --jobs {jobs} on {os.cpu_count()} CPU cores: the workers' timings will be inflated",
              file=sys.stderr)
    threads = max(1, torch.get_num_threads() // jobs)
    bar = progress(f"{len(todo)} methods in {jobs} worker processes", len(todo)) if progress else None
    solve_in_workers(options, todo, jobs, threads, {"token": staging.token, "commit": staging.commit},
                     on_done=(lambda _: bar(1)) if bar else None)
    lost = [m.name for m in methods if m.name in todo and _staged(m, settings[m.name], staging, name, obs) is None]
    if lost:  # e.g. a model file or the environment changed while the workers ran
        raise WorkerFailed(f"--jobs: the results the workers staged for {', '.join(lost)} do not match this run's "
                           f"models, data or environment ({staging.folder}); run again")
    return set(todo), threads


@contextlib.contextmanager
def _torch_threads(n: int | None):
    """Run a block with ``n`` torch threads (None: unchanged), restoring the count after."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _staged(m, s, staging, name: str, obs):
    """``m``'s staged result under settings ``s`` (with its own model files in the key), else None."""
    return staging.load(m.name, s, m.reads(s, name, obs.task()) if m.reads else [])


def _figures(folder: Path, comparison, scored, truth, context, task, res) -> None:
    """methods.png (truth and every method on the first samples, with residual maps) and, with the truth known,
    error_vs_time.png (each method's mean error of the wanted field(s) against its seconds per sample)."""
    from ..report.figures import save_error_vs_time, save_methods_grid
    from ..solve import wanted_fields

    problem = context.physics.problem
    name = problem.name
    save_methods_grid(folder / "methods.png", problem, truth, {m.name: (r.a, r.u) for m, r, _ in scored},
                      context.physics.scale, f"{name} {res}², {task}: first samples, log10 |residual| / scale")
    keys = [f"err_{ch}" for ch in wanted_fields(task) if f"err_{ch}" in scored[0][2]]
    if not keys:
        return
    from ..evaluate.scoring import discrete_inputs

    points = []
    for m, r, ps in scored:
        err = sum(np.asarray(ps[k], np.float64) for k in keys)
        ok = np.isfinite(err)
        if not ok.all():  # a failed sample makes the mean infinite: say so instead of dropping the point
            points.append((f"{m.name} (failed on {int((~ok).sum())} samples; finite ones shown)",
                           r.seconds_per_sample, float(err[ok].mean()) if ok.any() else 0.0, 0.0))
            continue
        points.append((m.name, r.seconds_per_sample, float(err.mean()), float(err.std() / np.sqrt(max(len(err), 1)))))
    words = {"err_a": "error rate of a" if discrete_inputs(problem) else "relative L2 error of a",
             "err_u": "relative L2 error of u"}
    save_error_vs_time(folder / "error_vs_time.png", points, " + ".join(words[k] for k in keys),
                       f"{comparison.title}: error against time (mean ± s.e. over samples)")


def _score_and_save(folder: Path, method, settings, result, context, obs, truth, ids, task, prov, max_panels,
                    progress) -> dict[str, np.ndarray]:
    from ..evaluate.scoring import score_solve
    from ..report.figures import save_sample_panel
    from ..report.solution import write_solution

    problem = context.physics.problem
    per_sample = score_solve(context.physics, result, obs, truth)
    write_solution(folder / f"{method.name}.nc", problem, result, obs, truth, per_sample, ids,
                   {"method": method.name, "label": method.label, "task": task, "problem": problem.name,
                    "nfe": result.nfe, "grad_evals": result.grad_evals,
                    "seconds_per_sample": result.seconds_per_sample, "members": result.members,
                    "command": prov["command"], "git_commit": str(prov["git_commit"])})
    n_panels = min(max_panels, len(obs))
    draw = progress(f"panels {method.name}", n_panels) if progress and n_panels else None
    for i in range(n_panels):
        save_sample_panel(folder / "panels" / method.name / f"sample_{int(ids[i]):05d}.png", i, problem, result,
                          obs, truth, title=f"{method.label} {task}: {problem.name} sample {int(ids[i])}")
        if draw:
            draw(1)
    return per_sample


def _chain_note(label: str, extra: dict) -> str:
    """One line of MCMC diagnostics: acceptance, split R-hat (max over pixels; worst sample), bulk ESS."""
    acc = np.asarray(extra["acceptance"])
    parts = [f"{label} chains: acceptance {acc.mean():.2f} (range {acc.min():.2f}-{acc.max():.2f})"]
    for ch in ("a", "u"):
        r = np.asarray(extra.get(f"rhat_{ch}", []), np.float64)
        e = np.asarray(extra.get(f"ess_{ch}", []), np.float64)
        if r.size:
            parts.append(f"split R-hat of {ch} (max over unobserved pixels): median over samples {np.median(r):.3f}, "
                         f"worst {r.max():.3f}, {int((r <= 1.05).sum())} of {r.size} samples <= 1.05; "
                         f"bulk ESS of {ch} (min over pixels): median {np.median(e):.0f}")
    if "swap_acceptance" in extra:
        swaps = np.asarray(extra["swap_acceptance"], np.float64)
        parts.append(f"replica swaps taken (per rung pair, bottom first; mean over samples): "
                     f"{' '.join(f'{v:.2f}' for v in swaps.mean(axis=0))}")
    if "solves" in extra:
        parts.append(f"{float(np.mean(extra['solves'])):.0f} solver calls per sample")
    return "; ".join(parts) + "."


def _columns(problem, truth: set, members: int, bound=None):
    from ..evaluate.scoring import discrete_inputs
    from ..report import Column

    cols = []
    if "a" in truth:
        cols.append(Column("err_a", "err a %", "pct"))
    if "u" in truth:
        cols.append(Column("err_u", "err u %", "pct"))
    cols += [Column("residual", "residual"), Column("residual_rel", "residual / own terms"),
             Column("amplitude_a", "amplitude a", spread=False), Column("amplitude_u", "amplitude u", spread=False),
             Column("bc", "bc", spread=False)]
    if "a" in truth:
        cols.append(Column("brier_a", "Brier a", spread=False) if discrete_inputs(problem)
                    else Column("crps_a", "CRPS a", spread=False))
    if "u" in truth:
        cols.append(Column("crps_u", "CRPS u", spread=False))
    if members > 1:
        cols += [Column(f"coverage_{ch}", f"coverage {ch}", spread=False) for ch in ("a", "u")
                 if ch in truth and not (ch == "a" and discrete_inputs(problem))]
    if bound is not None:
        cols.append(Column("over_bound", f"err / {bound.label}", spread=False))
    cols += [Column("nfe", "NFE", "int", False), Column("grad_evals", "grad evals", "int", False),
             Column("s_per_sample", "s/sample", "s", False), Column("failed", "failed", "int", False)]
    return cols


def _certified_bound(scored, wanted, wanted_err, settings) -> tuple:
    """The Bayes-limit row if it is one: exact, or MCMC whose chains mixed (worst split R-hat of the wanted
    fields <= 1.05) at the default likelihood std, and whose error is above round-off; else (None, why)."""
    from ..evaluate.mcmc import PCNSettings

    m, result = next(((m, r) for m, r, _ in scored if m.role == "bound"), (None, None))
    if m is None or not wanted:
        return None, ""
    if float(np.mean(wanted_err[m.name])) < 1e-6:
        return None, f"{m.label}: its error is at round-off, so no ratio to it is printed."
    if result.extra.get("posterior") == "exact Gaussian":
        return m, ""
    rhat = max(float(np.max(result.extra.get(f"rhat_{k[4:]}", [np.inf]))) for k in wanted)
    std = float(getattr(settings[m.name], "likelihood_std", 0.0))
    if rhat <= 1.05 and std <= PCNSettings.likelihood_std:
        return m, ""
    return None, (f"{m.label}: not certified as a bound (worst split R-hat of the wanted field {rhat:.3g}, 1.05 "
                  f"needed; likelihood std {std:g} × prior std, {PCNSettings.likelihood_std:g} needed): an "
                  "approximate posterior mean, reported without ratios to it.")


def best_baseline(scored, wanted_err):
    """The baseline with the lowest mean wanted error on these samples (a choice made on the test data)."""
    baselines = [m for m, _, _ in scored[1:] if m.role == "baseline"]
    return min(baselines, key=lambda m: float(np.mean(wanted_err[m.name])), default=None)


def _headline(scored, wanted, wanted_err, bound) -> str:
    """One line: the first method against the best baseline (win / tie / loss at 95 %) and the bound."""
    from ..evaluate import bootstrap

    ref = scored[0][0]
    best = best_baseline(scored, wanted_err)
    if best is None or ref.role != "generative":
        return ""
    est, lo, hi = bootstrap.reduction(wanted_err[ref.name], wanted_err[best.name])
    ratio = float(np.mean(wanted_err[ref.name]) / np.mean(wanted_err[best.name]))
    verdict = "wins" if lo > 0 else "loses" if hi < 0 else "ties (the interval holds 0)"
    line = (f"Headline: {ref.label} {verdict} against the best baseline, {best.label}: error "
            f"{ratio:.2f}× its, reduction {100 * est:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}]")
    if bound is not None:
        r = {m.name: float(np.mean(wanted_err[m.name]) / np.mean(wanted_err[bound.name])) for m in (ref, best)}
        line += f"; {r[ref.name]:.2f}× the {bound.label} ({best.label}: {r[best.name]:.2f}×)"
    return line + "."


def _verdicts(scored, wanted, wanted_err, bound) -> list:
    """Paired bootstrap verdicts: the first method against the best baseline (lowest mean wanted error), then
    against every other row; every method's wanted error as a ratio to the Bayes limit's."""
    from ..evaluate import bootstrap
    from ..report import Verdict

    what = " + ".join(wanted)
    ref_m = scored[0][0]
    best = best_baseline(scored, wanted_err)
    others = ([best] if best else []) + [m for m, _, _ in scored[1:] if m is not best]
    out = []
    for m in others:
        if m.role == "bound":
            continue  # against the bound: the ratio below
        lead = "best baseline (chosen on these samples), " if m is best else ""
        out += _pair_verdicts(what, wanted, wanted_err, scored, ref_m, m, lead)
    for var_m, _, _ in scored:  # an operating point of the first method (piddm-fast): against the best baseline
        if var_m.variant_of != ref_m.name:  # and the other generative rows (the first method's verdicts cover that pair)
            continue
        for m, _, _ in scored:
            if m not in (var_m, ref_m) and (m is best or m.role == "generative"):
                out += _pair_verdicts(what, wanted, wanted_err, scored, var_m, m, "best baseline, " if m is best else "")
    if bound is not None:
        for m, _, _ in scored:
            if m is not bound:
                est = bootstrap.ratio(wanted_err[m.name], wanted_err[bound.name])
                out.append(Verdict(f"{what}: {m.label} / {bound.label}", m.name, bound.name, "+".join(wanted),
                                   "ratio", *est))
    return out


def _pair_verdicts(what, wanted, wanted_err, scored, ours, base, lead: str) -> list:
    """Paired bootstrap verdicts of one row against another: the wanted error's reduction, then the residual and
    residual / own terms ratios (skipped against a zero-residual row, where the ratio is round-off)."""
    from ..evaluate import bootstrap
    from ..report import Verdict

    per = {m.name: p for m, _, p in scored}
    ours_ps, base_ps = per[ours.name], per[base.name]
    est = bootstrap.reduction(wanted_err[ours.name], wanted_err[base.name])
    out = [Verdict(f"{what}: {ours.label} lower than {lead}{base.label} by (negative: higher)", ours.name, base.name,
                   "+".join(wanted), "reduction", *est)]
    for key, name in (("residual", "residual"), ("residual_rel", "residual / own terms")):
        if float(np.mean(base_ps[key])) >= 1e-10:  # a zero-residual row ("then the solver", the exact bound)
            out.append(Verdict(f"{name}: {ours.label} / {base.label}", ours.name, base.name, key, "ratio",
                               *bootstrap.ratio(ours_ps[key], base_ps[key])))
    return out


def _stencil_floor(scored, settings, truth_keys, truth, problem) -> list[str]:
    """Where DiffusionPDE guides with its released Darcy stencil, that stencil's value on the ground truth (its floor)."""
    from ..guidance import original_darcy_residual

    out = []
    for m, _, _ in scored:
        s = settings[m.name]
        if getattr(s, "residual", None) == "original" and truth is not None and {"a", "u"} <= truth_keys:
            import torch

            forcing = float(problem.params["forcing"])
            r = original_darcy_residual(torch.as_tensor(truth["a"]), torch.as_tensor(truth["u"]), forcing)
            rms = float(r.pow(2).mean().sqrt())
            out.append(f"{m.label} guides with DiffusionPDE's released Darcy stencil (index units, no 1/h²): on the "
                       f"ground truth of these samples it is {rms:.3g} RMS per node (the forcing is {forcing:g}), so "
                       "its PDE term pulls away from the true solution; the residual columns use the problem's own "
                       "operator.")
    return out


def _comparison(name, res, task, obs, source, scored, settings, options, prov, model, train=None, truth=None):
    from ..evaluate.scoring import coverage_note, summarise
    from ..report import Comparison, Cost, Row
    from ..solve import wanted_fields

    truth_keys = {k[4:] for k in scored[0][2] if k.startswith("err_")}
    wanted = [f"err_{ch}" for ch in wanted_fields(task) if ch in truth_keys]
    wanted_err = {m.name: sum(ps[k] for k in wanted) for m, _, ps in scored} if wanted else {}
    bound, bound_note = _certified_bound(scored, wanted, wanted_err, settings)
    rows = []
    for m, result, per_sample in scored:
        per_sample = dict(per_sample)
        failed = int(per_sample.pop("failed").sum())
        means, stds = summarise(per_sample)
        if bound is not None:
            means["over_bound"] = float(np.mean(wanted_err[m.name]) / np.mean(wanted_err[bound.name]))
        exact = result.extra.get("exact_std", ())
        notes = ({f"coverage_{ch}": coverage_note(None if ch in exact else result.members) for ch in ("a", "u")}
                 if result.members > 1 else {})
        label = m.label if m.role != "bound" or bound is not None else f"{m.label} (not certified: see below)"
        rows.append(Row(m.name, label, metrics=means, spread=stds, notes=notes,
                        cost={"nfe": result.nfe, "grad_evals": result.grad_evals,
                              "s_per_sample": result.seconds_per_sample,
                              "batch": getattr(settings[m.name], "batch", 1), "members": result.members,
                              "failed": failed}))
    verdicts = _verdicts(scored, wanted, wanted_err, bound) if wanted and len(scored) > 1 else []
    headline = _headline(scored, wanted, wanted_err, bound) if wanted and len(scored) > 1 else ""
    training = model.info.training
    teacher_s = (training.get("teacher_training") or {}).get("elapsed_s")
    costs = [Cost("teacher training", teacher_s, "from the model file"),
             Cost("teacher pairs", training.get("pairs_s"), f"{training.get('pairs', '?')} pairs"),
             Cost("student training", training.get("elapsed_s"), f"{training.get('step', '?')} steps")]
    observed = ", ".join(f"{ch}: {100 * obs.fraction(ch):.2f} % of pixels" for ch in ("a", "u") if obs.fraction(ch) > 0)
    noise = "noise-free (imposed exactly)" if obs.noise[0] == 0 else f"noise std {obs.noise[0]:g}"
    for m, result, _ in scored:  # a fit shared by a method and its variants is listed once
        costs += [c for c in (Cost(*x) for x in result.extra.get("one_off", [])) if c not in costs]
    notes = [f"{len(obs)} samples from {source}; observed {observed}; {noise}."]
    if headline:
        notes.append(headline)
    if options.get("parallel"):
        run_ = options["parallel_run"]
        notes.append(f"{', '.join(options['parallel'])}: solved in worker processes, {run_['jobs']} methods at "
                     f"once with {run_['threads']} torch thread(s) each (--jobs); each one's seconds per sample were "
                     "measured beside the others on this machine. The other rows ran after them with as many "
                     "threads; a time budget or '→ solver' row built on a worker's row takes its seconds.")
    for label, made in options.get("resumed", {}).items():
        beside = made.get("made_with")
        notes.append(f"{label}: reused from an unfinished run of this comparison (--resume; solved at commit "
                     f"{made['commit']}, {made['made']}"
                     + (f", in a worker beside others: --jobs {beside['jobs']}, {beside['threads']} thread(s)"
                        if beside else "")
                     + "); its seconds per sample, and any time budget or '→ solver' row built on it, were measured "
                     "in that run.")
    from ..defaults import preset, tuned

    weighted = ("piddm", "physics", "dpde", "dps", "eci", "dflow")  # methods with free weights to tune
    untuned = [m.label for m, _, _ in scored if m.role != "bound" and (m.variant_of or m.name) in weighted
               and not tuned(m.variant_of or m.name, name, task)]
    if untuned:
        notes.append(f"{' and '.join(untuned)}: no settings tuned for {name} {task}; class defaults (the baselines "
                     "were tuned on validation).")
    unchosen = [(m.label, preset(m.name, name, task)[0]) for m, _, _ in scored
                if m.variant_of and not preset(m.name, name, task)[1]]
    for label, point in unchosen:
        notes.append(f"{label}: no operating point chosen on validation for {name} {task}; it runs "
                     f"{', '.join(f'{k} = {v}' for k, v in point.items())} over the base method's settings.")
    fitted = [(m, r) for m, r, _ in scored if m.needs_train]
    if fitted and train is not None:
        used = max(int(r.extra.get("train_samples", 0)) or len(train.fields()[0]) for _, r in fitted)
        teacher = model.info.data
        notes.append(f"{', '.join(m.label for m, _ in fitted)}: fitted on the training split {train.describe(used)}; "
                     f"the teacher was trained on {teacher.get('n_train', '?')} samples of {teacher.get('path', '?')}.")
        if used != teacher.get("n_train"):
            notes.append(f"WARNING: the fitted baselines saw {used} training samples, the teacher "
                         f"{teacher.get('n_train', '?')}: not the same data (give --data with the teacher's data set).")
    after = [("err: relative L2 of the prediction (ensemble mean) against the truth (Darcy a: error rate of the "
              "thresholded a); mean ± std over samples. residual: normalised PDE residual of the prediction (a "
              "finalised; DESIGN rule 3); residual / own terms: ||r|| / (||r(a,u) - r(a,0)|| + ||r(a,0)||), which "
              "shrinking a field cannot lower; amplitude: RMS of the field's fluctuation about the training mean / "
              "the training std (real data score about 0.93-0.99 as a per-sample mean: compare with the data, not with 1). CRPS (continuous fields, in physical units) and Brier (the "
              "members' vote on Darcy's two-valued a) are proper scores over unobserved pixels; a one-member "
              "method scores its absolute error / error rate. coverage: share of unobserved pixels within "
              "prediction ± 2 std, beside its nominal value for K exact posterior samples. NFE / grad evals per "
              "sample (all members): network calls, and backward passes (one backward of DiffusionPDE / DPS runs "
              "through the two network calls of its Heun step; one of D-Flow through all 2S - 1 calls of its "
              "teacher solve; one of PIDDM through the one-step student). Verdicts: paired bootstrap 95 % "
              "intervals over the samples."), ""]
    after += [f"{m.label}: {m.describe(settings[m.name])}." for m, _, _ in scored]
    for m, result, _ in scored:
        if "rhat_u" in result.extra:  # MCMC chains: their diagnostics beside the numbers they made
            after.append(_chain_note(m.label, result.extra))
    if bound_note:
        after.append(bound_note)
    after += _stencil_floor(scored, settings, truth_keys, truth, model.problem)
    for m, result, _ in scored:  # a time-matched method that overran its budget is said, not hidden
        budget = getattr(settings[m.name], "budget_s", None)
        if budget and result.seconds_per_sample > 1.2 * budget + 0.5:
            after.append(f"{m.label} took {result.seconds_per_sample:.2f} s per sample, over its budget of "
                         f"{budget:.2f} s.")
    columns = _columns(model.problem, truth_keys, max(r.members for _, r, _ in scored), bound)
    return Comparison("solve", f"piddm solve — {name} {res}², {task}", columns, rows,
                      verdicts=verdicts, costs=costs, notes=notes, after=after, options=options, provenance=prov)
