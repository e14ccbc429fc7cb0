#!/usr/bin/env bash
# Reproduces docs/quality.md's curve: `rnn train TRAIN --time BUDGET` (the budget rule picks the model), then
# `rnn eval` (static) and `rnn eval --dynamic` on the held-out file, for each budget given. Run it on a quiet
# machine (check `uptime`): the budget is wall-clock time, so anything else running costs the model steps.
#
#   scripts/quality-curve.sh [BUDGET...]          default budgets: 132s 5m 10m 20m 60m
#
# Reads ../shared/data/tinyshakespeare-train90.txt and -val10.txt (nanoGPT's split; never copied into the
# project), writes runs/quality/<budget>/ (the run and its --json events) and docs/quality/results.json (one
# row per budget, committed: the curve's data, so that rerunning one budget on a fresh checkout keeps the
# others), then docs/quality/curve.svg from it.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${RNN_DATA:-../shared/data}
train=$data/tinyshakespeare-train90.txt
val=$data/tinyshakespeare-val10.txt
[ -f "$train" ] && [ -f "$val" ] || { echo "quality-curve: $train and $val are needed" >&2; exit 2; }
budgets=("$@")
[ ${#budgets[@]} -gt 0 ] || budgets=(132s 5m 10m 20m 60m)
mkdir -p runs/quality docs/quality
results=docs/quality/results.json
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
    const events = fs.readFileSync(ev, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const auto = events.find((e) => e.type === "autosize"), end = events.find((e) => e.type === "end");
    const cal = events.find((e) => e.type === "calibrate"); // --calibrate: the temperature fitted at the end
    const rows = JSON.parse(fs.readFileSync(file, "utf8")).filter((r) => r.budget !== secs(b));
    rows.push({ budget: secs(b), events: ev, static: Number(st), dynamic: dy === "null" ? null : Number(dy),
      date: new Date().toISOString().slice(0, 10), measured: auto?.reference ?? null, chosen: auto?.chosen ?? null, steps: end?.step ?? null,
      ...(cal ? { temperature: cal.temperature } : {}) });
    rows.sort((x, y) => x.budget - y.budget);
    fs.writeFileSync(file, JSON.stringify(rows, null, 1) + "\n");
  ' "$results" "$b" "$dir.events.jsonl" "$static" "$dynamic"
done
npx tsx scripts/plot-quality.ts docs/quality/curve.svg "$results"
