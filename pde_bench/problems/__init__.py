"""PDE problems, one module each, registered by name."""

from . import darcy, helmholtz, navier_stokes, poisson  # noqa: F401  (registration)
from .base import Problem, get_problem, problem_names, register

__all__ = ["Problem", "get_problem", "problem_names", "register"]
