// What a run directory or checkpoint file holds: the model, its vocabulary, how far it trained, how well,
// on what, with which configuration, and the files of the run.
import fs from "node:fs";
import path from "node:path";
import type { ModelConfig } from "../config.ts";
import { UsageError } from "../errors.ts";
import { type CheckpointConfig, describeModel, loadModel, loadRunState, type StateConfig } from "../checkpoint/checkpoint.ts";
import type { Calibration } from "../eval/calibrate.ts";
import { BEST, LATEST } from "../run/dir.ts";
import { readCheckpointFile } from "../io/safetensors.ts";
import { refF32 } from "../kernels/ref.ts";
import { paramSpec } from "../model/params.ts";
import { readMetrics } from "../train/metrics.ts";

export interface RunInfo {
  /** the path given */
  path: string;
  /** the checkpoint described */
  file: string;
  /** the run directory the checkpoint belongs to (null: a checkpoint file outside a run directory) */
  runDir: string | null;
  model: ModelConfig & { description: string; parameters: number };
  vocab: { size: number; chars: string[] };
  /** optimizer steps of this checkpoint */
  step: number;
  /** from the run's training state (latest checkpoint only; null when there is none): the pass over the
   *  training text it was in (0 = the first) and the next chunk of that pass */
  epoch: number | null;
  chunk: number | null;
  /** lowest validation loss of the run up to this checkpoint (nats/char), null without validation: the lower of
   *  the checkpoint's own (evaluations on the --eval-every cadence) and best.safetensors' when that is no later
   *  (it also counts the evaluation at the end of a run, which the checkpoint's metadata leaves out) */
  bestValLoss: number | null;
  /** the most recent validation loss (training state, else metrics.jsonl), null when unknown */
  lastValLoss: number | null;
  /** --calibrate: the softmax temperature the run fitted at its end and applied to this model (null: none) */
  calibration: Calibration | null;
  /** the run's best.safetensors, when it has one: its step and validation loss */
  best: { step: number; valLoss: number | null } | null;
  /** the training text as configured; bytes = its size now (null: it is gone) */
  corpus: { path: string; bytes: number | null }[];
  /**
   * the training configuration (what `--config` will take): for a run directory's latest checkpoint the run's
   * whole config from its training state (budget included); else the one stored in the checkpoint (the model
   * and the training hyper-parameters: a model checkpoint holds no budget and no path)
   */
  config: CheckpointConfig | StateConfig;
  /** every file of the run directory (or the file alone), paths relative to it, sorted */
  files: { name: string; bytes: number }[];
}

export function runInfo(p: string): RunInfo {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new UsageError(`'${p}' does not exist: give a run directory (e.g. runs/my-run) or a .safetensors checkpoint`);
  }
  let file: string, runDir: string | null;
  if (st.isDirectory()) {
    file = path.join(p, LATEST);
    if (!fs.existsSync(file)) throw new UsageError(`'${p}' is a directory without ${LATEST}: is it a run directory of rnn train?`);
    runDir = p;
  } else {
    file = p;
    const dir = path.dirname(p);
    runDir = fs.existsSync(path.join(dir, LATEST)) ? dir : null;
  }
  // loadModel checks the file as sample and eval do (checksum, format, tensors); the reference kernels
  // allocate plain arrays, nothing else
  const { meta } = loadModel(file, refF32);
  let cfg: CheckpointConfig | StateConfig = meta.config;
  const isLatest = runDir !== null && path.resolve(file) === path.resolve(runDir, LATEST);

  let epoch: number | null = null, chunk: number | null = null, lastValLoss: number | null = null;
  if (isLatest) {
    try {
      const s = loadRunState(runDir!, meta.step);
      ({ epoch, chunk } = s);
      if (s.config) cfg = { ...s.config, model: meta.config.model }; // the run's whole config, budget included
      lastValLoss = s.lastValLoss ?? null;
    } catch {
      // no (matching) training state: epoch unknown
    }
  }
  if (lastValLoss === null && runDir) {
    const ms = readMetrics(runDir).filter((m) => m.step <= meta.step && typeof m.valLoss === "number");
    if (ms.length) lastValLoss = ms[ms.length - 1].valLoss;
  }

  let best: RunInfo["best"] = null;
  const bestFile = runDir ? path.join(runDir, BEST) : null;
  if (bestFile && fs.existsSync(bestFile)) {
    try {
      const { metadata } = readCheckpointFile(bestFile);
      const bv = metadata.best_val_loss;
      best = { step: Number(metadata.step ?? 0), valLoss: bv === undefined || bv === "null" ? null : Number(bv) };
    } catch {
      best = null; // unreadable: the files list still shows it
    }
  }

  const corpus = (cfg.corpus ?? []).map((c) => {
    try {
      return { path: c, bytes: fs.statSync(c).size };
    } catch {
      return { path: c, bytes: null };
    }
  });

  const files = runDir ? listFiles(runDir) : [{ name: path.basename(file), bytes: st.size }];
  return {
    path: p,
    file,
    runDir,
    model: { ...cfg.model, description: describeModel(cfg.model), parameters: paramSpec(cfg.model).size },
    vocab: { size: meta.vocab.length, chars: meta.vocab },
    step: meta.step,
    epoch,
    chunk,
    bestValLoss: bestOf(meta.bestValLoss, best && best.step <= meta.step ? best.valLoss : null),
    lastValLoss,
    calibration: meta.calibration ?? null,
    best,
    corpus,
    config: cfg,
    files,
  };
}

/** The lower of two losses, either of which may be unknown. */
function bestOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function listFiles(dir: string): { name: string; bytes: number }[] {
  const out: { name: string; bytes: number }[] = [];
  const walk = (rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? path.join(rel, e.name) : e.name;
      if (e.isDirectory()) walk(r);
      else {
        try {
          out.push({ name: r, bytes: fs.statSync(path.join(dir, r)).size });
        } catch {
          // vanished (a temp file of a save in progress)
        }
      }
    }
  };
  walk("");
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
