#!/usr/bin/env bash
# Tuning of the forward-full task (all of a observed, u wanted: a well-posed PDE solve) on the
# validation split: 8 samples, mask seed 1, each method's candidates at the same 8 s per sample
# budget for the baseline. Writes benchmarks/results/solve_tuning_forward_full.{md,json}.
#   bash benchmarks/solve_tuning_forward_full.sh
set -euo pipefail
out=runs/tuning-forward-full
common=(--observe a:all --split val --test 0:8 --mask-seed 1 --max-panels 0 --overwrite)
for pde in darcy poisson; do
  piddm solve --pde "$pde" "${common[@]}" --method physics --physics-budget 8 -o "$out/$pde-physics-forward-defaults"
  piddm solve --pde "$pde" "${common[@]}" --method physics --physics-budget 8 --physics-mu 0 --physics-lam 1 \
      --physics-precondition -o "$out/$pde-physics-mu0-lam1-pre"
  piddm solve --pde "$pde" "${common[@]}" --method physics --physics-budget 8 --physics-mu 0 --physics-lam 0.1 \
      --physics-precondition -o "$out/$pde-physics-mu0-lam0.1-pre"
  piddm solve --pde "$pde" "${common[@]}" --method physics --physics-budget 8 --physics-mu 0 --physics-lam 1 \
      --no-physics-precondition -o "$out/$pde-physics-mu0-lam1"
  piddm solve --pde "$pde" "${common[@]}" --method piddm -o "$out/$pde-piddm-polish200"
  piddm solve --pde "$pde" "${common[@]}" --method piddm --polish 1000 -o "$out/$pde-piddm-polish1000"
done
python benchmarks/solve_table.py "$out"/* --name solve_tuning_forward_full \
    --title "piddm solve, forward-full (all of a observed): candidates on the validation split (8 samples)"
