#!/usr/bin/env bash
# One `piddm compare` report: PIDDM against DiffusionPDE, DPS, ECI-sampling, D-Flow, kriging (and the exact
# Bayes limit on Poisson/Helmholtz) on the shipped teacher and student, 3 % observed, mask seed 0. Settings of
# every method come from piddm.defaults (tuned on validation: benchmarks/guidance_tuning.py). The report,
# metrics and figures are copied to benchmarks/results/compare/<pde>-<task><TAG>.*
#   bash benchmarks/compare.sh darcy forward 0:50 [extra piddm compare options, e.g. --method operator]
set -euo pipefail
pde=${1:?usage: compare.sh PDE TASK START:STOP [options]}
task=${2:?task: forward | inverse | reconstruction | generate}
samples=${3:?test samples START:STOP}
shift 3
name="$pde-$task${TAG:-}"
results=benchmarks/results/compare
mkdir -p "$results"
piddm compare --pde "$pde" --task "$task" --test "$samples" --overwrite -o "runs/compare/$name" "$@"
cp "runs/compare/$name/report.md" "$results/$name.md"
cp "runs/compare/$name/metrics.json" "$results/$name.json"
for fig in methods error_vs_time spectrum; do
  [ -f "runs/compare/$name/$fig.png" ] && cp "runs/compare/$name/$fig.png" "$results/${name}_$fig.png"
done
exit 0
