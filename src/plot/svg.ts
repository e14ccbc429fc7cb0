// A small dependency-free line-plot SVG writer: axes with "nice" ticks (linear or powers of ten on a log
// y axis), grid, axis labels, a title and a legend. The output is a self-contained SVG 1.1 document that any
// browser shows. Points that are not finite (or ≤ 0 on a log axis) break the line instead of being drawn.
export interface Series {
  name: string;
  /** [x, y] pairs, in x order */
  points: [number, number][];
  /** CSS color; default from the palette, by index */
  color?: string;
  dashed?: boolean;
  /** draw a dot on every point (default: only when the series has ≤ 60 points) */
  markers?: boolean;
}

export interface PlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** log10 y axis */
  logY?: boolean;
  width?: number;
  height?: number;
  /** a second y axis on the right (linear y only): the left axis's values times `scale` (nats → bits: 1 / ln 2) */
  y2?: { label: string; scale: number };
  /** points marked with a ring, each with a row of its own in the legend */
  marks?: Mark[];
}

export interface Mark {
  x: number;
  y: number;
  label: string;
  /** CSS color; default the palette's green */
  color?: string;
}

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/** Escapes text for SVG content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** About n "nice" tick values (1, 2 or 5 × 10^k apart) covering [lo, hi]; the first ≤ lo, the last ≥ hi. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return niceTicks(lo - d, lo + d, n);
  }
  const raw = (hi - lo) / Math.max(1, n);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(roundTo(i * step, step));
  return ticks;
}

/** Powers of ten covering [lo, hi] (lo > 0), thinned to at most ~maxTicks by taking every k-th power. */
export function logTicks(lo: number, hi: number, maxTicks = 8): number[] {
  let a = Math.floor(Math.log10(lo) + 1e-9), b = Math.ceil(Math.log10(hi) - 1e-9);
  if (b <= a) { a -= 1; b += 1; }
  const every = Math.max(1, Math.ceil((b - a) / maxTicks));
  a = Math.floor(a / every) * every;
  b = Math.ceil(b / every) * every;
  const ticks: number[] = [];
  for (let e = a; e <= b; e += every) ticks.push(Number(`1e${e}`));
  return ticks;
}

function roundTo(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  const r = Number(v.toFixed(Math.min(20, digits)));
  return r === 0 ? 0 : r; // no −0
}

