"""Property-based fuzzing of every file a user hands us: observation files and data readers.

Property: a call either returns normally, with finite arrays of consistent shapes, or raises
:class:`InputError` whose message is one line naming the file. Any other exception fails.
"""

import math
import uuid
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pde_bench
from pde_bench.conventions import InputError
from pde_bench.readers import DIFFUSIONPDE_SCALINGS
from piddm.solve.observation import MAX_ABS, read_observation

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POOL = [0.0, 1.0, -1.0, 0.5, 3.0, 12.0, 1e13, -1e300, 1e39, math.nan, math.inf, -math.inf]
COUNTS = st.sampled_from([1, 2, 3, 1, 2, 0])  # samples (or time steps); 0 now and then
RESOLUTIONS = st.sampled_from([2, 3, 4, 5, 1, 0])
DTYPES = ["int8", "int64", "uint8", "float16", "float32", "float64", "complex64", "complex128", "bool",
          "bytes", "compound"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _fresh(folder: Path, suffix: str) -> Path:
    return folder / f"{uuid.uuid4().hex[:10]}{suffix}"


@st.composite
def dirty(draw, rate):
    """Whether to spoil one key, given the file's rate of spoiled keys (in tenths)."""
    return draw(st.integers(0, 9)) < rate


DIRT = st.sampled_from([0, 0, 2, 5, 10])  # tenths of the keys of a file that are spoiled


@st.composite
def shapes(draw, good, spoil):
    """``good``, or when spoiled often any shape of rank 0..4 with sizes 0..5."""
    if not spoil or draw(st.booleans()):
        return good
    return tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=4)))


@st.composite
def arrays(draw, shape, spoil, dtypes=DTYPES, clean=(0.5, 1.0, 3.0, 12.0)):
    """An array of ``shape``: clean (float, values from ``clean``) or, when spoiled, a base value
    and a few special values (NaN, inf, huge) cast to a random dtype."""
    size = math.prod(shape)
    if not spoil:
        dtype, pool, specials = draw(st.sampled_from(["float64", "float32"])), list(clean), 0
    else:
        dtype, pool, specials = draw(st.sampled_from(dtypes)), POOL, 3
    flat = np.full(size, draw(st.sampled_from(pool)), dtype=np.float64)
    if size:
        for _ in range(draw(st.integers(0, specials))):
            flat[draw(st.integers(0, size - 1))] = draw(st.sampled_from(pool))
    values = flat.reshape(shape)
    if dtype == "bytes":
        return np.full(shape, b"ab")
    if dtype == "compound":
        return np.zeros(shape, dtype=[("re", "f4"), ("n", "i4")])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype == "bool":
            return np.asarray(values != 0)
        if np.dtype(dtype).kind in "iu":
            info = np.iinfo(dtype)
            values = np.clip(np.nan_to_num(values, posinf=info.max, neginf=info.min), info.min, info.max)
        return np.asarray(values).astype(dtype)


def _assert_one_line(err: InputError, path: Path) -> None:
    message = str(err)
    assert "\n" not in message and message.strip() == message and message
    assert str(path) in message or "noise" in message or "stride" in message, message


def _write_h5(path: Path, content: dict, attrs: dict | None = None, userblock: bool = False) -> None:
    with h5py.File(path, "w", **({"userblock_size": 512} if userblock else {})) as f:
        for key, value in content.items():
            if value is None:
                f.create_group(key)["x"] = np.zeros(3)
            else:
                f[key] = value
        for key, value in (attrs or {}).items():
            f.attrs[key] = value


# -- observation files -------------------------------------------------------------------------
OBS_KEYS = ("mask_a", "obs_a", "mask_u", "obs_u", "a_true", "u_true")


