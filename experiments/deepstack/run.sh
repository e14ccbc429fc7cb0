#!/usr/bin/env bash
# docs/remedies.md, "A deep stack": six stacked layers, trained plain, with residual connections, with layer
# normalisation and with recurrent batch normalisation; validation loss against step and wall time, and the
# gradient by layer and by step back from `rnn diagnose`.
#
#   experiments/deepstack/run.sh [lstm|rnn]...       (default: both)
#
# Trains on ../shared/data/tinyshakespeare.txt (5% held out by --val-frac) when it is there, else on
# data/longrange.txt. One thread per run, runs one after another; writes runs/deepstack/ and
# docs/remedies/deep-*.svg.
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=../shared/data/tinyshakespeare.txt
[ -f "$corpus" ] || corpus=data/longrange.txt
cells=("$@")
[ ${#cells[@]} -gt 0 ] || cells=(lstm rnn)
common=(--layers 6 --hidden 128 --batch 32 --seq 50 --steps 600 --eval-every 50 --threads 1 --seed 7 --force --json)
mkdir -p runs/deepstack docs/remedies
for cell in "${cells[@]}"; do
  lr=2e-3
  [ "$cell" = rnn ] && lr=1e-3
  specs=()
  for variant in none residual layer batch; do
    case $variant in
      none) extra=() ;;
      residual) extra=(--residual) ;;
      layer) extra=(--norm layer) ;;
      batch) extra=(--norm batch) ;;
    esac
    dir=runs/deepstack/$cell-$variant
    echo "== $cell $variant" >&2
    node bin/rnn.js train "$corpus" --cell "$cell" --lr "$lr" "${common[@]}" "${extra[@]}" --out "$dir" > "$dir.events.jsonl"
    specs+=("$variant=$dir.events.jsonl")
  done
  npx tsx scripts/plot-runs.ts "docs/remedies/deep-$cell" "6-layer $cell, 6×128: validation loss" "${specs[@]}"
  node bin/rnn.js diagnose -m "runs/deepstack/$cell-none" -m "runs/deepstack/$cell-residual" -m "runs/deepstack/$cell-layer" \
    -m "runs/deepstack/$cell-batch" --chunks 0 --svg "docs/remedies/deep-$cell-diagnose.svg" > "runs/deepstack/$cell-diagnose.txt"
done
