// The dashboard of `rnn serve`: the runs under the served directory, and for the selected ones (up to eight,
// each its own colour) train and validation loss against step or wall time, learning rate, gradient norm,
// clipped fraction and throughput, live as metrics.jsonl grows (Server-Sent Events from src/web/server.ts),
// then each run's config, samples, diagnose plot and a link to its playground.
//
// Plots are uPlot (a 50 kB canvas time-series library): overlaid series on different x values, log scales,
// legends with live read-outs and zoom come with it, where hand-written canvas code would be a library of
// our own to maintain.
import uPlot from "uplot";
import { parseMetrics, parseSamples, type Point, type RunLog, type SampleLine } from "../runlog.ts";
import { el } from "./dom.ts";

/** Okabe–Ito's colour-blind-safe palette (yellow swapped for olive, legible on white): eight distinct runs. */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#999933"];
const MAX_SELECTED = PALETTE.length;
const LN2 = Math.LN2;
const MAX_POINTS = 4000;

interface RunSummary {
  id: string;
  name: string;
  updated: number;
  step?: number;
  vocabSize?: number;
  bestValLoss?: number | null;
  config?: { model?: Record<string, unknown>; [k: string]: unknown };
  files: { name: string; bytes: number; mtime: number }[];
}

interface RunState {
  summary: RunSummary;
  color: string | null;
  log: RunLog;
  samples: SampleLine[];
  source: EventSource | null;
}

type XMode = "step" | "time";
interface View { x: XMode; log: boolean; bits: boolean }

const api = (p: string) => fetch(p, { cache: "no-store" }).then((r) => {
  if (!r.ok) throw new Error(`${p}: ${r.status}`);
  return r.json();
});
const enc = encodeURIComponent;

