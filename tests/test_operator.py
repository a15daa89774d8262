"""The supervised neural-operator baseline: training learns, resumes exactly and writes a loadable file; the
solve method answers with the observed values imposed, and refuses a model that does not fit the question."""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest
import torch

from pde_bench import get_problem
from pde_bench.conventions import InputError
from pde_bench.loading import load
from pde_bench.torch_data import FieldDataset
from piddm.distributed import Context
from piddm.operator import DEFAULT_FRACTIONS, draw_masks, load_operator, mask_generator, operator_inputs
from piddm.operator_training import OperatorOptions, parse_fractions, run_operator, train_operator, training_config
from piddm.physics import PhysicsLoss
from piddm.solve import METHODS, SolveContext
from piddm.solve.observation import Observation, parse_observe
from piddm.solve.operator import OperatorSettings

TINY = {"modes": 4, "width": 16, "layers": 2}
FRACTIONS = (0.1, 1.0)  # with all of a seen now and then, a few steps learn something measurable


def _options(data, out, *, task="forward", steps=60, checkpoint_every=20, fractions=FRACTIONS, **train):
    return OperatorOptions(pde=get_problem(data.name.rsplit("-", 1)[0]).name, task=task, data=str(data), out=str(out),
                           fractions=list(fractions), device="cpu", val_samples=8, net=dict(TINY),
                           train=training_config(steps=steps, minutes=None, batch=8, lr=1e-2, warmup=0,
                                                 checkpoint_every=checkpoint_every, **{"log_every": 5, **train}))


@pytest.fixture(scope="module")
def trained(dataset_dir, tmp_path_factory):
    """A tiny forward operator on 16^2 Poisson data (60 steps), its data folder and the training result."""
    data = dataset_dir("poisson")
    out = tmp_path_factory.mktemp("operator") / "poisson-operator-forward"
    result = train_operator(_options(data, out), Context())
    return out, data, result


def _losses(run):
    with open(run / "loss.csv", newline="") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def _context(problem, data):
    """What a comparison gives: the physics with the training split's normaliser (as the student's file holds it)."""
    norm = FieldDataset(data, "train").normaliser
    return SolveContext(physics=PhysicsLoss(problem, norm, scale=1.0, u_rms=1.0))


def _observation(data, *specs, n=5):
    test = load(data, "test")
    return Observation.from_specs([parse_observe(s) for s in specs], np.asarray(test.a[:n]), np.asarray(test.u[:n]),
                                  seed=0)


def test_training_lowers_the_loss_and_writes_a_loadable_file(trained):
    out, data, result = trained
    losses = _losses(out)
    assert result.step == 60 and len(losses) == 12
    assert np.mean(losses[-2:]) < 0.7 * losses[0], losses
    val = [h["val_mse"] for h in result.history]  # fixed validation masks, at steps 20, 40, 60
    assert len(val) == 3 and val[-1] < 0.8 * val[0], val
    op = load_operator(out)  # a run folder means its operator.pt
    info = op.info
    assert (info.problem, info.task, info.resolution, info.fractions) == ("poisson", "forward", 16, [0.1, 1.0])
    assert info.training["step"] == 60 and info.training["n_train"] == 48 and info.training["elapsed_s"] >= 0
    assert set(info.normaliser) == {"mean_a", "std_a", "mean_u", "std_u"} and info.provenance["git_commit"] is not None
    assert info.network["modes"] == 4 and not any(p.requires_grad for p in op.net.parameters())
    with open(out / "val.csv", newline="") as f:
        assert float(list(csv.DictReader(f))[-1]["val_mse"]) > 0
    with pytest.raises(InputError, match="is a teacher file"):
        torch.save({**torch.load(out / "operator.pt", weights_only=False), "kind": "teacher"}, out / "bad.pt")
        load_operator(out / "bad.pt")


