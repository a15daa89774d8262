"""Readers for foreign formats, each on a small file written here in exactly that layout."""

import h5py
import numpy as np
import pytest
import scipy.io
import torch

import pde_bench
from pde_bench.conventions import InputError
from pde_bench.inspection import describe_file, residual_floor
from pde_bench.readers import DIFFUSIONPDE_SCALINGS


@pytest.fixture(scope="module")
def darcy16():
    return pde_bench.get_problem("darcy").generate(n=3, resolution=16, seed=0)


def _write_mat_v73(path, variables):
    """MATLAB v7.3 layout: HDF5 with every axis reversed."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in variables.items():
            f[key] = np.asarray(value).T


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_fno_darcy_mat(tmp_path, darcy16, version):
    a, u = darcy16
    path = tmp_path / "piececonst.mat"
    if version == "v5":
        scipy.io.savemat(path, {"coeff": a, "sol": u})
    else:
        _write_mat_v73(path, {"coeff": a, "sol": u})
    data = pde_bench.load(path)
    assert data.format == f"FNO .mat {version}" and data.problem.name == "darcy"
    np.testing.assert_array_equal(data.a, a)
    np.testing.assert_array_equal(data.u, u)
    assert residual_floor(data)["max"] < 1e-10  # our own data: floor at the float64 floor
    sub = pde_bench.load(path, stride=3)
    assert sub.a.shape == (3, 6, 6)


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_fno_navier_stokes_mat(tmp_path, version):
    prob = pde_bench.get_problem("navier-stokes")
    traj = prob.generate_trajectory(n=2, resolution=16, seed=0)
    variables = {"a": traj[..., 0], "u": traj[..., 1:], "t": prob.times[1:][None]}
    path = tmp_path / "ns_V1e-3_N2_T1.mat"
    (scipy.io.savemat if version == "v5" else _write_mat_v73)(path, variables)
    data = pde_bench.load(path)
    assert data.problem.name == "navier-stokes" and data.problem.params["t_final"] == pytest.approx(1.0)
    assert data.trajectory.shape == (2, 16, 16, 10)
    np.testing.assert_array_equal(data.u, traj[..., -1])
    assert residual_floor(data)["max"] < 1e-10
    assert any("nu = 0.001" in note for note in data.notes)
    other = pde_bench.load(path, nu=1e-4)
    assert other.problem.params["nu"] == 1e-4
    del variables["t"]
    (scipy.io.savemat if version == "v5" else _write_mat_v73)(path, variables)
    text = describe_file(path)
    assert "times not stored" in text and "ground-truth normalised residual" in text


@pytest.mark.parametrize("keys, name", [(("thresh_a_data", "thresh_p_data"), "darcy"),
                                        (("f_data", "phi_data"), "poisson"),
                                        (("f_data", "psi_data"), "helmholtz")])
def test_diffusionpde_mat(tmp_path, keys, name):
    a, u = pde_bench.get_problem(name).generate(n=2, resolution=16, seed=0)
    path = tmp_path / f"{name}.mat"
    scipy.io.savemat(path, {keys[0]: a, keys[1]: u})
    data = pde_bench.load(path)
    assert data.problem.name == name and data.format == "DiffusionPDE .mat v5"
    assert residual_floor(data)["max"] < 1e-10


@pytest.mark.parametrize("name", ["darcy", "poisson", "helmholtz"])
def test_diffusionpde_npy_scalings_undone(tmp_path, name):
    a, u = pde_bench.get_problem(name).generate(n=1, resolution=16, seed=0)
    (sa, ha), (su, hu) = DIFFUSIONPDE_SCALINGS[name]["a"], DIFFUSIONPDE_SCALINGS[name]["u"]
    path = tmp_path / "merge_1.npy"
    np.save(path, np.stack([sa * a[0] + ha, su * u[0] + hu], axis=-1))
    data = pde_bench.load(path, problem=name)
    np.testing.assert_allclose(data.a, a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(data.u, u, rtol=1e-10, atol=1e-14)
    assert residual_floor(data)["max"] < 1e-9
    with pytest.raises(InputError, match=r"does not say its problem; give problem = darcy \| poisson \| helmholtz"):
        pde_bench.load(path)


def test_neuraloperator_pt(tmp_path, darcy16):
    a, u = darcy16
    path = tmp_path / "darcy_test_16.pt"
    torch.save({"x": torch.as_tensor(a, dtype=torch.float32), "y": torch.as_tensor(u[:, None])}, path)
    data = pde_bench.load(path)
    assert data.problem.name == "darcy" and data.a.shape == data.u.shape == (3, 16, 16)
    torch.save({"inputs": torch.zeros(2)}, path)
    with pytest.raises(InputError, match="keys 'x' and 'y'.*inputs"):
        pde_bench.load(path)


def _write_pdebench(path, a, u, coords, beta=1.0):
    with h5py.File(path, "w") as f:
        f["nu"] = a
        f["tensor"] = u[:, None]
        f["x-coordinate"] = coords
        f["y-coordinate"] = coords
        f.attrs["beta"] = beta


def test_pdebench_on_nodes_and_cell_centred(tmp_path, darcy16):
    a, u = darcy16
    nodes = tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5"
    _write_pdebench(nodes, a, u, np.linspace(0, 1, 16))
    data = pde_bench.load(nodes)
    assert data.format == "PDEBench HDF5" and data.grid == "nodes" and data.problem.params["forcing"] == 1.0
    assert residual_floor(data)["max"] < 1e-10
    cells = tmp_path / "2D_DarcyFlow_beta10.0_Train.hdf5"
    _write_pdebench(cells, a, 10 * u, (np.arange(16) + 0.5) / 16, beta=10.0)
    data = pde_bench.load(cells)
    assert data.grid == "cell-centred" and data.problem.params["forcing"] == 10.0
    text = describe_file(cells)
    assert "not measured" in text and "cell-centred" in text


def test_foreign_residual_floor_is_reported_not_zero(tmp_path, darcy16):
    """Data from another discretisation (arithmetic face means) has a visible floor."""
    a, _ = darcy16
    from scipy.sparse.linalg import spsolve

    from pde_bench.stencils import flux_matrix

    u = np.zeros_like(a)
    for i, ai in enumerate(a):
        ax, ay = 0.5 * (ai[1:] + ai[:-1]), 0.5 * (ai[:, 1:] + ai[:, :-1])
        u[i, 1:-1, 1:-1] = spsolve(flux_matrix(ax, ay, 1 / 15), -np.ones(14 * 14)).reshape(14, 14)
    path = tmp_path / "other.mat"
    scipy.io.savemat(path, {"coeff": a, "sol": u})
    floor = residual_floor(pde_bench.load(path))
    assert floor["max"] > 1e-3
    assert "computed from this file" in floor["scale_source"]


@pytest.mark.parametrize("content, message", [
    ({"foo": np.zeros((2, 8, 8))}, "no known pair of variables; found \\['foo'\\]"),
    ({"coeff": np.zeros((2, 8, 8)), "sol": np.zeros((2, 8, 9))}, "different shapes"),
    ({"a": np.zeros((2, 8, 8)), "u": np.zeros((2, 8, 8))}, "expected \\(n, N, N, T\\)"),
])
def test_unreadable_mat_is_a_one_line_error(tmp_path, content, message):
    path = tmp_path / "bad.mat"
    scipy.io.savemat(path, content)
    with pytest.raises(InputError, match=message) as err:
        pde_bench.load(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_unknown_files(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(InputError, match="unrecognised data file"):
        pde_bench.load(path)
    h5 = tmp_path / "x.h5"
    with h5py.File(h5, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(InputError, match="unknown layout; found keys \\['data'\\]"):
        pde_bench.load(h5)
    with pytest.raises(InputError, match="no such file"):
        pde_bench.load(tmp_path / "missing.h5")


def _one_line(err, path):
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def _h5(path, arrays, attrs=None, userblock=False):
    with h5py.File(path, "w", **({"userblock_size": 512} if userblock else {})) as f:
        for key, value in arrays.items():
            if value is None:
                f.create_group(key)
            else:
                f[key] = value
        f.attrs.update(attrs or {})
    return path


_A = np.full((2, 8, 8), 3.0)
_U = np.zeros((2, 8, 8))


@pytest.mark.parametrize("arrays, attrs, message", [
    ({"nu": _A, "tensor": _U.astype(complex)[:, None]}, {}, "tensor holds complex numbers"),
    ({"nu": np.full((2, 8, 8), b"ab"), "tensor": _U[:, None]}, {}, "nu has dtype \\|S2; expected real"),
    ({"nu": None, "tensor": _U[:, None]}, {}, "nu is an HDF5 group, expected a dataset"),
    ({"nu": _A[:0], "tensor": _U[:0, None]}, {}, "are empty"),
    ({"nu": _A[0], "tensor": _U[0]}, {}, "nu has shape \\(8, 8\\); expected \\(n, N, N\\)"),
    ({"nu": np.where(np.eye(8) > 0, np.nan, _A), "tensor": _U[:, None]}, {},
     "nu has nan at sample 0, index \\(0, 0\\)"),
    ({"nu": _A, "tensor": _U[:, None], "x-coordinate": np.linspace(0, 1, 5), "y-coordinate": np.linspace(0, 1, 8)},
     {}, "x-coordinate has shape \\(5,\\); expected \\(8,\\)"),
    ({"nu": _A, "tensor": _U[:, None], "x-coordinate": np.full(8, np.inf), "y-coordinate": np.linspace(0, 1, 8)},
     {}, "x-coordinate has inf at index \\(0,\\)"),
    ({"nu": _A, "tensor": _U[:, None]}, {"beta": "ten"}, "attribute beta is 'ten'; expected one finite number"),
    ({"nu": _A, "tensor": _U[:, None]}, {"beta": np.array([], float)}, "attribute beta"),
    ({"nu": _A, "tensor": _U[:, None]}, {"beta": np.nan}, "attribute beta"),
])
def test_malformed_pdebench_files(tmp_path, arrays, attrs, message):
    path = _h5(tmp_path / "2D_DarcyFlow.hdf5", arrays, attrs)
    with pytest.raises(InputError, match=message) as err:
        pde_bench.load(path)
    _one_line(err, path)


@pytest.mark.parametrize("variables, message", [
    ({"coeff": _A.astype(complex), "sol": _U}, "coeff holds complex numbers"),
    ({"coeff": np.array([b"abc"]), "sol": _U}, "coeff has dtype (<U3|\\|S3); expected real"),
    ({"coeff": _A[:0], "sol": _U[:0]}, "are empty"),
    ({"coeff": _A, "sol": np.where(np.eye(8) > 0, np.inf, _U)}, "sol has inf at sample 0"),
    ({"a": _A, "u": np.zeros((2, 8, 8, 3)), "t": np.arange(5.0)}, "t holds 5 times but u has 3 time steps"),
    ({"a": _A, "u": np.zeros((2, 8, 8, 3)), "t": np.array([0.1, np.nan, 0.3])}, "t has nan at index \\(1,\\)"),
    ({"a": _A, "u": np.full((2, 8, 8, 3), np.nan)}, "u has nan at sample 0"),
])
@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_malformed_mat_files(tmp_path, variables, message, version):
    path = tmp_path / "bad.mat"
    if version == "v5":
        scipy.io.savemat(path, variables)
    else:
        _write_mat_v73(path, variables)
    with pytest.raises(InputError, match=message) as err:
        pde_bench.load(path)
    _one_line(err, path)


def test_mat_v73_struct_and_cell_variables(tmp_path):
    path = _h5(tmp_path / "bad.mat", {"coeff": None, "sol": _U.T}, userblock=True)
    with pytest.raises(InputError, match="coeff is an HDF5 group") as err:
        pde_bench.load(path)
    _one_line(err, path)
    path = tmp_path / "cell.mat"
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = _A, _A
    scipy.io.savemat(path, {"coeff": cell, "sol": _U})
    with pytest.raises(InputError, match="coeff has dtype object; expected real") as err:
        pde_bench.load(path)
    _one_line(err, path)


@pytest.mark.parametrize("array, message", [
    (np.zeros((8, 8, 2), dtype=complex), "array holds complex numbers"),
    (np.zeros((8, 8, 2), dtype=[("a", "f4")]), "array has dtype"),
    (np.zeros((0, 8, 8, 2)), "are empty"),
    (np.full((8, 8, 2), np.nan), "has nan at sample 0"),
    (np.full((8, 8, 2), 1e308), "has inf at sample 0"),  # finite, but overflows once the scaling is undone
    (np.zeros((8, 6, 2)), "on a square grid"),
])
def test_malformed_npy_files(tmp_path, array, message):
    path = tmp_path / "merge_1.npy"
    np.save(path, array)
    with pytest.raises(InputError, match=message) as err:
        pde_bench.load(path, problem="darcy")
    _one_line(err, path)


@pytest.mark.parametrize("content, message", [
    ({"x": torch.zeros(2, 8, 8, dtype=torch.complex64), "y": torch.zeros(2, 8, 8)}, "x holds complex numbers"),
    ({"x": "text", "y": torch.zeros(2, 8, 8)}, "x is a str; expected an array"),
    ({"x": torch.zeros(0, 8, 8), "y": torch.zeros(0, 8, 8)}, "are empty"),
    ({"x": torch.full((2, 8, 8), float("nan")), "y": torch.zeros(2, 8, 8)}, "x has nan at sample 0"),
    ({"x": torch.zeros(2, 8, 8), "y": torch.zeros(2, 8, 7)}, "different shapes"),
    ({1: torch.zeros(2)}, "keys 'x' and 'y'.*\\['1'\\]"),
])
def test_malformed_pt_files(tmp_path, content, message):
    path = tmp_path / "darcy.pt"
    torch.save(content, path)
    with pytest.raises(InputError, match=message) as err:
        pde_bench.load(path)
    _one_line(err, path)


@pytest.mark.parametrize("suffix", [".h5", ".mat", ".npy", ".pt"])
def test_truncated_and_garbage_files(tmp_path, darcy16, suffix):
    a, u = darcy16
    path = tmp_path / f"good{suffix}"
    if suffix == ".h5":
        _write_pdebench(path, a, u, np.linspace(0, 1, 16))
    elif suffix == ".mat":
        scipy.io.savemat(path, {"coeff": a, "sol": u})
    elif suffix == ".npy":
        np.save(path, np.stack([a[0], u[0]], axis=-1))
    else:
        torch.save({"x": torch.as_tensor(a), "y": torch.as_tensor(u)}, path)
    data = path.read_bytes()
    options = {"problem": "darcy"} if suffix == ".npy" else {}
    for name, content in [("half", data[: len(data) // 2]), ("head", data[:40]), ("empty", b""),
                          ("garbage", bytes(range(256)) * 4), ("flipped", data[:64] + bytes(256) + data[320:])]:
        bad = tmp_path / f"{name}{suffix}"
        bad.write_bytes(content)
        try:
            pde_bench.load(bad, **options)
        except InputError as err:
            assert str(bad) in str(err) and "\n" not in str(err)


@pytest.mark.parametrize("stride", [0, -1, 1.5, "2", float("nan"), True])
def test_bad_stride(tmp_path, darcy16, stride):
    path = tmp_path / "piececonst.mat"
    scipy.io.savemat(path, {"coeff": darcy16[0], "sol": darcy16[1]})
    with pytest.raises(InputError, match="stride must be a positive integer"):
        pde_bench.load(path, stride=stride)
