#!/usr/bin/env bash
# Image PID on Fashion-MNIST, on this machine (2 CPU cores, one torch thread per job): the teacher (55 min), the
# feature classifier that scores samples offline, a learning-rate screen of PID on validation (6 min each), the
# winner resumed to 30 min of PID training and scored on validation, then on test once. The reports are copied to
# benchmarks/results/images/. The curve stage (not in the default list) trains a fresh student at the chosen learning
# rate with the shipped teacher and classifier, scoring validation at STEPS_LIST (1,000 samples per row) to measure
# how FD falls with training: python benchmarks/pid_curve.py tabulates and extrapolates it.
#   bash benchmarks/image_pid.sh [teacher|classifier|screen|final|test|curve]...
set -euo pipefail
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
results=benchmarks/results/images
mkdir -p "$results"
MODELS="--teacher runs/fashion-mnist-teacher --classifier runs/fashion-mnist-classifier"
WIN=${WIN:-1e-3}   # the screen's winner (lowest validation FD: 83.3 against 89.2 for 2e-4)
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(teacher classifier screen final test)
for stage in "${stages[@]}"; do
  case $stage in
    teacher) piddm train-teacher --images fashion-mnist --preset small --minutes 55 --steps 100000 \
               --checkpoint-every 500 -o runs/fashion-mnist-teacher ;;
    classifier) piddm train-classifier --images fashion-mnist -o runs/fashion-mnist-classifier ;;
    screen) for lr in ${LRS:-2e-4 1e-3}; do   # LRS=2e-4 / LRS=1e-3: one candidate per job, to run both at once
              piddm distill --images fashion-mnist $MODELS --lr $lr --minutes 6 --steps 100000 --eval-samples 1000 \
                -o runs/fashion-mnist-pid-lr$lr
              cp runs/fashion-mnist-pid-lr$lr/report-val/report.md "$results/pid_screen_lr$lr.md"
            done ;;
    final) piddm distill --images fashion-mnist $MODELS -o runs/fashion-mnist-pid-lr$WIN --resume --minutes 30 \
             --steps 100000 --eval-samples 2000
           cp runs/fashion-mnist-pid-lr$WIN/report-val/report.md "$results/pid_fashion-mnist_val.md"
           cp runs/fashion-mnist-pid-lr$WIN/report-val/metrics.json "$results/pid_fashion-mnist_val.json" ;;
    test) piddm distill --images fashion-mnist $MODELS -o runs/fashion-mnist-pid-lr$WIN --evaluate-only --split test \
            --eval-samples 2000
          cp runs/fashion-mnist-pid-lr$WIN/report-test/report.md "$results/pid_fashion-mnist_test.md"
          cp runs/fashion-mnist-pid-lr$WIN/report-test/metrics.json "$results/pid_fashion-mnist_test.json"
          cp runs/fashion-mnist-pid-lr$WIN/report-test/samples_*.png "$results/" ;;
    curve) mkdir -p "$results/pid_curve"
           run=runs/fashion-mnist-pid-curve resume=()
           [ -f $run/checkpoint.pt ] && resume=(--resume)   # continue an interrupted curve
           for k in ${STEPS_LIST:-250 500 1000 2000 4000}; do
             [ -f "$results/pid_curve/steps-$k.json" ] && continue   # scored already (pid_curve.py checks the step)
             piddm distill --images fashion-mnist --lr $WIN -o $run "${resume[@]}" --steps "$k" --eval-samples 1000
             cp $run/report-val/metrics.json "$results/pid_curve/steps-$k.json"
             resume=(--resume)
           done ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
done