@st.composite
def observation_files(draw):
    n, res = draw(COUNTS), draw(RESOLUTIONS)
    rate = draw(DIRT)
    keys = draw(st.lists(st.sampled_from(OBS_KEYS), unique=True, max_size=6))
    if draw(st.integers(0, 2)) > 0:  # usually a channel observed, so the file is not refused at once
        ch = draw(st.sampled_from("au"))
        keys = list(dict.fromkeys([f"mask_{ch}", f"obs_{ch}", *keys]))
    content = {}
    for key in keys:
        spoil = draw(dirty(rate))
        if spoil and draw(st.integers(0, 9)) == 0:
            content[key] = None  # a group instead of a dataset
            continue
        mask = key.startswith("mask")
        dtypes = ["bool", "uint8", "float64", "int8"] if mask and draw(st.booleans()) else DTYPES
        content[key] = draw(arrays(draw(shapes((n, res, res), spoil)), spoil, dtypes,
                                   clean=(0.0, 1.0) if mask else (0.5, 2.0)))
    spoil_noise = rate and draw(st.integers(0, 3)) == 0
    noise = draw(st.sampled_from([-0.1, -math.inf, math.nan, math.inf] if spoil_noise else [0.0, 0.01]))
    return content, noise


@FUZZ
@given(observation_files())
def test_observation_files_load_or_fail_in_one_line(folder, case):
    content, noise = case
    path = _fresh(folder, ".h5")
    _write_h5(path, content)
    try:
        obs, truth = read_observation(path, noise=noise)
    except InputError as err:
        _assert_one_line(err, path)
        return
    n, _, res, _ = obs.mask.shape
    assert obs.mask.dtype == bool and obs.values.dtype == np.float64
    assert obs.values.shape == obs.mask.shape and n >= 1 and res >= 1
    assert np.isfinite(obs.values).all() and (np.abs(obs.values) < MAX_ABS).all()
    assert obs.noise == (noise, noise) and math.isfinite(noise) and noise >= 0
    for key, value in truth.items():
        assert key in "au" and value.dtype == np.float64 and value.shape == (n, res, res)
        assert np.isfinite(value).all()
    for c, ch in enumerate("au"):
        if f"mask_{ch}" in content:  # what was read is what the file holds, where observed
            observed = obs.mask[:, c]
            assert np.isin(content[f"mask_{ch}"], (0, 1)).all()  # a mask of 0/1 only was accepted
            np.testing.assert_array_equal(observed, content[f"mask_{ch}"].astype(bool))
            np.testing.assert_array_equal(obs.values[:, c][observed],
                                          content[f"obs_{ch}"].astype(np.float64)[observed])


# -- data readers ------------------------------------------------------------------------------
def _check_loaded(data, own: bool = False) -> None:
    a, u = data.a, data.u
    assert isinstance(a, np.ndarray) and isinstance(u, np.ndarray)
    assert a.ndim == 3 and a.shape == u.shape and a.shape[1] == a.shape[2] and a.size > 0
    if own:
        assert a.dtype.kind in "biuf" and u.dtype.kind in "biuf"
    else:
        assert a.dtype == np.float64 and u.dtype == np.float64
    assert np.isfinite(a).all() and np.isfinite(u).all()
    if data.trajectory is not None:
        assert data.trajectory.shape[:3] == a.shape and np.isfinite(data.trajectory).all()
    if data.times is not None:
        assert data.times.ndim == 1 and np.isfinite(data.times).all()


def _load_or_one_line(path: Path, own: bool = False, **options) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # readers may warn; they must not raise anything else
            data = pde_bench.load(path, **options)
    except InputError as err:
        _assert_one_line(err, path)
        return
    _check_loaded(data, own)


@st.composite
def keyed_arrays(draw, keys, good, extra=()):
    """Random subsets of ``keys`` (plus ``extra`` odd keys), each an array of a random shape."""
    chosen = draw(st.lists(st.sampled_from([*keys, *extra]), unique=True, max_size=len(keys) + 1))
    if draw(st.integers(0, 2)) > 0:  # usually the layout's own keys, so deeper paths run
        chosen = list(dict.fromkeys([*keys, *chosen]))
    rate = draw(DIRT)
    content = {}
    for key in chosen:
        spoil = draw(dirty(rate))
        if spoil and draw(st.integers(0, 9)) == 0:
            content[key] = None
        else:
            content[key] = draw(arrays(draw(shapes(good.get(key, (draw(st.integers(0, 5)),)), spoil)), spoil))
    return content


