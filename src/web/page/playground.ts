// The playground: a trained model in a page, on the same WebAssembly kernels and sampling code as the CLI
// (src/lib/browser.ts). Type a prime and the next-character bars follow as you type (`rnn predict`); generate
// with temperature, top-k, top-p, argmax and a seed, the text streaming in (`rnn sample`: the same seed and
// flags give the same text); paste a text to see its surprisal as a heat map (`rnn score`).
import { generateStream, loadModel, predict, type RnnModel, score } from "../../lib/browser.ts";
import { el, fmtBits, showChar } from "./dom.ts";

export interface PlaygroundSource {
  bytes: Uint8Array;
  /** what to call the model (run directory name or file name) */
  name: string;
}

const LN2 = Math.LN2;
const BARS = 12;

/** Builds the playground into `root`. Resolves once the model is loaded. */
export async function startPlayground(root: HTMLElement, src: PlaygroundSource): Promise<RnnModel> {
  const status = el("p", { class: "status" }, "loading the model…");
  root.replaceChildren(status);
  let model: RnnModel;
  try {
    model = await loadModel(src.bytes, { name: src.name });
  } catch (e) {
    status.textContent = `cannot load ${src.name}: ${(e as Error).message}`;
    status.classList.add("error");
    throw e;
  }
  const vocab = new Set(model.vocab);
  const bv = model.bestValLoss;
  root.replaceChildren(
    el("header", {},
      el("h1", {}, "rnn playground ", el("span", { class: "dim" }, `— ${src.name}`)),
      el("p", { class: "meta", id: "model-meta" },
        `${model.description} · ${model.step} steps`,
        bv === null ? "" : ` · best validation loss ${bv.toFixed(3)} nats/char (${(bv / LN2).toFixed(3)} bits/char)`,
        ` · ${model.vocab.length} characters · kernels ${model.kernels}, in this page`),
    ),
    predictSection(model, vocab),
    scoreSection(model),
  );
  return model;
}

// ---- prime, next-character bars, generation --------------------------------------------------------------

