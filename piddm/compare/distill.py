"""The distill experiment: teacher pairs -> lambda = 0 student and PIDDM student -> evaluation -> one Comparison.

Run folder (``runs/<pde>-distill`` by default)::

    piddm/        the PIDDM student's run (student.pt, checkpoint.pt, loss.csv, val.csv, pairs.h5)
    lam0/         the lambda = 0 ablation (pure distillation, same pairs and budget)
    report.md     the table, the floors, the verdicts with paired bootstrap intervals, one-off costs
    metrics.json  the Comparison (rows keyed by method id), options, provenance
    options.json  the options that made it
    panel.png     samples and residual maps per method

Evaluation: the teacher (Heun-18), each student (one call) and PIDDM-ref (the noise search of
:mod:`piddm.solve.noise_search` with no observations: a few Adam steps on eps lowering R) draw
the same number of samples, sample i from noise (evaluation stream, seed, i), at the same batch,
timed after an untimed warm-up; scored by :mod:`piddm.evaluate.scoring`. Works under torchrun:
every rank trains, the main rank evaluates and reports.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pde_bench.conventions import InputError, check_output, provenance

from .ensemble import ENSEMBLE_INTERVAL_NOTE, ensemble_verdicts

__all__ = ["TEACHER_STEPS", "DistillExperiment", "evaluate_distilled", "evaluate_models", "run"]

TEACHER_STEPS = 18
EVAL_SEED = 1
INPUT_WORDS = {"soft": "the network's continuous a",
               "hard": "the thresholded a (straight-through gradient)",
               "fixed": "the thresholded a, no gradient to a"}
Progress = Callable[[str, int], Callable[[int], None]]


@dataclass
class DistillExperiment:
    """Everything a distill comparison depends on (saved as options.json). None: the tuned default
    (:func:`piddm.defaults.distill_defaults`)."""

    pde: str
    teacher: str | None = None
    data: str | None = None
    out: str | None = None
    lam: float | None = None
    lam_warmup: int | None = None
    inputs: str | None = None
    boundary_weight: float | None = None
    pairs: int | None = None
    pair_steps: int | None = None
    refresh_every: int = 0
    refresh_fraction: float = 0.1
    steps: int | None = None
    minutes: float | None = None
    batch: int | None = None
    lr: float | None = None
    ablation: bool = True
    refine_steps: int | None = None
    refine_lr: float | None = None
    samples: int | None = None
    eval_batch: int | None = None
    quick: bool = False
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    overwrite: bool = False
    split: str = "test"  # the real split scored against: val while choosing models, test once

    def resolved(self) -> dict:
        """The settings with every None replaced by its default; checked."""
        from ..defaults import distill_defaults
        from ..physics import INPUT_MODES

        if self.split not in ("val", "test"):
            raise InputError(f"distill: split must be val or test, got {self.split!r}")
        defaults = distill_defaults(self.pde, self.quick)
        cfg = {k: getattr(self, k) if getattr(self, k) is not None else v for k, v in defaults.items()}
        for k in ("pairs", "pair_steps", "batch", "samples", "eval_batch", "steps"):
            if cfg[k] < 1:
                raise InputError(f"distill: {k} must be >= 1, got {cfg[k]}")
        if cfg["refine_steps"] < 0:
            raise InputError(f"distill: refine_steps must be >= 0, got {cfg['refine_steps']}")
        for k in ("lam", "lr", "refine_lr", "boundary_weight"):
            if not (math.isfinite(cfg[k]) and cfg[k] >= 0):
                raise InputError(f"distill: {k} must be finite and >= 0, got {cfg[k]}")
        if cfg["inputs"] not in INPUT_MODES:
            raise InputError(f"distill: inputs must be one of {', '.join(INPUT_MODES)}, got {cfg['inputs']!r}")
        if self.resume and self.overwrite:
            raise InputError("resume and overwrite exclude each other")
        if self.minutes is not None and not (math.isfinite(self.minutes) and self.minutes > 0):
            raise InputError(f"distill: minutes must be a finite number > 0, got {self.minutes}")
        if self.refresh_every < 0 or not 0 < self.refresh_fraction <= 1:
            raise InputError(f"distill: refresh_every must be >= 0 and refresh_fraction in (0, 1], got "
                             f"{self.refresh_every}, {self.refresh_fraction}")
        return cfg


def run(exp: DistillExperiment, progress: Progress | None = None,
        training_bar: Callable | None = None) -> tuple[object, Path] | None:
    """Train (or resume) the students, evaluate, report; returns (Comparison, run folder) on the main rank."""
    from pde_bench import get_problem

    from ..distill import distill, stored_options, teacher_pairs
    from ..distributed import setup
    from ..models import load_model, load_student, reference_model
    from .data import evaluation_data

    name = get_problem(exp.pde).name
    exp.pde = name
    cfg = exp.resolved()
    teacher_path = exp.teacher or reference_model(name, "teacher")
    out = Path(exp.out) if exp.out else Path("runs") / f"{name}-distill"
    if not exp.resume:
        check_output(out, exp.overwrite)
    elif not out.exists():
        raise InputError(f"{out}: nothing to resume (no such folder)")
    bar = training_bar or (lambda label, total: contextlib.nullcontext(None))

    ctx = setup(exp.device)
    try:
        t_model = load_model(teacher_path, "teacher", problem=name, device=ctx.device)
        for lam in ([0.0] if exp.ablation else []) + [cfg["lam"]]:  # every option checked before any work
            _options(exp, cfg, name, t_model, out, lam, "check").check()
        ref = data_dir = None
        if ctx.is_main:  # the evaluation data are checked before any training
            from ..evaluate.scoring import ReferenceSets

            data_dir = evaluation_data(Path(exp.data) if exp.data else None, t_model, cfg["samples"],
                                       "piddm distill", progress)
            ref = ReferenceSets(data_dir, cfg["samples"], t_model, split=exp.split)
        if ctx.is_main and exp.overwrite and out.exists():
            shutil.rmtree(out)
        ctx.barrier()

        runs = {"piddm": _options(exp, cfg, name, t_model, out, cfg["lam"], "piddm")}
        if exp.ablation:
            runs = {"lam0": _options(exp, cfg, name, t_model, out, 0.0, "lam0"), **runs}
        shared, pairs_s = None, None
        if not exp.resume or not all((out / s / "checkpoint.pt").exists() for s in runs):
            first = next(iter(runs.values()))
            first.check()
            advance = progress(f"teacher pairs (Heun-{first.pair_steps})", first.pairs) if progress and ctx.is_main \
                else None
            t0 = time.perf_counter()
            shared = teacher_pairs(first, t_model, ctx.device, advance)
            pairs_s = time.perf_counter() - t0
        for sub, opts in runs.items():
            again = exp.resume and (out / sub / "checkpoint.pt").exists()
            if again:
                opts = stored_options(out / sub)
                opts.train.steps, opts.train.minutes, opts.device = cfg["steps"], exp.minutes, exp.device
            # resuming, a student stopped before its first checkpoint starts again from scratch
            call = {"resume": again, "overwrite": exp.resume and not again, "pairs": shared, "pairs_s": pairs_s}
            with (bar(f"student {sub} (λ={opts.lam:g})", opts.train.steps) if ctx.is_main
                  else contextlib.nullcontext(None)) as update:
                distill(opts, ctx, on_progress=update, **call)
    finally:
        ctx.close()
    if not ctx.is_main:
        return None
    students = {}
    if exp.ablation:
        students["student-lam0"] = load_student(out / "lam0" / "student.pt", problem=name, device=ctx.device)
    students["piddm-1"] = load_student(out / "piddm" / "student.pt", problem=name, device=ctx.device)
    options_json = {**asdict(exp), "resolved": cfg, "teacher": str(t_model.path), "data": str(data_dir),
                    "out": str(out)}
    prov = provenance(options_json)
    comparison = evaluate_models(t_model, students, ref, cfg, data_dir=data_dir, smoke=exp.quick, options=options_json,
                                 progress=progress, panel=out / "panel.png", provenance_=prov)
    comparison.write(out)
    return comparison, out


def _options(exp: DistillExperiment, cfg: dict, name: str, t_model, out: Path, lam: float, sub: str):
    """The training options of one student of the experiment (checked by the caller before any work)."""
    from ..distill import DistillOptions
    from ..training import TrainConfig

    train = TrainConfig(steps=cfg["steps"], minutes=exp.minutes, batch=cfg["batch"], lr=cfg["lr"], warmup=50,
                        ema_halflife=5_000, seed=exp.seed, checkpoint_every=200, log_every=10)
    train.check()
    return DistillOptions(pde=name, teacher=str(t_model.path), out=str(out / sub), pairs=cfg["pairs"],
                          pair_steps=cfg["pair_steps"], refresh_every=exp.refresh_every,
                          refresh_fraction=exp.refresh_fraction, lam=lam, lam_warmup=cfg["lam_warmup"],
                          inputs=cfg["inputs"], boundary_weight=cfg["boundary_weight"], seed=exp.seed,
                          device=exp.device, train=train)


def evaluate_models(teacher, students: dict, ref, cfg: dict, *, data_dir=None, smoke: bool = False,
                    options: dict | None = None, progress: Progress | None = None, panel: Path | None = None,
                    provenance_: dict | None = None, targets: dict | None = None):
    """The comparison of a teacher and trained students (method id -> (student, model)) on ``ref``.

    What :func:`run` reports after training; also usable on shipped models. The students' settings
    and one-off costs are read from their model files. ``panel``: where to draw samples and residual
    maps (None: no figure). ``targets`` maps (metric, baseline method id) to a bound that the
    verdict of that ratio is checked against (a benchmark's acceptance lines; user reports have none).
    """
    scored = evaluate_distilled(teacher, students, ref, cfg, progress=progress)
    options = options or {"teacher": str(teacher.path), "students": {k: str(m.path) for k, (_, m) in students.items()},
                          "data": str(data_dir), "resolved": cfg}
    comparison = _comparison(teacher, students, scored, ref, data_dir, cfg, smoke, options,
                             provenance_ or provenance(options))
    for v in comparison.verdicts:
        bound = (targets or {}).get((v.metric, v.baseline))
        if bound is not None:
            v.target, v.better = bound if isinstance(bound, tuple) else (bound, "le")
    if panel is not None:
        from ..report.figures import save_panel

        Path(panel).parent.mkdir(parents=True, exist_ok=True)
        fields = {"test data": (ref.a_test, ref.u_test)}
        fields.update({comparison.row(k).label.split(" (")[0]: (s.a, s.u) for k, s in scored.items()})
        save_panel(panel, teacher.problem, fields, ref.scale,
                   title=f"{comparison.title}: samples and log10 |residual| / scale")
    return comparison


def evaluate_distilled(teacher, students: dict, ref, cfg: dict, progress: Progress | None = None) -> dict:
    """Scored samples per method id: the teacher (Heun-18), each student (one call), PIDDM-ref.

    ``students`` maps a method id to a loaded (student, model); ``piddm-1`` is also refined
    (``piddm-ref``, when ``cfg["refine_steps"]`` > 0).
    """
    from ..evaluate.scoring import score_student, score_teacher

    n = len(ref.u_test)

    def bar(label):
        return progress(label, n) if progress else None

    common = {"batch": cfg["eval_batch"], "seed": EVAL_SEED}
    scored = {"teacher": score_teacher(teacher, ref, steps=TEACHER_STEPS,
                                       on_progress=bar(f"teacher Heun-{TEACHER_STEPS}"), **common)}
    for key, (student, model) in students.items():
        scored[key] = score_student(student, model.normaliser, ref, on_progress=bar(key), **common)
    if "piddm-1" in students and cfg["refine_steps"] > 0:
        scored["piddm-ref"] = _refined(*students["piddm-1"], ref, cfg, bar("PIDDM-ref"))
    return scored


def _refined(student, model, ref, cfg: dict, on_progress):
    """PIDDM-ref: the noise search with no observations (K = 1, Adam on eps lowering R alone), on the
    evaluation noise, timed after an untimed warm-up at the timed batch shape."""
    from ..evaluate.scoring import Scored, generation_metrics
    from ..evaluate.metrics import ensemble_errors
    from ..physics import PhysicsLoss
    from ..solve import SolveContext
    from ..solve.noise_search import SolveSettings, solve_noise
    from ..solve.observation import Observation

    n, res = len(ref.u_test), ref.u_test.shape[-1]
    context = SolveContext(PhysicsLoss.for_model(model), student, model, next(student.parameters()).device)
    settings = SolveSettings(starts=1, iters=cfg["refine_steps"], lam=1.0, lr=cfg["refine_lr"], optimizer="adam",
                             polish=0, seed=EVAL_SEED, batch=cfg["eval_batch"], stream="evaluation")
    empty = Observation(np.zeros((n, 2, res, res), bool), np.zeros((n, 2, res, res)))
    warm = min(cfg["eval_batch"], n)
    solve_noise(context, empty.subset(slice(0, warm)), settings)
    result = solve_noise(context, empty, settings, on_progress=on_progress)
    a, u = result.a, result.u
    return Scored(a, u, generation_metrics(ref.problem, a, u, ref), ensemble_errors(u, ref.u_test),
                  {"nfe": result.nfe, "grad_evals": result.grad_evals,
                   "ms_per_sample": 1000 * result.seconds_per_sample, "batch": warm})


def _columns():
    from ..report import Column

    return [Column("nfe", "NFE", "int", False), Column("grad_evals", "grad evals", "int", False),
            Column("ms_per_sample", "ms/sample", "ms", False), Column("residual", "residual"),
            Column("residual_median", "median", spread=False), Column("residual_rel", "residual / own terms"),
            Column("amplitude_a", "amplitude a", spread=False), Column("amplitude_u", "amplitude u", spread=False),
            Column("bc", "bc", spread=False), Column("mmse", "MMSE", spread=False),
            Column("mmse_floor", "MMSE / floor", spread=False), Column("smse", "SMSE", spread=False),
            Column("smse_floor", "SMSE / floor", spread=False), Column("failed", "failed", "int", False)]



def _comparison(t_model, students, scored, ref, data_dir, cfg, smoke, options, prov):
    from ..evaluate import bootstrap
    from ..evaluate.scoring import floors, summarise
    from ..report import Comparison, Cost, Row, Verdict

    labels = {"teacher": f"teacher Heun-{TEACHER_STEPS}", "student-lam0": "student λ=0", "piddm-1": "PIDDM-1",
              "piddm-ref": f"PIDDM-ref ({cfg['refine_steps']} steps)"}
    rows = []
    floor = floors(ref)
    for key, s in scored.items():
        per_sample = dict(s.per_sample)
        failed = int(per_sample.pop("failed").sum())
        means, stds = summarise(per_sample)
        means["residual_median"] = float(np.nanmedian(s.per_sample["residual"]))
        rel = {f"{k}_floor": s.ensemble[k] / floor[k] for k in ("mmse", "smse")}
        rows.append(Row(key, labels[key], metrics={**means, **s.ensemble, **rel}, spread=stds,
                        cost={**s.cost, "failed": failed}))
    verdicts = []
    t, p = scored["teacher"], scored.get("piddm-1")
    if p is not None:
        res = p.per_sample["residual"]
        verdicts.append(Verdict("PIDDM-1 residual / teacher's", "piddm-1", "teacher", "residual", "ratio",
                                *bootstrap.ratio(res, t.per_sample["residual"])))
        if "student-lam0" in scored:
            verdicts.append(Verdict("PIDDM-1 residual / λ=0 student's", "piddm-1", "student-lam0", "residual", "ratio",
                                    *bootstrap.ratio(res, scored["student-lam0"].per_sample["residual"])))
        verdicts.append(Verdict("PIDDM-1 residual / own terms, / teacher's", "piddm-1", "teacher", "residual_rel",
                                "ratio", *bootstrap.ratio(p.per_sample["residual_rel"], t.per_sample["residual_rel"])))
        verdicts.append(Verdict("PIDDM-1 amplitude of u / teacher's", "piddm-1", "teacher", "amplitude_u", "ratio",
                                *bootstrap.ratio(p.per_sample["amplitude_u"], t.per_sample["amplitude_u"])))
        verdicts += ensemble_verdicts(p, t, ref.u_test, "PIDDM-1", "piddm-1", "teacher")
        speed = t.cost["ms_per_sample"] / p.cost["ms_per_sample"]
        verdicts.append(Verdict("speed-up of PIDDM-1 over the teacher (one timed run)", "piddm-1", "teacher",
                                "ms_per_sample", "ratio", speed, math.nan, math.nan))
    training = {k: m.info.training for k, (_, m) in students.items()}
    main = training.get("piddm-1") or next(iter(training.values()))
    costs = [Cost("teacher training", t_model.info.training.get("elapsed_s"), "from its model file"),
             Cost("teacher pairs", main.get("pairs_s"), f"{main.get('pairs')} Heun-{main.get('pair_steps')} solves")]
    costs += [Cost(f"training {labels[k]}", t.get("elapsed_s"), f"{t.get('step')} steps") for k, t in training.items()]
    name, res_ = t_model.problem.name, t_model.resolution
    n = len(ref.u_test)
    notes = [(f"{'SMOKE RUN (--quick): tiny budgets, numbers say only that the pipeline works. ' if smoke else ''}"
              f"{name} at {res_}², {n} samples per method against the {n}-sample {ref.split} split of `{data_dir}`, "
              f"batch {cfg['eval_batch']}, evaluation noise seed {EVAL_SEED}."), ""]
    notes += [(f"{labels[k]}: {t.get('pairs')} pairs from teacher Heun-{t.get('pair_steps')}, {t.get('step')} steps; "
               f"λ = {t.get('lam', 0):g} (warm-up {t.get('lam_warmup')} steps); the residual in the loss sees "
               f"{INPUT_WORDS.get(t.get('inputs', 'soft'))}; boundary weight {t.get('boundary_weight', 1.0):g}.")
              for k, t in training.items()]
    after = [("Residual: per-sample RMS of the PDE residual / the model's residual scale (Darcy: a thresholded), "
              "mean ± std over samples. residual / own terms: ||r|| / (||r(a,u) - r(a,0)|| + ||r(a,0)||), which "
              "shrinking a field cannot lower. amplitude: RMS of the field's fluctuation about the training mean / "
              "the training std (compare with the floor row: real data score about 0.93-0.99, not 1). bc: RMS of u on the boundary / RMS of u. MMSE/SMSE: per-pixel "
              f"mean / std of u against the {ref.split} split's (ECI-sampling's metrics); the floor row compares two "
              "disjoint real sets of the same size; MMSE / floor and SMSE / floor near 1 mean the method is as close "
              f"to the {ref.split} split as another real set of the same size, and a ratio between two methods both near "
              "their floor is mostly sampling noise. Verdicts: paired bootstrap 95 % intervals (samples are paired "
              "by their noise). " + ENSEMBLE_INTERVAL_NOTE)]
    title = f"{'[SMOKE] ' if smoke else ''}piddm distill — {name} {res_}²"
    return Comparison("distill", title, _columns(), rows, floor=floor, verdicts=verdicts, costs=costs,
                      notes=notes, after=after, options=options, provenance={**prov, "smoke": smoke})
