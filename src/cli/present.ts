// Presenters turn training events into terminal output: a progress bar on a TTY, plain lines otherwise,
// one JSON object per line with --json, nothing with --quiet. "train" is one quantity everywhere: the mean
// training loss of the steps since the last evaluation (the bar and the progress lines show it so far, the
// evaluation line over all of them, the closing line the last evaluation's or, without one, so far).
import chalk from "chalk";
import cliProgress from "cli-progress";
import { describeModel } from "../checkpoint/checkpoint.ts";
import type { TrainEvent } from "../train/train.ts";
import { emaSpan } from "../train/autosize.ts";
import { duration, human } from "./common.ts";

export type Presenter = (e: TrainEvent) => void;

export function jsonPresenter(out: NodeJS.WritableStream = process.stdout): Presenter {
  return (e) => {
    const o = e.type === "start" ? { ...e, config: e.config } : e;
    out.write(`${JSON.stringify(o, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v))}\n`);
  };
}

export function quietPresenter(): Presenter {
  return () => {};
}

export function humanPresenter(opts: { tty: boolean; out?: NodeJS.WriteStream } = { tty: !!process.stdout.isTTY }): Presenter {
  const out = opts.out ?? process.stdout;
  let bar: cliProgress.SingleBar | null = null;
  let lastVal = "–";
  let lastLine = 0;
  let n = 0, sum = 0; // steps since the last evaluation, and their summed loss
  let evalTrain = NaN; // the last evaluation's mean
  /** writes lines above the bar (stopped, then restarted where it was) */
  const above = (text: string) => {
    if (!bar) return void out.write(text);
    const at = (bar as unknown as { value: number }).value;
    bar.stop();
    out.write(text);
    bar.start(bar.getTotal(), at, { loss: n ? (sum / n).toFixed(3) : "–", val: lastVal, cps: "–", eta_h: "–" });
  };
  const line = (s: string) => {
    if (bar) bar.stop();
    out.write(`${s}\n`);
  };
  return (e) => {
    switch (e.type) {
      case "start": {
        const c = e.config;
        out.write(
          `${chalk.bold("rnn train")} ${describeModel(c.model)} · ${human(e.params)} params · ` +
            `B${c.batch} T${c.seq} · ${c.optimizer} lr ${c.lr}${c.clip ? ` clip ${c.clip}` : ""}${c.orthoOpt ? ` · ortho-opt ${c.orthoOpt}` : ""} · ${e.kernels}` +
            `${c.threads > 1 ? ` ×${c.threads} threads` : ""}\n`,
        );
        out.write(
          chalk.dim(`  ${human(e.trainChars)} training chars, ${human(e.valChars)} validation, ${e.chunksPerEpoch} steps per epoch` +
            `${e.resumed ? `, resuming at step ${e.startStep}` : ""} → ${c.out}\n`),
        );
        if (e.initFrom) {
          const added = e.initFrom.added;
          out.write(chalk.dim(`  fine-tuning from ${e.initFrom.path} (step ${e.initFrom.step}): ${e.vocab - added.length} characters kept` +
            `${added.length ? `, ${added.length} new (${added.map((ch) => JSON.stringify(ch).slice(1, -1)).join(" ").slice(0, 60)})` : ""}\n`));
        }
        if (e.orthoStart) {
          const o = e.orthoStart;
          out.write(chalk.dim(`  --ortho-opt cayley: ${o.projected} of the ${o.blocks} recurrent blocks ${e.initFrom ? "of the --init-from model" : `drawn by --init ${c.init}`} ` +
            `were not orthogonal (‖WᵀW − I‖_max up to ${o.worst.toPrecision(3)}); each starts at its nearest orthogonal matrix\n`));
        }
        if (opts.tty) {
          bar = new cliProgress.SingleBar({
            format: `${chalk.cyan("{bar}")} {value}/{total} · train {loss} · val {val} · {cps} chars/s · ETA {eta_h}`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: true,
            etaBuffer: 50,
            stream: out,
          }, cliProgress.Presets.shades_classic);
          bar.start(e.totalSteps ?? 0, e.startStep, { loss: "–", val: "–", cps: "–", eta_h: "–" });
        }
        break;
      }
      case "step": {
        n++;
        sum += e.loss;
        const train = (sum / n).toFixed(3);
        if (bar) {
          if (e.totalSteps !== null && bar.getTotal() !== e.totalSteps) bar.setTotal(e.totalSteps);
          bar.update(e.step, { loss: train, val: lastVal, cps: human(e.charsPerSec), eta_h: duration(e.eta) });
        } else if (e.elapsed - lastLine >= 10) {
          lastLine = e.elapsed;
          out.write(chalk.dim(`  step ${e.step}${e.totalSteps ? `/${e.totalSteps}` : ""} · train ${train} · ${human(e.charsPerSec)} chars/s · ETA ${duration(e.eta)}\n`));
        }
        break;
      }
      case "eval": {
        if (e.valLoss !== null) lastVal = e.valLoss.toFixed(3);
        const val = e.valLoss === null ? "" : ` · val ${e.valLoss.toFixed(4)} (${(e.valLoss / Math.LN2).toFixed(3)} bpc)`;
        const msg = `  step ${String(e.step).padStart(6)} · train ${e.trainLoss.toFixed(4)}${val}` +
          `${e.improved ? chalk.green(" ★ best") : ""}${e.penalty ? ` · ortho ${e.penalty.toFixed(4)}` : ""}`;
        n = 0;
        sum = 0;
        evalTrain = e.trainLoss;
        above(`${msg}\n`);
        break;
      }
      case "sample": {
        const body = e.text.split("\n").map((l) => `  ${chalk.dim("│")}${l ? ` ${l}` : ""}`).join("\n");
        above(`${chalk.dim(`  sample at step ${e.step} (log-probability ${e.logprob.toFixed(1)} nats):`)}\n${body}\n`);
        break;
      }
      case "replan": {
        // the step event that follows resizes the bar to the new total; the first plan says what a plan does
        const average = e.ema ? `weights averaged over ~${emaSpan(e.ema)}` : "";
        const said = e.since > 0
          ? `from ${duration(e.since)} to ${duration(e.elapsed)}; horizon ${e.planned} → ${e.steps} steps${average ? `; ${average}` : ""}`
          : `over the first ${duration(e.elapsed)}; horizon ${e.planned} → ${e.steps} steps (the learning rate's cosine bends to end there${average ? `; ${average}` : ""})`;
        above(chalk.dim(`  --time: ${human(e.charsPerSec)} chars/s ${said}\n`));
        break;
      }
      case "calibrate":
        above(`  calibrated: temperature ${e.temperature.toFixed(3)}, fitted on the ${human(e.chars)} characters held out from the corpus's start (--calibrate): ` +
          `${e.lossBefore.toFixed(4)} → ${e.lossAfter.toFixed(4)} nats/char there\n`);
        break;
      case "checkpoint":
        break;
      case "end": {
        if (bar) bar.stop();
        bar = null;
        const why = { steps: "step budget reached", epochs: "epoch budget reached", time: "time budget reached", patience: "early stop (no improvement)", interrupted: "interrupted" }[e.reason];
        line(
          `${chalk.green("done")} · ${e.step} steps (${why}) in ${duration(e.elapsed)} · ${human(e.charsPerSec)} chars/s · ` +
            `train ${(n ? sum / n : Number.isNaN(evalTrain) ? e.trainLoss : evalTrain).toFixed(4)}${e.valLoss !== null ? ` · val ${e.valLoss.toFixed(4)}` : ""}${e.bestValLoss !== null ? ` · best ${e.bestValLoss.toFixed(4)}` : ""}`,
        );
        line(`  saved ${chalk.bold(e.out)}/latest.safetensors · sample: ${chalk.cyan(`rnn sample --model ${e.out}`)}`);
        break;
      }
    }
  };
}
