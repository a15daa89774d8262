"""The generation comparison of ``piddm compare --task generate``: one-step PIDDM against the guided teacher samplers.

Rows (all from the same teacher; sample i of every row starts from the same noise, stream
``evaluation``, so rows are paired sample by sample):

- ``teacher``: Heun-18, no guidance (what the prior alone draws);
- ``piddm-1``: the student, one call; ``piddm-ref``: a few Adam steps on its noise lowering R;
- ``dpde``: DiffusionPDE's guided Heun with the PDE term only (ζ_obs = 0; the residual of the
  denoised estimate in the last 20 % of the steps);
- ``eci``: ECI-sampling with the boundary condition as its constraint (Dirichlet problems: the
  ring u = 0 overwritten in every clean estimate; periodic Navier–Stokes has none, so it is the
  plain ECI sampler).

Scores: the residual (with amplitude, so a shrunken field cannot look physical), MMSE / SMSE of u
against the reference split with the finite-sample floor, the error of the radially averaged
power spectrum of u, and for Darcy the volume fraction of a = a_high and the interface length.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from pde_bench.conventions import InputError, atomic_output, check_output, provenance

from .ensemble import ENSEMBLE_INTERVAL_NOTE, ensemble_verdicts

__all__ = ["GENERATE_METHODS", "GENERATION_FIELDS", "GenerateOptions", "interface_length", "radial_spectrum", "run", "spectrum_error",
           "volume_fraction"]

GENERATE_METHODS = ("teacher", "piddm-1", "piddm-ref", "dpde", "eci")
# the settings fields a generation row uses (the others belong to the solve tasks: observations, members, seeds)
GENERATION_FIELDS = {"dpde": ("steps", "zeta_pde", "switch", "residual"), "eci": ("steps", "mix", "resample")}
TEACHER_STEPS = 18
Progress = Callable[[str, int], Callable[[int], None]]


@dataclass
class GenerateOptions:
    pde: str
    student: str | None = None
    teacher: str | None = None
    data: str | None = None
    out: str | None = None
    samples: int = 100
    split: str = "test"
    methods: list[str] = field(default_factory=lambda: list(GENERATE_METHODS))
    settings: dict = field(default_factory=dict)  # dpde / eci overrides of their settings fields
    batch: int = 25
    device: str = "auto"
    overwrite: bool = False

    def check(self) -> None:
        bad = [m for m in self.methods if m not in GENERATE_METHODS]
        if bad or not self.methods:
            raise InputError(f"generation methods must be some of {', '.join(GENERATE_METHODS)}, got "
                             f"{', '.join(bad) or 'none'}")
        unknown = sorted(set(self.settings) - set(GENERATION_FIELDS))
        if unknown:
            raise InputError(f"generation settings are taken by dpde and eci only, got {', '.join(unknown)}")
        for method, given in self.settings.items():
            extra = sorted(set(given) - set(GENERATION_FIELDS[method]))
            if extra:  # e.g. seed or members: every generation row draws one sample per evaluation-noise index
                raise InputError(f"{method}: {', '.join(extra)} cannot be set for generation (it takes "
                                 f"{', '.join(GENERATION_FIELDS[method])}; every row draws sample i from the same "
                                 "evaluation noise)")
        if self.samples < 2:
            raise InputError(f"samples must be >= 2 (MMSE and SMSE need an ensemble), got {self.samples}")
        if self.batch < 1:
            raise InputError(f"batch must be >= 1, got {self.batch}")
        if self.split not in ("test", "val"):
            raise InputError(f"split must be test or val, got {self.split!r}")


# -- statistics of generated fields (pure) ------------------------------------------------------
def radial_spectrum(u: np.ndarray) -> np.ndarray:
    """Mean over samples of the radially averaged power spectrum of u (n, N, N): bins |k| = 0 .. N // 2."""
    u = np.asarray(u, np.float64)
    n = u.shape[-1]
    power = np.abs(np.fft.fft2(u - u.mean(axis=(-2, -1), keepdims=True))) ** 2 / n**4
    k = np.fft.fftfreq(n, 1.0 / n)
    radius = np.rint(np.hypot(k[:, None], k[None, :])).astype(int)
    keep = radius <= n // 2
    spec = np.stack([np.bincount(radius[keep], weights=p[keep], minlength=n // 2 + 1) for p in power.reshape(-1, n, n)])
    counts = np.bincount(radius[keep], minlength=n // 2 + 1)
    return spec.mean(0) / np.maximum(counts, 1)


def spectrum_error(u: np.ndarray, reference: np.ndarray) -> float:
    """Mean over wavenumbers 1 .. N/2 of |log10 S(k) - log10 S_ref(k)|: 0.1 is a 26 % mismatch on average."""
    s, r = radial_spectrum(u)[1:], radial_spectrum(reference)[1:]
    tiny = 1e-30
    return float(np.mean(np.abs(np.log10(s + tiny) - np.log10(r + tiny))))


def volume_fraction(a_fin: np.ndarray, high: float) -> np.ndarray:
    """Per sample, the share of pixels at the high level of a finalised two-valued a."""
    return (np.asarray(a_fin) == high).reshape(len(a_fin), -1).mean(1)


def interface_length(a_fin: np.ndarray, spacing: float) -> np.ndarray:
    """Per sample, the length of the level interface: grid faces between unequal neighbours × the spacing."""
    a = np.asarray(a_fin)
    faces = (a[:, 1:, :] != a[:, :-1, :]).reshape(len(a), -1).sum(1) + (a[:, :, 1:] != a[:, :, :-1]).reshape(
        len(a), -1).sum(1)
    return faces * spacing


def _field_statistics(problem, a_raw, u, reference_u) -> tuple[dict, dict]:
    """(per-sample extras, aggregate extras): Darcy's volume fraction and interface length; the spectrum error."""
    per, agg = {}, {"spectrum_error": spectrum_error(u, reference_u)}
    if problem.name == "darcy":
        a_fin = np.asarray(problem.finalize_inputs(torch.as_tensor(np.asarray(a_raw, np.float64))))
        per["volume_fraction"] = volume_fraction(a_fin, problem.params["a_high"])
        per["interface_length"] = interface_length(a_fin, problem.spacing(a_fin.shape[-1]))
    return per, agg


# -- the guided samplers as generators ----------------------------------------------------------
def _draw_batches(teacher, n: int, batch: int, seed: int, sample: Callable, on_progress=None):
    """Samples 0..n-1 (sample i from evaluation noise i, the teacher's and students' noise) in batches:
    ``sample(eps float64, rows) -> x`` in network units; returns (a, u) physical float64 (a not finalised)."""
    from ..noise import standard_noise

    device = next(teacher.denoiser.parameters()).device
    res = teacher.resolution
    a_all, u_all = [], []
    for s in range(0, n, batch):
        m = min(batch, n - s)
        eps = standard_noise(m, (2, res, res), seed=seed, start=s, stream="evaluation")
        x = sample(eps.to(device=device, dtype=torch.float64), list(range(s, s + m)))
        a, u = teacher.normaliser.to_physical(x.detach().cpu())
        a_all.append(a.numpy())
        u_all.append(u.numpy())
        if on_progress:
            on_progress(m)
    return np.concatenate(a_all).astype(np.float64), np.concatenate(u_all).astype(np.float64)


def _draw_dpde(teacher, physics, settings, n: int, batch: int, seed: int, on_progress=None, backward=None):
    """DiffusionPDE with the PDE term only; ``backward[0]`` receives the backward passes per sample (the guided
    steps after the switch: the observation phase has zero weight and takes none)."""
    from ..guidance import sample_dpde
    from ..sampling import karras_sigmas
    from ..solve.diffusion_pde import guided_losses

    backward = [0] if backward is None else backward
    sigmas = karras_sigmas(settings.steps, device=next(teacher.denoiser.parameters()).device)

    def sample(eps, rows):
        none = torch.zeros(eps.shape, dtype=torch.bool, device=eps.device)
        losses = guided_losses(teacher, physics, none, torch.zeros_like(eps), settings.residual)
        out = sample_dpde(teacher.denoiser, eps * sigmas[0], sigmas, losses, 0.0, settings.zeta_pde, settings.switch)
        backward[0] = out.grad_evals
        return out.x

    return _draw_batches(teacher, n, batch, seed, sample, on_progress)


def boundary_constraint(teacher, res: int, device) -> Callable[[torch.Tensor], torch.Tensor]:
    """ECI's constraint for generation: u = 0 on the boundary ring (network units) for Dirichlet problems, else none."""
    if teacher.problem.boundary != "dirichlet":
        return lambda x: x
    ring = torch.zeros(res, res, dtype=torch.bool, device=device)
    ring[0, :] = ring[-1, :] = ring[:, 0] = ring[:, -1] = True
    zero = teacher.normaliser.normalise(torch.zeros(1, res, res, dtype=torch.float64),
                                        torch.zeros(1, res, res, dtype=torch.float64))[0, 1, 0, 0].item()
    mask = torch.stack([torch.zeros_like(ring), ring])[None]
    return lambda x: torch.where(mask, torch.as_tensor(zero, dtype=x.dtype, device=x.device), x)


def _draw_eci(teacher, settings, n: int, batch: int, seed: int, on_progress=None):
    from ..guidance import sample_eci
    from ..sampling import karras_sigmas
    from ..solve.eci import resample_noise

    device = next(teacher.denoiser.parameters()).device
    sigmas = karras_sigmas(settings.steps, device=device)
    constrain = boundary_constraint(teacher, teacher.resolution, device)

    def sample(eps, rows):
        fresh = resample_noise(rows, teacher.resolution, seed)
        return sample_eci(teacher.denoiser, eps, sigmas, constrain, settings.mix, settings.resample or None, fresh).x

    return _draw_batches(teacher, n, batch, seed, sample, on_progress)


# -- the experiment ------------------------------------------------------------------------------
def run(opts: GenerateOptions, progress: Progress | None = None):
    """Draw, score and report every asked generator; returns (the Comparison, the output folder)."""
    from pde_bench import get_problem

    from ..defaults import distill_defaults, generation_settings
    from ..distributed import resolve_device
    from ..evaluate.scoring import ReferenceSets, Scored, _scored, _timed, score_student, score_teacher
    from ..models import load_model, load_student, reference_model
    from ..physics import PhysicsLoss
    from ..sampling import heun_nfe
    from ..solve import METHODS
    from .data import evaluation_data
    from .distill import EVAL_SEED, _refined

    opts.check()
    name = get_problem(opts.pde).name
    device = resolve_device(opts.device)
    student, model = load_student(opts.student or reference_model(name, "student"), problem=name, device=device)
    teacher = load_model(opts.teacher or reference_model(name, "teacher"), "teacher", problem=name,
                         resolution=model.resolution, device=device)
    settings = {k: METHODS[k].settings(**{**generation_settings(k, name), **opts.settings.get(k, {})})
                for k in ("dpde", "eci")}
    for s in settings.values():
        s.check()
    out = Path(opts.out) if opts.out else Path("runs") / f"{name}-compare-generate"
    check_output(out, opts.overwrite)
    data_dir = evaluation_data(Path(opts.data) if opts.data else None, model, opts.samples, "piddm compare", progress)
    ref = ReferenceSets(data_dir, opts.samples, model, opts.split)
    physics = PhysicsLoss.for_model(teacher)
    n, batch = opts.samples, min(opts.batch, opts.samples)
    cfg = {**distill_defaults(name), "eval_batch": batch}

    def bar(label):
        return progress(label, n) if progress else None

    scored: dict[str, Scored] = {}
    for key in opts.methods:
        if key == "teacher":
            scored[key] = score_teacher(teacher, ref, steps=TEACHER_STEPS, batch=batch, seed=EVAL_SEED,
                                        on_progress=bar(f"teacher Heun-{TEACHER_STEPS}"))
        elif key == "piddm-1":
            scored[key] = score_student(student, model.normaliser, ref, batch=batch, seed=EVAL_SEED,
                                        on_progress=bar("PIDDM-1"))
        elif key == "piddm-ref":
            scored[key] = _refined(student, model, ref, cfg, bar("PIDDM-ref"))
        else:
            s = settings[key]
            backward = [0]

            def draw_fn(m, warmup=False, key=key, s=s, backward=backward):  # warm-up: one step at the timed batch
                run_s = replace(s, steps=1) if warmup else s
                tick = None if warmup else bar(LABELS[key])
                if key == "dpde":
                    return _draw_dpde(teacher, physics, run_s, m, batch, EVAL_SEED, tick, [0] if warmup else backward)
                return _draw_eci(teacher, run_s, m, batch, EVAL_SEED, tick)

            a, u, seconds = _timed(draw_fn, n, batch)
            nfe = heun_nfe(s.steps) if key == "dpde" else s.steps * s.mix
            grads = backward[0] if key == "dpde" else 0
            scored[key] = _scored(a, u, ref, nfe=nfe, grad_evals=grads, seconds=seconds, batch=batch)
    for s in scored.values():
        per, agg = _field_statistics(ref.problem, s.a, s.u, ref.u_test)
        s.per_sample.update(per)
        s.ensemble.update(agg)
    truth_per, _ = _field_statistics(ref.problem, ref.a_test, ref.u_test, ref.u_test)
    floor_spectrum = spectrum_error(ref.u_real, ref.u_test)
    options = {**asdict(opts), "pde": name, "teacher": str(teacher.path), "student": str(model.path),
               "data": str(data_dir), "resolved_settings": {k: {f: v.to_dict()[f] for f in GENERATION_FIELDS[k]}
                                                  for k, v in settings.items()}}
    prov = provenance({**options, "device": str(device)})
    with atomic_output(out, overwrite=opts.overwrite) as tmp:
        tmp.mkdir(parents=True)
        comparison = _comparison(name, teacher, model, scored, ref, settings, truth_per, floor_spectrum, cfg,
                                 options, prov, data_dir)
        comparison.write(tmp)
        _figures(tmp, ref, scored, comparison)
    return comparison, out


LABELS = {"teacher": f"teacher Heun-{TEACHER_STEPS}", "piddm-1": "PIDDM-1", "piddm-ref": "PIDDM-ref",
          "dpde": "DiffusionPDE (PDE guidance)", "eci": "ECI-sampling (boundary)"}


def _columns(problem):
    from ..report import Column

    cols = [Column("nfe", "NFE", "int", False), Column("grad_evals", "grad evals", "int", False),
            Column("ms_per_sample", "ms/sample", "ms", False), Column("residual", "residual"),
            Column("residual_rel", "residual / own terms"), Column("amplitude_a", "amplitude a", spread=False),
            Column("amplitude_u", "amplitude u", spread=False), Column("bc", "bc", spread=False),
            Column("mmse", "MMSE", spread=False), Column("mmse_floor", "MMSE / floor", spread=False),
            Column("smse", "SMSE", spread=False), Column("smse_floor", "SMSE / floor", spread=False),
            Column("spectrum_error", "spectrum err", spread=False)]
    if problem.name == "darcy":
        cols += [Column("volume_fraction", "volume fraction"), Column("interface_length", "interface length")]
    return cols + [Column("failed", "failed", "int", False)]


def _comparison(name, teacher, model, scored, ref, settings, truth_per, floor_spectrum, cfg, options, prov, data_dir):
    from ..evaluate import bootstrap
    from ..evaluate.scoring import floors, summarise
    from ..report import Comparison, Cost, Row, Verdict

    floor = floors(ref)
    floor.update({k: float(np.mean(v)) for k, v in truth_per.items()})
    floor["spectrum_error"] = floor_spectrum
    rows = []
    for key, s in scored.items():
        per_sample = dict(s.per_sample)
        failed = int(per_sample.pop("failed").sum())
        means, stds = summarise(per_sample)
        rel = {f"{k}_floor": s.ensemble[k] / floor[k] for k in ("mmse", "smse")}
        rows.append(Row(key, LABELS[key], metrics={**means, **s.ensemble, **rel}, spread=stds,
                        cost={**s.cost, "failed": failed}))
    verdicts = []
    p = scored.get("piddm-1")
    if p is not None:
        for key, s in scored.items():
            if key == "piddm-1":
                continue
            verdicts.append(Verdict(f"PIDDM-1 residual / {LABELS[key]}'s", "piddm-1", key, "residual", "ratio",
                                    *bootstrap.ratio(p.per_sample["residual"], s.per_sample["residual"])))
            verdicts.append(Verdict(f"PIDDM-1 amplitude of u / {LABELS[key]}'s", "piddm-1", key, "amplitude_u",
                                    "ratio", *bootstrap.ratio(p.per_sample["amplitude_u"], s.per_sample["amplitude_u"])))
            verdicts.append(Verdict(f"NFE of {LABELS[key]} / PIDDM-1's", "piddm-1", key, "nfe", "ratio",
                                    s.cost["nfe"] / p.cost["nfe"], math.nan, math.nan))
        t = scored.get("teacher")
        if t is not None:
            verdicts += ensemble_verdicts(p, t, ref.u_test, "PIDDM-1", "piddm-1", "teacher")
    training = model.info.training
    costs = [Cost("teacher training", teacher.info.training.get("elapsed_s"), "from its model file"),
             Cost("teacher pairs", training.get("pairs_s"), f"{training.get('pairs', '?')} pairs"),
             Cost("student training", training.get("elapsed_s"), f"{training.get('step', '?')} steps")]
    n = len(ref.u_test)
    notes = [f"{name} at {teacher.resolution}², {n} samples per method against the {n}-sample {ref.split} split of "
             f"`{data_dir}`, batch {cfg['eval_batch']}; sample i of every row starts from the same noise "
             f"(evaluation stream), so rows are paired."]
    d, e = settings["dpde"], settings["eci"]
    ring = "the ring u = 0 overwritten" if teacher.problem.boundary == "dirichlet" else "no constraint (periodic)"
    after = [("Residual: per-sample RMS of the PDE residual / the residual scale (Darcy: a thresholded); amplitude: "
              "RMS fluctuation about the training mean / the training std (real data about 0.93-0.99); MMSE/SMSE: "
              "per-pixel mean / std of u against the reference split's, with the floor of a disjoint real set of the "
              "same size (the floor row); spectrum err: mean over |k| of |log10 S(k) - log10 S_ref(k)| of the radially "
              "averaged power spectrum of u; Darcy: volume fraction of a = a_high and interface length (grid faces "
              "between levels × h), mean ± std over samples against the floor row's test data. Verdicts: paired "
              "bootstrap 95 % intervals; NFE ratios carry none. " + ENSEMBLE_INTERVAL_NOTE), "",
             f"DiffusionPDE (PDE guidance): N = {d.steps} Heun steps, ζ_obs = 0, ζ_pde = {d.zeta_pde:g} on ||r||₂ / m "
             f"after {100 * d.switch:g} % of the steps ({'index-unit Darcy stencil' if d.residual == 'original' else 'the problem residual / its scale'}).",
             f"ECI-sampling (boundary): N = {e.steps}, M = {e.mix}, fresh noise "
             f"{'never' if not e.resample else f'every {e.resample} passes'}; {ring}.",
             f"PIDDM-ref: {cfg['refine_steps']} Adam steps (lr {cfg['refine_lr']:g}) on the noise lowering R."]
    from ..defaults import generation_settings

    untuned = [LABELS[k] for k in ("dpde", "eci") if k in scored and not generation_settings(k, name)]
    if untuned:
        notes.append(f"{' and '.join(untuned)}: no settings tuned for {name} generation; class defaults (or --set).")
    return Comparison("generate", f"piddm compare — {name} {teacher.resolution}², generation", _columns(teacher.problem),
                      rows, floor=floor, verdicts=verdicts, costs=costs, notes=notes, after=after, options=options,
                      provenance=prov)


def _figures(folder: Path, ref, scored, comparison) -> None:
    """methods.png (samples and residual maps per row) and spectrum.png (radially averaged power spectra of u)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..report.figures import save_panel

    fields = {"test data": (ref.a_test, ref.u_test)}
    fields.update({k: (s.a, s.u) for k, s in scored.items()})
    save_panel(folder / "methods.png", ref.problem, fields, ref.scale, f"{comparison.title}: samples and log10 |r|",
               columns=4)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    k = np.arange(ref.u_test.shape[-1] // 2 + 1)
    ax.loglog(k[1:], radial_spectrum(ref.u_test)[1:], "k-", lw=2, label="test data")
    for key, s in scored.items():
        ax.loglog(k[1:], radial_spectrum(s.u)[1:], label=LABELS[key])
    ax.set_xlabel("|k|")
    ax.set_ylabel("radially averaged power of u")
    ax.legend(fontsize=8)
    ax.set_title(comparison.title, fontsize=9)
    with atomic_output(folder / "spectrum.png", overwrite=True) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
