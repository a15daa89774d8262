"""Model files (``teacher.pt``, ``student.pt``), the shipped reference models, and loading a student.

A model file is a dict: ``kind``, ``problem`` (name and physical parameters), ``resolution``
(trained at), ``backbone`` config, ``normaliser`` (the data set's statistics), ``data``
(path, seed, splits' attributes that matter), ``training`` and ``provenance``, and ``state``
(the EMA weights). Loading checks what the caller needs (problem, resolution, kind) and says
in one line what does not match.

Reference models ship inside the package: ``piddm/reference/<pde>/{teacher,student}.pt``, each
next to ``<kind>.json`` (the command, commit, data seed, steps, wall time and quality figures of
the run that made it). Commands use them when the user names no model of their own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import json

import torch

from pde_bench import get_problem
from pde_bench.conventions import InputError
from pde_bench.problems.base import Problem
from pde_bench.torch_data import Normaliser

from .edm import Denoiser
from .files import atomic_torch_save, load_tensor_state, tensor_state
from .networks import build_backbone

__all__ = ["REFERENCE_DIR", "LoadedModel", "ModelInfo", "available_references", "load_model", "load_student",
           "reference_model", "reference_provenance", "resolve_model_path", "save_model"]

FORMAT = "piddm-model/1"


@dataclass
class ModelInfo:
    kind: str
    problem: str
    params: dict
    resolution: int
    backbone: dict
    normaliser: dict
    data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)


@dataclass
class LoadedModel:
    """A network ready to call, with its problem and the map to physical units (an image model: its
    :class:`~piddm.images.datasets.ImageSet` and no normaliser, pixels being in [-1, 1])."""

    denoiser: Denoiser
    info: ModelInfo
    problem: Problem
    normaliser: Normaliser | None
    path: Path

    @property
    def resolution(self) -> int:
        return self.info.resolution


def save_model(path: Path, denoiser: Denoiser, info: ModelInfo) -> None:
    atomic_torch_save({"format": FORMAT, **asdict(info), "state": tensor_state(denoiser)}, Path(path))


def resolve_model_path(path: Path | str, kind: str) -> Path:
    """A run folder means its ``<kind>.pt`` (a distill folder: ``piddm/student.pt``); a file is taken as given."""
    path = Path(path)
    if path.is_dir():
        nested = path / "piddm" / f"{kind}.pt"
        path = nested if kind == "student" and nested.exists() else path / f"{kind}.pt"
    if not path.exists():
        raise InputError(f"{path}: no {kind} file here (train one, or give the path of a {kind}.pt)")
    return path


def load_model(path: Path | str, kind: str = "teacher", *, problem: str | None = None,
               resolution: int | None = None, device: torch.device | str = "cpu") -> LoadedModel:
    """Load a model file, checking its kind and (when given) its problem and resolution.

    A U-Net only runs at its training resolution; an FNO accepts any ``resolution``.
    """
    path = resolve_model_path(path, kind)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable file is a user error here
        raise InputError(f"{path}: not a readable model file ({type(err).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise InputError(f"{path}: not a piddm model file (format {FORMAT!r} expected)")
    if blob["kind"] != kind:
        raise InputError(f"{path}: is a {blob['kind']} file, a {kind} was expected")
    info = ModelInfo(**{k: blob[k] for k in ModelInfo.__dataclass_fields__})
    if problem is not None:
        from .images.datasets import IMAGE_SETS, image_set

        want = image_set(problem).name if problem in IMAGE_SETS else get_problem(problem).name
        if info.problem != want:
            raise InputError(f"{path}: {kind} of problem {info.problem!r}, but {want!r} was asked for")
    if resolution is not None and resolution != info.resolution and info.backbone["backbone"] != "fno":
        raise InputError(f"{path}: {info.backbone['backbone']} {kind} trained at {info.resolution}^2 cannot "
                         f"run at {resolution}^2 (only FNO backbones change resolution)")
    net = build_backbone(info.backbone)
    denoiser = Denoiser(net)
    try:
        load_tensor_state(denoiser, blob["state"])
    except RuntimeError as err:
        raise InputError(f"{path}: weights do not fit the {info.backbone['backbone']}/"
                         f"{info.backbone['preset']} backbone it names ({str(err).splitlines()[0]})") from None
    denoiser = denoiser.to(device).eval().requires_grad_(False)
    from .images.datasets import IMAGE_SETS, image_set

    if info.problem in IMAGE_SETS:  # an image model: its "problem" is its data set, pixels live in [-1, 1]
        return LoadedModel(denoiser, info, image_set(info.problem), None, path)
    prob = get_problem(info.problem, **info.params)
    return LoadedModel(denoiser, info, prob, Normaliser(**info.normaliser), path)


def load_student(path, *, problem: str | None = None, device="cpu"):
    """A student file as a ready :class:`piddm.student.Student` (eval mode, no gradients) and its metadata."""
    from .student import Student

    loaded = load_model(path, "student", problem=problem, device=device)
    student = Student(loaded.denoiser).to(device).eval().requires_grad_(False)
    return student, loaded


REFERENCE_DIR = Path(__file__).parent / "reference"


def reference_model(pde: str, kind: str = "teacher") -> Path:
    """Path of the shipped ``kind`` model of problem (or image set) ``pde``, or a one-line error saying what exists.

    Image sets also ship their feature classifier (``kind="classifier"``) when they ship models."""
    from .images.datasets import IMAGE_SETS, image_set

    image = pde in IMAGE_SETS or pde.replace("_", "-") in IMAGE_SETS
    name = image_set(pde).name if image else get_problem(pde).name
    path = REFERENCE_DIR / name / f"{kind}.pt"
    if not path.exists():
        have = ", ".join(f"{p}/{k}" for p, k in available_references()) or "none"
        make = {"teacher": "train-teacher", "classifier": "train-classifier"}.get(kind, "distill")
        flag = "--images" if image else "--pde"
        raise InputError(f"no shipped reference {kind} for {name} (shipped: {have}); make one with "
                         f"`piddm {make} {flag} {name}` and pass it explicitly")
    return path


def reference_provenance(pde: str, kind: str = "teacher") -> dict:
    path = reference_model(pde, kind).with_suffix(".json")
    return json.loads(path.read_text()) if path.exists() else {}


def available_references() -> list[tuple[str, str]]:
    if not REFERENCE_DIR.exists():
        return []
    return sorted((p.parent.name, p.stem) for p in REFERENCE_DIR.glob("*/*.pt"))
