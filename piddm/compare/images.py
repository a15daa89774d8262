"""The image PID experiment: train (or resume) the one-step student, then score it against its teacher.

Rows, each drawing ``samples`` images from the same noise (sample i from the evaluation stream,
seed 1, index i; labels i mod classes for a class-conditional teacher), at the same batch, timed
after an untimed warm-up batch:

- ``teacher``: the teacher's deterministic Heun-18 (35 network calls), EDM's CIFAR-10 setting;
- ``teacher-euler-1``: one Euler step of the teacher's PF-ODE from σ_max (= D(σ_max ε; σ_max), 1 call);
- ``pid``: the PID student, x_θ(T ε, σ_min) clipped (1 call);
- ``teacher-heun-2``: the teacher's Heun-2 (3 network calls), the few-step sampler a one-step student
  should beat to be worth distilling;

Scores against ``split`` real images (val while choosing, test once): the Fréchet distance and
precision / recall (k = 3) on features, with paired bootstrap intervals for the FD ratios. Features:
FID's Inception-v3 when ``inception`` names its weights file (:mod:`piddm.images.inception`), else
the data set's small classifier (:mod:`piddm.images.features`: **not FID**). Run
folder: the PID run (student.pt, checkpoint.pt, loss.csv, val.csv, samples/, options.json) and one folder per
scored split, ``report-val/`` or ``report-test/``: report.md, metrics.json, options.json, samples_<row>.png.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pde_bench.conventions import InputError, provenance

__all__ = ["FeatureScorer", "ImageDistillExperiment", "evaluate_images", "feature_scorer", "run_images"]

EVAL_SEED = 1
TEACHER_STEPS = 18
Progress = Callable[[str, int], Callable[[int], None]]


@dataclass
class ImageDistillExperiment:
    images: str
    teacher: str
    out: str
    classifier: str | None = None  # feature classifier (FD); unused when ``inception`` is given
    inception: str | None = None  # torch-fidelity's Inception weights file: FID
    data_dir: str | None = None
    points: int = 250
    distance: str = "pseudo-huber"
    lpips_weights: str | None = None
    steps: int = 2000
    minutes: float | None = None
    batch: int = 32
    lr: float = 2e-4
    samples: int = 2000
    eval_batch: int = 250
    split: str = "val"
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    overwrite: bool = False
    evaluate_only: bool = False  # score the student already in ``out`` (e.g. on the test split, once)


def _generate(make: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], n: int, shape, classes: int,
              batch: int, device, advance=None) -> tuple[torch.Tensor, float]:
    """n images from noise (evaluation, EVAL_SEED, i) in batches; seconds per sample after a warm-up batch."""
    from piddm.noise import standard_noise

    def labels(start, m):
        return (torch.arange(start, start + m, device=device) % classes) if classes else None

    with torch.no_grad():
        make(standard_noise(min(batch, n), shape, seed=EVAL_SEED, stream="evaluation").to(device), labels(0, 1))
    out, t0 = [], time.perf_counter()
    for start in range(0, n, batch):
        m = min(batch, n - start)
        eps = standard_noise(m, shape, seed=EVAL_SEED, start=start, stream="evaluation").to(device)
        with torch.no_grad():
            out.append(make(eps, labels(start, m)).float().clamp(-1, 1).cpu())
        if advance:
            advance(m)
    return torch.cat(out), (time.perf_counter() - t0) / n


@dataclass
class FeatureScorer:
    """What the samples are scored on: a feature map, the metric's name, and what the report says of it."""

    metric: str  # "FID" (Inception) or "FD" (classifier features)
    source: str  # the weights file the features come from
    column: str
    extract: Callable[[torch.Tensor | np.ndarray], np.ndarray]
    note: str
    cost: object | None = None  # a report Cost, when making the features had one


