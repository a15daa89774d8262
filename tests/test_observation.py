"""Observations: spec parsing, per-sample masks, the observation file, one-line errors."""

import h5py
import numpy as np
import pytest

from pde_bench.conventions import InputError
from piddm.solve.observation import (
    Observation,
    ObserveSpec,
    parse_observe,
    read_observation,
    write_observation,
)


def test_specs_parse_fractions_counts_and_all():
    assert parse_observe("a:3%") == ObserveSpec("a", fraction=0.03)
    assert parse_observe("u:500") == ObserveSpec("u", count=500)
    assert parse_observe("a:all") == ObserveSpec("a", fraction=1.0)
    assert parse_observe(" u : 100% ").fraction == 1.0
    assert parse_observe("a:3%").pixels(32) == round(0.03 * 1024)
    assert str(parse_observe("u:500")) == "u:500" and str(parse_observe("a:all")) == "a:all"


@pytest.mark.parametrize("text, fragment", [("a:0%", "(0, 100%]"), ("a:150%", "(0, 100%]"), ("b:3%", "CHANNEL"),
                                            ("a", "CHANNEL"), ("u:0", ">= 1"), ("a:-3%", "(0, 100%]")])
def test_bad_specs_are_one_line_errors(text, fragment):
    with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        parse_observe(text)


def test_a_count_larger_than_the_grid_is_an_error():
    with pytest.raises(InputError, match="more points than the 16x16 grid"):
        parse_observe("u:257").pixels(16)
    assert parse_observe("u:256").pixels(16) == 256


def test_masks_are_drawn_per_sample_and_do_not_depend_on_the_subset(generated):
    a, u = generated("darcy", 16, n=6)
    specs = [parse_observe("a:10%"), parse_observe("u:7")]
    full = Observation.from_specs(specs, a, u, seed=3)
    part = Observation.from_specs(specs, a[2:5], u[2:5], seed=3, start=2)
    np.testing.assert_array_equal(full.mask[2:5], part.mask)
    assert (full.mask[:, 0].sum((1, 2)) == round(0.1 * 256)).all() and (full.mask[:, 1].sum((1, 2)) == 7).all()
    assert not np.array_equal(full.mask[0], full.mask[1])  # a fresh mask per sample
    assert not np.array_equal(full.mask[0, 0], full.mask[0, 1])  # and per channel
    other = Observation.from_specs(specs, a, u, seed=4)
    assert not np.array_equal(full.mask, other.mask)
    np.testing.assert_array_equal(full.values[:, 0][full.mask[:, 0]], a[full.mask[:, 0]])
    assert (full.values[~full.mask] == 0).all()
    assert full.task() == "reconstruction"
    assert Observation.from_specs(specs[:1], a, u).task() == "forward"
    assert Observation.from_specs(specs[1:], a, u).task() == "inverse"
    with pytest.raises(InputError, match="twice"):
        Observation.from_specs([specs[0], specs[0]], a, u)


def test_noisy_observations_have_the_asked_spread(generated):
    a, u = generated("poisson", 16, n=4)
    obs = Observation.from_specs([parse_observe("u:all")], a, u, noise=0.01)
    err = obs.values[:, 1] - u
    assert obs.noise == (0.01, 0.01) and 0.009 < err.std() < 0.011


