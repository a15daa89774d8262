"""pde_bench: PDE problems with numerical solvers and exact, differentiable residual operators."""

from .conventions import InputError
from .metrics import normalised_residual, rms
from .problems import Problem, get_problem, problem_names

__all__ = ["InputError", "Problem", "get_problem", "problem_names", "normalised_residual", "rms"]
__version__ = "0.1.0"