def feature_scorer(exp: ImageDistillExperiment, device) -> FeatureScorer:
    """FID's Inception when ``exp.inception`` is set, else the data set's classifier; one-line errors if missing."""
    from piddm.report.comparison import Cost

    if exp.inception:
        from piddm.images.inception import inception_features, load_inception

        net = load_inception(exp.inception, device)
        return FeatureScorer(
            "FID", exp.inception, "FID (Inception)", lambda x: inception_features(net, x, batch=min(exp.eval_batch, 100)),
            f"FID, precision, recall: on the 2048 pool features of torch-fidelity's Inception-v3 ({exp.inception}), "
            "images quantised to 8 bits (one channel repeated to RGB). FID at a finite sample size is biased upward: "
            "compare only with FIDs at the same number of samples against the same real set (published CIFAR-10 "
            "FIDs use 50,000 samples against the 50,000 training images).")
    if not exp.classifier:
        raise InputError(f"{exp.images}: nothing to score samples with: give --inception (FID) or --classifier")
    from piddm.images.features import extract_features, load_classifier

    classifier, c_meta = load_classifier(exp.classifier, exp.images)
    return FeatureScorer(
        "FD", exp.classifier, "FD (classifier features)", lambda x: extract_features(classifier, x),
        f"FD, precision, recall: on the {c_meta['features']}-dimensional features of a small classifier trained on "
        f"the {exp.images} training split ({exp.classifier}; test accuracy {100 * c_meta['test_accuracy']:.2f} %). "
        "Non-standard: this is **not FID** and compares only with numbers from the same classifier file. The floor "
        "row scores real training images (a random subset of the same size, which the classifier was trained on) "
        "the same way.",
        Cost("feature classifier", c_meta.get("train_s"), f"test accuracy {100 * c_meta['test_accuracy']:.2f} %"))


CACHE_FORMAT = 2


def _baseline_cache_key(exp: ImageDistillExperiment, teacher_path: Path, scorer: FeatureScorer, device,
                        real: np.ndarray) -> str:
    """Everything the teacher rows' samples and features depend on: the teacher and feature files, the code
    that samples and featurises, the scored images' bytes, the sampling settings and the device."""
    import hashlib
    import inspect
    import json

    from piddm import edm, sampling
    from piddm.images import features, inception, teacher as image_teacher
    from piddm.student import file_hash

    source = Path(scorer.source)
    source = source / "classifier.pt" if source.is_dir() else source
    code = {m.__name__: file_hash(Path(inspect.getfile(m))) for m in (edm, sampling, image_teacher, features,
                                                                         inception)}
    return json.dumps({"format": CACHE_FORMAT, "teacher": file_hash(teacher_path), "scorer": scorer.metric,
                       "features": file_hash(source), "code": code, "images": exp.images,
                       "real": hashlib.sha256(np.ascontiguousarray(real).tobytes()).hexdigest()[:16],
                       "split": exp.split, "samples": exp.samples, "eval_batch": exp.eval_batch, "seed": EVAL_SEED,
                       "heun": TEACHER_STEPS, "device": str(device)}, sort_keys=True)


def _load_baselines(path: Path, key: str) -> dict:
    """{row key: (features, sample grid, cost)} of an earlier evaluation with the same key; {} when there is none,
    the key differs or the file cannot be read (a cache miss, never an error)."""
    import json

    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return {}
            costs = json.loads(str(z["costs"]))
            return {k: (z[f"feats_{k}"], torch.from_numpy(z[f"grid_{k}"]), costs[k]) for k in costs}
    except (OSError, KeyError, ValueError):
        return {}


def _save_baselines(path: Path, key: str, done: dict) -> None:
    """Write {row key: (features, sample grid, cost)} under ``key`` (atomically)."""
    import json

    from pde_bench.conventions import atomic_output

    arrays = {f"feats_{k}": f for k, (f, _, _) in done.items()}
    arrays.update({f"grid_{k}": g.numpy() for k, (_, g, _) in done.items()})
    with atomic_output(path, overwrite=True) as tmp, open(tmp, "wb") as f:
        np.savez(f, key=np.array(key), costs=np.array(json.dumps({k: c for k, (_, _, c) in done.items()})), **arrays)


