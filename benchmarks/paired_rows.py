"""Pair two rows from two solve reports (their ``<method>.nc`` files) sample by sample.

A row added to a finished comparison (e.g. ``piddm-fast`` run on its own on the test samples a
report already holds) gets the report's verdicts without rerunning hours of other rows: this checks
that both files hold the same samples, masks, observed values and truth, then prints each row's
mean error (the reports' wanted one: u forward, a inverse, a + u reconstruction), residual and
seconds per sample (measured in separate runs: read their ratio with the load of each in mind),
and the paired bootstrap 95 % intervals of the error reduction and of the residual ratio
(``piddm.evaluate.bootstrap``, as the reports compute them).

    python benchmarks/paired_rows.py runs/compare/darcy-forward-fast/piddm-fast.nc runs/compare/darcy-forward/dpde.nc

``--one-draw`` scores the first file from its members one at a time (each member's error, averaged over
the members: the expected error of a single draw) instead of from the ensemble mean, so an ensemble
method's error is set against a one-draw method's without the gain averaging alone brings.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def member_errors(ds, keys: list[str]) -> np.ndarray:
    """(samples,) the mean over members of each member's error, by the reports' definitions
    (:func:`piddm.evaluate.scoring.field_error`)."""
    from pde_bench import get_problem
    from piddm.evaluate.scoring import field_error

    problem = get_problem(str(ds.attrs["problem"]))
    channels = [k.removeprefix("err_") for k in keys]
    return sum(field_error(problem, ch, np.asarray(ds[f"{ch}_members"]),  # (samples, members, N, N)
                           np.asarray(ds[f"{ch}_true"], np.float64)[:, None]).mean(1) for ch in channels)


def paired(ours: str, base: str, metric: str | None = None, one_draw: bool = False) -> dict:
    import xarray as xr

    from piddm.evaluate import bootstrap

    with xr.open_dataset(ours, engine="h5netcdf") as a, xr.open_dataset(base, engine="h5netcdf") as b:
        for key in ("sample", "mask_a", "mask_u", "obs_a", "obs_u"):  # what every solution file holds
            if key not in a or key not in b:
                raise SystemExit(f"{ours} and {base}: {key!r} missing from one of them: not solution files")
        if not any(f"{ch}_true" in a for ch in ("a", "u")):
            raise SystemExit(f"{ours}: no truth (a_true / u_true): nothing to pair errors on")
        for key in ("sample", "mask_a", "mask_u", "obs_a", "obs_u", "a_true", "u_true"):
            if (key in a) != (key in b):
                raise SystemExit(f"{ours} and {base}: only one holds {key!r}: not the same comparison")
            if key in a and not np.array_equal(np.asarray(a[key]), np.asarray(b[key]), equal_nan=True):
                raise SystemExit(f"{ours} and {base}: {key!r} differs: not the same samples and observations")
        task = str(a.attrs.get("task", ""))
        keys = [metric] if metric else (["err_u"] if task.startswith("forward") else ["err_a"] if task == "inverse"
                                        else ["err_a", "err_u"])  # the reports' wanted error: a + u on reconstruction
        metric = "+".join(keys)
        err = {n: sum(np.asarray(ds[k], np.float64) for k in keys) for n, ds in (("ours", a), ("base", b))}
        if one_draw:
            err["ours"] = member_errors(a, keys)
        out = {"metric": metric, "samples": int(a.sizes["sample"]), "one_draw": one_draw,
               "members": int(a.sizes.get("member", 1))}
        for name, ds in (("ours", a), ("base", b)):
            out[name] = {"method": ds.attrs.get("method"), metric: float(err[name].mean()),
                         "residual": float(ds["residual"].mean()),
                         "s_per_sample": float(ds.attrs["seconds_per_sample"]), "nfe": int(ds.attrs["nfe"]),
                         "commit": str(ds.attrs.get("git_commit", "?")), "command": str(ds.attrs.get("command", "?"))}
        out["reduction"] = bootstrap.reduction(err["ours"], err["base"])
        out["residual_ratio"] = bootstrap.ratio(np.asarray(a["residual"]), np.asarray(b["residual"]))
        out["time_ratio"] = out["ours"]["s_per_sample"] / out["base"]["s_per_sample"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ours")
    p.add_argument("base")
    p.add_argument("--metric", default=None, help="per-sample metric [err_u on forward tasks, else err_a]")
    p.add_argument("--one-draw", action="store_true", help="score OURS by its members' mean error, one draw at a "
                   "time, not by its ensemble mean's")
    args = p.parse_args()
    if args.one_draw and args.metric and not args.metric.startswith("err_"):
        raise SystemExit(f"--one-draw scores errors only, not {args.metric}")
    r = paired(args.ours, args.base, args.metric, args.one_draw)
    if r["one_draw"]:
        print(f"{r['ours']['method']} scored one member at a time (mean of its {r['members']} members' errors; its "
              "residual and seconds are still the whole row's: the ensemble mean's, all members')")
    m = r["metric"]
    for side in ("ours", "base"):
        s = r[side]
        print(f"{s['method']:12s} {m} {100 * s[m]:.2f} %  residual {s['residual']:.3g}  "
              f"{s['s_per_sample']:.2f} s/sample  NFE {s['nfe']}")
    est, lo, hi = r["reduction"]
    print(f"{m}: {r['ours']['method']} lower than {r['base']['method']} by {100 * est:.0f} % [{100 * lo:.0f}, "
          f"{100 * hi:.0f}] (paired bootstrap 95 %, {r['samples']} samples)")
    est, lo, hi = r["residual_ratio"]
    print(f"residual ratio {est:.3g} [{lo:.3g}, {hi:.3g}]; seconds per sample ratio {r['time_ratio']:.3f}")
    if r["ours"]["command"] != r["base"]["command"]:
        print("note: the two rows come from different runs (commits "
              f"{r['ours']['commit'][:12]} and {r['base']['commit'][:12]}): their seconds were measured apart, "
              "under whatever load each run had")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
