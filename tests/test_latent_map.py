"""The latent -> input map of every problem is the generator's own: sample_inputs goes through it."""

import numpy as np
import pytest

from pde_bench.conventions import InputError
from pde_bench.random_fields import standard_normals


@pytest.mark.parametrize("resolution", [16, 32])
def test_sample_inputs_is_the_map_of_standard_normals(problem, resolution):
    shape = problem.normals_shape(resolution)
    xi = standard_normals(shape, 3, seed=4, start=2, stream=1)
    expected = problem.inputs_from_normals(xi)
    assert expected.shape == (3, resolution, resolution) and expected.dtype == np.float64
    np.testing.assert_array_equal(problem.sample_inputs(3, resolution, seed=4, start=2, stream=1), expected)


def test_map_is_per_sample(problem):
    xi = np.random.default_rng(0).standard_normal((3, *problem.normals_shape(16)))
    np.testing.assert_array_equal(problem.inputs_from_normals(xi)[1:2], problem.inputs_from_normals(xi[1:2]))


def test_wrong_latent_shape_is_an_input_error(problem):
    good = problem.normals_shape(16)
    for bad in [(2, 16, 15), (2, 3, 16, 16, 16)[: len(good) + 2], (16,)]:
        with pytest.raises(InputError):
            problem.inputs_from_normals(np.zeros(bad))
    xi = np.zeros((1, *good))
    xi.flat[0] = np.nan
    with pytest.raises(InputError):
        problem.inputs_from_normals(xi)


# Values of test samples 0 and 1 (data seed 0, 32²) written by the generator before the latent map was
# factored out (data/<pde>-32/<pde>-32-test.h5, float32): the refactor must not change any data.
PINNED = {"darcy": (12.0, 12.0, 8643.0),
          "poisson": (0.11531266570091248, 0.09255244582891464, 164.09938765963307),
          "helmholtz": (0.11531266570091248, 0.09255244582891464, 136.4739924451569),
          "navier-stokes": (0.14935320615768433, -0.03866380453109741, 139.89389091951307)}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_generated_inputs_are_the_ones_made_before_the_refactor(name):
    from pde_bench import get_problem
    from pde_bench.datasets import SPLITS

    a = get_problem(name).sample_inputs(2, 32, 0, 0, SPLITS["test"])
    at, at2, total = PINNED[name]
    assert a[0, 10, 20] == pytest.approx(at, abs=1e-6) and a[1, 3, 5] == pytest.approx(at2, abs=1e-6)
    assert np.abs(a[0]).sum() == pytest.approx(total, rel=1e-6)
