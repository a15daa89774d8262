"""Atomic outputs, overwrite refusal, provenance, and the CLI's one-line errors."""

import json
import sys

import pytest
from cli_helpers import run_piddm as _piddm

import pde_bench
from pde_bench.conventions import InputError, atomic_output, check_output, provenance


def test_atomic_file_written_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_output(target) as tmp:
        tmp.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failure_leaves_nothing_and_keeps_existing_output(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output(target, overwrite=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_refuses_existing_output_without_overwrite(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    with pytest.raises(InputError, match=r"already exists \(overwrite is off\)"):
        with atomic_output(target):
            pass
    with pytest.raises(InputError):
        check_output(target)
    assert check_output(tmp_path / "new") == tmp_path / "new"


def test_atomic_directory_replaces_old_one_when_complete(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_output(target, overwrite=True) as tmp:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_provenance_records_what_made_an_output():
    prov = provenance({"n": 3})
    assert prov["options"] == {"n": 3}
    assert {"python", "torch", "numpy", "piddm"} <= set(prov["versions"])
    assert "git_commit" in prov and "hardware" in prov and "command" in prov
    json.dumps(prov)  # serialisable


@pytest.mark.slow
def test_cli_lists_problems():
    res = _piddm("problems")
    assert res.returncode == 0
    for name in pde_bench.problem_names():
        assert name in res.stdout


def test_cli_user_error_is_one_line_with_exit_2(monkeypatch):
    from typer.testing import CliRunner

    from cli import main

    @main.app.command("fail-for-test", hidden=True)
    def _fail():
        raise InputError("data/x.h5: key 'a' has shape (3, 4), expected (n, N, N)")

    try:
        monkeypatch.setattr(sys, "argv", ["piddm", "fail-for-test"])
        with pytest.raises(SystemExit) as exit_info:
            main.run()
        assert exit_info.value.code == 2
        result = CliRunner().invoke(main.app, ["--debug", "fail-for-test"])
        assert isinstance(result.exception, InputError)
    finally:
        main.app.registered_commands.pop()
        main._STATE["debug"] = False


def test_cli_error_message_on_stderr(capsys, monkeypatch):
    from cli import main

    monkeypatch.setattr(sys, "argv", ["piddm", "problems"])
    with pytest.raises(SystemExit) as exit_info:
        main._error("x.h5: bad")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "piddm: error: x.h5: bad\n"
