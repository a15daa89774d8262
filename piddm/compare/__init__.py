"""The experiments: options in, a :class:`piddm.report.Comparison` out.

- :mod:`piddm.compare.distill`: teacher pairs -> students -> evaluation against the teacher.
- :mod:`piddm.compare.solve`: observations -> every asked solve method -> scores and verdicts.
"""
