#!/usr/bin/env bash
# The strong-baselines comparison of one problem at one observed fraction: forward (a observed), inverse
# (u observed) and reconstruction (both), every registry method but operator and nearest-solver, on the same
# test samples and masks; the physics-only baseline gets PIDDM's wall time per sample; the Bayes limit is the
# last row. Each report lands in runs/baselines/<pde>-<task>-<pct>/report.md and is copied to
# benchmarks/results/baselines/.
#   bash benchmarks/baselines.sh poisson 3 0:50 [extra piddm solve options]
# BAYES=0 leaves the Bayes limit out (Darcy and Navier–Stokes sample it by MCMC: its own, smaller run with
# TAG=-bayes and fewer samples); FORWARD=0, INVERSE=0, RECONSTRUCTION=0 skip a task.
set -euo pipefail
pde=${1:?usage: baselines.sh PDE PERCENT START:STOP}
pct=${2:?percent observed}
samples=${3:?test samples START:STOP}
shift 3
out=runs/baselines
results=benchmarks/results/baselines
mkdir -p "$results"
common=(--test "$samples" --max-panels 0 --overwrite "$@")
fitted=(--method piddm --method physics --method kriging --method nearest --method nearest-k)
[ "${BAYES:-1}" = 1 ] && fitted+=(--method bayes)
with_solver=(--method piddm-solver --method kriging-solver --method nearest-k-solver)
run() {  # task, observe specs...
  local task=$1; shift
  local extra=()
  [ "$task" != inverse ] && extra=("${with_solver[@]}")
  local name="$pde-$task-$pct${TAG:-}"
  piddm solve --pde "$pde" "$@" "${fitted[@]}" "${extra[@]}" "${common[@]}" -o "$out/$name"
  cp "$out/$name/report.md" "$results/$name.md"
  cp "$out/$name/metrics.json" "$results/$name.json"
}
[ "${FORWARD:-1}" = 1 ] && run forward --observe "a:$pct%"
[ "${INVERSE:-1}" = 1 ] && run inverse --observe "u:$pct%"
[ "${RECONSTRUCTION:-1}" = 1 ] && run reconstruction --observe "a:$pct%" --observe "u:$pct%"
exit 0