@st.composite
def pdebench_files(draw):
    n, res = draw(COUNTS), draw(RESOLUTIONS)
    good = {"nu": (n, res, res), "tensor": (n, 1, res, res), "x-coordinate": (res,), "y-coordinate": (res,)}
    content = keyed_arrays(good.keys(), good, extra=("other",))
    attrs = draw(st.sampled_from([{}, {"beta": 1.0}, {"beta": 2.0}]) if draw(st.booleans()) else
                 st.sampled_from([{"beta": 0.0}, {"beta": math.nan}, {"beta": "x"}, {"beta": np.zeros(0)},
                                  {"beta": np.ones(3)}]))
    return draw(content), attrs


@FUZZ
@given(pdebench_files(), st.sampled_from([1, 1, 2]))
def test_pdebench_files(folder, case, stride):
    content, attrs = case
    path = _fresh(folder, ".hdf5")
    _write_h5(path, content, attrs)
    _load_or_one_line(path, stride=stride)


MAT_KEYS = ("coeff", "sol", "a", "u", "t", "thresh_a_data", "thresh_p_data", "f_data", "phi_data")


@st.composite
def mat_files(draw):
    n, res, steps = draw(COUNTS), draw(RESOLUTIONS), draw(COUNTS)
    good = {k: (n, res, res) for k in MAT_KEYS}
    good.update({"u": (n, res, res, steps), "t": (1, steps)})
    pairs = [("coeff", "sol"), ("a", "u", "t"), ("thresh_a_data", "thresh_p_data"), ("f_data", "phi_data")]
    keys = draw(st.sampled_from(pairs))
    return draw(keyed_arrays(keys, good, extra=("t", "other")))


@FUZZ
@given(mat_files())
def test_mat_v73_files(folder, content):
    path = _fresh(folder, ".mat")
    _write_h5(path, {k: (v if v is None else np.asarray(v).T) for k, v in content.items()}, userblock=True)
    _load_or_one_line(path)


