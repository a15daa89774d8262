"""Data sets on disk: splits, format, statistics, shards/workers/merge, torch dataset, CLI."""


import h5py
import numpy as np
import pytest
import torch
import xarray as xr
from cli_helpers import run_piddm as _piddm

import pde_bench
from pde_bench.conventions import InputError
from pde_bench.datasets import generate_dataset, merge_shards, split_files
from pde_bench.loading import load
from pde_bench.torch_data import FieldDataset

SIZES = {"train": 40, "val": 8, "test": 6}


@pytest.fixture(scope="module")
def darcy_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "darcy-16"
    generate_dataset(pde_bench.get_problem("darcy"), out, sizes=SIZES, resolution=16, seed=3)
    return out


def test_split_files_and_xarray_labels(darcy_set):
    files = split_files(darcy_set)
    assert list(files) == ["train", "val", "test"]
    assert files["train"].name == "darcy-16-train.h5"
    ds = xr.open_dataset(files["train"], engine="h5netcdf")
    assert ds["a"].dims == ("sample", "x", "y") and ds["a"].dtype == np.float32
    np.testing.assert_allclose(ds["x"].values, np.linspace(0, 1, 16))
    assert ds.attrs["problem"] == "darcy" and ds.attrs["split"] == "train"
    assert ds.attrs["format"] == "pde_bench/1" and "git_commit" in ds.attrs["provenance"]


def test_splits_are_disjoint_streams_matching_the_problem(darcy_set):
    prob = pde_bench.get_problem("darcy")
    train, test = load(darcy_set, "train"), load(darcy_set, "test")
    a_train, _ = prob.generate(n=SIZES["train"], resolution=16, seed=3, stream=0)
    a_test, _ = prob.generate(n=SIZES["test"], resolution=16, seed=3, stream=2)
    np.testing.assert_array_equal(train.a, a_train.astype(np.float32))
    np.testing.assert_array_equal(test.a, a_test.astype(np.float32))
    assert not any(np.array_equal(t, s) for t in test.a for s in train.a)


def test_statistics_from_train_in_every_split(darcy_set):
    train = load(darcy_set, "train")
    for split in ("train", "val", "test"):
        attrs = load(darcy_set, split).attrs
        assert attrs["norm_mean_a"] == pytest.approx(train.a.astype(np.float64).mean())
        assert attrs["norm_std_u"] == pytest.approx(train.u.astype(np.float64).std())
        assert attrs["residual_scale"] == 1.0 and attrs["sigma_data"] == 0.5


def test_torch_dataset_normalises_and_inverts(darcy_set):
    ds = FieldDataset(darcy_set, "train")
    x = torch.stack([ds[i] for i in range(len(ds))])
    assert x.shape == (SIZES["train"], 2, 16, 16) and x.dtype == torch.float32
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-5
    torch.testing.assert_close(x.std(dim=(0, 2, 3), unbiased=False), torch.full((2,), 0.5), rtol=1e-4, atol=0)
    assert len(torch.unique(x[:, 0])) == 2  # Darcy a keeps its two levels
    a, u = ds.normaliser.to_physical(x)
    data = load(darcy_set)
    np.testing.assert_allclose(a.numpy(), data.a, rtol=1e-6)
    np.testing.assert_allclose(u.numpy(), data.u, rtol=1e-5, atol=1e-9)
    val = FieldDataset(darcy_set, "val")
    assert val.normaliser == ds.normaliser


@pytest.mark.parametrize("name", ["poisson", "navier-stokes"])
def test_workers_and_shards_merge_to_serial_arrays(tmp_path, name):
    prob = pde_bench.get_problem(name)
    sizes = {"train": 70, "val": 5, "test": 3}
    serial = generate_dataset(prob, tmp_path / "serial" / "ds", sizes=sizes, resolution=16, seed=1)
    generate_dataset(prob, tmp_path / "s0", sizes=sizes, resolution=16, seed=1, shard=(0, 3))
    generate_dataset(prob, tmp_path / "s1", sizes=sizes, resolution=16, seed=1, shard=(1, 3), workers=2)
    generate_dataset(prob, tmp_path / "s2", sizes=sizes, resolution=16, seed=1, shard=(2, 3))
    merged = merge_shards([tmp_path / "s2", tmp_path / "s0", tmp_path / "s1"], tmp_path / "merged" / "ds")
    for split, path in serial.items():
        with h5py.File(path) as f, h5py.File(merged[split]) as g:
            assert sorted(f) == sorted(g)
            for key in f:
                np.testing.assert_array_equal(f[key][...], g[key][...], err_msg=f"{split}/{key}")
            for key, value in f.attrs.items():
                if key != "provenance":
                    np.testing.assert_array_equal(value, g.attrs[key], err_msg=key)


