"""What every solve method returns: prediction, uncertainty, members and costs, in physical units."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["SolveResult", "ensemble", "pad_history"]


@dataclass
class SolveResult:
    """Physical fields (n, N, N): prediction (ensemble mean), std, best member; members (n, K, N, N).

    ``a``, ``a_best`` and ``a_members`` are finalised (Darcy: thresholded), as every report needs
    them. A method without an ensemble has K = 1 and std 0. Costs are per sample: ``nfe`` network
    forward calls and ``grad_evals`` backward passes through the network (all K members).
    """

    a: np.ndarray
    u: np.ndarray
    a_std: np.ndarray
    u_std: np.ndarray
    a_best: np.ndarray
    u_best: np.ndarray
    a_members: np.ndarray
    u_members: np.ndarray
    loss: np.ndarray  # (n, evaluations + 1): mean over the members of each sample's loss at each evaluation
    nfe: int
    grad_evals: int
    seconds: float  # wall time of the whole solve
    extra: dict = field(default_factory=dict)

    @property
    def seconds_per_sample(self) -> float:
        return self.seconds / max(len(self.u), 1)

    @property
    def members(self) -> int:
        return self.u_members.shape[1]

    @classmethod
    def single(cls, problem, a: np.ndarray, u: np.ndarray, **kwargs) -> SolveResult:
        """A one-member answer (no ensemble): std 0, the best member is the answer; a finalised here."""
        a = np.asarray(problem.finalize_inputs(torch.as_tensor(np.asarray(a, np.float64)))).astype(np.float64)
        u = np.asarray(u, np.float64)
        return cls(a=a, u=u, a_std=np.zeros_like(a), u_std=np.zeros_like(u), a_best=a, u_best=u,
                   a_members=a[:, None], u_members=u[:, None], **kwargs)


    @classmethod
    def posterior(cls, problem, mean: dict, std: dict, members: dict, **kwargs) -> SolveResult:
        """A posterior's answer: its mean (a finalised: Darcy's a thresholded at the level midpoint) and std,
        and draws (n, K, N, N) as members (a finalised). The best member is the mean: there is no loss to rank
        draws by. For a finalised-discrete a the std is the std of the finalised draws. ``extra["exact_std"]``
        names the channels whose std is the posterior's own (its coverage is compared with the Gaussian 0.954),
        not K draws'."""
        from ..evaluate.scoring import discrete_inputs

        fin = lambda x: np.asarray(problem.finalize_inputs(torch.as_tensor(np.asarray(x, np.float64)))).astype(
            np.float64)
        a, a_members = fin(mean["a"]), fin(members["a"])
        a_std = a_members.std(1) if discrete_inputs(problem) else np.asarray(std["a"], np.float64)
        u = np.asarray(mean["u"], np.float64)
        kwargs["extra"] = {**kwargs.get("extra", {}), "exact_std": ("a", "u")}
        return cls(a=a, u=u, a_std=a_std, u_std=np.asarray(std["u"], np.float64), a_best=a, u_best=u,
                   a_members=a_members, u_members=np.asarray(members["u"], np.float64), **kwargs)


def ensemble(problem, a: np.ndarray, u: np.ndarray, loss: np.ndarray) -> dict[str, np.ndarray]:
    """Members (n, K, N, N) -> mean / std / best (n, N, N) and the members; a finalised per member.

    The prediction of a finalised input is finalised again: for Darcy the majority level.
    """
    a = np.asarray(problem.finalize_inputs(torch.as_tensor(a))).astype(np.float64)
    best = np.argmin(loss, axis=1)
    idx = np.arange(len(u))
    a_mean = np.asarray(problem.finalize_inputs(torch.as_tensor(a.mean(1)))).astype(np.float64)
    return {"a": a_mean, "u": u.mean(1), "a_std": a.std(1), "u_std": u.std(1),
            "a_best": a[idx, best], "u_best": u[idx, best], "a_members": a, "u_members": u}


def pad_history(hist: list[np.ndarray]) -> np.ndarray:
    """Stack per-sample histories (T_j,) or per-batch ones (b, T_j) into (n, max T), padding with the last value."""
    hist = [h[None] if h.ndim == 1 else h for h in hist]
    T = max(h.shape[1] for h in hist)
    return np.concatenate([np.pad(h, ((0, 0), (0, T - h.shape[1])), mode="edge") for h in hist])
