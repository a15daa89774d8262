#!/usr/bin/env bash
# Reference models v2 in one prepared command (for a GPU session of 10 minutes): for each problem, a larger teacher
# (PRESET, TEACHER_MIN minutes), its PIDDM student (the tuned distill defaults, STUDENT_MIN minutes), then the
# candidate pair and the shipped pair scored the same way on the VALIDATION split (256 samples, paired by noise).
# Nothing is shipped here: a candidate is shipped (benchmarks/ship_reference.py) only if it wins on validation by
# the rule in docs/reference-models.md, and the test split is scored once, after that choice.
#
#   DEVICE=cuda PRESET=medium TEACHER_MIN=1.25 STUDENT_MIN=0.6 bash benchmarks/train_references.sh [pde ...]
#   OUT=runs/v2 (run folders, candidate and shipped validation reports); WORKERS=8 (data generation);
#   RESUME=1 continues teachers and students from their checkpoints with the new budgets.
# On this CPU it runs end to end with tiny budgets (tests/test_benchmark_scripts.py: TINY=1).
set -euo pipefail
out=${OUT:-runs/v2}
preset=${PRESET:-medium}
tmin=${TEACHER_MIN:-1.25}
smin=${STUDENT_MIN:-0.6}
dev=${DEVICE:-auto}
pdes=("$@")
[ ${#pdes[@]} -eq 0 ] && pdes=(darcy poisson helmholtz navier-stokes)
n=10000 nv=256 eval=256 tiny=()
if [ "${TINY:-0}" = 1 ]; then   # the CI check of this script: tiny data, steps instead of minutes
  n=24 nv=8 eval=8 preset=tiny
  tiny_teacher=(--steps 2 --batch 4 --checkpoint-every 2)
  tiny=(--steps 2 --pairs 8 --pair-steps 2 --batch 4 --eval-samples 8 --eval-batch 4 --refine-steps 1)
fi
mkdir -p "$out"
for pde in "${pdes[@]}"; do
  data=${DATA_ROOT:-data}/$pde-32
  if [ ! -f "$data/$pde-32-val.h5" ]; then
    piddm data generate --pde "$pde" --resolution 32 --n $n --n-val $nv --n-test $nv --workers "${WORKERS:-8}" -o "$data"
  fi
  resume=()
  [ "${RESUME:-0}" = 1 ] && resume=(--resume)
  piddm train-teacher --pde "$pde" --data "$data" --preset "$preset" --minutes "$tmin" --device "$dev" \
    -o "$out/$pde-teacher" "${resume[@]}" ${tiny_teacher[@]+"${tiny_teacher[@]}"}
  [ "${RESUME:-0}" = 1 ] || resume=(--overwrite)
  piddm distill --pde "$pde" --data "$data" --teacher "$out/$pde-teacher/teacher.pt" --minutes "$smin" \
    --no-ablation --split val --device "$dev" -o "$out/$pde-distill" "${resume[@]}" ${tiny[@]+"${tiny[@]}"}
  for who in candidate shipped; do
    models=()
    [ $who = candidate ] && models=(--teacher "$out/$pde-teacher/teacher.pt" --student "$out/$pde-distill/piddm/student.pt")
    python benchmarks/evaluate_shipped.py --pde "$pde" --data "$data" --split val --samples $eval --device "$dev" \
      ${models[@]+"${models[@]}"} --out "$out/val-$who"
  done
done
echo "validation reports: $out/val-candidate/<pde>.md against $out/val-shipped/<pde>.md"
