#!/usr/bin/env bash
# The solve issue's acceptance runs for one problem: 100 test samples, 3 % of pixels observed,
# forward / inverse / reconstruction with PIDDM and the physics-only baseline (same masks, same
# wall time per sample), then all of a observed; then the table with paired bootstrap intervals.
#   bash benchmarks/solve_acceptance.sh darcy [extra piddm solve options]
set -euo pipefail
pde=${1:?usage: solve_acceptance.sh PDE}
shift
out=runs/solve
both=(--method piddm --method physics --test 0:100 --overwrite "$@")
piddm solve --pde "$pde" --observe a:3% "${both[@]}" -o "$out/$pde-forward"
piddm solve --pde "$pde" --observe u:3% "${both[@]}" -o "$out/$pde-inverse"
piddm solve --pde "$pde" --observe a:3% --observe u:3% "${both[@]}" -o "$out/$pde-reconstruction"
piddm solve --pde "$pde" --observe a:all "${both[@]}" -o "$out/$pde-forward-all"
python benchmarks/solve_table.py "$out/$pde-forward" "$out/$pde-inverse" "$out/$pde-reconstruction" \
    "$out/$pde-forward-all" --name "solve_$pde" --title "piddm solve: $pde 32², 100 test samples"
