"""``piddm``: the command line of the toolkit (Typer). Parses, validates, calls library code.

Errors a user can fix are :class:`pde_bench.conventions.InputError`: printed as one line on
stderr with exit code 2; ``piddm --debug ...`` shows the traceback instead. Heavy packages
(torch, neuraloperator) are imported inside the commands so ``piddm --help`` stays quick.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="piddm",
    help="Physics-constrained generative modelling of PDEs: data, teachers, one-step students.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_STATE = {"debug": False}


def _add_subcommands() -> None:
    from . import compare, data, distill, images, operator, solve, teacher

    app.add_typer(data.app, name="data")
    app.command("train-teacher")(teacher.train_teacher)
    app.command("sample")(teacher.sample)
    app.command("distill")(distill.distill)
    app.command("solve")(solve.solve)
    app.command("compare")(compare.compare)
    app.command("train-operator")(operator.train_operator)
    app.command("train-classifier")(images.train_classifier)
    app.command("lpips-weights")(images.lpips_weights)


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors.")):
    _STATE["debug"] = debug


@app.command("problems")
def problems_command():
    """List the PDE problems with their equations and default physical parameters."""
    import pde_bench

    for name in pde_bench.problem_names():
        prob = pde_bench.get_problem(name)
        params = ", ".join(f"{k}={v:g}" for k, v in prob.params.items())
        typer.echo(f"{name:14s} {prob.equation}\n{'':14s} boundary: {prob.boundary}; {params}")


_add_subcommands()


def _error(message: str) -> None:
    typer.echo(f"piddm: error: {message}", err=True)
    raise SystemExit(2)


def run() -> None:
    """Console entry point: run the app, turning user errors into one line and exit code 2."""
    from pde_bench.conventions import InputError, OutputExists

    try:
        app()
    except InputError as err:
        if _STATE["debug"]:
            raise
        _error(f"{err}; pass --overwrite to replace it" if isinstance(err, OutputExists) else str(err))
    except KeyboardInterrupt:
        typer.echo("piddm: interrupted", err=True)
        raise SystemExit(130) from None


if __name__ == "__main__":
    sys.exit(run())