function predictSection(model: RnnModel, vocab: Set<string>): HTMLElement {
  const prime = el("textarea", { id: "prime", rows: "3", spellcheck: "false", placeholder: "type a prime… (empty: the start of a line)" }) as HTMLTextAreaElement;
  const primeNote = el("p", { class: "note", id: "prime-note" });
  const bars = el("div", { class: "bars", id: "bars" });
  const barsHead = el("p", { class: "dim", id: "bars-head" });
  const num = (id: string, value: string, attrs: Record<string, string>) => el("input", { id, type: "number", value, ...attrs }) as HTMLInputElement;
  const length = num("gen-length", "300", { min: "0", step: "1" });
  const temperature = num("gen-temperature", "1", { min: "0.05", step: "0.05" });
  const topK = num("gen-top-k", "0", { min: "0", step: "1" });
  const topP = num("gen-top-p", "1", { min: "0", max: "1", step: "0.05" });
  const seed = num("gen-seed", "42", { min: "0", step: "1" });
  const argmax = el("input", { id: "gen-argmax", type: "checkbox" }) as HTMLInputElement;
  const go = el("button", { id: "generate", class: "primary" }, "Generate") as HTMLButtonElement;
  const stop = el("button", { id: "stop", disabled: "" }, "Stop") as HTMLButtonElement;
  const output = el("pre", { class: "output", id: "output" });
  const genInfo = el("p", { class: "note", id: "gen-info" });
  const cli = el("code", { id: "cli" });
  const label = (text: string, input: HTMLElement, title: string) => el("label", { title }, text, input);

  // next-character bars as the prime changes (once per frame, however fast one types)
  let pending = false;
  const refresh = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      const text = prime.value;
      const unknown = [...new Set([...text].filter((c) => !vocab.has(c)))];
      primeNote.textContent = unknown.length ? `not in the model's vocabulary (left out): ${unknown.map(showChar).join(" ")}` : "";
      const t = Number(temperature.value);
      const p = predict(model, text, { topK: BARS, temperature: t > 0 ? t : 1 });
      const after = p.context === "text" ? `after “${tail(p.fed, 40)}”` : p.context === "newline" ? "at the start of a line" : "with no context";
      barsHead.textContent = `next character ${after}${t > 0 && t !== 1 ? ` · temperature ${t}` : ""} · entropy ${fmtBits(p.entropy)}`;
      const max = p.top[0]?.p || 1;
      bars.replaceChildren(...p.top.map((c) =>
        el("div", { class: "bar", "data-char": c.char, "data-p": String(c.p), title: `${showChar(c.char)}: p = ${c.p}` },
          el("span", { class: "ch" }, showChar(c.char)),
          el("span", { class: "fill" }, el("span", { style: `width:${(100 * c.p / max).toFixed(2)}%` })),
          el("span", { class: "pct" }, `${(100 * c.p).toFixed(1)}%`))),
        el("div", { class: "bar rest" }, el("span", { class: "ch" }, "rest"), el("span", {}),
          el("span", { class: "pct" }, `${(100 * p.rest.p).toFixed(1)}%`)));
      updateCli();
    });
  };

  const flags = () => {
    const f: string[] = [];
    if (prime.value) f.push(`--prime ${shellQuote(prime.value)}`);
    f.push(`--length ${Number(length.value) || 0}`);
    if (argmax.checked) f.push("--argmax");
    else {
      if (Number(temperature.value) !== 1) f.push(`-t ${Number(temperature.value)}`);
      if (Number(topK.value) > 0) f.push(`--top-k ${Number(topK.value)}`);
      if (Number(topP.value) > 0 && Number(topP.value) < 1) f.push(`--top-p ${Number(topP.value)}`);
    }
    f.push(`--seed ${Number(seed.value) || 0}`);
    return f.join(" ");
  };
  const updateCli = () => (cli.textContent = `rnn sample --model RUN ${flags()}`);

  let running: { stop: boolean } | null = null;
  async function generate() {
    if (running) running.stop = true;
    const me = { stop: false };
    running = me;
    const unknown = [...new Set([...prime.value].filter((c) => !vocab.has(c)))];
    if (unknown.length) {
      genInfo.textContent = `the prime has characters the model never saw: ${unknown.map(showChar).join(" ")}`;
      genInfo.classList.add("error");
      running = null;
      return;
    }
    genInfo.classList.remove("error");
    const t = Number(temperature.value), k = Number(topK.value), p = Number(topP.value);
    const opts = {
      prime: prime.value, length: Math.max(0, Math.floor(Number(length.value) || 0)), seed: Math.max(0, Math.floor(Number(seed.value) || 0)),
      argmax: argmax.checked, temperature: t > 0 ? t : 1, topK: k > 0 ? Math.floor(k) : 0, topP: p > 0 && p < 1 ? p : 0,
    };
    const primeSpan = el("span", { class: "prime-echo" });
    const gen = document.createTextNode("");
    output.replaceChildren(primeSpan, gen);
    output.dataset.done = "false";
    go.disabled = true;
    stop.disabled = false;
    genInfo.textContent = "generating…";
    const it = generateStream(model, opts);
    let echoed = 0, buf = "", t0 = performance.now(), frame = performance.now();
    try {
      for (;;) {
        const r = it.next();
        if (r.done) {
          const g = r.value;
          gen.data += buf;
          const secs = (performance.now() - t0) / 1000;
          genInfo.textContent = `${g.generated} characters in ${secs.toFixed(2)} s · log-probability ${g.logprob.toFixed(2)} nats as sampled, ${g.modelLogprob.toFixed(2)} under the model (${fmtBits(-g.modelLogprob / Math.max(1, g.generated))}/char)`;
          output.dataset.done = "true";
          break;
        }
        if (echoed < opts.prime.length) { primeSpan.textContent += r.value; echoed += r.value.length; }
        else buf += r.value;
        if (performance.now() - frame > 12) {
          gen.data += buf;
          buf = "";
          await new Promise((res) => setTimeout(res, 0)); // let the page paint and take input
          frame = performance.now();
          if (me.stop) {
            it.return(undefined as never);
            genInfo.textContent = "stopped";
            break;
          }
        }
      }
    } catch (e) {
      genInfo.textContent = (e as Error).message;
      genInfo.classList.add("error");
    } finally {
      if (running === me) running = null;
      go.disabled = false;
      stop.disabled = true;
    }
  }

  prime.addEventListener("input", refresh);
  for (const i of [temperature, length, topK, topP, seed, argmax]) i.addEventListener("input", () => { refresh(); updateCli(); });
  go.addEventListener("click", () => void generate());
  stop.addEventListener("click", () => { if (running) running.stop = true; });
  refresh();

  return el("section", { class: "two" },
    el("div", {},
      el("h2", {}, "Prime and next character"),
      prime, primeNote, barsHead, bars),
    el("div", {},
      el("h2", {}, "Generate"),
      el("div", { class: "controls" },
        label("length ", length, "characters to generate after the prime (--length)"),
        label("temperature ", temperature, "softmax temperature: lower is more conservative (-t)"),
        label("top-k ", topK, "sample among the k most likely characters; 0 = all (--top-k)"),
        label("top-p ", topP, "nucleus: the most likely characters until their mass reaches p; 1 = off (--top-p)"),
        label("seed ", seed, "the same seed and settings give the same text, here and in rnn sample (--seed)"),
        label("argmax ", argmax, "always the most likely character (--argmax)"),
        go, stop),
      output, genInfo,
      el("p", { class: "note" }, "the same text from the command line: ", cli)),
  );
}