def evaluate_images(exp: ImageDistillExperiment, student_path: Path, device, progress: Progress | None = None):
    """The Comparison of teacher Heun-18, teacher Euler-1, teacher Heun-2 and the PID student (module docstring)."""
    from piddm.evaluate.image_metrics import frechet_distance, frechet_ratio_interval, precision_recall
    from piddm.images.datasets import load_images
    from piddm.images.distill import load_pid_student
    from piddm.images.teacher import labelled
    from piddm.models import load_model
    from piddm.sampling import generate, heun_nfe
    from piddm.report.comparison import Column, Comparison, Cost, Row, Verdict

    student, s_info = load_pid_student(student_path, exp.images, device=device)
    teacher = load_model(exp.teacher, "teacher", problem=exp.images, device=device)
    from piddm.student import file_hash

    if s_info.info.training.get("teacher_hash") not in (None, file_hash(teacher.path)):
        raise InputError(f"{student_path}: was distilled from {s_info.info.training.get('teacher')} (hash "
                         f"{s_info.info.training.get('teacher_hash')}), not from {teacher.path}; pass --teacher")
    scorer = feature_scorer(exp, device)
    real, _, spec = load_images(exp.images, exp.data_dir, exp.split)
    real_f = scorer.extract(real)
    shape, classes = (spec.channels, spec.resolution, spec.resolution), int(teacher.info.params.get("classes", 0))

    def heun(steps, sampler="heun"):
        return lambda e, y: generate(labelled(teacher.denoiser, y), e, steps=steps, sampler=sampler).x

    methods = {
        "teacher": (f"teacher (Heun-{TEACHER_STEPS})", heun_nfe(TEACHER_STEPS), heun(TEACHER_STEPS)),
        "teacher-euler-1": ("teacher (Euler, 1 step)", 1, heun(1, "euler")),
        "teacher-heun-2": ("teacher (Heun-2)", heun_nfe(2), heun(2)),
        "pid": ("PID student (1 step)", 1, lambda e, y: student.sample(e, y))}
    # The teacher rows depend on nothing the student changes: kept in the run folder and reused when an evaluation
    # with the same teacher, scorer, split, samples, batch and device scores another step of the student.
    # The teacher rows' samples depend on nothing the student changes: their features, sample grids and timings are
    # kept in the run folder and reused when another step of the student is scored the same way (metrics recomputed).
    cache = Path(exp.out) / f"teacher-rows-{exp.split}.npz"
    cache_key = _baseline_cache_key(exp, teacher.path, scorer, device, real)
    cached, reused = _load_baselines(cache, cache_key), []
    rows, feats, grids, costs = [], {}, {}, {}
    for key, (label, nfe, make) in methods.items():
        if key in cached:
            feats[key], grids[key], costs[key] = cached[key]
            reused.append(label)
        else:
            advance = progress(f"sampling {label}", exp.samples) if progress else None
            x, s = _generate(make, exp.samples, shape, classes, exp.eval_batch, device, advance)
            feats[key], grids[key] = scorer.extract(x), x[:32]
            costs[key] = {"nfe": nfe, "ms_per_sample": 1000 * s, "batch": exp.eval_batch}
        p, r = precision_recall(real_f, feats[key])
        rows.append(Row(key, label, metrics={"fd": frechet_distance(feats[key], real_f), "precision": p,
                                             "recall": r}, cost=costs[key]))
    training = s_info.info.training
    next(r for r in rows if r.method == "pid").notes.update(  # which student this is (read by pid_curve.py)
        {"training_step": training.get("step"), "training_lr": training.get("lr")})
    teacher_rows = [k for k in methods if k != "pid"]
    if any(k not in cached for k in teacher_rows):
        _save_baselines(cache, cache_key, {k: (feats[k], grids[k], costs[k]) for k in teacher_rows})
    labels = {r.method: r.label for r in rows}
    train_imgs, _, _ = load_images(exp.images, exp.data_dir, "train")
    floor_f = scorer.extract(train_imgs[np.random.default_rng(0).permutation(len(train_imgs))[:exp.samples]])
    fp, fr = precision_recall(real_f, floor_f)
    floor = {"label": f"real: {len(floor_f)} training images (floor)", "fd": frechet_distance(floor_f, real_f),
             "precision": fp, "recall": fr}
    verdicts = []
    for base, target in (("teacher", 2.0), ("teacher-euler-1", 1.0), ("teacher-heun-2", None)):
        est, lo, hi = frechet_ratio_interval(feats["pid"], feats[base], real_f)
        verdicts.append(Verdict(f"{scorer.metric}: PID / {labels[base]}", "pid", base, "fd", "ratio", est, lo, hi,
                                target=target, better="le"))
    above = {r.method: r.metrics["fd"] - floor["fd"] for r in rows}  # FD above a perfect generator's at this n
    verdicts.append(Verdict(f"{scorer.metric} above the floor row: PID / teacher (Heun-{TEACHER_STEPS})", "pid",
                            "teacher", "fd", "ratio", above["pid"] / above["teacher"], float("nan"), float("nan"),
                            target=2.0, better="le"))
    ms = {r.method: r.cost["ms_per_sample"] for r in rows}
    verdicts.append(Verdict(f"speed: teacher Heun-{TEACHER_STEPS} time / PID time", "pid", "teacher",
                            "ms_per_sample", "ratio", ms["teacher"] / ms["pid"], float("nan"), float("nan"),
                            target=30.0, better="ge"))
    costs = [Cost("teacher training", teacher.info.training.get("elapsed_s")),
             Cost("PID training", s_info.info.training.get("elapsed_s"),
                  f"{s_info.info.training.get('step')} steps at batch {s_info.info.training.get('batch')}")]
    costs += [scorer.cost] if scorer.cost else []
    notes = [f"{exp.samples} samples per method against the {len(real)} {exp.split} images of {spec.name}; "
             f"same noise for every row (evaluation stream, seed {EVAL_SEED}).", scorer.note]
    if reused:
        notes.append(f"Rows {', '.join(reused)}: samples reused from an earlier evaluation in this run folder "
                     f"({cache.name}: same teacher and feature files, sampling and feature code, real images, "
                     "samples, batch and device), their metrics recomputed; their ms/sample were timed then, so the "
                     "speed verdict divides a teacher time measured then by a PID time measured now.")
    after = [f"PID student: {s_info.info.training.get('step')} steps, distance {s_info.info.training.get('distance')}, "
             f"N = {s_info.info.training.get('points')} grid points, RAdam lr {s_info.info.training.get('lr')}, "
             f"batch {s_info.info.training.get('batch')}. Verdict intervals: paired bootstrap over the generated "
             "samples (200 resamples; the real set fixed; a percentile interval, which sits low: resampling with "
             "replacement inflates both FDs, so read 'clearly better' from its upper end, not the estimate). FD at "
             "a finite sample size is biased upward and pulls ratios toward 1; the floor-corrected ratio subtracts "
             "the floor row's FD (real images at the same n) from both. ms/sample: wall time of the whole "
             f"generation at the stated batch on {device}, after a warm-up batch, rows timed one after another "
             "(other jobs may share the machine: see the benchmark's notes)."]
    columns = [Column("fd", scorer.column, "g", spread=False), Column("precision", "precision", "g"),
               Column("recall", "recall", "g"), Column("nfe", "NFE", "int"), Column("ms_per_sample", "ms/sample", "ms"),
               Column("batch", "batch", "int")]
    cmp = Comparison(kind="image-distill", title=f"piddm distill --images {spec.name}: PID one-step student",
                     columns=columns, rows=rows, floor=floor, verdicts=verdicts, costs=costs, notes=notes, after=after,
                     options=asdict(exp), provenance=provenance(asdict(exp)))
    return cmp, grids