export function startDashboard(root: HTMLElement): void {
  const runs = new Map<string, RunState>();
  const view: View = { x: "step", log: false, bits: false };
  let served = "";

  const runList = el("div", { class: "runs", id: "runs" });
  const charts = el("div", { class: "charts", id: "charts" });
  const details = el("div", { id: "details", class: "details" });
  const heading = el("p", { class: "meta", id: "served" });
  const timeNote = el("p", { class: "note", id: "time-note" });
  const toggle = (id: string, text: string, on: (v: boolean) => void) => {
    const i = el("input", { type: "checkbox", id }) as HTMLInputElement;
    i.addEventListener("change", () => { on(i.checked); redraw(true); });
    return el("label", {}, i, text);
  };
  const xSelect = el("select", { id: "x-axis" }, el("option", { value: "step" }, "step"), el("option", { value: "time" }, "wall time")) as HTMLSelectElement;
  xSelect.addEventListener("change", () => { view.x = xSelect.value as XMode; redraw(true); });
  root.replaceChildren(
    el("header", {}, el("h1", {}, "rnn dashboard"), heading),
    el("div", { class: "dash" },
      el("aside", {}, el("h2", {}, "Runs"), runList, el("p", { class: "note" }, `tick up to ${MAX_SELECTED} runs to compare them`)),
      el("div", {},
        el("div", { class: "toolbar" }, el("label", {}, "x axis ", xSelect), toggle("log-scale", "log scale", (v) => (view.log = v)),
          toggle("bits", "bits per character (else nats)", (v) => (view.bits = v))),
        timeNote, charts, details)),
  );

  // ---- runs: the list, polled; selection opens each run's event stream ----------------------------------
  async function refreshRuns(first = false) {
    let list: { dir: string; runs: RunSummary[] };
    try {
      list = await api("/api/runs");
    } catch {
      heading.textContent = "the server is not answering (rnn serve stopped?)";
      return;
    }
    served = list.dir;
    heading.textContent = `${list.runs.length} run${list.runs.length === 1 ? "" : "s"} under ${served} · live: new runs and new points appear as they are written`;
    for (const s of list.runs) {
      const r = runs.get(s.id);
      if (r) {
        const changed = r.summary.updated !== s.updated;
        r.summary = s;
        if (changed && r.color) renderDetails();
      } else runs.set(s.id, { summary: s, color: null, log: { steps: [], evals: [], skipped: 0 }, samples: [], source: null });
    }
    for (const id of [...runs.keys()]) if (!list.runs.some((s) => s.id === id)) { select(id, false); runs.delete(id); }
    if (first) {
      const recent = [...runs.values()].sort((a, b) => b.summary.updated - a.summary.updated).slice(0, Math.min(4, MAX_SELECTED));
      for (const r of recent) select(r.summary.id, true);
    }
    renderList();
  }

  function select(id: string, on: boolean) {
    const r = runs.get(id);
    if (!r) return;
    if (on && !r.color) {
      const used = new Set([...runs.values()].map((x) => x.color));
      const color = PALETTE.find((c) => !used.has(c));
      if (!color) return;
      r.color = color;
      r.log = { steps: [], evals: [], skipped: 0 };
      r.samples = [];
      const src = new EventSource(`/api/runs/${enc(id)}/events`);
      let samplesText = "";
      src.addEventListener("metrics", (ev) => {
        const d = JSON.parse((ev as MessageEvent).data) as { reset: boolean; text: string };
        if (d.reset) r.log = { steps: [], evals: [], skipped: 0 };
        parseMetrics(d.text, r.log);
        renderList();
        redraw(false);
      });
      src.addEventListener("samples", (ev) => {
        const d = JSON.parse((ev as MessageEvent).data) as { reset: boolean; text: string };
        samplesText = d.reset ? d.text : samplesText + d.text;
        r.samples = parseSamples(samplesText);
        renderDetails();
      });
      r.source = src;
    } else if (!on && r.color) {
      r.source?.close();
      r.source = null;
      r.color = null;
    }
    renderList();
    redraw(true);
    renderDetails();
  }

  function renderList() {
    const now = Date.now();
    runList.replaceChildren(...[...runs.values()].map((r) => {
      const s = r.summary;
      const box = el("input", { type: "checkbox" }) as HTMLInputElement;
      box.checked = !!r.color;
      box.addEventListener("change", () => select(s.id, box.checked));
      const last = lastStep(r);
      const ago = Math.max(0, Math.round((now - s.updated) / 1000));
      const model = s.config?.model;
      return el("div", { class: "run", "data-run": s.id, "data-points": String(r.log.evals.length + r.log.steps.length), "data-last-step": String(last ?? "") },
        el("label", {}, box, el("span", { class: "swatch", style: `background:${r.color ?? "transparent"};border:1px solid ${r.color ?? "#bbb"}` }), el("span", {}, s.id)),
        el("div", { class: "sub" },
          ago < 60 ? el("span", { class: "live", title: "its files changed this recently: it is probably training" }, `● updated ${ago} s ago · `) : "",
          model ? `${model.cell} ${model.layers}×${model.hidden} · ` : "",
          last !== undefined ? `step ${last}` : s.step !== undefined && !Number.isNaN(s.step) ? `step ${s.step}` : "no checkpoint yet"));
    }));
  }

  // ---- charts --------------------------------------------------------------------------------------------
  interface ChartSpec {
    id: string;
    title: string;
    y: (v: View) => string;
    series: (r: RunState, v: View) => { label: string; points: [number, number][]; dash?: number[] }[];
    logable: boolean;
    empty: string;
    /** a fixed y range */
    range?: [number, number];
  }
  const loss = (v: View) => (x: number) => (v.bits ? x / LN2 : x);
  const xOf = (v: View) => (p: Point) => (v.x === "step" ? p.step : p.time);
  /** points of a field, from the per-step lines when the run writes them, else from the evaluation lines */
  const pick = (r: RunState, v: View, f: (p: Point) => number | undefined, evalsOnly = false): [number, number][] => {
    const fromSteps = evalsOnly ? [] : r.log.steps.filter((p) => f(p) !== undefined);
    const src = fromSteps.length ? fromSteps : r.log.evals;
    const x = xOf(v);
    const out: [number, number][] = [];
    for (const p of src) {
      const xv = x(p), yv = f(p);
      if (xv !== undefined && yv !== undefined) out.push([xv, yv]);
    }
    return out;
  };
  const SPECS: ChartSpec[] = [
    {
      id: "loss", title: "Loss (solid: train, dashed: validation)", logable: true, empty: "no evaluation yet",
      y: (v) => `cross-entropy (${v.bits ? "bits" : "nats"}/char)`,
      series: (r, v) => [
        { label: `${r.summary.id} train`, points: pick(r, v, (p) => p.trainLoss).map(([x, y]) => [x, loss(v)(y)]) },
        { label: `${r.summary.id} validation`, points: pick(r, v, (p) => p.valLoss, true).map(([x, y]) => [x, loss(v)(y)]), dash: [7, 4] },
      ],
    },
    { id: "lr", title: "Learning rate", logable: true, empty: "not recorded", y: () => "learning rate", series: (r, v) => [{ label: r.summary.id, points: pick(r, v, (p) => p.lr) }] },
    { id: "grad", title: "Gradient norm", logable: true, empty: "not recorded", y: () => "L2 norm before clipping", series: (r, v) => [{ label: r.summary.id, points: pick(r, v, (p) => p.gradNorm) }] },
    { id: "clipped", title: "Clipped steps", logable: false, range: [0, 1], empty: "not recorded", y: () => "fraction of steps clipped", series: (r, v) => [{ label: r.summary.id, points: pick(r, v, (p) => p.clippedFrac, true) }] },
    { id: "speed", title: "Throughput", logable: false, empty: "not recorded by these runs (per-step lines carry it)", y: () => "characters / second", series: (r, v) => [{ label: r.summary.id, points: pick(r, v, (p) => p.charsPerSec) }] },
  ];
  const plots = new Map<string, { u: uPlot; signature: string } | null>();

  let scheduled = false, rebuild = false;
  function redraw(structure: boolean) {
    rebuild ||= structure;
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      const again = rebuild;
      rebuild = false;
      draw(again);
    }, 150);
  }

  function draw(structure: boolean) {
    const selected = [...runs.values()].filter((r) => r.color);
    const untimed = selected.filter((r) => ![...r.log.evals, ...r.log.steps].some((p) => p.time !== undefined)).map((r) => r.summary.id);
    timeNote.textContent = view.x === "time" && untimed.length
      ? `no wall-clock times in the metrics.jsonl of ${untimed.join(", ")}: left out of these plots` : "";
    if (structure) charts.replaceChildren();
    for (const spec of SPECS) {
      const all = selected.flatMap((r) => spec.series(r, view).map((s) => ({ ...s, color: r.color!, points: thin(clean(s.points, spec.logable && view.log)) })));
      const withData = all.filter((s) => s.points.length > 0);
      const signature = JSON.stringify([withData.map((s) => s.label), view]);
      let box = document.getElementById(`chart-${spec.id}`);
      if (!box) {
        box = el("div", { class: "chart", id: `chart-${spec.id}` });
        charts.append(box);
      }
      const old = plots.get(spec.id);

      if (!withData.length) {
        old?.u.destroy();
        plots.set(spec.id, null);
        box.replaceChildren(el("h3", {}, spec.title), el("div", { class: "empty" }, selected.length ? spec.empty : "tick a run"));
        box.dataset.points = "0";
        continue;
      }
      const data = uPlot.join(withData.map((s) => [s.points.map((p) => p[0]), s.points.map((p) => p[1])] as uPlot.AlignedData)) as uPlot.AlignedData;
      box.dataset.points = String(withData.reduce((n, s) => n + s.points.length, 0));
      if (old && old.signature === signature) {
        old.u.setData(data);
        continue;
      }
      old?.u.destroy();
      const xLabel = view.x === "step" ? "step" : "wall time (seconds)", yLabel = spec.y(view);
      box.dataset.xLabel = xLabel; // uPlot draws axis labels on its canvas: here they are readable too
      box.dataset.yLabel = yLabel;
      const width = Math.max(360, box.clientWidth || charts.clientWidth / 2 - 10 || 560);
      const opts: uPlot.Options = {
        width, height: 260,
        scales: { x: { time: false }, y: spec.logable && view.log ? { distr: 3 } : spec.range ? { range: spec.range } : {} },
        axes: [
          { label: xLabel, labelSize: 22, stroke: "#444", grid: { stroke: "#eceff3" } },
          { label: yLabel, labelSize: 22, size: 64, stroke: "#444", grid: { stroke: "#eceff3" }, values: (_u, ticks) => ticks.map(fmtTick) },
        ],
        series: [
          { label: view.x === "step" ? "step" : "seconds" },
          ...withData.map((s) => ({
            label: s.label, stroke: s.color, width: s.dash ? 1.5 : 1.75, dash: s.dash, spanGaps: true,
            points: { show: s.dash !== undefined || s.points.length < 40, size: 4, fill: s.color },
            value: (_u: uPlot, v: number | null) => (v === null ? "–" : fmtTick(v)),
          })),
        ],
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      };
      box.replaceChildren(el("h3", {}, spec.title));
      plots.set(spec.id, { u: new uPlot(opts, data, box), signature });
    }
  }

  window.addEventListener("resize", () => {
    for (const [id, p] of plots) {
      const box = document.getElementById(`chart-${id}`);
      if (p && box) p.u.setSize({ width: Math.max(360, box.clientWidth), height: 260 });
    }
  });

  // ---- details of the selected runs -----------------------------------------------------------------------
  let detailsScheduled = false;
  function renderDetails() {
    if (detailsScheduled) return;
    detailsScheduled = true;
    setTimeout(() => {
      detailsScheduled = false;
      details.replaceChildren(...[...runs.values()].filter((r) => r.color).map(runPanel));
    }, 200);
  }

  function runPanel(r: RunState): HTMLElement {
    const s = r.summary, cfg = s.config, m = cfg?.model;
    const has = (name: string) => s.files.some((f) => f.name === name);
    const rows: [string, string][] = [];
    if (m) rows.push(["model", `${m.cell} ${m.layers}×${m.hidden}${m.embed ? `, embedding ${m.embed}` : ", one-hot"}, V=${m.vocabSize}${m.residual ? ", residual" : ""}`]);
    if (s.step !== undefined && !Number.isNaN(s.step)) rows.push(["checkpoint", `step ${s.step}`]);
    if (typeof s.bestValLoss === "number") rows.push(["best validation", `${s.bestValLoss.toFixed(4)} nats/char (${(s.bestValLoss / LN2).toFixed(4)} bits/char)`]);
    const config = cfg ? Object.entries(cfg).filter(([k, v]) => k !== "model" && v !== null && v !== undefined)
      .map(([k, v]) => el("div", {}, el("span", {}, `${k} `), Array.isArray(v) ? v.join(", ") : String(v))) : [];
    const samples = r.samples.slice(-3).reverse();
    return el("div", { class: "panel", "data-run": s.id },
      el("h3", {}, el("span", { class: "swatch", style: `display:inline-block;width:10px;height:10px;margin-right:6px;background:${r.color}` }), s.id, " · ",
        has("latest.safetensors") ? el("a", { href: `/playground/${enc(s.id)}`, target: "_blank", class: "playground-link" }, "playground") : el("span", { class: "dim" }, "no checkpoint yet"),
        has("metrics.jsonl") ? el("span", {}, " · ", el("a", { href: `/api/runs/${enc(s.id)}/files/metrics.jsonl` }, "metrics.jsonl")) : ""),
      rows.length ? el("table", {}, ...rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)))) : el("p", { class: "note" }, "no checkpoint yet: the config appears with the first one"),
      config.length ? el("details", { class: "config-box" }, el("summary", {}, "configuration (as stored in the checkpoint)"), el("div", { class: "config" }, ...config)) : "",
      samples.length ? el("div", { class: "samples" }, el("h3", {}, "Samples written during training"),
        ...samples.map((x) => el("div", {}, el("div", { class: "note" }, x.step === null ? "" : `step ${x.step}`), el("pre", {}, x.text)))) : "",
      has("diagnose.svg") ? el("div", {}, el("h3", {}, "rnn diagnose"), el("img", { src: `/api/runs/${enc(s.id)}/files/diagnose.svg`, alt: "rnn diagnose plot" })) : "",
    );
  }

  void refreshRuns(true);
  setInterval(() => void refreshRuns(), 3000);
}

function lastStep(r: RunState): number | undefined {
  const a = r.log.steps.at(-1)?.step, b = r.log.evals.at(-1)?.step;
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

/** sorted by x, one point per x (the last), no non-positive values on a log scale */
function clean(points: [number, number][], log: boolean): [number, number][] {
  const byX = new Map<number, number>();
  for (const [x, y] of points) if (!log || y > 0) byX.set(x, y);
  return [...byX.entries()].sort((a, b) => a[0] - b[0]);
}

/** at most MAX_POINTS points: means over equal runs of points (a per-step series of a long run) */
function thin(points: [number, number][]): [number, number][] {
  if (points.length <= MAX_POINTS) return points;
  const k = Math.ceil(points.length / MAX_POINTS), out: [number, number][] = [];
  for (let i = 0; i < points.length; i += k) {
    const chunk = points.slice(i, i + k);
    out.push([chunk[chunk.length - 1][0], chunk.reduce((s, p) => s + p[1], 0) / chunk.length]);
  }
  return out;
}

function fmtTick(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a < 1e-3) return v.toExponential(1);
  return String(+v.toPrecision(4));
}
