"""`piddm train-teacher` and `piddm sample` end to end, and their one-line errors."""


import h5py
import pytest
from cli_helpers import one_line_error as _one_line_error
from cli_helpers import run_piddm as _piddm

from pde_bench import InputError
from piddm.models import load_model

pytestmark = pytest.mark.slow  # each test runs the command in a subprocess


@pytest.fixture(scope="module")
def teacher_run(dataset_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher") / "run"
    res = _piddm("train-teacher", "--pde", "darcy", "--data", dataset_dir("darcy"), "-o", out, "--preset", "tiny",
                 "--steps", "3", "--batch", "8", "--checkpoint-every", "3", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert "teacher.pt" in res.stdout
    return out


def test_sample_writes_a_data_file_that_inspect_reads(teacher_run, tmp_path):
    out = tmp_path / "samples"
    res = _piddm("sample", "--ckpt", teacher_run, "--n", "5", "--steps", "3", "-o", out, "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert "5 network calls" in res.stdout
    with h5py.File(out / "samples.h5") as f:
        assert f["a"].shape == (5, 16, 16) and f["u"].shape == (5, 16, 16)
        assert set(f["a"][...].ravel().tolist()) <= {3.0, 12.0}  # Darcy a thresholded
        assert f.attrs["nfe"] == 5
    assert (out / "samples.png").stat().st_size > 1000
    res = _piddm("data", "inspect", out)
    assert res.returncode == 0, res.stderr
    assert "normalised residual" in res.stdout and "samples" in res.stdout
    again = _piddm("sample", "--ckpt", teacher_run, "--n", "2", "--steps", "2", "-o", out)
    _one_line_error(again, "exists", "--overwrite")


def test_sampling_is_reproducible_sample_by_sample(teacher_run):
    from piddm.teacher import sample_teacher

    teacher = load_model(teacher_run, "teacher")
    a1, u1, _ = sample_teacher(teacher, 4, steps=3, seed=7, batch=4)
    a2, u2, _ = sample_teacher(teacher, 4, steps=3, seed=7, batch=3)
    assert abs(u1 - u2).max() < 1e-6 and abs(a1 - a2).max() < 1e-5


def test_model_file_checks(teacher_run):
    with pytest.raises(InputError, match="problem 'darcy', but 'poisson'"):
        load_model(teacher_run, "teacher", problem="poisson")
    with pytest.raises(InputError, match="cannot run at 32"):
        load_model(teacher_run, "teacher", resolution=32)
    with pytest.raises(InputError, match="no student file"):
        load_model(teacher_run, "student")


def test_bad_inputs_are_one_line_errors(dataset_dir, teacher_run, tmp_path):
    data = dataset_dir("darcy")
    _one_line_error(_piddm("train-teacher", "--pde", "poisson", "--data", data, "-o", tmp_path / "r"),
                    "data of problem 'darcy'", "problem 'poisson' was asked for")
    _one_line_error(_piddm("train-teacher", "--pde", "darcy", "--data", tmp_path / "nope", "-o", tmp_path / "r"),
                    "no such file")
    _one_line_error(_piddm("train-teacher", "--pde", "darcy", "--data", data, "-o", tmp_path / "r",
                           "--preset", "huge"), "unknown unet preset")
    _one_line_error(_piddm("train-teacher", "--pde", "darcy", "--data", data, "-o", teacher_run),
                    "exists")
    _one_line_error(_piddm("sample", "--ckpt", tmp_path, "-o", tmp_path / "s"), "no teacher file")
    _one_line_error(_piddm("sample", "--ckpt", teacher_run, "--resolution", "32", "-o", tmp_path / "s"),
                    "cannot run at 32")
    bogus = tmp_path / "bogus.pt"
    bogus.write_text("not a checkpoint")
    _one_line_error(_piddm("sample", "--ckpt", bogus, "-o", tmp_path / "s"), "not a readable model file")
    assert not (tmp_path / "s").exists() and not (tmp_path / "r").exists()


def test_data_without_statistics_is_refused(dataset_dir, tmp_path):
    import shutil

    data = tmp_path / "nostats"
    shutil.copytree(dataset_dir("darcy"), data)
    for f in data.iterdir():
        f.rename(data / f.name.replace("darcy-16", "nostats"))
    with h5py.File(data / "nostats-train.h5", "a") as f:
        del f.attrs["norm_mean_a"]
    _one_line_error(_piddm("train-teacher", "--pde", "darcy", "--data", data, "-o", tmp_path / "r"),
                    "no normalisation statistics")


def test_an_fno_teacher_samples_at_a_finer_grid(dataset_dir, tmp_path):
    run = tmp_path / "fno"
    res = _piddm("train-teacher", "--pde", "darcy", "--data", dataset_dir("darcy"), "-o", run, "--backbone", "fno",
                 "--preset", "tiny", "--steps", "2", "--batch", "8", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    res = _piddm("sample", "--ckpt", run, "--n", "3", "--steps", "2", "--resolution", "32", "-o", tmp_path / "s")
    assert res.returncode == 0, res.stderr
    with h5py.File(tmp_path / "s" / "samples.h5") as f:
        assert f["u"].shape == (3, 32, 32) and f.attrs["resolution"] == 32
