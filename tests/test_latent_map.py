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
