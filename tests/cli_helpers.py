"""Run the ``piddm`` command in a subprocess, as a user would, and check its one-line errors."""

import subprocess
import sys


def run_piddm(*args, cwd=None, timeout=300):
    """``python -m cli.main ARGS`` (arguments turned to strings); returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "cli.main", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, check=False)


def one_line_error(res, *fragments):
    """Exit code 2 and exactly one ``piddm: error:`` line containing every fragment."""
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("piddm: error:")]
    assert len(lines) == 1, res.stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]
