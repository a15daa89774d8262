"""Reports: one :class:`Comparison` schema written as report.md / metrics.json / options.json, figures,
netCDF solution files, and the plain tables the benchmarks write."""

from .comparison import Column, Comparison, Cost, Row, Verdict

__all__ = ["Column", "Comparison", "Cost", "Row", "Verdict"]
