"""Bad input reaches the user as a one-line InputError naming the problem."""

import numpy as np
import pytest
import torch

import pde_bench
from pde_bench import InputError


def test_unknown_problem():
    with pytest.raises(InputError, match="unknown problem 'burgers'.*darcy"):
        pde_bench.get_problem("burgers")


def test_unknown_or_bad_parameter():
    with pytest.raises(InputError, match="unknown parameter.*viscosity"):
        pde_bench.get_problem("navier-stokes", viscosity=1e-3)
    with pytest.raises(InputError, match="a_high"):
        pde_bench.get_problem("darcy", a_high=-1.0)
    with pytest.raises(InputError, match="finite number, got 'x'"):
        pde_bench.get_problem("helmholtz", k="x")
    with pytest.raises(InputError, match="whole number of steps"):
        pde_bench.get_problem("navier-stokes", dt=0.3)


@pytest.mark.parametrize("resolution", [4, 7, 0, -3, 16.5, "x"])
def test_resolution_below_minimum(problem, resolution):
    with pytest.raises(InputError, match="resolution"):
        problem.generate(n=1, resolution=resolution)


def test_bad_sample_count(problem):
    with pytest.raises(InputError, match="number of samples"):
        problem.generate(n=0, resolution=16)


def test_residual_rejects_non_finite(problem):
    a = torch.zeros(2, 16, 16) + 3.0
    u = torch.zeros(2, 16, 16)
    u[1, 3, 4] = float("nan")
    with pytest.raises(InputError, match="u contains non-finite"):
        problem.residual(a, u)


@pytest.mark.parametrize("shape_a, shape_u", [((2, 16, 16), (2, 16, 15)), ((2, 16, 16), (3, 16, 16)),
                                              ((16,), (16,)), ((2, 4, 4), (2, 4, 4))])
def test_residual_rejects_wrong_shapes(problem, shape_a, shape_u):
    with pytest.raises(InputError):
        problem.residual(torch.ones(shape_a), torch.ones(shape_u))


def test_solve_rejects_bad_arrays(problem):
    with pytest.raises(InputError, match="non-finite"):
        problem.solve(np.full((1, 16, 16), np.inf))
    with pytest.raises(InputError, match="shaped"):
        problem.solve(np.ones((2, 16, 12)))
    with pytest.raises(InputError, match="resolution"):
        problem.solve(np.ones((2, 6, 6)))


def test_darcy_solve_rejects_non_positive_coefficient():
    with pytest.raises(InputError, match="positive"):
        pde_bench.get_problem("darcy").solve(np.zeros((1, 16, 16)))


def test_error_message_is_one_line():
    err = InputError("a\n   b\tc")
    assert str(err) == "a b c"
