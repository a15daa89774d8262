"""Write a benchmark's table as markdown and JSON, with the provenance of the run."""

from __future__ import annotations

import json
from pathlib import Path

from pde_bench.conventions import atomic_output, provenance


def write_table(name: str, title: str, columns: list[str], rows: list[dict], options: dict,
                out_dir: str | Path = Path(__file__).parent / "results") -> str:
    """Write ``<out_dir>/<name>.md`` and ``.json`` (replacing earlier runs); return the markdown."""
    prov = provenance(options)
    lines = [f"# {title}", "", f"Command: `{prov['command']}`  ", f"Commit: {prov['git_commit']}; "
             f"torch {prov['versions']['torch']}; {prov['hardware']['cpu_count']} CPUs"
             + (f", {threads} torch threads" if (threads := prov['hardware'].get('torch_threads')) else ""), "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row[c]) for c in columns) + " |")
    text = "\n".join(lines) + "\n"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output(out_dir / f"{name}.md", overwrite=True) as tmp:
        tmp.write_text(text)
    with atomic_output(out_dir / f"{name}.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps({"rows": rows, "provenance": prov}, indent=2))
    return text


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
