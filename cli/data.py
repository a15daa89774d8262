"""``piddm data``: generate data sets, merge shards, inspect any supported file."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Generate, merge and inspect PDE data sets.", no_args_is_help=True)


def _params(items: list[str]) -> dict:
    from pde_bench.conventions import InputError

    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise InputError(f"--param must look like name=number (e.g. nu=1e-3), got {item!r}") from None
    return out


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"k/N"`` -> (k, N) with 0 <= k < N; None -> (0, 1)."""
    from pde_bench.conventions import InputError

    if text is None:
        return 0, 1
    try:
        k, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise InputError(f"--shard must look like k/N (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise InputError(f"--shard k/N needs 0 <= k < N, got {text!r}")
    return k, n


@app.command("generate")
def generate(
    pde: str = typer.Option(..., "--pde", help="darcy | poisson | helmholtz | navier-stokes"),
    n: int = typer.Option(1000, "--n", help="training samples"),
    n_val: int = typer.Option(100, "--n-val", help="validation samples"),
    n_test: int = typer.Option(256, "--n-test", help="test samples"),
    resolution: int = typer.Option(64, "--resolution", help="grid points per side"),
    seed: int = typer.Option(0, "--seed"),
    out: Path | None = typer.Option(None, "-o", "--out", help="data-set folder [data/<pde>-<resolution>]"),
    dtype: str = typer.Option("float32", "--dtype", help="float32 | float64 (storage)"),
    workers: int = typer.Option(1, "--workers", help="processes on this machine"),
    shard: str | None = typer.Option(None, "--shard", help="k/N: write only shard k of N (merge later)"),
    param: list[str] = typer.Option([], "--param", help="physical parameter, name=value (repeatable)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing output folder"),
):
    """Generate train / val / test splits with the problem's own solver."""
    import pde_bench
    from pde_bench.conventions import check_output
    from pde_bench.datasets import generate_dataset, shard_range
    from pde_bench.problems.base import check_resolution

    from .progress import progress_bar

    problem = pde_bench.get_problem(pde, **_params(param))
    resolution = check_resolution(resolution)
    out = out or Path("data") / f"{problem.name}-{resolution}"
    check_output(out, overwrite)
    shard_k = parse_shard(shard)
    sizes = {"train": n, "val": n_val, "test": n_test}
    options = {"pde": problem.name, "n": n, "n_val": n_val, "n_test": n_test, "resolution": resolution,
               "seed": seed, "out": str(out), "dtype": dtype, "workers": workers, "shard": shard,
               "params": problem.params}
    total = sum(hi - lo for lo, hi in (shard_range(v, shard_k) for v in sizes.values()))
    label = f"{problem.name} {resolution}²" + (f" shard {shard}" if shard else "")
    with progress_bar(f"generating {label}", total) as advance:
        files = generate_dataset(problem, out, sizes=sizes, resolution=resolution, seed=seed, dtype=dtype,
                                 workers=workers, shard=shard_k, overwrite=overwrite, on_progress=advance,
                                 options=options)
    for split, path in files.items():
        typer.echo(f"{split:5s} {path}")


@app.command("merge")
def merge(
    shards: list[Path] = typer.Argument(..., help="shard folders written with --shard k/N"),
    out: Path = typer.Option(..., "-o", "--out", help="merged data-set folder"),
    overwrite: bool = typer.Option(False, "--overwrite"),
):
    """Merge shard folders into one data set (identical to a serial run with the same seed)."""
    from pde_bench.datasets import merge_shards

    files = merge_shards(shards, out, overwrite=overwrite,
                         options={"shards": [str(s) for s in shards], "out": str(out)})
    for split, path in files.items():
        typer.echo(f"{split:5s} {path}")


@app.command("inspect")
def inspect(
    path: Path = typer.Argument(..., help="a data-set folder or a data file of any supported format"),
    samples: int = typer.Option(64, "--samples", help="samples used for the residual floor"),
    problem: str | None = typer.Option(None, "--problem", help="problem of a foreign file, when its format does not say"),
    param: list[str] = typer.Option([], "--param", help="physical parameter of a foreign file, name=value"),
):
    """Format, problem, splits, shapes, value ranges and the ground-truth residual floor."""
    from pde_bench.conventions import InputError
    from pde_bench.datasets import split_files
    from pde_bench.inspection import describe_file

    options = _params(param)
    if problem:
        options["problem"] = problem
    if path.is_dir():
        files = list(split_files(path).values()) or sorted(path.glob("*.h5"))
        if not files:
            raise InputError(f"{path}: no data files ({path.name}-train.h5 ... or *.h5) in this folder")
    elif path.exists():
        files = [path]
    else:
        raise InputError(f"{path}: no such file or folder")
    for file in files:
        typer.echo(describe_file(file, samples=samples, **options))
