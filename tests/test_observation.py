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
