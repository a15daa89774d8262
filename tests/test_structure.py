"""The layout's promises: dependencies point one way, no import cycle, thin CLI commands, and a new
solve method is one module plus one registry line."""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pde_bench", "piddm", "cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def _files(package: str):
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package,forbidden", [("pde_bench", ("piddm", "cli")), ("piddm", ("cli",))])
def test_dependencies_point_one_way(package, forbidden):
    for path in _files(package):
        for mod in _imports(path, top_level_only=False):
            assert mod.split(".")[0] not in forbidden, f"{path.relative_to(ROOT)} imports {mod}"


def test_no_import_cycle_among_module_level_imports():
    modules = {_module_name(p): p for pkg in PACKAGES for p in _files(pkg)}
    graph = {m: {i for i in _imports(p, top_level_only=True) if i in modules and i != m} for m, p in modules.items()}
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for n in graph[m]:
            if state.get(n) == "open":
                raise AssertionError("import cycle: " + " -> ".join([*stack, m, n]))
            if n not in state:
                visit(n, [*stack, m])
        state[m] = "done"

    for m in graph:
        if m not in state:
            visit(m, [])


def test_no_cli_function_is_longer_than_its_options_plus_30_lines():
    for path in _files("cli"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                first = node.body[0].lineno
                body = node.end_lineno - first + 1
                if isinstance(node.body[0], ast.Expr) and isinstance(getattr(node.body[0], "value", None),
                                                                      ast.Constant):
                    body -= node.body[0].end_lineno - node.body[0].lineno + 1  # the docstring
                assert body <= 30, f"{path.name}:{node.name} has {body} lines besides its options"


def test_a_new_solve_method_is_one_module_and_one_registry_line(tiny_models, tmp_path, monkeypatch):
    import toy_method

    from piddm.compare.solve import SolveOptions, run
    from piddm.solve import METHODS

    monkeypatch.setitem(METHODS, toy_method.METHOD.name, toy_method.METHOD)  # the one registry line
    _, student, data = tiny_models("darcy")
    comparison, out = run(SolveOptions(pde="darcy", observe=["u:10%"], test="0:3", student=str(student),
                                       data=str(data), out=str(tmp_path / "run"), methods=["piddm", "toy"],
                                       settings={"piddm": {"starts": 2, "iters": 2, "polish": 0}, "toy": {"shrink": 0.5}},
                                       max_panels=1, device="cpu"))
    assert [r.method for r in comparison.rows] == ["piddm", "toy"]
    row = comparison.row("toy")
    assert row.label == "observed mean" and row.metrics["err_u"] > 0 and row.metrics["amplitude_u"] >= 0
    assert (out / "toy.nc").exists() and (out / "panels" / "toy" / "sample_00000.png").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["options"]["resolved_settings"]["toy"] == {"shrink": 0.5, "fail_first": False}
    assert any(v["baseline"] == "toy" for v in metrics["verdicts"])  # compared with paired intervals
    assert "| observed mean |" in (out / "report.md").read_text()


def test_unknown_settings_fields_are_refused_before_any_work(tiny_models, tmp_path):
    from pde_bench.conventions import InputError
    from piddm.compare.solve import SolveOptions, run

    _, student, data = tiny_models("darcy")
    with pytest.raises(InputError, match="unknown field"):
        run(SolveOptions(pde="darcy", observe=["u:10%"], test="0:2", student=str(student), data=str(data),
                         out=str(tmp_path / "x"), settings={"piddm": {"stars": 2}}, device="cpu"))
    assert not (tmp_path / "x").exists()


def test_a_failed_sample_counts_against_its_method(tiny_models, tmp_path, monkeypatch):
    import math

    import toy_method

    from piddm.compare.solve import SolveOptions, run
    from piddm.solve import METHODS

    monkeypatch.setitem(METHODS, toy_method.METHOD.name, toy_method.METHOD)
    _, student, data = tiny_models("darcy")
    comparison, _ = run(SolveOptions(pde="darcy", observe=["u:10%"], test="0:3", student=str(student), data=str(data),
                                     out=str(tmp_path / "run"), methods=["toy"], settings={"toy": {"fail_first": True}},
                                     max_panels=0, device="cpu"))
    row = comparison.row("toy")
    assert row.cost["failed"] == 1 and math.isinf(row.metrics["err_a"]) and math.isinf(row.metrics["residual"])


def test_the_baseline_gets_the_learned_methods_time_whatever_the_order(tiny_models, tmp_path):
    import json

    from piddm.compare.solve import SolveOptions, run

    _, student, data = tiny_models("darcy")
    comparison, out = run(SolveOptions(pde="darcy", observe=["u:10%"], test="0:2", student=str(student),
                                       data=str(data), out=str(tmp_path / "run"), methods=["physics", "piddm"],
                                       settings={"piddm": {"starts": 2, "iters": 2, "polish": 0}}, max_panels=0,
                                       device="cpu"))
    assert [r.method for r in comparison.rows] == ["piddm", "physics"]
    budget = json.loads((out / "options.json").read_text())["resolved_settings"]["physics"]["budget_s"]
    assert budget == pytest.approx(comparison.row("piddm").cost["s_per_sample"])


def test_a_time_matched_method_needs_a_budget_field():
    import toy_method

    from piddm.solve import Method

    with pytest.raises(TypeError, match="budget_s"):
        Method(name="x", label="x", solve=toy_method.solve_toy, settings=toy_method.ToySettings, time_matched=True)


def test_a_sample_alone_equals_it_inside_a_batch_with_a_real_unet_student(tiny_models):
    """Batch independence through the U-Net itself (float32 convolutions at another batch shape)."""
    import numpy as np

    from pde_bench.loading import load
    from piddm.models import load_student
    from piddm.physics import PhysicsLoss
    from piddm.solve import SolveContext
    from piddm.solve.noise_search import SolveSettings, solve_noise
    from piddm.solve.observation import Observation, parse_observe

    _, student_path, data = tiny_models("darcy")
    student, model = load_student(student_path, problem="darcy")
    test = load(data, "test")
    a, u = np.asarray(test.a[:3], float), np.asarray(test.u[:3], float)
    obs = Observation.from_specs([parse_observe("u:10%")], a, u, seed=0)
    ctx = SolveContext(PhysicsLoss.for_model(model), student, model)
    st = dict(starts=2, iters=5, polish=5, lam=0.1)
    together = solve_noise(ctx, obs, SolveSettings(**st, batch=3), np.arange(3))
    alone = solve_noise(ctx, obs.subset(slice(1, 2)), SolveSettings(**st, batch=1), np.array([1]))
    np.testing.assert_allclose(alone.u_members[0], together.u_members[1], rtol=1e-4, atol=1e-6)
