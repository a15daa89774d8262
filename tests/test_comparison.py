"""The one report schema: markdown, metrics.json and options.json from a Comparison."""

import json
import math

from piddm.report import Column, Comparison, Cost, Row, Verdict


def _comparison(**kw):
    rows = [Row("piddm", "PIDDM", metrics={"err_u": 0.1, "coverage_u": 0.8}, spread={"err_u": 0.02},
                cost={"nfe": 808, "s_per_sample": 7.5}, notes={"coverage_u": "nominal 0.879"}),
            Row("physics", "physics-only", metrics={"err_u": 0.3, "coverage_u": None}, spread={"err_u": 0.05},
                cost={"nfe": 0, "s_per_sample": 7.5})]
    cols = [Column("err_u", "err u %", "pct"), Column("coverage_u", "coverage u", spread=False),
            Column("nfe", "NFE", "int", False)]
    return Comparison("solve", "title", cols, rows, **kw)


def test_markdown_shows_spread_nominal_values_verdicts_and_costs(tmp_path):
    v = Verdict("err u: PIDDM lower than physics-only by", "piddm", "physics", "err_u", "reduction", 0.64, 0.61, 0.67)
    c = _comparison(verdicts=[v], costs=[Cost("teacher training", 2700.0), Cost("teacher pairs", None)],
                    options={"pde": "darcy"}, provenance={"command": "piddm solve", "git_commit": "abc"})
    text = c.markdown()
    assert "| PIDDM | 10.00 ± 2.00 | 0.8 (nominal 0.879) | 808 |" in text
    assert "| physics-only | 30.00 ± 5.00 | - | 0 |" in text
    assert "| err u: PIDDM lower than physics-only by | 64 % [61 %, 67 %] |" in text and "status" not in text
    assert "teacher training 45.0 min" in text and "teacher pairs not recorded" in text
    paths = c.write(tmp_path)
    data = json.loads(paths["metrics"].read_text())
    assert [r["method"] for r in data["rows"]] == ["piddm", "physics"] and data["verdicts"][0]["met"] is None
    assert json.loads(paths["options"].read_text()) == {"pde": "darcy"}
    assert c.row("physics").label == "physics-only"


def test_a_target_adds_the_status_and_a_missing_interval_says_so():
    met = Verdict("speed-up", "piddm-1", "teacher", "ms_per_sample", "ratio", 44.5, math.nan, math.nan, target=30,
                  better="ge")
    missed = Verdict("residual ratio", "piddm-1", "teacher", "residual", "ratio", 0.36, 0.33, 0.38, target=0.1)
    text = _comparison(verdicts=[met, missed]).verdict_table()
    assert "| speed-up | 44.5 (no interval) | ≥ 30 | met |" in text
    assert "| residual ratio | 0.36 [0.33, 0.38] | ≤ 0.1 | MISSED |" in text
