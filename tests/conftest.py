import pytest

import pde_bench

PROBLEMS = ["darcy", "poisson", "helmholtz", "navier-stokes"]


@pytest.fixture(params=PROBLEMS)
def problem(request):
    return pde_bench.get_problem(request.param)


@pytest.fixture(scope="session")
def generated():
    """Small generated data sets per (problem, resolution, n, seed), shared by tests."""
    cache = {}

    def get(name, resolution, n=4, seed=0):
        key = (name, resolution, n, seed)
        if key not in cache:
            cache[key] = pde_bench.get_problem(name).generate(n=n, resolution=resolution, seed=seed)
        return cache[key]

    return get
