"""Redraw a comparison's error_vs_time.png from its metrics.json (mean and std over samples of one wanted field).

    python benchmarks/compare_figure.py benchmarks/results/compare/darcy-forward.json err_u
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from piddm.report.figures import save_error_vs_time

WORDS = {"err_a": "error of a (Darcy: error rate)", "err_u": "relative L2 error of u"}


def main() -> None:
    path, key = Path(sys.argv[1]), sys.argv[2]
    m = json.loads(path.read_text())
    n = int(m["options"]["test"].split(":")[1]) - int(m["options"]["test"].split(":")[0])
    points = [(r["method"], r["cost"]["s_per_sample"], r["metrics"][key], r["spread"][key] / np.sqrt(n))
              for r in m["rows"] if r["metrics"].get(key) is not None]
    out = path.with_name(path.stem + "_error_vs_time.png")
    save_error_vs_time(out, points, WORDS[key], f"{m['title']}: error against time (mean ± s.e. over {n} samples)")
    print(out)


if __name__ == "__main__":
    main()