/** Short tick label: 0.001 → "0.001", 1e-6 → "1e-6", 25000 → "25k", 1.5 → "1.5". */
export function tickLabel(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) {
    const e = Math.floor(Math.log10(a) + 1e-9);
    return `${Number((v / Math.pow(10, e)).toPrecision(3))}e${e}`;
  }
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(4))}k`;
  return `${Number(v.toPrecision(4))}`;
}

/** An SVG document plotting the series. */
export function linePlot(series: Series[], opts: PlotOptions = {}): string {
  const W = opts.width ?? 720;
  const marks = opts.marks ?? [];
  const rows = series.length + marks.length;
  const legendH = rows ? 10 + 18 * rows : 0; // the legend sits below the plot, never on the data
  const Ht = (opts.height ?? 420) + legendH;
  const logY = !!opts.logY;
  const y2 = logY ? undefined : opts.y2;
  const m = { left: 72, right: y2 ? 64 : 20, top: opts.title ? 36 : 16, bottom: (opts.xLabel ? 52 : 36) + legendH };
  const pw = W - m.left - m.right, ph = Ht - m.top - m.bottom;
  const usable = (p: [number, number]) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!logY || p[1] > 0);

  // data range
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  // the marks are data too: a mark outside the series' range widens it rather than falling off the plot
  for (const p of [...series.flatMap((s) => s.points), ...marks.map((k): [number, number] => [k.x, k.y])]) {
    if (!usable(p)) continue;
    x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]);
    y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1]);
  }
  const empty = !Number.isFinite(x0);
  if (empty) { x0 = 0; x1 = 1; y0 = logY ? 1 : 0; y1 = logY ? 10 : 1; }
  const xt = niceTicks(x0, x1, 6);
  const yt = logY ? logTicks(y0, y1) : niceTicks(y0, y1, 5);
  const xa = xt[0], xb = xt[xt.length - 1], ya = yt[0], yb = yt[yt.length - 1];
  const fy = (v: number) => (logY ? Math.log10(v) : v);
  const X = (v: number) => m.left + ((v - xa) / (xb - xa)) * pw;
  const Y = (v: number) => m.top + ph - ((fy(v) - fy(ya)) / (fy(yb) - fy(ya))) * ph;
  const n = (v: number) => Number(v.toFixed(2));

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${W}" height="${Ht}" viewBox="0 0 ${W} ${Ht}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${Ht}" fill="#ffffff"/>`);
  if (opts.title) out.push(`<text x="${n(W / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${xmlEscape(opts.title)}</text>`);
  // grid and ticks
  out.push(`<g class="grid" stroke="#e6e6e6" stroke-width="1">`);
  for (const v of xt) out.push(`<line x1="${n(X(v))}" y1="${m.top}" x2="${n(X(v))}" y2="${m.top + ph}"/>`);
  for (const v of yt) out.push(`<line x1="${m.left}" y1="${n(Y(v))}" x2="${m.left + pw}" y2="${n(Y(v))}"/>`);
  out.push(`</g>`);
  out.push(`<g class="axes" stroke="#333333" stroke-width="1" fill="none">`);
  out.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}"/>`);
  for (const v of xt) out.push(`<line x1="${n(X(v))}" y1="${m.top + ph}" x2="${n(X(v))}" y2="${m.top + ph + 5}"/>`);
  for (const v of yt) out.push(`<line x1="${m.left - 5}" y1="${n(Y(v))}" x2="${m.left}" y2="${n(Y(v))}"/>`);
  out.push(`</g>`);
  out.push(`<g class="ticks" fill="#333333">`);
  for (const v of xt) out.push(`<text x="${n(X(v))}" y="${m.top + ph + 18}" text-anchor="middle">${xmlEscape(tickLabel(v))}</text>`);
  for (const v of yt) out.push(`<text x="${m.left - 8}" y="${n(Y(v) + 4)}" text-anchor="end">${xmlEscape(tickLabel(v))}</text>`);
  out.push(`</g>`);
  if (opts.xLabel) out.push(`<text x="${n(m.left + pw / 2)}" y="${m.top + ph + 40}" text-anchor="middle">${xmlEscape(opts.xLabel)}</text>`);
  if (opts.yLabel) {
    const cy = n(m.top + ph / 2);
    out.push(`<text x="16" y="${cy}" text-anchor="middle" transform="rotate(-90 16 ${cy})">${xmlEscape(opts.yLabel)}</text>`);
  }
  if (y2) {
    // the right-hand axis: ticks at nice values of its own unit, placed where the left axis has value / scale
    const lo = ya * y2.scale, hi = yb * y2.scale;
    const ticks = niceTicks(Math.min(lo, hi), Math.max(lo, hi), 5).filter((v) => v >= Math.min(lo, hi) - 1e-9 && v <= Math.max(lo, hi) + 1e-9);
    const x = m.left + pw;
    out.push(`<g class="axis2" stroke="#333333" stroke-width="1" fill="none">`);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}"/>`);
    for (const v of ticks) out.push(`<line x1="${x}" y1="${n(Y(v / y2.scale))}" x2="${x + 5}" y2="${n(Y(v / y2.scale))}"/>`);
    out.push(`</g>`);
    out.push(`<g class="ticks2" fill="#333333">`);
    for (const v of ticks) out.push(`<text x="${x + 8}" y="${n(Y(v / y2.scale) + 4)}" text-anchor="start">${xmlEscape(tickLabel(v))}</text>`);
    out.push(`</g>`);
    const cx = W - 14, cy = n(m.top + ph / 2);
    out.push(`<text x="${cx}" y="${cy}" text-anchor="middle" transform="rotate(90 ${cx} ${cy})">${xmlEscape(y2.label)}</text>`);
  }
  if (empty) out.push(`<text x="${n(m.left + pw / 2)}" y="${n(m.top + ph / 2)}" text-anchor="middle" fill="#888888">no data yet</text>`);

  // lines: one polyline per unbroken run of usable points
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    out.push(`<g class="series" data-name="${xmlEscape(s.name)}">`);
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${run.join(" ")}"/>`);
      run = [];
    };
    const dots: string[] = [];
    for (const p of s.points) {
      if (!usable(p)) { flush(); continue; }
      run.push(`${n(X(p[0]))},${n(Y(p[1]))}`);
      dots.push(`<circle cx="${n(X(p[0]))}" cy="${n(Y(p[1]))}" r="2.5" fill="${color}"/>`);
    }
    flush();
    if (s.markers ?? s.points.length <= 60) out.push(...dots);
    out.push(`</g>`);
  });

  // marks: a ring on the point
  const markColor = (k: Mark) => k.color ?? PALETTE[2];
  const drawn = marks.filter((k) => usable([k.x, k.y]));
  if (drawn.length) {
    out.push(`<g class="marks">`);
    for (const k of drawn) out.push(`<circle cx="${n(X(k.x))}" cy="${n(Y(k.y))}" r="7" fill="none" stroke="${markColor(k)}" stroke-width="2.5"/>`);
    out.push(`</g>`);
  }

  // legend, one row per series (then per mark), below the x axis label
  if (rows) {
    const ly = Ht - legendH;
    out.push(`<g class="legend">`);
    series.forEach((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length];
      const y = ly + 14 + 18 * i;
      const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
      out.push(`<line x1="${m.left}" y1="${y - 4}" x2="${m.left + 24}" y2="${y - 4}" stroke="${color}" stroke-width="2"${dash}/>`);
      out.push(`<text x="${m.left + 32}" y="${y}">${xmlEscape(s.name)}</text>`);
    });
    marks.forEach((k, i) => {
      const y = ly + 14 + 18 * (series.length + i);
      out.push(`<circle cx="${m.left + 12}" cy="${y - 4}" r="6" fill="none" stroke="${markColor(k)}" stroke-width="2.5"/>`);
      out.push(`<text x="${m.left + 32}" y="${y}">${xmlEscape(k.label)}</text>`);
    });
    out.push(`</g>`);
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/** One SVG document of several (linePlot's), one below the other, each as a nested <svg> at its offset. */
export function stackPlots(docs: string[]): string {
  let y = 0, W = 0;
  const parts = docs.map((d) => {
    const body = d.replace(/^<\?xml[^>]*>\n/, "").trimEnd();
    const [, w, h] = /^<svg [^>]*width="([\d.]+)" height="([\d.]+)"/.exec(body)!;
    const part = body.replace(/^<svg /, `<svg x="0" y="${y}" `);
    y += Number(h);
    W = Math.max(W, Number(w));
    return part;
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}">`,
    ...parts,
    `</svg>`,
  ].join("\n") + "\n";
}
