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


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory):
    """Small data-set folders on disk (16^2 unless asked), made once per test session."""
    from pde_bench.datasets import generate_dataset

    cache = {}

    def get(name="darcy", resolution=16, n=48):
        key = (name, resolution, n)
        if key not in cache:
            out = tmp_path_factory.mktemp("data") / f"{name}-{resolution}"
            generate_dataset(pde_bench.get_problem(name), out, sizes={"train": n, "val": 16, "test": 16},
                             resolution=resolution, seed=0)
            cache[key] = out
        return cache[key]

    return get
