"""The physics term of the student's loss: R(x), the squared normalised residual of a field.

R(x) = (RMS of the PDE residual / the data set's residual scale)^2 + (RMS of the boundary
values / RMS of u)^2, per sample, for normalised channels x = (a, u) mapped back to physical
units. It uses pde_bench's exact operator (DESIGN.md rule 3), so ground truth scores at the
floating-point floor. ``inputs`` says what the operator sees of the input channel a:

- ``"soft"``: the network's continuous a (Darcy: clamped positive inside the operator); reports
  threshold it, so the trained and the reported residual differ.
- ``"hard"``: the finalised (Darcy: thresholded) a with a straight-through gradient (d a_hard /
  d a taken as 1): the loss is the residual that reports measure, and it may move a.
- ``"fixed"``: the finalised a with no gradient to a: the residual corrects u to fit the a the
  network drew, and a is shaped by the distillation term alone.
- ``"anneal"``: a relaxed finalisation (Darcy: a sigmoid between the levels,
  ``Problem.relax_inputs``) whose ``temperature`` the trainer lowers from :data:`ANNEAL_START` to
  :data:`ANNEAL_END` level gaps over training: soft early (a smooth gradient through a), at the end
  the thresholded a that reports score, so the loss moves from what the network draws to what is measured.
"""

from __future__ import annotations

import torch

from pde_bench.conventions import InputError
from pde_bench.problems.base import Problem
from pde_bench.torch_data import Normaliser

__all__ = ["ANNEAL_END", "ANNEAL_START", "INPUT_MODES", "PhysicsLoss", "anneal_temperature"]

INPUT_MODES = ("soft", "hard", "fixed", "anneal")
ANNEAL_START, ANNEAL_END = 0.25, 0.0025  # temperatures of "anneal", in level gaps (a sigmoid's width)


def anneal_temperature(step: int, steps: int) -> float:
    """Geometric schedule from ANNEAL_START at step 0 to ANNEAL_END at ``steps`` (and after)."""
    frac = min(max(step / max(steps, 1), 0.0), 1.0)
    return ANNEAL_START * (ANNEAL_END / ANNEAL_START) ** frac


class PhysicsLoss:
    """Callable ``R(x) -> (B,)`` for normalised fields x (B, 2, N, N); differentiable."""

    def __init__(self, problem: Problem, normaliser: Normaliser, scale: float, u_rms: float,
                 boundary_weight: float = 1.0, inputs: str = "soft"):
        if not (scale > 0 and u_rms > 0):
            raise ValueError(f"residual scale and u RMS must be positive, got {scale}, {u_rms}")
        self.problem, self.normaliser = problem, normaliser
        self.scale, self.u_rms, self.boundary_weight = float(scale), float(u_rms), float(boundary_weight)
        if inputs not in INPUT_MODES:
            raise ValueError(f"inputs must be one of {INPUT_MODES}, got {inputs!r}")
        self.inputs = inputs
        self.temperature = ANNEAL_START  # of "anneal" only; the trainer lowers it (anneal_temperature)

    @classmethod
    def for_model(cls, model, inputs: str | None = None, boundary_weight: float | None = None) -> PhysicsLoss:
        """The physics term of a model's problem, with the residual scale and normalisation stored in its file.

        ``inputs`` and ``boundary_weight`` default to what the model was trained with (a teacher:
        ``soft`` and 1). The u normaliser is the RMS of u of the model's training data.
        """
        t = model.info.training
        inputs = t.get("inputs", "soft") if inputs is None else inputs
        boundary_weight = float(t.get("boundary_weight", 1.0)) if boundary_weight is None else boundary_weight
        n = model.normaliser
        scale = model.info.data.get("residual_scale")
        if scale is None:
            raise InputError(f"{model.path}: no residual scale stored with this model")
        loss = cls(model.problem, n, float(scale), (n.mean_u**2 + n.std_u**2) ** 0.5, inputs=inputs,
                   boundary_weight=boundary_weight)
        if inputs == "anneal":  # a trained model's: the schedule's end, the width it finished training at
            loss.temperature = ANNEAL_END
        return loss

    def terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(PDE term, boundary term) per sample, both squared and normalised."""
        a, u = self.normaliser.to_physical(x)
        if self.inputs == "hard":
            a = a + (self.problem.finalize_inputs(a.detach()) - a).detach()
        elif self.inputs == "fixed":
            a = self.problem.finalize_inputs(a.detach())
        elif self.inputs == "anneal":
            a = self.problem.relax_inputs(a, self.temperature)
        r = self.problem.residual(a, u, check=False)
        pde = r.pow(2).mean(dim=(-2, -1)) / self.scale**2
        if self.problem.boundary == "dirichlet":
            bc = self.problem.boundary_residual(u, check=False).pow(2).mean(dim=-1) / self.u_rms**2
        else:
            bc = torch.zeros_like(pde)
        return pde, bc

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        pde, bc = self.terms(x)
        return pde + self.boundary_weight * bc