// ---- surprisal heat map ----------------------------------------------------------------------------------

/** bits → background colour: white (0) through yellow and orange to dark red (8 bits and more) */
export function heat(bits: number): string {
  const x = Math.max(0, Math.min(1, bits / 8));
  const hue = 60 - 60 * x, light = 97 - 52 * x;
  return `hsl(${hue.toFixed(0)} 95% ${light.toFixed(0)}%)`;
}

function scoreSection(model: RnnModel): HTMLElement {
  const input = el("textarea", { id: "score-input", rows: "5", spellcheck: "false", placeholder: "paste a text to see how surprising each character is to the model" }) as HTMLTextAreaElement;
  const go = el("button", { id: "score", class: "primary" }, "Score") as HTMLButtonElement;
  const heatmap = el("div", { class: "heat", id: "heat" });
  const totals = el("p", { class: "note", id: "score-totals" });
  const legend = el("div", { class: "legend" }, "surprisal ",
    ...[0, 1, 2, 3, 4, 5, 6, 7, 8].map((b) => el("span", { style: `background:${heat(b)}${b > 5 ? ";color:#fff" : ""}` }, b === 8 ? "≥8" : String(b))), " bits");
  go.addEventListener("click", () => {
    const r = score(model, input.value);
    heatmap.replaceChildren(...r.chars.map((c) => {
      const bits = c.surprisal === null ? null : c.surprisal / LN2;
      const shown = c.char === "\n" ? "↵\n" : c.char;
      return el("span", {
        class: c.known ? (bits === null ? "first" : "") : "unknown",
        style: bits === null ? "" : `background:${heat(bits)}${bits > 5 ? ";color:#fff" : ""}`,
        title: `${showChar(c.char)}: ${c.known ? (bits === null ? "nothing before it to predict it" : `${bits.toFixed(2)} bits`) : "not in the vocabulary"}`,
        "data-bits": bits === null ? "" : String(bits),
      }, shown);
    }));
    const t = r.totals;
    totals.textContent = t.count === 0 ? "nothing to score: give at least two characters the model knows"
      : `${t.bpc.toFixed(3)} bits/char (${t.loss.toFixed(3)} nats) · perplexity ${t.perplexity.toFixed(2)} · ${t.count} characters scored` +
        (t.unknown ? ` · ${t.unknown} not in the vocabulary (grey, left out)` : "");
  });
  return el("section", {}, el("h2", {}, "Surprisal"), input, el("div", { class: "controls" }, go, legend), totals, heatmap);
}

const tail = (s: string, n: number) => ([...s].length > n ? "…" + [...s].slice(-n).join("") : s).replace(/\n/g, "↵");

function shellQuote(s: string): string {
  return /^[\w.,:/=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
