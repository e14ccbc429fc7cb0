#!/usr/bin/env bash
# docs/remedies.md, "A deep stack": six stacked layers, trained plain, with residual connections, with layer
# normalisation and with recurrent batch normalisation; validation loss against step and wall time, and the
# gradient by layer and by step back from `rnn diagnose` (docs/remedies/deep-*-depth.svg: by layer, at the last
# step and 25 steps back; the per-step table in runs/deepstack/*-diagnose.txt).
#
#   experiments/deepstack/run.sh [lstm|rnn]...       (default: both)
#
# Trains on ../shared/data/tinyshakespeare.txt (5% held out by --val-frac) when it is there, else on
# data/longrange.txt. One thread per run, runs one after another; writes runs/deepstack/ and
# docs/remedies/deep-*.svg.
#
# The longer pair (2000 steps, none and --norm layer, lstm) that docs/remedies.md also reports:
#   experiments/deepstack/run.sh --long                (the two side by side, one thread each)
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=../shared/data/tinyshakespeare.txt
[ -f "$corpus" ] || corpus=data/longrange.txt
mkdir -p runs/deepstack docs/remedies
stack=(--layers 6 --hidden 128 --batch 32 --seq 50 --threads 1 --seed 7 --force --json)
if [ "${1:-}" = --long ]; then
  long=(--cell lstm --lr 2e-3 "${stack[@]}" --steps 2000 --eval-every 100)
  node bin/rnn.js train "$corpus" "${long[@]}" --out runs/deepstack/long-lstm-none > runs/deepstack/long-lstm-none.events.jsonl &
  node bin/rnn.js train "$corpus" "${long[@]}" --norm layer --out runs/deepstack/long-lstm-layer > runs/deepstack/long-lstm-layer.events.jsonl
  wait
  npx tsx scripts/plot-runs.ts docs/remedies/deep-lstm-long "6-layer lstm, 6×128, 2000 steps: validation loss" \
    none=runs/deepstack/long-lstm-none.events.jsonl layer=runs/deepstack/long-lstm-layer.events.jsonl
  exit
fi
cells=("$@")
[ ${#cells[@]} -gt 0 ] || cells=(lstm rnn)
common=("${stack[@]}" --steps 600 --eval-every 50)
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
  models=(-m "runs/deepstack/$cell-none" -m "runs/deepstack/$cell-residual" -m "runs/deepstack/$cell-layer" -m "runs/deepstack/$cell-batch")
  node bin/rnn.js diagnose "${models[@]}" --chunks 0 --no-svg > "runs/deepstack/$cell-diagnose.txt"
  node bin/rnn.js diagnose "${models[@]}" --chunks 0 --no-svg --json > "runs/deepstack/$cell-diagnose.json"
  npx tsx scripts/plot-depth.ts "docs/remedies/deep-$cell-depth.svg" "6-layer $cell" "runs/deepstack/$cell-diagnose.json" 25 \
    > "runs/deepstack/$cell-depth.md"
done
