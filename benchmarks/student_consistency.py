"""How exact a student's own samples are: rel-L2 between its u and the solver's u for its finalised a.

This bounds what any noise-space solve with all of a observed can reach: optimising eps picks
the student sample whose a matches, but its u is only as close to the solver's as the student's
samples are in general.

    python benchmarks/student_consistency.py piddm/reference/darcy/student.pt runs/darcy-distill-1500/piddm
"""

from __future__ import annotations

import argparse

import numpy as np

from piddm.models import load_student
from piddm.student import sample_student


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("students", nargs="+")
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args()
    for path in args.students:
        student, model = load_student(path)
        a, u = sample_student(student, model.normaliser, args.n, model.resolution, seed=args.seed)
        u_solver = model.problem.solve(model.problem.finalize_inputs(a))
        rel = np.linalg.norm((u - u_solver).reshape(args.n, -1), axis=1) / np.linalg.norm(
            u_solver.reshape(args.n, -1), axis=1)
        print(f"{path}: rel-L2(u_student, solve(a_student)) mean {rel.mean():.4f} median {np.median(rel):.4f} "
              f"({args.n} samples, noise seed {args.seed})")


if __name__ == "__main__":
    main()