def test_observation_file_round_trip_and_errors(generated, tmp_path):
    a, u = generated("darcy", 16, n=3)
    obs = Observation.from_specs([parse_observe("u:20")], a, u, seed=1)
    path = tmp_path / "obs.h5"
    write_observation(path, obs, {"a": a, "u": u})
    back, truth = read_observation(path)
    np.testing.assert_array_equal(back.mask, obs.mask)
    np.testing.assert_array_equal(back.values, obs.values)
    np.testing.assert_array_equal(truth["a"], a)
    with h5py.File(path, "r") as f:
        assert set(f) == {"mask_u", "obs_u", "a_true", "u_true"}

    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f["a"] = a
    with pytest.raises(InputError, match="none of the keys mask_a, obs_a, mask_u, obs_u"):
        read_observation(empty)
    lonely = tmp_path / "lonely.h5"
    with h5py.File(lonely, "w") as f:
        f["mask_a"] = np.ones_like(a, dtype=np.uint8)
    with pytest.raises(InputError, match="mask_a is present but obs_a is missing"):
        read_observation(lonely)
    mixed = tmp_path / "mixed.h5"
    with h5py.File(mixed, "w") as f:
        f["mask_a"] = np.ones((3, 16, 16), dtype=np.uint8)
        f["obs_a"] = np.ones((3, 8, 8))
    with pytest.raises(InputError, match=r"obs_a has shape \(3, 8, 8\)"):
        read_observation(mixed)
    flat = tmp_path / "flat.h5"
    with h5py.File(flat, "w") as f:
        f["mask_u"] = np.ones((3, 256), dtype=np.uint8)
        f["obs_u"] = np.ones((3, 256))
    with pytest.raises(InputError, match=r"expected \(n, N, N\)"):
        read_observation(flat)
    with pytest.raises(InputError, match="no such observation file"):
        read_observation(tmp_path / "missing.h5")


def _obs_file(path, **arrays):
    """An observation file holding exactly ``arrays`` (a dict value -> an HDF5 group)."""
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            if isinstance(value, dict):
                group = f.create_group(key)
                for k, v in value.items():
                    group[k] = v
            else:
                f[key] = value
    return path


_M = np.ones((2, 8, 8), dtype=np.uint8)
_V = np.ones((2, 8, 8))


