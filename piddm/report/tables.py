"""A plain table (markdown + JSON) with the provenance of the run: what every benchmark writes."""

from __future__ import annotations

from pathlib import Path

from pde_bench.conventions import provenance

from ..files import atomic_write_json, atomic_write_text

__all__ = ["format_cell", "markdown_table", "write_table"]


def format_cell(value) -> str:
    """Floats to three significant digits, everything else as str."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def markdown_table(columns: list[str], rows: list[dict]) -> list[str]:
    """The lines of a markdown table of ``rows`` (dicts) under ``columns``, cells by :func:`format_cell`."""
    return (["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(format_cell(row[c]) for c in columns) + " |" for row in rows])


def write_table(out_dir: str | Path, name: str, title: str, columns: list[str], rows: list[dict],
                options: dict) -> str:
    """Write ``<out_dir>/<name>.md`` and ``.json`` (atomic, replacing earlier runs); return the markdown."""
    prov = provenance(options)
    threads = prov["hardware"].get("torch_threads")
    lines = [f"# {title}", "", f"Command: `{prov['command']}`  ", f"Commit: {prov['git_commit']}; "
             f"torch {prov['versions']['torch']}; {prov['hardware']['cpu_count']} CPUs"
             + (f", {threads} torch threads" if threads else ""), "", *markdown_table(columns, rows)]
    text = "\n".join(lines) + "\n"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / f"{name}.md", text)
    atomic_write_json(out_dir / f"{name}.json", {"rows": rows, "provenance": prov})
    return text