def run_images(exp: ImageDistillExperiment, *, progress: Progress | None = None, training_bar=None):
    """Train (or resume) the PID student, evaluate, write the report; (Comparison, report folder) on the main rank
    (``<out>/report-val`` or ``<out>/report-test``, beside the run's own files)."""
    from piddm.distributed import resolve_device
    from piddm.images.distill import PIDOptions, run_pid
    from piddm.images.teacher import save_image_grid
    from piddm.training import TrainConfig

    if exp.split not in ("val", "test"):
        raise InputError(f"--split must be val or test, got {exp.split!r}")
    if exp.samples < 4 or exp.eval_batch < 1:
        raise InputError(f"--eval-samples must be >= 4 and --eval-batch >= 1, got {exp.samples}, {exp.eval_batch}")
    from piddm.images.datasets import load_images

    if exp.inception:  # fail before training, not after
        from piddm.images.inception import read_inception_state

        read_inception_state(exp.inception)
    else:
        feature_scorer(exp, "cpu")
    load_images(exp.images, exp.data_dir, exp.split)
    load_images(exp.images, exp.data_dir, "train")
    cfg = TrainConfig(steps=exp.steps, minutes=exp.minutes, batch=exp.batch, lr=exp.lr, warmup=0, grad_clip=0.0,
                      optimizer="radam", ema_halflife=5_000, checkpoint_every=250, seed=exp.seed, bf16=False)
    opts = PIDOptions(images=exp.images, teacher=exp.teacher, out=exp.out, points=exp.points, distance=exp.distance,
                      lpips_weights=exp.lpips_weights, device=exp.device, train=cfg)
    folder = Path(exp.out)
    if exp.evaluate_only:
        if not (folder / "student.pt").exists():
            raise InputError(f"{folder}: no student.pt to evaluate (train one first: drop --evaluate-only)")
    elif run_pid(opts, resume=exp.resume, overwrite=exp.overwrite, training_bar=training_bar) is None:
        return None
    cmp, grids = evaluate_images(exp, folder / "student.pt", resolve_device(exp.device), progress)
    report = folder / f"report-{exp.split}"  # beside the run (its options.json is the run's, for --resume)
    cmp.write(report)
    for key, x in grids.items():
        save_image_grid(x, report / f"samples_{key}.png")
    return cmp, report