def test_training_masks_observe_the_tasks_channels_at_the_asked_fractions():
    g = mask_generator(0, 0, 3, 0)
    mask = draw_masks(64, 10, "reconstruction", [0.1, 0.3], g)
    counts = mask.sum((2, 3))
    assert set(counts[:, 0].tolist()) <= {10, 30} and torch.equal(counts[:, 0], counts[:, 1])
    assert not torch.equal(mask[:, 0], mask[:, 1])  # the channels' pixels are drawn apart
    assert draw_masks(4, 10, "forward", [0.001], mask_generator(0, 0, 3, 0))[:, 1].sum() == 0
    assert draw_masks(4, 10, "forward", [0.001], mask_generator(0, 0, 3, 0))[:, 0].sum((1, 2)).tolist() == [1] * 4
    assert torch.equal(mask, draw_masks(64, 10, "reconstruction", [0.1, 0.3], mask_generator(0, 0, 3, 0)))
    assert not torch.equal(mask, draw_masks(64, 10, "reconstruction", [0.1, 0.3], mask_generator(0, 0, 4, 0)))
    z = torch.randn(2, 2, 3, 3)
    x = operator_inputs(z, torch.zeros_like(z, dtype=torch.bool) | (torch.arange(3) == 1))
    assert x.shape == (2, 4, 3, 3) and torch.equal(x[:, 0, :, 1], z[:, 0, :, 1]) and (x[:, 0, :, 0] == 0).all()
    assert torch.equal(x[:, 1], (torch.arange(3) == 1).float().expand(2, 3, 3))


def test_resume_continues_from_the_checkpoint_as_if_never_stopped(dataset_dir, tmp_path):
    data = dataset_dir("poisson")
    train_operator(_options(data, tmp_path / "straight", steps=6, checkpoint_every=3, log_every=1), Context())
    train_operator(_options(data, tmp_path / "stopped", steps=3, checkpoint_every=3, log_every=1), Context())
    resumed = run_operator(_options(data, tmp_path / "stopped", steps=6, checkpoint_every=3, log_every=1),
                           resume=True)
    assert resumed.step == 6
    a, b = (torch.load(tmp_path / r / "operator.pt", weights_only=False) for r in ("straight", "stopped"))
    assert b["training"]["step"] == 6
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), k
    assert _losses(tmp_path / "straight") == _losses(tmp_path / "stopped")
    with pytest.raises(InputError, match="inverse"):
        run_operator(_options(data, tmp_path / "stopped", task="inverse", steps=8), resume=True)


def test_the_solve_method_answers_with_the_observed_values_imposed(trained):
    out, data, _ = trained
    problem = get_problem("poisson")
    obs = _observation(data, "a:10%")
    method = METHODS["operator"]
    assert method.role == "baseline" and not method.needs_train and method.label == "FNO (supervised)"
    settings = method.make_settings("poisson", "forward", {"model": str(out / "operator.pt"), "batch": 2})
    res = method.solve(_context(problem, data), obs, settings)
    assert res.a.shape == res.u.shape == (5, 16, 16) and res.members == 1 and res.nfe == 1
    assert np.all(np.isfinite(res.u)) and np.all(res.u_std == 0)
    m = obs.mask[:, 0]
    np.testing.assert_array_equal(res.a[m], obs.values[:, 0][m])
    (item, seconds, note), = res.extra["one_off"]
    assert item == "operator training" and seconds >= 0 and note == "60 steps on 48 training samples"
    # a sample's answer does not depend on its batch-mates
    alone = method.solve(_context(problem, data), obs.subset(slice(3, 4)), settings)
    np.testing.assert_allclose(alone.u[0], res.u[3], rtol=1e-5, atol=1e-6)
    assert settings.to_dict() == {"model": str(out / "operator.pt"), "batch": 2}