def test_merge_rejects_incomplete_or_mixed_shards(tmp_path):
    prob = pde_bench.get_problem("poisson")
    generate_dataset(prob, tmp_path / "s0", sizes=SIZES, resolution=16, seed=1, shard=(0, 2))
    generate_dataset(prob, tmp_path / "other", sizes=SIZES, resolution=16, seed=2, shard=(1, 2))
    with pytest.raises(InputError, match="shards must be 0..1"):
        merge_shards([tmp_path / "s0"], tmp_path / "m")
    with pytest.raises(InputError, match="other settings"):
        merge_shards([tmp_path / "s0", tmp_path / "other"], tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_shard_without_statistics_is_refused_by_torch_dataset(tmp_path):
    prob = pde_bench.get_problem("poisson")
    generate_dataset(prob, tmp_path / "s0", sizes=SIZES, resolution=16, seed=1, shard=(0, 2))
    with pytest.raises(InputError, match="no normalisation statistics"):
        FieldDataset(tmp_path / "s0")


@pytest.mark.parametrize("text", ["1", "2/2", "a/b", "-1/3", "0/0"])
def test_parse_shard_rejects(text):
    from cli.data import parse_shard

    with pytest.raises(InputError, match="--shard"):
        parse_shard(text)


@pytest.mark.parametrize("shard", [(2, 2), (-1, 3), (0, 0)])
def test_generate_rejects_a_bad_shard(tmp_path, shard):
    with pytest.raises(InputError, match="shard"):
        generate_dataset(pde_bench.get_problem("poisson"), tmp_path / "x", sizes={"train": 2, "val": 1, "test": 1},
                         resolution=8, shard=shard)


def test_navier_stokes_file_has_trajectory(tmp_path):
    prob = pde_bench.get_problem("navier-stokes")
    files = generate_dataset(prob, tmp_path / "ns", sizes={"train": 4, "val": 2, "test": 2}, resolution=16)
    ds = xr.open_dataset(files["train"], engine="h5netcdf")
    assert ds["trajectory"].dims == ("sample", "x", "y", "t") and ds["t"].values[-1] == pytest.approx(1.0)
    data = load(files["train"])
    np.testing.assert_array_equal(data.trajectory[..., 0], data.a)
    np.testing.assert_array_equal(data.trajectory[..., -1], data.u)


@pytest.mark.slow
def test_cli_generate_inspect_and_refuse_overwrite(tmp_path):
    args = ["data", "generate", "--pde", "helmholtz", "--n", "20", "--n-val", "4", "--n-test", "4",
            "--resolution", "16", "-o", str(tmp_path / "hh")]
    res = _piddm(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "hh-train.h5" in res.stdout
    res = _piddm("data", "inspect", str(tmp_path / "hh"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("format      pde_bench/1") == 3
    floor = float(res.stdout.split("max ")[-1].split(" ")[0])
    assert floor < 1e-4
    before = (tmp_path / "hh" / "hh-train.h5").read_bytes()
    res = _piddm(*args, cwd=tmp_path)
    assert res.returncode == 2 and "already exists" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert (tmp_path / "hh" / "hh-train.h5").read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["data", "generate", "--pde", "burgers"], "unknown problem"),
    (["data", "generate", "--pde", "darcy", "--resolution", "4"], "resolution"),
    (["data", "generate", "--pde", "darcy", "--param", "nu"], "--param"),
    (["data", "inspect", "missing.h5"], "no such file"),
])
def test_cli_bad_input_one_line_exit_2(tmp_path, args, message):
    res = _piddm(*args, cwd=tmp_path)
    assert res.returncode == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_file_is_checked_against_the_split_asked_for(darcy_set, tmp_path):
    from pde_bench.loading import resolve_split

    files = split_files(darcy_set)
    with pytest.raises(InputError, match="holds the 'train' split, not the 'test' split") as err:
        load(files["train"], "test")
    assert str(files["train"]) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="holds the 'val' split, not the 'train' split"):
        FieldDataset(files["val"], "train")
    with pytest.raises(InputError, match="holds the 'test' split"):
        resolve_split(files["test"], "val")
    assert load(files["test"], "test").attrs["split"] == "test"
    assert load(files["test"]).attrs["split"] == "test"  # no split asked: the file as it is
    assert load(darcy_set).attrs["split"] == "train"  # a folder: train unless asked
    with pytest.raises(InputError, match="unknown split 'tset'"):
        load(files["test"], "tset")
    # foreign files record no split: taken for any split, as before, with a note saying so
    foreign = tmp_path / "piececonst.mat"
    import scipy.io

    data = load(files["train"])
    scipy.io.savemat(foreign, {"coeff": data.a.astype(np.float64), "sol": data.u.astype(np.float64)})
    assert len(load(foreign, "test")) == SIZES["train"]
    assert any("records no split" in note for note in load(foreign, "test").notes)
    assert not any("split" in note for note in load(foreign).notes)
