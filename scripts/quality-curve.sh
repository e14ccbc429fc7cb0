#!/usr/bin/env bash
# Reproduces docs/quality.md's curve: `rnn train TRAIN --time BUDGET` (the budget rule picks the model), then
# `rnn eval` (static) and `rnn eval --dynamic` on the held-out file, for each budget given. Run it on a quiet
# machine (check `uptime`): the budget is wall-clock time, so anything else running costs the model steps.
#
#   scripts/quality-curve.sh [BUDGET...]          default budgets: 132s 5m 10m 20m 60m
#
# Reads ../shared/data/tinyshakespeare-train90.txt and -val10.txt (nanoGPT's split; never copied into the
# project), writes runs/quality/<budget>/ and runs/quality/results.json, and docs/quality/curve.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${RNN_DATA:-../shared/data}
train=$data/tinyshakespeare-train90.txt
val=$data/tinyshakespeare-val10.txt
[ -f "$train" ] && [ -f "$val" ] || { echo "quality-curve: $train and $val are needed" >&2; exit 2; }
budgets=("$@")
[ ${#budgets[@]} -gt 0 ] || budgets=(132s 5m 10m 20m 60m)
mkdir -p runs/quality docs/quality
results=runs/quality/results.json
[ -f "$results" ] || echo "[]" > "$results"
for b in "${budgets[@]}"; do
  dir=runs/quality/$b
  echo "== rnn train $train --time $b   ($(uptime | sed 's/.*load/load/'))" >&2
  node bin/rnn.js train "$train" --time "$b" --out "$dir" --force --json > "$dir.events.jsonl"
  scores=$(node bin/rnn.js eval --model "$dir" "$val" --dynamic --json)
  static=$(node -e 'console.log(JSON.parse(process.argv[1]).loss)' "$scores")
  dynamic=$(node -e 'console.log(JSON.parse(process.argv[1]).dynamic?.loss ?? null)' "$scores")
  echo "   $b: static $static, dynamic $dynamic" >&2
  node -e '
    const fs = require("fs"); const [file, b, ev, st, dy] = process.argv.slice(1);
    const secs = (s) => [...s.matchAll(/(\d+(?:\.\d+)?)(h|m|s)?/g)].reduce((t, m) => t + Number(m[1]) * ({ h: 3600, m: 60 }[m[2]] ?? 1), 0);
    const rows = JSON.parse(fs.readFileSync(file, "utf8")).filter((r) => r.budget !== secs(b));
    rows.push({ budget: secs(b), events: ev, static: Number(st), dynamic: dy === "null" ? null : Number(dy) });
    fs.writeFileSync(file, JSON.stringify(rows, null, 1));
  ' "$results" "$b" "$dir.events.jsonl" "$static" "$dynamic"
done
npx tsx scripts/plot-quality.ts docs/quality/curve.svg "$results"
