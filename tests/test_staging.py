"""Staged results of an unfinished comparison: exact round trip, and reuse only under the same key."""

from dataclasses import dataclass

import numpy as np
import pytest

from piddm.compare.staging import Staging
from piddm.solve.observation import Observation
from piddm.solve.result import SolveResult


@dataclass
class _Settings:
    steps: int = 3

    def to_dict(self):
        return {"steps": self.steps}


def _result(rng):
    f = lambda *s: rng.standard_normal(s)  # noqa: E731
    return SolveResult(a=f(2, 4, 4), u=f(2, 4, 4), a_std=f(2, 4, 4), u_std=f(2, 4, 4), a_best=f(2, 4, 4),
                       u_best=f(2, 4, 4), a_members=f(2, 3, 4, 4), u_members=f(2, 3, 4, 4), loss=f(2, 5), nfe=7,
                       grad_evals=3, seconds=1.5,
                       extra={"rhat_u": f(2), "one_off": [("fit", 1.25, "note")], "exact_std": ("a", "u"),
                              "solves": np.int64(4)})


def _obs(rng, flip=False):
    mask = rng.random((2, 2, 4, 4)) < 0.3
    mask[0, 0, 0, 0] = not flip
    return Observation(mask, rng.standard_normal((2, 2, 4, 4)))


def test_a_staged_result_comes_back_exactly_and_only_under_its_key(tmp_path):
    rng = np.random.default_rng(0)
    res, obs = _result(rng), _obs(np.random.default_rng(1))
    files = {"student": tmp_path / "s.pt", "teacher": None}
    (tmp_path / "s.pt").write_bytes(b"x")
    stage = Staging(tmp_path / "out", obs, [0, 1], "cpu", files, "abc123")
    assert stage.save("m", _Settings(), res)
    back, made = stage.load("m", _Settings())
    for k in ("a", "u", "a_std", "u_std", "a_best", "u_best", "a_members", "u_members", "loss"):
        assert np.array_equal(getattr(back, k), getattr(res, k)), k
    assert (back.nfe, back.grad_evals, back.seconds) == (7, 3, 1.5) and made["commit"] == "abc123"
    assert np.array_equal(back.extra["rhat_u"], res.extra["rhat_u"]) and back.extra["solves"] == 4
    assert back.extra["one_off"] == [["fit", 1.25, "note"]] and "u" in back.extra["exact_std"]
    assert stage.load("m", _Settings(steps=4)) is None  # other settings
    assert stage.load("other", _Settings()) is None
    other_obs = Staging(tmp_path / "out", _obs(np.random.default_rng(1), flip=True), [0, 1], "cpu", files, "abc123")
    assert other_obs.load("m", _Settings()) is None  # other masks
    assert Staging(tmp_path / "out", obs, [0, 2], "cpu", files, "abc123").load("m", _Settings()) is None  # other ids
    assert Staging(tmp_path / "out", obs, [0, 1], "cpu", files, "abc123").load("m", _Settings()) is not None  # same
    assert Staging(tmp_path / "out", obs, [0, 1], "cpu", files, "abc124").load("m", _Settings()) is None  # new code
    newer_torch = Staging(tmp_path / "out", obs, [0, 1], "cpu", files, "abc123", {"torch": "9.9"})
    assert newer_torch.load("m", _Settings()) is None  # other library versions
    (tmp_path / "s.pt").write_bytes(b"xy")
    assert Staging(tmp_path / "out", obs, [0, 1], "cpu", files, "abc123").load("m", _Settings()) is None  # new student
    model = tmp_path / "op.pt"
    model.write_bytes(b"1")
    assert stage.save("op", _Settings(), res, [model]) and stage.load("op", _Settings(), [model]) is not None
    model.write_bytes(b"12")
    assert stage.load("op", _Settings(), [model]) is None  # the method's own model file changed
    stage.clear()
    assert not stage.folder.exists()


@pytest.mark.parametrize("commit", ["abc+dirty", "", "None"])
def test_a_modified_tree_or_unknown_code_never_reuses_a_staged_result(tmp_path, commit):
    obs = _obs(np.random.default_rng(1))
    stage = Staging(tmp_path / "out", obs, [0, 1], "cpu", {}, commit)
    assert stage.save("m", _Settings(), _result(np.random.default_rng(0)))
    assert stage.load("m", _Settings()) is None


def test_a_damaged_staged_file_is_solved_again(tmp_path):
    stage = Staging(tmp_path / "out", _obs(np.random.default_rng(1)), [0, 1], "cpu", {}, "abc")
    assert stage.save("m", _Settings(), _result(np.random.default_rng(0)))
    (stage.folder / "m.npz").write_bytes(b"not a zip")
    assert stage.load("m", _Settings()) is None


def test_a_result_whose_extras_cannot_be_written_is_not_staged(tmp_path):
    res = _result(np.random.default_rng(0))
    res.extra["object"] = object()
    stage = Staging(tmp_path / "out", _obs(np.random.default_rng(1)), [0, 1], "cpu", {}, "c")
    assert not stage.save("m", _Settings(), res) and stage.load("m", _Settings()) is None
