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
    assert "| speed-up | 44.5 (no interval) | ≥ 30 | met (no interval) |" in text
    assert "| residual ratio | 0.36 [0.33, 0.38] | ≤ 0.1 | MISSED |" in text


def test_a_target_is_met_only_when_the_whole_interval_meets_it(tmp_path):
    def status(est, lo, hi, target, better="le"):
        v = Verdict("v", "piddm-1", "teacher", "mmse", "ratio", est, lo, hi, target=target, better=better)
        return v.status, v.met

    assert status(1.1, 0.6, 2.0, 1.5) == ("not shown", False)   # the estimate meets it, the interval does not
    assert status(1.1, 0.9, 1.4, 1.5) == ("met", True)
    assert status(1.6, 1.2, 2.0, 1.5) == ("not shown", False)  # the estimate misses, the interval reaches across
    assert status(1.8, 1.6, 2.0, 1.5) == ("MISSED", False)
    assert status(35.0, 29.0, 40.0, 30, "ge") == ("not shown", False)  # for a lower bound the low end counts
    assert status(35.0, 31.0, 40.0, 30, "ge") == ("met", True)
    assert status(1.1, 0.6, 2.0, None) == ("", None)
    crossing = Verdict("v", "a", "b", "mmse", "ratio", 1.1, 0.6, 2.0, target=1.5)
    data = json.loads(_comparison(verdicts=[crossing]).write(tmp_path)["metrics"].read_text())
    assert data["verdicts"][0]["status"] == "not shown" and data["verdicts"][0]["met"] is False
