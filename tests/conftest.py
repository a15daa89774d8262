import pytest
import torch

import pde_bench

PROBLEMS = pde_bench.problem_names()


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


@pytest.fixture(scope="session")
def tiny_models(dataset_dir, tmp_path_factory):
    """Tiny teacher and student files per problem (a few steps each: they test plumbing, not quality).

    ``get(pde)`` -> (teacher.pt, student.pt, data-set folder at 16^2), made once per session.
    """
    from piddm.distill import DistillOptions, distill
    from piddm.distributed import Context
    from piddm.teacher import TeacherOptions, train_teacher
    from piddm.training import TrainConfig

    cache = {}

    def get(pde="darcy"):
        if pde not in cache:
            root = tmp_path_factory.mktemp(f"tiny-{pde}")
            data = dataset_dir(pde)
            train_teacher(TeacherOptions(pde=pde, data=str(data), out=str(root / "teacher"), preset="tiny",
                                         device="cpu", grid_steps=2,
                                         train=TrainConfig(steps=2, batch=8, lr=2e-3, warmup=1, checkpoint_every=2)),
                          Context())
            distill(DistillOptions(pde=pde, teacher=str(root / "teacher" / "teacher.pt"), out=str(root / "student"),
                                   pairs=8, pair_steps=2, lam_warmup=0, device="cpu",
                                   train=TrainConfig(steps=2, batch=4, lr=1e-3, warmup=0, checkpoint_every=2)),
                    Context())
            cache[pde] = (root / "teacher" / "teacher.pt", root / "student" / "student.pt", data)
        return cache[pde]

    return get


@pytest.fixture(scope="session")
def random_inception(tmp_path_factory):
    """A weights file of torch-fidelity's Inception-v3 with random weights (the real file is not downloaded)."""
    from torch_fidelity import feature_extractor_inceptionv3 as tfi

    mp = pytest.MonkeyPatch()
    mp.setattr(tfi.torch, "load", lambda *a, **k: {})
    mp.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path="x")
    finally:
        mp.undo()
    path = tmp_path_factory.mktemp("inception") / "weights-inception-random.pth"
    torch.save(net.state_dict(), path)
    return path