@FUZZ
@given(mat_files())
def test_mat_v5_files(folder, content):
    path = _fresh(folder, ".mat")
    content = {k: v for k, v in content.items() if v is not None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scipy.io.savemat(path, content)
    except Exception:  # noqa: BLE001 - scipy cannot write this (float16, ...): nothing to read
        return
    _load_or_one_line(path)


@FUZZ
@given(st.data())
def test_npy_files(folder, data):
    n, res = data.draw(COUNTS), data.draw(RESOLUTIONS)
    good = data.draw(st.sampled_from([(res, res, 2), (n, res, res, 2)]))
    spoil = data.draw(st.booleans())
    array = data.draw(arrays(data.draw(shapes(good, spoil)), spoil))
    path = _fresh(folder, ".npy")
    np.save(path, array)
    problem = data.draw(st.sampled_from([*DIFFUSIONPDE_SCALINGS, None, "navier-stokes"]))
    _load_or_one_line(path, problem=problem)


@FUZZ
@given(st.data())
def test_pt_files(folder, data):
    n, res = data.draw(COUNTS), data.draw(RESOLUTIONS)
    keys = data.draw(st.lists(st.sampled_from(["x", "y", "z"]), unique=True, max_size=3))
    if data.draw(st.integers(0, 3)) > 0:
        keys = list(dict.fromkeys(["x", "y", *keys]))
    rate = data.draw(DIRT)
    content = {}
    for key in keys:
        spoil = data.draw(dirty(rate))
        good = data.draw(st.sampled_from([(n, res, res), (n, 1, res, res)]))
        array = data.draw(arrays(data.draw(shapes(good, spoil)), spoil,
                                 [d for d in DTYPES if d not in ("bytes", "compound")]))
        kind = data.draw(st.integers(0, 9)) if spoil else 9
        content[key] = "text" if kind == 0 else [1, 2] if kind == 1 else torch.from_numpy(array.copy())
    path = _fresh(folder, ".pt")
    torch.save(content if data.draw(st.integers(0, 9)) else [1, 2], path)
    _load_or_one_line(path)


@st.composite
def own_files(draw):
    n, res, steps = draw(COUNTS), draw(RESOLUTIONS), draw(COUNTS)
    good = {"a": (n, res, res), "u": (n, res, res), "trajectory": (n, res, res, steps), "t": (steps,)}
    keys = draw(st.sampled_from([("a", "u"), ("a", "u", "trajectory", "t")]))
    content = draw(keyed_arrays(keys, good, extra=("x",)))
    attrs = {"format": "pde_bench/1"}
    problem = draw(st.sampled_from(["darcy", "poisson", "navier-stokes", "darcy", "poisson", "burgers", 5, None]))
    if problem is not None:
        attrs["problem"] = problem
    split = draw(st.sampled_from(["train", "test", "train", None, 3]))
    if split is not None:
        attrs["split"] = split
    if draw(st.integers(0, 3)) == 0:
        attrs["param_forcing"] = draw(st.sampled_from([1.0, math.nan, -2.0, "x"]))
    return content, attrs


@FUZZ
@given(own_files(), st.sampled_from([None, None, "train", "test", "bogus"]))
def test_own_format_files(folder, case, split):
    content, attrs = case
    path = _fresh(folder, ".h5")
    _write_h5(path, content, attrs)
    _load_or_one_line(path, own=True, split=split)


# -- truncated and garbage files ---------------------------------------------------------------
@pytest.fixture(scope="module")
def valid_files(folder):
    """One valid file per reader (darcy 8x8), to be truncated and corrupted."""
    a, u = pde_bench.get_problem("darcy").generate(n=2, resolution=8, seed=0)
    files = {}
    files["pdebench"] = folder / "valid.hdf5"
    _write_h5(files["pdebench"], {"nu": a, "tensor": u[:, None], "x-coordinate": np.linspace(0, 1, 8),
                                  "y-coordinate": np.linspace(0, 1, 8)}, {"beta": 1.0})
    files["mat5"] = folder / "valid5.mat"
    scipy.io.savemat(files["mat5"], {"coeff": a, "sol": u})
    files["mat73"] = folder / "valid73.mat"
    _write_h5(files["mat73"], {"coeff": a.T, "sol": u.T}, userblock=True)
    files["npy"] = folder / "valid.npy"
    np.save(files["npy"], np.stack([a[0], u[0]], axis=-1))
    files["pt"] = folder / "valid.pt"
    torch.save({"x": torch.as_tensor(a), "y": torch.as_tensor(u)}, files["pt"])
    files["own"] = pde_bench.datasets.generate_dataset(
        pde_bench.get_problem("darcy"), folder / "set", sizes={"train": 2}, resolution=8)["train"]
    files["obs"] = folder / "valid-obs.h5"
    _write_h5(files["obs"], {"mask_u": np.ones((2, 8, 8), np.uint8), "obs_u": u, "a_true": a})
    return files


@FUZZ
@given(st.sampled_from(["pdebench", "mat5", "mat73", "npy", "pt", "own", "obs"]), st.floats(0, 1),
       st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=64)), max_size=3))
def test_truncated_and_corrupted_files(valid_files, folder, which, keep, patches):
    data = bytearray(valid_files[which].read_bytes())
    for where, junk in patches:
        at = int(where * len(data))
        data[at:at + len(junk)] = junk
    data = bytes(data[: int(keep * len(data))] if keep < 0.999 else data)
    path = _fresh(folder, valid_files[which].suffix)
    path.write_bytes(data)
    if which == "obs":
        try:
            obs, _ = read_observation(path)
        except InputError as err:
            _assert_one_line(err, path)
        else:
            assert np.isfinite(obs.values).all()
    else:
        _load_or_one_line(path, own=which == "own", **({"problem": "darcy"} if which == "npy" else {}))


@FUZZ
@given(st.binary(max_size=2048), st.sampled_from([".h5", ".hdf5", ".mat", ".npy", ".pt", ".nc", ""]))
def test_garbage_bytes(folder, data, suffix):
    path = _fresh(folder, suffix)
    path.write_bytes(data)
    _load_or_one_line(path, **({"problem": "poisson"} if suffix == ".npy" else {}))
    try:
        read_observation(path)
    except InputError as err:
        _assert_one_line(err, path)