def test_the_solve_method_refuses_a_model_that_does_not_fit(trained, dataset_dir, tmp_path, monkeypatch):
    out, data, _ = trained
    method = METHODS["operator"]
    settings = OperatorSettings(model=str(out))
    ctx = _context(get_problem("poisson"), data)
    with pytest.raises(InputError, match="trained for the forward task, the observations pose the inverse task"):
        method.solve(ctx, _observation(data, "u:10%"), settings)
    with pytest.raises(InputError, match="operator of poisson"):
        method.solve(_context(get_problem("darcy"), dataset_dir("darcy")), _observation(dataset_dir("darcy"), "a:10%"),
                     settings)
    with pytest.raises(InputError, match="train both on the same training split"):
        method.solve(_context(get_problem("poisson"), dataset_dir("poisson", n=32)), _observation(data, "a:10%"),
                     settings)
    with pytest.raises(InputError, match="train one whose fractions cover it"):
        method.solve(ctx, _observation(data, "a:1%"), settings)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"no operator model at runs/poisson-operator-forward/operator.pt: train one "
                                         r"with `piddm train-operator --pde poisson --task forward`"):
        method.solve(ctx, _observation(data, "a:10%"), OperatorSettings())
    with pytest.raises(InputError, match="observe nothing"):
        method.solve(ctx, Observation(np.zeros((1, 2, 16, 16), bool), np.zeros((1, 2, 16, 16))), settings)
    with pytest.raises(InputError, match="batch"):
        method.make_settings("poisson", "forward", {"batch": 0})


def test_options_are_checked(dataset_dir, tmp_path):
    assert parse_fractions("1, 3,10,30") == [0.01, 0.03, 0.1, 0.3] and parse_fractions(None) == list(DEFAULT_FRACTIONS)
    for bad in ("0", "1,x", "101", ""):
        with pytest.raises(InputError, match="fractions"):
            parse_fractions(bad)
    with pytest.raises(InputError, match="task"):
        train_operator(_options(dataset_dir("poisson"), tmp_path / "x", task="sideways"), Context())
    with pytest.raises(InputError, match="'darcy'"):
        opts = _options(dataset_dir("darcy"), tmp_path / "y")
        opts.pde = "poisson"
        train_operator(opts, Context())
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def _piddm(monkeypatch, capsys, *args):
    from cli import main

    monkeypatch.setattr(sys, "argv", ["piddm", *map(str, args)])
    try:
        main.run()
        code = 0
    except SystemExit as stop:
        code = stop.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_command(dataset_dir, tmp_path, monkeypatch, capsys):
    code, out, _ = _piddm(monkeypatch, capsys, "train-operator", "--help")
    assert code == 0 and "--fractions" in out and "--resume" in out and "--minutes" in out
    data, run = dataset_dir("poisson"), tmp_path / "run"
    code, out, err = _piddm(monkeypatch, capsys, "train-operator", "--pde", "poisson", "--task", "inverse",
                            "--data", data, "-o", run, "--steps", "2", "--batch", "4", "--fractions", "5,20",
                            "--device", "cpu")
    assert code == 0, err
    assert f"operator  {run / 'operator.pt'}  (step 2" in out
    info = load_operator(run).info
    assert info.task == "inverse" and info.fractions == [0.05, 0.2] and info.training["minutes"] == 45.0
    code, _, err = _piddm(monkeypatch, capsys, "train-operator", "--pde", "poisson", "--task", "inverse",
                          "--data", data, "-o", run, "--steps", "2")
    assert code == 2 and "already exists" in err and "--overwrite" in err
    code, _, err = _piddm(monkeypatch, capsys, "train-operator", "--pde", "poisson", "--task", "sideways",
                          "--data", data, "-o", tmp_path / "other")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "task" in err


def test_a_comparison_lists_the_training_as_a_one_off_cost(tiny_models, dataset_dir, tmp_path):
    from piddm.compare.solve import SolveOptions, run

    _, student, data = tiny_models("darcy")
    op = tmp_path / "op"
    train_operator(_options(data, op, steps=2, checkpoint_every=2), Context())
    comparison, out = run(SolveOptions(pde="darcy", observe=["a:10%"], test="0:3", student=str(student),
                                       data=str(data), out=str(tmp_path / "cmp"), methods=["operator"],
                                       settings={"operator": {"model": str(op)}}, max_panels=0, device="cpu"))
    assert [r.method for r in comparison.rows] == ["operator"]
    assert "operator training" in (out / "report.md").read_text()