@pytest.mark.parametrize("arrays, fragment", [
    ({"mask_u": np.ones((0, 8, 8), np.uint8), "obs_u": np.ones((0, 8, 8))}, r"mask_u has shape \(0, 8, 8\): no data"),
    ({"mask_u": np.ones((2, 0, 0), np.uint8), "obs_u": np.ones((2, 0, 0))}, "no data"),
    ({"mask_u": _M, "obs_u": np.full((2, 8, 8), b"x")}, r"obs_u has dtype \|S1; expected real numbers"),
    ({"mask_u": _M, "obs_u": np.zeros((2, 8, 8), dtype=[("re", "f8"), ("im", "f8")])}, "obs_u has dtype"),
    ({"mask_u": _M, "obs_u": _V.astype(complex)}, "obs_u holds complex numbers"),
    ({"mask_u": _M, "obs_u": np.where(np.arange(64).reshape(8, 8) == 9, 1e39, _V)},
     r"obs_u has 1e\+39 at sample 0, index \(1, 1\); observed values must be finite with magnitude < 1e\+12"),
    ({"mask_u": _M, "obs_u": np.where(np.arange(64).reshape(8, 8) == 9, np.nan, _V)}, "obs_u has nan at sample 0"),
    ({"mask_u": _M * 2, "obs_u": _V}, r"mask_u has 2 at sample 0, index \(0, 0\); a mask must hold only 0/1"),
    ({"mask_u": np.full((2, 8, 8), 0.5), "obs_u": _V}, "mask_u has 0.5"),
    ({"mask_u": _M, "obs_u": _V, "a_true": np.ones((3, 8, 8))}, r"a_true has shape \(3, 8, 8\), but another"),
    ({"mask_u": np.ones((2, 8, 6), np.uint8), "obs_u": np.ones((2, 8, 6))}, "on a square grid"),
    ({"mask_u": _M, "obs_u": _V, "u_true": np.where(np.eye(8) > 0, np.nan, _V)}, "u_true has nan at sample 0"),
    ({"mask_u": _M, "obs_u": _V, "a_true": np.full((2, 8, 8), np.inf)}, "a_true has inf"),
    ({"mask_u": {"x": _M}, "obs_u": _V}, "mask_u is an HDF5 group, expected a dataset"),
    ({"mask_u": _M, "obs_u": _V, "a_true": {"x": _V}}, "a_true is an HDF5 group"),
])
def test_bad_observation_files_are_one_line_errors(tmp_path, arrays, fragment):
    path = _obs_file(tmp_path / "bad.h5", **arrays)
    with pytest.raises(InputError, match=fragment) as err:
        read_observation(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_unobserved_points_are_never_read_and_valid_variants_load(tmp_path):
    vals = np.full((2, 8, 8), np.nan)
    mask = np.zeros((2, 8, 8), dtype=bool)
    mask[:, 2, 3] = True
    vals[mask] = 0.25
    vals[0, 0, 0] = np.inf  # unobserved: never read
    obs, truth = read_observation(_obs_file(tmp_path / "ok.h5", mask_a=mask, obs_a=vals.astype(np.float32)))
    assert obs.task() == "forward" and truth == {}
    assert (obs.values[:, 0][mask] == 0.25).all() and (obs.values[~obs.mask] == 0).all()
    path = _obs_file(tmp_path / "int.h5", mask_u=mask.astype(np.float16), obs_u=np.ones((2, 8, 8), int))
    obs, _ = read_observation(path)
    assert obs.task() == "inverse" and obs.values.dtype == np.float64


@pytest.mark.parametrize("noise", [-0.1, float("nan"), float("inf"), "x", None])
def test_bad_noise_is_refused_before_reading(tmp_path, noise):
    with pytest.raises(InputError, match="observation noise must be a finite number >= 0"):
        read_observation(tmp_path / "never-read.h5", noise=noise)


def test_truncated_or_foreign_observation_file(generated, tmp_path):
    a, u = generated("darcy", 16, n=3)
    good = tmp_path / "obs.h5"
    write_observation(good, Observation.from_specs([parse_observe("a:all")], a, u), {"a": a, "u": u})
    data = good.read_bytes()
    for size in (len(data) // 2, 600, 8):
        cut = tmp_path / f"cut{size}.h5"
        cut.write_bytes(data[:size])
        with pytest.raises(InputError) as err:
            read_observation(cut)
        assert str(cut) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="not an HDF5 file"):
        read_observation(_write(tmp_path / "text.h5", b"hello"))
    with pytest.raises(InputError, match="not a file"):
        read_observation(tmp_path)


def _write(path, data):
    path.write_bytes(data)
    return path


def test_from_specs_checks_true_fields(generated):
    a, u = generated("poisson", 16, n=2)
    spec = [parse_observe("a:10%")]
    bad = u.copy()
    bad[1, 4, 5] = np.nan
    with pytest.raises(InputError, match=r"true field u has nan at sample 1, index \(4, 5\)"):
        Observation.from_specs(spec, a, bad)
    with pytest.raises(InputError, match="magnitude < 1e\\+12"):
        Observation.from_specs(spec, a * 1e39, u)
    with pytest.raises(InputError, match=r"must both be \(n, N, N\)"):
        Observation.from_specs(spec, a, u[:, :8])
    with pytest.raises(InputError, match=r"must both be \(n, N, N\)"):
        Observation.from_specs(spec, a[:0], u[:0])
    with pytest.raises(InputError, match="complex128; expected real"):
        Observation.from_specs(spec, a.astype(complex), u)
    with pytest.raises(InputError, match="noise must be a finite number >= 0"):
        Observation.from_specs(spec, a, u, noise=float("inf"))


def test_masks_and_observation_noise_do_not_replay_the_data_generators_streams():
    from pde_bench.random_fields import sample_rng
    from piddm.solve.observation import _mask

    spec = parse_observe("a:50%")
    for seed, channel_stream in ((0, 0), (1, 1)):
        mask = _mask(parse_observe("u:50%") if channel_stream else spec, 16, seed, 3)
        replay = np.zeros(256, dtype=bool)
        replay[sample_rng(seed, 3, channel_stream).choice(256, size=128, replace=False)] = True
        assert not np.array_equal(mask.ravel(), replay)
