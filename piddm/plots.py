"""PNG figures: grids of fields (rows = quantities, columns = samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pde_bench.conventions import atomic_output

__all__ = ["save_field_grid"]


def save_field_grid(rows: dict[str, np.ndarray], path: Path, title: str = "", columns: int = 8,
                    cmaps: dict[str, str] | None = None,
                    limits: dict[str, tuple[float, float]] | None = None) -> Path:
    """Write a PNG with one row per entry of ``rows`` ((n, N, N) arrays) and up to ``columns`` samples.

    Each row shares one colour scale, so samples in a row compare at a glance; ``limits``
    fixes a row's (vmin, vmax) so that rows of different methods compare too.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cmaps = cmaps or {}
    n = min(columns, min(len(v) for v in rows.values()))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.6 * n + 1.2, 1.6 * len(rows) + 0.4), squeeze=False,
                             layout="constrained")
    for r, (name, arr) in enumerate(rows.items()):
        arr = np.asarray(arr[:n], dtype=np.float64)
        lo, hi = (limits or {}).get(name, (np.nanmin(arr), np.nanmax(arr)))
        for c in range(n):
            ax = axes[r, c]
            im = ax.imshow(arr[c].T, origin="lower", cmap=cmaps.get(name, "viridis"), vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name)
        fig.colorbar(im, ax=list(axes[r]), shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return path
